"""Parity of VGG-11 (harness.parity on the vgg11 definition): tier 1 (float64, exact) and
tier 2 (float32) of every framework against the plain torch.nn VGG-11 golden
(harness.reference.golden) and pairwise, at every step; data parallel on torch's engine; and
two VGG-specific wrong ports that tier 1 must catch: the 7x7 map flattened in the wrong order
before classifier.0, and a max pool with the wrong stride.

Width 1/16 (4-32 channels, 256 hidden) on the small config (96x128: a 3x4 map into the 7x7
adaptive pool, whose bins overlap): what these tiers prove -- layouts, padding, pooling,
the flatten order, the update rule -- does not depend on the channel counts;
`alexbench parity --models vgg11` runs them at width 0.25, and tests/impls/
test_torchvision_weights.py checks torchvision's own vgg11 at full size and width."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

pytest.importorskip("torch")  # the golden is a plain torch.nn float64 network

import impls  # noqa: E402
from harness import parity  # noqa: E402
from harness.parity.distributed import BATCH_NORM_VARIANTS, CONTROLS, data_parallel  # noqa: E402
from impls import networks  # noqa: E402
from impls.config import layers  # noqa: E402
from impls.networks.ops import MaxPool  # noqa: E402
from tests.conftest import FRAMEWORKS, require, tested  # noqa: E402

NET = "vgg11/torchvision"
WIDTH = 0.0625
STEPS, BATCH = 5, 4
N_TENSORS = 22  # 8 convolutions + 3 dense layers, weight and bias each
FC1 = "classifier.0.weight"  # the dense layer that reads the flattened 7x7 map


@pytest.fixture(scope="module")
def vgg():
    inputs = parity.make_inputs(parity.small_config(NET, width=WIDTH), steps=STEPS, batch=BATCH)
    inputs.ensure_references(float32=True)
    frameworks = tested()
    two, _ = parity.tier2(NET, frameworks=frameworks, inputs=inputs)
    one = parity.tier1(NET, frameworks=frameworks, inputs=inputs)
    return {"inputs": inputs, 1: one, 2: two}


def assert_all_pass(rows):
    crashed = [r for r in rows if r.quantity == "run"]
    assert not crashed, "\n".join(r.describe() for r in crashed)
    failures = [r.describe() for r in rows if not r.passed]
    assert not failures, "\n".join(failures)
    assert sorted(r.step for r in rows if r.quantity == "step_loss") == list(range(1, STEPS + 1))
    assert len([r for r in rows if r.quantity == "grads"]) == N_TENSORS
    assert len([r for r in rows if r.quantity == "weights"]) == N_TENSORS


def test_the_small_vgg_config_makes_the_pool_and_the_flatten_do_work():
    config = parity.small_config(NET, width=WIDTH)
    pool = next(layer for layer in layers(config) if layer.op.name == "avgpool")
    assert pool.in_shape[1:] == (3, 4) and pool.out_shape[1:] == (7, 7)  # overlapping bins, not a copy
    dense = next(layer for layer in layers(config) if layer.op.name == "classifier.0")
    assert dense.flattened_from == (32, 7, 7)  # an NHWC port must permute FC1's columns


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("tier", [1, 2])
def test_vgg11_against_the_golden(vgg, framework, tier):
    require(framework)
    rows = [r for r in vgg[tier] if r.b == parity.GOLDEN and r.a == framework]
    assert_all_pass(rows)
    worst = max(r.error for r in rows if r.bound is not None)
    print(f"tier {tier} {framework} vs golden, worst: {worst:.2e}")


@pytest.mark.parametrize("a, b", list(itertools.combinations(FRAMEWORKS, 2)))
def test_vgg11_pairwise_float64(vgg, a, b):
    require(a)
    require(b)
    assert_all_pass([r for r in vgg[1] if {r.a, r.b} == {a, b}])


def test_a_vgg_port_flattening_the_7x7_map_in_the_wrong_order_is_caught_by_tier1(vgg, framework, monkeypatch):
    """An NHWC port that forgets FC1's column permutation; torch (which flattens in (C, H, W))
    gets the equivalent mistake: classifier.0's weights in (H, W, C) order."""
    from impls import layout
    from tests.harness.parity.test_parity import _patch_fc1_permutation

    require(framework)
    inputs = vgg["inputs"]
    weights = dict(inputs.weights)
    model = impls.create(framework, inputs.config.replace(dtype="float64"), optimizer=inputs.optimizer)
    if not _patch_fc1_permutation(monkeypatch, model):
        weights[FC1] = layout.fc1_chw_to_hwc(weights[FC1], model.params[FC1].flattened_from)
    rows = parity.compare(parity.run_model(model, weights, inputs.batches, steps=0), inputs.golden, 1, NET, "small")
    for row in (next(r for r in rows if r.quantity == "logits"), next(r for r in rows if r.tensor == FC1)):
        assert row.error > 1e-3 and not row.passed, row.describe()  # >= 1e6 x the 1e-9 bound


def test_a_vgg_with_a_max_pool_of_the_wrong_stride_is_caught_by_tier1(vgg, framework, monkeypatch):
    """features.2 (the first 2x2 pool) with stride 1 in the shared definition: every parameter
    keeps its shape (the 7x7 adaptive pool fixes classifier.0's input), so only the numbers
    can tell -- and tier 1 against the independent golden does."""
    require(framework)
    right = networks.get("vgg11")

    def wrong_stride(config):
        return tuple(
            dataclasses.replace(op, stride=1) if isinstance(op, MaxPool) and op.name == "features.2" else op
            for op in right.build(config)
        )

    monkeypatch.setitem(networks._MODELS, "vgg11", dataclasses.replace(right, build=wrong_stride))
    layers.cache_clear()  # the layers of a config are cached: the patched definition must be walked
    try:
        inputs = vgg["inputs"]
        model = impls.create(framework, inputs.config.replace(dtype="float64"), optimizer=inputs.optimizer)
        run = parity.run_model(model, inputs.weights, inputs.batches, steps=0)
    finally:
        monkeypatch.undo()
        layers.cache_clear()
    rows = parity.compare(run, inputs.golden, 1, NET, "small")
    logits = next(r for r in rows if r.quantity == "logits")
    grads = max((r for r in rows if r.quantity == "grads"), key=lambda r: r.error)
    for row in (logits, grads):
        assert row.error > 1e-3 and not row.passed, row.describe()


def test_vgg11_data_parallel_float64_on_torch_equals_one_process():
    """Tier 5 for VGG-11 with its controls, on torch's DDP (the quickest engine to launch; every
    engine runs in `alexbench parity --models vgg11`)."""
    require("torch")
    rows = data_parallel(["torch"], "float64", world=2, steps=3, batch=8, variant=NET, width=WIDTH)
    crashed = [r for r in rows if r.quantity == "run"]
    assert not crashed, crashed[0].note
    checked = [r for r in rows if r.quantity != "control"]
    assert len([r for r in checked if r.quantity == "grads"]) == N_TENSORS
    assert all(r.passed for r in checked), [r.describe() for r in checked if not r.passed]
    caught = {r.a.rsplit(":", 1)[1]: r for r in rows if r.quantity == "control"}
    assert set(caught) == set(CONTROLS) - set(BATCH_NORM_VARIANTS)  # no BatchNorm: no local-stats control
    assert all(r.passed for r in caught.values())
