"""Compare hashers side by side, and measure how robust they are to perturbed queries.

- :func:`compare`: classic and deep hashers on one labelled data set, under the query /
  training / database protocol of hashing papers, at several code lengths; returns a
  :class:`ComparisonResult` (pandas tables, matplotlib figures, markdown report).
- :func:`robustness`: each method's mAP when the queries are perturbed (Gaussian noise,
  rotation, crop, brightness), and its drop from the clean mAP.
- :func:`perturb`: the perturbations themselves, for images as numpy arrays.
- :class:`RetrievalProtocol`: the query / training / database split, scaled to the data
  (``auto``) or one of the literature's (``preset("cifar10")``...).

Both functions share one protocol runner: failed settings are recorded and the run goes on;
collapsed models are flagged (:class:`DegenerateModelWarning`) and never called best.

The command line ``python -m skhash compare`` runs :func:`compare` on a named data set.
"""

from ._compare import compare
from ._methods import (
    CLASSIC_METHODS,
    DEEP_DEFAULTS,
    DEEP_METHODS,
    QUICK_DEEP_DEFAULTS,
    make_method,
)
from ._protocol import RetrievalProtocol
from ._result import ComparisonResult
from ._robustness import PERTURBATIONS, perturb, robustness
from ._runner import DegenerateModelWarning

__all__ = [
    "CLASSIC_METHODS",
    "DEEP_DEFAULTS",
    "QUICK_DEEP_DEFAULTS",
    "DEEP_METHODS",
    "PERTURBATIONS",
    "ComparisonResult",
    "DegenerateModelWarning",
    "RetrievalProtocol",
    "compare",
    "make_method",
    "perturb",
    "robustness",
]
