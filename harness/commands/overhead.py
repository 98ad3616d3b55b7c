"""Side by side: our implementation, timed by the harness, against a plain idiomatic loop.

The --help text is description() (the target ratio from harness.overhead.TARGET).
"""

from __future__ import annotations

import argparse
import os

from harness import env, results
from harness.measure.protocol import WorkerCrashed
from harness.models import DEFAULT_MODELS, parse_models
from harness.overhead import TARGET, format_rows, measure
from harness.paths import absolute
from harness.reference.rawloops import MODELS as RAW_MODELS
from impls.errors import AlexBenchError, ConfigError
from impls.modes import DEFAULT_MODE, MODES, parse_modes


def description() -> str:
    return f"""\
Side by side: our implementation, timed by the harness, against a plain idiomatic loop.

    alexbench overhead                                  # every framework, its default mode, {DEFAULT_MODELS[0]}
    alexbench overhead --modes all --repeats 7          # every mode of every framework
    alexbench overhead --frameworks torch --modes torch=eager+compile --image-size 128
    alexbench overhead --models {",".join(RAW_MODELS)} --image-size 64    # each network in turn

A benchmark, not a test: for each network, framework and mode, two subprocesses run with the
same settings (network, threads, batch, input size, precision): `ours` is the real harness
worker (exactly the compute-only steps `alexbench run` times) and `raw` is the loop in
harness/reference/rawloops.py, written directly in the framework (it has {", ".join(RAW_MODELS)},
torchvision's networks, at their published width unless --width scales both sides alike).
Each is timed by the same code path (one perf_counter pair around each step, the step
returning the loss / the logits to the host).
Blocks are interleaved, ours raw ours raw ..., so the machine's drift hits both alike.

Printed per network, framework, mode and phase: the median step time of each, and the ratio
raw / ours (our throughput as a fraction of the raw loop's; >= {TARGET:g} is the target; < 1
means the harness costs something). The ratio's spread is the range of the per-round
ratios (one ours block against the raw block next to it). Results go to
OUT/overhead/overhead-<UTC time>.json (OUT: ./results unless --out; atomically); nothing else
is written.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frameworks", default="all", help="comma-separated, or 'all' installed")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS),
                        help=f"networks, comma-separated, measured in turn: {', '.join(RAW_MODELS)} or 'all' "
                        "(default %(default)s)")  # fmt: skip
    parser.add_argument(
        "--modes", default="default",
        help="'default', 'all', 'best' (the modes `alexbench run --modes best` chose last on this machine, "
        "found under --out), or e.g. 'torch=eager+compile'",
    )  # fmt: skip
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-classes", type=int, default=1000)
    parser.add_argument("--width", type=float, default=1.0,
                        help="scales every channel count and hidden width of both sides (default 1: the published "
                        "networks)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (ours, raw / raw, ours)")
    parser.add_argument("--train-steps", type=int, default=3, help="training steps per block")
    parser.add_argument("--inference-steps", type=int, default=6, help="inference steps per block")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default="results", type=absolute,
                        help="the JSON goes to OUT/overhead/ (default: ./results)")  # fmt: skip


def best_modes(frameworks: list[str], args: argparse.Namespace) -> dict[str, list[str]]:
    """framework -> the modes `alexbench run --modes best` chose last on this machine (every
    phase and precision class), from the selection records under --out."""
    from harness.commands.info import best_modes_here

    chosen: dict[str, list[str]] = {}
    for record in best_modes_here(str(args.out)):
        if record.framework in frameworks and record.device == args.device:
            winners = chosen.setdefault(record.framework, [])
            winners += [m for m in record.settings.get("winners", {}).values() if m not in winners]
    if not chosen:
        raise ConfigError(
            f"no `alexbench run --modes best` selection for this machine ({args.device}) under {args.out}: "
            "run it first, or name the modes (--modes all, --modes torch=eager+compile)"
        )
    return chosen


def main(args: argparse.Namespace) -> int:
    import impls

    frameworks = impls.available() if args.frameworks == "all" else [f.strip() for f in args.frameworks.split(",")]
    for framework in frameworks:
        if framework not in impls.names():
            raise ConfigError(f"unknown framework {framework!r}; choose from {', '.join(impls.names())}")
    for name in ("image_size", "batch_size", "repeats", "train_steps", "inference_steps"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 1")
    models = parse_models(args.models)
    for model in models:
        if model not in RAW_MODELS:
            raise ConfigError(f"no plain loop of {model} in harness/reference/rawloops.py; it has "
                              f"{', '.join(RAW_MODELS)}")  # fmt: skip
        impls.AlexNetConfig(model=model, image_size=args.image_size, width=args.width)  # what cannot build fails now
    modes = best_modes(frameworks, args) if args.modes.strip() == "best" else parse_modes(args.modes, frameworks)
    layout = results.Layout(args.out)
    stamp = results.utc_stamp()
    names = ("device", "threads", "image_size", "batch_size", "num_classes", "width", "repeats", "warmup",
             "train_steps", "inference_steps")  # fmt: skip
    settings = {k: getattr(args, k) for k in names}
    scale = f", width {args.width:g}" if args.width != 1.0 else ""
    print(f"alexbench overhead: {', '.join(models)} at {args.image_size}x{args.image_size}{scale}, batch "
          f"{args.batch_size}, {args.repeats} interleaved rounds of {args.train_steps} train + "
          f"{args.inference_steps} inference steps")  # fmt: skip
    outcomes = []
    for model in models:
        for framework, names in modes.items():
            for mode in names:
                print(f"  {model} {framework} ({mode}) ...", flush=True)
                try:
                    outcomes.append(measure(framework, mode, settings, layout.overhead_logs, model))
                except (AlexBenchError, WorkerCrashed) as error:  # one framework or mode failing leaves the others
                    outcomes.append({"model": model, "framework": framework, "mode": mode, "error": str(error)})
    document = {
        "schema": "alexbench.overhead/1",
        "created": stamp,
        # what was measured; not where it was written (no paths of the machine in results)
        "settings": {k: v for k, v in vars(args).items() if isinstance(v, (str, int, float, bool)) and k != "out"},
        "default_modes": DEFAULT_MODE,
        "mode_order": {framework: list(names) for framework, names in MODES.items()},
        "environment": env.machine(),
        "target_ratio": TARGET,
        "results": outcomes,
    }
    path = results.write_json(layout.overhead / f"overhead-{stamp}.json", document)
    print()
    print(format_rows(outcomes))
    print(f"\nratio = raw median step time / ours (our throughput as a fraction of the raw loop's); {path}")
    return 1 if any("error" in r for r in outcomes) else 0
