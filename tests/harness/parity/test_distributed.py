"""harness.parity.distributed (tiers 5 and 6): each framework's data-parallel engine on two
processes against one process on the whole batch, and the controls that must be caught.
Each launch starts real ranks (torchrun, jax.distributed, MultiWorkerMirroredStrategy)."""

from __future__ import annotations

import pytest

from harness.parity.distributed import BATCH_NORM_VARIANTS, CONTROLS, compare, data_parallel
from impls.config import SMALL_WIDTH
from tests.conftest import require

WEIGHTS = 16  # 8 layers x (weight, bias)
WIDTH = SMALL_WIDTH  # the launches prove the engines' averaging, not a size


def check_rows(rows, bound: float, controls: bool = True) -> None:
    crashed = [r for r in rows if r.quantity == "run"]
    assert not crashed, crashed[0].note
    checked = [r for r in rows if r.quantity != "control"]
    assert {r.quantity for r in checked} == {"loss", "grads", "step_loss", "weights"}
    assert len([r for r in checked if r.quantity == "grads"]) == WEIGHTS
    bounded = [r for r in checked if r.bound is not None]
    assert bounded and all(r.bound <= bound for r in bounded)
    failed = [r.describe() for r in checked if not r.passed]
    assert not failed, failed
    caught = {r.a.rsplit(":", 1)[1]: r for r in rows if r.quantity == "control"}
    assert set(caught) == (set(CONTROLS) - set(BATCH_NORM_VARIANTS) if controls else set())  # AlexNet: no BatchNorm
    for control in caught.values():  # caught: the wrong recipe missed the bound by 100x or more
        assert control.passed and control.error <= 1e-2, control.describe()


def test_float64_data_parallel_equals_one_process(framework):
    """The 5-step trajectory on every engine; the controls on torch's (the quickest engine:
    the check itself is one, and `alexbench parity` runs the controls on every engine)."""
    controls = framework == "torch"
    rows = data_parallel([framework], "float64", world=2, steps=5, batch=8, controls=controls, width=WIDTH)
    check_rows(rows, 1e-9, controls)
    assert all(r.tier == 5 for r in rows)


def test_float32_data_parallel_is_within_tier_2_bounds():
    require("torch")  # one framework: the float32 path of the task is the same for all
    rows = data_parallel(["torch"], "float32", world=2, steps=5, batch=8, width=WIDTH)
    check_rows(rows, 2e-3)
    assert all(r.tier == 6 for r in rows)


def outputs(mean_grad_error: float, control_error: float) -> dict[int, dict]:
    """Ranks' results as the rank task writes them, with chosen errors."""

    def variant(error: float, loss: float) -> dict:
        errors = {"max_rel": error, "rel_l2": error}
        return {"loss": loss, "step_losses": [loss, loss], "grads": {"conv1.weight": errors},
                "weights": {"conv1.weight": errors}}  # fmt: skip

    ranks = {}
    for rank in range(2):
        ranks[rank] = {"variants": {
            "reference": {"loss": 2.0, "step_losses": [2.0, 2.0]},
            "mean": variant(mean_grad_error, 2.0),
            "sum": variant(control_error, 2.0),
            "same-shard": variant(control_error, 2.0),
        }}  # fmt: skip
    return ranks


@pytest.mark.parametrize(
    ("mean_error", "control_error", "failing"),
    [(0.0, 1.0, set()), (1e-6, 1.0, {"grads", "weights"}), (0.0, 1e-8, {"control"})],
    ids=["passes", "data-parallel-off", "control-not-caught"],
)
def test_the_tier_fails_when_data_parallel_is_off_or_a_control_is_not_caught(mean_error, control_error, failing):
    rows = compare("torch", 2, outputs(mean_error, control_error), 5, "torchvision", 2)
    assert {r.quantity for r in rows if not r.passed} == failing
