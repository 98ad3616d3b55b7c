"""What `alexbench run --modes best` chose: the bfloat16 headline (the fastest bfloat16 mode
of each framework, ranked among bfloat16 modes only), and per machine the default mode, the
winner of the trial and the margin, from the `selection` records."""

from __future__ import annotations

from harness.report.cells import Cells
from harness.report.entries import Entry
from harness.report.model import DASH, Table, Value, fixed
from harness.report.select import MEASUREMENT_TITLES, device_key

PHASES = ("train", "inference")
EVERY_MODE = "precision per mode (see 'computes in')"  # the caption of tables of float32 and bfloat16 modes


def bfloat16_table(ctx: Cells) -> Table | None:
    """Compute-only images/s of each framework's fastest bfloat16 mode (a --modes best
    trial's choice), ranked against the other bfloat16 modes only; None without a trial."""
    s = ctx.s
    rows = []
    for measurement in ("train/compute_only", "inference/compute_only"):
        for device in s.devices:
            ranks = s.ranks(device, measurement, klass="bfloat16")
            for framework in s.frameworks:
                cell = s.best("bfloat16", framework, device, measurement)
                if cell is None:
                    continue
                rows.append([
                    Value(device.upper()), Value(framework), Value(MEASUREMENT_TITLES[measurement]),
                    ctx.label(cell, "mode"), ctx.label(cell, "batch"), ctx.label(cell, "input"),
                    ctx.figure(cell, "images_per_s", fixed(1)), ctx.ci(cell), ctx.rank(ranks, cell),
                    ctx.label(cell, "run"),
                ])  # fmt: skip
    if not rows:
        return None
    return Table(
        "Fastest bfloat16 mode, compute only (images/s; ranked among bfloat16 modes only)",
        ["device", "framework", "measurement", "mode", "batch", "input", "images/s", "95% CI", "rank", "run"],
        rows,
        (4, 6, 7),
        "bfloat16",
        precision="bfloat16",
    )


def latest_selections(entries: list[Entry]) -> list[Entry]:
    """The newest selection record per device, framework and precision class."""
    latest: dict[tuple[str, str, str], Entry] = {}
    for e in entries:  # oldest first
        if e.kind == "selection":
            latest[(e.device, e.framework, e.measurement)] = e
    return [latest[k] for k in sorted(latest, key=lambda k: (device_key(k[0]), k[1], k[2] != "float32", k[2]))]


def selection_table(ctx: Cells) -> Table | None:
    """Per machine (device), framework, precision class and phase: the default mode, the
    fastest mode in the trial, and the margin (trial images/s of the winner over the default)."""
    rows = []
    for e in latest_selections(ctx.s.entries):
        winners, default = e.settings.get("winners", {}), e.settings.get("default")
        for phase in PHASES:
            winner = winners.get(phase)
            if winner is None:
                continue
            rate = e.metrics.get(f"{phase}/{winner}/images_per_s")
            base = e.metrics.get(f"{phase}/{default}/images_per_s")
            default_text = f"{default} ({base:.1f})" if base is not None else f"{default} (not in this class)"
            margin = e.metrics.get(f"{phase}/margin_over_default")
            others = ", ".join(
                f"{m} {e.metrics[f'{phase}/{m}/images_per_s']:.1f}"
                for m in e.settings.get("candidates", [])
                if m not in (winner, default) and e.metrics.get(f"{phase}/{m}/images_per_s") is not None
            )
            unavailable = ", ".join(sorted(e.settings.get("unavailable", {})))
            rows.append([
                Value(e.device.upper()), Value(e.framework), Value(e.measurement), Value(phase),
                Value(default_text), Value(f"{winner} ({rate:.1f})" if rate is not None else winner),
                Value(f"{margin:.2f}x") if margin is not None else Value(DASH),
                Value(others or DASH), Value(unavailable or DASH), Value(e.run_id),
            ])  # fmt: skip
    if not rows:
        return None
    return Table(
        "Chosen by `--modes best` (compute-only images/s in the trial)",
        ["device", "framework", "computes in", "phase", "default", "fastest", "margin over default",
         "other candidates", "could not run here", "run"],
        rows,
        (6,),
        "best-modes",
        precision=EVERY_MODE,
    )  # fmt: skip
