"""Figures of retrieval results: each query next to what a hasher found for it."""

import numpy as np

__all__ = ["plot_retrieved"]


def _as_displayable(images, image_shape):
    """Images as ``(n, H, W)`` or ``(n, H, W, 3)`` floats for ``imshow``."""
    images = np.asarray(images, dtype=np.float64)
    if image_shape is not None:
        images = images.reshape(len(images), *image_shape)
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError(
                f"Cannot show rows of {images.shape[1]} values as square images: pass "
                "image_shape=(H, W) or (C, H, W)."
            )
        images = images.reshape(len(images), side, side)
    if images.ndim == 4:
        if images.shape[1] in (1, 3):  # channels first
            images = images.transpose(0, 2, 3, 1)
        if images.shape[-1] == 1:
            images = images[..., 0]
    if images.ndim not in (3, 4):
        raise ValueError(f"Expected images; got an array of shape {images.shape}.")
    low, high = images.min(), images.max()
    return (images - low) / (high - low) if high > low else images * 0


def plot_retrieved(
    query_images,
    database_images,
    retrieved,
    *,
    query_labels=None,
    database_labels=None,
    image_shape=None,
    n_show=10,
    figsize=None,
):
    """Show each query and the database images retrieved for it, relevant ones marked.

    One row per query and ranking: the query, then its first ``n_show`` results left to
    right. With labels, a result that shares the query's label is framed in green, any other
    in red, and each row says how many of its results are relevant.

    Parameters
    ----------
    query_images : array-like of shape (n_queries, ...)
        The queries: flat rows (square images, or ``image_shape``), ``(n, H, W)``,
        ``(n, C, H, W)`` or ``(n, H, W, C)``.
    database_images : array-like of shape (n_database, ...)
        The database, in the same form.
    retrieved : array-like of shape (n_queries, k), or dict of name to such arrays
        Database indices of each query's results, nearest first (``kneighbors``'s second
        output); a dict compares several rankings, one row each per query.
    query_labels, database_labels : array-like, default=None
        1-D labels; marks relevance when both are given.
    image_shape : tuple, default=None
        ``(H, W)`` or ``(C, H, W)`` of flat rows.
    n_show : int, default=10
        Results shown per row.
    figsize : tuple, default=None
        Size of the figure; by default about an inch per image.

    Returns
    -------
    figure : matplotlib.figure.Figure

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import ITQ
    >>> from skhash.plotting import plot_retrieved
    >>> X, y = load_digits(return_X_y=True)
    >>> itq = ITQ(n_bits=16, random_state=0).fit(X[100:], y[100:])
    >>> ind = itq.kneighbors(X[:3], n_neighbors=5, return_distance=False)
    >>> fig = plot_retrieved(X[:3], X[100:], ind, query_labels=y[:3],
    ...                      database_labels=y[100:], n_show=5)
    >>> len(fig.axes)
    18
    """
    import matplotlib.pyplot as plt

    rankings = retrieved if isinstance(retrieved, dict) else {"": retrieved}
    rankings = {name: np.asarray(ind) for name, ind in rankings.items()}
    queries = _as_displayable(query_images, image_shape)
    database = _as_displayable(database_images, image_shape)
    n_queries = len(queries)
    for name, ind in rankings.items():
        if ind.ndim != 2 or len(ind) != n_queries:
            raise ValueError(
                f"retrieved{f'[{name!r}]' if name else ''} must hold one row of indices per "
                f"query ({n_queries}); got shape {ind.shape}."
            )
    labelled = query_labels is not None and database_labels is not None
    if labelled:
        query_labels, database_labels = np.asarray(query_labels), np.asarray(database_labels)
    n_show = min(n_show, min(ind.shape[1] for ind in rankings.values()))
    n_rows, n_cols = n_queries * len(rankings), n_show + 1
    figure, axes = plt.subplots(
        n_rows, n_cols, figsize=figsize or (1.0 * n_cols + 1.2, 1.05 * n_rows), squeeze=False
    )
    cmap = "gray_r" if queries.ndim == 3 else None
    for q in range(n_queries):
        for r, (name, ind) in enumerate(rankings.items()):
            row = axes[q * len(rankings) + r]
            row[0].imshow(queries[q], cmap=cmap)
            label = name
            if labelled:
                relevant = database_labels[ind[q, :n_show]] == query_labels[q]
                label = (
                    f"{name}\n{relevant.sum()}/{n_show}" if name else f"{relevant.sum()}/{n_show}"
                )
            row[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
            for j in range(n_show):
                row[j + 1].imshow(database[ind[q, j]], cmap=cmap)
                if labelled:
                    colour = "tab:green" if relevant[j] else "tab:red"
                    for spine in row[j + 1].spines.values():
                        spine.set(edgecolor=colour, linewidth=2.5)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_title("query", fontsize=8)
    figure.tight_layout(pad=0.3)
    return figure
