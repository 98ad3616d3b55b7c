"""Prove the implementations compute the same function, in tiers (docs/DESIGN.md).

The --help text is description(), built from the bounds (harness.parity.metrics.TOLERANCES),
the SGD settings and the defaults the checks use, so the numbers it shows are the ones checked.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import asdict
from datetime import datetime, timezone

from harness import backends, results
from harness.models import DEFAULT_MODELS, parse_models, variant_choices
from harness.parity.document import environment, write_document, write_summary_records
from harness.parity.metrics import CONTROL_MARGIN, F32_REFERENCE, GOLDEN, PARITY_SGD, TOLERANCES
from harness.parity.runs import SMALL_WIDTHS, TRAJECTORY_STEPS, full_config, net_label, select_frameworks, small_config
from harness.parity.suite import Suite
from harness.paths import absolute
from harness.reference import golden
from impls import networks
from impls.config import SGDConfig
from impls.errors import ConfigError

STEPS, BATCH, DATA_PARALLEL = TRAJECTORY_STEPS["alexnet"], 4, 2  # AlexNet's --steps; --batch, --data-parallel


def description() -> str:
    t = {tier: {q: _bound(b) for q, (_, b) in bounds.items()} for tier, bounds in TOLERANCES.items()}
    small, full, paper = small_config("torchvision"), full_config("torchvision"), full_config("paper")
    sgd = f"lr {_bound(PARITY_SGD.lr)}, momentum {PARITY_SGD.momentum}, weight decay {_bound(PARITY_SGD.weight_decay)}"
    side, full_side, paper_side = small.height, full.height, paper.height
    f32, bf16 = t[2], t[4]
    return f"""\
Prove the implementations compute the same function, in tiers (docs/DESIGN.md).

    alexbench parity                      # AlexNet, both variants, every framework installed here
    alexbench parity --models alexnet,vgg11 --data-parallel 0
    alexbench parity --variants paper --frameworks torch jax --steps 5
    alexbench parity --size small --frameworks torch --data-parallel 0 --out-dir /tmp/parity

Every framework starts from the same canonical weights and sees the same batches (batch {BATCH}),
then follows a {STEPS}-step SGD trajectory ({sgd}; VGG-11: {TRAJECTORY_STEPS["vgg11"]} steps,
ResNet-18: {TRAJECTORY_STEPS["resnet18"]}; with BatchNorm, tier 1 also compares train-mode logits, the running
statistics after every step and eval-mode logits after the trajectory).
Tier 1 (float64, exact): every framework against every other and against an independent
golden (a plain torch.nn float64 AlexNet trained with torch.optim.SGD): logits, loss, each
gradient, the loss at every SGD step and each weight after the trajectory, <= {t[1]["weights"]} as
max|a-b| / max|b| per tensor. Tier 2 (float32 against the float64 golden, and pairwise):
logits <= {f32["logits"]}, the loss at every step <= {f32["step_loss"]}, gradients <= {f32["grads"]} \
as ||a-b|| / ||b||, with
the ReLU units whose sign differs from float64 counted (for a plain torch float32 reference
trained in lockstep with the golden). --size small: both tiers on {side}x{side}, {small.num_classes} classes;
full: logits at {full_side}x{full_side} / {paper_side}x{paper_side}, {full.num_classes} classes \
(float64 and float32); both (default).
Tier 3 (float32 execution modes: torch eager/compile, Keras graph, ...) and tier 4
(bfloat16 modes) check every mode that is not its framework's default (tier 2 covers the
defaults) against the same golden and trajectory: tier 3 under tier 2's bounds; tier 4
under reduced-precision bounds: logits <= {bf16["logits"]} and gradients <= {bf16["grads"]} as ||a-b|| / ||b||,
the loss at every step <= {bf16["step_loss"]}. --modes none skips tiers 3 and 4.
Tiers 5 (float64) and 6 (float32): each framework's own data-parallel engine (DDP, JAX
multi-controller, tf.distribute MultiWorkerMirroredStrategy) on --data-parallel processes
(default {DATA_PARALLEL}), each on its shard of the batch, against one process on the whole batch: the
loss, every gradient, the loss at every step and the weights under tier 1's (float64) or
tier 2's (float32) bounds; two wrong recipes (gradients summed over ranks, every rank on the
same shard; with BatchNorm a third, each rank on its own batch statistics) must each miss the
gradient bound by {1 / CONTROL_MARGIN:.0f}x or more. --data-parallel 0 skips them.
Exit status 1 names tier, network, pair, tensor and step of every exceeded bound; a JSON
record goes to OUT_DIR/parity-<UTC time>.json (OUT_DIR: ./results/parity unless --out-dir).
"""


def _bound(value: float | None) -> str:
    """1e-9, 2e-3, 0.35: a bound as the docs write it."""
    if value is None:
        return "(reported)"
    if value >= 0.1:
        return f"{value:g}"
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _names(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [name for value in values for name in value.split(",") if name]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    small = small_config("torchvision")
    parser.add_argument(
        "--models", nargs="+", default=None, metavar="NAME",
        help=f"networks to check ({', '.join(networks.names())} or all; default {','.join(DEFAULT_MODELS)})",
    )  # fmt: skip
    parser.add_argument(
        "--variants", nargs="+", default=None, metavar="VARIANT",
        help="of the models that have them: torchvision, paper (default: every variant of each model)",
    )  # fmt: skip
    parser.add_argument(
        "--frameworks",
        nargs="+",
        default=None,
        metavar="NAME",
        help="default: every registered framework installed here",
    )
    parser.add_argument(
        "--size",
        choices=["small", "full", "both"],
        default="both",
        help=f"small: tiers 1 and 2 on {small.height}x{small.height}, {small.num_classes} classes; full: logits at "
        f"{full_config('torchvision').height}/{full_config('paper').height}, {full_config('paper').num_classes} "
        "classes; both (default)",
    )
    widths = ", ".join(f"{model} {width:g}" for model, width in SMALL_WIDTHS.items())
    parser.add_argument("--width", type=float, default=None,
                        help="width of the small configs: every channel count and hidden width times this "
                             f"(default: each model's, {widths}; why: harness/parity/runs.py)")  # fmt: skip
    steps = ", ".join(f"{model} {n}" for model, n in TRAJECTORY_STEPS.items())
    parser.add_argument("--steps", type=int, default=None,
                        help=f"SGD steps of the trajectories (default: each model's, {steps}; why: "
                             "harness/parity/runs.py)")  # fmt: skip
    parser.add_argument("--batch", type=int, default=BATCH, help="batch size (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and batches (default 0)")
    parser.add_argument(
        "--lr", type=float, default=PARITY_SGD.lr, help="SGD learning rate (default %(default)s; why: docs/DESIGN.md)"
    )
    parser.add_argument("--momentum", type=float, default=PARITY_SGD.momentum)
    parser.add_argument("--weight-decay", type=float, default=PARITY_SGD.weight_decay)
    parser.add_argument(
        "--device", choices=["cpu", "gpu"], default="cpu", help="where the frameworks run; the golden is CPU float64"
    )
    parser.add_argument(
        "--modes", default="all",
        help="execution modes for tiers 3/4: 'all' (every non-default mode), 'none', or e.g. 'torch=eager+bf16'",
    )  # fmt: skip
    parser.add_argument(
        "--data-parallel", type=int, default=DATA_PARALLEL, metavar="N",
        help="processes of tiers 5/6, data parallel vs one process (default %(default)s; 0 skips them)",
    )  # fmt: skip
    parser.add_argument(
        "--out-dir", default="results/parity", type=absolute,
        help="where the JSON record goes (default: ./results/parity; the summary records go to runs/ beside it)",
    )


def main(args: argparse.Namespace) -> int:
    nets = parity_nets(parse_models(args.models), _names(args.variants))
    frameworks, skipped = select_frameworks(_names(args.frameworks))
    frameworks, own_processes = process_groups(frameworks)
    optimizer = SGDConfig(lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    if (args.steps is not None and args.steps < 0) or args.batch < 1:
        raise ConfigError(f"--steps must be >= 0 and --batch >= 1, got {args.steps} and {args.batch}")
    if args.data_parallel == 1 or args.data_parallel < 0:
        raise ConfigError(f"--data-parallel takes 2 or more processes, or 0 to skip; got {args.data_parallel}")
    for name, reason in skipped.items():
        print(f"skipping {name}: {reason}")
    if not frameworks:
        print("no framework to check")
    golden.require()
    precision = {f: backends.get(f).set_tf32(False) for f in frameworks} if args.device == "gpu" else {}
    if "keras" in frameworks:  # every Keras model traces its own tf.functions: TF warns of "retracing"
        logging.getLogger("tensorflow").setLevel(logging.ERROR)

    started = time.perf_counter()
    suite = Suite(nets, frameworks, args.size, args.steps, args.batch, args.seed, optimizer, args.device,
                  _parse_parity_modes(args.modes, frameworks), args.data_parallel, args.width).run()  # fmt: skip
    if args.data_parallel and args.size != "full":  # the others' refusals, said once, here
        for framework in (f for group in own_processes for f in group):
            why = backends.get(framework).data_parallel_refusal()
            if why:
                suite.data_parallel_skips[framework] = why
    rows = suite.rows
    failures = [row for row in rows if not row.passed]
    passed = not failures and bool(frameworks)
    document = {
        "schema": "alexbench.parity/1",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "passed": passed,
        "settings": {
            "networks": nets,
            "frameworks": frameworks,
            "size": args.size,
            "steps": args.steps,
            "batch": args.batch,
            "seed": args.seed,
            "optimizer": asdict(optimizer),
            "device": args.device,
            "data_parallel": args.data_parallel,
            "width": args.width,
            "precision": precision or "cpu: IEEE fp32/fp64",
            "golden": "plain torch.nn network of each model (harness.reference.golden), float64, torch.optim.SGD, CPU",
        },
        "environment": environment(frameworks),
        "skipped": skipped,
        "modes_skipped": suite.mode_skips,
        "data_parallel_skipped": suite.data_parallel_skips,
        "own_processes": own_processes,
        "configs": suite.configs,
        "tolerances": {
            str(t): {q: {"metric": m, "bound": b} for q, (m, b) in qs.items()} for t, qs in TOLERANCES.items()
        },
        "relu_flips": {
            net: {"run": F32_REFERENCE, "against": GOLDEN, **report.to_json()} for net, report in suite.flips.items()
        },
        "timings_s": {**suite.timings, "total": round(time.perf_counter() - started, 2)},
        "failures": [row.describe() for row in failures],
        "checks": [row.to_json() for row in rows],
    }
    layout = results.Layout.of_parity_folder(args.out_dir)
    path = write_document(document, layout)
    settings = {"device": args.device, "batch": args.batch, "steps": args.steps, "seed": args.seed,
                "size": args.size, "lr": args.lr, "width": args.width}  # fmt: skip
    summaries = write_summary_records(rows, frameworks, nets, settings, layout, path)
    print(f"record: {path}  ({time.perf_counter() - started:.0f} s); summary for reports: {summaries}")
    failed_processes = [group for group in own_processes if run_own_process(args, group) != 0]
    for group in failed_processes:
        print(f"parity FAILED in the process of {', '.join(group)} (its record and output above)", file=sys.stderr)
    if failures:
        print(f"parity FAILED: {len(failures)} check(s) out of bounds", file=sys.stderr)
        for row in failures[:20]:
            print(f"  {row.describe()}", file=sys.stderr)
        if len(failures) > 20:
            print(f"  ... and {len(failures) - 20} more (see {path})", file=sys.stderr)
        return 1
    if not frameworks or failed_processes:
        return 1
    caught = ", every data-parallel control caught" if any(r.quantity == "control" for r in rows) else ""
    print(f"parity passed: {len(rows)} checks, tier 1 <= 1e-9, the other tiers within bounds{caught}")
    return 0


def process_groups(frameworks: list[str]) -> tuple[list[str], list[list[str]]]:
    """(the frameworks this process checks, [the frameworks of each process of its own]).

    Keras picks its backend once per process: this process takes every framework that is not
    Keras plus the Keras implementations of one backend (the first named); each Keras
    implementation on another backend is checked in a process of its own, beside the native
    implementation of its backend (keras-jax with jax), so that tier 1 compares the two."""
    import impls

    here, own = [], []
    backend = None
    for name in frameworks:
        chosen = impls.keras_backend(name)
        if chosen is None or backend in (None, chosen):
            backend = backend or chosen
            here.append(name)
            continue
        native = impls.native_of(name)
        group = [name] + ([native] if native and impls.unavailable_reason(native) is None else [])
        own.append(group)
    return here, own


def run_own_process(args: argparse.Namespace, frameworks: list[str]) -> int:
    """`alexbench parity` on `frameworks` in a new process, with this run's settings (tiers 5-6
    left out: the natives ran them here, and the Keras backends refuse them); its exit status."""
    import subprocess

    print(f"\n== {', '.join(frameworks)}: in a process of its own (Keras picks its backend once per process)")
    argv = [sys.executable, "-m", "harness", "parity", "--frameworks", *frameworks, "--size", args.size,
            "--batch", str(args.batch), "--seed", str(args.seed), "--lr", str(args.lr),
            "--momentum", str(args.momentum), "--weight-decay", str(args.weight_decay), "--device", args.device,
            "--modes", _modes_for(args.modes, frameworks), "--data-parallel", "0",
            "--out-dir", str(args.out_dir)]  # fmt: skip
    argv += ["--models", *args.models] if args.models else []
    argv += ["--variants", *args.variants] if args.variants else []
    argv += ["--width", str(args.width)] if args.width is not None else []
    argv += ["--steps", str(args.steps)] if args.steps is not None else []
    return subprocess.run(argv, check=False).returncode


def _modes_for(text: str, frameworks: list[str]) -> str:
    """The --modes of a process of its own: the items naming its frameworks ('none' if none)."""
    if text in ("all", "none"):
        return text
    items = [item for item in text.split(",") if item.partition("=")[0].strip() in frameworks]
    return ",".join(items) or "none"


def parity_nets(models: list[str], variants: list[str] | None) -> list[str]:
    """The networks to check, "model/variant", in order: each model's variants (or those of
    `variants` it has; a model with none of them is an error naming its own)."""
    nets = []
    for model in models:
        own = networks.get(model).variants
        chosen = [v for v in variants if v in own] if variants else list(own)
        if variants:
            unknown = [v for v in variants if v not in variant_choices()]
            if unknown:
                raise ConfigError(f"unknown variant {unknown[0]!r}; choose from {', '.join(variant_choices())}")
        if not chosen:
            raise ConfigError(f"{model} has none of the variants {', '.join(variants)}; its variants: {', '.join(own)}")
        nets += [net_label(model, v) for v in chosen]
    return nets


def _parse_parity_modes(text: str, frameworks: list[str]) -> dict[str, list[str]] | None:
    """None: every non-default mode; {}: none; else framework -> modes (others: none)."""
    from impls.modes import parse_modes

    if text == "all":
        return None
    if text == "none":
        return {}
    chosen = parse_modes(text, frameworks)
    named = {item.split("=")[0].strip() for item in text.split(",")}
    return {f: m for f, m in chosen.items() if f in named}
