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


def expected_failed_checks(estimator):
    """``expected_failed_checks`` callable for ``parametrize_with_checks``."""
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


def tiny_deep_hashers():
    """Deep hashers small enough for ``parametrize_with_checks`` (milliseconds per fit)."""
    from . import _LAZY, DPHB, DSBH

    hashers = [
        DSBH(n_bits=4, channels=(4, 4, 4), hidden=8, **TINY_SETTINGS),
        DPHB(n_bits=4, width=1 / 16, fc_dim=8, **TINY_SETTINGS),
    ]
    # the lazily imported hashers (one module each) provide their own ``_tiny_instance()``
    for name in _LAZY.values():
        hashers.append(importlib.import_module(name, __package__)._tiny_instance())
    return hashers
