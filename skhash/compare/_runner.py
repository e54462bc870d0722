"""The protocol runner shared by :func:`compare` and :func:`robustness`.

For each repeat it draws a split; for each method and code length it fits the hasher on the
training part (timed), encodes and indexes the database (timed), ranks the database for the
clean queries, and checks the model for collapse. The caller's ``evaluate`` adds its own
measures. A setting that raises is recorded as a failed row, with its reason, and the run
goes on.
"""

import logging
import os
import re
import sys
import warnings
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning
from sklearn.utils import check_random_state

from ..index import HammingIndex
from ..metrics import mean_average_precision
from ..utils.progress import in_notebook, progress_bar
from ..utils.timing import measure_time
from ..utils.validation import relevance
from ._methods import family_of
from ._protocol import RetrievalProtocol

__all__ = ["DegenerateModelWarning", "run_protocol"]

logger = logging.getLogger("skhash.compare")

# Timing budgets (seconds): a fit, an encoding or a search that takes longer than its budget
# on the warm-up run is timed by that run alone; shorter ones are repeated (median of up to
# three after one warm-up call).
FIT_BUDGET_S = 1.0
ENCODE_BUDGET_S = 1.0
QUERY_BUDGET_S = 1.0
# A model whose mAP closes less than this fraction of the gap between chance and 1 is at
# chance level.
CHANCE_SKILL = 0.02


_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _user_stacklevel():
    """The ``stacklevel`` of the first frame outside skhash, for a warning raised by the
    caller of this function: the line a user reads is their own ``compare(...)`` call, not
    an internal one."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_ROOT):
        frame, level = frame.f_back, level + 1
    return level


class DegenerateModelWarning(UserWarning):
    """A hasher collapsed: too few distinct codes, mostly constant bits, or chance-level
    retrieval. Its row is flagged ``status="degenerate"`` and left out of "best" lines."""


@dataclass
class Cell:
    """One (repeat, method, code length) setting, fitted and measured by the runner;
    ``seed`` is the repeat's (it drew the split)."""

    repeat: int
    seed: int
    method: str
    family: str
    bits: int
    hasher: object
    data: np.ndarray
    split: object
    index: HammingIndex = None
    query_codes: np.ndarray = None
    distances: np.ndarray = None
    n_relevant: np.ndarray = None
    row: dict = field(default_factory=dict)


def check_n_bits(n_bits):
    """Tuple of positive code lengths from an int or an iterable of ints."""
    values = [n_bits] if isinstance(n_bits, Integral) else list(n_bits)
    if not values:
        raise ValueError("n_bits is empty: give at least one code length.")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, Integral) or value <= 0:
            raise ValueError(f"n_bits must hold positive integers; got {value!r}.")
    return tuple(int(v) for v in values)


def check_protocol(protocol, n_samples):
    """A :class:`RetrievalProtocol` from ``"auto"``, a preset name or a protocol."""
    if protocol == "auto" or protocol is None:
        return RetrievalProtocol.auto(n_samples)
    if isinstance(protocol, str):
        return RetrievalProtocol.preset(protocol)
    if not isinstance(protocol, RetrievalProtocol):
        raise ValueError(
            f"protocol must be 'auto', a preset name or a RetrievalProtocol; got {protocol!r}."
        )
    return protocol


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
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
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


def with_settings(estimator, n_bits, seed, validation_fraction):
    """An unfitted copy of ``estimator`` at ``n_bits`` bits; a None ``random_state`` gets
    ``seed``, and a None ``validation_fraction`` (deep hashers) gets the comparison's."""
    params = estimator.get_params(deep=False)
    new = {"n_bits": n_bits}
    if "random_state" in params and params["random_state"] is None:
        new["random_state"] = seed
    if "validation_fraction" in params and params["validation_fraction"] is None:
        new["validation_fraction"] = validation_fraction
    return clone(estimator).set_params(**new)


def relevant_counts(y_query, y_database):
    """Number of database items relevant to each query (sharing a label with it)."""
    if y_query.ndim == 1:
        classes, counts = np.unique(y_database, return_counts=True)
        position = np.searchsorted(classes, y_query).clip(0, len(classes) - 1)
        return np.where(classes[position] == y_query, counts[position], 0)
    return np.concatenate(
        [
            relevance(y_query[i : i + 1024], y_database).sum(axis=1)
            for i in range(0, len(y_query), 1024)
        ]
    )


def _selection(hasher):
    """Epochs run and the epoch whose weights were kept, for hashers that early-stop on a
    validation split (None, None otherwise)."""
    history = [r for r in getattr(hasher, "history_", None) or [] if "valid_loss" in r]
    if not history:
        return None, None
    best = getattr(hasher, "best_epoch_", None)
    if best is None:
        best = min(history, key=lambda r: r["valid_loss"])["epoch"]
    return len(history), int(best)


def diagnose(database_codes, y_database, clean_map, chance):
    """Why a model looks collapsed ('' when it does not).

    Flags fewer distinct database codes than classes (the codes cannot tell the classes
    apart), half the bits or more constant over the database, and an mAP at chance level.
    """
    n_bits = database_codes.shape[1]
    distinct = len(np.unique(np.packbits(database_codes, axis=1), axis=0))
    constant = int((database_codes.min(axis=0) == database_codes.max(axis=0)).sum())
    n_classes = y_database.shape[1] if y_database.ndim == 2 else len(np.unique(y_database))
    reasons = []
    if distinct < min(n_classes, len(database_codes)) or distinct == 1:
        reasons.append(f"{distinct} distinct codes for {len(database_codes)} items")
    if 2 * constant >= n_bits:
        reasons.append(f"{constant} of {n_bits} bits constant")
    if clean_map - chance < CHANCE_SKILL * (1 - chance):
        reasons.append(f"mAP {clean_map:.3f} at chance level ({chance:.3f})")
    return distinct, constant, "; ".join(reasons)


def _warn_unmatched_queries(n_relevant, repeat):
    alone = int((n_relevant == 0).sum())
    if alone:
        warnings.warn(
            f"{alone} of the {len(n_relevant)} queries of split {repeat} share no label with "
            "the database: their average precision is 0, and it counts in the mean. Rows "
            "without any label (multi-label data) or classes with very few samples cause "
            "this; drop them, or give the protocol fewer queries.",
            UserWarning,
            stacklevel=_user_stacklevel(),
        )


def _fit_and_rank(cell, y, map_k):
    """Fit (timed), encode the database (timed), index it and rank it for the clean queries;
    fills ``cell`` and returns the clean mAP."""
    q, tr, db = cell.split.query_indices, cell.split.train_indices, cell.split.database_indices
    X_train, y_train = cell.data[tr], y[tr]
    fit = measure_time(lambda: cell.hasher.fit(X_train, y_train), max_time=FIT_BUDGET_S)
    X_db, X_q = cell.data[db], cell.data[q]
    encode = measure_time(
        lambda: (cell.hasher.transform(X_db), cell.hasher.transform(X_q)),
        max_time=ENCODE_BUDGET_S,
    )
    database_codes, cell.query_codes = encode.result
    cell.index = HammingIndex().fit(database_codes)
    cell.distances = cell.index.distances(cell.query_codes)
    k = None if map_k is None else min(map_k, len(db))
    # Tie-aware: codes leave many items at equal distance, and an order among them that
    # depends on the database order would make the scores depend on it too.
    clean = mean_average_precision(y[q], y[db], cell.distances, k=k, tie_aware=True)
    chance = float(cell.n_relevant.mean()) / len(db)
    distinct, constant, reason = diagnose(database_codes, y[db], clean, chance)
    epochs, best_epoch = _selection(cell.hasher)
    cell.row = {
        "status": "degenerate" if reason else "ok",
        "note": reason,
        "mAP": clean,
        "chance_mAP": chance,
        "distinct_codes": distinct,
        "constant_bits": constant,
        "epochs_run": epochs,
        "best_epoch": best_epoch,
        "fit_time_s": fit.median,
        "encode_ms_per_sample": 1e3 * encode.median / (len(db) + len(q)),
    }
    if reason:
        warnings.warn(
            f"{cell.method} at {cell.bits} bits (split {cell.repeat}) looks degenerate: "
            f"{reason}. It is flagged in the table and left out of the best-method lines.",
            DegenerateModelWarning,
            stacklevel=_user_stacklevel(),
        )
    return clean


def run_protocol(
    methods,
    vectors,
    images,
    y,
    *,
    n_bits,
    protocol,
    evaluate,
    random_state=None,
    validation_fraction=None,
    verbose=None,
    desc="compare",
    said=None,
):
    """Run every (repeat, method, bits) setting of a comparison.

    Parameters
    ----------
    methods : dict of str to estimator
        Named, unfitted hashers (from ``resolve_methods``).
    vectors, images, y : ndarray
        From :func:`prepare_data`; classic hashers get ``vectors``, deep ones ``images``.
    n_bits : tuple of int
    protocol : RetrievalProtocol
    evaluate : callable
        ``evaluate(cell) -> list of dict``: the rows of one fitted setting (each merged with
        the runner's measures); ``cell.index``, ``cell.query_codes`` and ``cell.distances``
        hold the database index, the clean query codes and their distances.
    random_state : int, RandomState instance or None
        Seeds the splits and the hashers whose ``random_state`` is None.
    validation_fraction : float or None
        Given to deep hashers whose ``validation_fraction`` is None.
    verbose : int or None
        None shows a progress bar in a notebook only; 0 never; 1 always; 2 also logs each
        setting.
    desc : str
        Label of the progress bar.
    said : list or None
        Where to append, as dicts (``method``, ``bits``: the code lengths where it was
        said, ``category``, ``message``: the first), the warnings the hashers gave, each
        once per method (see Notes).

    Returns
    -------
    rows : list of dict
        One or more per setting, keyed ``method``, ``family``, ``bits``, ``repeat``, then the
        runner's measures and ``evaluate``'s; a failed setting gives one row with
        ``status="failed"`` and the error in ``note``.

    Notes
    -----
    A hasher that warns in every fit (PCA hashing asked for more bits than the data's rank
    warns at each timed fit) is said once per method: its warnings are caught per setting
    and warned again, prefixed with the method and code length, only when that method has
    not said the same before. While a progress bar is shown and nothing else (pytest, a
    user's ``catch_warnings``) handles warnings, they are written through the bar, one line
    each without the internal source line, so they do not break it.
    """
    families = {name: family_of(est) for name, est in methods.items()}
    if images is None and "deep" in families.values():
        raise ValueError(
            "The deep hashers need images: pass X as (n, H, W) or (n, C, H, W) images, or "
            "give image_shape for flat vectors."
        )
    protocol.check_labels(y)
    seeds = check_random_state(random_state).randint(
        np.iinfo(np.int32).max, size=protocol.n_repeats
    )
    show = in_notebook() if verbose is None else bool(verbose)
    total = protocol.n_repeats * len(methods) * len(n_bits)
    bar = progress_bar(total=total, desc=desc, unit="fit", disable=not show)
    rows, seen = [], {}
    with warnings.catch_warnings():
        if show and warnings.showwarning is getattr(warnings, "_showwarning_orig", None):
            warnings.showwarning = _through(bar)
        try:
            for repeat, seed in enumerate(int(s) for s in seeds):
                split = protocol.split(y, random_state=seed)
                n_relevant = relevant_counts(split.y_query, split.y_database)
                _warn_unmatched_queries(n_relevant, repeat)
                for name, estimator in methods.items():
                    family = families[name]
                    for bits in n_bits:
                        bar.set_postfix_str(f"{name} {bits} bits", refresh=False)
                        keys = {"method": name, "family": family, "bits": bits, "repeat": repeat}
                        cell = Cell(
                            repeat=repeat,
                            seed=seed,
                            method=name,
                            family=family,
                            bits=bits,
                            hasher=with_settings(estimator, bits, seed, validation_fraction),
                            data=images if family == "deep" else vectors,
                            split=split,
                            n_relevant=n_relevant,
                        )
                        with warnings.catch_warnings(record=True) as caught:
                            cell_rows = _run_cell(cell, y, protocol.map_k, evaluate)
                        _say_once(caught, name, bits, seen, said)
                        rows += [{**keys, **r} for r in cell_rows]
                        if verbose is not None and verbose > 1:
                            logger.info("%s", rows[-1])
                        bar.update()
        finally:
            bar.close()
    return rows


_RUNNER_CATEGORIES = (DegenerateModelWarning, FitFailedWarning)


def _say_once(caught, method, bits, seen, said):
    """Warn again what one setting caught: the runner's own warnings as they are, the
    hashers' once per method (prefixed with the method and code length; the same message at
    another code length, its numbers aside, is not said again), noted in ``said``."""
    for w in caught:
        text = str(w.message)
        if issubclass(w.category, _RUNNER_CATEGORIES):
            warnings.warn(text, w.category, stacklevel=_user_stacklevel())
            continue
        key = (method, w.category, re.sub(r"\d+(\.\d+)?", "#", text))
        if key in seen:
            if said is not None and bits not in seen[key]["bits"]:
                seen[key]["bits"].append(bits)
            continue
        seen[key] = {"method": method, "bits": [bits], "category": w.category.__name__}
        seen[key]["message"] = text
        if said is not None:
            said.append(seen[key])
        level = _user_stacklevel()
        warnings.warn(f"{method} at {bits} bits: {text}", w.category, stacklevel=level)


def _through(bar):
    """A ``warnings.showwarning`` that writes one line through the progress bar (no source
    line: the warnings a comparison gives are about the methods, not about a line of code)."""

    def show(message, category, filename, lineno, file=None, line=None):
        bar.write(f"{category.__name__}: {message}", file=sys.stderr)

    return show


def _run_cell(cell, y, map_k, evaluate):
    try:
        _fit_and_rank(cell, y, map_k)
        return [{**cell.row, **extra} for extra in evaluate(cell)]
    except Exception as exc:  # one failing setting must not abort the comparison
        reason = f"{type(exc).__name__}: {exc}"
        warnings.warn(
            f"{cell.method} at {cell.bits} bits (split {cell.repeat}) failed and is recorded "
            f"as such: {reason}",
            FitFailedWarning,
            stacklevel=_user_stacklevel(),
        )
        return [{"status": "failed", "note": reason}]
