"""The parity document and summary records: the console table of worst errors per pair,
the detailed JSON document (every check), and one summary record per framework and network
that `alexbench report` shows.
"""

from __future__ import annotations

import json
import math
import platform
from pathlib import Path

import numpy as np

from harness import results
from harness.parity.metrics import CONTROL_MARGIN, GOLDEN, METRIC_HELP, QUANTITIES, TOLERANCES, Check
from harness.reference import golden


def worst_by_pair(rows: list[Check]) -> dict[str, dict[str, Check]]:
    """pair -> quantity -> the row with the largest error (a failing row wins)."""
    table: dict[str, dict[str, Check]] = {}
    for row in rows:
        cells = table.setdefault(row.pair, {})
        best = cells.get(row.quantity)
        key = (not row.passed, row.error if math.isfinite(row.error) else math.inf)
        if best is None or key > (not best.passed, best.error if math.isfinite(best.error) else math.inf):
            cells[row.quantity] = row
    return table


def format_table(rows: list[Check], title: str) -> str:
    if not rows:
        return f"{title}\n  (nothing checked)"
    quantities = [q for q in (*QUANTITIES, "control", "run") if any(r.quantity == q for r in rows)]
    table = worst_by_pair(rows)
    width = max([len(p) for p in table] + [10])
    tier = rows[0].tier
    heads = []
    for q in quantities:
        if q in ("run", "control"):
            heads.append("run" if q == "run" else f"control <={CONTROL_MARGIN:.0e}")
            continue
        metric, bound = next(((r.metric, r.bound) for r in rows if r.quantity == q), TOLERANCES[tier][q])
        heads.append(f"{q} {'(info)' if bound is None else f'<={bound:.0e}'}")
    col = max(12, *(len(h) for h in heads))
    lines = [title, "  " + " " * width + "".join(f"  {h:>{col}}" for h in heads)]
    for pair, cells in table.items():
        text = []
        for q in quantities:
            row = cells.get(q)
            if row is None:
                text.append(f"  {'-':>{col}}")
            elif row.quantity == "run":
                text.append(f"  {'CRASHED':>{col}}")
            else:
                text.append(f"  {row.error:>{col - 1}.2e}{' ' if row.passed else '!'}")
        lines.append(f"  {pair:<{width}}" + "".join(text))
    metrics = sorted({TOLERANCES[tier][q][0] for q in quantities if q not in ("run", "control")})
    metrics += ["bound/error"] if "control" in quantities else []
    lines.append(
        "  (worst per quantity; " + "; ".join(f"{m}: {METRIC_HELP[m]}" for m in metrics) + "; ! = bound exceeded)"
    )
    return "\n".join(lines)


def environment(frameworks) -> dict:
    """harness.env's machine facts (git commit, CPU, OS, ...) plus every version involved."""
    import impls
    from harness import env as env_module

    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for name in frameworks:
        try:
            versions.update(impls.implementation_class(name).versions())
        except Exception as error:  # noqa: BLE001 - a record must still be written
            versions[name] = f"unavailable: {error}"
    for name, version in golden.versions().items():
        versions.setdefault(name, version)  # the golden's framework
    return {**env_module.machine(), "versions": versions}


def write_document(document: dict, layout: results.Layout) -> Path:
    """Write the detailed document atomically as <results>/parity/parity-<UTC time>.json."""
    path = results.unused_path(layout.parity, "parity")
    return results.write_text(path, json.dumps(document, indent=1) + "\n")


def summary_metrics(rows: list[Check], framework: str) -> dict[str, float | int | None]:
    """The worst error of `framework` against the float64 golden, per tier and quantity."""

    def worst(tier: int, quantities: tuple[str, ...]) -> float | None:
        errors = [
            r.error for r in rows
            if r.tier == tier and r.quantity in quantities and GOLDEN in (r.a, r.b) and framework in (r.a, r.b)
        ]  # fmt: skip
        return max(errors) if errors else None

    def worst_mode(tier: int, *quantities: str) -> float | None:
        errors = [r.error for r in rows if r.tier == tier and r.quantity in quantities and _owner(r.a) == framework]
        return max(errors) if errors else None

    mine = [r for r in rows if framework in (_owner(r.a), _owner(r.b))]
    return {
        "tier1_max_rel": worst(1, QUANTITIES),
        "tier2_logits_max_rel": worst(2, ("logits",)),
        "tier2_step_loss_max_rel": worst(2, ("step_loss",)),
        "tier2_grads_rel_l2": worst(2, ("grads",)),
        "tier3_logits_max_rel": worst_mode(3, "logits"),
        "tier3_grads_rel_l2": worst_mode(3, "grads"),
        "tier4_logits_rel_l2": worst_mode(4, "logits"),
        "tier4_grads_rel_l2": worst_mode(4, "grads"),
        "tier4_step_loss_rel": worst_mode(4, "step_loss"),
        "dp_float64_max_rel": worst_mode(5, "loss", "grads", "step_loss", "weights"),
        "dp_float32_grads_rel_l2": worst_mode(6, "grads"),
        "passed": int(all(r.passed for r in mine)),
    }


def _owner(name: str) -> str:
    """The framework of a run name: 'torch:bf16' -> 'torch'."""
    return name.split(":")[0]


def write_summary_records(
    rows: list[Check],
    frameworks: list[str],
    nets: list[str],
    settings: dict,
    layout: results.Layout,
    detail: Path,
) -> Path:
    """One record per framework x network (kind "parity", measurement "model/variant"), in the
    run folder runs/parity-<stamp>/ next to the measurement runs, so `alexbench report` shows
    them. settings: device, batch, steps, seed, size, lr, width (None: each model's)."""
    from harness.parity.runs import SMALL_WIDTHS, net_of

    run_id = detail.stem  # parity-<stamp>
    run_dir = layout.run(run_id)
    machine = environment(frameworks)
    for framework in frameworks:
        for net in nets:
            model, variant = net_of(net)
            width = settings.get("width")
            subset = [r for r in rows if r.variant == net]
            record = results.Record(
                "parity", framework, settings["device"], net, run_id, variant=variant, model=model,
                precision="float64/float32", batch_size=settings["batch"],
                width=SMALL_WIDTHS.get(model, 1.0) if width is None else width,
                metrics=summary_metrics(subset, framework),
                settings={k: settings[k] for k in ("steps", "seed", "size", "lr")},
                notes=[f"worst error against the float64 golden; every check in {detail.name}"],
            )  # fmt: skip
            results.write(run_dir, record, machine)
    return run_dir
