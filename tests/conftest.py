"""Shared test helpers and fixtures. Tests are parametrized over the registry (impls.names()),
so a new implementation is tested by construction. A framework that is not installed is
skipped, except under ALEXBENCH_REQUIRE_ALL=1 (set by CI), where it fails; so is real
Fashion-MNIST when the dataset is missing.

Keras picks its backend once per process, and these tests build every framework in one
process, where Keras runs on TensorFlow: FRAMEWORKS (what the tests are parametrized over)
leaves out the Keras implementations on other backends (keras-jax, keras-torch).
tests/impls/test_keras_backends.py runs the same test files for each of them in a process
of its own, with ALEXBENCH_FRAMEWORKS naming that implementation and its native framework."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import impls  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REQUIRE_ALL = os.environ.get("ALEXBENCH_REQUIRE_ALL") == "1"


def in_process(framework: str) -> bool:
    """Whether the ordinary test process (Keras on TensorFlow) can build `framework`."""
    return impls.shares_process(framework, "keras")


_ONLY = os.environ.get("ALEXBENCH_FRAMEWORKS")  # a process of one Keras backend (test_keras_backends.py)
FRAMEWORKS = [f for f in _ONLY.split(",") if f] if _ONLY else [f for f in impls.names() if in_process(f)]


def interruptible() -> None:
    """`preexec_fn` of a subprocess a test interrupts with SIGINT: the signal back to its
    default, so Python raises KeyboardInterrupt in it even when the suite itself runs as a
    background job (a non-interactive shell starts those with SIGINT ignored, inherited)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def require(framework: str) -> None:
    """Skip unless `framework` is installed (fail instead under ALEXBENCH_REQUIRE_ALL=1)."""
    reason = impls.unavailable_reason(framework)
    if reason:
        backend = impls.keras_backend(framework)
        other_backend = backend and impls.keras_select.conflict(framework, backend)  # not a missing install
        if REQUIRE_ALL and not other_backend:
            pytest.fail(f"ALEXBENCH_REQUIRE_ALL=1 but {reason}")
        pytest.skip(reason)


def tested() -> list[str]:
    """The frameworks of FRAMEWORKS installed here (what a module computes its runs for)."""
    return [f for f in FRAMEWORKS if impls.unavailable_reason(f) is None]


tested.__test__ = False  # a helper the test modules import: not a test of its own


@pytest.fixture(params=FRAMEWORKS)
def framework(request) -> str:
    require(request.param)
    return request.param


@pytest.fixture(scope="session")
def fashion():
    """load(settings) -> (train, test): real Fashion-MNIST as harness.training.load_data gives
    it for those settings; skips when the dataset is not installed (fails under REQUIRE_ALL)."""
    from harness import data
    from harness.training import load_data

    def load(settings):
        if not os.path.exists(data.FASHION_MNIST_DIRS[0]) and not REQUIRE_ALL:
            pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
        return load_data(settings)

    return load


def write_idx(path: Path, array, gz: bool = True) -> None:
    """An IDX file (the Fashion-MNIST format) holding `array` as unsigned bytes."""
    import gzip
    import struct

    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.asarray(array).astype(np.uint8).tobytes()
    if gz:
        with gzip.open(f"{path}.gz", "wb") as f:
            f.write(payload)
    else:
        Path(path).write_bytes(payload)


@pytest.fixture(scope="session")
def mini_fashion(tmp_path_factory) -> Path:
    """A tiny Fashion-MNIST folder (60 train, 20 test random images), for runs end to end."""
    root = tmp_path_factory.mktemp("fashion")
    rng = np.random.default_rng(0)
    for split, n in (("train", 60), ("t10k", 20)):
        write_idx(root / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(root / f"{split}-labels-idx1-ubyte", np.arange(n) % 10)
    return root


def batch(config: impls.AlexNetConfig, n: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((n, config.height, config.image_width, config.in_channels)).astype(config.dtype)
    labels = rng.integers(0, config.num_classes, size=n)
    return images, labels


def installed(framework: str) -> bool:
    """Whether `framework`'s packages are installed, whichever backend this process's Keras
    runs on (for tests that start its own process)."""
    backend = impls.keras_backend(framework)
    reason = impls.unavailable_reason(framework)
    return not reason or bool(backend and impls.keras_select.conflict(framework, backend))


def require_installed(framework: str) -> None:
    """Skip unless `framework`'s packages are installed (fail instead under REQUIRE_ALL)."""
    if not installed(framework):
        require(framework)
