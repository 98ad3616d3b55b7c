"""The common interface, for every registered implementation (parametrized over the registry)."""

import numpy as np
import pytest

import impls
from harness.parity import max_rel
from impls.config import small_config as tiny_config  # width 0.125: the contract does not depend on size
from impls.errors import ConfigError, DeviceUnavailableError, InputError, WeightsError
from tests.conftest import batch


@pytest.mark.parametrize("variant", ["torchvision", "paper"])
@pytest.mark.parametrize("size, channels", [((67, 67), 3), ((80, 120), 1), ((131, 97), 3)])
def test_output_shapes_for_sizes_and_channels(framework, variant, size, channels):
    config = tiny_config(variant, image_size=size, in_channels=channels)
    model = impls.create(framework, config)
    images, _ = batch(config, n=3)
    logits = model.predict(images)
    assert logits.shape == (3, 10) and logits.dtype == np.float32
    assert np.isfinite(logits).all()


def test_weights_round_trip_exactly(framework):
    config = tiny_config("paper")
    model = impls.create(framework, config)
    weights = impls.init_weights(config, seed=7)
    model.set_weights(weights)
    got = model.get_weights()
    assert list(got) == list(weights)
    assert all(np.array_equal(got[k], weights[k]) for k in weights)


def test_same_seed_same_initial_weights_in_every_framework(framework):
    config = tiny_config()
    got = impls.create(framework, config, seed=5).get_weights()
    expected = impls.init_weights(config, seed=5)
    assert all(np.array_equal(got[k], expected[k]) for k in expected)


def test_loss_and_grads_in_canonical_layout(framework):
    config = tiny_config("paper")
    model = impls.create(framework, config)
    loss, grads = model.loss_and_grads(*batch(config))
    assert np.isfinite(loss) and loss > 0
    shapes = {k: v.shape for k, v in impls.init_weights(config).items()}
    assert {k: v.shape for k, v in grads.items()} == shapes
    assert all(np.abs(g).max() > 0 for g in grads.values())  # every layer receives gradient


def test_train_step_lowers_the_loss_on_a_fixed_batch(framework):
    config = tiny_config()
    model = impls.create(framework, config, optimizer=impls.SGDConfig(lr=0.01))
    images, labels = batch(config, n=8)
    losses = [model.train_step(images, labels) for _ in range(8)]
    assert losses[-1] < losses[0], losses


def test_device_batch_gives_the_same_results(framework):
    config = tiny_config()
    model = impls.create(framework, config)
    images, labels = batch(config)
    on_device = model.device_batch(images, labels)
    assert np.array_equal(model.predict(on_device), model.predict(images))
    a = model.train_step(on_device)
    model.set_weights(impls.init_weights(config))
    b = model.train_step(images, labels)
    assert a == b
    model.synchronize()


def test_dropout_masks_are_seeded(framework):
    config = tiny_config(dropout=0.5)
    images, labels = batch(config)
    runs = [impls.create(framework, config, seed=1).loss_and_grads(images, labels) for _ in range(2)]
    assert runs[0][0] == runs[1][0]
    eval_only = impls.create(framework, config.replace(dropout=0.0), seed=1).loss_and_grads(images, labels)
    assert eval_only[0] != runs[0][0]  # dropout does act in training


def test_float64_compute(framework):
    config = tiny_config(dtype="float64")
    model = impls.create(framework, config)
    images, labels = batch(config)
    assert model.predict(images).dtype == np.float64
    assert model.get_weights()["features.0.weight"].dtype == np.float64


@pytest.mark.parametrize(
    "images, labels, match",
    [
        (np.zeros((2, 67, 67, 3), np.int32), None, "floating point"),
        (np.zeros((2, 67, 67, 3), np.uint8), None, r"input_norm=impls.InputNorm"),  # uint8 needs its normalization
        (np.zeros((2, 64, 64, 3), np.float32), None, r"shape \(N, 67, 67, 3\)"),
        (np.zeros((2, 3, 67, 67), np.float32), None, "NHWC"),
        (np.full((2, 67, 67, 3), np.nan, np.float32), None, "NaN or inf"),
        (np.zeros((0, 67, 67, 3), np.float32), None, "empty"),
        ([[0.0]], None, "numpy array"),
        (np.zeros((2, 67, 67, 3), np.float32), np.array([0, 10]), r"\[0, 10\)"),
        (np.zeros((2, 67, 67, 3), np.float32), np.array([0.0, 1.0]), "integers"),
        (np.zeros((2, 67, 67, 3), np.float32), np.array([0, 1, 2]), "shape"),
    ],
)
def test_bad_input_is_a_clear_error(framework, images, labels, match):
    model = impls.create(framework, tiny_config())
    with pytest.raises(InputError, match=match):
        if labels is None:
            model.predict(images)
        else:
            model.train_step(images, labels)


def test_wrong_weights_list_every_mismatch(framework):
    model = impls.create(framework, tiny_config())
    weights = impls.init_weights(tiny_config(num_classes=5))
    with pytest.raises(WeightsError, match="classifier.6.weight: shape .*classifier.6.bias: shape"):
        model.set_weights(weights)


def test_distribute_is_refused_where_there_is_no_engine(framework):
    """A framework without a data-parallel engine (keras-jax, keras-torch) refuses distribute()
    with the reason, and parity's tiers 5-6 skip it with that reason, launching nothing."""
    from harness import backends
    from harness.parity.distributed import data_parallel

    why = backends.get(framework).data_parallel_refusal()
    if why is None:
        pytest.skip(f"{framework} trains data-parallel (tests/harness/parity/test_distributed.py)")
    with pytest.raises(ConfigError, match=f"{framework} is not data-parallel in alexbench"):
        impls.create(framework, tiny_config()).distribute(None)
    skipped: dict[str, str] = {}
    assert data_parallel([framework], "float64", skipped=skipped) == []
    assert skipped == {framework: why}


def test_gpu_request_without_gpu_is_a_clear_error(framework):
    model_cls = impls.implementation_class(framework)
    try:
        model = model_cls(tiny_config(), device="gpu")
    except DeviceUnavailableError as error:
        assert "GPU" in str(error) and "cpu" in str(error)
    else:  # a GPU exists here: then it must compute the same logits as the CPU
        cpu = model_cls(tiny_config(), device="cpu")
        images, _ = batch(tiny_config())
        assert max_rel(model.predict(images), cpu.predict(images)) < 1e-3


# ------------------------------------------------------------- uint8 input, normalized on the device
@pytest.mark.parametrize("channels", [1, 3])
def test_uint8_batches_are_normalized_on_the_device_as_in_numpy(framework, channels):
    """A uint8 batch (gray or RGB) with an InputNorm gives the model exactly what numpy's
    normalization of the same batch gives it: float64 logits, loss and gradients equal."""
    config = tiny_config(dtype="float64")
    norm = impls.InputNorm((0.3, 0.4, 0.5)[:channels], (0.2, 0.25, 0.3)[:channels])
    model = impls.create(framework, config, input_norm=norm)
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (4, 67, 67, channels), dtype=np.uint8)
    labels = rng.integers(0, 10, 4)
    floats = norm.apply(u8, np.float64, 3)
    assert max_rel(model.predict(u8), model.predict(floats)) <= 1e-12
    (loss_u8, grads_u8), (loss, grads) = model.loss_and_grads(u8, labels), model.loss_and_grads(floats, labels)
    assert abs(loss_u8 - loss) <= 1e-12 * abs(loss)
    assert all(max_rel(grads_u8[k], grads[k]) <= 1e-9 for k in grads)
    on_device = model.device_batch(u8, labels)
    assert np.array_equal(model.predict(on_device), model.predict(u8))


def test_uint8_needs_a_normalization_with_the_right_channels(framework):
    model = impls.create(framework, tiny_config())
    with pytest.raises(InputError, match="uint8 images need the model's input normalization"):
        model.predict(np.zeros((2, 67, 67, 3), np.uint8))
    model.set_input_norm(impls.InputNorm((0.5,), (0.25,)))
    with pytest.raises(InputError, match=r"shape \(N, 67, 67, 1\)"):
        model.predict(np.zeros((2, 67, 67, 3), np.uint8))
    with pytest.raises(ConfigError, match="input normalization has 3 channels; this model takes 1"):
        impls.create(framework, tiny_config(in_channels=1), input_norm=impls.InputNorm((0.5,) * 3, (0.2,) * 3))


def test_state_round_trip_continues_training_exactly(framework):
    """Weights + get_state (momentum, dropout generator) are all a resumed training needs:
    two more steps after a restore equal two more steps without one, bit for bit."""
    config = tiny_config(dropout=0.5)
    norm = impls.InputNorm((0.5,), (0.25,))
    rng = np.random.default_rng(1)
    u8, labels = rng.integers(0, 256, (4, 67, 67, 1), dtype=np.uint8), rng.integers(0, 10, 4)
    model = impls.create(framework, config, seed=3, input_norm=norm)
    for _ in range(2):
        model.train_step(u8, labels)
    weights, state = model.get_weights(), model.get_state()
    assert set(state.momentum) == set(weights) and any(np.abs(v).max() > 0 for v in state.momentum.values())
    expected = [model.train_step(u8, labels) for _ in range(2)]
    restored = impls.create(framework, config, seed=99, input_norm=norm)  # another seed: the state decides
    restored.set_weights(weights)
    restored.set_state(state)
    assert [restored.train_step(u8, labels) for _ in range(2)] == expected
    assert all(np.array_equal(a, b) for a, b in zip(restored.get_weights().values(), model.get_weights().values()))
