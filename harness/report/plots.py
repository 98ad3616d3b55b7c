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
    with_bench, with_train = ctx.memory_kinds()
    series = (["host RSS, throughput", "device, throughput"] if with_bench else []) + (
        ["host RSS, training", "device, training"] if with_train else []
    )

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


def curve(entry) -> list[tuple[float, float]]:
    """(images seen, test top-1 %) of one training: its convergence curve, or for records
    made before curves were kept, one point per epoch."""
    if entry.curve:
        return [
            (float(p["images"]), 100 * float(p["test_top1"])) for p in entry.curve if not missing(p.get("test_top1"))
        ]
    epochs = sorted((r for r in entry.samples if isinstance(r, dict) and r.get("epoch") is not None),
                    key=lambda r: r["epoch"])  # fmt: skip
    per_epoch = (entry.metrics.get("train_images") or 0) / max(len(epochs), 1)
    return [(r["epoch"] * per_epoch, 100 * float(r["test_top1"])) for r in epochs if not missing(r.get("test_top1"))]


def accuracy(ctx: Cells) -> list[Plot]:
    """Convergence: test top-1 against images seen, one line per framework (the mean over
    seeds), the seeds' spread (lowest to highest) as a band."""
    from harness.report.accuracy import replicates

    s = ctx.s
    lines, bands = [], []
    for device in s.devices:
        for framework in s.frameworks:
            curves = [curve(e) for e in replicates(s, framework, device)]
            curves = [c for c in curves if c]
            if not curves:
                continue
            length = min(len(c) for c in curves)  # replicates of one experiment share the schedule
            points = [[c[i] for c in curves] for i in range(length)]
            name = f"{framework}/{device} top-1"
            lines.append((name, [(p[0][0], sum(y for _, y in p) / len(p)) for p in points], None))
            if len(curves) > 1:
                bands.append((name, [(p[0][0], min(y for _, y in p), max(y for _, y in p)) for p in points]))
    if not lines:
        return []
    return [
        (
            line_chart(
                "Convergence: test top-1 against images seen",
                lines,
                "training images seen",
                "top-1 (%)",
                y_cap=100.0,
                bands=bands,
                x_name="images",
            ),  # fmt: skip
            "Test top-1 after each evaluation against the training images seen: the mean over seeds (line) and "
            "the lowest to the highest seed (band).",
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
