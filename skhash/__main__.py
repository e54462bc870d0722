"""Command line of skhash: ``python -m skhash compare ...`` (or the ``skhash`` script).

Examples::

    python -m skhash compare --dataset digits --bits 16 32 64 --out results/
    python -m skhash compare --dataset mnist5k --methods ITQ LSH DSBH --repeats 3
    python -m skhash compare --dataset path/to/images --image-size 32 --methods classic
"""

import argparse
import logging
import os
import sys
import textwrap
import time
import warnings

logger = logging.getLogger("skhash.cli")

_DATASETS = ("digits", "mnist5k")


def _load_dataset(name, image_size, color_mode):
    """Images in [0, 1] and labels, with a one-line description."""
    from .datasets import load_digits, load_image_folder, load_mnist_5k

    if name == "digits":
        X, y = load_digits(as_images=True, return_X_y=True)
        return X / 16.0, y, "scikit-learn digits (1797 8x8 images, 10 classes)"
    if name == "mnist5k":
        X, y = load_mnist_5k(as_images=True, return_X_y=True)
        return X / 255.0, y, "MNIST 5k subset (5000 28x28 images, 10 classes)"
    if not os.path.isdir(name):
        raise ValueError(
            f"--dataset must be one of {', '.join(_DATASETS)} or an image folder (one "
            f"subfolder per class); {name!r} is neither."
        )
    data = load_image_folder(name, image_size=image_size, color_mode=color_mode)
    X, y = data.images, data.target
    if len(data.target_names) < 2:
        raise ValueError(f"{name!r} holds {len(data.target_names)} class folder(s); need >= 2.")
    return X, y, f"image folder {name} ({len(y)} images, {len(data.target_names)} classes)"


def _protocol(args, n_samples):
    from .compare import RetrievalProtocol

    if args.protocol != "auto":
        protocol = RetrievalProtocol.preset(args.protocol, n_repeats=args.repeats)
    else:
        protocol = RetrievalProtocol.auto(n_samples, n_repeats=args.repeats)
    if args.quick:
        protocol = RetrievalProtocol(
            n_query=min(protocol.resolve(n_samples)[0], 100),
            n_train=min(protocol.resolve(n_samples)[1], 300),
            n_repeats=args.repeats,
        )
    return protocol


def _compare(args):
    import matplotlib

    matplotlib.use("Agg")
    from .compare import compare, robustness
    from .compare._result import robustness_markdown, robustness_table

    start = time.perf_counter()
    X, y, description = _load_dataset(args.dataset, args.image_size, args.color_mode)
    methods = args.methods[0] if len(args.methods) == 1 else args.methods
    protocol = _protocol(args, len(y))
    logger.info("Comparing on %s", description)
    common = dict(
        protocol=protocol,
        quick=args.quick,
        device=args.device,
        random_state=args.seed,
        verbose=0 if args.quiet else 1,
    )
    result = compare(methods, X, y, n_bits=args.bits, k=args.k, **common)
    extra = ""
    if args.robustness:
        drops = robustness(methods, X, y, n_bits=args.robustness_bits, **common)
        os.makedirs(args.out, exist_ok=True)
        robustness_csv = os.path.join(args.out, "robustness.csv")
        drops.to_csv(robustness_csv, index=False)
        extra = robustness_markdown(drops, args.robustness_bits)
    elapsed = time.perf_counter() - start
    title = f"Hashing comparison: {description}"
    extra = (
        f"{extra}\n\nTotal time: {elapsed:.1f} s." if extra else f"Total time: {elapsed:.1f} s."
    )
    paths = result.save(args.out, title=title, extra=extra)
    if args.robustness:
        paths["robustness"] = robustness_csv
    sys.stdout.write(result.pretty_summary().to_string(index=False) + "\n")
    if args.robustness:
        # One row per perturbation, one column per method: fits a terminal's width.
        table = robustness_table(drops).T.rename_axis(index="perturbation", columns=None)
        heading = (
            f"Robustness at {args.robustness_bits} bits: mAP drop (clean - perturbed) when the "
            "queries are perturbed (noise and brightness in fractions of the pixel range, "
            "rotation in degrees, crop in the fraction of each side cut away):"
        )
        sys.stdout.write(
            "\n"
            + textwrap.fill(heading, 88)
            + "\n"
            + table.to_string(float_format=lambda v: f"{v:.4f}")
            + "\n"
        )
    failed = result.table[result.table["status"] == "failed"]
    if len(failed):
        sys.stdout.write(
            f"\n{len(failed)} of {len(result.table)} settings failed (see note and report.md).\n"
        )
    sys.stdout.write(
        f"\nWrote {', '.join(sorted(os.path.basename(p) for p in paths.values()))} to "
        f"{args.out} in {elapsed:.1f} s.\n"
    )
    # Exit status 1 only when nothing could be measured at all.
    return 1 if len(failed) == len(result.table) else 0


def build_parser():
    """The argument parser of ``python -m skhash``."""
    from .compare._protocol import PRESET_NAMES

    parser = argparse.ArgumentParser(
        prog="skhash",
        description="Learning to hash with the scikit-learn API: compare hashers.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    cmp = commands.add_parser(
        "compare",
        help="compare classic and deep hashers on one data set",
        description=(
            "Fit every method at every code length on a query / training / database split, "
            "rank the database by Hamming distance, and write results.csv, summary.csv, "
            "curves.csv, PNG plots and report.md into --out."
        ),
    )
    cmp.add_argument(
        "--dataset",
        default="digits",
        help="'digits', 'mnist5k' or an image folder with one subfolder per class "
        "(default: digits)",
    )
    cmp.add_argument(
        "--bits",
        type=int,
        nargs="+",
        default=[16, 32, 64],
        help="code lengths (default: 16 32 64)",
    )
    cmp.add_argument(
        "--methods",
        nargs="+",
        default=["all"],
        help=(
            "'all', 'classic', 'deep', 'baselines' or names among LSH PCAH ITQ SH KMH SCAE "
            "DSBH DPHB DAHP DPSH DSH HashNet CSQ GreedyHash OrthoHash BiHalf (default: all = "
            "the classic LSH PCAH ITQ SH KMH and, when torch is installed, the deep SCAE DSBH "
            "DPHB DAHP)"
        ),
    )
    cmp.add_argument(
        "--protocol",
        default="auto",
        choices=("auto", *PRESET_NAMES),
        help="query / training / database split: 'auto' scales CIFAR-10's to the data, or a "
        "standard split by name (default: auto)",
    )
    cmp.add_argument("--out", default="results", help="output folder (default: results)")
    cmp.add_argument("--repeats", type=int, default=1, help="random splits (default: 1)")
    cmp.add_argument("--k", type=int, default=100, help="cut-off of mAP@k, P@k (default: 100)")
    cmp.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    cmp.add_argument(
        "--device",
        default=None,
        help="device of the deep hashers: cpu, cuda, cuda:N or mps (default: auto = CUDA "
        "when available, else MPS, else the CPU)",
    )
    cmp.add_argument(
        "--quick",
        action="store_true",
        help="a first look in under a minute on a laptop: at most 100 queries and 300 "
        "training samples, smaller deep networks trained for a few more epochs (a model "
        "that still collapses is flagged DEGENERATE)",
    )
    cmp.add_argument(
        "--robustness",
        action="store_true",
        help="also measure the mAP drop under perturbed queries: printed, and written to "
        "robustness.csv and report.md",
    )
    cmp.add_argument(
        "--robustness-bits",
        type=int,
        default=32,
        help="code length of the robustness measurement (default: 32)",
    )
    cmp.add_argument(
        "--image-size",
        type=int,
        default=32,
        help="side in pixels that the images of an image folder are resized to (default: 32)",
    )
    cmp.add_argument(
        "--color-mode",
        choices=("rgb", "grayscale"),
        default="rgb",
        help="colours of the images of an image folder (default: rgb)",
    )
    cmp.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    cmp.set_defaults(run=_compare)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    logging.getLogger("skhash").setLevel(logging.WARNING if args.quiet else logging.INFO)
    # One line per warning, without the internal source line a user cannot act on.
    warnings.formatwarning = lambda message, category, *_, **__: (
        f"{category.__name__}: {message}\n"
    )
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1; got {args.repeats}.")
    try:
        return args.run(args)
    except (ValueError, ImportError, FileNotFoundError, NotADirectoryError) as exc:
        parser.exit(2, f"skhash: error: {exc}\n")


if __name__ == "__main__":
    sys.exit(main())
