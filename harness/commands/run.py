"""The main job: train, evaluate and measure every framework on every device, and record it.

Each framework x device runs in a subprocess of its own (harness.measure.worker): no fight over
threads or GPU memory, clean memory figures, and one crash cannot take the others down. The
--help text is description(), built from the profiles and defaults the run uses, so the
numbers it shows are the ones that run.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from harness import progress, results
from harness.measure.plan import (
    DEFAULT_BATCH_SIZES,
    MODEL_PROFILES,
    PROFILES,
    REPLICATES,
    BenchSettings,
    Plan,
    profile_for,
)
from harness.measure.runner import Runner
from harness.measure.summary import summary_table
from harness.models import DEFAULT_MODELS, parse_models, variant_choices, variant_for
from harness.paths import absolute
from harness.training import TrainSettings
from impls import networks
from impls.errors import ConfigError
from impls.modes import mode_names, parse_modes


def description() -> str:
    quick, full, b = PROFILES["quick"], PROFILES["full"], BenchSettings()
    q = quick
    cpu, gpu = (" and ".join(map(str, DEFAULT_BATCH_SIZES[d])) for d in ("cpu", "gpu"))
    return f"""\
The main job: train, evaluate and measure every framework on every device, and record it.

    alexbench run                          # every installed framework, CPU (+ GPU where found)
    alexbench run --frameworks torch,jax --devices gpu --profile full
    alexbench run --models alexnet,vgg11   # VGG-11 after AlexNet, in one run; tables per model
    alexbench run --resume                 # finish the latest run, skipping what it recorded
    alexbench run --out ~/bench            # records under ~/bench/runs/ (any folder, from any folder)

For each framework x device, in its own subprocess:
  1. accuracy: train on Fashion-MNIST and evaluate top-1/top-5 and the loss on the test
     split, {REPLICATES["quick"]} times (seeds SEED, SEED+1, ...), paired across frameworks: replicate k
     of each starts from the same weights and sees the same batches. Profile quick (the
     default, sized for a 2-core CPU): {_size(quick)} input, a stratified {q["train_subset"]:,}-image
     training subset and {q["test_subset"]:,} test images, {q["epochs"]} epochs, batch {q["batch_size"]}. Profile full
     (for GPUs): {_size(full)} on all 60,000 images, {full["epochs"]} epochs, batch {full["batch_size"]}.
     A model's own sizes where the profile's would not fit: {_model_sizes()}.
  2. throughput: training and inference steps at {b.image_size}x{b.image_size}, batch {cpu} on CPU,
     {gpu} on GPUs, compute-only (batch already on the device) and end-to-end (uint8
     batches from the input pipeline); warm-up (compilation) timed apart; then {b.repeats} rounds of
     blocks of {b.train_steps} training + {b.inference_steps} inference steps, interleaved across frameworks (A B C
     A B C ...), one worker measuring at a time.

Records go to OUT/runs/<run id>/ (OUT: ./results unless --out), one atomic JSON file per
measurement; a framework or device that fails leaves a failure record and the run goes on.
Without a terminal (a log, CI, nohup) progress is one plain line per finished step and at
most one every {progress.DEFAULT_INTERVAL:.0f} s while a phase runs.
"""


def _model_sizes() -> str:
    parts = []
    for model, profiles in MODEL_PROFILES.items():
        for name in profiles:
            fields = profile_for(name, model)
            width = f", width {fields['width']:g}" if fields.get("width", 1.0) != 1.0 else ""
            parts.append(f"{model} {name} at {_size(fields)}{width}")
    return "; ".join(parts)


def _size(profile: dict) -> str:
    return f"{profile['image_size']}x{profile['image_size']}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--frameworks", default="all", help="comma-separated (torch,keras,jax,keras-jax,keras-torch) or 'all' installed"
    )
    parser.add_argument("--devices", default="auto", help="auto (CPU, plus GPU where found), cpu, gpu or cpu,gpu")
    parser.add_argument("--profile", default="quick", choices=sorted(PROFILES), help="accuracy-training size")
    parser.add_argument("--epochs", type=int, help="override the profile's epochs")
    parser.add_argument("--train-subset", type=int, help="override the profile's training images (0: all)")
    parser.add_argument("--train-image-size", type=int, help="override the profile's training input size")
    parser.add_argument("--data-dir", type=absolute, help="Fashion-MNIST folder (default: the Debian package's)")
    parser.add_argument(
        "--batch-sizes", metavar="N[,N...]",
        help="throughput batch sizes, the first shown in the headline tables (default: 32 on CPU, 32,256 on GPU)",
    )  # fmt: skip
    parser.add_argument("--batch-size", type=int, help="one throughput batch size (--batch-sizes N)")
    parser.add_argument("--image-size", type=int, default=BenchSettings.image_size, help="throughput input size")
    parser.add_argument(
        "--models", metavar="NAME[,NAME...]",
        help=f"networks to measure, one after another ({', '.join(networks.names())} or 'all'; default "
        f"{','.join(DEFAULT_MODELS)}); each model's records carry its name and the report has tables per model",
    )  # fmt: skip
    parser.add_argument("--variant", choices=variant_choices(),
                        help="the models' variant (default: each model's own, torchvision's)")  # fmt: skip
    parser.add_argument("--width", type=float, default=None,
                        help="network width: every channel count and hidden width times this (default 1, the "
                             "published network, except where a model's profile sizes its accuracy training "
                             "smaller; smaller for quick checks)")  # fmt: skip
    parser.add_argument(
        "--modes", default="default",
        help="execution modes to time: 'default' (each framework's default), 'all', 'best' (a short trial of "
        "every mode picks the fastest per precision class and phase; those are measured; 'best:torch=eager+bf16' "
        "limits torch's candidates), or e.g. "
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
    parser.add_argument("--out", default="results", type=absolute,
                        help="results folder (records go to OUT/runs/RUN_ID; default: ./results)")  # fmt: skip
    parser.add_argument("--run-id", help="name of this run (default: UTC timestamp)")
    parser.add_argument("--resume", nargs="?", const="latest", help="continue a run (default: the latest one)")
    parser.add_argument(
        "--worker-timeout", type=float, metavar="SECONDS",
        help="declare a worker hung after this many seconds without progress (default: derived from what it "
        "has shown, at least 2 minutes; 10 for start-up, 30 for building and compiling)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="the first replicate's seed (then seed+1, ...)")
    parser.add_argument(
        "--seeds", type=int, metavar="N",
        help="accuracy replicates per framework: seeds SEED .. SEED+N-1, paired across frameworks (same weights, "
        "batches, augmentation per seed); default: the profile's",
    )  # fmt: skip
    parser.add_argument("--lr", type=float, default=TrainSettings.lr, help="accuracy-training learning rate")


def plan_from_args(args: argparse.Namespace) -> list[Plan]:
    """One Plan per model (--models), in order, all in the same run."""
    import impls

    frameworks = impls.names() if args.frameworks == "all" else [f.strip() for f in args.frameworks.split(",")]
    for framework in frameworks:
        if framework not in impls.names():
            raise ConfigError(f"unknown framework {framework!r}; choose from {', '.join(impls.names())}")
    if args.devices not in ("auto", "cpu", "gpu", "cpu,gpu", "gpu,cpu"):
        raise ConfigError(f"--devices must be auto, cpu, gpu or cpu,gpu; got {args.devices!r}")
    models = parse_models(args.models)
    variants = {model: variant_for(model, args.variant) for model in models}
    seeds = None
    if not args.skip_accuracy:
        replicates = REPLICATES[args.profile] if args.seeds is None else args.seeds
        if replicates < 1:
            raise ConfigError(f"--seeds must be >= 1, got {replicates}")
        seeds = [args.seed + k for k in range(replicates)]
    for name in ("repeats", "train_steps", "inference_steps"):
        if not args.skip_throughput and getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 1")
    if args.worker_timeout is not None and args.worker_timeout <= 0:
        raise ConfigError(f"--worker-timeout must be > 0 seconds, got {args.worker_timeout}")
    out = Path(args.out)
    layout = results.Layout(out)
    run_id = results.check_run_id(args.run_id) if args.run_id else results.utc_stamp()
    if args.resume:
        run_id = _latest_run(layout) if args.resume == "latest" else results.check_run_id(args.resume)
        if not layout.run(run_id).is_dir():
            raise ConfigError(f"no run {run_id!r} under {layout.runs} to resume")
    best = args.modes.strip().split(":")[0] == "best"
    if best:  # best[:SPEC]: the candidates are every mode, or those SPEC names (frameworks not named: every mode)
        spec = args.modes.strip().partition(":")[2]
        named = parse_modes(spec, frameworks) if spec else {}
        listed = {item.split("=")[0].strip() for item in spec.split(",") if "=" in item}
        modes = {f: named[f] if f in listed else mode_names(f) for f in frameworks}
    else:
        modes = parse_modes(args.modes, frameworks)
    batch_sizes = _batch_sizes(args)
    return [
        Plan(
            frameworks, args.devices, _train_settings(args, model, variants[model]),
            _bench_settings(args, model, variants[model], batch_sizes), out, run_id, args.threads,
            "tf32" if args.tf32 else "ieee", args.data_dir, bool(args.resume), modes, args.worker_timeout, best, seeds,
        )  # fmt: skip
        for model in models
    ]


def _train_settings(args: argparse.Namespace, model: str, variant: str) -> TrainSettings | None:
    """The accuracy training of `model`: its profile (PROFILES, with the model's own sizes from
    MODEL_PROFILES), then what the command line overrides."""
    import impls

    if args.skip_accuracy:
        return None
    fields = dict(profile_for(args.profile, model), seed=args.seed, model=model, variant=variant, lr=args.lr)
    for name, value in (("epochs", args.epochs), ("train_subset", args.train_subset),
                        ("image_size", args.train_image_size), ("width", args.width)):  # fmt: skip
        if value is not None:
            fields[name] = value or None if name == "train_subset" else value
    train = TrainSettings(**fields)
    # fail now, not in a worker
    impls.AlexNetConfig(model=model, variant=variant, image_size=train.image_size, width=train.width)
    return train


def _bench_settings(args: argparse.Namespace, model: str, variant: str, batch_sizes) -> BenchSettings | None:
    import impls

    if args.skip_throughput:
        return None
    bench = BenchSettings(
        model=model, variant=variant, width=1.0 if args.width is None else args.width, image_size=args.image_size,
        batch_sizes=batch_sizes,
        warmup=args.warmup, repeats=args.repeats, train_steps=args.train_steps, inference_steps=args.inference_steps,
    )  # fmt: skip
    impls.AlexNetConfig(model=model, variant=variant, image_size=bench.image_size, width=bench.width)
    return bench


def _batch_sizes(args: argparse.Namespace) -> tuple[int, ...] | None:
    if args.batch_sizes and args.batch_size:
        raise ConfigError("give --batch-sizes or --batch-size, not both")
    text = args.batch_sizes or (str(args.batch_size) if args.batch_size is not None else None)
    if text is None:
        return None
    try:
        sizes = tuple(dict.fromkeys(int(v) for v in text.split(",") if v.strip()))
    except ValueError:
        raise ConfigError(
            f"--batch-sizes must be whole numbers separated by commas, e.g. 32,256; got {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise ConfigError(f"batch sizes must be >= 1, got {text!r}")
    return sizes


def _latest_run(layout: results.Layout) -> str:
    runs = layout.run_ids()
    if not runs:
        raise ConfigError(f"no run under {layout.runs} to resume")
    return runs[-1]


def main(args: argparse.Namespace) -> int:
    plans = plan_from_args(args)
    first = plans[0]
    if first.train:
        from harness.data import fashion_mnist_dir

        fashion_mnist_dir(first.data_dir)  # a missing dataset fails now, with the fix, not in every worker
    layout = results.Layout(first.out)
    if first.resume:
        results.check_writable(layout.run(first.run_id))
    else:  # a folder of its own, never shared with another run; writable, or we stop now
        first.run_id = layout.claim_run(first.run_id, chosen=bool(args.run_id))
    for plan in plans[1:]:  # the other models go into the same run, after the first
        plan.run_id, plan.resume = first.run_id, True
    # SIGTERM (e.g. a CI timeout) stops like Ctrl-C: records written so far stay valid.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    start = time.perf_counter()
    models = [plan.train.model if plan.train else plan.bench.model for plan in plans]
    print(f"alexbench run {first.run_id}: models {', '.join(models)}; frameworks {', '.join(first.frameworks)}; "
          f"devices {first.devices}; {first.threads} CPU threads each")  # fmt: skip
    written, done = [], {}
    for model, plan in zip(models, plans, strict=True):
        _describe(plan, model, args.profile)
        runner = Runner(plan)
        try:
            written += runner.run()
        except KeyboardInterrupt:
            print(f"\ninterrupted: {len(written) + len(runner.written)} record(s) kept in {runner.run_dir}; "
                  f"continue with: alexbench run --resume {first.run_id}", file=sys.stderr)  # fmt: skip
            return 130
        done.update(runner.done)
    print()
    recorded = {**done, **{r.key: r for r in written}}  # with --resume, what the run had already
    print(summary_table(list(recorded.values())))
    print(f"\n{len(written)} record(s) in {layout.run(first.run_id)} ({time.perf_counter() - start:.0f} s)")
    failed = [r for r in written if r.kind == "failure" and not (r.error or "").startswith("skipped")]
    diverged = [r for r in written if r.kind == "train" and r.metrics.get("diverged")]
    return 1 if failed or diverged else 0


def _describe(plan: Plan, model: str, profile: str) -> None:
    """What the run will do for `model`, before it does it."""
    t = plan.train
    print(f"{model}:")
    if t:
        reduced = [] if t.image_size >= 224 else ["reduced from 224x224"]
        reduced += [] if not t.train_subset else [f"{t.train_subset} of 60,000 training images"]
        why = f" ({'; '.join(reduced)}, to fit a small CPU)" if reduced else ""
        print(f"  accuracy: Fashion-MNIST at {t.image_size}x{t.image_size}, {t.epochs} epoch(s), "
              f"batch {t.batch_size}, profile {profile}{why}; {len(plan.seeds)} seed(s) "
              f"({', '.join(map(str, plan.seeds))}), paired across frameworks")  # fmt: skip
    if plan.bench:
        b = plan.bench
        sizes = ",".join(map(str, b.batch_sizes)) if b.batch_sizes else "32 (CPU), 32,256 (GPU)"
        width = f", width {b.width:g}" if b.width != 1.0 else ""
        print(f"  throughput: {model} ({b.variant}{width}) at {b.image_size}x{b.image_size}, batch {sizes}, "
              f"{b.repeats} interleaved rounds of {b.train_steps} train + {b.inference_steps} inference steps "
              f"per pipeline ({', '.join(b.pipelines)})")  # fmt: skip
        if plan.best:
            trial = plan.trial
            print(
                f"  modes: best: every mode tried ({trial.rounds} round of {trial.train_steps} train + "
                f"{trial.inference_steps} inference steps each); the fastest per precision class and phase measured"
            )
        else:
            print("  modes: " + "; ".join(f"{f} {'+'.join(m)}" for f, m in plan.modes.items()))
