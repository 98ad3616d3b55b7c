"""The input pipeline and batch size: what the pipeline alone delivers, end-to-end
throughput as a fraction of compute-only (flagged below 0.9), and images/s against the
batch size, a curve per framework and device."""

from __future__ import annotations

from harness.report import svg
from harness.report.cells import Cells
from harness.report.entries import Entry
from harness.report.model import DASH, Section, Table, Value, fixed
from harness.report.select import Cell, device_key

FLAG = 0.9


def _latest(entries: list[Entry], key) -> dict:
    latest: dict = {}
    for e in entries:  # oldest first: later records replace earlier ones
        latest[key(e)] = e
    return latest


def pipeline_table(ctx: Cells) -> Table | None:
    found = _latest([e for e in ctx.s.entries if e.kind == "pipeline"],
                    lambda e: (e.measurement, e.image_size, e.batch_size))  # fmt: skip
    if not found:
        return None
    rows = []
    for (measurement, size, batch), e in sorted(
        found.items(), key=lambda kv: (kv[0][0], kv[0][1] or (), kv[0][2] or 0)
    ):
        cell = Cell("pipeline", e.framework, e.device, e.measurement, entry=e)
        rows.append([
            Value(measurement), Value("x".join(map(str, size or ())) or DASH), Value(str(batch)),
            ctx.figure(cell, "images_per_s", fixed(0)), ctx.ci(cell), Value(str(e.metrics.get("workers", DASH))),
            Value(e.run_id),
        ])  # fmt: skip
    return Table(
        "The input pipeline alone (images/s: uint8 batches prepared once, crops and flips, worker threads)",
        ["dataset / augmentation", "input", "batch", "images/s", "95% CI", "workers", "run"],
        rows,
        (2, 3, 4),
        "input-pipeline",
        precision="uint8",
    )


def ratio_table(ctx: Cells) -> Table:
    """End to end over compute-only, per framework, device, phase and batch size."""
    rows = []
    latest = _latest([e for e in ctx.s.entries if e.kind == "throughput" and e.exec_mode],
                     lambda e: (e.device, e.framework, e.exec_mode, e.measurement, e.batch_size))  # fmt: skip
    for (device, framework, mode, measurement, batch), e in sorted(
        latest.items(), key=lambda kv: (device_key(kv[0][0]), *kv[0][1:3], kv[0][3], kv[0][4] or 0)
    ):
        if not measurement.endswith("/end_to_end"):
            continue
        phase = measurement.split("/")[0]
        compute = latest.get((device, framework, mode, f"{phase}/compute_only", batch))
        ratio = e.metrics.get("ratio_to_compute_only")
        if ratio is None and compute is not None and compute.metrics.get("images_per_s"):
            ratio = (e.metrics.get("images_per_s") or 0) / compute.metrics["images_per_s"]  # records before the metric
        text = DASH if ratio is None else f"{ratio:.2f}" + (" (below 0.9)" if ratio < FLAG else "")
        rows.append([
            Value(device.upper()), Value(framework), Value(mode), Value(phase), Value(str(batch)),
            Value(f"{e.metrics['images_per_s']:.1f}") if e.metrics.get("images_per_s") else Value(DASH),
            Value(f"{compute.metrics['images_per_s']:.1f}") if compute and compute.metrics.get("images_per_s")
            else Value(DASH),
            Value(text), Value(e.run_id),
        ])  # fmt: skip
    return Table(
        "End to end as a fraction of compute-only (images/s)",
        ["device", "framework", "mode", "phase", "batch", "end to end", "compute only", "fraction", "run"],
        rows,
        (4, 5, 6, 7),
        "end-to-end-fraction",
    )


def input_pipeline(ctx: Cells) -> Section:
    tables = [t for t in (pipeline_table(ctx), ratio_table(ctx)) if t is not None]
    return Section(
        "Input pipeline",
        text=[
            "End-to-end steps take uint8 batches from alexbench's input pipeline (prepared once at the model's "
            "size; crops and flips by slicing; made by worker threads ahead of the step; normalized on the device). "
            f"A fraction below {FLAG} means the pipeline or the copy to the device holds the step back: the "
            "end-to-end figure then measures alexbench, not the framework."
        ],
        tables=tables,
    )


def batch_sizes(ctx: Cells) -> Section:
    """Compute-only images/s against the batch size, where a run measured several."""
    latest = _latest([e for e in ctx.s.entries if e.kind == "throughput" and e.measurement.endswith("compute_only")],
                     lambda e: (e.device, e.framework, e.measurement, e.batch_size))  # fmt: skip
    curves: dict[tuple[str, str, str], list[tuple[int, Entry]]] = {}
    for (device, framework, measurement, batch), e in latest.items():
        if batch:
            curves.setdefault((device, framework, measurement), []).append((batch, e))
    if not any(len(points) > 1 for points in curves.values()):
        return Section("Batch size", text=["One batch size per framework in these results: no curve to draw "
                                           "(`alexbench run --batch-sizes 32,256`)."])  # fmt: skip
    rows, plots = [], []
    for key in sorted(curves, key=lambda k: (device_key(k[0]), k[2], k[1])):
        for batch, e in sorted(curves[key]):
            cell = Cell("throughput", e.framework, e.device, e.measurement, entry=e)
            rows.append([Value(key[0].upper()), Value(key[1]), Value(key[2]), Value(str(batch)),
                         ctx.rate_with_ci(cell), Value(e.exec_mode or DASH), Value(e.run_id)])  # fmt: skip
    for device in sorted({k[0] for k in curves}, key=device_key):
        for measurement in sorted({k[2] for k in curves if k[0] == device}):
            lines = [(f"{f} images/s", [(float(b), float(e.metrics["images_per_s"])) for b, e in sorted(points)
                                          if e.metrics.get("images_per_s")], None)
                     for (d, f, m), points in sorted(curves.items()) if d == device and m == measurement]  # fmt: skip
            title = f"{measurement.split('/')[0].capitalize()}, compute only, on {device.upper()}: images/s by batch"
            plots.append((svg.line_chart(title, lines, "batch size", "images/s", x_name="batch"),
                          "Compute-only images/s (median) at each batch size measured."))  # fmt: skip
    table = Table("Compute-only images/s by batch size", ["device", "framework", "measurement", "batch",
                  "images/s [95% CI]", "mode", "run"], rows, (3, 4), "batch-size")  # fmt: skip
    return Section("Batch size", text=["Throughput against the batch size (compute only)."], tables=[table],
                   plots=plots)  # fmt: skip
