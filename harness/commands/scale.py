"""Data-parallel training throughput at each world size, on each framework's own engine.

The --help text is description(), built from ScaleSettings' defaults (the numbers that run).
"""

from __future__ import annotations

import argparse
import os
import sys

import impls
from harness import backends, env, results
from harness.distributed.launch import task_document
from harness.measure.scaling import ScaleSettings, measure, task
from harness.models import parse_models
from harness.paths import absolute
from impls.errors import ConfigError


def description() -> str:
    d = ScaleSettings()
    sizes = " and ".join(map(str, d.world_sizes))
    return f"""\
Data-parallel training throughput at each world size, on each framework's own engine.

    alexbench scale                              # every framework, {sizes} processes, this CPU
    alexbench scale --frameworks torch --nproc 1,2,4 --device gpu --batch 256
    alexbench scale --frameworks torch --nproc 1,16 --write-task task.json   # ranks by hand, several hosts
    alexbench scale --frameworks jax --models {",".join(impls.models())} --image-size 64   # each network in turn

torch runs DistributedDataParallel (processes started by torchrun; gloo on CPU, NCCL on
GPUs), JAX multi-controller jax.distributed with the batch sharded over a device mesh,
Keras/TensorFlow MultiWorkerMirroredStrategy (TF_CONFIG) around alexbench's own
tf.function step. A fixed global batch (default {d.batch}, at {d.image_size}x{d.image_size}) is split equally over
the ranks; on a CPU host the total cores stay fixed (N ranks x T/N threads, each rank pinned
to its own cores). World sizes are measured in {d.rounds} interleaved rounds of {d.steps} timed steps (after
{d.warmup} of warm-up); one record per network, framework and world size (plus world size 1
without the engine, to see what the engine costs there), with images/s, the spread of the
ranks' step times and the scaling efficiency; several --models (default {d.model}) are measured
one after the other. A rank that dies or hangs ends its launch within seconds (the others
are killed) and leaves a failure record; a launch may take {d.deadline:.0f} s at most.
Records go to OUT/runs/<run id>/ (OUT: ./results unless --out); `alexbench report` shows
them in its Scaling section.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = ScaleSettings()
    parser.add_argument("--frameworks", default="all", help="comma-separated, or 'all' installed")
    parser.add_argument("--models", default=defaults.model,
                        help=f"networks, comma-separated, measured in turn: {', '.join(impls.models())} or 'all' "
                        "(default %(default)s)")  # fmt: skip
    parser.add_argument("--nproc", default=",".join(map(str, defaults.world_sizes)),
                        help="world sizes to measure (default %(default)s)")  # fmt: skip
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"], help="gpu: one GPU per rank")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads in all, split over ranks")
    parser.add_argument("--batch", type=int, default=defaults.batch, help="the global batch, split over the ranks")
    parser.add_argument("--image-size", type=int, default=defaults.image_size)
    parser.add_argument("--width", type=float, default=defaults.width,
                        help="network width: channel counts and hidden widths times this (default %(default)s)")
    parser.add_argument("--steps", type=int, default=defaults.steps, help="timed steps per launch")
    parser.add_argument("--warmup", type=int, default=defaults.warmup)
    parser.add_argument("--rounds", type=int, default=defaults.rounds, help="interleaved rounds of every world size")
    parser.add_argument("--deadline", type=float, default=defaults.deadline,
                        help="seconds one launch may take before every rank is killed")  # fmt: skip
    parser.add_argument("--out", default="results", type=absolute,
                        help="results folder (records go to OUT/runs/RUN_ID; default: ./results)")  # fmt: skip
    parser.add_argument("--run-id", help="name of this run (default: scale-<UTC time>)")
    parser.add_argument("--write-task", metavar="FILE", type=absolute,
                        help="write the task of one framework at the largest --nproc to FILE and stop: for ranks "
                             "started by hand on several hosts (README: Data parallel)")  # fmt: skip


def settings_from_args(args: argparse.Namespace, model: str = ScaleSettings.model) -> ScaleSettings:
    try:
        sizes = tuple(dict.fromkeys(int(v) for v in args.nproc.split(",") if v.strip()))
    except ValueError:
        raise ConfigError(f"--nproc takes world sizes separated by commas, e.g. 1,2; got {args.nproc!r}") from None
    if not sizes or min(sizes) < 1 or 1 not in sizes:
        raise ConfigError(f"--nproc needs world size 1 (the baseline of the efficiency) and sizes >= 1; got {sizes}")
    for name in ("batch", "steps", "rounds", "threads"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name} must be >= 1")
    if args.device == "cpu" and max(sizes) > args.threads:
        raise ConfigError(f"{max(sizes)} ranks need at least {max(sizes)} CPU threads (--threads {args.threads})")
    odd = [n for n in sizes if args.batch % n]
    if odd:
        raise ConfigError(f"the global batch {args.batch} does not split equally over {odd} ranks: choose another")
    # a network, size or width we cannot build fails now
    impls.AlexNetConfig(model=model, image_size=args.image_size, width=args.width)
    return ScaleSettings(sizes, args.device, args.threads, args.batch, args.image_size, width=args.width,
                         num_classes=1000, model=model, warmup=args.warmup, steps=args.steps, rounds=args.rounds,
                         deadline=args.deadline)  # fmt: skip


def main(args: argparse.Namespace) -> int:
    import impls

    every = [settings_from_args(args, model) for model in parse_models(args.models)]
    frameworks = impls.available() if args.frameworks == "all" else [f.strip() for f in args.frameworks.split(",")]
    for framework in frameworks:
        if framework not in impls.names():
            raise ConfigError(f"unknown framework {framework!r}; choose from {', '.join(impls.names())}")
    if args.write_task:
        if len(every) != 1:
            raise ConfigError(f"--write-task writes one network's task: pass --models NAME (got {args.models!r})")
        return write_task(frameworks, every[0], args.write_task)
    layout = results.Layout(args.out)
    run_id = layout.claim_run(results.check_run_id(args.run_id) if args.run_id else f"scale-{results.utc_stamp()}",
                              chosen=bool(args.run_id))  # fmt: skip
    folder = layout.run(run_id)
    machine = env.machine()
    settings = every[0]
    print(f"alexbench scale {run_id}: {', '.join(s.model for s in every)} on {', '.join(frameworks)}; world sizes "
          f"{settings.world_sizes} on {settings.device}; global batch {settings.batch} at "
          f"{settings.image_size}x{settings.image_size}; {settings.rounds} interleaved rounds of {settings.steps} "
          "steps")  # fmt: skip
    unavailable = {f: impls.unavailable_reason(f) or backends.get(f).data_parallel_refusal() for f in frameworks}
    for framework, reason in unavailable.items():
        if reason:
            print(f"  {framework}: skipped: {reason}", file=sys.stderr)
    written = []
    for settings in every:  # each network in turn; its records' keys name it (Record.workload), so they coexist
        for framework in frameworks:
            if unavailable[framework]:
                continue
            for record in measure(framework, settings, folder / "ranks", run_id):
                results.write(folder, record, {**machine, "versions": record.settings.get("versions", {})})
                written.append(record)
    print()
    print(f"{'model':<8} {'framework':<9} {'run':<7} {'images/s':>9} {'95% CI':>17} {'efficiency':>10} "
          f"{'rank spread':>11}")  # fmt: skip
    for r in written:
        m, who = r.metrics, f"{r.model:<8} {r.framework:<9} {r.measurement.split('/')[1]:<7}"
        if r.kind == "failure":
            print(f"{who} FAILED: {r.error}")
            continue
        ci = f"[{m['images_per_s_ci95_low'] or 0:.1f}, {m['images_per_s_ci95_high'] or 0:.1f}]"
        efficiency = f"{m['scaling_efficiency']:.2f}" if m.get("scaling_efficiency") is not None else "—"
        print(f"{who} {m['images_per_s']:>9.1f} {ci:>17} {efficiency:>10} {m['rank_spread']:>10.1%}")
    print(f"\n{len(written)} record(s) in {folder}")
    return 1 if any(r.kind == "failure" for r in written) else 0


def write_task(frameworks: list[str], settings: ScaleSettings, path: str) -> int:
    """The rank task of `alexbench scale` at the largest world size, for a launch by hand."""
    if len(frameworks) != 1:
        raise ConfigError(f"--write-task writes one framework's task: pass --frameworks NAME (got {frameworks})")
    world = max(settings.world_sizes)
    results.write_json(path, task_document(frameworks[0], world, task(settings, world, engine=True)))
    print(f"{path}: {frameworks[0]}, {world} ranks in all, global batch {settings.batch}, {settings.steps} timed "
          f"steps; each rank writes rankN.json (its step seconds) into its --out folder")  # fmt: skip
    return 0
