"""Scheduling a run: accuracy per framework x device, then throughput in interleaved blocks.

Every (framework, device, mode) slot runs in its own worker process (protocol.py). Blocks of
steps run slot A, B, C, then A, B, C again, one worker measuring at a time, so drift on a
noisy machine hits every framework alike. Each measurement becomes a record as soon as it
is complete; a framework that fails leaves a failure record and the run goes on; --resume
skips what a run already recorded.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from datetime import datetime, timezone

from harness import backends, results
from harness import env as env_module
from harness.measure.plan import Plan
from harness.measure.protocol import Deadlines, WorkerCrashed, WorkerProcess, close_all
from harness.measure.summary import accuracy_record, throughput_record
from impls.errors import AlexBenchError
from impls.modes import DEFAULT_MODE, mode_names


class Runner:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.layout = results.Layout(plan.out)
        self.run_dir = self.layout.run(plan.run_id)
        self.machine = env_module.machine()
        self.done_keys = {r.key for _, r, _ in results.load_all(self.run_dir)} if plan.resume else set()
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

    def failure(self, framework: str, device: str, measurement: str, error: str, mode: str | None = None) -> None:
        self.record(results.Record("failure", framework, device, measurement, self.plan.run_id, mode=mode, error=error))
        where = f"{framework} ({mode})" if mode else framework
        print(f"  {where} on {device}: {measurement} failed: {error}", file=sys.stderr)

    def skip(self, kind: str, framework: str, device: str, measurement: str, mode: str | None = None) -> bool:
        return results.Record(kind, framework, device, measurement, "", mode=mode).key in self.done_keys

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
        log = self.layout.logs(self.plan.run_id) / f"{framework}-{device}{'-' + mode if mode else ''}.log"
        deadlines = Deadlines(override=self.plan.worker_timeout)
        worker = WorkerProcess(framework, device, self.plan.threads, self.plan.precision, log, deadlines=deadlines)
        self.hello[(framework, device)] = worker.call("hello")
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
            close_all([worker] if worker is not None else [])
        self.record(accuracy_record(out, settings, framework, device, self.plan.run_id, DEFAULT_MODE[framework],
                                    started))  # fmt: skip

    def throughput(self, pairs: list[tuple[str, str]], tqdm) -> None:
        """Time every (framework, device, mode) slot, each in its own worker, in
        interleaved blocks: slot A, B, C, then A, B, C again, so drift hits all alike."""
        import impls

        bench = self.plan.bench
        config = impls.AlexNetConfig(
            variant=bench.variant, num_classes=bench.num_classes, image_size=(bench.image_size, bench.image_size)
        )
        phases = [(phase, pipe) for phase in ("train", "inference") for pipe in bench.pipelines]
        modes = self.plan.modes or {}
        slots = [(f, d, m) for f, d in pairs for m in modes.get(f) or [DEFAULT_MODE[f]]]
        todo = [
            (f, d, m) for f, d, m in slots if not all(self.skip("throughput", f, d, f"{p}/{q}", m) for p, q in phases)
        ]  # fmt: skip
        for f, d, m in slots:
            if (f, d, m) not in todo:
                print(f"  {f} ({m}) on {d}: throughput already recorded (--resume)")
        workers: dict[tuple[str, str, str], WorkerProcess] = {}
        setup: dict[tuple[str, str, str], dict] = {}
        samples = {(*slot, p, q): [] for slot in todo for p, q in phases}
        blocks = {key: [] for key in samples}
        started = _now()
        try:
            for slot in todo:  # start and warm up each worker, one at a time
                self._set_up(slot, config, workers, setup)
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
                            blocks[(*slot, phase, pipe)].append(out)
                    except (AlexBenchError, WorkerCrashed) as error:
                        self.failure(*slot[:2], "throughput", str(error), slot[2])
                        workers.pop(slot).close()
            bar.close()
            for slot, worker in workers.items():
                try:
                    memory = worker.call("memory")
                except (AlexBenchError, WorkerCrashed) as error:
                    self.failure(*slot[:2], "throughput", str(error), slot[2])
                    continue
                for phase, pipe in phases:
                    key = (*slot, phase, pipe)
                    self.record(throughput_record(
                        slot, phase, pipe, config, bench, samples[key], blocks[key], setup[slot], memory, self.peaks,
                        self.plan.run_id, started,
                    ))  # fmt: skip
        finally:
            close_all(workers.values())

    def _set_up(self, slot: tuple[str, str, str], config, workers: dict, setup: dict) -> None:
        """Start the worker of `slot`, build its model and warm it up; a failure is recorded."""
        framework, device, mode = slot
        bench = self.plan.bench
        try:
            workers[slot] = self.start(framework, device, mode)
            setup[slot] = workers[slot].call(
                "bench_setup", config=_config_dict(config), batch_size=bench.batch_size, warmup=bench.warmup, mode=mode
            )
            for note in setup[slot]["notes"]:
                print(f"  {framework} ({mode}) on {device}: {note}", file=sys.stderr)
            # a block's deadline grows with the steps this worker has shown (the slowest warm-up step)
            warm = setup[slot]["warmup_seconds"]
            workers[slot].observe("bench_block", max(max(warm["train"]), max(warm["inference"])))
        except (AlexBenchError, WorkerCrashed) as error:
            self.failure(framework, device, "throughput", str(error), mode)
            worker = workers.pop(slot, None)
            if worker is not None:
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


def _config_dict(config) -> dict:
    return {k: getattr(config, k) for k in config.__dataclass_fields__}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _version() -> str:
    from harness import __version__

    return __version__
