"""Deep hashers with tiny settings, for scikit-learn's estimator checks."""

import importlib

__all__ = ["EXPECTED_FAILED_CHECKS", "expected_failed_checks", "tiny_deep_hashers"]

# Checks a deep hasher is known to fail: {class name: {check name: reason}}.
EXPECTED_FAILED_CHECKS = {}

TINY_SETTINGS = {
    "device": "cpu",
    "max_epochs": 1,
    "batch_size": 16,
    "augmentation": None,
    "random_state": 0,
}

# Modules of hashers that may not exist yet; each provides ``_tiny_instance()``.
_OPTIONAL = (
    "._scae",
    "._dahp",
    "._dpsh",
    "._dsh",
    "._hashnet",
    "._csq",
    "._greedyhash",
    "._orthohash",
    "._bihalf",
)


def expected_failed_checks(estimator):
    """``expected_failed_checks`` callable for ``parametrize_with_checks``."""
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


def tiny_deep_hashers():
    """Deep hashers small enough for ``parametrize_with_checks`` (milliseconds per fit)."""
    from . import DPHB, DSBH

    hashers = [
        DSBH(n_bits=4, channels=(4, 4, 4), hidden=8, **TINY_SETTINGS),
        DPHB(n_bits=4, width=1 / 16, fc_dim=8, **TINY_SETTINGS),
    ]
    for name in _OPTIONAL:
        try:
            module = importlib.import_module(name, __package__)
        except ModuleNotFoundError:
            continue
        hashers.append(module._tiny_instance())
    return hashers
