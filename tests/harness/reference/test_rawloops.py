"""harness.reference.rawloops: the plain per-framework loops that the harness is benchmarked against.

Small on purpose (67x67 images, batch 2, no dropout; VGG-11 at 32x32; both at width 1/8, whose
channel counts are impls' at that width): these check that every loop builds, trains (the loss
goes down), predicts, and rejects what it does not support, not speed.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from harness.reference import rawloops
from impls.config import SMALL_WIDTH
from tests.conftest import FRAMEWORKS, ROOT, require

SIZE, BATCH = 67, 2  # 67: the last feature map is 1x1, so the 6x6 pooling path runs
WIDTH = SMALL_WIDTH  # what is checked here does not depend on the channel counts
FAST_CASES = [
    (framework, mode)
    for framework, modes in rawloops.MODES.items()
    if framework in FRAMEWORKS  # keras-jax and keras-torch: in their own process (test_keras_backends.py)
    for mode in modes
    # torch/compile: inductor takes minutes on 2 cores (the slow test below);
    # jax/jit: checked by test_jax_loop_and_its_no_optax_fallback_agree, which needs its losses.
    if (framework, mode) not in (("torch", "compile"), ("jax", "jit"))
]


def check_loop(framework: str, mode: str) -> list[float]:
    """Build, then: a step, predict, three more steps. Returns the four losses."""
    require(framework)
    loop = rawloops.build(framework, mode, batch_size=BATCH, image_size=SIZE, dropout=0.0, width=WIDTH)
    assert (loop.framework, loop.mode) == (framework, mode)
    if framework.startswith("keras"):  # bf16 sets the mixed policy for its own layers only
        import keras

        assert keras.config.dtype_policy().name == "float32"
    first = loop.train_step()
    assert loop.predict() is None  # eval mode in between must not break the training steps
    assert loop.logits().shape == (BATCH, 10)
    losses = [first] + [loop.train_step() for _ in range(3)]
    assert all(type(loss) is float and math.isfinite(loss) for loss in losses), losses
    # Ten classes, near-uniform logits at initialization: about ln(10) = 2.3.
    assert 1.0 < first < 5.0, losses
    assert losses[-1] < first, f"{framework}/{mode}: 3 SGD steps on one batch did not lower the loss: {losses}"
    return losses


@pytest.mark.parametrize(("framework", "mode"), FAST_CASES)
def test_loop_trains_and_predicts(framework, mode):
    check_loop(framework, mode)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")  # inductor's own
def test_torch_compile_loop_trains_and_predicts():
    check_loop("torch", "compile")


def test_jax_loop_and_its_no_optax_fallback_agree(monkeypatch):
    """jax/jit with optax, then the hand-written fallback: the same rule (torch.optim.SGD's)."""
    require("jax")  # optax comes with alexbench[jax]
    with_optax = check_loop("jax", "jit")
    monkeypatch.setitem(sys.modules, "optax", None)  # `import optax` now raises ImportError
    loop = rawloops.build("jax", "jit", batch_size=BATCH, image_size=SIZE, dropout=0.0, width=WIDTH)
    without = [loop.train_step() for _ in range(4)]
    assert without == pytest.approx(with_optax, rel=1e-4), (with_optax, without)


def test_keras_adaptive_pooling_layer_works_in_a_tf_function():
    """95x95 gives a 2x2 map: Keras's own AdaptiveAveragePooling2D (67 takes the 1x1 workaround)."""
    require("keras")
    loop = rawloops.build("keras", "graph", batch_size=1, image_size=95, dropout=0.0, width=WIDTH)
    assert math.isfinite(loop.train_step())
    loop.predict()


@pytest.mark.parametrize("framework", [f for f in rawloops.MODES if f in FRAMEWORKS])
def test_vgg11_loop_trains_and_predicts(framework):
    """VGG-11 in each framework's default mode at 32x32 (its 1x1 map: the pooling to 7x7 runs),
    10 classes, dropout on: one step, then the logits."""
    require(framework)
    mode = rawloops.MODES[framework][0]
    loop = rawloops.build(framework, mode, batch_size=BATCH, image_size=32, num_classes=10, model="vgg11",
                          width=WIDTH)  # fmt: skip
    assert (loop.framework, loop.mode, loop.model) == (framework, mode, "vgg11")
    loss = loop.train_step()
    assert type(loss) is float and 1.0 < loss < 5.0, loss  # about ln(10)
    logits = loop.logits()
    assert logits.shape == (BATCH, 10) and logits.dtype == np.float32 and np.isfinite(logits).all()
    assert loop.predict() is None


@pytest.mark.parametrize(
    ("size", "side"),
    [(224, 6), (227, 6), (67, 1), (63, 1), (100, 2), (256, 7)],
)
def test_final_map_size_matches_torchvision_alexnet(size, side):
    assert rawloops.final_map_size(size) == side


@pytest.mark.parametrize(("size", "side"), [(224, 7), (32, 1), (63, 1), (64, 2), (31, 0)])
def test_final_map_size_matches_torchvision_vgg11(size, side):
    assert rawloops.final_map_size(size, "vgg11") == side


def test_the_networks_are_impls_networks_and_their_smallest_inputs():
    """Written out again, never imported: the same names and smallest inputs as the registry."""
    import impls

    assert set(rawloops.MODELS) <= set(impls.models())  # a new network may come without one
    for model in rawloops.MODELS:
        assert rawloops._min_image_size(model) == impls.min_image_size("torchvision", model)


@pytest.mark.parametrize("model, size", [("alexnet", 67), ("alexnet", 224), ("vgg11", 32)])
@pytest.mark.parametrize("width", [1.0, 0.125, 0.3])
def test_a_width_gives_impls_channel_counts(model, size, width):
    """The loops scale channels and hidden widths by impls' rule: the parameter count of
    torch's loop network is impls' for the same network, size and width."""
    torch = pytest.importorskip("torch")
    import impls

    network = {"alexnet": rawloops._torch_alexnet, "vgg11": rawloops._torch_vgg11}[model]
    with torch.device("meta"):
        net = network(torch.nn, 3, 10, 0.0, rawloops.final_map_size(size, model), width)
    config = impls.AlexNetConfig(model=model, num_classes=10, image_size=(size, size), width=width)
    assert sum(p.numel() for p in net.parameters()) == impls.parameter_count(config)


def test_unknown_framework_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown framework 'tf'.*torch, keras, jax"):
        rawloops.build("tf", "graph", batch_size=BATCH, image_size=SIZE)
    with pytest.raises(ValueError, match=r"unknown model 'vgg16'; choose one of alexnet, vgg11"):
        rawloops.build("torch", "eager", batch_size=BATCH, image_size=SIZE, model="vgg16")


@pytest.mark.parametrize("framework", list(rawloops.MODES))
def test_unknown_mode_names_the_choices(framework):
    with pytest.raises(ValueError, match="choose one of " + ", ".join(rawloops.MODES[framework])):
        rawloops.build(framework, "fp8", batch_size=BATCH, image_size=SIZE)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image_size": 62}, "at least 63"),
        ({"image_size": 31, "model": "vgg11"}, "too small for vgg11: use at least 32"),
        ({"device": "tpu"}, "unknown device"),
        ({"batch_size": 0}, "batch_size"),
        ({"dropout": 1.0}, "dropout"),
        ({"width": 0.0}, r"width must be in \(0, 4\]"),
    ],
)
def test_bad_settings_are_rejected(kwargs, message):
    settings = {"batch_size": BATCH, "image_size": SIZE, **kwargs}
    with pytest.raises(ValueError, match=message):
        rawloops.build("torch", "eager", **settings)


def test_importing_rawloops_imports_no_framework():
    code = (
        "import sys, harness.reference.rawloops; "
        "print(sorted(m for m in ('torch', 'tensorflow', 'keras', 'jax', 'optax') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
