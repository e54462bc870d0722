"""Compare hashers side by side on one labelled data set."""

from numbers import Integral

import numpy as np
import pandas as pd

from ..metrics import (
    mean_average_precision,
    precision_at_k,
    precision_recall_curve,
    precision_within_radius,
)
from ..utils.timing import measure_time
from ._methods import resolve_methods
from ._result import ComparisonResult, tidy_table
from ._runner import QUERY_BUDGET_S, check_n_bits, check_protocol, prepare_data, run_protocol

__all__ = ["compare"]

_CURVE_KS = (1, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


def _retrieval_measures(cell, y, *, k, radius):
    """compare's measures of one fitted setting: cut-off scores, radius precision, query time
    and the curves (stored on the row, split off by :func:`compare`)."""
    q, db = cell.split.query_indices, cell.split.database_indices
    y_query, y_db, distances = y[q], y[db], cell.distances
    query = measure_time(
        lambda: cell.index.kneighbors(cell.query_codes, k, return_distance=False),
        max_time=QUERY_BUDGET_S,
    )
    row = {
        "mAP@k": mean_average_precision(y_query, y_db, distances, k=k, tie_aware=True),
        "precision@k": precision_at_k(y_query, y_db, distances, k, tie_aware=True),
        "precision@radius": precision_within_radius(y_query, y_db, distances, radius=radius),
        "query_ms_per_query": 1e3 * query.median / len(q),
    }
    precision, recall, radii = precision_recall_curve(
        y_query, y_db, distances, radii=np.arange(cell.bits + 1)
    )
    pr = pd.DataFrame({"curve": "pr", "x": radii, "precision": precision, "recall": recall})
    ks = np.asarray([v for v in _CURVE_KS if v <= len(db)])
    pk = pd.DataFrame(
        {
            "curve": "precision@k",
            "x": ks,
            "precision": precision_at_k(y_query, y_db, distances, ks, tie_aware=True),
            "recall": np.nan,
        }
    )
    row["_curves"] = pd.concat([pr, pk], ignore_index=True)
    return [row]


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
    validation_fraction=0.1,
    random_state=None,
    verbose=None,
    plot=False,
):
    """Compare hashers on one labelled data set, under the protocol of hashing papers.

    For each repeat of the protocol, a random split (stratified by class) gives queries, a
    training set and a database (:class:`RetrievalProtocol`). Each method, at each code
    length, learns from the training set, encodes the database and the queries, and ranks the
    whole database for every query by Hamming distance. An item is relevant when it shares a
    label with the query.

    Parameters
    ----------
    methods : "all", "classic", "deep", "baselines", list or dict, default="all"
        ``"all"`` is the five classic hashers (LSH, PCAH, ITQ, SH, KMH) and, when torch is
        installed, the four deep ones (SCAE, DSBH, DPHB, DAHP) with short trainings (see
        Notes); without torch a warning is logged and only the classic ones run.
        ``"baselines"`` is the literature's seven deep baselines (DPSH ... BiHalf). A list may
        mix names (case-insensitive, e.g. ``"itq"`` or ``"SpectralHashing"``) and unfitted
        estimators; a dict maps display names to estimators.
    X : array-like of shape (n_samples, n_features), (n, H, W) or (n, C, H, W)
        Vectors or images. The classic hashers get flattened vectors; the deep hashers get
        images (vectors are reshaped with ``image_shape``, or to a square when possible).
    y : array-like of shape (n_samples,) or (n_samples, n_classes)
        Class labels, or a label-indicator matrix for multi-label data.
    n_bits : int or sequence of int, default=(16, 32, 64)
        Code lengths to compare.
    protocol : "auto", str or RetrievalProtocol, default="auto"
        ``"auto"`` scales the CIFAR-10 protocol to the data (:meth:`RetrievalProtocol.auto`);
        a name such as ``"cifar10"`` is a standard split (:meth:`RetrievalProtocol.preset`).
    k : int, default=100
        Cut-off of ``mAP@k`` and ``precision@k`` (capped by the database size).
    radius : int, default=2
        Hamming radius of ``precision@radius`` (hash-lookup precision).
    image_shape : tuple of int, default=None
        Shape of one image when ``X`` holds flat vectors and deep hashers are compared.
    quick : bool, default=False
        Give the deep hashers named by ``methods`` the settings of a first look in under a
        minute on a laptop (``skhash.compare.QUICK_DEEP_DEFAULTS``: smaller networks trained
        with more, smaller steps); use it with a small protocol (``python -m skhash compare
        --quick`` takes 100 queries and 300 training images).
    device : str, default=None
        Device of the deep hashers named by ``methods`` (``"cpu"``, ``"cuda"``...).
    validation_fraction : float or None, default=0.1
        Model selection of the deep hashers: this fraction of each training set (never of
        the queries) is held out, and the weights of the epoch with the lowest validation
        loss are kept (early stopping after ``patience`` epochs without improvement). Given
        to deep hashers whose own ``validation_fraction`` is None; None trains every deep
        hasher for all its epochs on the whole training set.
    random_state : int, RandomState instance or None, default=None
        Seeds the splits and the hashers whose ``random_state`` is None. Pass an int for
        reproducible results.
    verbose : int or None, default=None
        None shows a progress bar in a Jupyter notebook and nothing in a script; 0 is
        silent; 1 shows a progress bar; 2 also logs each result at INFO level (logger
        ``"skhash.compare"``).
    plot : bool, default=False
        Also draw the standard figures (stored in ``result.figures``).

    Returns
    -------
    result : ComparisonResult
        ``result.table`` has one row per (method, bits, repeat); ``result.summary()`` gives
        means and standard deviations, ``result.pretty_summary()`` a readable table.

    Raises
    ------
    ValueError
        For an unknown method name, a non-positive code length, data too small for the
        protocol (or with another number of classes than a preset's), or missing labels.

    Warns
    -----
    DegenerateModelWarning
        For a model that collapsed (see Notes).
    sklearn.exceptions.FitFailedWarning
        For a setting that raised an error (e.g. more bits than PCA hashing can give).
    UserWarning
        When queries share no label with the database.
    Warning
        What a hasher warns (e.g. ``DataDimensionalityWarning`` for more PCA bits than the
        data's rank) is said once per method, prefixed with the method and code length, and
        listed in ``result.warnings`` and the report.

    See Also
    --------
    robustness : How much each method's mAP drops when the queries are perturbed.
    RetrievalProtocol : The split drawn at each repeat.

    Notes
    -----
    The table's columns: ``method``, ``family``, ``bits``, ``repeat``; ``status`` (``"ok"``,
    ``"degenerate"`` or ``"failed"``) and ``note`` (why); the scores ``mAP`` (the protocol's:
    over the whole database, or its top ``map_k``), ``mAP@k``, ``precision@k``,
    ``precision@radius`` and ``chance_mAP`` (the mAP of a random order); the times
    ``fit_time_s``, ``encode_ms_per_sample`` (database and queries) and
    ``query_ms_per_query`` (a ``k``-nearest-neighbour Hamming search of the database); the
    diagnostics ``distinct_codes`` and ``constant_bits`` (over the database codes); and for
    deep hashers that early-stop ``epochs_run`` and ``best_epoch`` (the epoch whose weights
    were kept, chosen on the validation split).

    **Ties.** The ranking scores are tie-aware (``tie_aware=True`` in
    :mod:`skhash.metrics`): items at equal Hamming distance count in every order with equal
    weight, so a score does not depend on the order of the database.

    **Failures.** A setting that raises (PCA hashing asked for more bits than features, a
    deep hasher out of memory...) is recorded with ``status="failed"`` and the error in
    ``note``; the other settings run as usual.

    **Collapse.** A model is flagged ``"degenerate"`` when its database codes are fewer
    than the classes (they cannot tell the classes apart), when half of its bits or more are
    constant, or when its mAP is at chance level (within 2% of the way from ``chance_mAP``
    to 1). A warning says so, the report marks it, and it is left out of the "best" lines.

    **Times** are wall-clock on this machine, after a warm-up call (which loads compiled
    kernels): the median of up to three runs, or the single run of a fit that takes more
    than 1 s. Speed claims belong in benchmarks on a quiet machine.

    The deep hashers of ``"all"`` train for a few epochs only (two to five, see
    ``skhash.compare.DEEP_DEFAULTS``), so that the comparison runs in minutes on a CPU.
    Their scores show what a short training gives, not what the methods reach in their
    papers. Pass your own estimators (e.g. ``DSBH(max_epochs=100)``) for longer trainings.

    Examples
    --------
    >>> from skhash.compare import compare
    >>> from skhash.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> result = compare(["LSH", "ITQ"], X, y, n_bits=16, random_state=0)
    >>> result.table[["method", "bits", "status"]].values.tolist()
    [['LSH', 16, 'ok'], ['ITQ', 16, 'ok']]
    >>> bool((result.table["mAP"] > 0.1).all())
    True
    """
    n_bits = check_n_bits(n_bits)
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        raise ValueError(f"k must be a positive integer; got {k!r}.")
    if isinstance(radius, bool) or not isinstance(radius, Integral) or radius < 0:
        raise ValueError(f"radius must be a non-negative integer; got {radius!r}.")
    if validation_fraction is not None and not 0 < validation_fraction < 1:
        raise ValueError(
            f"validation_fraction must be in (0, 1) or None; got {validation_fraction!r}."
        )
    if X is None:
        raise ValueError("compare() needs data X (and labels y).")
    resolved = resolve_methods(methods, quick=quick, device=device)
    vectors, images, y = prepare_data(X, y, image_shape)
    protocol = check_protocol(protocol, len(y))
    n_query, n_train = protocol.resolve(len(y))
    n_database = len(y) - n_query - (0 if protocol.train_in_database else n_train)
    k = min(k, n_database)
    said = []
    rows = run_protocol(
        resolved,
        vectors,
        images,
        y,
        n_bits=n_bits,
        protocol=protocol,
        evaluate=lambda cell: _retrieval_measures(cell, y, k=k, radius=radius),
        random_state=random_state,
        validation_fraction=validation_fraction,
        verbose=verbose,
        said=said,
    )
    keys = ["method", "family", "bits", "repeat"]
    curves = [
        row.pop("_curves").assign(**{c: row[c] for c in keys}) for row in rows if "_curves" in row
    ]
    curve_columns = [*keys, "curve", "x", "precision", "recall"]
    curves = (
        pd.concat(curves, ignore_index=True)[curve_columns]
        if curves
        else pd.DataFrame(columns=curve_columns)
    )
    result = ComparisonResult(
        table=tidy_table(rows),
        curves=curves,
        protocol=protocol,
        n_query=n_query,
        n_train=n_train,
        n_database=n_database,
        k=k,
        radius=radius,
        validation_fraction=validation_fraction,
        warnings=said,
    )
    if plot:
        result.figures = result.plot_all()
    return result
