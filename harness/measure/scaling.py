"""Data-parallel training throughput at each world size, on each framework's own engine.

For every framework (on one network, ScaleSettings.model), world sizes (1, 2, ...) run in
interleaved rounds (1 2, then 2 1, ...) so drift hits them alike; each run is a fresh launch
(harness.distributed) of timed steps on a fixed global batch split equally over the ranks.
On a CPU host the total cores stay fixed (N ranks x T/N threads, each rank pinned to its
own cores), so the efficiency is throughput(N) / throughput(1); on GPUs (one per rank) it
is throughput(N) / (N x throughput(1)). World size 1 runs through the engine too ("dp1":
DDP at world size 1 costs a few percent, pytorch PR #30660) and without it ("single"), so
that cost is seen.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import impls
from harness import stats
from harness.distributed.launch import LaunchFailed, launch
from harness.results import Record


@dataclass
class ScaleSettings:
    world_sizes: tuple[int, ...] = (1, 2)
    device: str = "cpu"
    threads: int = 2  # total CPU threads, split over the ranks
    batch: int = 32  # the global batch
    image_size: int = 224
    width: float = 1.0  # of the network (impls.AlexNetConfig.width)
    num_classes: int = 1000
    model: str = "alexnet"  # a name of impls.models()
    warmup: int = 2
    steps: int = 6  # timed steps per launch
    rounds: int = 2
    deadline: float = 1200.0  # seconds a launch may take before every rank is killed


def task(settings: ScaleSettings, world: int, engine: bool) -> dict:
    threads = max(1, settings.threads // world) if settings.device == "cpu" else settings.threads
    config = impls.AlexNetConfig(model=settings.model, num_classes=settings.num_classes,
                                 image_size=settings.image_size, width=settings.width).to_dict()
    return {"kind": "throughput", "config": config, "batch": settings.batch, "warmup": settings.warmup,
            "steps": settings.steps, "threads": threads, "device": settings.device, "engine": engine}  # fmt: skip


def runs(settings: ScaleSettings) -> list[tuple[str, int]]:
    """(label, world) in measuring order within a round: "single" (no engine), then dpN."""
    return [("single", 1)] + [(f"dp{n}", n) for n in settings.world_sizes]


def measure(framework: str, settings: ScaleSettings, folder, run_id: str, progress=print) -> list[Record]:
    """Every world size of `framework`, interleaved over the rounds; one record per size (a
    failure record for a launch that failed: a dead or hung rank ends the launch)."""
    labels = runs(settings)
    seconds = {label: [] for label, _ in labels}
    per_rank = {label: [] for label, _ in labels}
    failures: dict[str, str] = {}
    versions = {}
    for round_ in range(settings.rounds):
        order = labels if round_ % 2 == 0 else list(reversed(labels))  # A B B A: no order bias
        for label, world in order:
            if label in failures:
                continue
            try:
                # a folder per network too: the models of one run never share the ranks' files
                outcome = launch(framework, world, task(settings, world, label != "single"), settings.deadline,
                                 folder=folder / f"{settings.model}-{framework}-{label}-round{round_}")  # fmt: skip
            except LaunchFailed as error:
                failures[label] = str(error)
                progress(f"  {settings.model} {framework} {label}: failed: {error}")
                continue
            ranks = [outcome.outputs[r] for r in sorted(outcome.outputs)]
            # a step ends when its all-reduce does: the slowest rank's time is the step's
            seconds[label] += [max(step) for step in zip(*(r["seconds"] for r in ranks))]
            per_rank[label].append([statistics.median(r["seconds"]) for r in ranks])
            versions = ranks[0].get("versions", versions)
            rate = settings.batch / statistics.median(seconds[label])
            progress(f"  {settings.model} {framework} {label}, round {round_ + 1}: {rate:.1f} images/s")
    records = []
    base = {label: stats.throughput(s, settings.batch).get("median") for label, s in seconds.items() if s}
    for label, world in labels:
        if label in failures:
            records.append(Record("failure", framework, settings.device, f"scale/{label}", run_id,
                                  error=failures[label], settings=vars(settings).copy(),
                                  image_size=[settings.image_size] * 2,
                                  **Record.model_fields(task(settings, world, True)["config"])))  # fmt: skip
            continue
        rate = stats.throughput(seconds[label], settings.batch)
        medians = [m for round_ in per_rank[label] for m in round_]
        metrics = {
            "world_size": world, "threads_per_rank": task(settings, world, True)["threads"],
            "images_per_s": rate.get("median"), "images_per_s_ci95_low": rate.get("ci95_low"),
            "images_per_s_ci95_high": rate.get("ci95_high"), "steps": len(seconds[label]),
            "rank_step_seconds_min": min(medians), "rank_step_seconds_max": max(medians),
            "rank_spread": max(medians) / min(medians) - 1,
        }  # fmt: skip
        one = base.get("dp1")
        if one and label.startswith("dp"):
            ideal = one if settings.device == "cpu" else world * one  # fixed cores on a CPU host; a GPU per rank
            metrics["scaling_efficiency"] = metrics["images_per_s"] / ideal
        if label == "single" and one:
            metrics["engine_cost_at_one"] = 1 - one / metrics["images_per_s"]
        notes = [
            f"global batch {settings.batch} split over {world} rank(s), {metrics['threads_per_rank']} thread(s) each"
            + (", each rank pinned to its own cores" if settings.device == "cpu" else ", one GPU per rank"),
            "the step time is the slowest rank's (a step ends when its all-reduce does); "
            f"{settings.rounds} interleaved rounds of {settings.steps} steps after {settings.warmup} of warm-up",
            "efficiency: throughput(N) / throughput(1) at the same total cores" if settings.device == "cpu"
            else "efficiency: throughput(N) / (N x throughput(1))",
        ]  # fmt: skip
        if label == "single":
            notes.append("world size 1 without the engine: what the engine costs at world size 1 (engine_cost_at_one)")
        records.append(Record(
            "scaling", framework, settings.device, f"scale/{label}", run_id, batch_size=settings.batch,
            image_size=[settings.image_size] * 2, dataset="synthetic", metrics=metrics, samples=seconds[label],
            settings={**vars(settings), "world_sizes": list(settings.world_sizes), "versions": versions},
            notes=notes, **Record.model_fields(task(settings, world, True)["config"]),
        ))  # fmt: skip
    return records
