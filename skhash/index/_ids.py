"""User ids of indexed codes: checks, and the lookup from ids to database positions."""

from numbers import Integral

import numpy as np

_INT64 = np.iinfo(np.int64)


def _listed(values, most=5):
    """``[a, b, ...]`` naming at most ``most`` values (and how many there are in all)."""
    shown = ", ".join(str(v) for v in values[:most])
    return f"[{shown}, ...] ({len(values)} in all)" if len(values) > most else f"[{shown}]"


def as_id_array(ids, name="ids"):
    """``ids`` (an integer or a 1-D array of integers) as a 1-D int64 array."""
    if isinstance(ids, Integral):
        ids = [ids]
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of integers; got shape {ids.shape}.")
    if ids.dtype.kind not in "iu" or ids.dtype == np.bool_:
        if ids.size or ids.dtype.kind not in "fO":  # an empty list reads as float
            raise TypeError(f"{name} must be integers (int64); got dtype {ids.dtype}.")
        ids = ids.astype(np.int64)
    if ids.dtype == np.uint64 and ids.size and ids.max() > _INT64.max:
        raise ValueError(f"{name} must fit in int64; got {ids.max()}.")
    return ids.astype(np.int64, copy=False)


def check_ids(ids, n_codes, name="ids"):
    """``ids`` as a 1-D int64 array of ``n_codes`` distinct values, or a clear error.

    Returns ``(ids, lookup)``: the checked ids and their :class:`IdLookup` (the sort that
    finds duplicates also builds it).
    """
    ids = as_id_array(ids, name)
    if len(ids) != n_codes:
        raise ValueError(f"Expected one id per code: {n_codes} codes, but {len(ids)} {name}.")
    lookup = IdLookup.of(ids)
    repeated = lookup.sorted_ids[1:][np.diff(lookup.sorted_ids) == 0]
    if len(repeated):
        raise ValueError(f"{name} must be unique; repeated: {_listed(np.unique(repeated))}.")
    return ids, lookup


class IdLookup:
    """Database positions of ids: the ids sorted, and their positions in that order.

    ``order`` is None when the ids are ascending in database order (``np.arange`` ids, for
    one), so the lookup costs no memory beyond the ids.
    """

    def __init__(self, sorted_ids, order):
        self.sorted_ids, self.order = sorted_ids, order

    @classmethod
    def of(cls, ids):
        if len(ids) < 2 or bool((ids[1:] > ids[:-1]).all()):
            return cls(ids, None)
        order = np.argsort(ids, kind="stable")
        return cls(ids[order], order)

    def _find(self, ids):
        at = np.searchsorted(self.sorted_ids, ids)
        found = at < len(self.sorted_ids)
        found[found] = self.sorted_ids[at[found]] == ids[found]
        return at, found

    def contains(self, ids):
        """Boolean mask: which of ``ids`` are held."""
        return self._find(ids)[1]

    def positions(self, ids, name="ids"):
        """Database positions of ``ids``; a ValueError names those not held."""
        at, found = self._find(ids)
        if not found.all():
            raise ValueError(f"{name} not in the index: {_listed(ids[~found])}.")
        return at if self.order is None else self.order[at]

    def appended(self, new_lookup, n_old, all_ids):
        """The lookup after ids of ``new_lookup`` (checked absent) follow ``n_old`` codes.

        ``all_ids`` is the database's ids after the append.
        """
        if self.order is None and new_lookup.order is None:
            if not n_old or not len(all_ids) > n_old or all_ids[n_old] > all_ids[n_old - 1]:
                return IdLookup(all_ids, None)
        old_order = np.arange(n_old) if self.order is None else self.order
        new_order = (
            np.arange(len(new_lookup.sorted_ids))
            if new_lookup.order is None
            else (new_lookup.order)
        )
        at = np.searchsorted(self.sorted_ids, new_lookup.sorted_ids)
        return IdLookup(
            np.insert(self.sorted_ids, at, new_lookup.sorted_ids),
            np.insert(old_order, at, new_order + n_old),
        )

    def removed(self, keep, kept_ids):
        """The lookup once the codes where ``keep`` is False are removed (positions shift)."""
        if self.order is None:
            return IdLookup(kept_ids, None)
        still = keep[self.order]
        new_position = np.cumsum(keep) - 1
        return IdLookup(self.sorted_ids[still], new_position[self.order[still]])
