"""summary.csv: one row per workload x framework x device x measurement (and per other
execution mode), the main metrics as columns; empty fields are missing figures and `note`
says why. Rows of one workload follow each other (headline workload first, as in the
report), and `rank` is within the row's workload, device and measurement."""

from __future__ import annotations

import csv
import io
import math

from harness.report.cells import Cells
from harness.report.select import Cell, Selection, device_key, measurement_key, peak_gflops
from harness.results import Workload

CSV_METRICS = (
    "images_per_s",
    "images_per_s_ci95_low",
    "images_per_s_ci95_high",
    "images_per_s_iqr",
    "step_seconds_p50",
    "step_seconds_p90",
    "steps",
    "warmup_first_seconds",
    "warmup_seconds_total",
    "flops_per_image",
    "achieved_gflops",
    "peak_gflops",
    "efficiency",
    "peak_rss_bytes",
    "device_peak_bytes",
    "board_memory_max_bytes",
    "joules_per_image",
    "watts_mean",
    "gpu_util_mean",
    "top1",
    "top5",
    "test_loss",
    "train_loss",
    "seconds",
)


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if isinstance(value, int):
        return str(value)
    return spreadsheet_text(str(value))


def spreadsheet_text(text: str) -> str:
    """Text a spreadsheet shows as text: a cell that begins with =, +, -, @ (or a tab or
    carriage return) would be run as a formula; a leading ' keeps it text (OWASP's advice)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def summary_csv(selection: Selection, cells: Cells | None = None) -> str:
    """One row per framework x device x measurement with the main metrics; empty fields
    are missing figures, `note` says why (a failure's error, or the record's notes)."""
    parity_names = (cells or Cells(selection)).parity_metrics()
    header = [
        "kind",
        "framework",
        "device",
        "measurement",
        "mode",
        "status",
        "run_id",
        "variant",
        "precision",
        "batch_size",
        "image_size",
        "dataset",
        "model",
        "width",
        "in_channels",
        "workload",
        "rank",
        *CSV_METRICS,
        *[f"parity_{n}" for n in parity_names],
        "note",
    ]
    rows: list[tuple[Workload | None, Selection, Cell]] = []
    for kind in ("train", "throughput"):  # each workload's cells of the kind, headline workload first
        for workload, chosen in selection.by_workload(kind):
            rows += [(workload, chosen, c) for c in _sorted(chosen, lambda c, k=kind: c.kind == k)]
    rows += [(None, selection, c) for c in _sorted(selection, lambda c: c.kind not in ("train", "throughput"))]
    ranks = {
        (id(chosen), d, m): chosen.ranks(d, m)
        for chosen in {id(s): s for _, s, _ in rows}.values()
        for d in chosen.devices for m in chosen.throughput_measurements
    }  # fmt: skip
    # Then every other execution mode's throughput (the cells above hold the default mode's).
    shown = {id(c.entry) for _, _, c in rows if c.entry is not None}
    extra = set()
    for workload, chosen in selection.by_workload("throughput"):
        for (device, framework, _mode, measurement), entry in sorted(chosen.mode_entries().items()):
            if id(entry) not in shown:
                rows.append((workload, chosen, Cell("throughput", framework, device, measurement, entry=entry)))
                extra.add(id(entry))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for workload, chosen, c in rows:
        e = c.entry or c.failure
        status = "ok" if c.entry else ("failed" if c.failure else "missing")
        metrics = dict(c.entry.metrics) if c.entry else {}
        peak = peak_gflops(c.entry)
        metrics["peak_gflops"] = peak
        achieved = metrics.get("achieved_gflops")
        metrics["efficiency"] = float(achieved) / peak if peak and achieved is not None else None
        in_ranking = c.kind == "throughput" and id(c.entry) not in extra
        ranked = ranks.get((id(chosen), c.device, c.measurement), {})
        rank = ranked.get(c.framework, ("", False))[0] if in_ranking else ""
        note = "" if c.entry else c.why()
        identity = None if c.kind == "parity" else (c.entry.workload if c.entry else workload)
        row = [
            c.kind,
            c.framework,
            c.device,
            c.measurement,
            e.exec_mode if e and c.kind == "throughput" else "",
            status,
            e.run_id if e else "",
            e.variant if c.entry else "",
            e.precision if c.entry else "",
            e.batch_size if c.entry else "",
            "x".join(str(i) for i in e.image_size) if c.entry and e.image_size else "",
            e.dataset if c.entry else "",
            identity.model if identity else "",
            identity.width if identity else None,
            identity.in_channels if identity else None,
            identity.label(precision=identity.precision or "float32") if identity else "",
            rank,
            *[metrics.get(m) for m in CSV_METRICS],
            *[metrics.get(n) if c.kind == "parity" else None for n in parity_names],
            note,
        ]
        writer.writerow([_csv_value(v) for v in row])
    return buffer.getvalue()


def _sorted(selection: Selection, wanted) -> list[Cell]:
    """The selection's cells that `wanted` keeps, in the sheet's order: kind, device, framework, measurement."""
    kinds = {"train": 0, "throughput": 1, "parity": 2}
    cells = [c for c in selection.cells.values() if wanted(c)]
    return sorted(cells, key=lambda c: (kinds.get(c.kind, 3), device_key(c.device), c.framework,
                                        measurement_key(c.measurement)))  # fmt: skip
