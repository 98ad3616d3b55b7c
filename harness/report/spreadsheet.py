"""summary.csv: one row per framework x device x measurement (and per other execution mode),
the main metrics as columns; empty fields are missing figures and `note` says why."""

from __future__ import annotations

import csv
import io
import math

from harness.report.cells import Cells
from harness.report.select import Cell, Selection, device_key, measurement_key, peak_gflops

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
        "rank",
        *CSV_METRICS,
        *[f"parity_{n}" for n in parity_names],
        "note",
    ]
    kinds = {"train": 0, "throughput": 1, "parity": 2}
    cells = sorted(
        selection.cells.values(),
        key=lambda c: (kinds.get(c.kind, 3), device_key(c.device), c.framework, measurement_key(c.measurement)),
    )
    ranks = {(d, m): selection.ranks(d, m) for d in selection.devices for m in selection.throughput_measurements}
    # Then every other execution mode's throughput (the cells above hold the default mode's).
    shown = {id(c.entry) for c in cells if c.entry is not None}
    extra = set()
    for (device, framework, _mode, measurement), entry in sorted(selection.mode_entries().items()):
        if id(entry) not in shown:
            cells.append(Cell("throughput", framework, device, measurement, entry=entry))
            extra.add(id(entry))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for c in cells:
        e = c.entry or c.failure
        status = "ok" if c.entry else ("failed" if c.failure else "missing")
        metrics = dict(c.entry.metrics) if c.entry else {}
        peak = peak_gflops(c.entry)
        metrics["peak_gflops"] = peak
        achieved = metrics.get("achieved_gflops")
        metrics["efficiency"] = float(achieved) / peak if peak and achieved is not None else None
        in_ranking = c.kind == "throughput" and id(c.entry) not in extra
        rank = ranks.get((c.device, c.measurement), {}).get(c.framework, ("", False))[0] if in_ranking else ""
        note = "" if c.entry else c.why()
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
            rank,
            *[metrics.get(m) for m in CSV_METRICS],
            *[metrics.get(n) if c.kind == "parity" else None for n in parity_names],
            note,
        ]
        writer.writerow([_csv_value(v) for v in row])
    return buffer.getvalue()
