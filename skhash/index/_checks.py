"""Checks of search arguments, shared by every index front end (local and Dask)."""

import math
from numbers import Integral, Real


def check_n_neighbors(n_neighbors, n_indexed, *, itself=False):
    """``n_neighbors`` as an int in ``[1, n_indexed]`` (``n_indexed - 1`` when ``itself``).

    ``None`` means 10, or fewer when the database is smaller. ``itself`` is a search of
    the database by itself, each code excluded from its own neighbours.
    """
    n_available = n_indexed - 1 if itself else n_indexed
    if n_neighbors is None:
        return max(1, min(10, n_available))
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, Integral):
        raise TypeError(f"n_neighbors must be an integer; got {n_neighbors!r}.")
    if n_neighbors < 1:
        raise ValueError(f"n_neighbors must be >= 1; got {n_neighbors}.")
    if n_neighbors > n_available:
        relation = "<" if itself else "<="
        where = " when querying the database itself" if itself else ", the database size"
        raise ValueError(
            f"Expected n_neighbors {relation} n_indexed{where}; got "
            f"n_neighbors={n_neighbors}, n_indexed={n_indexed}."
        )
    return int(n_neighbors)


def check_radius(radius, n_bits):
    """A Hamming radius as an int in ``[0, n_bits]``.

    Any real number is accepted (numpy scalars included), rounded down; a radius beyond
    the code length, however large (``10**30``, ``1e300``, infinity), means every code.
    """
    if isinstance(radius, bool) or not isinstance(radius, Real):
        raise TypeError(f"radius must be a number; got {radius!r}.")
    if isinstance(radius, Integral):
        value = int(radius)
    else:
        as_float = float(radius)
        if math.isnan(as_float):
            raise ValueError("radius must be a number >= 0; got nan.")
        if math.isinf(as_float):
            value = n_bits if as_float > 0 else -1
        else:
            value = math.floor(as_float)
    if value < 0:
        raise ValueError(f"radius must be a number >= 0; got {radius}.")
    return min(value, n_bits)
