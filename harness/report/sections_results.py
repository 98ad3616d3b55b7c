"""The other sections: memory, energy, parity, failures and the environment."""

from __future__ import annotations

from harness.report import plots
from harness.report.cells import Cells
from harness.report.model import (
    DASH,
    Section,
    Table,
    Value,
    fixed,
    gib,
    gpus_text,
    pairs_text,
    sci,
    short_commit,
    sig,
    text_or_dash,
)
from harness.report.select import device_key


def memory(ctx: Cells) -> Section:
    with_bench, with_train = ctx.memory_kinds()
    rows = []
    for device, framework in ctx.pairs():
        bench = ctx.first_cell(framework, device)
        train = ctx.s.cell("train", framework, device, "accuracy")
        row = [Value(device.upper()), Value(framework)]
        if with_bench:
            names = ("peak_rss_bytes", "device_peak_bytes", "board_memory_max_bytes")
            row += [ctx.figure(bench, n, gib) for n in names]
        if with_train:
            row += [ctx.figure(train, n, gib) for n in ("peak_rss_bytes", "device_peak_bytes")]
        rows.append(row)
    header = ["device", "framework"]
    header += ["host RSS, throughput", "device, throughput", "GPU board (NVML), throughput"] if with_bench else []
    header += ["host RSS, training", "device, training"] if with_train else []
    table = Table("Peak memory (GiB)", header, rows, tuple(range(2, len(header))), "memory")
    return Section(
        "Memory",
        text=[
            "Peak resident set size of the worker process (host) and the framework allocator's peak (device), "
            "over the throughput measurements and over accuracy training."
        ],
        tables=[table],
        plots=plots.memory(ctx),
    )


def energy(ctx: Cells) -> Section:
    rows = []
    for device, framework in ctx.pairs():
        # NVML measures GPUs only: one row of dashes per framework on other devices
        measurements = ctx.s.throughput_measurements if device == "gpu" else ctx.s.throughput_measurements[:1]
        for measurement in measurements:
            c = ctx.s.cell("throughput", framework, device, measurement)
            rows.append(
                [
                    Value(device.upper()),
                    Value(framework),
                    Value(measurement if device == "gpu" else "all"),
                    ctx.figure(c, "joules_per_image", sig),
                    ctx.figure(c, "watts_mean", fixed(1)),
                    ctx.figure(c, "gpu_util_mean", fixed(1)),
                ]
            )
    table = Table(
        "Energy (NVML)",
        ["device", "framework", "measurement", "J/image", "mean board W", "mean GPU util (%)"],
        rows,
        (3, 4, 5),
        "energy",
    )
    return Section(
        "Energy",
        text=[
            "Board power sampled by NVML during the timed blocks, integrated over time "
            "and divided by the images processed."
        ],
        tables=[table],
    )


def parity(ctx: Cells) -> Section:
    names = ctx.parity_metrics()
    if not ctx.s.parity_checks:
        why = (
            "no parity record in these results: parity errors against the float64 golden appear here once "
            "`alexbench parity` records them"
        )
        rows = [[Value(f), ctx.dash(why)] for f in ctx.s.frameworks]
        table = Table("Parity error against float64", ["framework", "max relative error"], rows, (1,), "parity")
    else:
        rows = []
        for device, measurement in ctx.s.parity_checks:
            for framework in ctx.s.frameworks:
                c = ctx.s.cell("parity", framework, device, measurement)
                rows.append(
                    [
                        Value(framework),
                        Value(device.upper()),
                        Value(measurement),
                        *[ctx.figure(c, n, sci) for n in names],
                    ]
                )
        table = Table(
            "Parity error against float64",
            ["framework", "device", "check", *names],
            rows,
            tuple(range(3, 3 + len(names))),
            "parity",
        )
    return Section(
        "Parity against float64",
        text=[
            "Relative error of each implementation against the float64 golden model (tier 1: float64, tier 2: "
            "float32); smaller is closer."
        ],
        tables=[table],
        plots=plots.parity(ctx),
    )


def failures(ctx: Cells) -> Section:
    rows = []
    for e in sorted(
        (e for e in ctx.s.shown() if e.kind == "failure"),
        key=lambda e: (e.framework, device_key(e.device), e.measurement, e.order),
    ):
        error = " ".join(str(e.error or "").split())
        rows.append([Value(e.framework), Value(e.device.upper()), Value(e.measurement), Value(e.run_id), Value(error)])
    if not rows:
        return Section("Failures", text=["None: no figure in this report comes from a failed run."])
    return Section(
        "Failures",
        tables=[
            Table(
                "Failed or skipped measurements",
                ["framework", "device", "measurement", "run", "error"],
                rows,
                (),
                "failures",
            )
        ],
    )


def environment(ctx: Cells) -> Section:
    shown = ctx.s.shown()
    machines, software = {}, {}
    for e in shown:
        env = e.environment
        machine = (
            e.run_id,
            str(env.get("cpu_model") or DASH),
            text_or_dash(env.get("cpu_count")),
            gib(env["memory_bytes"]) if env.get("memory_bytes") else DASH,
            gpus_text(env.get("gpus")),
            str(env.get("os") or DASH),
            str(env.get("python") or DASH),
            short_commit(env.get("git_commit")),
            text_or_dash(env.get("seed")),
            str(env.get("alexbench_version") or DASH),
        )
        machines[machine] = True
        key = (e.run_id, e.framework, e.device)
        item = software.setdefault(key, {"versions": {}, "settings": {}, "precision": set(), "variables": {}})
        item["versions"].update(env.get("versions") or {})
        item["settings"].update(env.get("settings") or {})
        item["variables"].update(env.get("variables") or {})
        if e.kind in ("train", "throughput") and e.precision:  # parity runs float64 by design
            item["precision"].add(e.precision)
    machine_rows = [[Value(v) for v in m] for m in sorted(machines)]
    software_rows = []
    for (run_id, framework, device), item in sorted(
        software.items(), key=lambda kv: (kv[0][0], kv[0][1], device_key(kv[0][2]))
    ):
        settings = item["settings"]
        threads = {k: v for k, v in settings.items() if "thread" in k}
        others = {k: v for k, v in settings.items() if "thread" not in k}
        precision = ", ".join([*sorted(item["precision"]), *pairs_text(others)]) or DASH
        software_rows.append(
            [
                Value(run_id),
                Value(framework),
                Value(device.upper()),
                Value(", ".join(pairs_text(item["versions"])) or DASH),
                Value(", ".join(pairs_text(threads)) or DASH),
                Value(precision),
                Value(", ".join(pairs_text(item["variables"])) or DASH),
            ]
        )
    return Section(
        "Environment",
        text=["As recorded with each measurement (no hostnames)."],
        tables=[
            Table(
                "Machines",
                ["run", "CPU", "cores", "memory (GiB)", "GPUs", "OS", "Python", "commit", "seed", "alexbench"],
                machine_rows,
                (2, 3),
                "machines",
            ),
            Table(
                "Software and settings",
                ["run", "framework", "device", "versions", "threads", "precision", "environment variables"],
                software_rows,
                (),
                "software",
            ),
        ],
    )
