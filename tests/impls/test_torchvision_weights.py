"""Every implementation reproduces torchvision's own AlexNet and VGG-11 after loading their state_dicts.

tests/fixtures/torchvision_<model>_seed0.npz records what torchvision 0.29.1 (torch
2.14.1) computed for alexnet(weights=None) / vgg11(weights=None) after
torch.manual_seed(0) (made by tools/make_torchvision_fixture.py; torchvision is not a
dependency). Here torch regenerates those weights bit for bit with the golden's plain
torch.nn networks (same layers, same order: same draws; for VGG-11 followed by
torchvision's own re-initialisation, harness.reference.golden.torchvision_vgg_init), checked
against the recorded checksums; they go through a .pth file and `load_weights`, exactly as
a user's torchvision download would, and each implementation's logits are compared with
torchvision's at 224x224 and at 127x191 (where the adaptive average pool does real work).
"""

import gc
import hashlib
from pathlib import Path

import numpy as np
import pytest

import impls
from harness.parity import max_rel
from tests.conftest import FRAMEWORKS, require

FIXTURES = Path(__file__).parents[1] / "fixtures"
MODELS = ["alexnet", "vgg11"]
# Max relative error of the logits from torchvision's, measured (torch 2.13 CPU, keras, jax):
# alexnet float32 <= 1.0e-6, float64 <= 2.3e-15; vgg11 float32 <= 2.4e-6, float64 <= 2.9e-15.
# The bounds leave room for other BLAS/oneDNN summation orders.
TOLERANCE = {
    "alexnet": {"float32": 1e-5, "float64": 1e-12},
    "vgg11": {"float32": 1e-5, "float64": 1e-12},
}
SIZES = (("224", (224, 224), "logits224"), ("odd", (127, 191), "logits_odd"))
# VGG-11 here is the full-size proof that torchvision's 133M-parameter state_dict loads and
# gives its logits: float32 at 224 only. Its float64 checks (15 GFLOP per image in TF's and
# XLA's slow float64 CPU convolutions; 100 s of CI) are left to tests/harness/parity/
# test_vgg_parity.py, where tier 1 proves every operation to 1e-9 (the adaptive pool doing real
# work, training included) at a reduced width and size; AlexNet keeps both dtypes at both sizes.
SKIPPED = {("vgg11", "float64", "224"), ("vgg11", "float64", "odd"), ("vgg11", "float32", "odd")}
# float64 runs Keras in graph mode (TF's own float64 kernels), as the ResNet-18 file does, where
# XLA's float64 CPU convolutions took 4x as long: the same network and weights; float32 runs
# every framework in its default mode.
FLOAT64_MODE = {"keras": "graph"}


def regenerate(model: str):
    """torchvision's seed-0 `model`, rebuilt with the golden's plain torch.nn network."""
    import torch

    from harness.reference.golden import plain_torchvision_alexnet, plain_torchvision_vgg11, torchvision_vgg_init

    torch.manual_seed(0)
    if model == "alexnet":
        return plain_torchvision_alexnet(1000)  # torchvision keeps torch's default init
    return torchvision_vgg_init(plain_torchvision_vgg11(1000))  # torch's defaults drawn first, as in torchvision


@pytest.fixture(scope="module", params=MODELS)
def torchvision_file(request, tmp_path_factory):
    """(model, path, fixture): the seed-0 torchvision state_dict, regenerated and saved as a
    user's .pth would be. One model at a time (VGG-11's .pth is 0.5 GB)."""
    torch = pytest.importorskip("torch", reason="regenerating the torchvision weights needs torch")
    model = request.param
    fixture = np.load(FIXTURES / f"torchvision_{model}_seed0.npz", allow_pickle=False)
    state = regenerate(model).state_dict()
    assert list(state) == [str(n) for n in fixture["param_names"]]
    for i, (name, tensor) in enumerate(state.items()):
        assert list(tensor.shape) == [int(s) for s in fixture["param_shapes"][i] if s >= 0], name
        values = tensor.numpy().astype(np.float64).reshape(-1)
        assert values.sum() == fixture["param_sums"][i], name
        assert np.abs(values).sum() == fixture["param_abs_sums"][i], name
        assert np.array_equal(values[:8], fixture["param_heads"][i]), name
    path = tmp_path_factory.mktemp("torchvision") / f"{model}-seed0.pth"
    torch.save(state, path)
    del state
    yield model, path, fixture
    path.unlink()


def fixture_inputs(fixture):
    rng = np.random.default_rng(int(fixture["input_seed"]))
    x224 = rng.standard_normal(tuple(fixture["x224_shape"]), dtype=np.float32)
    x_odd = rng.standard_normal(tuple(fixture["x_odd_shape"]), dtype=np.float32)
    assert hashlib.sha256(x224.tobytes()).hexdigest() == str(fixture["x224_sha256"])
    assert hashlib.sha256(x_odd.tobytes()).hexdigest() == str(fixture["x_odd_sha256"])
    return {"224": x224, "odd": x_odd}


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_torchvision_state_dict_gives_torchvision_logits(framework, dtype, torchvision_file):
    require(framework)
    model_name, path, fixture = torchvision_file
    weights = impls.load_weights(path)
    inputs = fixture_inputs(fixture)
    suffix = {"float32": "f32", "float64": "f64"}[dtype]
    if all((model_name, dtype, key) in SKIPPED for key, _, _ in SIZES):
        pytest.skip(f"{model_name} in {dtype}: proven at a reduced size (see SKIPPED)")
    for key, size, logits in SIZES:
        if (model_name, dtype, key) in SKIPPED:
            continue
        # image_size is part of the config (predict takes only that size): one build per size.
        config = impls.AlexNetConfig(model=model_name, num_classes=1000, image_size=size, dtype=dtype)
        model = impls.create(framework, config, mode=FLOAT64_MODE.get(framework) if dtype == "float64" else None)
        model.set_weights(weights)
        error = max_rel(model.predict(inputs[key].astype(dtype)), fixture[f"{logits}_{suffix}"])
        del model
        gc.collect()  # VGG-11 in float64 is 1 GB of parameters: one model alive at a time
        assert error <= TOLERANCE[model_name][dtype], (
            f"{framework} {model_name} {dtype} at {size}: {error:.2e} from torchvision"
        )
