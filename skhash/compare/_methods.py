"""The hashers a comparison knows by name, and their teaching-friendly defaults."""

import importlib
import logging
from collections.abc import Mapping

from sklearn.base import clone

logger = logging.getLogger("skhash.compare")

CLASSIC_METHODS = ("LSH", "PCAH", "ITQ", "SH", "KMH")
DEEP_METHODS = ("SCAE", "DSBH", "DPHB", "DAHP")
# The literature's deep baselines: by name or as "baselines" ("all" and "deep" stay the
# thesis methods, so the default comparison keeps its few minutes on a laptop).
BASELINE_METHODS = ("DPSH", "DSH", "HashNet", "CSQ", "GreedyHash", "OrthoHash", "BiHalf")

_CLASSES = {
    "LSH": "LSH",
    "PCAH": "PCAHashing",
    "ITQ": "ITQ",
    "SH": "SpectralHashing",
    "KMH": "KMeansHashing",
    "SCAE": "SCAE",
    "DSBH": "DSBH",
    "DPHB": "DPHB",
    "DAHP": "DAHP",
    **{name: name for name in BASELINE_METHODS},
}
_ALIASES = {name.lower(): name for name in _CLASSES} | {
    cls.lower(): name for name, cls in _CLASSES.items()
}

# Short trainings for the deep hashers, chosen so that comparing all nine methods on the
# digits at three code lengths takes a few minutes on two CPU cores. They show how the methods
# behave, not what they reach after a full training (hundreds of epochs on a GPU).
DEEP_DEFAULTS = {
    "SCAE": {"max_epochs": 5, "batch_size": 64},
    "DSBH": {"max_epochs": 5, "batch_size": 64},
    "DPHB": {"max_epochs": 4, "batch_size": 64},
    "DAHP": {"max_epochs": 2, "batch_size": 64},
    **{name: {"max_epochs": 5, "batch_size": 64} for name in BASELINE_METHODS},
}
# ``quick=True`` (``python -m skhash compare --quick``): a first look in under a minute on two
# CPU cores, with 300 training images. One epoch of 64-image batches (5 steps) left 10 of the
# 12 deep settings collapsed (one code for every item). What learns in that time is more,
# smaller steps: batches of 32, 10 to 15 epochs, narrower networks for the costly backbones
# (DPHB's AlexNet, DAHP's ResNet-18) and a larger learning rate where that helped.
# On the digits (300 training images, seed 0) every setting learns: mAP 0.43-0.90 at 16-64
# bits against 0.10 by chance, DAHP the best at 0.88-0.93 (see compare --quick's report).
QUICK_DEEP_DEFAULTS = {
    # A stronger bit-balance term: with 3e-3 and 0.1, 7 of its 16 bits stayed constant.
    "SCAE": {
        "max_epochs": 15,
        "pretrain_epochs": 3,
        "batch_size": 32,
        "lr": 3e-3,
        "balance_weight": 0.3,
    },
    "DSBH": {"max_epochs": 10, "batch_size": 32},
    "DPHB": {"max_epochs": 15, "batch_size": 32, "width": 0.25, "fc_dim": 256, "lr": 3e-3},
    "DAHP": {"max_epochs": 10, "batch_size": 32, "width": 16, "reduction": 4, "lr": 3e-3},
    **{name: {"max_epochs": 10, "batch_size": 32} for name in BASELINE_METHODS},
}


def torch_available():
    """Whether the deep hashers can be used: torch and :mod:`skhash.deep` are installed."""
    return (
        importlib.util.find_spec("torch") is not None
        and importlib.util.find_spec("skhash.deep") is not None
    )


def _canonical(name):
    key = str(name).strip().lower()
    if key not in _ALIASES:
        known = ", ".join(_CLASSES)
        raise ValueError(f"Unknown method {name!r}; known methods are {known} (or 'all').")
    return _ALIASES[key]


def make_method(name, *, quick=False, device=None):
    """A hasher with the comparison's defaults, from its short name.

    Parameters
    ----------
    name : str
        ``"LSH"``, ``"PCAH"``, ``"ITQ"``, ``"SH"``, ``"KMH"``, ``"SCAE"``, ``"DSBH"``,
        ``"DPHB"``, ``"DAHP"`` or a baseline (``"DPSH"``, ``"DSH"``, ``"HashNet"``, ``"CSQ"``,
        ``"GreedyHash"``, ``"OrthoHash"``, ``"BiHalf"``), in any case, or a class name such
        as ``"SpectralHashing"``.
    quick : bool, default=False
        Deep hashers take the settings of a first look in under a minute
        (``QUICK_DEEP_DEFAULTS``: smaller networks, more, smaller steps) instead of
        ``DEEP_DEFAULTS``.
    device : str, default=None
        Device of the deep hashers; None keeps their default.

    Returns
    -------
    estimator : BaseHasher
    """
    name = _canonical(name)
    if name in CLASSIC_METHODS:
        return getattr(importlib.import_module("skhash.classic"), _CLASSES[name])()
    if not torch_available():
        raise ImportError(f"{name} is a deep hasher and needs torch: pip install 'skhash[deep]'.")
    estimator = getattr(importlib.import_module("skhash.deep"), _CLASSES[name])()
    params = dict((QUICK_DEEP_DEFAULTS if quick else DEEP_DEFAULTS)[name])
    if device is not None:
        params["device"] = device
    supported = estimator.get_params()
    return estimator.set_params(**{k: v for k, v in params.items() if k in supported})


def family_of(estimator):
    """``"deep"`` for the torch hashers of :mod:`skhash.deep`, ``"classic"`` otherwise."""
    module = type(estimator).__module__
    return "deep" if module.startswith("skhash.deep") or "torch" in module else "classic"


def _short_name(estimator):
    cls = type(estimator).__name__
    for short, full in _CLASSES.items():
        if full == cls:
            return short
    return cls


METHOD_GROUPS = ("all", "classic", "deep", "baselines")


def group_members(which):
    """Method names of a group: ``"all"`` (classic + thesis deep methods, the deep ones
    only when torch is installed), ``"classic"``, ``"deep"`` or ``"baselines"``."""
    names = list(CLASSIC_METHODS) if which in ("all", "classic") else []
    if which in ("deep", "baselines") and not torch_available():
        raise ImportError("The deep hashers need torch: pip install 'skhash[deep]'.")
    if which == "baselines":
        names += BASELINE_METHODS
    elif which in ("all", "deep") and torch_available():
        names += DEEP_METHODS
    elif which == "all":
        logger.warning(
            "torch (or skhash.deep) is not installed: comparing the classic hashers "
            "only (pip install 'skhash[deep]' for the deep ones)."
        )
    return names


def resolve_methods(methods, *, quick=False, device=None):
    """Named, unfitted estimators from ``"all"``, names, estimators or a mapping.

    ``"baselines"`` is the literature's deep baselines (DPSH, DSH, HashNet, CSQ, GreedyHash,
    OrthoHash, BiHalf).

    Returns
    -------
    methods : dict of str to estimator
        In the order given; names are unique.
    """
    if isinstance(methods, str) and methods.lower() in METHOD_GROUPS:
        names = group_members(methods.lower())
        return {name: make_method(name, quick=quick, device=device) for name in names}
    if isinstance(methods, str) or not isinstance(methods, Mapping | list | tuple):
        methods = [methods]
    if isinstance(methods, Mapping):
        items = methods.items()
    else:  # groups inside a list stand for their members
        items = [
            (None, m)
            for method in methods
            for m in (
                group_members(method.lower())
                if isinstance(method, str) and method.lower() in METHOD_GROUPS
                else [method]
            )
        ]
    resolved = {}
    for label, method in items:
        if isinstance(method, str):
            estimator = make_method(method, quick=quick, device=device)
            label = label or _canonical(method)
        elif hasattr(method, "fit") and hasattr(method, "transform"):
            estimator = clone(method)
            label = label or _short_name(method)
        else:
            raise ValueError(
                f"methods must hold names or hasher estimators; got {type(method).__name__}."
            )
        base, n = str(label), 2
        while label in resolved:
            label, n = f"{base}-{n}", n + 1
        resolved[label] = estimator
    if not resolved:
        raise ValueError("methods is empty: give at least one method.")
    return resolved
