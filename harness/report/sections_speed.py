"""The speed sections: throughput (with its plots), GPU vs CPU, latency, efficiency,
execution modes and the harness-overhead comparison."""

from __future__ import annotations

from harness.report import best, plots
from harness.report.cells import Cells
from harness.report.entries import Entry
from harness.report.model import DASH, Section, Table, Value, fixed, metric_note, ms, slug, workload_text
from harness.report.select import MEASUREMENT_TITLES, Cell, device_key, peak_gflops


def throughput(ctx: Cells) -> Section:
    section = Section(
        "Throughput",
        text=[
            "Images per second: the median of per-step rates, with the 95% confidence interval of the median "
            "(distribution-free). Rank is within a device and one run (the run most of the figures come from; a "
            "framework measured in another run is shown but not ranked); frameworks whose interval overlaps the "
            "leader's are a tie within noise, not ranked apart."
        ],
    )
    for measurement in ctx.s.throughput_measurements:
        rows = []
        for device in ctx.s.devices:
            ranks = ctx.s.ranks(device, measurement)
            for framework in ctx.s.frameworks:
                c = ctx.s.cell("throughput", framework, device, measurement)
                rows.append(
                    [
                        Value(device.upper()),
                        Value(framework),
                        ctx.label(c, "mode"),
                        ctx.label(c, "batch"),
                        ctx.label(c, "input"),
                        ctx.figure(c, "images_per_s", fixed(1)),
                        ctx.ci(c),
                        ctx.rank(ranks, c),
                        ctx.label(c, "run"),
                    ]
                )
        title = f"{MEASUREMENT_TITLES.get(measurement, measurement)} (images/s)"
        section.tables.append(
            Table(
                title,
                ["device", "framework", "mode", "batch", "input", "images/s", "95% CI", "rank", "run"],
                rows,
                (3, 5, 6),
                slug(measurement),
            )
        )
    bfloat16 = best.bfloat16_table(ctx)
    if bfloat16 is not None:
        section.tables.append(bfloat16)
        section.text.append(
            "The tables above rank float32 modes only; the table below ranks the fastest bfloat16 mode of each "
            "framework (chosen by `alexbench run --modes best`) against the other bfloat16 modes only."
        )
    section.plots = plots.throughput(ctx)
    return section


def gpu_vs_cpu(ctx: Cells) -> Section:
    rows = []
    for framework in ctx.s.frameworks:
        for measurement in ctx.s.throughput_measurements:
            cpu = ctx.s.cell("throughput", framework, "cpu", measurement)
            gpu = ctx.s.cell("throughput", framework, "gpu", measurement)
            rows.append(
                [
                    Value(framework),
                    Value(measurement),
                    ctx.rate_with_ci(cpu),
                    ctx.rate_with_ci(gpu),
                    *speedup(ctx, cpu, gpu),
                ]
            )
    table = Table(
        "GPU vs CPU (images/s, median [95% CI])",
        ["framework", "measurement", "CPU", "GPU", "speed-up (GPU/CPU)", "speed-up range (from the CIs)"],
        rows,
        (2, 3, 4, 5),
        "gpu-vs-cpu",
    )
    return Section(
        "GPU vs CPU",
        text=[
            "The same workload (model, variant, width, input size and channels, precision) and batch on both "
            "devices; the speed-up is the ratio of the medians."
        ],
        tables=[table],
    )


def speedup(ctx: Cells, cpu: Cell, gpu: Cell) -> list[Value]:
    missing = [c for c in (gpu, cpu) if c.metric("images_per_s") is None]
    if missing:
        c = missing[0]
        why = c.why() if c.entry is None else metric_note(c.entry, "images_per_s")
        return [ctx.dash(why), ctx.dash(why)]
    if (cpu.entry.workload, cpu.entry.batch_size) != (gpu.entry.workload, gpu.entry.batch_size):
        why = (
            f"{cpu.framework}: different workloads on CPU ({workload_text(cpu.entry)}) and GPU "
            f"({workload_text(gpu.entry)}): not comparable"
        )
        return [ctx.dash(why), ctx.dash(why)]
    ratio = Value(f"{float(gpu.metric('images_per_s')) / float(cpu.metric('images_per_s')):.1f}x")
    bounds = [
        gpu.metric("images_per_s_ci95_low"),
        gpu.metric("images_per_s_ci95_high"),
        cpu.metric("images_per_s_ci95_low"),
        cpu.metric("images_per_s_ci95_high"),
    ]
    if None in bounds or float(bounds[3]) <= 0 or float(bounds[2]) <= 0:
        return [
            ratio,
            ctx.dash(metric_note(cpu.entry if None in bounds[2:] else gpu.entry, "images_per_s_ci95_low")),
        ]
    low, high = float(bounds[0]) / float(bounds[3]), float(bounds[1]) / float(bounds[2])
    return [ratio, Value(f"[{low:.1f}x, {high:.1f}x]")]


def latency(ctx: Cells) -> Section:
    rows = []
    for device, framework in ctx.pairs():
        for measurement in ctx.s.throughput_measurements:
            c = ctx.s.cell("throughput", framework, device, measurement)
            rows.append(
                [
                    Value(device.upper()),
                    Value(framework),
                    Value(measurement),
                    ctx.label(c, "batch"),
                    ctx.figure(c, "step_seconds_p50", ms),
                    ctx.figure(c, "step_seconds_p90", ms),
                    ctx.figure(c, "warmup_first_seconds", fixed(2)),
                    ctx.figure(c, "warmup_seconds_total", fixed(2)),
                ]
            )
    table = Table(
        "Step latency and warm-up",
        [
            "device",
            "framework",
            "measurement",
            "batch",
            "step p50 (ms)",
            "step p90 (ms)",
            "first warm-up step (s)",
            "warm-up total (s)",
        ],
        rows,
        (3, 4, 5, 6, 7),
        "latency",
    )
    return Section(
        "Latency and warm-up",
        text=[
            "Seconds per step (one batch). The first warm-up step includes tracing and compilation "
            "(XLA, graph building); warm-up steps are excluded from the timings above."
        ],
        tables=[table],
    )


def efficiency(ctx: Cells) -> Section:
    rows = []
    for device, framework in ctx.pairs():
        for measurement in ctx.s.throughput_measurements:
            c = ctx.s.cell("throughput", framework, device, measurement)
            peak = peak_gflops(c.entry)
            achieved = c.metric("achieved_gflops")
            if c.entry is None:
                peak_value = efficiency = ctx.dash(c.why())
            elif peak is None:
                peak_value = efficiency = ctx.dash(metric_note(c.entry, "peak_gflops"))
            else:
                peak_value = Value(f"{peak:.1f}")
                efficiency = (
                    Value(f"{100 * float(achieved) / peak:.1f}")
                    if achieved is not None and peak > 0
                    else ctx.dash(metric_note(c.entry, "achieved_gflops"))
                )
            rows.append(
                [
                    Value(device.upper()),
                    Value(framework),
                    Value(measurement),
                    ctx.figure(c, "flops_per_image", lambda x: f"{float(x) / 1e9:.3f}"),
                    ctx.figure(c, "achieved_gflops", fixed(1)),
                    peak_value,
                    efficiency,
                ]
            )
    table = Table(
        "Achieved FLOP/s against the measured peak",
        ["device", "framework", "measurement", "GFLOP/image", "achieved GFLOP/s", "peak GFLOP/s", "efficiency (%)"],
        rows,
        (3, 4, 5, 6),
        "efficiency",
    )
    return Section(
        "Efficiency",
        text=[
            "Achieved FLOP/s (model FLOPs per image x images/s; a training step counts "
            "3x the forward FLOPs) over the peak measured on the machine."
        ],
        tables=[table],
    )


def modes(ctx: Cells) -> Section:
    """Every execution mode measured: compute-only images/s, efficiency against the peak
    of the dtype the mode computes in, and speed relative to the framework's default."""
    latest = ctx.s.mode_entries()
    newest: dict[tuple[str, str], Entry] = {}  # (device, framework) -> its newest entry: default and mode order
    for (d, f, _, _), e in latest.items():
        if (d, f) not in newest or e.order > newest[(d, f)].order:
            newest[(d, f)] = e

    def position(key):
        order = newest[key[:2]].mode_order()
        return order.index(key[2]) if key[2] in order else 99

    keys = sorted({(d, f, m) for d, f, m, _ in latest}, key=lambda k: (device_key(k[0]), k[1], position(k)))
    rows = []
    for device, framework, mode in keys:
        default = newest[(device, framework)].default_mode
        row = [
            Value(device.upper()),
            Value(framework),
            Value(mode + (" (default)" if default == mode else "")),
        ]
        any_entry = next(e for (d, f, m, _), e in latest.items() if (d, f, m) == (device, framework, mode))
        row.append(Value("bfloat16" if any_entry.precision == "bfloat16" else "float32"))
        for phase in ("train", "inference"):
            measurement = f"{phase}/compute_only"
            entry = latest.get((device, framework, mode, measurement))
            base = latest.get((device, framework, default, measurement))
            cell = Cell(
                "throughput",
                framework,
                device,
                measurement,
                entry=entry,
                absent=f"{framework} {mode}: not measured",
            )
            row.append(ctx.rate_with_ci(cell))
            peak, achieved = peak_gflops(entry), cell.metric("achieved_gflops")
            row.append(
                Value(f"{100 * float(achieved) / peak:.0f}")
                if peak and achieved
                else ctx.dash(cell.why() if entry is None else metric_note(entry, "peak_gflops"))
            )
            rate, base_rate = cell.metric("images_per_s"), base.metrics.get("images_per_s") if base else None
            row.append(Value(f"{float(rate) / float(base_rate):.2f}") if rate and base_rate else Value(DASH))
        row.append(
            Value(
                ", ".join(
                    sorted({e.run_id for (d, f, m, _), e in latest.items() if (d, f, m) == (device, framework, mode)})
                )
            )
        )
        rows.append(row)
    table = Table(
        "Execution modes, compute-only (images/s [95% CI]; efficiency in % of the matmul peak "
        "of the dtype it computes in)",
        ["device", "framework", "mode", "computes in", "train", "train eff. (%)", "train vs default",
         "inference", "inference eff. (%)", "inference vs default", "run"],
        rows,
        (4, 5, 6, 7, 8, 9),
        "modes",
        precision=best.EVERY_MODE,
    )  # fmt: skip
    chosen = best.selection_table(ctx)
    tables = [table] if chosen is None else [table, chosen]
    return Section(
        "Execution modes",
        text=[
            "Each framework's execution modes (impls.modes), timed in one run, interleaved. Efficiency is "
            "achieved FLOP/s over the measured matmul peak of the dtype the mode computes in (float32, or "
            "bfloat16 for bf16 modes); 'vs default' is the mode's images/s over the default mode's."
        ],
        tables=tables,
    )


def overhead(ctx: Cells) -> Section:
    """The latest `alexbench overhead` documents: ours against a plain framework loop."""
    document = ctx.overhead
    section = Section(
        "Harness overhead",
        text=[
            "Our implementation, timed by the harness worker, against a plain idiomatic loop written directly in "
            "the framework (harness/reference/rawloops.py), side by side in interleaved rounds (`alexbench overhead`). "
            "Ratio = raw median step time / ours: our throughput as a fraction of the raw loop's (target >= 0.97); "
            "the range is that of the per-round ratios."
        ],
    )
    if not document:
        section.text.append("No overhead measurement in these results: run `alexbench overhead --modes all`.")
        return section
    settings = document.get("settings", {})
    rows = []
    for result in document.get("results", []):
        if "error" in result:
            rows.append(
                [
                    Value(result.get("model", "alexnet")),
                    Value(result["framework"]),
                    Value(result["mode"]),
                    Value("both"),
                    *[ctx.dash(result["error"])] * 4,
                ]
            )
            continue
        for phase, p in result["phases"].items():
            rounds = p.get("ratio_rounds") or [p["ratio"]]
            rows.append([
                Value(result.get("model", "alexnet")), Value(result["framework"]), Value(result["mode"]), Value(phase),
                Value(f"{p['ours_median_s'] * 1e3:.1f}"), Value(f"{p['raw_median_s'] * 1e3:.1f}"),
                Value(f"{p['ratio']:.3f}"), Value(f"[{min(rounds):.2f}, {max(rounds):.2f}]"),
                Value(str(result.get("created", ""))),
            ])  # fmt: skip
    size, batch = settings.get("image_size"), settings.get("batch_size")
    where = f"{str(settings.get('device', 'cpu')).upper()}, {size}x{size}, batch {batch}"
    if float(settings.get("width", 1.0)) != 1.0:
        where += f", width {float(settings['width']):g}"
    section.tables.append(
        Table(
            f"Ours vs a plain loop ({where})",
            ["model", "framework", "mode", "phase", "ours (ms/step)", "raw (ms/step)", "ratio", "round range",
             "measured"],
            rows,
            (4, 5, 6, 7),
            "overhead",
        )
    )
    return section
