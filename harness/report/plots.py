"""The report's plots, one function per section that shows them (called by that section):
data from the selected records, drawn by harness.report.svg."""

from __future__ import annotations

from harness.report.cells import Cells
from harness.report.entries import missing
from harness.report.model import DASH
from harness.report.svg import bar_chart, line_chart

Plot = tuple[str, str]  # (svg, caption)


def throughput(ctx: Cells) -> list[Plot]:
    s = ctx.s

    def rate(device):
        def value(measurement, framework):
            cell = s.cell("throughput", framework, device, measurement)
            v = cell.metric("images_per_s")
            return (
                None if v is None else (v, cell.metric("images_per_s_ci95_low"), cell.metric("images_per_s_ci95_high"))
            )

        return value

    return [
        (
            bar_chart(
                f"Throughput on {device.upper()}", s.throughput_measurements, s.frameworks, rate(device), "images/s"
            ),
            f"Images/s on {device.upper()}: median; error bars: 95% CI of the median (none with fewer than 6 steps); "
            f"{DASH}: no figure (see the table's notes).",
        )
        for device in s.devices
    ]


def memory(ctx: Cells) -> list[Plot]:
    s = ctx.s
    series = ["host RSS, throughput", "device, throughput", "host RSS, training", "device, training"]

    def value(label, name):
        device, framework = label.split(" ", 1)
        cell = (
            ctx.first_cell(framework, device.lower())
            if name.endswith("throughput")
            else s.cell("train", framework, device.lower(), "accuracy")
        )
        v = cell.metric("peak_rss_bytes" if name.startswith("host") else "device_peak_bytes")
        return None if v is None else (float(v) / 2**30, None, None)

    labels = [f"{d.upper()} {f}" for d in s.devices for f in s.frameworks]
    return [
        (
            bar_chart("Peak memory", labels, series, value, "GiB"),
            f"Peak host RSS and device memory (GiB); {DASH}: not measured (see the table's notes).",
        )
    ]


def accuracy(ctx: Cells) -> list[Plot]:
    s = ctx.s
    lines = []
    for device in s.devices:
        for framework in s.frameworks:
            e = s.cell("train", framework, device, "accuracy").entry
            if e is None:
                continue
            rows = sorted(
                (r for r in e.samples if isinstance(r, dict) and r.get("epoch") is not None), key=lambda r: r["epoch"]
            )
            for metric, dash in (("test_top1", None), ("test_top5", "5,3")):
                pts = [(float(r["epoch"]), 100 * float(r[metric])) for r in rows if not missing(r.get(metric))]
                if pts:
                    lines.append((f"{framework}/{device} {'top-1' if metric == 'test_top1' else 'top-5'}", pts, dash))
    if not lines:
        return []
    return [
        (
            line_chart("Test accuracy per epoch", lines, "epoch", "accuracy (%)", y_cap=100.0),
            "Top-1 (solid) and top-5 (dashed) test accuracy after each epoch.",
        )
    ]


def parity(ctx: Cells) -> list[Plot]:
    s = ctx.s
    names = ctx.parity_metrics()
    if not (s.parity_checks and names):
        return []
    groups = [f"{m} {n}" for d, m in s.parity_checks for n in names]
    pairs = {f"{m} {n}": (d, m, n) for d, m in s.parity_checks for n in names}

    def value(group, framework):
        d, m, n = pairs[group]
        v = s.cell("parity", framework, d, m).metric(n)
        return None if not isinstance(v, (int, float)) else (float(v), None, None)

    return [
        (
            bar_chart(
                "Parity error against float64 (log scale)", groups, s.frameworks, value, "relative error", log=True
            ),
            "Relative error against the float64 golden, log scale; 0 marks an exact match.",
        )
    ]
