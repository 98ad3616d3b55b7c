"""The Keras lowering on the backends other than TensorFlow (keras-jax, keras-torch): what
their float64 needs from Keras's type promotion. Run in each backend's own process
(tests/impls/test_keras_backends.py); in the ordinary test process there is nothing to run."""

import contextlib
import importlib

import numpy as np
import pytest

import impls
from harness.parity import max_rel
from impls.config import small_config as tiny_config
from tests.conftest import FRAMEWORKS, batch, require

OTHER_BACKENDS = [f for f in FRAMEWORKS if impls.keras_backend(f) not in (None, "tensorflow")]


@pytest.mark.parametrize("framework", OTHER_BACKENDS)
def test_keras_promotes_float64_to_float32_outside_tensorflow_unless_switched(framework):
    """If a Keras release keeps float64 by itself, the first assertion says the switch
    (impls.keras_network.float64_promotion) can go."""
    require(framework)
    impls.create(framework, tiny_config())  # loads Keras on its backend
    import keras

    from impls.keras_network import float64_promotion

    assert keras.backend.result_type("float64", "float64") == "float32"
    with float64_promotion():
        assert keras.backend.result_type("float64", "float64") == "float64"
    assert keras.backend.result_type("float64", "float64") == "float32"  # put back


@pytest.mark.parametrize("framework", OTHER_BACKENDS)
def test_float64_logits_need_the_switch(framework, monkeypatch):
    """Without float64_promotion a float64 model is not float64 everywhere: on torch every
    Dense (ops.matmul) runs in float32 (measured 5e-7 off); on JAX only the mean of
    ops.mean was (the loss: impls.keras_network.mean_cross_entropy avoids it)."""
    require(framework)
    config = tiny_config(dtype="float64")
    images, _ = batch(config)
    exact = impls.create(framework, config).predict(images)
    module = importlib.import_module(impls.implementation_class(framework).__module__)
    monkeypatch.setattr(module, "float64_promotion", lambda enabled=True: contextlib.nullcontext())
    plain = impls.create(framework, config).predict(images)
    error = max_rel(plain, exact)
    if impls.keras_backend(framework) == "torch":
        assert error > 1e-9, error
    else:
        assert error <= 1e-12, error  # JAX's matmul keeps float64 under x64 whatever Keras promotes to
    assert np.isfinite(plain).all()
