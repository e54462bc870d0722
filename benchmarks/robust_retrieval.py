"""Near-duplicate retrieval on real photos: ImageHash's hashes vs skhash's hashers.

The database is random crops of distinct regions of the photos that ship with scikit-image
and scikit-learn, each resized to 64x64; the queries are perturbed copies of database items
(the edits of :func:`skhash.compare.perturb`: JPEG, rescaling, brightness, contrast, a
small rotation, a re-crop, blur, noise, a horizontal flip), the original being the only
relevant item. Every method gives 64-bit codes and ranks the whole database by Hamming
distance (ties counted as expected over their orders). Also: the time of a query against
1M codes, with skhash's HammingIndex and as ImageHash users search (a numpy pass per
query, or ImageHash objects compared one by one).

Run: ``python benchmarks/robust_retrieval.py`` (about 15 minutes on 2 loaded cores; the
deep hasher trains on the CPU), ``--quick`` for a smoke run. Writes the
``robust-retrieval`` section of docs/benchmarks.md.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

from _report import environment, write_section  # noqa: E402

N_BITS = 64
SIDE = 64
DEEP_SIDE = 32  # the deep hashers read the crops (and queries) shrunk to 32x32

#: (name, kind, strength) of each perturbation; JPEG's quality is drawn in 30..50.
PERTURBATIONS = [
    ("JPEG q30-50", "jpeg", (50, 60, 70)),
    ("rescale 0.5x", "scale", 0.5),
    ("brightness +-30%", "gain", 0.3),
    ("contrast +-40%", "contrast", 0.4),
    ("rotation 5 deg", "rotation", 5.0),
    ("re-crop 10%", "crop", 0.1),
    ("blur sigma 1", "blur", 1.0),
    ("noise 5%", "noise", 0.05),
    ("horizontal flip", "hflip", 1.0),
]

_SKIMAGE_PHOTOS = (
    "astronaut",
    "camera",
    "chelsea",
    "coffee",
    "coins",
    "moon",
    "page",
    "rocket",
    "text",
    "grass",
    "gravel",
    "brick",
    "cat",
    "retina",
    "immunohistochemistry",
    "hubble_deep_field",
    "skin",
    "lily",
)


def load_photos():
    """The photos shipped with scikit-image and scikit-learn, as RGB uint8 arrays."""
    from skimage import data
    from sklearn.datasets import load_sample_images

    photos, names = [], []
    for name in _SKIMAGE_PHOTOS:
        try:
            image = getattr(data, name)()
        except Exception:  # a photo that needs a download (pooch) is skipped
            continue
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        photos.append(np.ascontiguousarray(image[..., :3]).astype(np.uint8))
        names.append(name)
    for name, image in zip(("china", "flower"), load_sample_images().images, strict=True):
        photos.append(image)
        names.append(name)
    return photos, names


def random_crops(photos, n, rng, *, side=SIDE, max_overlap=0.3, min_std=12.0):
    """``n`` crops of distinct regions: square windows of 64 to 256 pixels (at most 1/2 of
    the photo's side) resized to ``side``, overlapping any earlier window of the same photo
    by less than ``max_overlap`` (intersection over union), and not flat."""
    from PIL import Image

    kept = [[] for _ in photos]
    crops, sources = [], []
    tries = 0
    while len(crops) < n:
        tries += 1
        if tries > 200 * n:
            raise RuntimeError(f"Found only {len(crops)} distinct crops.")
        p = int(rng.integers(len(photos)))
        h, w = photos[p].shape[:2]
        size = int(rng.integers(SIDE, max(SIDE + 1, min(256, min(h, w) // 2) + 1)))
        top, left = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
        box = (top, left, size)
        if any(_iou(box, other) >= max_overlap for other in kept[p]):
            continue
        window = photos[p][top : top + size, left : left + size]
        crop = np.asarray(Image.fromarray(window).resize((side, side), Image.Resampling.LANCZOS))
        if crop.std() < min_std:
            continue
        kept[p].append(box)
        crops.append(crop)
        sources.append(p)
    return np.stack(crops), np.array(sources)


def _iou(a, b):
    (ta, la, sa), (tb, lb, sb) = a, b
    dy = max(0, min(ta + sa, tb + sb) - max(ta, tb))
    dx = max(0, min(la + sa, lb + sb) - max(la, lb))
    inter = dy * dx
    return inter / (sa * sa + sb * sb - inter)


def perturbed_queries(database, query_ids, seed):
    """{name: uint8 queries (n_queries, 64, 64, 3)}: each perturbation of the same items."""
    from skhash.compare import perturb

    images = database[query_ids].transpose(0, 3, 1, 2).astype(np.float64)
    queries = {}
    for j, (name, kind, strength) in enumerate(PERTURBATIONS):
        if isinstance(strength, tuple):  # one strength per part of the queries
            parts = np.array_split(np.arange(len(images)), len(strength))
            out = np.empty_like(images)
            for part, s in zip(parts, strength, strict=True):
                out[part] = perturb(
                    images[part], kind, s, value_range=(0, 255), random_state=seed + j
                )
        else:
            out = perturb(images, kind, strength, value_range=(0, 255), random_state=seed + j)
        queries[name] = np.rint(out).clip(0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    return queries


def shrink(images, side=DEEP_SIDE):
    """Images (n, H, W, 3) uint8 shrunk to ``side`` (Pillow, antialiased)."""
    from PIL import Image

    return np.stack(
        [
            np.asarray(Image.fromarray(im).resize((side, side), Image.Resampling.LANCZOS))
            for im in images
        ]
    )


def grey_pixels(images, side=32):
    """Flat grey ``side x side`` thumbnails in [0, 1], the input of the pixel hashers."""
    from PIL import Image

    return np.stack(
        [
            np.asarray(
                Image.fromarray(im).convert("L").resize((side, side), Image.Resampling.LANCZOS),
                dtype=np.float64,
            ).ravel()
            / 255.0
            for im in images
        ]
    )


# -- scores ------------------------------------------------------------------------------
def own_rank_scores(distances, own):
    """Tie-aware recall@1 and AP of each query, its original at column ``own``: with one
    relevant item, AP is the expected reciprocal rank over the orders of tied items."""
    d_own = distances[np.arange(len(own)), own][:, None]
    closer = (distances < d_own).sum(axis=1)
    tied = (distances == d_own).sum(axis=1)  # includes the original
    ranks = closer[:, None] + np.arange(1, distances.shape[1] + 1)[None, :]
    valid = np.arange(distances.shape[1])[None, :] < tied[:, None]
    ap = np.where(valid, 1.0 / ranks, 0.0).sum(axis=1) / tied
    recall1 = np.where(closer == 0, 1.0 / tied, 0.0)
    return recall1, ap


def hamming(query_codes, database_codes):
    from skhash.index import hamming_distances

    return hamming_distances(query_codes, database_codes)


# -- methods -----------------------------------------------------------------------------
def imagehash_codes(images, method):
    import imagehash
    from PIL import Image

    function = {
        "ahash": imagehash.average_hash,
        "dhash": imagehash.dhash,
        "phash": imagehash.phash,
        "whash": imagehash.whash,
    }[method]
    return np.array(
        [function(Image.fromarray(im), hash_size=8).hash.ravel() for im in images],
        dtype=np.uint8,
    )


def evaluate(name, encode, database, queries, query_ids, results, *, fit_seconds=0.0):
    tic = time.perf_counter()
    db_codes = encode(database)
    encode_seconds = time.perf_counter() - tic
    row = {"fit_s": fit_seconds, "encode_ms": 1000 * encode_seconds / len(database)}
    for perturbation, images in queries.items():
        distances = hamming(encode(images), db_codes)
        recall1, ap = own_rank_scores(distances, query_ids)
        row[perturbation] = (float(recall1.mean()), float(ap.mean()))
    results[name] = row
    mean_map = np.mean([row[p][1] for p in queries])
    print(f"{name:32s} mean mAP {mean_map:.3f}  (fit {fit_seconds:.0f} s)", flush=True)
    return db_codes


def run_methods(database, queries, query_ids, args):
    from skhash import ITQ, LSH, CIBHash, PerceptualHash

    results, identical = {}, {}
    for method in ("phash", "dhash", "ahash", "whash"):
        reference = evaluate(
            f"ImageHash {method}",
            lambda ims, m=method: imagehash_codes(ims, m),
            database,
            queries,
            query_ids,
            results,
        )
        hasher = PerceptualHash(method, hash_size=8)
        tic = time.perf_counter()
        hasher.fit(database)
        fit = time.perf_counter() - tic
        ours = evaluate(
            f"skhash PerceptualHash({method!r})",
            hasher.transform,
            database,
            queries,
            query_ids,
            results,
            fit_seconds=fit,
        )
        same = np.array_equal(ours, reference) and all(
            np.array_equal(hasher.transform(q), imagehash_codes(q, method))
            for q in queries.values()
        )
        identical[method] = same
    pixels = grey_pixels(database)
    for name, hasher in (
        ("skhash LSH (32x32 grey pixels)", LSH(n_bits=N_BITS, random_state=0)),
        ("skhash ITQ (32x32 grey pixels)", ITQ(n_bits=N_BITS, random_state=0)),
    ):
        tic = time.perf_counter()
        hasher.fit(pixels)
        fit = time.perf_counter() - tic
        evaluate(
            name,
            lambda ims, h=hasher: h.transform(grey_pixels(ims)),
            database,
            queries,
            query_ids,
            results,
            fit_seconds=fit,
        )
    if not args.no_deep:
        from skhash.deep import PerceptualFeatures

        small = shrink(database)
        deep = [
            (
                f"skhash CIBHash (PerceptualFeatures, {args.epochs} epochs)",
                dict(backbone=PerceptualFeatures(), max_epochs=args.epochs, lr=3e-3),
            )
        ]
        if args.cnn_epochs:
            deep.append(
                (
                    f"skhash CIBHash (small CNN, {args.cnn_epochs} epochs)",
                    dict(max_epochs=args.cnn_epochs, batch_size=128),
                )
            )
        for name, settings in deep:
            hasher = CIBHash(
                n_bits=N_BITS,
                **{"batch_size": 256, **settings},
                device="cpu",
                random_state=0,
                n_jobs=args.threads,
            )
            tic = time.perf_counter()
            with _torch_threads(args.threads):
                hasher.fit(small)
            fit = time.perf_counter() - tic
            evaluate(
                name,
                lambda ims, h=hasher: h.transform(shrink(ims)),
                database,
                queries,
                query_ids,
                results,
                fit_seconds=fit,
            )
    return results, identical


class _torch_threads:
    def __init__(self, n):
        self.n = n

    def __enter__(self):
        import torch

        self.before = torch.get_num_threads()
        torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self.before)


# -- search time at 1M codes -------------------------------------------------------------
def query_times(n_codes, n_queries, seed=0):
    """Seconds per query (k=10 nearest) over ``n_codes`` 64-bit codes."""
    import imagehash

    from skhash.index import HammingIndex

    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 2, (n_codes, N_BITS), dtype=np.uint8)
    queries = codes[rng.choice(n_codes, n_queries, replace=False)]
    times = {}
    index = HammingIndex(n_jobs=1).fit(codes)
    index.kneighbors(queries, n_neighbors=10)  # compile, warm up
    best = np.inf
    for _ in range(2):
        tic = time.perf_counter()
        index.kneighbors(queries, n_neighbors=10)
        best = min(best, time.perf_counter() - tic)
    times["skhash HammingIndex.kneighbors (1 thread, best of 2)"] = best / n_queries
    bits = codes.astype(bool)
    tic = time.perf_counter()
    for q in queries[:10]:
        distances = np.count_nonzero(bits != q.astype(bool), axis=1)
        np.argpartition(distances, 10)[:10]
    times["numpy pass over unpacked bits (count_nonzero)"] = (time.perf_counter() - tic) / 10
    # ImageHash objects, compared one by one (h1 - h2), on a tenth of the codes, scaled up.
    n_objects = n_codes // 10
    objects = [imagehash.ImageHash(b.reshape(8, 8)) for b in bits[:n_objects]]
    query = imagehash.ImageHash(queries[0].astype(bool).reshape(8, 8))
    tic = time.perf_counter()
    sorted(range(n_objects), key=lambda i: objects[i] - query)[:10]
    times["ImageHash objects, h - q one by one (from 1/10 of the codes)"] = (
        time.perf_counter() - tic
    ) * (n_codes / n_objects)
    return times


# -- report ------------------------------------------------------------------------------
def report(results, identical, times, info, args):
    names = [p[0] for p in PERTURBATIONS]
    lines = [
        "## Near-duplicate retrieval on photos (`benchmarks/robust_retrieval.py`)",
        "",
        f"Database: {info['n_database']} crops of distinct regions (windows of 64 to 256 "
        "pixels, overlapping less than 30% of any other window of the same photo, not flat) "
        f"of {info['n_photos']} photos shipped with scikit-image and scikit-learn "
        f"({', '.join(info['photos'])}), resized to 64x64 RGB. Queries: "
        f"{info['n_queries']} database items, each edited by every perturbation of "
        "`skhash.compare.perturb` (JPEG quality 30/40/50 by thirds, Pillow's encoder), "
        "saved as 8-bit images; the original is the only relevant item. 64-bit codes, the "
        "whole database ranked by Hamming distance, ties counted as expected over their "
        "orders (tie-aware). The pixel hashers (LSH, ITQ) read 32x32 grey thumbnails; "
        "CIBHash reads 32x32 RGB thumbnails (through `skhash.deep.PerceptualFeatures`, the "
        "low 16x16 DCT frequencies of the luminance and a learnt layer, or a small CNN) and is "
        "fitted on the database itself "
        "(unsupervised: two augmented views of each crop, `Augmentation.near_duplicates()`, "
        "whose random edits are of the same kinds as the queries' but drawn independently).",
        "",
        "PerceptualHash codes identical to ImageHash's on every database and query image: "
        + ", ".join(f"{m} {'yes' if ok else 'NO'}" for m, ok in identical.items())
        + ".",
        "",
        "mAP per perturbation (recall@1 in the second table):",
        "",
    ]
    for which in (1, 0):  # mAP, then recall@1
        if which == 0:
            lines += ["", "Recall@1:", ""]
        lines.append("| method | " + " | ".join(names) + " | mean |")
        lines.append("|---" * (len(names) + 2) + "|")
        for method, row in results.items():
            values = [row[n][which] for n in names]
            cells = [f"{v:.3f}" for v in values] + [f"**{np.mean(values):.3f}**"]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Time to hash (ms per image, 64x64 RGB, one thread) and to fit:",
        "",
        "| method | ms per image | fit (s) |",
        "|---|---|---|",
    ]
    for method, row in results.items():
        lines.append(f"| {method} | {row['encode_ms']:.3f} | {row['fit_s']:.1f} |")
    lines += [
        "",
        f"Query time, k=10 nearest of {args.codes:,} random 64-bit codes:",
        "",
        "| search | ms per query |",
        "|---|---|",
    ]
    for name, seconds in times.items():
        lines.append(f"| {name} | {1000 * seconds:.2f} |")
    lines += ["", environment(("numpy", "scikit-learn", "torch", "imagehash", "pillow"))]
    if args.quick:
        lines += ["", "(quick run: not the recorded numbers)"]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-database", type=int, default=2000)
    parser.add_argument("--n-queries", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--cnn-epochs", type=int, default=30, help="0: skip the small CNN")
    parser.add_argument("--codes", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-deep", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_database, args.n_queries, args.epochs, args.codes = 300, 60, 2, 20_000
        args.cnn_epochs = min(args.cnn_epochs, 1)
    rng = np.random.default_rng(0)
    photos, names = load_photos()
    database, _ = random_crops(photos, args.n_database, rng)
    query_ids = np.sort(rng.choice(len(database), args.n_queries, replace=False))
    queries = perturbed_queries(database, query_ids, seed=1)
    print(f"{len(photos)} photos, {len(database)} crops, {len(query_ids)} queries", flush=True)
    results, identical = run_methods(database, queries, query_ids, args)
    times = query_times(args.codes, 100)
    for name, seconds in times.items():
        print(f"{name:60s} {1000 * seconds:9.2f} ms/query")
    info = {
        "n_database": len(database),
        "n_queries": len(query_ids),
        "n_photos": len(photos),
        "photos": names,
    }
    body = report(results, identical, times, info, args)
    print(body)
    if not args.no_write and not args.quick:
        write_section("robust-retrieval", body)


if __name__ == "__main__":
    main()
