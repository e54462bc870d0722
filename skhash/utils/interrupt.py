"""Long work that answers Ctrl-C within a fraction of a second.

Python runs signal handlers (Ctrl-C raises ``KeyboardInterrupt``) between bytecodes of the
main thread only, so one long NumPy, BLAS or LAPACK call (an SVD of a tall matrix, a
product over a million rows) delays Ctrl-C until it returns. Two remedies:

- :func:`in_row_slices` cuts row-wise work into slices of bounded size, so that the
  interpreter regains control between them (and memory stays bounded);
- :func:`run_interruptibly` runs one call that cannot be cut (an SVD) in a worker thread
  while the main thread waits in short steps, so Ctrl-C stops the wait at once. The worker
  finishes its call in the background and its result is dropped (the caller's state was
  never changed, since the result had not been returned yet).
"""

import contextvars
import threading

import numpy as np

__all__ = ["in_row_slices", "run_interruptibly", "rows_per_slice"]

SLICE_BYTES = 8 * 2**20  # float64 input read per slice: ~10 ms of a small projection
_WAIT_STEP = 0.05  # seconds between two checks for Ctrl-C while waiting on a worker


def rows_per_slice(n_columns, slice_bytes=SLICE_BYTES):
    """Rows of ``n_columns`` float64 values making about ``slice_bytes`` (at least 64)."""
    return max(64, slice_bytes // (8 * max(1, n_columns)))


def in_row_slices(function, X, *, n_columns=None, dtype=None):
    """``function(X)`` computed on slices of rows of ``X`` and stacked (row-wise results).

    Parameters
    ----------
    function : callable
        Maps rows (a dense or sparse 2-D array) to a 2-D array with one row per input row.
    X : array-like of shape (n_samples, n_features)
        Sliceable by rows (NumPy arrays, SciPy CSR matrices).
    n_columns : int, default=None
        Width that sets the slice size (the input's by default): the larger of the input
        and output widths is a good choice.

    Returns
    -------
    result : ndarray of shape (n_samples, ...)
    """
    n = X.shape[0]
    step = rows_per_slice(n_columns or X.shape[1])
    if n <= step:
        return function(X)
    first = function(X[:step])
    out = np.empty((n, *first.shape[1:]), dtype=first.dtype if dtype is None else dtype)
    out[:step] = first
    for start in range(step, n, step):
        out[start : start + step] = function(X[start : start + step])
    return out


def run_interruptibly(function, *args, **kwargs):
    """Return ``function(*args, **kwargs)``, run so that Ctrl-C interrupts the wait.

    The call runs in a worker thread (in a copy of the caller's context, so scikit-learn's
    ``config_context`` and NumPy's ``errstate`` apply) while this thread waits for it in
    steps of 50 ms. ``KeyboardInterrupt`` during the wait propagates at once; the worker
    then completes in the background and its result is discarded. Exceptions of
    ``function`` propagate as if it had been called directly. Use it only for a call that
    changes nothing visible before returning (a pure computation).
    """
    import sklearn

    result, error = [], []
    context = contextvars.copy_context()
    config = sklearn.get_config()

    def work():
        try:
            with sklearn.config_context(**config):
                result.append(function(*args, **kwargs))
        except BaseException as exc:  # handed to the waiting thread
            error.append(exc)

    if threading.current_thread() is not threading.main_thread():
        return function(*args, **kwargs)  # signals reach the main thread only
    worker = threading.Thread(target=context.run, args=(work,), daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(_WAIT_STEP)
    if error:
        raise error[0]
    return result[0]
