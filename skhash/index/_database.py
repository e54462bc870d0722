"""The content of an index at one moment: codes, ids, and what is built from them.

A :class:`Database` is never modified once published: ``fit``, ``add`` and ``remove`` build
a new one aside and the index swaps one reference to it, so a search holding the old one
finishes on it, an interrupted change leaves the old one in place, and no reader ever sees a
half-made database. What is derived on demand (multi-index tables, the id lookup, a GPU
copy) is built at most once per database, under its lock, and carried over (updated) by
``appended``/``without`` when that is cheaper than a rebuild.
"""

import threading

import numpy as np

from ._ids import IdLookup
from ._packing import RowBuffer


class Database:
    """Codes (and ids) searched by a :class:`~skhash.index.HammingIndex`.

    Parameters
    ----------
    codes : BlockedCodes
        The packed codes.
    n_bits : int
        Bits per code.
    ids : RowBuffer or None
        The user ids (int64) of the codes, in position order; None when ids are positions.
    lookup : IdLookup, default=None
        Ids to positions, when already known.
    tables : MultiIndexHashing, default=None
        Multi-index tables over ``codes``, when already built.
    """

    def __init__(self, codes, n_bits, ids=None, lookup=None, tables=None):
        self.codes, self.n_bits = codes, n_bits
        self._ids, self._lookup, self._tables = ids, lookup, tables
        self._device = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, codes, n_bits, ids=None, lookup=None):
        """A database holding ``codes`` (BlockedCodes), with int64 ``ids`` or none."""
        buffer = None if ids is None else RowBuffer(ids, len(ids))
        return cls(codes, n_bits, buffer, lookup)

    def __len__(self):
        return len(self.codes)

    @property
    def ids(self):
        """The int64 ids in position order (a read-only view), or None."""
        if self._ids is None:
            return None
        view = self._ids.array[: len(self)]
        view.flags.writeable = False
        return view

    @property
    def nbytes(self):
        """Memory held: codes, ids, and the tables and id lookup when built."""
        total = self.codes.nbytes
        for part in (self._tables, self.ids):
            total += 0 if part is None else part.nbytes
        lookup = self._lookup
        if lookup is not None and lookup.order is not None:  # else it is the ids
            total += lookup.order.nbytes + lookup.sorted_ids.nbytes
        return total

    def _built(self, name, build):
        """Attribute ``name``, built by ``build()`` the first time (once, under the lock)."""
        value = getattr(self, name)
        if value is None:
            with self._lock:
                value = getattr(self, name)
                if value is None:
                    value = build()
                    setattr(self, name, value)
        return value

    def tables(self):
        """Multi-index tables over the codes (built on first use)."""
        from ._mih import MultiIndexHashing

        return self._built("_tables", lambda: MultiIndexHashing(self.codes, self.n_bits))

    def device_codes(self):
        """The codes on the torch device (copied on first use)."""
        from ._torch_search import DeviceCodes

        return self._built("_device", lambda: DeviceCodes(self.codes))

    def lookup(self):
        """The :class:`~skhash.index._ids.IdLookup` of the ids (sorted on first use)."""
        return self._built("_lookup", lambda: IdLookup.of(self.ids))

    def positions_of(self, ids, name="ids"):
        """Positions of int64 ``ids`` (positions themselves when the codes have no ids)."""
        if self._ids is not None:
            return self.lookup().positions(ids, name)
        outside = (ids < 0) | (ids >= len(self))
        if outside.any():
            raise ValueError(
                f"{name} not in the index: {ids[outside][:5].tolist()} (the index has no "
                f"ids, so ids are positions in [0, {len(self)}))."
            )
        return ids

    def appended(self, words, ids=None, lookup=None):
        """A new database: these codes, then ``words`` with ``ids`` (checked, not held)."""
        n_old = len(self)
        codes = self.codes.append(words)
        buffer = None
        if ids is not None:
            buffer = self._ids.grown(n_old, len(codes), lambda n: np.empty(n, np.int64))
            buffer.array[n_old : len(codes)] = ids
        new = Database(codes, self.n_bits, buffer)
        if ids is not None and self._lookup is not None:
            new._lookup = self._lookup.appended(lookup, n_old, new.ids)
        if self._tables is not None:
            new._tables = self._tables.appended(codes)
        return new

    def without(self, keep):
        """A new database holding the codes where ``keep`` (bool per position) is True."""
        kept = np.flatnonzero(keep)
        codes = self.codes.take(kept)
        buffer = None if self._ids is None else RowBuffer(self.ids[kept], len(kept))
        new = Database(codes, self.n_bits, buffer)
        if self._ids is not None and self._lookup is not None:
            new._lookup = self._lookup.removed(keep, new.ids)
        if self._tables is not None:
            new._tables = self._tables.removed(keep)
        return new

    def __getstate__(self):
        # the GPU copy stays out of pickles; the tables and lookup go in (joblib memory-maps
        # them along with the codes, so a loaded index searches at once)
        ids, lookup = self.ids, self._lookup
        if lookup is not None and lookup.order is None:
            lookup = "ascending"  # the lookup is the ids themselves: not stored twice
        return {
            "codes": self.codes,
            "n_bits": self.n_bits,
            "ids": None if ids is None else np.asarray(ids),
            "lookup": lookup,
            "tables": self._tables,
        }

    def __setstate__(self, state):
        ids, lookup = state["ids"], state["lookup"]
        buffer = None if ids is None else RowBuffer(ids, len(ids))
        if isinstance(lookup, str):
            lookup = IdLookup(ids, None)
        self.__init__(state["codes"], state["n_bits"], buffer, lookup, state["tables"])
