"""ReLU sign flips: units whose pre-activation sits within float32 rounding of zero take
the other branch in float32 and move every upstream gradient. They are counted on the
float32 reference against the float64 golden (forward hooks on the reference, so no
implementation is instrumented), on batch 0 and at every step, and shown next to the errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class FlipReport:
    """ReLU sign flips of the float32 reference against the float64 golden."""

    initial: list[dict]  # per layer, batch 0 at the initial weights (where gradients are compared)
    per_step: list[dict]  # per SGD step k: {"step", "flips", "layers": {layer: n}, "first": {...} or None}

    def first_step(self) -> int | None:
        return next((s["step"] for s in self.per_step if s["flips"]), None)

    def describe_trajectory(self) -> str:
        if not self.per_step:
            return "no trajectory"
        counts = ",".join(str(s["flips"]) for s in self.per_step)
        first = self.first_step()
        if first is None:
            return f"no ReLU sign flip in {len(self.per_step)} steps"
        f = self.per_step[first - 1]["first"]
        return (
            f"ReLU sign flips per step [{counts}]; first at step {first}: {f['layer']} "
            f"(float64 {f['float64']:.2e}, float32 {f['float32']:.2e}); the trajectories differ from there on"
        )

    def to_json(self) -> dict:
        return {"initial": self.initial, "per_step": self.per_step, "first_step": self.first_step()}


def relu_flips(reference: dict[str, np.ndarray], other: dict[str, np.ndarray]) -> list[dict]:
    """Per ReLU layer: units whose sign (pre-activation > 0) differs between two recorded
    forward passes, and the flipped unit whose reference (float64) value is closest to zero."""
    rows = []
    for layer, pre64 in reference.items():
        pre = other[layer]
        flipped = (pre64 > 0) != (pre > 0)
        count = int(flipped.sum())
        row = {"layer": layer, "units": int(pre64.size), "flips": count, "nearest_float64": None, "float32": None}
        if count:
            values64, values = pre64[flipped], pre[flipped]
            i = int(np.argmin(np.abs(values64)))
            row["nearest_float64"], row["float32"] = float(values64[i]), float(values[i])
        rows.append(row)
    return rows


def step_flips(step: int, layers: list[dict]) -> dict:
    flipped = [r for r in layers if r["flips"]]
    first = None
    if flipped:
        r = min(flipped, key=lambda r: abs(r["nearest_float64"]))
        first = {"layer": r["layer"], "float64": r["nearest_float64"], "float32": r["float32"]}
    return {
        "step": step,
        "flips": sum(r["flips"] for r in layers),
        "layers": {r["layer"]: r["flips"] for r in flipped},
        "first": first,
    }


def describe_flips(flips: list[dict]) -> str:
    total = sum(r["flips"] for r in flips)
    units = sum(r["units"] for r in flips)
    text = f"{total} of {units:,} units"
    flipped = [r for r in flips if r["flips"]]
    if flipped:
        parts = [
            f"{r['layer']}: {r['flips']} of {r['units']:,} "
            f"(float64 {r['nearest_float64']:.2e}, float32 {r['float32']:.2e})"
            for r in flipped
        ]
        text += " [" + "; ".join(parts) + "]"
    return text
