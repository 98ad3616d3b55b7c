"""Records from what the workers measured, and the console summary of a run."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import impls
from harness import stats
from harness.measure.plan import BenchSettings
from harness.results import Record
from harness.training import TrainSettings, tta_thresholds
from impls.modes import resolve


def accuracy_record(out: dict, settings: TrainSettings, framework: str, device: str, run_id: str, mode: str,
                    started: str) -> Record:  # fmt: skip
    """The `train` record of one accuracy training (out: the worker's cmd_train result):
    final top-1/top-5/loss, the per-epoch rows, the convergence curve and time-to-accuracy."""
    final = out["epochs"][-1] if out["epochs"] else {}
    images = settings.epochs * out["train_examples"]
    notes = list(out["notes"]) + [
        f"trained at {settings.image_size}x{settings.image_size} on {out['train_examples']} of the training "
        f"images for {settings.epochs} epoch(s), seed {settings.seed}; evaluated on {out['test_examples']} test "
        f"images, {settings.evals_per_epoch} time(s) per epoch"
    ]
    if out["device_peak_why"]:
        notes.append(f"device peak memory: {out['device_peak_why']}")
    metrics = {
        "top1": final.get("test_top1"),
        "top5": final.get("test_top5"),
        "test_loss": final.get("test_loss"),
        "train_loss": final.get("train_loss"),
        "seconds": out["seconds"],
        "train_seconds": out["curve"][-1]["seconds"] if out["curve"] else None,
        "train_images": images,
        "peak_rss_bytes": out["peak_rss_bytes"],
        "device_peak_bytes": out["device_peak_bytes"],
        "diverged": int(out["diverged"]),
    }
    for threshold in tta_thresholds(out["dataset"]):
        point = next((p for p in out["curve"] if p["test_top1"] >= threshold), None)
        name = f"top1_{round(threshold * 100)}"
        metrics[f"images_to_{name}"] = point["images"] if point else None
        metrics[f"seconds_to_{name}"] = point["seconds"] if point else None
    notes.append(
        "time to accuracy: training seconds (evaluations excluded) and images seen when test top-1 first "
        f"reached {', '.join(f'{t:.0%}' for t in tta_thresholds(out['dataset']))} (None: not reached)"
    )
    return Record(
        "train", framework, device, "accuracy", run_id, variant=settings.variant, mode=mode,
        batch_size=settings.batch_size, image_size=[settings.image_size] * 2, dataset=out["dataset"],
        metrics=metrics, samples=out["epochs"], settings=asdict(settings), notes=notes, started=started,
        seed=settings.seed, curve=out["curve"], **Record.model_fields(settings),
    )  # fmt: skip


def throughput_record(
    slot: tuple[str, str, str], phase: str, pipe: str, config: impls.AlexNetConfig, bench: BenchSettings,
    seconds: list[float], blocks: list[dict], setup: dict, memory: dict, peaks: dict, run_id: str, started: str,
) -> Record:  # fmt: skip
    """The `throughput` record of one (framework, device, mode) slot, phase and pipeline.

    seconds: every timed step; blocks: the workers' bench_block results (NVML samples);
    peaks: dtype -> device -> the machine's measured matmul GFLOP/s."""
    framework, device, mode = slot
    compute_dtype = resolve(framework, mode).compute_dtype
    peak_dtype = "bfloat16" if compute_dtype == "bfloat16" else config.dtype
    flops = impls.forward_flops(config) * (3 if phase == "train" else 1)
    batch_size = setup["batch_size"]  # smaller than asked if out-of-memory forced a retry
    rate = stats.throughput(seconds, batch_size)
    latency = stats.summarize(seconds)
    warm = setup["warmup_seconds"][phase]
    metrics = {
        "images_per_s": rate.get("median"),
        "images_per_s_ci95_low": rate.get("ci95_low"),
        "images_per_s_ci95_high": rate.get("ci95_high"),
        "images_per_s_iqr": rate.get("iqr"),
        "step_seconds_p50": latency.get("median"),
        "step_seconds_p90": latency.get("p90"),
        "steps": len(seconds),
        "batch_size_requested": bench.batch_size,
        "warmup_first_seconds": warm[0],
        "warmup_seconds_total": sum(warm),
        "flops_per_image": flops,
        "achieved_gflops": (rate.get("median") or 0) * flops / 1e9 or None,
        "peak_gflops": peaks.get(peak_dtype, {}).get(device),  # of the dtype the mode computes in
        "peak_rss_bytes": memory["peak_rss_bytes"],
        "device_peak_bytes": memory["device_peak_bytes"],
    }
    if metrics["achieved_gflops"] and metrics["peak_gflops"]:
        metrics["efficiency"] = metrics["achieved_gflops"] / metrics["peak_gflops"]
    notes = [
        f"{len(seconds)} timed steps in {bench.repeats} interleaved blocks; warm-up of {len(warm)} step(s) "
        "(the first includes compilation) excluded",
        "training steps count 3x forward FLOPs" if phase == "train" else "forward FLOPs",
        *setup["notes"],
    ]
    if memory["device_peak_why"]:
        notes.append(f"device peak memory: {memory['device_peak_why']}")
    nvml = [b["nvml"] for b in blocks if b.get("nvml") and b["nvml"].get("joules") is not None]
    if nvml:
        images = sum(len(b["seconds"]) for b in blocks) * batch_size
        joules = sum(n["joules"] for n in nvml)
        metrics.update(
            joules_per_image=joules / images,
            watts_mean=sum(n["watts_mean"] for n in nvml) / len(nvml),
            gpu_util_mean=sum(n["gpu_util_mean"] for n in nvml) / len(nvml),
            board_memory_max_bytes=max(n["board_memory_max_bytes"] for n in nvml),
        )
    elif device == "gpu":
        notes.append(f"energy: {next((b.get('nvml_why') for b in blocks if b.get('nvml_why')), 'no NVML samples')}")
    if any(b.get("nonfinite_loss") for b in blocks):
        notes.append("a training loss was NaN/inf during timing (synthetic data): timings kept, loss meaningless")
    return Record(
        "throughput", framework, device, f"{phase}/{pipe}", run_id, variant=config.variant,
        precision=peak_dtype, mode=mode, batch_size=batch_size, image_size=list(config.image_size),
        dataset="synthetic", metrics=metrics, samples=seconds, settings=asdict(bench), notes=notes,
        started=started, **Record.model_fields(config),
    )  # fmt: skip


# ------------------------------------------------------------------------------ console
def summary_table(written: list[Record]) -> str:
    """The console summary of a run: per model (in the order measured), the accuracy table
    and the throughput rows; then every failure."""
    lines: list[str] = []
    measured = [r for r in written if r.kind in ("train", "throughput")]
    models = list(dict.fromkeys(r.model for r in measured))
    for model in models:
        mine = [r for r in measured if r.model == model]
        if len(models) > 1:
            lines += ([""] if lines else []) + [f"== {model} =="]
        lines += _model_lines(mine)
    failures = [r for r in written if r.kind == "failure"]
    if failures:
        lines.append("")
        lines.extend(f"FAILED {r.framework}/{r.device} {r.measurement}: {r.error}" for r in failures)
    return "\n".join(lines)


def _model_lines(written: list[Record]) -> list[str]:
    lines = accuracy_lines([r for r in written if r.kind == "train"])
    bench = [r for r in written if r.kind == "throughput"]
    if bench:
        lines.append("")
        lines.append(
            f"{'throughput':<26} {'measurement':<24} {'img/s':>8} {'95% CI':>17} {'GFLOP/s':>8} {'peak RSS':>9}"
        )
        for r in bench:
            m = r.metrics
            ci = f"[{_num(m['images_per_s_ci95_low'], 0, 1)}, {_num(m['images_per_s_ci95_high'], 0, 1)}]"
            rss = f"{m['peak_rss_bytes'] / 2**30:.2f} GiB" if m.get("peak_rss_bytes") else "—"
            lines.append(
                f"{r.framework + '/' + r.device + ' ' + (r.mode or ''):<26} {r.measurement:<24} "
                f"{_num(m['images_per_s'], 8, 1)} "
                f"{ci:>17} {_num(m['achieved_gflops'], 8, 1)} {rss:>9}"
            )
    return lines


def accuracy_lines(train: list[Record]) -> list[str]:
    """The accuracy table of a run: one row per framework, device and seed; then per framework
    the mean ± standard deviation over the seeds with its rank, and every pair of frameworks
    compared per seed: the same figures and verdicts as the report's Accuracy section
    (harness.report.accuracy, which decides them: one rule, one implementation)."""
    if not train:
        return []
    from harness.report import Entry, Selection
    from harness.report import accuracy as report

    order = list(dict.fromkeys((r.device, r.framework) for r in train))
    rows = sorted(train, key=lambda r: (order.index((r.device, r.framework)), r.seed if r.seed is not None else -1))
    lines = [f"{'accuracy':<16} {'seed':>4} {'top-1':>7} {'top-5':>7} {'loss':>7} {'seconds':>8}"]
    for r in rows:
        m = r.metrics
        seed = "—" if r.seed is None else str(r.seed)
        lines.append(
            f"{r.framework + '/' + r.device:<16} {seed:>4} {_pct(m.get('top1'))} {_pct(m.get('top5'))} "
            f"{_num(m.get('test_loss'), 7, 3)} {_num(m.get('seconds'), 8, 0)}"
            + ("  DIVERGED" if m.get("diverged") else "")
        )  # fmt: skip
    # the environment says which mode was the default: the report's selection reads it
    s = Selection([Entry.of(Path(""), r, {"modes": {"default": r.mode}}) for r in train])
    lines += ["", f"{'over seeds':<16} {'n':>2}  {'top-1 (%)':<15} {'top-5 (%)':<15} rank (top-1, paired t-test)"]
    single = False
    for device, framework in order:
        group = report.replicates(s, framework, device)
        values = {m: [e.metrics[m] for e in group if e.metrics.get(m) is not None] for m in ("top1", "top5")}
        ranked = report.ranks(s, device, "top1")
        single = single or len(group) < 2
        rank = ranked.get(framework) or ("—" if len(group) < 2 or not values["top1"] else report.TIE)
        lines.append(f"{framework + '/' + device:<16} {len(group):>2}  {_mean_sd(values['top1']):<15} "
                     f"{_mean_sd(values['top5']):<15} {rank}")  # fmt: skip
    if single:
        lines.append(f"  {report.N_ONE}")
    pairs = []
    for device in s.devices:
        frameworks = [f for d, f in order if d == device and report.replicates(s, f, device)]
        pairs += [(device, a, b) for i, a in enumerate(frameworks) for b in frameworks[i + 1 :]]
    if pairs:
        lines += ["", f"{'top-1 points, paired':<26} {'n':>2} {'a - b':>7} {'95% interval':>16} {'p':>6}  verdict"]
    for device, a, b in pairs:
        c = report.compare(s, device, a, b, "top1")
        t = c.test
        low, high = t.get("ci95_low"), t.get("ci95_high")
        interval = "—" if low is None else f"[{low * 100:+.2f}, {high * 100:+.2f}]"
        difference = "—" if t.get("mean") is None else f"{t['mean'] * 100:+.2f}"
        p = "—" if t.get("p") is None else f"{t['p']:.3f}"
        lines.append(f"{a + ' vs ' + b + ' on ' + device.upper():<26} {c.pairs:>2} {difference:>7} {interval:>16} "
                     f"{p:>6}  {c.verdict}")  # fmt: skip
    return lines


def _mean_sd(values: list[float]) -> str:
    """'70.94 ± 1.10' (points of a fraction), the one value, or a dash."""
    summary = stats.mean_ci(values)
    if not summary["n"]:
        return "—"
    if summary["sd"] is None:
        return f"{summary['mean'] * 100:.2f}"
    return f"{summary['mean'] * 100:.2f} ± {summary['sd'] * 100:.2f}"


def _pct(value) -> str:
    return f"{value:>7.2%}" if value is not None else f"{'—':>7}"


def _num(value, width: int, digits: int) -> str:
    return f"{value:>{width}.{digits}f}" if value is not None else f"{'—':>{width}}"
