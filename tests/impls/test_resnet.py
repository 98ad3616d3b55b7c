"""ResNet-18 with BatchNorm: the definition is torchvision's, every framework computes the
golden's function in train and eval mode (running statistics included), and tier 1 catches
the ways BatchNorm ports go wrong silently.

Small configs (width 1/8 or 1/4, 64x80, float64) prove the function; the full-size check
against torchvision's own resnet18 is tests/impls/test_torchvision_resnet.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import impls
from harness.parity.runs import make_inputs, small_config
from harness.parity.tiers import tier1
from impls.config import layers, parameter_shapes, trainable_shapes
from impls.errors import InputError
from impls.networks.ops import BatchNorm, Residual, leaves
from impls.weights import parameter_count
from tests.conftest import FRAMEWORKS, require

torch = pytest.importorskip("torch")  # the golden is plain torch.nn


def test_resnet18_is_torchvisions_definition():
    """torchvision.models.resnet18: 11,689,512 parameters, 122 state_dict tensors (parameters
    and BatchNorm buffers), 1.82 GMACs at 224 (torchvision's model card: 1.81 GFLOPS)."""
    config = impls.AlexNetConfig(model="resnet18")
    assert parameter_count(config) == 11_689_512
    assert len(parameter_shapes(config)) == 122 and len(trainable_shapes(config)) == 62
    assert parameter_shapes(config)["layer2.0.downsample.0.weight"] == (128, 64, 1, 1)
    assert parameter_shapes(config)["bn1.num_batches_tracked"] == ()
    assert parameter_shapes(config)["fc.weight"] == (1000, 512)
    blocks = [layer for layer in layers(config) if isinstance(layer.op, Residual)]
    assert [bool(block.shortcut) for block in blocks] == [False, False, True, False, True, False, True, False]
    assert sum(isinstance(layer.op, BatchNorm) for layer in leaves(layers(config))) == 20
    assert 1.81e9 < impls.forward_flops(config) / 2 < 1.83e9


@pytest.mark.parametrize("width", [1.0, 0.25])
@pytest.mark.parametrize("in_channels", [3, 1])
def test_the_golden_resnet18_state_dict_matches_the_definition(width, in_channels):
    from harness.reference.golden import plain_torchvision_resnet18

    config = impls.AlexNetConfig(model="resnet18", num_classes=10, in_channels=in_channels, width=width)
    with torch.device("meta"):
        net = plain_torchvision_resnet18(10, in_channels, width=width)
    state = net.state_dict()
    assert {name: tuple(t.shape) for name, t in state.items()} == parameter_shapes(config)
    assert list(state) == list(parameter_shapes(config))  # state_dict order, buffers in place


def test_init_weights_start_batch_norm_as_torch_does():
    weights = impls.init_weights(small_config("resnet18", width=0.125))
    assert np.all(weights["bn1.weight"] == 1) and np.all(weights["bn1.bias"] == 0)
    assert np.all(weights["bn1.running_mean"] == 0) and np.all(weights["bn1.running_var"] == 1)
    assert weights["bn1.num_batches_tracked"].dtype == np.int64 and weights["bn1.num_batches_tracked"] == 0


def _checks(framework, steps=3, width=0.125, mode=None):
    inputs = make_inputs(small_config("resnet18", width=width), steps=steps)
    return tier1("resnet18", frameworks=[framework], inputs=inputs, modes={framework: mode} if mode else None)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_resnet18_equals_the_golden_in_train_and_eval_mode(framework):
    """Tier 1 on ResNet-18 from non-trivial BatchNorm state: eval logits before and after the
    trajectory, train-mode logits, loss, gradients, every step's loss and running statistics,
    and the weights after it (buffers included), all <= 1e-9 against torch's own BatchNorm2d."""
    require(framework)
    rows = _checks(framework)
    failed = [r.describe() for r in rows if not r.passed]
    assert not failed, "\n".join(failed[:10])
    quantities = {r.quantity for r in rows}
    assert {"train_logits", "stats", "weights", "grads", "logits", "eval_after"} <= quantities
    assert sorted({r.step for r in rows if r.quantity == "stats"}) == [1, 2, 3]
    assert any(r.quantity == "eval_after" and r.step == 3 for r in rows)  # eval mode after the trajectory
    assert max(r.error for r in rows if r.quantity == "stats") < 1e-12


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_only_train_step_changes_the_running_statistics(framework):
    require(framework)
    config = small_config("resnet18", width=0.125)
    model = impls.create(framework, config)
    inputs = make_inputs(config, steps=1)
    model.set_weights(inputs.weights)
    images, labels = inputs.batches[0]
    before = model.get_weights()
    model.predict(images)
    model.predict(images, training=True)
    model.loss_and_grads(images, labels)
    after = model.get_weights()
    assert all(np.array_equal(before[name], after[name]) for name in before)
    model.train_step(images, labels)
    stepped = model.get_weights()
    assert stepped["bn1.num_batches_tracked"] == 4 and stepped["bn1.num_batches_tracked"].dtype == np.int64
    assert not np.array_equal(stepped["layer4.1.bn2.running_var"], before["layer4.1.bn2.running_var"])
    assert set(model.get_state().momentum) == set(trainable_shapes(config))  # no momentum for buffers


def test_a_train_mode_batch_norm_needs_more_than_one_value_per_channel():
    require("torch")
    config = impls.AlexNetConfig(model="resnet18", image_size=(32, 32), num_classes=10, width=0.125)
    model = impls.create("torch", config)
    image = np.zeros((1, 32, 32, 3), np.float32)  # layer4's map is 1x1: one value per channel
    with pytest.raises(InputError, match="batches of 2 or more"):
        model.train_step(image, np.array([0]))
    assert model.predict(image).shape == (1, 10)  # eval mode is fine


def test_data_parallel_reduces_the_batch_statistics_across_ranks():
    """Tier 5 on ResNet-18 (2 torch ranks on half batches against one process on the whole):
    gradients, every step's loss and the weights with the running statistics <= 1e-9, and
    each rank on its own half-batch statistics (the local-stats control) caught by 1e9x."""
    require("torch")
    from harness.parity.distributed import data_parallel

    rows = data_parallel(["torch"], "float64", world=2, steps=2, batch=8, variant="resnet18/torchvision",
                         width=0.125)  # fmt: skip
    checked = [r for r in rows if r.quantity not in ("control", "run")]
    assert checked and all(r.passed for r in checked), [r.describe() for r in rows if not r.passed][:5]
    assert any(r.quantity == "weights" and r.tensor == "layer4.1.bn2.running_var" for r in checked)
    assert all("all_reduce of the batch statistics" in r.note for r in checked)
    local = next(r for r in rows if r.quantity == "control" and r.a.endswith(":local-stats"))
    assert local.passed and local.error < 1e-6, local.describe()


# ------------------------------------------------------------------ negative controls
# Each control patches how the Keras network is built, so it runs in every mode alike; they run
# in graph mode (tf.function without XLA), whose compilation of the float64 ResNet is ~3x
# shorter than XLA's (the default, which test_resnet18_equals_the_golden... proves).
CONTROL_MODE = "graph"


def _worst(rows, quantity):
    return max(r.error for r in rows if r.quantity == quantity and r.b == "golden")


def test_keras_default_batch_normalization_is_caught_by_tier_1(monkeypatch):
    """Keras's own BatchNormalization with its defaults (eps 1e-3, momentum 0.99 of the old
    average, the biased variance averaged) in place of torch's: caught in the first logits."""
    require("keras")
    import keras

    from impls import keras_network

    monkeypatch.setattr(keras_network, "batch_norm_layer",
                        lambda op, name, dtype: keras.layers.BatchNormalization(name=name, dtype=dtype))  # fmt: skip
    rows = _checks("keras", steps=2, mode=CONTROL_MODE)
    assert _worst(rows, "logits") > 1e-4  # 1e5x the bound: epsilon 1e-3
    assert _worst(rows, "stats") > 1e-3  # momentum 0.01 of the new batch instead of 0.1


def test_the_biased_variance_in_the_running_average_is_caught_by_tier_1(monkeypatch):
    """Keras's and Flax's running variance is the biased batch variance; torch's is unbiased.
    Train-mode outputs agree (both normalize with the biased one): only the statistics differ."""
    require("keras")
    from impls import keras_network

    monkeypatch.setattr(keras_network.BatchNorm, "unbiased_running_var", False)
    rows = _checks("keras", steps=2, mode=CONTROL_MODE)
    assert _worst(rows, "train_logits") < 1e-12 and _worst(rows, "loss") < 1e-12
    assert _worst(rows, "stats") > 1e-3  # n / (n - 1) with n = 24 at layer4: 4% of the update


def test_tf_same_padding_in_the_stem_is_caught_by_tier_1(monkeypatch):
    """TF's "SAME" pads the 7x7 stride-2 stem (2, 3) at an even size, torch pads (3, 3): the
    same output shape, shifted values."""
    require("keras")
    from impls import keras_network

    symmetric = keras_network.same_padding
    monkeypatch.setattr(keras_network, "same_padding", lambda op: op.name == "conv1" or symmetric(op))
    rows = _checks("keras", steps=1, mode=CONTROL_MODE)
    assert _worst(rows, "logits") > 1e-3


def test_tier_6_draws_inputs_where_float32_cannot_flip_a_relu():
    """Seed 0 leaves one ReLU input of ResNet-18's tier-6 batch 5.5e-7 of its layer's largest
    from zero: Keras's float32 data-parallel step flipped it, and BatchNorm spread that one unit
    over every earlier gradient (1-3%). Tier 6 starts from the first seed clear of float32's reach."""
    require("torch")
    from harness.parity.distributed import RELU_MARGIN, well_posed_seed

    config = small_config("resnet18", "float64")
    seed, margin = well_posed_seed(config, 8, 0)
    assert seed > 0 and margin >= RELU_MARGIN
    assert well_posed_seed(config, 8, seed) == (seed, margin)  # a clear seed is kept as it is
