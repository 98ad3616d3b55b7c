"""Which backend Keras 3 runs on: chosen once per process, when Keras is first imported.

Keras reads KERAS_BACKEND at import and cannot switch afterwards, so the three Keras
implementations (keras on TensorFlow, keras-jax, keras-torch) cannot meet in one process.
`use(backend)` is the first thing each of their modules does: it sets KERAS_BACKEND when
Keras is not loaded yet, and otherwise checks that the loaded Keras runs on `backend`,
raising FrameworkUnavailableError (how to run it instead) when it does not. Importing this
module imports no framework.
"""

from __future__ import annotations

import os
import sys

from impls.errors import FrameworkUnavailableError


def loaded_backend() -> str | None:
    """The backend of the Keras this process has imported (None: Keras not imported yet)."""
    keras = sys.modules.get("keras")
    if keras is None or not hasattr(keras, "backend"):
        return None
    return keras.backend.backend()


def conflict(framework: str, backend: str) -> str | None:
    """Why `framework` (Keras on `backend`) cannot be created in this process, or None."""
    loaded = loaded_backend()
    if loaded is None or loaded == backend:
        return None
    return (
        f"{framework} needs Keras on the {backend} backend, but this process already loaded Keras on {loaded!r} "
        f"(Keras picks its backend once per process): run {framework} in a process of its own (alexbench run "
        f"and parity do), or start Python with KERAS_BACKEND={backend}"
    )


def use(framework: str, backend: str) -> None:
    """Make the next `import keras` load `backend`; raise if Keras is loaded on another."""
    reason = conflict(framework, backend)
    if reason:
        raise FrameworkUnavailableError(reason)
    if loaded_backend() is None:
        os.environ["KERAS_BACKEND"] = backend
