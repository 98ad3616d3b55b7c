"""Data-parallel scaling (`alexbench scale`): images/s at each world size on each
framework's own engine, the scaling efficiency, what the engine costs at world size 1, and
how far apart the ranks' step times were; a plot of images/s against the world size."""

from __future__ import annotations

from harness.report import svg
from harness.report.cells import Cells
from harness.report.model import DASH, Section, Table, Value
from harness.report.select import Cell, device_key


def _label(measurement: str) -> str:
    return measurement.split("/", 1)[1]  # scale/dp2 -> dp2


def _order(label: str) -> tuple[int, int]:
    return (0, 1) if label == "single" else (1, int(label[2:]) if label[2:].isdigit() else 0)


def section(ctx: Cells) -> Section:
    latest: dict[tuple[str, str, str], object] = {}
    for e in ctx.s.entries:  # oldest first: later records replace earlier ones
        if e.kind == "scaling":
            latest[(e.device, e.framework, _label(e.measurement))] = e
    if not latest:
        return Section("Scaling", text=["No data-parallel measurement in these results "
                                        "(`alexbench scale` records one per framework and world size)."])  # fmt: skip

    def count(value) -> str:
        return DASH if value is None else str(int(value))  # records hold every metric as a number

    def ratio(value) -> str:
        return DASH if value is None else f"{value:.2f}"

    rows = []
    for device, framework, label in sorted(latest, key=lambda k: (device_key(k[0]), k[1], _order(k[2]))):
        e = latest[(device, framework, label)]
        m = e.metrics
        cell = Cell("scaling", framework, device, e.measurement, entry=e)
        spread = m.get("rank_spread")
        rows.append([
            Value(device.upper()), Value(framework), Value(label if label != "single" else "1, no engine"),
            Value(count(m.get("world_size"))), Value(count(m.get("threads_per_rank"))),
            Value(str(e.batch_size or DASH)), ctx.rate_with_ci(cell), Value(ratio(m.get("scaling_efficiency"))),
            Value(DASH if m.get("engine_cost_at_one") is None else f"{m['engine_cost_at_one']:+.1%}"),
            Value(DASH if spread is None else f"{spread:.1%}"), Value(e.run_id),
        ])  # fmt: skip
    table = Table(
        "Data-parallel training images/s by world size",
        ["device", "framework", "processes", "world size", "threads/rank", "global batch", "images/s [95% CI]",
         "efficiency", "engine cost at 1", "rank spread", "run"],
        rows, (6, 7, 8, 9), "scaling",
    )  # fmt: skip
    plots = []
    for device in sorted({k[0] for k in latest}, key=device_key):
        lines = []
        for framework in sorted({k[1] for k in latest if k[0] == device}):
            points = sorted(
                (float(e.metrics["world_size"]), float(e.metrics["images_per_s"]))
                for (d, f, label), e in latest.items()
                if (d, f) == (device, framework) and label != "single" and e.metrics.get("images_per_s")
            )
            if points:
                lines.append((f"{framework} images/s", points, None))
        if lines:
            plots.append((svg.line_chart(f"Data-parallel training on {device.upper()}: images/s by world size",
                                         lines, "processes", "images/s", x_name="processes"),
                          "Median images/s of the global batch at each world size (through the engine)."))  # fmt: skip
    return Section(
        "Scaling",
        text=[
            "`alexbench scale`: one fixed global batch split equally over N processes, each framework on its own "
            "data-parallel engine (torch DistributedDataParallel started by torchrun; JAX multi-controller "
            "jax.distributed; tf.distribute MultiWorkerMirroredStrategy). On a CPU host the total cores stay fixed "
            "(each rank pinned to its share), so the efficiency is images/s(N) / images/s(1) and below 1 is the "
            "price of the all-reduce; with a GPU per rank it is images/s(N) / (N x images/s(1)). A step lasts as "
            "long as the slowest rank's; rank spread: how far the slowest rank's median step is above the fastest's. "
            "Engine cost at 1: how much slower world size 1 through the engine runs than without it."
        ],
        tables=[table],
        plots=plots,
    )
