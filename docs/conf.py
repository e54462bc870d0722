"""Sphinx configuration of the skhash documentation (``make docs``)."""

import importlib.util
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import skhash  # noqa: E402

project = "skhash"
author = "skhash developers"
copyright = "skhash developers, BSD-3-Clause"
release = skhash.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_generated", "auto_examples/*.ipynb", "**.ipynb_checkpoints"]
templates_path = ["_templates"]

# -- API reference -------------------------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()


def _deep_hashers():
    """The deep hashers that import here (torch installed, module landed)."""
    if importlib.util.find_spec("torch") is None:
        return []
    names = []
    for name in ("SCAE", "DSBH", "DPHB", "DAHP"):
        try:
            getattr(skhash, name)
        except (ImportError, AttributeError):
            continue
        names.append(name)
    return names


# api.rst includes this list, so the reference shows the deep hashers that exist. Their
# stub pages are written here: autosummary does not generate stubs for included files.
_generated = HERE / "_generated"
_generated.mkdir(exist_ok=True)
_deep = _deep_hashers()
if _deep:
    _stubs = HERE / "generated"
    _stubs.mkdir(exist_ok=True)
    _template = (HERE / "_templates" / "class.rst").read_text()
    for _name in _deep:
        _stub = _template.replace(
            "{{ objname | escape | underline }}", f"{_name}\n{'=' * len(_name)}"
        )
        _stub = _stub.replace("{{ module }}", "skhash").replace("{{ objname }}", _name)
        (_stubs / f"skhash.{_name}.rst").write_text(_stub)
    _deep_rst = ".. autosummary::\n   :toctree: generated/\n\n" + "".join(
        f"   {name}\n" for name in _deep
    )
else:
    _deep_rst = "The deep hashers need torch: ``pip install 'skhash[deep]'``.\n"
(_generated / "api_deep.rst").write_text(_deep_rst)

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "pandas": ("https://pandas.pydata.org/docs", None),
    "matplotlib": ("https://matplotlib.org/stable", None),
}
# No internet on build machines: intersphinx inventories are optional.
if os.environ.get("SKHASH_DOCS_OFFLINE", "1") == "1":
    intersphinx_mapping = {}

# -- gallery -------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"notebooks",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "backreferences_dir": None,
}

# -- HTML ----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skhash {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
}
html_static_path = []
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]
