"""Parity in CI (harness.parity): tier 1 (float64, exact) and tier 2 (float32 vs the float64
golden), both variants on the small config at SMALL_WIDTH (what tiers 1-2 prove -- layouts,
padding, pooling, LRN, the update rule -- does not depend on the channel counts; `alexbench
parity` proves it at width 1), logits at full size and full width, and proof that the checks
fail when a port is wrong. Parametrized over the registry: a new implementation is checked
by construction. Each variant's runs are computed once (module-scoped cache) and every test
asserts its own slice of the rows, at every step."""

from __future__ import annotations

import gc
import itertools
import json

import numpy as np
import pytest

pytest.importorskip("torch")  # the golden is a plain torch.nn float64 AlexNet

import impls  # noqa: E402
from harness import parity  # noqa: E402
from tests.conftest import FRAMEWORKS, require, tested  # noqa: E402

VARIANTS = ["torchvision", "paper"]
PAIRS = list(itertools.combinations(FRAMEWORKS, 2))
STEPS, BATCH = 20, 4
WIDTH = impls.config.SMALL_WIDTH
N_TENSORS = 16  # 5 convs + 3 dense layers, weight and bias each


class Small:
    """Everything the small-config tests of one variant assert on."""

    def __init__(self, variant: str) -> None:
        inputs = parity.make_inputs(parity.small_config(variant, width=WIDTH), steps=STEPS, batch=BATCH)
        inputs.ensure_references(float32=True)  # the golden and the float32 reference, in lockstep
        frameworks = tested()
        self.tier2, self.flips = parity.tier2(variant, frameworks=frameworks, inputs=inputs)
        self.tier1 = parity.tier1(variant, frameworks=frameworks, inputs=inputs)
        inputs.f32_reference = None
        inputs.golden.preactivations = {}
        self.inputs = inputs  # the golden: the wrong-port tests compare against it


class SmallCache:
    """variant -> Small, computed once. Only the latest variant keeps its golden (1 GB):
    the tests that need it (torchvision) come first in this file."""

    def __init__(self) -> None:
        self.cache: dict[str, Small] = {}

    def __call__(self, variant: str, golden: bool = False) -> Small:
        if variant not in self.cache or (golden and self.cache[variant].inputs is None):
            self.release()
            self.cache[variant] = Small(variant)
        return self.cache[variant]

    def release(self) -> None:
        """Drop the goldens (the rows stay)."""
        for result in self.cache.values():
            result.inputs = None
        gc.collect()


@pytest.fixture(scope="module")
def small():
    return SmallCache()


@pytest.fixture(scope="module")
def full():
    cache: dict[str, list[parity.Check]] = {}

    def get(variant: str) -> list[parity.Check]:
        if variant not in cache:
            cache[variant] = parity.full_size(variant, tested(), batch=BATCH, tiers=(2,))
        return cache[variant]

    return get


def select(rows, a, b):
    return [r for r in rows if {r.a, r.b} == {a, b}]


def assert_all_pass(rows, expected_steps=STEPS):
    crashed = [r for r in rows if r.quantity == "run"]
    assert not crashed, "\n".join(r.describe() for r in crashed)
    failures = [r.describe() for r in rows if not r.passed]
    assert not failures, "\n".join(failures)
    quantities = {r.quantity for r in rows}
    assert {"logits", "loss", "grads", "step_loss", "weights"} <= quantities, quantities
    assert sorted(r.step for r in rows if r.quantity == "step_loss") == list(range(1, expected_steps + 1))
    assert len([r for r in rows if r.quantity == "grads"]) == N_TENSORS
    assert len([r for r in rows if r.quantity == "weights"]) == N_TENSORS


# ----------------------------------------------------------- the checks can fail
def _patch_fc1_permutation(monkeypatch, model) -> bool:
    """Make `model`'s port forget FC1's flatten-order permutation (C,H,W -> H,W,C): every
    NHWC port converts through impls.layout.NHWCLayout, which looks the permutation up when
    it runs. False if the model has none (it flattens in torch's order)."""
    from impls import layout

    if not isinstance(getattr(model, "_layout", None), layout.NHWCLayout):
        return False
    identity = lambda weight, *args, **kwargs: np.ascontiguousarray(weight)  # noqa: E731
    monkeypatch.setattr(layout, "fc1_chw_to_hwc", identity)
    monkeypatch.setattr(layout, "fc1_hwc_to_chw", identity)
    return True


def test_fc1_in_the_wrong_flatten_order_is_caught_by_tier1(small, framework, monkeypatch):
    """An NHWC port that forgets FC1's flatten-order permutation; a port that flattens in
    (C, H, W) natively (torch) gets the equivalent mistake: FC1 weights in (H, W, C) order."""
    from impls import layout

    inputs = small("torchvision", golden=True).inputs
    weights = dict(inputs.weights)
    model = impls.create(framework, inputs.config.replace(dtype="float64"), optimizer=inputs.optimizer)
    if not _patch_fc1_permutation(monkeypatch, model):
        chw = model.params["classifier.1.weight"].flattened_from  # the (C, H, W) map FC1 reads
        weights["classifier.1.weight"] = layout.fc1_chw_to_hwc(weights["classifier.1.weight"], chw)
    run = parity.run_model(model, weights, inputs.batches, steps=0)
    rows = parity.compare(run, inputs.golden, 1, "torchvision", "small")
    logits = next(r for r in rows if r.quantity == "logits")
    fc1 = next(r for r in rows if r.quantity == "grads" and r.tensor == "classifier.1.weight")
    print(f"{framework}: {logits.describe()}\n{framework}: {fc1.describe()}")
    for row in (logits, fc1):  # orders of magnitude: > 1e-3 is >= 1e6 x the 1e-9 bound
        assert row.error > 1e-3 and not row.passed, row.describe()


def keras_with_decoupled_weight_decay(config, optimizer):
    """The Keras port with Keras's own SGD(weight_decay=...) (decoupled) as its update rule."""
    import keras
    import tensorflow as tf

    class KerasDecoupledDecay(impls.implementation_class("keras")):
        def _train_step(self, batch):
            if not hasattr(self, "_keras_step"):
                opt = self.optimizer
                sgd = keras.optimizers.SGD(learning_rate=opt.lr, momentum=opt.momentum, weight_decay=opt.weight_decay)
                variables = self.net.trainable_variables
                sgd.build(variables)
                net = self.net

                @tf.function
                def step(x, y):
                    with tf.GradientTape() as tape:
                        logits = net(x, training=True)
                        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
                    sgd.apply_gradients(zip(tape.gradient(loss, variables), variables))
                    return loss

                self._keras_step = step
            return self._keras_step(batch.images, batch.labels)

    return KerasDecoupledDecay(config, optimizer=optimizer)


def test_keras_decoupled_weight_decay_is_caught(small):
    require("keras")
    inputs = small("torchvision", golden=True).inputs
    model = keras_with_decoupled_weight_decay(inputs.config.replace(dtype="float64"), inputs.optimizer)
    run = parity.run_model(model, inputs.weights, inputs.batches, STEPS, name="keras-decoupled-wd")
    rows = parity.compare(run, inputs.golden, 1, "torchvision", "small")
    same_function = [r for r in rows if r.quantity in ("logits", "loss", "grads")]
    assert all(r.passed for r in same_function)  # the network is right, only the update rule is not
    weights = [r for r in rows if r.quantity == "weights"]
    worst = max(weights, key=lambda r: r.error)
    print(f"Keras decoupled weight decay after {STEPS} steps: {worst.describe()}")
    print("  per tensor: " + ", ".join(f"{r.tensor} {r.error:.1e}" for r in weights))
    # >= 1e4 x the bound: 1.2e-4 measured at width 0.125 (1.8e-3 at width 1)
    assert worst.error > 1e-5 and worst.step == STEPS, worst.describe()


# ------------------------------------------------------------------------------ tier 1
@pytest.mark.parametrize("variant", VARIANTS)
def test_tier1_float64_against_the_golden(small, variant, framework):
    rows = select(small(variant).tier1, framework, parity.GOLDEN)
    assert_all_pass(rows)
    assert all(r.bound == 1e-9 for r in rows)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("a, b", PAIRS)
def test_tier1_float64_pairwise(small, variant, a, b):
    require(a)
    require(b)
    assert_all_pass(select(small(variant).tier1, a, b))


@pytest.fixture(scope="module")
def uint8_rows():
    return parity.tier1_uint8("paper", tested(), steps=3, width=WIDTH)  # gray input: the channel expansion too


def test_tier1_uint8_input_normalized_on_the_device(uint8_rows, framework):
    """uint8 batches normalized as the first op of each framework's step, against the golden
    fed numpy's normalization of the same batches: the same function, to 1e-9 in float64."""
    rows = select(uint8_rows, framework, parity.GOLDEN)
    assert_all_pass(rows, expected_steps=3)
    assert all(r.size.startswith("small") and r.bound == 1e-9 for r in rows)


# ------------------------------------------------------------------------------ tier 2
@pytest.mark.parametrize("variant", VARIANTS)
def test_tier2_float32_against_the_golden(small, variant, framework):
    result = small(variant)
    rows = select(result.tier2, framework, parity.GOLDEN)
    flips = f"{parity.describe_flips(result.flips.initial)}; {result.flips.describe_trajectory()}"
    print(f"{variant}: {parity.F32_REFERENCE}: {flips}")
    assert_all_pass(rows)
    grads = [r for r in rows if r.quantity == "grads"]
    assert all(r.metric == "rel_l2" and r.bound == 2e-3 for r in grads)
    assert all(r.bound is None for r in rows if r.quantity == "weights")  # reported, not asserted


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("a, b", PAIRS)
def test_tier2_float32_pairwise(small, variant, a, b):
    require(a)
    require(b)
    assert_all_pass(select(small(variant).tier2, a, b))


@pytest.mark.parametrize("variant", VARIANTS)
def test_tier2_reference_float32_and_relu_sign_flips_are_reported(small, variant):
    result = small(variant)
    rows = select(result.tier2, parity.F32_REFERENCE, parity.GOLDEN)
    print(f"{variant}: {parity.describe_flips(result.flips.initial)}; {result.flips.describe_trajectory()}")
    assert_all_pass(rows)
    relus = {
        "torchvision": ["features.1", "features.4", "features.7", "features.9", "features.11"],
        "paper": ["features.1", "features.5", "features.9", "features.11", "features.13"],
    }[variant] + ["classifier.2", "classifier.5"]
    assert [f["layer"] for f in result.flips.initial] == relus
    assert all(0 <= f["flips"] <= f["units"] for f in result.flips.initial)
    for f in result.flips.initial:  # a flipped unit sits within float32 rounding of zero
        if f["flips"]:
            assert abs(f["nearest_float64"]) < 1e-4
    assert [s["step"] for s in result.flips.per_step] == list(range(1, STEPS + 1))
    assert all("ReLU sign flips" in r.note for r in result.tier2 if r.quantity == "grads")
    assert all("ReLU sign flips" in r.note for r in result.tier2 if r.quantity == "step_loss")


# -------------------------------------------------------------------------- full size
@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_full_size_float32_logits_against_the_golden(full, variant, framework):
    rows = select(full(variant), framework, parity.GOLDEN)
    assert [r.quantity for r in rows] == ["logits"], [r.describe() for r in rows]
    (row,) = rows
    assert row.size == "full" and row.bound == 1e-5
    assert row.passed, row.describe()


# ---------------------------------------------------------------------------- CLI
def test_cli_parity_passes_and_writes_a_record(tmp_path, capsys, small):
    from harness.cli import main

    small.release()  # the CLI makes its own golden: one at a time in memory

    # torch only: the tests above run every framework; this one checks the command and record
    args = [
        "--size",
        "small",
        "--variants",
        "torchvision",
        "--steps",
        "3",
        "--frameworks",
        "torch",
        "--modes",
        "torch=bf16",
        "--width",
        str(WIDTH),
        "--data-parallel",
        "0",  # tests/harness/parity/test_distributed.py runs the launches
    ]
    code = main(["parity", *args, "--out-dir", str(tmp_path / "parity")])
    out = capsys.readouterr().out
    assert code == 0, out
    (path,) = (tmp_path / "parity").glob("parity-*.json")
    record = json.loads(path.read_text())
    assert record["passed"] is True and record["settings"]["steps"] == 3 and record["settings"]["width"] == WIDTH
    assert record["settings"]["frameworks"] == ["torch"]
    from harness import results

    summary = results.load(tmp_path)  # the per-framework summary the report shows
    assert list(summary.kind) == ["parity"] and summary.iloc[0].tier1_max_rel <= 1e-9
    assert summary.iloc[0].passed == 1
    assert record["tolerances"]["1"]["weights"]["bound"] == 1e-9
    assert record["settings"]["networks"] == ["alexnet/torchvision"]  # --variants torchvision, AlexNet by default
    flips = record["relu_flips"]["alexnet/torchvision"]
    assert len(flips["initial"]) == 7 and [s["step"] for s in flips["per_step"]] == [1, 2, 3]
    steps = {c["step"] for c in record["checks"] if c["quantity"] == "step_loss"}
    assert steps == {1, 2, 3}
    assert "torch" in record["environment"]["versions"]
    assert "tier 1" in out and "tier 2" in out and "golden" in out
    assert "torch:bf16 vs golden" in out and summary.iloc[0].tier4_logits_rel_l2 <= 2e-2  # tier 4: bf16 mode
    assert not list((tmp_path / "parity").glob(".*.tmp"))  # written atomically: no temp file left


def test_cli_parity_names_pair_tensor_and_step_of_a_failure(tmp_path, capsys, monkeypatch):
    """The exit status and message of an exceeded bound (rows faked: the real runs are above)."""
    from harness.cli import main

    def fake_inputs(config, steps=20, batch=4, seed=0, optimizer=None):
        return parity.Inputs(config, {}, [], optimizer or impls.SGDConfig(), steps)

    def fake_tier1(variant, frameworks=None, device="cpu", inputs=None, **kwargs):
        ok = parity.Check(1, variant, "small", "logits", "torch", "golden", "logits", None, "max_rel", 1e-15, 1e-9)
        bad = parity.Check(
            1, variant, "small", "weights", "keras", "jax", "classifier.1.weight", 3, "max_rel", 2e-3, 1e-9
        )
        return [ok, bad]

    def fake_tier2(variant, frameworks=None, device="cpu", inputs=None, **kwargs):
        row = parity.Check(2, variant, "small", "step_loss", "jax", "golden", "loss", 2, "rel", 1e-6, 1e-4)
        layer = {"layer": "features.1", "units": 10, "flips": 0, "nearest_float64": None, "float32": None}
        return [row], parity.FlipReport([layer], [])

    from harness.parity import runs, suite

    monkeypatch.setattr(suite, "make_inputs", fake_inputs)
    monkeypatch.setattr(runs, "reference_runs", lambda *args, **kwargs: ([None, None], None))
    monkeypatch.setattr(suite, "tier1", fake_tier1)
    monkeypatch.setattr(suite, "tier2", fake_tier2)
    monkeypatch.setattr(suite, "tier1_uint8", lambda *args, **kwargs: [])  # faked too: no real run at all
    # rows faked: no data-parallel launches (tests/harness/parity/test_distributed.py runs those)
    # the frameworks of this process only: another Keras backend would be checked for real in a process of its own
    args = ["--size", "small", "--variants", "paper", "--steps", "3", "--modes", "none", "--data-parallel", "0",
            "--frameworks", "torch", "keras", "jax"]  # fmt: skip
    code = main(["parity", *args, "--out-dir", str(tmp_path / "p")])
    err = capsys.readouterr().err
    assert code == 1
    assert "keras vs jax" in err and "classifier.1.weight" in err and "after step 3" in err
    assert "tier 1 alexnet/paper" in err
    (path,) = (tmp_path / "p").glob("parity-*.json")
    record = json.loads(path.read_text())
    assert record["passed"] is False and len(record["failures"]) == 1


def test_error_metrics():
    b = np.array([1.0, -4.0, 2.0])
    a = b + np.array([0.0, 0.0, 1e-3])
    assert parity.max_rel(a, b) == pytest.approx(1e-3 / 4)
    assert parity.rel_l2(a, b) == pytest.approx(1e-3 / np.sqrt(21))
    assert parity.scalar_rel(2.0 + 1e-6, 2.0) == pytest.approx(5e-7)
    assert parity.max_rel(-b, b) == 2.0  # |a - b|, never a signed difference
