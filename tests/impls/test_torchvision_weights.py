"""Every implementation reproduces torchvision's own AlexNet after loading its state_dict.

tests/fixtures/torchvision_alexnet_seed0.npz records what torchvision 0.29.1 (torch
2.14.1) computed for alexnet(weights=None) after torch.manual_seed(0) (made by
tools/make_torchvision_fixture.py; torchvision is not a dependency). Here torch
regenerates those weights bit for bit (checked against the recorded checksums), they
go through a .pth file and `load_weights`, exactly as a user's torchvision download
would, and each implementation's logits are compared with torchvision's.
"""

import hashlib
from pathlib import Path

import numpy as np
import pytest

import impls
from harness.parity import max_rel
from tests.conftest import require

FIXTURE = Path(__file__).parents[1] / "fixtures" / "torchvision_alexnet_seed0.npz"
TOLERANCE = {"float32": 1e-5, "float64": 1e-12}


@pytest.fixture(scope="module")
def torchvision_file(tmp_path_factory):
    """The seed-0 torchvision state_dict, regenerated and saved as a user's .pth would be."""
    torch = pytest.importorskip("torch", reason="regenerating the torchvision weights needs torch")
    from harness.reference.golden import plain_torchvision_alexnet

    fixture = np.load(FIXTURE, allow_pickle=False)
    torch.manual_seed(0)
    state = plain_torchvision_alexnet(1000).state_dict()  # same layers, same order: same draws
    assert list(state) == [str(n) for n in fixture["param_names"]]
    for i, (name, tensor) in enumerate(state.items()):
        values = tensor.numpy().astype(np.float64).reshape(-1)
        assert values.sum() == fixture["param_sums"][i], name
        assert np.abs(values).sum() == fixture["param_abs_sums"][i], name
        assert np.array_equal(values[:8], fixture["param_heads"][i]), name
    path = tmp_path_factory.mktemp("torchvision") / "alexnet-seed0.pth"
    torch.save(state, path)
    return path, fixture


def fixture_inputs(fixture):
    rng = np.random.default_rng(int(fixture["input_seed"]))
    x224 = rng.standard_normal(tuple(fixture["x224_shape"]), dtype=np.float32)
    x_odd = rng.standard_normal(tuple(fixture["x_odd_shape"]), dtype=np.float32)
    assert hashlib.sha256(x224.tobytes()).hexdigest() == str(fixture["x224_sha256"])
    assert hashlib.sha256(x_odd.tobytes()).hexdigest() == str(fixture["x_odd_sha256"])
    return {"224": x224, "odd": x_odd}


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("framework", impls.names())
def test_torchvision_state_dict_gives_torchvision_logits(framework, dtype, torchvision_file):
    require(framework)
    path, fixture = torchvision_file
    weights = impls.load_weights(path)
    inputs = fixture_inputs(fixture)
    suffix = {"float32": "f32", "float64": "f64"}[dtype]
    for key, size, logits in (("224", (224, 224), "logits224"), ("odd", (127, 191), "logits_odd")):
        config = impls.AlexNetConfig(num_classes=1000, image_size=size, dtype=dtype)
        model = impls.create(framework, config)
        model.set_weights(weights)
        expected = fixture[f"{logits}_{suffix}"]
        error = max_rel(model.predict(inputs[key].astype(dtype)), expected)
        assert error <= TOLERANCE[dtype], f"{framework} {dtype} at {size}: {error:.2e} from torchvision"
