"""The one interface every AlexNet implementation offers (its boundary checks: impls.checks).

Everything crosses the boundary as numpy: images NHWC float (N, H, W, C), labels int
(N,), logits (N, num_classes), weights and gradients in canonical names and layouts
(see impls.weights). Subclasses implement the underscored framework hooks; the public
methods here validate inputs once, so every framework rejects bad input the same way.

Execution modes (impls.modes) change how a model computes, never what: `mode="bf16"`
computes in bfloat16 from float32 weights, but the boundary stays float32 numpy.

Compute-only timing: `device_batch(images, labels)` converts, validates and places a
batch on the model's device once; `predict` and `train_step` accept that batch in place
of numpy arrays, so a timed step does no host-to-device copy.

uint8 input: with an InputNorm (`input_norm=` or `set_input_norm`), images may be uint8
NHWC; they cross to the device as uint8 (a quarter of float32's bytes) and each framework
normalizes them — and expands gray to three channels — as the first operation of its step,
with one formula (InputNorm). get_state / set_state carry what a checkpoint needs.

The parameter store (impls.params, `self.params`) lists every tensor with its role, shape
and layout kind; weights, momentum and gradients cross this class in canonical form, and
a framework only moves native arrays (`_read_params`, `_load_params`, ...) while its
`_layout` converts each tensor (impls.layout).

Buffers (BatchNorm's running statistics) are part of the weights: a framework holds the
float ones (`params.float_buffers`) beside its parameters, `train_step` updates them,
`loss_and_grads` and `predict` leave them as they were (predict is evaluation mode: it
normalizes with them). The integer counters (num_batches_tracked) are kept here, one
increment per train_step, the same in every framework.
"""

from __future__ import annotations

import contextlib
import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from impls.checks import check_images, check_labels, check_statistics
from impls.config import AlexNetConfig, SGDConfig, layers
from impls.errors import ConfigError, InputError
from impls.layout import CanonicalLayout
from impls.modes import Mode, resolve
from impls.networks.ops import BatchNorm, leaves
from impls.params import ParameterStore
from impls.weights import Weights, check_weights, init_weights


@dataclass(frozen=True)
class InputNorm:
    """How a model turns uint8 images into its input, as the first operation of its step:
    x = (u8 / 255 - mean) / std per channel, computed as u8 * scale + shift (scale and shift
    from float64, then the model's dtype) the same way in every framework; a one-channel
    (grayscale) batch is expanded to the model's three channels after that.

    mean and std are per channel of the uint8 images, in [0, 1] units."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.mean) != len(self.std) or len(self.mean) not in (1, 3):
            raise ConfigError(f"input normalization needs 1 or 3 channels of mean and std, got {self.mean}, {self.std}")
        if min(self.std) <= 0:
            raise ConfigError(f"input normalization std must be > 0, got {self.std}")

    @property
    def channels(self) -> int:
        return len(self.mean)

    def scale_shift(self, dtype) -> tuple[np.ndarray, np.ndarray]:
        """(scale, shift), each (channels,) in `dtype`: x = u8 * scale + shift."""
        mean, std = np.asarray(self.mean, np.float64), np.asarray(self.std, np.float64)
        return (1.0 / (255.0 * std)).astype(dtype), (-mean / std).astype(dtype)

    def apply(self, images: np.ndarray, dtype, channels: int) -> np.ndarray:
        """The same normalization in numpy (the float path, and parity's golden input)."""
        scale, shift = self.scale_shift(np.float64)
        x = (images.astype(np.float64) * scale + shift).astype(dtype)
        return np.repeat(x, channels, axis=-1) if x.shape[-1] == 1 and channels == 3 else x


@dataclass
class TrainState:
    """The optimizer's momentum (canonical names and layouts) and the dropout generator's state."""

    momentum: Weights
    rng: np.ndarray


@dataclass(frozen=True)
class DeviceBatch:
    """A validated batch already on the model's device (framework-native arrays)."""

    images: Any
    labels: Any  # None for inference-only batches
    size: int
    owner: int  # id() of the model that made it: a batch is not portable between models


def scoped(method):
    """Run a public method inside the model's `_scope()` (JAX: its own x64 setting)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._scope():
            return method(self, *args, **kwargs)

    return wrapper


def normalize_device(device: str) -> str:
    device = device.lower()
    if device in ("gpu", "cuda"):
        return "gpu"
    if device == "cpu":
        return "cpu"
    raise ConfigError(f"unknown device {device!r}; use 'cpu' or 'gpu'")


class AlexNet(ABC):
    """Base class of the framework implementations (torch, keras, jax, keras-jax, keras-torch),
    for every registered network (the name is historical: impls.Model is the same class)."""

    framework: str = ""  # registry name, set by subclasses
    statistics_sync: str = ""  # how data parallel reduces BatchNorm's batch statistics across ranks

    def __init__(
        self,
        config: AlexNetConfig,
        device: str = "cpu",
        optimizer: SGDConfig | None = None,
        seed: int = 0,
        mode: str | None = None,
        input_norm: InputNorm | None = None,
    ) -> None:
        if not isinstance(config, AlexNetConfig):
            raise ConfigError(f"config must be an AlexNetConfig, got {type(config).__name__}")
        self.config = config
        # How to compute (layout, compilation, precision): see impls.modes. None: the default.
        self.mode: Mode = resolve(self.framework, mode, config.dtype)
        self.device = normalize_device(device)
        self.optimizer = optimizer or SGDConfig()
        self.seed = seed  # seeds dropout masks
        self._np_dtype = np.dtype(config.dtype)
        self.input_norm: InputNorm | None = None
        self.params = ParameterStore(layers(config))
        self._counters: dict[str, int] = {name: 0 for name in self.params.counters}
        self._local_statistics = False  # data parallel: BatchNorm on each rank's own share (a control)
        self._held = [name for name in self.params.names() if name not in self._counters]  # what a framework holds
        # the fewest values per channel a BatchNorm sees per image (its map's H x W); None: no BatchNorm
        norms = [layer.in_shape for layer in leaves(layers(config)) if isinstance(layer.op, BatchNorm)]
        self._norm_pixels = min((h * w for _, h, w in norms), default=None)
        self._layout = CanonicalLayout()  # NHWC frameworks set theirs in _build
        with self._scope():
            self._build()
        self.set_weights(init_weights(config, seed=seed))
        if input_norm is not None:
            self.set_input_norm(input_norm)

    # ----------------------------------------------------------------- public API
    @scoped
    def set_weights(self, weights: Weights) -> None:
        """Load canonical weights and reset the optimizer's momentum to zero."""
        check_weights(weights, self.config)
        self._load_params(self._native(weights, self._held))
        self._counters = {name: int(np.asarray(weights[name])) for name in self._counters}
        self._zero_momentum()

    @scoped
    def get_weights(self) -> Weights:
        """Parameters and buffers, canonical names, layouts and order (a state_dict's)."""
        held = self._canonical(self._read_params(), self._held)
        counters = {name: np.asarray(count, dtype=np.int64) for name, count in self._counters.items()}
        return {name: held[name] if name in held else counters[name] for name in self.params.names()}

    # canonical <-> native, one tensor at a time, in the store's order
    def _native(self, tensors: Weights, names: list[str]) -> dict[str, np.ndarray]:
        return {n: self._layout.to_native(self.params[n], np.asarray(tensors[n], dtype=self._np_dtype)) for n in names}

    def _canonical(self, native: dict, names: list[str]) -> Weights:
        return {n: self._layout.to_canonical(self.params[n], np.asarray(native[n])) for n in names}

    @scoped
    def set_input_norm(self, norm: InputNorm) -> None:
        """How uint8 images become this model's input (InputNorm): with it, predict and
        train_step take uint8 NHWC batches with norm.channels channels (1 or the config's),
        which cross to the device as uint8 and are normalized there, first in the step."""
        if not isinstance(norm, InputNorm):
            raise ConfigError(f"input normalization must be an impls.InputNorm, got {type(norm).__name__}")
        if norm.channels not in (1, self.config.in_channels):
            raise ConfigError(
                f"input normalization has {norm.channels} channels; this model takes {self.config.in_channels} "
                "(or 1, expanded on the device)"
            )
        self.input_norm = norm
        self._set_input_norm(*norm.scale_shift(self._np_dtype))

    @scoped
    def distribute(self, engine, reduce: str = "mean", statistics: str = "global") -> None:
        """Train data-parallel on the framework's own engine, already initialized by the
        caller (harness.backends: a torch process group, a JAX mesh, a tf.distribute strategy):
        each rank passes its own local batch (equal sizes), the engine averages the gradients
        over ranks, every rank applies the same update. loss_and_grads then returns the
        averaged gradient. reduce="sum" sums instead of averaging: the wrong recipe that
        parity's data-parallel controls use to prove the check catches it.

        BatchNorm's batch statistics are reduced across ranks too (each framework's own means:
        `statistics_sync` says which), so two ranks on half batches compute what one process
        computes on the whole batch, running statistics included. statistics="local" leaves
        each rank's BatchNorm on its own share of the batch: the wrong recipe of parity's
        "local-stats" control."""
        if reduce not in ("mean", "sum"):
            raise ConfigError(f"reduce must be 'mean' or 'sum', got {reduce!r}")
        if statistics not in ("global", "local"):
            raise ConfigError(f"statistics must be 'global' or 'local', got {statistics!r}")
        self._local_statistics = statistics == "local"
        self._distribute(engine, reduce)

    @scoped
    def get_state(self) -> TrainState:
        """What training needs besides the weights to continue exactly (a checkpoint): the
        momentum (canonical names and layouts) and the state of the dropout masks' generator."""
        momentum = self._canonical(self._read_momentum(), self.params.trainable)
        return TrainState(momentum, np.asarray(self._get_rng_state()))

    @scoped
    def set_state(self, state: TrainState) -> None:
        check_weights(state.momentum, self.config, trainable_only=True)
        self._load_momentum(self._native(state.momentum, self.params.trainable))
        self._set_rng_state(np.asarray(state.rng))

    @scoped
    def predict(self, images: np.ndarray | DeviceBatch, training: bool = False) -> np.ndarray:
        """Logits (N, num_classes) in eval mode (no dropout; BatchNorm normalizes with its
        running statistics). training=True: the train-mode forward pass (BatchNorm with the
        batch's statistics, dropout where configured) changing nothing, not even the statistics."""
        batch = self._as_batch(images, None)
        if training:
            check_statistics(batch.size, self._norm_pixels, self.config)
        return np.asarray(self._predict(batch, bool(training)))

    @scoped
    def loss_and_grads(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, Weights]:
        """Mean cross-entropy and its gradients (canonical names and layouts), in train
        mode (dropout active if configured), without updating anything. Weight decay is
        not part of the loss: it is added by the update rule."""
        batch = self._as_batch(images, labels)
        check_statistics(batch.size, self._norm_pixels, self.config)
        loss, grads = self._loss_and_grads(batch)
        return float(loss), self._canonical(grads, self.params.trainable)

    @scoped
    def train_step(self, images: np.ndarray | DeviceBatch, labels: np.ndarray | None = None) -> float:
        """One SGD step (see SGDConfig for the rule); returns the loss before the update."""
        batch = self._as_batch(images, labels)
        if batch.labels is None:
            raise InputError("train_step needs labels: pass them, or make the batch with device_batch(images, labels)")
        check_statistics(batch.size, self._norm_pixels, self.config)
        loss = float(self._train_step(batch))
        for name in self._counters:  # torch's BatchNorm counts every train-mode batch
            self._counters[name] += 1
        return loss

    @scoped
    def device_batch(self, images: np.ndarray, labels: np.ndarray | None = None) -> DeviceBatch:
        images = check_images(images, self.config, self._np_dtype, self.input_norm)
        labels = None if labels is None else check_labels(labels, len(images), self.config.num_classes)
        native_images, native_labels = self._to_device(images, labels)
        return DeviceBatch(native_images, native_labels, len(images), id(self))

    def _scope(self):
        """A context every public method runs in: a framework switch that must hold for this
        model only (JAX's x64 for float64 models); nothing by default."""
        return contextlib.nullcontext()

    def synchronize(self) -> None:  # noqa: B027  (optional hook: a no-op by default)
        """Wait until queued device work is done (a no-op where execution is synchronous)."""

    @classmethod
    def versions(cls) -> dict[str, str]:
        """Framework version strings, for records."""
        return {}

    # ------------------------------------------------------------ boundary checks
    def _as_batch(self, images, labels) -> DeviceBatch:
        if isinstance(images, DeviceBatch):
            if images.owner != id(self):
                raise InputError("this DeviceBatch was made by another model; make it with this model's device_batch()")
            if labels is not None:
                raise InputError("pass labels to device_batch(), not with a DeviceBatch")
            return images
        return self.device_batch(images, labels)

    # ------------------------------------------------------------ framework hooks
    @abstractmethod
    def _build(self) -> None: ...

    @abstractmethod
    def _load_params(self, native: dict[str, np.ndarray]) -> None:
        """Copy native-layout arrays (impls.layout) into the parameters and float buffers
        (`self._held`), by canonical name."""

    @abstractmethod
    def _read_params(self) -> dict[str, Any]:
        """Canonical name -> each parameter and float buffer (`self._held`) in native layout
        (anything np.asarray reads)."""

    @abstractmethod
    def _zero_momentum(self) -> None: ...

    @abstractmethod
    def _read_momentum(self) -> dict[str, Any]: ...

    @abstractmethod
    def _load_momentum(self, native: dict[str, np.ndarray]) -> None: ...

    @abstractmethod
    def _to_device(self, images: np.ndarray, labels: np.ndarray | None) -> tuple[Any, Any]: ...

    @abstractmethod
    def _predict(self, batch: DeviceBatch, training: bool) -> Any:
        """Logits of the eval-mode (or train-mode) forward pass; nothing is updated."""

    @abstractmethod
    def _loss_and_grads(self, batch: DeviceBatch) -> tuple[Any, dict[str, Any]]:
        """(loss, canonical name -> gradient in native layout) of the trainable tensors."""

    @abstractmethod
    def _train_step(self, batch: DeviceBatch) -> Any: ...

    @abstractmethod
    def _set_input_norm(self, scale: np.ndarray, shift: np.ndarray) -> None: ...

    @abstractmethod
    def _distribute(self, engine, reduce: str) -> None: ...

    @abstractmethod
    def _get_rng_state(self) -> np.ndarray: ...

    @abstractmethod
    def _set_rng_state(self, state: np.ndarray) -> None: ...


Model = AlexNet
