"""The main job: train, evaluate and measure every framework on every device, and record it.

    alexbench run                          # every installed framework, CPU (+ GPU where found)
    alexbench run --frameworks torch,jax --devices gpu --profile full
    alexbench run --resume                 # finish the latest run, skipping what it recorded

For each framework x device, in its own subprocess (harness.worker):
1. accuracy: train on Fashion-MNIST and evaluate top-1/top-5 on the test split, same seed,
   batches, augmentation and hyperparameters for all (defaults sized for a 2-core CPU:
   64x64 input, an 8,000-image subset, 2 epochs; `--profile full` trains at 224x224 on
   all 60,000 images, for GPUs);
2. throughput: training and inference steps at 224x224, batch 32, end-to-end (numpy
   batches from the pipeline) and compute-only (batch already on the device); warm-up
   (compilation) timed apart; then blocks of steps interleaved across frameworks and
   repeated, so drift on a noisy machine hits every framework alike; one worker
   measures at a time.
Records go to results/runs/<run id>/, one atomic JSON file per measurement; a framework
or device that fails leaves a failure record and the run goes on.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from harness import env as env_module
from harness import records, stats
from harness.train import TrainSettings
from impls.errors import AlexBenchError, ConfigError
from impls.modes import DEFAULT_MODE, parse_modes, resolve

PROFILES = {
    # accuracy training (TrainSettings fields) per profile
    "quick": dict(epochs=2, image_size=64, train_subset=8000, test_subset=None, batch_size=64),
    "full": dict(epochs=10, image_size=224, train_subset=None, test_subset=None, batch_size=128),
}


@dataclass
class BenchSettings:
    variant: str = "torchvision"
    image_size: int = 224
    num_classes: int = 1000
    batch_size: int = 32
    warmup: int = 2
    repeats: int = 3  # interleaved rounds
    train_steps: int = 4  # per block
    inference_steps: int = 8  # per block
    pipelines: tuple[str, ...] = ("compute_only", "end_to_end")  # batch already on the device; from numpy


@dataclass
class Plan:
    frameworks: list[str]
    devices: str  # "auto" (cpu + gpu where found), "cpu", "gpu", "cpu,gpu"
    train: TrainSettings | None
    bench: BenchSettings | None
    out: Path
    run_id: str
    threads: int
    precision: str = "ieee"  # or "tf32" (GPU float32 matmuls/convs)
    data_dir: str | None = None
    resume: bool = False
    fail: dict[str, str] = field(default_factory=dict)  # framework -> injected failure (tests)
    modes: dict[str, list[str]] = field(default_factory=dict)  # framework -> execution modes to time


class WorkerCrashed(RuntimeError):
    pass


class WorkerProcess:
    """A harness.worker subprocess for one framework x device, spoken to in JSON lines."""

    def __init__(
        self, framework: str, device: str, plan: Plan, log_dir: Path, mode: str | None = None,
        module: str = "harness.worker",
    ) -> None:  # fmt: skip
        self.framework, self.device = framework, device
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{framework}-{device}{'-' + mode if mode else ''}.log"
        self._log = open(self.log_path, "a")  # noqa: SIM115  (closed in close())
        environment = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
        if device == "cpu":
            environment["CUDA_VISIBLE_DEVICES"] = ""  # a CPU measurement must not touch a GPU
            environment["JAX_PLATFORMS"] = "cpu"
        command = [sys.executable, "-m", *module.split(), framework, device, str(plan.threads), plan.precision]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1,
            env=environment, cwd=Path(__file__).resolve().parent.parent,
        )  # fmt: skip

    def call(self, command: str, progress=None, **arguments):
        """Send one command; return its result, or raise AlexBenchError / WorkerCrashed."""
        try:
            self.process.stdin.write(json.dumps({"cmd": command, **arguments}) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the read below reports the crash
        while True:
            line = self.process.stdout.readline()
            if not line:
                code = self.process.wait()
                raise WorkerCrashed(
                    f"{self.framework} worker on {self.device} died (exit code {code}) during {command!r}; "
                    f"last log lines: {self.log_tail()}"
                )
            message = json.loads(line)
            if "progress" in message or "total" in message:
                if progress is not None:
                    progress(message)
                continue
            if "error" in message:
                self._log.write(message.get("traceback", ""))
                self._log.flush()
                raise AlexBenchError(message["error"])
            return message["ok"]

    def log_tail(self, lines: int = 3) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:]) or "(empty)"

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write('{"cmd": "exit"}\n')
                self.process.stdin.flush()
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
        self._log.close()


# ---------------------------------------------------------------------------- the run
class Runner:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.run_dir = plan.out / "runs" / plan.run_id
        self.machine = env_module.machine()
        self.done_keys = {r.key for _, r, _ in records.load_all(self.run_dir)} if plan.resume else set()
        self.written: list[records.Record] = []
        self.hello: dict[tuple[str, str], dict] = {}
        self.peaks: dict[str, dict[str, float]] = {}  # dtype -> device -> GFLOP/s
        self.peak_sources: dict[str, str] = {}  # "dtype/device" -> framework that reached it

    # -------------------------------------------------------------- bookkeeping
    def environment(self, framework: str, device: str) -> dict:
        hello = self.hello.get((framework, device), {})
        return {
            **self.machine,
            "versions": hello.get("versions", {}),
            "settings": {**hello.get("settings", {}), "precision_mode": self.plan.precision},
            "seed": self.plan.train.seed if self.plan.train else 0,
            "peak_gflops": self.peaks.get("float32", {}),
            "peak_gflops_bf16": self.peaks.get("bfloat16", {}),
            "peak_measured_with": self.peak_sources,
            "alexbench_version": _version(),
        }

    def record(self, record: records.Record) -> None:
        record.finished = _now()
        records.write(self.run_dir, record, self.environment(record.framework, record.device))
        self.written.append(record)

    def failure(self, framework: str, device: str, measurement: str, error: str, mode: str | None = None) -> None:
        self.record(records.Record("failure", framework, device, measurement, self.plan.run_id, mode=mode, error=error))
        where = f"{framework} ({mode})" if mode else framework
        print(f"  {where} on {device}: {measurement} failed: {error}", file=sys.stderr)

    def skip(self, kind: str, framework: str, device: str, measurement: str, mode: str | None = None) -> bool:
        return records.Record(kind, framework, device, measurement, "", mode=mode).key in self.done_keys

    # -------------------------------------------------------------- devices
    def targets(self) -> list[tuple[str, str]]:
        """(framework, device) pairs to measure; unavailable ones get failure records."""
        import impls

        wanted = self.plan.devices.split(",") if self.plan.devices != "auto" else ["cpu", "gpu?"]
        pairs = []
        for framework in self.plan.frameworks:
            reason = impls.unavailable_reason(framework)
            if reason:
                self.failure(framework, "cpu", "setup", f"skipped: {reason}")
                continue
            for device in wanted:
                if device == "cpu":
                    pairs.append((framework, "cpu"))
                elif device in ("gpu", "gpu?"):
                    found = self.gpu_found(framework)
                    if found:
                        pairs.append((framework, "gpu"))
                    elif device == "gpu":
                        self.failure(framework, "gpu", "setup", f"no GPU found by {framework}: {found.why}")
        return pairs

    def gpu_found(self, framework: str):
        from harness.info import probe

        info = probe(framework)
        return _Found(bool(info.get("gpus")), info.get("error") or "no CUDA GPU visible to it (run on CPU)")

    # -------------------------------------------------------------- phases
    def run(self) -> list[records.Record]:
        from tqdm.auto import tqdm

        pairs = self.targets()
        if not pairs:
            raise AlexBenchError("nothing to run: no requested framework is installed (see `alexbench info`)")
        if self.plan.train:
            for framework, device in pairs:
                if self.skip("train", framework, device, "accuracy", DEFAULT_MODE[framework]):
                    print(f"  {framework} on {device}: accuracy already recorded (--resume)")
                    continue
                self.train(framework, device, tqdm)
        if self.plan.bench:
            self.throughput(pairs, tqdm)
        return self.written

    def start(self, framework: str, device: str, mode: str | None = None) -> WorkerProcess:
        worker = WorkerProcess(framework, device, self.plan, self.run_dir / "logs", mode)
        self.hello[(framework, device)] = worker.call("hello")
        if self.plan.fail.get(framework) == "crash":
            worker.call("crash")
        return worker

    def train(self, framework: str, device: str, tqdm) -> None:
        settings = self.plan.train
        started = _now()
        worker = None
        try:
            worker = self.start(framework, device)
            bar = tqdm(desc=f"{framework}/{device} accuracy", unit="img", leave=False, disable=None)

            def progress(message):
                if "total" in message:
                    bar.reset(total=message["total"])
                else:
                    bar.update(message["progress"])

            out = worker.call("train", progress=progress, settings=asdict(settings), data_dir=self.plan.data_dir)
            bar.close()
        except (AlexBenchError, WorkerCrashed) as error:
            self.failure(framework, device, "accuracy", str(error), DEFAULT_MODE[framework])
            return
        finally:
            if worker is not None:
                worker.close()
        final = out["epochs"][-1] if out["epochs"] else {}
        images = settings.epochs * out["train_examples"]
        notes = list(out["notes"]) + [
            f"trained at {settings.image_size}x{settings.image_size} on {out['train_examples']} of the training "
            f"images for {settings.epochs} epoch(s); evaluated on {out['test_examples']} test images"
        ]
        if out["device_peak_why"]:
            notes.append(f"device peak memory: {out['device_peak_why']}")
        metrics = {
            "top1": final.get("test_top1"),
            "top5": final.get("test_top5"),
            "test_loss": final.get("test_loss"),
            "train_loss": final.get("train_loss"),
            "seconds": out["seconds"],
            "train_images": images,
            "peak_rss_bytes": out["peak_rss_bytes"],
            "device_peak_bytes": out["device_peak_bytes"],
            "diverged": int(out["diverged"]),
        }
        self.record(
            records.Record(
                "train", framework, device, "accuracy", self.plan.run_id, variant=settings.variant,
                mode=DEFAULT_MODE[framework], batch_size=settings.batch_size, image_size=[settings.image_size] * 2,
                dataset=out["dataset"],
                metrics=metrics, samples=out["epochs"], settings=asdict(settings), notes=notes, started=started,
            )
        )  # fmt: skip

    def throughput(self, pairs: list[tuple[str, str]], tqdm) -> None:
        """Time every (framework, device, mode) slot, each in its own worker, in
        interleaved blocks: slot A, B, C, then A, B, C again, so drift hits all alike."""
        import impls

        bench = self.plan.bench
        config = impls.AlexNetConfig(
            variant=bench.variant, num_classes=bench.num_classes, image_size=(bench.image_size, bench.image_size)
        )
        phases = [(phase, pipe) for phase in ("train", "inference") for pipe in bench.pipelines]
        slots = [(f, d, m) for f, d in pairs for m in self.plan.modes.get(f) or [DEFAULT_MODE[f]]]
        todo = [
            (f, d, m) for f, d, m in slots if not all(self.skip("throughput", f, d, f"{p}/{q}", m) for p, q in phases)
        ]  # fmt: skip
        for f, d, m in slots:
            if (f, d, m) not in todo:
                print(f"  {f} ({m}) on {d}: throughput already recorded (--resume)")
        workers: dict[tuple[str, str, str], WorkerProcess] = {}
        setup: dict[tuple[str, str, str], dict] = {}
        samples = {(*slot, p, q): [] for slot in todo for p, q in phases}
        extra = {key: [] for key in samples}
        started = _now()
        try:
            for f, d, m in todo:  # start and warm up each worker, one at a time
                try:
                    workers[(f, d, m)] = self.start(f, d, m)
                    oom_above = (
                        int(self.plan.fail[f].split(":")[1]) if self.plan.fail.get(f, "").startswith("oom") else 0
                    )
                    setup[(f, d, m)] = workers[(f, d, m)].call(
                        "bench_setup", config=_config_dict(config), batch_size=bench.batch_size, warmup=bench.warmup,
                        oom_above=oom_above, mode=m,
                    )  # fmt: skip
                    for note in setup[(f, d, m)]["notes"]:
                        print(f"  {f} ({m}) on {d}: {note}", file=sys.stderr)
                except (AlexBenchError, WorkerCrashed) as error:
                    self.failure(f, d, "throughput", str(error), m)
                    worker = workers.pop((f, d, m), None)
                    if worker is not None:
                        worker.close()
            self.measure_peaks(workers)
            steps = {"train": bench.train_steps, "inference": bench.inference_steps}
            total = bench.repeats * len(workers) * len(bench.pipelines) * sum(steps.values())
            bar = tqdm(total=total, desc="throughput (interleaved)", unit="step", leave=False, disable=None)
            for block in range(bench.repeats):
                for slot, worker in list(workers.items()):  # A B C A B C ...: drift hits all alike
                    try:
                        for phase, pipe in phases:
                            out = worker.call(
                                "bench_block", progress=lambda m: bar.update(1), phase=phase, pipeline=pipe,
                                steps=steps[phase], block=block,
                            )  # fmt: skip
                            samples[(*slot, phase, pipe)].extend(out["seconds"])
                            extra[(*slot, phase, pipe)].append(out)
                    except (AlexBenchError, WorkerCrashed) as error:
                        f, d, m = slot
                        self.failure(f, d, "throughput", str(error), m)
                        workers.pop(slot).close()
            bar.close()
            for slot, worker in workers.items():
                try:
                    memory = worker.call("memory")
                except (AlexBenchError, WorkerCrashed) as error:
                    f, d, m = slot
                    self.failure(f, d, "throughput", str(error), m)
                    continue
                for phase, pipe in phases:
                    self.record(
                        self.throughput_record(slot, phase, pipe, config, samples, extra, setup[slot], memory, started)
                    )
        finally:
            for worker in workers.values():
                worker.close()

    def measure_peaks(self, workers: dict) -> None:
        """The device's matmul peak (fp32, bf16), the best any framework reaches, so each
        measurement's efficiency is achieved FLOP/s over what this machine can do."""
        measured = set()
        for (framework, device, _mode), worker in workers.items():
            if (framework, device) in measured:  # one measurement per framework and device
                continue
            measured.add((framework, device))
            try:
                peaks = worker.call("peak")
            except (AlexBenchError, WorkerCrashed) as error:
                print(f"  {framework} on {device}: matmul peak not measured: {error}", file=sys.stderr)
                continue
            for dtype in ("float32", "bfloat16"):
                if peaks.get(dtype) and peaks[dtype] > self.peaks.setdefault(dtype, {}).get(device, 0):
                    self.peaks[dtype][device] = peaks[dtype]
                    self.peak_sources[f"{dtype}/{device}"] = framework

    def throughput_record(self, slot, phase, pipe, config, samples, extra, setup, memory, started) -> records.Record:
        import impls

        framework, device, mode = slot
        compute_dtype = resolve(framework, mode).compute_dtype
        peak_dtype = "bfloat16" if compute_dtype == "bfloat16" else config.dtype
        bench = self.plan.bench
        seconds = samples[(*slot, phase, pipe)]
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
            "peak_gflops": self.peaks.get(peak_dtype, {}).get(device),  # of the dtype the mode computes in
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
        blocks = extra[(*slot, phase, pipe)]
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
        return records.Record(
            "throughput", framework, device, f"{phase}/{pipe}", self.plan.run_id, variant=config.variant,
            precision=peak_dtype, mode=mode, batch_size=batch_size, image_size=list(config.image_size),
            dataset="synthetic", metrics=metrics, samples=seconds, settings=asdict(bench), notes=notes,
            started=started,
        )  # fmt: skip


@dataclass
class _Found:
    found: bool
    why: str

    def __bool__(self) -> bool:
        return self.found


def _config_dict(config) -> dict:
    return {k: getattr(config, k) for k in config.__dataclass_fields__}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _version() -> str:
    from harness import __version__

    return __version__


# ------------------------------------------------------------------------------ summary
def summary_table(written: list[records.Record]) -> str:
    lines = []
    train = [r for r in written if r.kind == "train"]
    if train:
        lines.append(f"{'accuracy':<16} {'top-1':>7} {'top-5':>7} {'loss':>7} {'seconds':>8}")
        for r in train:
            m = r.metrics
            lines.append(
                f"{r.framework + '/' + r.device:<16} {_pct(m['top1'])} {_pct(m['top5'])} "
                f"{_num(m['test_loss'], 7, 3)} {_num(m['seconds'], 8, 0)}" + ("  DIVERGED" if m.get("diverged") else "")
            )
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
    failures = [r for r in written if r.kind == "failure"]
    if failures:
        lines.append("")
        lines.extend(f"FAILED {r.framework}/{r.device} {r.measurement}: {r.error}" for r in failures)
    return "\n".join(lines)


def _pct(value) -> str:
    return f"{value:>7.2%}" if value is not None else f"{'—':>7}"


def _num(value, width: int, digits: int) -> str:
    return f"{value:>{width}.{digits}f}" if value is not None else f"{'—':>{width}}"


# ---------------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frameworks", default="all", help="comma-separated (torch,keras,jax) or 'all' installed")
    parser.add_argument("--devices", default="auto", help="auto (CPU, plus GPU where found), cpu, gpu or cpu,gpu")
    parser.add_argument("--profile", default="quick", choices=sorted(PROFILES), help="accuracy-training size")
    parser.add_argument("--epochs", type=int, help="override the profile's epochs")
    parser.add_argument("--train-subset", type=int, help="override the profile's training images (0: all)")
    parser.add_argument("--train-image-size", type=int, help="override the profile's training input size")
    parser.add_argument("--data-dir", help="Fashion-MNIST folder (default: the Debian package's)")
    parser.add_argument("--batch-size", type=int, default=BenchSettings.batch_size, help="throughput batch size")
    parser.add_argument("--image-size", type=int, default=BenchSettings.image_size, help="throughput input size")
    parser.add_argument("--variant", default="torchvision", choices=["torchvision", "paper"])
    parser.add_argument(
        "--modes", default="default",
        help="execution modes to time: 'default' (each framework's default), 'all', or e.g. "
        "'torch=eager+compile,jax=all' (frameworks not named: default). See `alexbench info`",
    )  # fmt: skip
    parser.add_argument("--repeats", type=int, default=BenchSettings.repeats, help="interleaved throughput rounds")
    parser.add_argument("--train-steps", type=int, default=BenchSettings.train_steps, help="training steps per block")
    parser.add_argument("--inference-steps", type=int, default=BenchSettings.inference_steps)
    parser.add_argument("--warmup", type=int, default=BenchSettings.warmup)
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads, the same for all")
    parser.add_argument("--tf32", action="store_true", help="allow TF32 on GPUs (default: IEEE float32, recorded)")
    parser.add_argument("--out", default="results", help="results folder (records go to OUT/runs/RUN_ID)")
    parser.add_argument("--run-id", help="name of this run (default: UTC timestamp)")
    parser.add_argument("--resume", nargs="?", const="latest", help="continue a run (default: the latest one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=TrainSettings.lr, help="accuracy-training learning rate")
    parser.add_argument("--inject-failure", action="append", default=[], help=argparse.SUPPRESS)  # tests: fw=crash


def plan_from_args(args: argparse.Namespace) -> Plan:
    import impls

    frameworks = impls.names() if args.frameworks == "all" else [f.strip() for f in args.frameworks.split(",")]
    for framework in frameworks:
        if framework not in impls.names():
            raise ConfigError(f"unknown framework {framework!r}; choose from {', '.join(impls.names())}")
    if args.devices not in ("auto", "cpu", "gpu", "cpu,gpu", "gpu,cpu"):
        raise ConfigError(f"--devices must be auto, cpu, gpu or cpu,gpu; got {args.devices!r}")
    train = None
    if not args.skip_accuracy:
        fields = dict(PROFILES[args.profile], seed=args.seed, variant=args.variant, lr=args.lr)
        for name, value in (("epochs", args.epochs), ("train_subset", args.train_subset),
                            ("image_size", args.train_image_size)):  # fmt: skip
            if value is not None:
                fields[name] = value or None if name == "train_subset" else value
        train = TrainSettings(**fields)
        impls.AlexNetConfig(variant=train.variant, image_size=train.image_size)  # fail now, not in a worker
    bench = None
    if not args.skip_throughput:
        bench = BenchSettings(
            variant=args.variant, image_size=args.image_size, batch_size=args.batch_size, warmup=args.warmup,
            repeats=args.repeats, train_steps=args.train_steps, inference_steps=args.inference_steps,
        )  # fmt: skip
        impls.AlexNetConfig(variant=bench.variant, image_size=bench.image_size)
        for name in ("batch_size", "repeats", "train_steps", "inference_steps"):
            if getattr(bench, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1")
    out = Path(args.out)
    run_id = args.run_id or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    if args.resume:
        run_id = _latest_run(out) if args.resume == "latest" else args.resume
        if not (out / "runs" / run_id).is_dir():
            raise ConfigError(f"no run {run_id!r} under {out / 'runs'} to resume")
    fail = dict(item.split("=", 1) for item in args.inject_failure)
    modes = parse_modes(args.modes, frameworks)
    return Plan(frameworks, args.devices, train, bench, out, run_id, args.threads,
                "tf32" if args.tf32 else "ieee", args.data_dir, bool(args.resume), fail, modes)  # fmt: skip


def _latest_run(out: Path) -> str:
    runs = sorted(p.name for p in (out / "runs").glob("*") if p.is_dir()) if (out / "runs").is_dir() else []
    if not runs:
        raise ConfigError(f"no run under {out / 'runs'} to resume")
    return runs[-1]


def main(args: argparse.Namespace) -> int:
    plan = plan_from_args(args)
    if plan.train:
        from harness.data import fashion_mnist_dir

        fashion_mnist_dir(plan.data_dir)  # a missing dataset fails now, with the fix, not in every worker
    # SIGTERM (e.g. a CI timeout) stops like Ctrl-C: records written so far stay valid.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    start = time.perf_counter()
    t = plan.train
    print(f"alexbench run {plan.run_id}: frameworks {', '.join(plan.frameworks)}; devices {plan.devices}; "
          f"{plan.threads} CPU threads each")  # fmt: skip
    if t:
        reduced = [] if t.image_size >= 224 else ["reduced from 224x224"]
        reduced += [] if not t.train_subset else [f"{t.train_subset} of 60,000 training images"]
        why = f" ({'; '.join(reduced)}, to fit a small CPU)" if reduced else ""
        print(f"  accuracy: Fashion-MNIST at {t.image_size}x{t.image_size}, {t.epochs} epoch(s), "
              f"batch {t.batch_size}, profile {args.profile}{why}")  # fmt: skip
    if plan.bench:
        b = plan.bench
        print(f"  throughput: {b.variant} at {b.image_size}x{b.image_size}, batch {b.batch_size}, "
              f"{b.repeats} interleaved rounds of {b.train_steps} train + {b.inference_steps} inference steps "
              f"per pipeline ({', '.join(b.pipelines)})")  # fmt: skip
        print("  modes: " + "; ".join(f"{f} {'+'.join(m)}" for f, m in plan.modes.items()))
    runner = Runner(plan)
    try:
        written = runner.run()
    except KeyboardInterrupt:
        print(f"\ninterrupted: {len(runner.written)} record(s) kept in {runner.run_dir}; "
              f"continue with: alexbench run --resume {plan.run_id}", file=sys.stderr)  # fmt: skip
        return 130
    print()
    print(summary_table(written))
    print(f"\n{len(written)} record(s) in {runner.run_dir} ({time.perf_counter() - start:.0f} s)")
    failed = [r for r in written if r.kind == "failure" and not (r.error or "").startswith("skipped")]
    diverged = [r for r in written if r.kind == "train" and r.metrics.get("diverged")]
    return 1 if failed or diverged else 0
