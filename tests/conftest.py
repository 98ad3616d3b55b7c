"""Shared test fixtures. Tests are parametrized over the registry (impls.names()), so a
new implementation is tested by construction. A framework that is not installed is
skipped, except under ALEXBENCH_REQUIRE_ALL=1 (set by CI), where it fails."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import impls  # noqa: E402

FRAMEWORKS = impls.names()


def require(framework: str) -> None:
    reason = impls.unavailable_reason(framework)
    if reason:
        if os.environ.get("ALEXBENCH_REQUIRE_ALL") == "1":
            pytest.fail(f"ALEXBENCH_REQUIRE_ALL=1 but {reason}")
        pytest.skip(reason)


@pytest.fixture(params=FRAMEWORKS)
def framework(request) -> str:
    require(request.param)
    return request.param


def batch(config: impls.AlexNetConfig, n: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((n, config.height, config.width, config.in_channels)).astype(config.dtype)
    labels = rng.integers(0, config.num_classes, size=n)
    return images, labels


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """max|a - b| / max|b|: the per-tensor relative error used throughout."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))
