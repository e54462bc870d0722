"""Collection settings for the doctests in skhash/ (the test suite's own are in tests/)."""

import importlib.util

# Modules whose optional dependency is missing are not collected (their tests skip too).
collect_ignore_glob = []
if importlib.util.find_spec("torch") is None:
    collect_ignore_glob.append("skhash/deep/*")
if importlib.util.find_spec("dask") is None:
    collect_ignore_glob.append("skhash/distributed.py")
