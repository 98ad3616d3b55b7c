"""The throughput part of a run: every (framework, device, mode) slot in a worker of its own,
warmed up, then timed in blocks interleaved across slots (A B C A B C ...), so drift on a
noisy machine hits every one alike; one worker measures at a time.

With `--modes best` every mode is a candidate: a short interleaved trial of compute-only
steps picks the fastest per framework, device, precision class and phase (selection.py),
the losers' workers are closed, and the winners are measured in the usual rounds, each for
the phases it won.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict

from harness import progress
from harness.measure.protocol import WorkerCrashed, WorkerProcess, close_all
from harness.measure.selection import choose, selection_record, won_phases
from harness.measure.summary import throughput_record
from harness.measure.worker import bench_pipeline
from harness.results import Record
from impls.errors import AlexBenchError, ConfigError

Slot = tuple[str, str, str]  # (framework, device, mode)
PhaseKey = tuple[str, str]  # (phase, pipeline)


class ThroughputSession:
    def __init__(self, runner, config, slots: list[Slot], started: str, bench) -> None:
        self.runner, self.config, self.started = runner, config, started
        self.bench = bench  # this session's batch size among bench.batch_sizes
        self.slots = slots
        self.workers: dict[Slot, WorkerProcess] = {}
        self.setup: dict[Slot, dict] = {}
        self.unavailable: dict[Slot, str] = {}  # a candidate mode this variant/device cannot run (--modes best)
        self.won: dict[Slot, dict[str, str]] = {}  # --modes best: slot -> {phase it won: precision class}
        self.setup_seconds = 0.0  # building and warming up every slot (with --modes best: every candidate)

    def run(self, bar, best: bool) -> None:
        """Set up every slot, then time them (`bar`: a progress.bar factory)."""
        try:
            start = time.perf_counter()
            for slot in self.slots:  # start and warm up each worker, one at a time
                self.set_up(slot, quiet_unsupported=best)
            self.setup_seconds = time.perf_counter() - start
            self.runner.measure_peaks(self.workers)
            every = [(p, q) for p in ("train", "inference") for q in self.bench.pipelines]
            phases = {slot: every for slot in self.workers}
            if best:
                phases = self.trial(bar)
            label = f"throughput at batch {self.bench.batch_size} (interleaved)"
            samples, blocks = self.interleave(phases, self.bench.repeats, bar, label)
            self.record(phases, samples, blocks)
        finally:
            close_all(self.workers.values())

    def set_up(self, slot: Slot, quiet_unsupported: bool = False) -> None:
        """Start the worker of `slot`, build its model and warm it up; a failure is recorded
        (with quiet_unsupported, a mode that cannot run this variant here is only noted)."""
        framework, device, mode = slot
        bench = self.bench
        try:
            start = time.perf_counter()
            self.workers[slot] = self.runner.start(framework, device, mode)
            self.setup[slot] = self.workers[slot].call(
                "bench_setup", config=self.config.to_dict(), batch_size=bench.batch_size, warmup=bench.warmup,
                mode=mode,
            )  # fmt: skip
            for note in self.setup[slot]["notes"]:
                print(f"  {framework} ({mode}) on {device}: {note}", file=sys.stderr)
            # a block's deadline grows with the steps this worker has shown (the slowest warm-up step)
            warm = self.setup[slot]["warmup_seconds"]
            self.workers[slot].observe("bench_block", max(max(warm["train"]), max(warm["inference"])))
            progress.note(f"{framework} ({mode}) on {device}, batch {bench.batch_size}: built and warmed up in "
                          f"{progress.duration(time.perf_counter() - start)}")  # fmt: skip
        except (AlexBenchError, WorkerCrashed) as error:
            if quiet_unsupported and isinstance(error, ConfigError):  # e.g. Keras graph mode, paper variant, CPU
                self.unavailable[slot] = str(error)
                print(f"  {framework} ({mode}) on {device}: not a candidate here: {error}", file=sys.stderr)
            else:
                self.runner.failure(framework, device, "throughput", str(error), mode)
            worker = self.workers.pop(slot, None)
            if worker is not None:
                worker.close()

    def interleave(self, phases: dict[Slot, list[PhaseKey]], rounds: int, bar, label: str, steps=None):
        """`rounds` rounds of blocks, slot A, B, C, ..., each slot through its phases; a slot
        whose worker fails is recorded and dropped. Returns (seconds, block results) per
        (slot, phase, pipeline)."""
        steps = steps or {"train": self.bench.train_steps, "inference": self.bench.inference_steps}
        samples = {(*slot, p, q): [] for slot, keys in phases.items() for p, q in keys}
        blocks = {key: [] for key in samples}
        total = rounds * sum(steps[p] for slot, keys in phases.items() if slot in self.workers for p, _ in keys)
        shown = bar(total=total, desc=label, unit="step", leave=False, disable=None)
        for block in range(rounds):
            for slot in [s for s in phases if s in self.workers]:  # A B C A B C ...: drift hits all alike
                try:
                    for phase, pipe in phases[slot]:
                        out = self.workers[slot].call(
                            "bench_block", progress=lambda m: shown.update(1), phase=phase, pipeline=pipe,
                            steps=steps[phase], block=block,
                        )  # fmt: skip
                        samples[(*slot, phase, pipe)].extend(out["seconds"])
                        blocks[(*slot, phase, pipe)].append(out)
                except (AlexBenchError, WorkerCrashed) as error:
                    self.runner.failure(*slot[:2], "throughput", str(error), slot[2])
                    self.workers.pop(slot).close()
        shown.close()
        return samples, blocks

    def trial(self, bar) -> dict[Slot, list[PhaseKey]]:
        """--modes best: a short trial of every candidate, the winners recorded; returns the
        phases each winner is to be measured in (the phases it won), the others closed."""
        trial = self.runner.plan.trial
        phases = {slot: [(p, "compute_only") for p in ("train", "inference")] for slot in self.workers}
        steps = {"train": trial.train_steps, "inference": trial.inference_steps}
        start = time.perf_counter()
        samples, _ = self.interleave(phases, trial.rounds, bar, "--modes best: trial", steps)
        cost = {"setup_seconds": round(self.setup_seconds, 1), "trial_seconds": round(time.perf_counter() - start, 1),
                "batch_size": self.bench.batch_size}  # fmt: skip
        trial_seconds = {(f, d, m, p): s for (f, d, m, p, _), s in samples.items()}
        batch = {slot: self.setup[slot]["batch_size"] for slot in self.setup}
        choices = choose(trial_seconds, batch, self.unavailable)
        for choice in choices:
            self.runner.record(
                selection_record(choice, self.runner.plan.run_id, {**asdict(trial), **cost}, self.started,
                                 Record.workload_fields(self.config))
            )
            won = ", ".join(f"{p} {m}" for p, m in choice.winners.items())
            print(f"  {choice.framework} on {choice.device}, {choice.klass}: fastest {won}")
        self.won = won_phases(choices)
        for slot in [s for s in self.workers if s not in self.won]:
            self.workers.pop(slot).close()
        return {
            slot: [(p, q) for p in ("train", "inference") if p in self.won[slot] for q in self.bench.pipelines]
            for slot in self.workers
        }

    def record(self, phases: dict[Slot, list[PhaseKey]], samples: dict, blocks: dict) -> None:
        won = self.won
        for slot, worker in list(self.workers.items()):
            try:
                memory = worker.call("memory")
            except (AlexBenchError, WorkerCrashed) as error:
                self.runner.failure(*slot[:2], "throughput", str(error), slot[2])
                continue
            made = {}
            for phase, pipe in phases[slot]:
                key = (*slot, phase, pipe)
                record = made[(phase, pipe)] = throughput_record(
                    slot, phase, pipe, self.config, self.bench, samples[key], blocks[key], self.setup[slot], memory,
                    self.runner.peaks, self.runner.plan.run_id, self.started,
                )  # fmt: skip
                compute = made.get((phase, "compute_only"))
                if pipe == "end_to_end" and compute is not None and compute.metrics.get("images_per_s"):
                    ratio = (record.metrics.get("images_per_s") or 0) / compute.metrics["images_per_s"]
                    record.metrics["ratio_to_compute_only"] = ratio
                    record.notes.append(
                        f"end to end at {ratio:.2f}x the compute-only images/s of the same worker and blocks"
                        + (" (below 0.9: the input pipeline or the copy to the device holds the step back)"
                           if ratio < 0.9 else "")
                    )  # fmt: skip
                if phase in won.get(slot, {}):
                    klass = won[slot][phase]
                    record.settings["selection"] = {"class": klass, "won": phase}
                    record.notes.append(
                        f"--modes best: the fastest {klass} mode for {phase} on this machine in this run's trial"
                    )
                self.runner.record(record)


PIPELINE_BLOCK = 10  # batches per timed block of the pipeline alone


def measure_pipeline(runner, config, bench) -> None:
    """The input pipeline alone (no framework: this process, the workers idle), at this
    batch and input size, with crops and flips: what it can feed a step."""
    from harness import data, stats

    measurement = "synthetic/crop+flip"
    if runner.skip("pipeline", "data", "cpu", measurement, settings={"batch_size": bench.batch_size}):
        return
    pipeline = bench_pipeline(config, bench.batch_size)
    seconds = data.throughput(pipeline, batches=min(200, max(3 * PIPELINE_BLOCK, 8192 // bench.batch_size)))
    # Rates over blocks of batches, not single gaps: worker threads deliver in bursts, so most
    # gaps are a ready batch taken off the queue (the median gap measured the queue, 5M img/s).
    blocks = [sum(seconds[i : i + PIPELINE_BLOCK]) for i in range(0, len(seconds) - PIPELINE_BLOCK + 1, PIPELINE_BLOCK)]
    rate = stats.throughput(blocks, bench.batch_size * PIPELINE_BLOCK)
    metrics = {
        "images_per_s": rate.get("median"), "images_per_s_ci95_low": rate.get("ci95_low"),
        "images_per_s_ci95_high": rate.get("ci95_high"), "images_per_s_iqr": rate.get("iqr"),
        "workers": pipeline.workers, "prefetch": pipeline.prefetch,
    }  # fmt: skip
    notes = [
        f"{len(seconds)} batches after 2 of warm-up, rates over blocks of {PIPELINE_BLOCK} batches; "
        f"uint8 {config.height}x{config.image_width}x{config.in_channels} "
        "images prepared once (synthetic), random crops and flips, made by "
        f"{pipeline.workers} worker thread(s) up to {pipeline.prefetch} batches ahead, consumed by nothing"
    ]
    print(f"  input pipeline, batch {bench.batch_size}: {rate.get('median'):.0f} images/s")
    runner.record(Record(
        "pipeline", "data", "cpu", measurement, runner.plan.run_id, variant=config.variant, precision="uint8",
        batch_size=bench.batch_size, image_size=list(config.image_size), dataset="synthetic", metrics=metrics,
        samples=seconds, settings=asdict(bench), notes=notes, started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),  # noqa: E501
        **Record.model_fields(config),
    ))  # fmt: skip
