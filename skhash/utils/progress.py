"""Progress bars that suit where the code runs: a widget in a notebook, text elsewhere."""

import sys

__all__ = ["in_notebook", "progress_bar"]


def in_notebook():
    """True inside a Jupyter kernel (IPython already imported and running a kernel app)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _tqdm_class():
    # tqdm.auto warns (TqdmWarning) in a notebook without ipywidgets; the text bar works there.
    if in_notebook():
        try:
            import ipywidgets  # noqa: F401
            from tqdm.notebook import tqdm

            return tqdm
        except ImportError:
            pass
    from tqdm.std import tqdm

    return tqdm


def progress_bar(iterable=None, *, total=None, desc=None, unit="it", leave=True, disable=False):
    """A tqdm progress bar: the notebook widget where ipywidgets can draw it, else text.

    Parameters
    ----------
    iterable : iterable, default=None
        What to iterate over; None for a bar updated by hand (``bar.update(n)``).
    total : int, default=None
        Number of steps (taken from ``len(iterable)`` when None and it has one).
    desc : str, default=None
        Label shown before the bar.
    unit : str, default="it"
        Name of one step.
    leave : bool, default=True
        Keep the finished bar on screen.
    disable : bool, default=False
        Show nothing (the bar still iterates).

    Returns
    -------
    bar : tqdm
    """
    return _tqdm_class()(iterable, total=total, desc=desc, unit=unit, leave=leave, disable=disable)
