"""Training and evaluation: train one framework on a dataset, evaluating top-1 / top-5 and
the loss on the test split after every epoch (used by `alexbench train` and `alexbench run`).

Every framework gets the same seed, weights, batches, augmentation and hyperparameters.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from harness import data as data_module
from impls.config import AlexNetConfig, SGDConfig
from impls.errors import DataError


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 2
    batch_size: int = 64
    image_size: int = 64
    train_subset: int | None = 10000  # None: the whole training split
    test_subset: int | None = None
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    dropout: float = 0.5
    augment: bool = True
    seed: int = 0
    variant: str = "torchvision"
    width: float = 1.0  # of the network (impls.AlexNetConfig.width)
    in_channels: int = 3
    model: str = "alexnet"  # a name of impls.models()
    mode: str | None = None  # execution mode (impls.modes); None: the framework's default
    evals_per_epoch: int = 1  # evaluations of the test split per epoch: points of the convergence curve


@dataclass
class EpochResult:
    epoch: int
    train_loss: float
    test_loss: float
    test_top1: float
    test_top5: float
    seconds: float


@dataclass
class EvalPoint:
    """One evaluation during training: a point of the convergence curve."""

    epoch: int
    images: int  # training images seen so far
    seconds: float  # seconds spent in training steps so far (evaluations excluded)
    test_top1: float
    test_top5: float
    test_loss: float


# Test top-1 thresholds of time-to-accuracy, per dataset (DAWNBench / MLPerf's metric):
# the quick Fashion-MNIST profile reaches ~70-75% top-1, so its thresholds sit below that.
TTA_THRESHOLDS = {"fashion-mnist": (0.5, 0.6, 0.7)}
DEFAULT_TTA_THRESHOLDS = (0.5, 0.7, 0.9)


def tta_thresholds(dataset: str) -> tuple[float, ...]:
    return TTA_THRESHOLDS.get(dataset.split("/")[0], DEFAULT_TTA_THRESHOLDS)


@dataclass
class TrainResult:
    framework: str
    device: str
    settings: dict
    dataset: str
    notes: list[str]
    epochs: list[EpochResult] = field(default_factory=list)
    curve: list[EvalPoint] = field(default_factory=list)
    diverged: bool = False

    def time_to(self, threshold: float) -> EvalPoint | None:
        """The first evaluation at which test top-1 reached `threshold` (None: never)."""
        return next((p for p in self.curve if p.test_top1 >= threshold), None)

    @property
    def final(self) -> EpochResult | None:
        return self.epochs[-1] if self.epochs else None


def topk_correct(logits: np.ndarray, labels: np.ndarray, k: int) -> int:
    k = min(k, logits.shape[1])
    top = np.argpartition(-logits, k - 1, axis=1)[:, :k]
    return int((top == labels[:, None]).any(axis=1).sum())


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def evaluate(model, pipeline: data_module.Pipeline, bar=None, progress=None) -> dict[str, float]:
    """Top-1, top-5 and mean loss over the pipeline's dataset (eval mode, no augmentation)."""
    correct1 = correct5 = 0
    loss_sum = 0.0
    for images, labels in pipeline.epoch(0):
        logits = model.predict(images).astype(np.float64)
        correct1 += topk_correct(logits, labels, 1)
        correct5 += topk_correct(logits, labels, 5)
        loss_sum += cross_entropy(logits, labels) * len(labels)
        if bar is not None:
            bar.update(len(labels))
        if progress is not None:
            progress(len(labels))
    n = len(pipeline.prepared)
    return {"top1": correct1 / n, "top5": correct5 / n, "loss": loss_sum / n}


def load_data(settings: TrainSettings, data_dir=None, dataset: str = "fashion-mnist", strict: bool = False):
    """(train, test) Datasets for the settings; image folders are split 80/20 by seed."""
    if dataset == "fashion-mnist":
        train = data_module.load_fashion_mnist("train", data_dir)
        test = data_module.load_fashion_mnist("test", data_dir)
    elif dataset == "folder":
        if not data_dir:
            raise DataError("--dataset folder needs --data-dir pointing at a folder with one subfolder per class")
        full = data_module.load_image_folder(data_dir, size=(settings.image_size, settings.image_size), strict=strict)
        order = np.random.default_rng(settings.seed).permutation(len(full))
        cut = int(len(full) * 0.8)
        pick = lambda idx, tag: data_module.Dataset(  # noqa: E731
            f"{full.name}/{tag}", full.images[np.sort(idx)], full.labels[np.sort(idx)], full.classes, full.notes
        )
        train, test = pick(order[:cut], "train"), pick(order[cut:], "test")
    else:
        raise DataError(f"unknown dataset {dataset!r}; use 'fashion-mnist' or 'folder'")
    return train.subset(settings.train_subset, settings.seed), test.subset(settings.test_subset, settings.seed)


def model_config(settings: TrainSettings, num_classes: int, dtype: str = "float32") -> AlexNetConfig:
    size = settings.image_size
    return AlexNetConfig(
        model=settings.model,
        variant=settings.variant,
        width=settings.width,
        num_classes=num_classes,
        image_size=(size, size),
        in_channels=settings.in_channels,
        dropout=settings.dropout,
        dtype=dtype,
    )


CROP_PADDING = data_module.Augment().crop_padding


def prepare_data(settings: TrainSettings, train_set, test_set, config: AlexNetConfig):
    """(training pipeline, test pipeline, input normalization): both sets prepared once at
    the model's size as uint8; the test set normalized with the training set's statistics."""
    size, channels = config.image_size, config.in_channels
    pad = round(size[0] * CROP_PADDING) if settings.augment else 0
    train = data_module.prepare(train_set, size, channels, pad)
    test = data_module.prepare(test_set, size, channels, 0)
    augment = data_module.Augment() if settings.augment else None
    pipeline = data_module.Pipeline(train, settings.batch_size, settings.seed, augment=augment)
    evaluation = data_module.Pipeline(test, max(settings.batch_size, 128), shuffle=False)
    return pipeline, evaluation, train.norm


def train_and_evaluate(
    framework: str,
    settings: TrainSettings,
    train_set,
    test_set,
    device: str = "cpu",
    show_progress: bool = True,
    on_epoch=None,
    progress=None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_seconds: float = 300.0,
) -> TrainResult:
    """Train `framework` for settings.epochs, evaluating on the test split
    settings.evals_per_epoch times per epoch (the last at the epoch's end).

    Every evaluation is a point of the convergence curve: images seen, seconds spent
    training (evaluations excluded), test top-1/top-5/loss; time-to-accuracy comes from it.
    With `checkpoint` (a .npz path) the training is saved there every `checkpoint_seconds`
    of training and after each epoch, and continues from it if it exists (same settings):
    from the batch it had reached, with the same weights, momentum and dropout state.
    Stops early, marking the result diverged, if the loss becomes NaN or inf.
    progress(n), if given, is called with the number of images after each batch.
    """
    import impls
    from harness import checkpoint as checkpoints
    from harness.progress import bar as progress_bar

    config = model_config(settings, train_set.num_classes)
    optimizer = SGDConfig(settings.lr, settings.momentum, settings.weight_decay)
    pipeline, evaluation, norm = prepare_data(settings, train_set, test_set, config)
    model = impls.create(framework, config, device=device, optimizer=optimizer, seed=settings.seed, mode=settings.mode,
                         input_norm=norm)  # fmt: skip
    result = TrainResult(framework, device, asdict(settings), train_set.name, list(train_set.notes))
    steps = len(pipeline)
    evals = max(1, min(settings.evals_per_epoch, steps))
    eval_after = {round(steps * k / evals) for k in range(1, evals + 1)}  # step numbers, the last = steps
    hidden = None if show_progress else True
    state = {"position": [0, 0], "images": 0, "seconds": 0.0, "losses": [0.0, 0], "epoch_seconds": 0.0}
    restored = checkpoints.load(checkpoint, asdict(settings)) if checkpoint else None
    if restored is not None:
        weights, train_state, saved = restored
        model.set_weights(weights)
        model.set_state(train_state)
        state = saved["state"]
        result.epochs = [EpochResult(**e) for e in saved["epochs"]]
        result.curve = [EvalPoint(**p) for p in saved["curve"]]
        result.notes.append(f"resumed from a checkpoint at epoch {state['position'][0] + 1}, batch "
                            f"{state['position'][1]} ({state['images']} images trained)")  # fmt: skip
    last_save = time.perf_counter()

    def save() -> None:
        progress_ = {"settings": asdict(settings), "state": state, "epochs": [asdict(e) for e in result.epochs],
                     "curve": [asdict(p) for p in result.curve]}  # fmt: skip
        checkpoints.save(checkpoint, model.get_weights(), model.get_state(), progress_)

    def evaluate_now(epoch: int) -> dict[str, float]:
        bar = progress_bar(total=len(evaluation.prepared), desc=f"{framework} evaluate", unit="img", disable=hidden,
                           leave=False)  # fmt: skip
        metrics = evaluate(model, evaluation, bar, progress)
        bar.close()
        result.curve.append(EvalPoint(epoch, state["images"], state["seconds"], metrics["top1"], metrics["top5"],
                                      metrics["loss"]))  # fmt: skip
        return metrics

    epoch, start = state["position"]
    while epoch < settings.epochs:
        epoch_start = time.perf_counter() - state["epoch_seconds"]
        bar = progress_bar(
            total=len(pipeline.prepared),
            initial=min(start * settings.batch_size, len(pipeline.prepared)),
            desc=f"{framework} epoch {epoch + 1}/{settings.epochs}",
            unit="img",
            disable=hidden,
            leave=False,
        )
        for step, (images, labels) in enumerate(pipeline.epoch(epoch, start), start=start + 1):
            step_start = time.perf_counter()
            loss = model.train_step(images, labels)
            state["seconds"] += time.perf_counter() - step_start
            state["images"] += len(labels)
            if not math.isfinite(loss):
                bar.close()
                result.diverged = True
                result.notes.append(f"loss became {loss} at epoch {epoch + 1}, step {step}; training stopped")
                return result
            state["losses"] = [state["losses"][0] + loss, state["losses"][1] + 1]
            state["position"] = [epoch, step]
            bar.update(len(labels))
            if progress is not None:
                progress(len(labels))
            bar.set_postfix(loss=f"{state['losses'][0] / state['losses'][1]:.3f}")
            if step in eval_after and step != steps:
                evaluate_now(epoch + 1)
            if checkpoint and time.perf_counter() - last_save > checkpoint_seconds:
                state["epoch_seconds"] = time.perf_counter() - epoch_start
                save()
                last_save = time.perf_counter()
        bar.close()
        metrics = evaluate_now(epoch + 1)
        result.epochs.append(
            EpochResult(
                epoch=epoch + 1,
                train_loss=state["losses"][0] / max(state["losses"][1], 1),
                test_loss=metrics["loss"],
                test_top1=metrics["top1"],
                test_top5=metrics["top5"],
                seconds=time.perf_counter() - epoch_start,
            )
        )
        if not math.isfinite(metrics["loss"]):
            result.diverged = True
            result.notes.append(
                f"loss became {metrics['loss']} on the test split after epoch {epoch + 1}; training stopped"
            )
            return result
        epoch, start = epoch + 1, 0
        state.update(position=[epoch, 0], losses=[0.0, 0], epoch_seconds=0.0)
        if checkpoint:
            save()
            last_save = time.perf_counter()
        if on_epoch is not None:
            on_epoch(result)
    return result
