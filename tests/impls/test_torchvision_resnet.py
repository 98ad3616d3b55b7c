"""Every implementation reproduces torchvision's own ResNet-18 after loading its state_dict:
eval-mode and train-mode logits, the float64 loss and gradients, and BatchNorm's running
statistics after one training step.

tests/fixtures/torchvision_resnet18_seed0.npz records what torchvision 0.29.1 (torch 2.14.1)
computed for resnet18(weights=None) after torch.manual_seed(0) (made by
tools/make_torchvision_fixture.py --model resnet18; torchvision is not a dependency). Here
torch regenerates those weights bit for bit with the golden's plain torch.nn network
(harness.reference.golden.plain_torchvision_resnet18), checked against the recorded checksums;
the fixture's non-trivial BatchNorm state (seed-0 BatchNorm is weight 1, bias 0, mean 0, var 1:
eval mode would be nearly an identity) is set into it, and it goes through a .pth file and
`load_weights`, exactly as a user's torchvision download would. The gradients are checked
through checksums (L2 norm, sum of absolute values, the first 8 values, a random projection):
the file holds no weights nor gradients.
"""

import gc
from pathlib import Path

import numpy as np
import pytest

import impls
from harness.parity import max_rel
from tests.conftest import FRAMEWORKS, require
from tests.impls.test_torchvision_weights import FLOAT64_MODE, fixture_inputs

FIXTURE = Path(__file__).parents[1] / "fixtures" / "torchvision_resnet18_seed0.npz"
# Max relative error from torchvision's, measured (torch 2.13 CPU, keras on TF, jax; logits
# max|a - b| / max|b|): eval logits float32 <= 7.4e-7, float64 <= 2.5e-15; train-mode logits
# float32 <= 1.9e-6, float64 <= 5.2e-15; float64 loss <= 5.4e-16, gradient checksums <= 4.5e-14
# (the projection), running statistics after train_step <= 4.5e-15. The bounds leave room for
# other BLAS/oneDNN summation orders.
LOGITS_TOLERANCE = {"float32": 1e-5, "float64": 1e-9}
GRADS_TOLERANCE = 1e-9  # float64: loss, gradient checksums, running statistics
# One size, 224x224, where layer4's map is 7x7 and the global average pool averages 49 values;
# the fixture's 127x191 logits (a 4x6 map) are not checked here: the suite's time is CI's.
SUFFIX = {"float32": "f32", "float64": "f64"}
# The float64 checks run Keras in graph mode (FLOAT64_MODE; TF's own float64 kernels): the
# same network and weights, 17 s here against 68 s in its default XLA mode, whose float64 CPU
# convolutions are slow. Keras's default mode is proven in float64 by tier 1
# (tests/impls/test_resnet.py) and at this size in float32 below.


@pytest.fixture(scope="module")
def fixture():
    with np.load(FIXTURE, allow_pickle=False) as f:
        return {name: f[name] for name in f.files}


def batch_norm_state(fixture) -> dict[str, np.ndarray]:
    """The fixture's non-trivial BatchNorm float tensors (float32, flat), by state_dict key."""
    values = np.split(fixture["bn_values"], np.cumsum(fixture["bn_sizes"])[:-1])
    return dict(zip([str(n) for n in fixture["bn_names"]], values, strict=True))


@pytest.fixture(scope="module")
def torchvision_weights(fixture, tmp_path_factory):
    """The seed-0 torchvision ResNet-18 state_dict with the fixture's BatchNorm state, saved as
    a user's .pth would be and read back with `load_weights`."""
    torch = pytest.importorskip("torch", reason="regenerating the torchvision weights needs torch")
    from harness.reference.golden import plain_torchvision_resnet18

    torch.manual_seed(0)
    state = plain_torchvision_resnet18(1000).state_dict()
    assert list(state) == [str(n) for n in fixture["param_names"]]
    for i, (name, tensor) in enumerate(state.items()):
        assert list(tensor.shape) == [int(s) for s in fixture["param_shapes"][i] if s >= 0], name
        values = tensor.numpy().astype(np.float64).reshape(-1)
        assert values.sum() == fixture["param_sums"][i], name
        assert np.abs(values).sum() == fixture["param_abs_sums"][i], name
        head = np.full(8, np.nan)  # NaN-padded: num_batches_tracked has one value
        head[: min(8, values.size)] = values[:8]
        assert np.array_equal(head, fixture["param_heads"][i], equal_nan=True), name
    bn = batch_norm_state(fixture)
    with torch.no_grad():
        for name, values in bn.items():
            state[name].copy_(torch.from_numpy(values).reshape(state[name].shape))
        for name, tensor in state.items():
            if name.endswith("num_batches_tracked"):
                tensor.fill_(int(fixture["bn_batches_tracked"]))
    path = tmp_path_factory.mktemp("torchvision") / "resnet18-seed0.pth"
    torch.save(state, path)
    del state
    weights = impls.load_weights(path)
    path.unlink()
    for name, values in bn.items():
        assert np.array_equal(weights[name].reshape(-1), values), name
    return weights


def build(framework, dtype, size, weights):
    config = impls.AlexNetConfig(model="resnet18", num_classes=1000, image_size=size, dtype=dtype, dropout=0.0)
    model = impls.create(framework, config, mode=FLOAT64_MODE.get(framework) if dtype == "float64" else None)
    model.set_weights(weights)
    return model


def release(model) -> None:
    del model
    gc.collect()  # one model alive at a time


def assert_unchanged(model, expected, what: str) -> None:
    got = model.get_weights()
    assert list(got) == list(expected)
    changed = [n for n in got if not np.array_equal(got[n], np.asarray(expected[n]).astype(got[n].dtype))]
    assert not changed, f"{what} changed {changed[:5]}{'...' if len(changed) > 5 else ''}"


@pytest.mark.slow
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_torchvision_resnet18_float32_eval_and_train_mode_logits(framework, fixture, torchvision_weights):
    """float32 at 224: eval logits (running statistics) and train-mode logits (the batch's),
    predict(training=True) changing nothing, not even the running statistics."""
    require(framework)
    x224 = fixture_inputs(fixture)["224"]
    model = build(framework, "float32", (224, 224), torchvision_weights)
    try:
        eval_error = max_rel(model.predict(x224), fixture["logits224_f32"])
        train_error = max_rel(model.predict(x224, training=True), fixture["train_logits224_f32"])
        assert_unchanged(model, torchvision_weights, "predict(training=True)")
    finally:
        release(model)
    assert eval_error <= LOGITS_TOLERANCE["float32"], f"{framework} eval logits: {eval_error:.2e} from torchvision"
    assert train_error <= LOGITS_TOLERANCE["float32"], f"{framework} train logits: {train_error:.2e} from torchvision"


def gradient_errors(grads, fixture) -> dict[str, float]:
    """The worst relative error of each gradient checksum over the parameters: L2 norm and
    sum of absolute values relative to themselves, the first 8 values and the projection
    relative to the tensor's L2 norm (they can be near 0)."""
    names = [str(n) for n in fixture["grad_names"]]
    assert list(grads) == names
    worst = {"l2": 0.0, "abs_sum": 0.0, "heads": 0.0, "proj": 0.0}
    for i, name in enumerate(names):
        g = np.asarray(grads[name], np.float64).reshape(-1)
        norm = max(float(fixture["grad_l2"][i]), 1e-300)
        head = fixture["grad_heads"][i]
        n = int(np.sum(~np.isnan(head)))
        projection = np.dot(g, np.random.default_rng([4321, i]).standard_normal(g.size))
        errors = {
            "l2": abs(np.linalg.norm(g) - norm) / norm,
            "abs_sum": abs(np.abs(g).sum() - fixture["grad_abs_sums"][i]) / max(fixture["grad_abs_sums"][i], 1e-300),
            "heads": float(np.max(np.abs(g[:n] - head[:n]))) / norm,
            "proj": abs(projection - fixture["grad_proj"][i]) / norm,
        }
        for check, error in errors.items():
            assert error <= GRADS_TOLERANCE, f"gradient of {name}: {check} {error:.2e} from torchvision"
            worst[check] = max(worst[check], float(error))
    return worst


@pytest.mark.slow
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_torchvision_resnet18_float64_gradients_and_running_statistics(framework, fixture, torchvision_weights):
    """float64 at 224, one model: eval and train-mode logits, the loss and every gradient
    (checksums), nothing changed by them, then the running statistics after train_step."""
    require(framework)
    x224 = fixture_inputs(fixture)["224"].astype(np.float64)
    labels = fixture["labels"]
    model = build(framework, "float64", (224, 224), torchvision_weights)
    try:
        assert_unchanged(model, torchvision_weights, "set_weights")  # float32 -> float64 is exact
        eval_error = max_rel(model.predict(x224), fixture["logits224_f64"])
        assert eval_error <= LOGITS_TOLERANCE["float64"], f"{framework} eval logits: {eval_error:.2e} from torchvision"
        train_error = max_rel(model.predict(x224, training=True), fixture["train_logits224_f64"])
        assert train_error <= LOGITS_TOLERANCE["float64"], f"{framework} train logits: {train_error:.2e}"
        assert_unchanged(model, torchvision_weights, "predict(training=True)")
        loss, grads = model.loss_and_grads(x224, labels)
        loss_error = abs(loss - float(fixture["train_loss224_f64"])) / abs(float(fixture["train_loss224_f64"]))
        assert loss_error <= GRADS_TOLERANCE, f"{framework} loss: {loss_error:.2e} from torchvision"
        worst = gradient_errors(grads, fixture)
        assert_unchanged(model, torchvision_weights, "loss_and_grads")

        model.train_step(x224, labels)
        after = model.get_weights()
    finally:
        release(model)
    values = np.split(fixture["after_values"], np.cumsum(fixture["after_sizes"])[:-1])
    stats_error = 0.0
    for name, expected in zip([str(n) for n in fixture["after_names"]], values, strict=True):
        error = max_rel(after[name].reshape(-1), expected)
        assert error <= GRADS_TOLERANCE, f"{framework} {name} after train_step: {error:.2e} from torchvision"
        stats_error = max(stats_error, error)
    counts = {n: int(v) for n, v in after.items() if n.endswith("num_batches_tracked")}
    assert len(counts) == 20 and set(counts.values()) == {int(fixture["after_batches_tracked"])}, counts
    print(
        f"\n{framework} resnet18 float64: loss {loss_error:.2e}, gradients "
        + ", ".join(f"{k} {v:.2e}" for k, v in worst.items())
        + f", running statistics after train_step {stats_error:.2e}"
    )
