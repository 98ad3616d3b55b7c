"""Train one framework on a dataset and evaluate top-1 / top-5 on its test split.

The --help text is description(), built from TrainSettings' defaults (the numbers that run).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import impls
from harness import stats
from harness.models import parse_models, variant_choices, variant_for
from harness.paths import absolute
from harness.training import TrainSettings, load_data, model_config, train_and_evaluate, tta_thresholds
from impls.errors import AlexBenchError
from impls.modes import resolve


def description() -> str:
    d = TrainSettings()
    subset = f"a stratified {d.train_subset:,}-image subset" if d.train_subset else "all training images"
    return f"""\
Train one framework on a dataset and evaluate top-1 / top-5 on its test split.

    alexbench train --framework torch                  # Fashion-MNIST, the defaults below
    alexbench train --framework jax --epochs 3 --image-size 96 --train-subset 20000
    alexbench train --framework keras --seeds 3        # three replicates: mean, spread, 95% interval
    alexbench train --dataset folder --data-dir ~/photos --checkpoint run.npz   # your own images
    alexbench train --models {",".join(impls.models())} --epochs 1     # each network in turn (default {d.model})

Defaults are sized for a 2-core CPU ({d.image_size}x{d.image_size} input, {subset}, {d.epochs} epochs,
batch {d.batch_size}, SGD lr {d.lr} / momentum {d.momentum} / weight decay {d.weight_decay}, random crops and flips:
a few minutes); use --image-size 224 --train-subset 0 (all) on a GPU for full-size training.
Every framework gets the same seed, weights, batches, augmentation and hyperparameters.
"""


def add_settings_arguments(parser: argparse.ArgumentParser, defaults: TrainSettings = TrainSettings()) -> None:
    d = defaults
    parser.add_argument("--dataset", default="fashion-mnist", choices=["fashion-mnist", "folder"])
    parser.add_argument("--data-dir", type=absolute,
                        help="Fashion-MNIST IDX folder, or the image folder for --dataset folder")  # fmt: skip
    parser.add_argument(
        "--strict-images", action="store_true", help="fail on an unreadable image instead of skipping it"
    )
    parser.add_argument("--epochs", type=int, default=d.epochs)
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument("--image-size", type=int, default=d.image_size, help=f"square input side ({minimum_sizes()})")
    parser.add_argument("--train-subset", type=int, default=d.train_subset, help="training examples (0: all)")
    parser.add_argument("--test-subset", type=int, default=d.test_subset or 0, help="test examples (0: all)")
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--momentum", type=float, default=d.momentum)
    parser.add_argument("--weight-decay", type=float, default=d.weight_decay)
    parser.add_argument("--dropout", type=float, default=d.dropout)
    parser.add_argument("--no-augment", action="store_true", help="no random crops or flips")
    variants = "; ".join(f"{m}: {', '.join(impls.networks.get(m).variants)}" for m in impls.models())
    parser.add_argument("--variant", choices=variant_choices(), help=f"of each model (default: its first; {variants})")
    parser.add_argument("--in-channels", type=int, default=d.in_channels, choices=[1, 3])
    parser.add_argument("--seed", type=int, default=d.seed)


def minimum_sizes() -> str:
    """'smallest: alexnet 63 (paper 67), vgg11 32': each model's smallest input, from the registry."""
    parts = []
    for model in impls.models():
        first, *others = impls.networks.get(model).variants
        extra = ", ".join(f"{v} {impls.min_image_size(v, model)}" for v in others)
        parts.append(f"{model} {impls.min_image_size(first, model)}" + (f" ({extra})" if extra else ""))
    return "smallest: " + ", ".join(parts)


def settings_from_args(args: argparse.Namespace, model: str = TrainSettings.model) -> TrainSettings:
    """The settings of `model` (its variant: --variant, checked against it, or its first)."""
    for name in ("epochs", "batch_size", "evals_per_epoch"):
        if getattr(args, name) < 1:
            raise AlexBenchError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    return TrainSettings(
        epochs=args.epochs,
        batch_size=args.batch_size,
        image_size=args.image_size,
        train_subset=args.train_subset or None,
        test_subset=args.test_subset or None,
        lr=args.lr,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        dropout=args.dropout,
        augment=not args.no_augment,
        seed=args.seed,
        model=model,
        variant=variant_for(model, args.variant),
        in_channels=args.in_channels,
        mode=getattr(args, "mode", None),
        evals_per_epoch=getattr(args, "evals_per_epoch", 1),
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--framework", default="torch", help="torch, keras, jax, keras-jax or keras-torch (see `alexbench info`)"
    )
    parser.add_argument("--models", default=TrainSettings.model,
                        help=f"networks, comma-separated, trained one after the other: {', '.join(impls.models())} "
                        "or 'all' (default %(default)s; see `alexbench info`)")  # fmt: skip
    parser.add_argument(
        "--seeds", type=int, default=1, metavar="N",
        help="train N times, seeds SEED .. SEED+N-1 (weights, batch order, augmentation and dropout follow the "
        "seed), and summarize top-1/top-5/loss as mean, standard deviation and 95%% interval",
    )  # fmt: skip
    parser.add_argument("--evals-per-epoch", type=int, default=1, help="test-split evaluations per epoch")
    parser.add_argument(
        "--checkpoint", metavar="PATH.npz", type=absolute,
        help="save the training there every 5 minutes and after each epoch; if it exists, continue from it "
        "(same settings): from the batch it had reached (one file per seed and model with --seeds N or several "
        "--models: PATH[-MODEL][-seedK].npz)",
    )  # fmt: skip
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--mode", help="execution mode, e.g. bf16 (default: the framework's; see `alexbench info`)")
    add_settings_arguments(parser)


def main(args: argparse.Namespace) -> int:
    every = [settings_from_args(args, model) for model in parse_models(args.models)]
    if args.seeds < 1:
        raise AlexBenchError(f"--seeds must be >= 1, got {args.seeds}")
    if args.checkpoint and not args.checkpoint.endswith(".npz"):
        raise AlexBenchError(f"--checkpoint names an .npz file, got {args.checkpoint!r} (add .npz)")
    for settings in every:
        model_config(settings, 10)  # validate sizes before loading any data
    impls.implementation_class(args.framework)  # and the framework (unknown or not installed)
    resolve(args.framework, every[0].mode)  # and the mode
    return max(train_model(args, settings, several=len(every) > 1) for settings in every)


def checkpoint_path(path: str | None, model: str, seed: int, models: bool, seeds: bool) -> str | None:
    """--checkpoint PATH.npz, or one file per model and seed: PATH-MODEL-seedK.npz."""
    if not path:
        return None
    return path[: -len(".npz")] + (f"-{model}" if models else "") + (f"-seed{seed}" if seeds else "") + ".npz"


def train_model(args: argparse.Namespace, settings: TrainSettings, several: bool) -> int:
    """--seeds trainings of one network; 1 if one diverged (the next network still trains)."""
    finals = []
    for seed in range(settings.seed, settings.seed + args.seeds):
        run = replace(settings, seed=seed)
        train_set, test_set = load_data(run, args.data_dir, args.dataset, args.strict_images)
        print(
            f"{args.framework} on {args.device}: {train_set.name} ({len(train_set)} train, {len(test_set)} test), "
            f"{run.model} ({run.variant}) at {run.image_size}x{run.image_size}, batch {run.batch_size}, "
            f"{run.epochs} epoch(s), seed {seed}"
        )
        for note in train_set.notes:
            print(f"  note: {note}")
        checkpoint = checkpoint_path(args.checkpoint, run.model, seed, several, args.seeds > 1)
        result = train_and_evaluate(args.framework, run, train_set, test_set, args.device, checkpoint=checkpoint)
        print(f"{'epoch':>5} {'train loss':>10} {'test loss':>9} {'top-1':>7} {'top-5':>7} {'seconds':>8}")
        for e in result.epochs:
            losses = f"{e.train_loss:>10.4f} {e.test_loss:>9.4f}"
            print(f"{e.epoch:>5} {losses} {e.test_top1:>7.2%} {e.test_top5:>7.2%} {e.seconds:>8.1f}")
        for threshold in tta_thresholds(train_set.name):
            point = result.time_to(threshold)
            reached = f"{point.seconds:.1f} s of training, {point.images} images" if point else "not reached"
            print(f"  time to {threshold:.0%} top-1: {reached}")
        if result.diverged:
            print("DIVERGED: " + result.notes[-1])
            return 1
        finals.append(result.final)
    if len(finals) > 1:
        print(f"{settings.model} over {len(finals)} seeds (mean ± standard deviation [95% interval of the mean]):")
        for name in ("test_top1", "test_top5", "test_loss"):
            s = stats.mean_ci([getattr(f, name) for f in finals])
            scale, unit = (100, "%") if "top" in name else (1, "")
            print(f"  {name:<10} {s['mean'] * scale:.2f}{unit} ± {s['sd'] * scale:.2f} "
                  f"[{s['ci95_low'] * scale:.2f}, {s['ci95_high'] * scale:.2f}]")  # fmt: skip
    return 0
