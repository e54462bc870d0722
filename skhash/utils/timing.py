"""One way to time code for reports: warm up, then the median of repeated runs."""

import time
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

__all__ = ["Timing", "measure_time"]


@dataclass(frozen=True)
class Timing:
    """Durations of repeated calls, as measured by :func:`measure_time`.

    Attributes
    ----------
    median : float
        Median duration of the timed calls, in seconds.
    times : tuple of float
        Every timed duration, in seconds, in call order.
    warmup_s : float
        Total duration of the untimed warm-up calls, in seconds.
    result : object
        What the last call returned.
    """

    median: float
    times: tuple
    warmup_s: float
    result: object = None

    @property
    def n_timed(self):
        """Number of timed calls."""
        return len(self.times)


def measure_time(func, *, n_repeats=3, warmup=1, max_time=None):
    """Time ``func()``: untimed warm-up calls, then the median of repeated timed calls.

    The warm-up calls pay the one-time costs (compiling numba kernels, loading libraries,
    filling caches) that a user pays once per process, not once per call. With ``max_time``,
    the timed calls stop once their total passes it; and when a single warm-up call already
    took longer than ``max_time``, that call is the measurement and nothing more runs: a
    one-time cost is small next to such a call, and repeating it (a minute of training, say)
    would cost more than the number is worth.

    Parameters
    ----------
    func : callable
        Called with no arguments.
    n_repeats : int, default=3
        Most timed calls.
    warmup : int, default=1
        Untimed calls first.
    max_time : float, default=None
        Time budget in seconds (see above); None runs every call.

    Returns
    -------
    timing : Timing
        ``timing.median`` in seconds, the durations, and the last call's return value.

    Examples
    --------
    >>> from skhash.utils.timing import measure_time
    >>> timing = measure_time(lambda: sum(range(1000)), n_repeats=5)
    >>> timing.n_timed, timing.result
    (5, 499500)
    >>> timing.median > 0
    True
    """
    if not callable(func):
        raise TypeError(f"func must be callable; got {type(func).__name__}.")
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, Integral) or n_repeats < 1:
        raise ValueError(f"n_repeats must be a positive integer; got {n_repeats!r}.")
    if isinstance(warmup, bool) or not isinstance(warmup, Integral) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative integer; got {warmup!r}.")
    if max_time is not None and (not isinstance(max_time, Real) or max_time < 0):
        raise ValueError(f"max_time must be a non-negative number or None; got {max_time!r}.")
    warmup_s = 0.0
    for _ in range(warmup):
        start = time.perf_counter()
        result = func()
        elapsed = time.perf_counter() - start
        warmup_s += elapsed
        if max_time is not None and elapsed > max_time:
            return Timing(elapsed, (elapsed,), warmup_s - elapsed, result)
    times = []
    while len(times) < n_repeats and (max_time is None or not times or sum(times) < max_time):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return Timing(float(np.median(times)), tuple(times), warmup_s, result)
