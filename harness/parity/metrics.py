"""The parity tiers' bounds and metrics, and the Check (one measured error) they produce.

Tier 1 (float64) proves the function: anything above 1e-9 is a real difference in layout,
padding, pooling, LRN or the update rule. Tier 2 (float32) measures rounding against the
float64 golden. Tier 3 applies tier 2's bounds to the other float32 execution modes, tier 4
its own, reduced-precision bounds to the bfloat16 modes (measured, below).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from impls.config import SGDConfig

PARITY_SGD = SGDConfig(lr=0.001, momentum=0.9, weight_decay=5e-4)
GOLDEN = "golden"  # plain torch.nn float64 AlexNet + torch.optim.SGD
F32_REFERENCE = "torch-f32-ref"  # the same plain torch.nn network in float32 (counts ReLU sign flips)

# quantity -> (metric, bound); a bound of None is reported, never asserted.
# Networks with BatchNorm add three: "train_logits" (the train-mode forward, batch statistics,
# at the initial weights), "stats" (the running statistics after every step) and "eval_after"
# (the eval-mode logits after the trajectory: asserted in float64, reported in float32 and
# bfloat16 like the weights, which carry the trajectory's rounding).
TOLERANCES: dict[int, dict[str, tuple[str, float | None]]] = {
    1: {
        "logits": ("max_rel", 1e-9),
        "train_logits": ("max_rel", 1e-9),
        "loss": ("rel", 1e-9),
        "grads": ("max_rel", 1e-9),
        "step_loss": ("rel", 1e-9),
        "weights": ("max_rel", 1e-9),
        "stats": ("max_rel", 1e-9),
        "eval_after": ("max_rel", 1e-9),
    },
    2: {
        "logits": ("max_rel", 1e-5),
        "train_logits": ("max_rel", 1e-5),
        "loss": ("rel", 1e-4),
        "grads": ("rel_l2", 2e-3),
        "step_loss": ("rel", 1e-4),
        "weights": ("rel_l2", None),
        "stats": ("rel_l2", None),
        "eval_after": ("max_rel", None),
    },
}
TOLERANCES[3] = dict(TOLERANCES[2])  # float32 execution modes: the float32 bounds
# bfloat16 modes (8-bit mantissa, rounding ~4e-3 per operation). Measured on the small
# config, batch 4 to 16, against float64: logits 4.5e-3 to 4.7e-3; gradients grow with depth
# from the output, 4e-3 (last FC) to 0.19 (conv1), because every layer of the backward pass
# rounds again; the same in torch, Keras and JAX. Bounds: ~4x logits, ~2x conv1's gradient.
TOLERANCES[4] = {
    "logits": ("rel_l2", 2e-2),
    "train_logits": ("rel_l2", 2e-2),
    "loss": ("rel", 2e-2),
    "grads": ("rel_l2", 0.35),
    "step_loss": ("rel", 3e-2),
    "weights": ("rel_l2", None),
    "stats": ("rel_l2", None),
    "eval_after": ("rel_l2", None),
}
# A model's own bounds where its bfloat16 rounding is measured larger (tier 4). ResNet-18
# (small config, batch 4): BatchNorm's backward sums dy * x_hat over the batch, whose terms
# cancel, so its scale and shift gradients lose most bf16 digits: measured rel_l2 up to 0.52
# (bn1.weight, torch's own autocast), 0.49 (JAX), 0.40 (Keras); the train-mode logits 2.5e-2
# (torch), 2.1e-2 (Keras, JAX). Bounds: ~2x the worst; every other quantity keeps tier 4's.
MODEL_TOLERANCES: dict[str, dict[int, dict[str, tuple[str, float | None]]]] = {
    "resnet18": {4: {"train_logits": ("rel_l2", 5e-2), "grads": ("rel_l2", 1.0)}},
}


def tolerance(tier: int, quantity: str, model: str | None = None) -> tuple[str, float | None]:
    """(metric, bound) of `quantity` in `tier` for `model` (MODEL_TOLERANCES, then TOLERANCES)."""
    return MODEL_TOLERANCES.get(model or "", {}).get(tier, {}).get(quantity) or TOLERANCES[tier][quantity]


# Data parallel (harness.parity.distributed): 2 ranks against one process, tier 1's bounds in
# float64 (tier 5) and tier 2's in float32 (tier 6); a control (a wrong recipe) must miss
# them by 100x (CONTROL_MARGIN).
TOLERANCES[5] = {q: v for q, v in TOLERANCES[1].items() if q not in ("logits", "train_logits", "eval_after")}
TOLERANCES[6] = {q: v for q, v in TOLERANCES[2].items() if q not in ("logits", "train_logits", "eval_after")}
CONTROL_MARGIN = 1e-2  # bound / error of a control must be at most this: caught by 100x or more
# (not 1000x: summing over 2 ranks is off by exactly 1.0, only 500x float32's 2e-3 bound)
TIER_TITLES = {
    1: "tier 1, float64, exact",
    2: "tier 2, float32 vs the float64 golden and pairwise",
    3: "tier 3, float32 execution modes (not the defaults) vs the float64 golden",
    4: "tier 4, bfloat16 execution modes vs the float64 golden",
    5: "tier 5, data parallel vs one process, float64",
    6: "tier 6, data parallel vs one process, float32",
}
QUANTITIES = ("logits", "train_logits", "loss", "grads", "step_loss", "weights", "stats", "eval_after")
METRIC_HELP = {
    "max_rel": "max|a-b| / max|b| per tensor",
    "rel": "|a-b| / |b|",
    "rel_l2": "||a-b||_2 / ||b||_2 per tensor",
    "bound/error": "a control's gradient bound / its error: small = the wrong recipe was caught",
}


# ------------------------------------------------------------------------ error metrics
def max_rel(a, b) -> float:
    """max|a - b| / max|b|: the per-tensor relative error of tier 1 (and of logits)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    diff = np.atleast_1d(a - b)  # 0-d tensors too (num_batches_tracked)
    np.abs(diff, out=diff)
    return float(diff.max() / max(float(np.abs(b).max()), 1e-300))


def rel_l2(a, b) -> float:
    """||a - b||_2 / ||b||_2: the per-tensor relative error of float32 gradients."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm((a - b).ravel()) / max(float(np.linalg.norm(b.ravel())), 1e-300))


def scalar_rel(a: float, b: float) -> float:
    return abs(float(a) - float(b)) / max(abs(float(b)), 1e-300)


METRICS = {"max_rel": max_rel, "rel_l2": rel_l2, "rel": scalar_rel}


@dataclass
class Check:
    """One measured error: framework `a` against `b` (the golden, or the pair's second
    framework, whose tensor gives the scale). `step` counts SGD steps: the loss of step k
    is computed before the k-th update, weights are compared after step `step`; None for
    logits, loss and gradients, which are taken at the initial weights on batch 0."""

    tier: int
    variant: str
    size: str  # "small" or "full"
    quantity: str  # logits, loss, grads, step_loss, weights, run (a framework that crashed)
    a: str
    b: str
    tensor: str  # canonical weight name, "logits" or "loss"
    step: int | None
    metric: str
    error: float
    bound: float | None
    note: str = ""

    @property
    def passed(self) -> bool:
        if self.bound is None:
            return True
        return math.isfinite(self.error) and self.error <= self.bound

    @property
    def pair(self) -> str:
        return f"{self.a} vs {self.b}"

    def where(self) -> str:
        if self.quantity == "step_loss":
            return f"loss at step {self.step}"
        what = self.quantity if self.tensor in (self.quantity, "") else f"{self.quantity} {self.tensor}"
        if self.step is not None:
            after = self.quantity in ("weights", "stats", "eval_after")
            what += f" after step {self.step}" if after else f" at step {self.step}"
        return what

    def describe(self) -> str:
        if self.quantity == "run":
            return f"tier {self.tier} {self.variant} {self.size}: {self.a} crashed: {self.note}"
        bound = "reported" if self.bound is None else f"{'<=' if self.passed else '>'} {self.bound:.0e}"
        text = (
            f"tier {self.tier} {self.variant} {self.size}: {self.pair}, {self.where()}: "
            f"{self.error:.3e} {bound} ({self.metric})"
        )
        return text + (f"; {self.note}" if self.note else "")

    def to_json(self) -> dict:
        row = asdict(self)
        row["error"] = self.error if math.isfinite(self.error) else str(self.error)
        row["passed"] = self.passed
        return row


def failed_run(tier: int, variant: str, size: str, name: str, error: BaseException) -> Check:
    return Check(
        tier, variant, size, "run", name, GOLDEN, "", None, "", math.inf, 0.0, f"{type(error).__name__}: {error}"
    )
