"""Reference values written from the definitions, for tests to compare against."""

import numpy as np


def mean_average_precision(y_query, y_database, distances):
    """mAP with ties in database order, from the definition: for each query, the database
    sorted by distance (stable), and AP = mean of precision@rank over the relevant ranks;
    relevant = shares a label (rows of an indicator matrix, or equal class labels)."""
    y_query, y_database = np.asarray(y_query), np.asarray(y_database)
    values = []
    for q in range(len(distances)):
        if y_query.ndim == 2:
            relevant = (y_database @ y_query[q]) > 0
        else:
            relevant = y_database == y_query[q]
        ranked = relevant[np.argsort(distances[q], kind="stable")]
        if not ranked.any():
            values.append(0.0)
            continue
        hits = np.cumsum(ranked)
        ranks = np.flatnonzero(ranked) + 1
        values.append(float(np.mean(hits[ranked] / ranks)))
    return float(np.mean(values))


def hasher_map(hasher, X, y):
    """Database-order mAP of a fitted hasher's queries ``X``, from its Hamming distances."""
    return mean_average_precision(y, hasher.database_labels_, hasher.hamming_distances(X))
