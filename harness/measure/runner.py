"""Scheduling a run: accuracy per framework x device, then throughput in interleaved blocks.

Every (framework, device, mode) slot runs in its own worker process (protocol.py). Blocks of
steps run slot A, B, C, then A, B, C again, one worker measuring at a time, so drift on a
noisy machine hits every framework alike. Each measurement becomes a record as soon as it
is complete; a framework that fails leaves a failure record and the run goes on; --resume
skips what a run already recorded.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

from harness import backends, progress, results
from harness import env as env_module
from harness.measure.plan import DEFAULT_BATCH_SIZES, Plan
from harness.measure.protocol import Deadlines, WorkerCrashed, WorkerProcess, close_all
from harness.measure.summary import accuracy_record
from harness.measure.throughput import ThroughputSession, measure_pipeline
from harness.paths import absolute_or_none
from impls.errors import AlexBenchError
from impls.modes import DEFAULT_MODE, mode_names


class Runner:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.layout = results.Layout(Path(plan.out).absolute())  # workers run elsewhere: absolute paths only
        self.run_dir = self.layout.run(plan.run_id)
        self.machine = env_module.machine()
        self.done = {r.key: r for _, r, _ in results.load_all(self.run_dir)} if plan.resume else {}
        self.bench_workload: dict = {}  # the benchmarks' workload fields, for --resume (set by throughput())
        self.written: list[results.Record] = []
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
            # what the report needs to read this record as it was meant when it was made
            "modes": {"default": DEFAULT_MODE.get(framework), "order": mode_names(framework)},
        }

    def record(self, record: results.Record) -> None:
        record.finished = _now()
        results.write(self.run_dir, record, self.environment(record.framework, record.device))
        self.written.append(record)

    def failure(self, framework: str, device: str, measurement: str, error: str, mode: str | None = None,
                seed: int | None = None) -> None:  # fmt: skip
        self.record(results.Record(
            "failure", framework, device, measurement, self.plan.run_id, mode=mode, error=error, seed=seed
        ))  # fmt: skip
        where = f"{framework} ({mode})" if mode else framework
        print(f"  {where} on {device}: {measurement} failed: {error}", file=sys.stderr)

    def skip(self, kind: str, framework: str, device: str, measurement: str, mode: str | None = None,
             seed: int | None = None, settings: dict | None = None) -> bool:  # fmt: skip
        """Is this measurement in the run already (--resume)? Keys name the workload: the
        probe carries the training's or the benchmarks' (the records' own fields)."""
        workload = results.Record.workload_fields(self.plan.train) if kind == "train" else self.bench_workload
        record = results.Record(kind, framework, device, measurement, "", mode=mode, seed=seed, settings=settings or {},
                                **workload)  # fmt: skip
        return results.recorded(self.done, record) is not None

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
                    found, why = self.gpu_found(framework)
                    if found:
                        pairs.append((framework, "gpu"))
                    elif device == "gpu":
                        self.failure(framework, "gpu", "setup", f"no GPU found by {framework}: {why}")
        return pairs

    def gpu_found(self, framework: str) -> tuple[bool, str]:
        info = backends.probe(framework)
        return bool(info.get("gpus")), info.get("error") or "no CUDA GPU visible to it (run on CPU)"

    # -------------------------------------------------------------- phases
    def run(self) -> list[results.Record]:
        bar = progress.bar  # tqdm's bars on a terminal, plain lines in a log
        pairs = self.targets()
        if not pairs:
            raise AlexBenchError("nothing to run: no requested framework is installed (see `alexbench info`)")
        if self.plan.train:
            # replicate k of every framework before replicate k+1: paired seeds, and drift hits all alike
            for seed in self.plan.seeds or [self.plan.train.seed]:
                for framework, device in pairs:
                    if self.skip("train", framework, device, "accuracy", DEFAULT_MODE[framework], seed):
                        print(f"  {framework} on {device}: accuracy (seed {seed}) already recorded (--resume)")
                        continue
                    self.train(framework, device, bar, seed)
        if self.plan.bench:
            self.throughput(pairs, bar)
        return self.written

    def start(self, framework: str, device: str, mode: str | None = None) -> WorkerProcess:
        log = self.layout.logs(self.plan.run_id) / f"{framework}-{device}{'-' + mode if mode else ''}.log"
        deadlines = Deadlines(override=self.plan.worker_timeout)
        worker = WorkerProcess(framework, device, self.plan.threads, self.plan.precision, log, deadlines=deadlines)
        self.hello[(framework, device)] = worker.call("hello")
        return worker

    def train(self, framework: str, device: str, bar, seed: int) -> None:
        """One accuracy training; an interrupted one (its checkpoint in the run folder)
        continues from its step with --resume. `bar`: a progress.bar factory."""
        settings = replace(self.plan.train, seed=seed)
        checkpoint = self.layout.checkpoint(self.plan.run_id, f"{framework}-{device}-seed{seed}")
        started = _now()
        worker = None
        try:
            worker = self.start(framework, device)
            shown = bar(desc=f"{framework}/{device} accuracy, seed {seed}", unit="img", leave=False, disable=None)

            def advance(message):
                if "total" in message:
                    shown.reset(total=message["total"])
                else:
                    shown.update(message["progress"])

            out = worker.call("train", progress=advance, settings=asdict(settings),
                              data_dir=absolute_or_none(self.plan.data_dir), checkpoint=str(checkpoint))  # fmt: skip
            shown.close()
        except (AlexBenchError, WorkerCrashed) as error:
            self.failure(framework, device, "accuracy", str(error), DEFAULT_MODE[framework], seed)
            return
        finally:
            close_all([worker] if worker is not None else [])
        self.record(accuracy_record(out, settings, framework, device, self.plan.run_id, DEFAULT_MODE[framework],
                                    started))  # fmt: skip
        checkpoint.unlink(missing_ok=True)  # the record has it all now

    def throughput(self, pairs: list[tuple[str, str]], bar) -> None:
        """Time every (framework, device, mode) slot at every batch size (a
        throughput.ThroughputSession per batch size, after the input pipeline alone at that
        size); with --modes best every mode is a candidate of the trial."""
        import impls

        bench, best = self.plan.bench, self.plan.best
        config = impls.AlexNetConfig(
            model=bench.model, variant=bench.variant, num_classes=bench.num_classes,
            image_size=(bench.image_size, bench.image_size), width=bench.width,
        )
        self.bench_workload = results.Record.workload_fields(config)
        sizes = {d: bench.batch_sizes or DEFAULT_BATCH_SIZES.get(d, (32,)) for _, d in pairs}
        for batch in dict.fromkeys(b for d in sizes for b in sizes[d]):
            at = [(f, d) for f, d in pairs if batch in sizes[d]]
            session = replace(bench, batch_size=batch, batch_sizes=sizes[at[0][1]], headline_batch=sizes[at[0][1]][0])
            measure_pipeline(self, config, session)
            modes = self.plan.modes or {}
            slots = [(f, d, m) for f, d in at for m in modes.get(f) or [DEFAULT_MODE[f]]]
            todo = [slot for slot in slots if not self.measured(slot, session)]
            for f, d, m in slots:
                if best and (f, d) not in {(t[0], t[1]) for t in todo}:
                    print(f"  {f} on {d}, batch {batch}: --modes best already recorded (--resume)")
                elif not best and (f, d, m) not in todo:
                    print(f"  {f} ({m}) on {d}, batch {batch}: throughput already recorded (--resume)")
            if best:  # a pair whose trial or winners are incomplete is tried again, every mode
                pending = {(f, d) for f, d, _ in todo}
                todo = [slot for slot in slots if slot[:2] in pending]
            ThroughputSession(self, config, todo, _now(), session).run(bar, best)

    def measured(self, slot: tuple[str, str, str], bench) -> bool:
        """Is this slot recorded already at this batch (--resume)? With --modes best: did its
        pair's trial and every winner's measurement make it into the run?"""
        framework, device, mode = slot
        batch = {"batch_size": bench.batch_size}
        if not self.plan.best:
            phases = [f"{p}/{q}" for p in ("train", "inference") for q in bench.pipelines]
            return all(self.skip("throughput", framework, device, phase, mode, settings=batch) for phase in phases)
        choices = [
            r for r in self.done.values()
            if r.kind == "selection" and (r.framework, r.device) == slot[:2]
            and r.settings.get("batch_size") == bench.batch_size and r.model == bench.model
        ]  # fmt: skip
        return bool(choices) and all(
            self.skip("throughput", framework, device, f"{phase}/{pipe}", winner, settings=batch)
            for choice in choices
            for phase, winner in choice.settings.get("winners", {}).items()
            for pipe in bench.pipelines
        )

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


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _version() -> str:
    from harness import __version__

    return __version__
