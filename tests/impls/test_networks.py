"""Networks as data (impls.networks): the definition, the shape walk, the width knob, the
one config serialization, and models that keep their random and precision state to themselves."""

from __future__ import annotations

import numpy as np
import pytest

import impls
from impls import networks
from impls.config import SMALL_WIDTH, AlexNetConfig, layers, parameter_shapes, small_config
from impls.errors import ConfigError
from impls.networks.ops import AdaptiveAvgPool, Conv, Dense, Flatten, MaxPool, ReLU, plan, scaled
from impls.weights import parameter_count
from tests.conftest import require


def test_the_registry_lists_alexnet_and_names_the_choices():
    assert impls.models() == ["alexnet", "vgg11", "resnet18"]
    assert networks.get("alexnet").variants == ("torchvision", "paper")
    with pytest.raises(ConfigError, match="unknown model 'vgg99'; choose one of alexnet"):
        AlexNetConfig(model="vgg99")


def test_torchvision_names_fall_out_of_the_definition():
    names = list(parameter_shapes(AlexNetConfig()))
    convs = [f"features.{i}" for i in (0, 3, 6, 8, 10)]
    dense = [f"classifier.{i}" for i in (1, 4, 6)]
    assert names == [f"{n}.{p}" for n in convs + dense for p in ("weight", "bias")]
    paper = list(parameter_shapes(AlexNetConfig(variant="paper")))
    assert paper[::2] == [f"features.{i}.weight" for i in (0, 4, 8, 10, 12)] + [f"classifier.{i}.weight"
                                                                                 for i in (1, 4, 6)]  # fmt: skip


def test_the_identity_pool_is_left_out_and_the_flattened_map_is_recorded():
    at_224 = layers(AlexNetConfig())
    assert not any(isinstance(layer.op, AdaptiveAvgPool) for layer in at_224)  # 6x6 already
    fc1 = next(layer for layer in at_224 if isinstance(layer.op, Dense))
    assert fc1.flattened_from == (256, 6, 6) and fc1.in_shape == (9216,)
    at_67 = layers(small_config())
    pool = next(layer for layer in at_67 if isinstance(layer.op, AdaptiveAvgPool))
    assert pool.in_shape == (32, 1, 1) and pool.out_shape == (32, 6, 6)


def test_width_scales_every_channel_and_hidden_width_and_keeps_groups_valid():
    small = parameter_shapes(small_config())
    assert [small[f"features.{i}.weight"][0] for i in (0, 3, 6, 8, 10)] == [8, 24, 48, 32, 32]
    assert small["classifier.1.weight"] == (512, 32 * 6 * 6) and small["classifier.6.weight"] == (10, 512)
    paper = parameter_shapes(small_config("paper", width=0.01))  # every count a multiple of the 2 groups
    assert all(shape[0] % 2 == 0 for name, shape in paper.items() if name.startswith("features"))
    assert scaled(64, 0.001) == 1 and scaled(96, 0.001, 2) == 2
    assert parameter_count(AlexNetConfig(width=1.0)) == 61_100_840  # width 1 is torchvision's


def test_a_conv_whose_groups_do_not_divide_its_channels_is_a_clear_error():
    with pytest.raises(ConfigError, match="not divisible by groups=2"):
        plan((Conv("c", 3, 3, groups=2),), (4, 8, 8))


def test_the_shape_walk_finds_the_minimum_size_and_rejects_flat_input_to_a_conv():
    assert impls.min_image_size("torchvision") == 63 and impls.min_image_size("paper") == 67
    with pytest.raises(ConfigError, match="needs a \\(C, H, W\\) map"):
        plan((Flatten("f"), Conv("c", 3, 3)), (1, 4, 4))
    shapes = [layer.out_shape for layer in plan((Conv("c", 2, 3, padding=1), ReLU("r"), MaxPool("p", 2, 2)),
                                                (1, 8, 8))]  # fmt: skip
    assert shapes == [(2, 8, 8), (2, 8, 8), (2, 4, 4)]


@pytest.mark.parametrize("config", [AlexNetConfig(), small_config("paper", in_channels=1, dtype="float64")])
def test_a_config_crosses_a_process_boundary_as_a_dict(config):
    import json

    assert AlexNetConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_a_dict_written_before_model_and_width_means_alexnet_at_width_1():
    old = {"variant": "torchvision", "num_classes": 10, "image_size": [67, 67], "in_channels": 3, "dropout": 0.0,
           "dtype": "float32"}  # fmt: skip
    config = AlexNetConfig.from_dict(old)
    assert (config.model, config.width) == ("alexnet", 1.0)
    with pytest.raises(ConfigError, match="unknown config fields colour"):
        AlexNetConfig.from_dict({**old, "colour": "red"})


def test_a_torch_model_leaves_the_global_generator_alone_and_keeps_its_own():
    require("torch")
    import torch

    torch.manual_seed(123)
    before = torch.get_rng_state().clone()
    config = small_config(dropout=0.5)
    x = np.random.default_rng(0).standard_normal((2, 67, 67, 3)).astype(np.float32)
    y = np.array([1, 2])
    a, b = impls.create("torch", config, seed=7), impls.create("torch", config, seed=7)
    losses = [a.train_step(x, y) for _ in range(2)]
    torch.rand(5)  # someone else draws from the global generator between b's steps
    assert [b.train_step(x, y) for _ in range(2)] == losses  # the same masks: the model's own stream
    torch.set_rng_state(before)
    impls.create("torch", config, seed=7).train_step(x, y)
    assert torch.equal(torch.get_rng_state(), before)


def test_float32_and_float64_jax_models_coexist_without_the_global_x64_switch():
    require("jax")
    require("torch")
    import jax

    x = np.random.default_rng(0).standard_normal((2, 67, 67, 3))
    f64 = impls.create("jax", small_config(dtype="float64"))
    f32 = impls.create("jax", small_config())
    assert f64.predict(x).dtype == np.float64 and f32.predict(x.astype(np.float32)).dtype == np.float32
    assert f64.get_weights()["features.0.weight"].dtype == np.float64
    assert not jax.config.jax_enable_x64  # scoped per call, never switched on for the process
    golden = impls.create("torch", small_config(dtype="float64"))
    assert np.abs(golden.predict(x) - f64.predict(x)).max() <= 1e-12 * np.abs(golden.predict(x)).max()


def test_the_small_width_is_what_tests_use():
    assert SMALL_WIDTH == small_config().width < 1


def test_vgg11_is_one_definition_file_with_torchvision_names_and_size():
    """torchvision.models.vgg11: 132,863,336 parameters at 1000 classes, 7.6 GMACs at 224."""
    config = AlexNetConfig(model="vgg11")
    names = list(parameter_shapes(config))[::2]
    convs = [f"features.{i}.weight" for i in (0, 3, 6, 8, 11, 13, 16, 18)]
    assert names == convs + [f"classifier.{i}.weight" for i in (0, 3, 6)]
    assert parameter_count(config) == 132_863_336
    assert parameter_shapes(config)["classifier.0.weight"] == (4096, 512 * 7 * 7)
    assert impls.min_image_size("torchvision", "vgg11") == 32
    assert impls.forward_flops(config) == 2 * 7_609_090_048


def test_vgg11_computes_the_same_function_in_every_framework(framework):
    """Lowered from the same definition, float64 at a small width: logits, gradients and two
    SGD steps equal to torch's within 1e-9 (the golden-based tiers are the VGG issue's)."""
    require("torch")
    require(framework)
    config = AlexNetConfig(model="vgg11", width=0.0625, num_classes=10, image_size=(40, 52), dtype="float64",
                           dropout=0.0)  # fmt: skip
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 40, 52, 3)), rng.integers(0, 10, 4)
    reference, model = impls.create("torch", config), impls.create(framework, config)

    def close(a, b):
        return np.abs(a - b).max() <= 1e-9 * np.abs(b).max()

    assert close(model.predict(x), reference.predict(x))
    (loss, grads), (ref_loss, ref_grads) = model.loss_and_grads(x, y), reference.loss_and_grads(x, y)
    assert abs(loss - ref_loss) <= 1e-9 * abs(ref_loss)
    assert all(close(grads[name], ref_grads[name]) for name in ref_grads)
    for _ in range(2):
        model.train_step(x, y)
        reference.train_step(x, y)
    weights, ref_weights = model.get_weights(), reference.get_weights()
    assert all(close(weights[name], ref_weights[name]) for name in ref_weights)
