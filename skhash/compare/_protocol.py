"""The query / training / database protocol of a comparison, scaled to the data set."""

from dataclasses import dataclass
from numbers import Integral, Real

__all__ = ["RetrievalProtocol"]

# The CIFAR-10 protocol of learning-to-hash papers: 1,000 queries and 5,000 training images out
# of 60,000, the 59,000 non-query images as the retrieval database.
_CIFAR_QUERIES = 1000
_CIFAR_TRAIN = 5000
# Smallest database a comparison is meaningful on: below it, mAP says little.
MIN_DATABASE = 20
MIN_QUERIES = 5


@dataclass(frozen=True)
class RetrievalProtocol:
    """Sizes of the query, training and database parts of a retrieval comparison.

    Each repeat draws a fresh stratified split with
    :func:`skhash.datasets.make_retrieval_split`: ``n_query`` queries, and out of the other
    samples (the database) ``n_train`` training samples. Every hasher learns from the training
    samples; the queries are then ranked against the whole database by Hamming distance.

    Parameters
    ----------
    n_query : int or float, default=1000
        Number of queries, or their fraction of the samples.
    n_train : int, float or None, default=5000
        Number of training samples drawn from the database, or their fraction of the samples;
        None trains on the whole database.
    n_repeats : int, default=1
        Number of random splits; the summary reports the mean and standard deviation.

    See Also
    --------
    RetrievalProtocol.auto : The CIFAR-10 protocol scaled to a data set's size.

    Examples
    --------
    >>> from skhash.compare import RetrievalProtocol
    >>> RetrievalProtocol.auto(60000)
    RetrievalProtocol(n_query=1000, n_train=5000, n_repeats=1)
    >>> RetrievalProtocol.auto(1797, n_repeats=3)
    RetrievalProtocol(n_query=180, n_train=1617, n_repeats=3)
    >>> RetrievalProtocol(n_query=100, n_train=500).resolve(1797)
    (100, 500)
    """

    n_query: int | float = _CIFAR_QUERIES
    n_train: int | float | None = _CIFAR_TRAIN
    n_repeats: int = 1

    def __post_init__(self):
        if not isinstance(self.n_repeats, Integral) or self.n_repeats < 1:
            raise ValueError(f"n_repeats must be a positive integer; got {self.n_repeats!r}.")
        for name in ("n_query", "n_train"):
            value = getattr(self, name)
            if value is None and name == "n_train":
                continue
            if isinstance(value, bool) or not isinstance(value, Real) or value <= 0:
                raise ValueError(f"{name} must be a positive number; got {value!r}.")
            if not isinstance(value, Integral) and value >= 1:
                raise ValueError(
                    f"{name}={value!r}: a float is a fraction of the samples, in (0, 1); pass "
                    "an int for a number of samples."
                )

    @classmethod
    def auto(cls, n_samples, *, n_repeats=1):
        """The CIFAR-10 protocol (1,000 queries, 5,000 training) scaled to ``n_samples``.

        Queries are 10% of the samples, at most 1,000; the training set is the whole database
        up to 5,000 samples. On CIFAR-10 (60,000 images) this gives the usual protocol; on the
        1,797 digits, 180 queries and a 1,617-image database that is also the training set.

        Parameters
        ----------
        n_samples : int
            Size of the data set.
        n_repeats : int, default=1
            Number of random splits.

        Returns
        -------
        protocol : RetrievalProtocol
        """
        n_query = min(_CIFAR_QUERIES, max(MIN_QUERIES, round(0.1 * n_samples)))
        n_train = min(_CIFAR_TRAIN, n_samples - n_query)
        protocol = cls(n_query=n_query, n_train=n_train, n_repeats=n_repeats)
        protocol.resolve(n_samples)
        return protocol

    def resolve(self, n_samples):
        """Numbers of queries and training samples for ``n_samples`` samples.

        Parameters
        ----------
        n_samples : int
            Size of the data set.

        Returns
        -------
        n_query, n_train : int
            ``n_train`` is the database size when the protocol's ``n_train`` is None.

        Raises
        ------
        ValueError
            If the data set is too small for the protocol.
        """
        n_query = self._count(self.n_query, n_samples)
        n_database = n_samples - n_query
        if n_query < MIN_QUERIES or n_database < MIN_DATABASE:
            raise ValueError(
                f"Too few samples for the protocol: {n_samples} samples give {n_query} queries "
                f"and a database of {n_database}; a comparison needs at least {MIN_QUERIES} "
                f"queries and {MIN_DATABASE} database items."
            )
        n_train = n_database if self.n_train is None else self._count(self.n_train, n_samples)
        if n_train > n_database:
            raise ValueError(
                f"Too few samples for the protocol: n_train={n_train} is larger than the "
                f"database ({n_samples} samples - {n_query} queries = {n_database})."
            )
        if n_train < 2:
            raise ValueError(f"The protocol leaves {n_train} training sample(s); need >= 2.")
        return n_query, n_train

    @staticmethod
    def _count(size, n_samples):
        if isinstance(size, Integral):
            return int(size)
        return max(1, round(size * n_samples))
