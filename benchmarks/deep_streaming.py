"""Deep hashers on a folder of image files: peak memory and speed, streamed.

Writes N synthetic 64x64 RGB PNG files (10 classes: a smooth colour pattern per class plus
per-image noise and shifts), then, in a fresh process for each size, fits DSBH for one epoch
on the list of paths (images decoded batch by batch) and indexes them, and encodes them once
more. Reports the main process's peak RSS (``ru_maxrss``: torch and skhash imported alone
take about 330 MB) and images/s for training and for encoding. Each size runs with glibc's
default allocator settings and with ``MALLOC_MMAP_THRESHOLD_=1048576`` (tensors of 1 MiB and
more get their own pages, returned when freed, instead of fragmenting the heap), the
setting the user guide recommends for memory-bound CPU training. Writes the
"deep-streaming" section of ``docs/benchmarks.md``.

    python benchmarks/deep_streaming.py                 # 12,000 and 50,000 images
    python benchmarks/deep_streaming.py --sizes 2000 --no-write
    python benchmarks/deep_streaming.py --sizes 50000 --allocators mmap-1MiB --append
"""

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _report import environment, write_section

SIDE = 64
ROWS_FILE = Path(__file__).with_name("deep_streaming_rows.json")
ALLOCATORS = {"default": {}, "mmap-1MiB": {"MALLOC_MMAP_THRESHOLD_": "1048576"}}


def write_images(folder, n, seed=0):
    """``n`` PNG files under ``folder`` (created once; reused when already there)."""
    from PIL import Image

    folder = Path(folder)
    paths = [folder / f"{i:06d}.png" for i in range(n)]
    labels = np.arange(n) % 10
    if all(p.exists() for p in paths[-3:]):
        return paths, labels
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    patterns = []
    for _ in range(10):  # a smooth colour field per class
        f = rng.uniform(1, 4, size=(3, 2))
        phase = rng.uniform(0, 2 * np.pi, size=3)
        patterns.append(
            np.stack(
                [np.sin(f[c, 0] * np.pi * xx + f[c, 1] * np.pi * yy + phase[c]) for c in range(3)],
                axis=-1,
            )
        )
    for path, label in zip(paths, labels, strict=True):
        shift = rng.integers(-6, 7, size=2)
        image = np.roll(patterns[label], tuple(shift), axis=(0, 1))
        image = 127.5 * (1 + 0.8 * image) + rng.normal(0, 20, size=image.shape)
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(path)
    return paths, labels


def child(folder, n, num_workers):
    """Fit + index + encode in this (fresh) process; print a JSON line of measurements."""
    import torch

    from skhash.deep import DSBH

    torch.set_num_threads(os.cpu_count())
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    paths = [str(Path(folder) / f"{i:06d}.png") for i in range(n)]
    labels = np.arange(n) % 10
    hasher = DSBH(
        n_bits=32,
        image_shape=(3, SIDE, SIDE),
        max_epochs=1,
        device="cpu",
        num_workers=num_workers,
        random_state=0,
    )
    tic = time.perf_counter()
    hasher.fit(paths, labels)
    fit_seconds = time.perf_counter() - tic
    peak_fit = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tic = time.perf_counter()
    codes = hasher.transform(paths)
    encode_seconds = time.perf_counter() - tic
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    train_seconds = hasher.history_[0]["dur"]
    print(
        json.dumps(
            {
                "n": n,
                "num_workers": num_workers,
                "baseline_mb": baseline,
                "peak_fit_mb": peak_fit,
                "peak_mb": peak,
                "fit_s": fit_seconds,
                "train_img_s": n / train_seconds,
                "encode_img_s": n / encode_seconds,
                "distinct_codes": int(len(np.unique(codes, axis=0))),
            }
        )
    )


def run(sizes, workers, folder, allocators, rows=(), on_row=None):
    rows = list(rows)
    for n in sizes:
        write_images(folder, max(sizes))
        for num_workers, allocator in ((w, a) for w in workers for a in allocators):
            out = (
                subprocess.run(
                    [sys.executable, __file__, "--child", str(folder), str(n), str(num_workers)],
                    check=True,
                    capture_output=True,
                    text=True,
                    env={**os.environ, **ALLOCATORS[allocator]},
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            row = {**json.loads(out), "allocator": allocator}
            print(row, flush=True)
            rows.append(row)
            if on_row is not None:
                on_row(rows)
    return rows


def report(rows):
    lines = [
        "## Deep hashers on image files, streamed (`benchmarks/deep_streaming.py`)",
        "",
        environment(),
        "",
        f"DSBH (32 bits, default small CNN and augmentation) fitted for one epoch on a list of "
        f"{SIDE}x{SIDE} RGB PNG paths and indexing them, then encoding them again; each size "
        "in a fresh process. Peak RSS is the main process's (`ru_maxrss`); the import "
        "baseline is torch and skhash loaded, before any data. Target: under 700 MB for "
        "12,000 images (before streaming, the same fit peaked at 2.3 GB).",
        "",
        "| images | workers | allocator | import baseline (MB) | peak after fit (MB) "
        "| peak after encode (MB) | train (img/s) | encode (img/s) |",
        "|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:,} | {r['num_workers']} | {r.get('allocator', 'default')} "
            f"| {r['baseline_mb']:.0f} | {r['peak_fit_mb']:.0f} "
            f"| {r['peak_mb']:.0f} | {r['train_img_s']:.0f} | {r['encode_img_s']:.0f} |"
        )
    lines += [
        "",
        "The allocator column: glibc's defaults, or `MALLOC_MMAP_THRESHOLD_=1048576` in the "
        "environment. The training step's own working set (activations and gradients of a "
        "batch of 64 images) is the same; with the defaults, glibc's heap also keeps pages "
        "freed within a step. Nothing the fit keeps grows with the number of batches, so "
        "neither peak grows much with the number of images.",
        "",
        f"Load average when the table was written: {os.getloadavg()[0]:.2f}.",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[12_000, 50_000])
    parser.add_argument("--workers", type=int, nargs="+", default=[0])
    parser.add_argument("--folder", default=os.path.join(tempfile.gettempdir(), "skhash_pngs"))
    parser.add_argument(
        "--allocators", nargs="+", choices=list(ALLOCATORS), default=list(ALLOCATORS)
    )
    parser.add_argument("--append", action="store_true", help="keep the rows already written")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("FOLDER", "N", "WORKERS"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
        return
    previous = []
    if args.append:
        with contextlib.suppress(FileNotFoundError):
            previous = json.loads(Path(ROWS_FILE).read_text())

    def write(rows):  # after every row: a long run leaves its partial results
        Path(ROWS_FILE).write_text(json.dumps(rows))
        write_section("deep-streaming", report(rows))

    run(
        args.sizes,
        args.workers,
        args.folder,
        args.allocators,
        previous,
        None if args.no_write else write,
    )


if __name__ == "__main__":
    main()
