"""Compare hashers side by side on one labelled data set."""

import logging
import time
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils import check_random_state

from ..datasets import make_retrieval_split
from ..index import HammingIndex
from ..metrics import (
    mean_average_precision,
    precision_at_k,
    precision_recall_curve,
    precision_within_radius,
)
from ._methods import family_of, resolve_methods
from ._protocol import RetrievalProtocol
from ._result import METRICS, ComparisonResult

__all__ = ["compare"]

logger = logging.getLogger("skhash.compare")

_CURVE_KS = (1, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


def check_n_bits(n_bits):
    """Tuple of positive code lengths from an int or an iterable of ints."""
    values = [n_bits] if isinstance(n_bits, Integral) else list(n_bits)
    if not values:
        raise ValueError("n_bits is empty: give at least one code length.")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, Integral) or value <= 0:
            raise ValueError(f"n_bits must hold positive integers; got {value!r}.")
    return tuple(int(v) for v in values)


def _square_side(n_features):
    side = int(round(np.sqrt(n_features)))
    return side if side * side == n_features else None


def prepare_data(X, y, image_shape=None):
    """Vectors for the classic hashers and images for the deep ones, from one array.

    Returns
    -------
    vectors : ndarray of shape (n_samples, n_features)
    images : ndarray of shape (n_samples, ...) or None
        None when ``X`` holds vectors whose image shape is unknown.
    y : ndarray
    """
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X must be numeric (vectors or images); got dtype {X.dtype}.")
    if X.ndim not in (2, 3, 4):
        raise ValueError(
            "X must be vectors (n_samples, n_features) or images (n, H, W) or (n, C, H, W); "
            f"got shape {X.shape}."
        )
    if y is None:
        raise ValueError("compare() needs labels y: relevance comes from shared labels.")
    y = np.asarray(y)
    if y.ndim == 0 or len(y) != len(X):
        raise ValueError(f"X has {len(X)} samples but y has {y.size if y.ndim else 0} labels.")
    vectors = X.reshape(len(X), -1).astype(np.float64, copy=False)
    if X.ndim > 2:
        return vectors, X, y
    if image_shape is None:
        side = _square_side(X.shape[1])
        image_shape = None if side is None else (side, side)
    elif int(np.prod(image_shape)) != X.shape[1]:
        raise ValueError(f"image_shape={image_shape} does not hold {X.shape[1]} features.")
    images = None if image_shape is None else X.reshape(len(X), *image_shape)
    return vectors, images, y


def _with_params(estimator, n_bits, seed):
    params = estimator.get_params(deep=False)
    new = {"n_bits": n_bits}
    if params.get("random_state", 0) is None:
        new["random_state"] = seed
    return clone(estimator).set_params(**new)


def _evaluate(hasher, data, y, split, *, k, radius, curve_ks):
    """Fit on the training part, index the database, query it; one row and its curves."""
    q, tr, db = split.query_indices, split.train_indices, split.database_indices
    y_query, y_db = y[q], y[db]
    start = time.perf_counter()
    hasher.fit(data[tr], y[tr])
    fit_time = time.perf_counter() - start

    start = time.perf_counter()
    db_codes = hasher.transform(data[db])
    query_codes = hasher.transform(data[q])
    encode_time = time.perf_counter() - start

    index = HammingIndex().fit(db_codes)
    k = min(k, len(db))
    start = time.perf_counter()
    index.kneighbors(query_codes, k, return_distance=False)
    query_time = time.perf_counter() - start
    distances = index.distances(query_codes)

    row = {
        "mAP": mean_average_precision(y_query, y_db, distances),
        "mAP@k": mean_average_precision(y_query, y_db, distances, k=k),
        "precision@k": precision_at_k(y_query, y_db, distances, k),
        "precision@radius": precision_within_radius(y_query, y_db, distances, radius=radius),
        "fit_time_s": fit_time,
        "encode_ms_per_sample": 1e3 * encode_time / (len(db) + len(q)),
        "query_ms_per_query": 1e3 * query_time / len(q),
    }
    precision, recall, radii = precision_recall_curve(
        y_query, y_db, distances, radii=np.arange(db_codes.shape[1] + 1)
    )
    pr = pd.DataFrame({"curve": "pr", "x": radii, "precision": precision, "recall": recall})
    ks = np.asarray([v for v in curve_ks if v <= len(db)])
    pk = pd.DataFrame(
        {
            "curve": "precision@k",
            "x": ks,
            "precision": precision_at_k(y_query, y_db, distances, ks),
            "recall": np.nan,
        }
    )
    return row, pd.concat([pr, pk], ignore_index=True)


def compare(
    methods="all",
    X=None,
    y=None,
    *,
    n_bits=(16, 32, 64),
    protocol="auto",
    k=100,
    radius=2,
    image_shape=None,
    quick=False,
    device=None,
    random_state=None,
    verbose=0,
    plot=False,
):
    """Compare hashers on one labelled data set, under the protocol of hashing papers.

    For each repeat of the protocol, a stratified random split gives queries, a training set
    and a database (:class:`RetrievalProtocol`). Each method, at each code length, learns
    from the training set, encodes the database and the queries, and ranks the whole database
    for every query by Hamming distance. An item is relevant when it shares a label with the
    query.

    Parameters
    ----------
    methods : "all", "classic", "deep", list or dict, default="all"
        ``"all"`` is the five classic hashers (LSH, PCAH, ITQ, SH, KMH) and, when torch is
        installed, the four deep ones (SCAE, DSBH, DPHB, DAHP) with short trainings (see
        Notes); without torch a warning is logged and only the classic ones run. A list may
        mix names (case-insensitive, e.g. ``"itq"`` or ``"SpectralHashing"``) and unfitted
        estimators; a dict maps display names to estimators.
    X : array-like of shape (n_samples, n_features), (n, H, W) or (n, C, H, W)
        Vectors or images. The classic hashers get flattened vectors; the deep hashers get
        images (vectors are reshaped with ``image_shape``, or to a square when possible).
    y : array-like of shape (n_samples,) or (n_samples, n_classes)
        Class labels, or a label-indicator matrix for multi-label data.
    n_bits : int or sequence of int, default=(16, 32, 64)
        Code lengths to compare.
    protocol : "auto" or RetrievalProtocol, default="auto"
        ``"auto"`` scales the CIFAR-10 protocol to the data (:meth:`RetrievalProtocol.auto`).
    k : int, default=100
        Cut-off of ``mAP@k`` and ``precision@k`` (capped by the database size).
    radius : int, default=2
        Hamming radius of ``precision@radius`` (hash-lookup precision).
    image_shape : tuple of int, default=None
        Shape of one image when ``X`` holds flat vectors and deep hashers are compared.
    quick : bool, default=False
        Train the deep hashers named by ``methods`` for a single epoch.
    device : str, default=None
        Device of the deep hashers named by ``methods`` (``"cpu"``, ``"cuda"``...).
    random_state : int, RandomState instance or None, default=None
        Seeds the splits and the hashers whose ``random_state`` is None. Pass an int for
        reproducible results.
    verbose : int, default=0
        0 is silent; 1 shows a progress bar; 2 also logs each result at INFO level.
    plot : bool, default=False
        Also draw the standard figures (stored in ``result.figures``).

    Returns
    -------
    result : ComparisonResult
        ``result.table`` has one row per (method, bits, repeat) with the columns ``method``,
        ``family``, ``bits``, ``repeat``, ``mAP``, ``mAP@k``, ``precision@k``,
        ``precision@radius``, ``fit_time_s``, ``encode_ms_per_sample`` and
        ``query_ms_per_query``; ``result.summary()`` gives means and standard deviations.

    Raises
    ------
    ValueError
        For an unknown method name, a non-positive code length, data too small for the
        protocol, or missing labels.

    See Also
    --------
    robustness : How much each method's mAP drops when the queries are perturbed.
    skhash.datasets.make_retrieval_split : The split drawn at each repeat.

    Notes
    -----
    The deep hashers of ``"all"`` train for a few epochs only (one to ten, see
    ``skhash.compare.DEEP_DEFAULTS``), so that the comparison runs in minutes on a CPU. Their
    scores show what a short training gives, not what the methods reach in their papers.
    Pass your own estimators (e.g. ``DSBH(max_epochs=100)``) for longer trainings.

    Times are wall-clock on this machine: ``fit_time_s`` for the whole fit,
    ``encode_ms_per_sample`` for encoding the database and the queries, and
    ``query_ms_per_query`` for a ``k``-nearest-neighbour Hamming search of the database.

    Examples
    --------
    >>> from skhash.compare import compare
    >>> from skhash.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> result = compare(["LSH", "ITQ"], X, y, n_bits=16, random_state=0)
    >>> result.table[["method", "bits"]].values.tolist()
    [['LSH', 16], ['ITQ', 16]]
    >>> bool((result.table["mAP"] > 0.1).all())
    True
    """
    n_bits = check_n_bits(n_bits)
    if not isinstance(k, Integral) or k < 1:
        raise ValueError(f"k must be a positive integer; got {k!r}.")
    if not isinstance(radius, Integral) or radius < 0:
        raise ValueError(f"radius must be a non-negative integer; got {radius!r}.")
    if X is None:
        raise ValueError("compare() needs data X (and labels y).")
    resolved = resolve_methods(methods, quick=quick, device=device)
    vectors, images, y = prepare_data(X, y, image_shape)
    families = {name: family_of(est) for name, est in resolved.items()}
    if images is None and "deep" in families.values():
        raise ValueError(
            "The deep hashers need images: pass X as (n, H, W) or (n, C, H, W) images, or "
            "give image_shape for flat vectors."
        )
    if protocol == "auto" or protocol is None:
        protocol = RetrievalProtocol.auto(len(y))
    elif not isinstance(protocol, RetrievalProtocol):
        raise ValueError(f"protocol must be 'auto' or a RetrievalProtocol; got {protocol!r}.")
    n_query, n_train = protocol.resolve(len(y))

    rng = check_random_state(random_state)
    seeds = rng.randint(np.iinfo(np.int32).max, size=protocol.n_repeats)
    tasks = [(r, name, b) for r in range(protocol.n_repeats) for name in resolved for b in n_bits]
    progress = None
    if verbose:
        from tqdm.auto import tqdm

        progress = tqdm(total=len(tasks), desc="compare", unit="fit")

    rows, curves, splits = [], [], {}
    try:
        for repeat, name, bits in tasks:
            if repeat not in splits:
                splits[repeat] = make_retrieval_split(
                    np.arange(len(y)),
                    y,
                    n_query=n_query,
                    n_train=n_train,
                    stratify=y.ndim == 1,
                    random_state=int(seeds[repeat]),
                )
            if progress is not None:
                progress.set_postfix_str(f"{name} {bits} bits")
            family = families[name]
            hasher = _with_params(resolved[name], bits, int(seeds[repeat]))
            data = images if family == "deep" else vectors
            row, curve = _evaluate(
                hasher, data, y, splits[repeat], k=k, radius=radius, curve_ks=_CURVE_KS
            )
            keys = {"method": name, "family": family, "bits": bits, "repeat": repeat}
            rows.append({**keys, **row})
            curves.append(curve.assign(**keys))
            if verbose > 1:
                logger.info("%s, %d bits, repeat %d: mAP %.4f", name, bits, repeat, row["mAP"])
            if progress is not None:
                progress.update()
    finally:
        if progress is not None:
            progress.close()

    table = pd.DataFrame(rows, columns=["method", "family", "bits", "repeat", *METRICS])
    curves = pd.concat(curves, ignore_index=True)
    curves = curves[["method", "family", "bits", "repeat", "curve", "x", "precision", "recall"]]
    result = ComparisonResult(
        table=table,
        curves=curves,
        protocol=protocol,
        n_query=n_query,
        n_train=n_train,
        n_database=len(y) - n_query,
        k=min(k, len(y) - n_query),
        radius=radius,
    )
    if plot:
        result.figures = result.plot_all()
    return result
