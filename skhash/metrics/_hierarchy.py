"""Two-level label hierarchies: a mapping from each fine label to its coarse label."""

from collections.abc import Mapping

import numpy as np

from ._validation import check_option

GRANULARITY_OPTIONS = ("fine", "coarse")


def check_hierarchy(hierarchy):
    """Validate a two-level label hierarchy; return ``(fine, coarse)`` arrays, ``fine`` sorted.

    ``hierarchy`` maps each fine label to its coarse label: a dict ``{fine: coarse}``, or an
    array-like whose entry ``f`` is the coarse label of the fine label ``f`` (fine labels
    ``0 .. n_fine - 1``), such as CIFAR-100's ``fine_to_coarse`` table.
    """
    if isinstance(hierarchy, Mapping):
        if not hierarchy:
            raise ValueError("hierarchy is empty: it must map each fine label to a coarse one.")
        fine = np.asarray(list(hierarchy.keys()))
        coarse = np.asarray(list(hierarchy.values()))
    else:
        coarse = np.asarray(hierarchy)
        if coarse.ndim != 1 or coarse.size == 0 or coarse.dtype.kind == "O":
            raise TypeError(
                "hierarchy must be a dict {fine label: coarse label}, or a non-empty 1-D array "
                "whose entry f is the coarse label of fine label f; got "
                f"{type(hierarchy).__name__} of shape {np.shape(hierarchy)}."
            )
        fine = np.arange(len(coarse))
    if coarse.ndim != 1 or fine.ndim != 1:
        raise TypeError("hierarchy's labels must be scalars (numbers or strings).")
    order = np.argsort(fine, kind="stable")
    return fine[order], coarse[order]


def coarse_labels(y, hierarchy, *, name="y"):
    """The coarse label of each fine label of the 1-D labels ``y``."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(
            f"A hierarchy maps single (fine) labels to coarse ones: {name} must be 1-D class "
            f"labels; got an array of shape {y.shape}."
        )
    fine, coarse = check_hierarchy(hierarchy)
    try:
        position = np.searchsorted(fine, y)
    except TypeError:  # labels and hierarchy keys of incomparable types
        position = np.full(len(y), len(fine))
    position = np.minimum(position, len(fine) - 1)
    known = fine[position] == y if len(y) else np.ones(0, dtype=bool)
    if not np.all(known):
        missing = np.unique(y[~np.asarray(known, dtype=bool)])[:5]
        raise ValueError(
            f"{name} holds labels the hierarchy does not map to a coarse label: "
            f"{missing.tolist()}."
        )
    return coarse[position]


def labels_at_granularity(y_query, y_database, hierarchy, granularity):
    """The labels at ``granularity``: unchanged for "fine", mapped through ``hierarchy`` for
    "coarse" (which then is required)."""
    check_option(granularity, "granularity", GRANULARITY_OPTIONS)
    if granularity == "fine":
        if hierarchy is not None:
            check_hierarchy(hierarchy)
        return y_query, y_database
    if hierarchy is None:
        raise ValueError(
            "granularity='coarse' needs the hierarchy: a mapping from each fine label to its "
            "coarse label (hierarchy=...)."
        )
    return (
        coarse_labels(y_query, hierarchy, name="y_query"),
        coarse_labels(y_database, hierarchy, name="y_database"),
    )
