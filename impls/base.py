"""The one interface every AlexNet implementation offers, and its boundary checks.

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
"""

from __future__ import annotations

import contextlib
import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from impls.config import AlexNetConfig, SGDConfig, layers
from impls.errors import ConfigError, InputError
from impls.layout import CanonicalLayout
from impls.modes import Mode, resolve
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
        self._load_params(self._native(weights, self.params.names()))
        self._zero_momentum()

    @scoped
    def get_weights(self) -> Weights:
        return self._canonical(self._read_params(), self.params.names())

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
    def distribute(self, engine, reduce: str = "mean") -> None:
        """Train data-parallel on the framework's own engine, already initialized by the
        caller (harness.backends: a torch process group, a JAX mesh, a tf.distribute strategy):
        each rank passes its own local batch (equal sizes), the engine averages the gradients
        over ranks, every rank applies the same update. loss_and_grads then returns the
        averaged gradient. reduce="sum" sums instead of averaging: the wrong recipe that
        parity's data-parallel controls use to prove the check catches it."""
        if reduce not in ("mean", "sum"):
            raise ConfigError(f"reduce must be 'mean' or 'sum', got {reduce!r}")
        self._distribute(engine, reduce)

    @scoped
    def get_state(self) -> TrainState:
        """What training needs besides the weights to continue exactly (a checkpoint): the
        momentum (canonical names and layouts) and the state of the dropout masks' generator."""
        momentum = self._canonical(self._read_momentum(), self.params.trainable)
        return TrainState(momentum, np.asarray(self._get_rng_state()))

    @scoped
    def set_state(self, state: TrainState) -> None:
        check_weights(state.momentum, self.config)
        self._load_momentum(self._native(state.momentum, self.params.trainable))
        self._set_rng_state(np.asarray(state.rng))

    @scoped
    def predict(self, images: np.ndarray | DeviceBatch) -> np.ndarray:
        """Logits (N, num_classes) in eval mode (no dropout)."""
        batch = self._as_batch(images, None)
        return np.asarray(self._predict(batch))

    @scoped
    def loss_and_grads(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, Weights]:
        """Mean cross-entropy and its gradients (canonical names and layouts), in train
        mode (dropout active if configured), without updating anything. Weight decay is
        not part of the loss: it is added by the update rule."""
        batch = self._as_batch(images, labels)
        loss, grads = self._loss_and_grads(batch)
        return float(loss), self._canonical(grads, self.params.trainable)

    @scoped
    def train_step(self, images: np.ndarray | DeviceBatch, labels: np.ndarray | None = None) -> float:
        """One SGD step (see SGDConfig for the rule); returns the loss before the update."""
        batch = self._as_batch(images, labels)
        if batch.labels is None:
            raise InputError("train_step needs labels: pass them, or make the batch with device_batch(images, labels)")
        return float(self._train_step(batch))

    @scoped
    def device_batch(self, images: np.ndarray, labels: np.ndarray | None = None) -> DeviceBatch:
        images = self._check_images(images)
        labels = None if labels is None else self._check_labels(labels, len(images))
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

    def _check_images(self, images) -> np.ndarray:
        if not isinstance(images, np.ndarray):
            raise InputError(f"images must be a numpy array (N, H, W, C), got {type(images).__name__}")
        if images.dtype == np.uint8:
            return self._check_uint8(images)
        h, w, c = self.config.height, self.config.image_width, self.config.in_channels
        if images.ndim != 4 or images.shape[1:] != (h, w, c):
            raise InputError(
                f"images must have shape (N, {h}, {w}, {c}) (NHWC, as configured), got {images.shape}; "
                "resize them, or build the model with a matching image_size / in_channels"
            )
        if len(images) == 0:
            raise InputError("images is an empty batch")
        if not np.issubdtype(images.dtype, np.floating):
            raise InputError(
                f"images must be floating point (normalized), got {images.dtype}; "
                "convert with harness.data (or images.astype(np.float32) / 255 and normalize)"
            )
        images = np.ascontiguousarray(images, dtype=self._np_dtype)
        if not np.isfinite(images).all():
            raise InputError(f"images contain {int((~np.isfinite(images)).sum())} NaN or inf values")
        return images

    def _check_uint8(self, images: np.ndarray) -> np.ndarray:
        if self.input_norm is None:
            raise InputError(
                "uint8 images need the model's input normalization: create the model with input_norm="
                "impls.InputNorm(mean, std) (harness.data.prepare gives one), or pass normalized float images"
            )
        h, w, c = self.config.height, self.config.image_width, self.input_norm.channels
        if images.ndim != 4 or images.shape[1:] != (h, w, c):
            raise InputError(
                f"uint8 images must have shape (N, {h}, {w}, {c}) (NHWC; {c} channel(s), as the input "
                f"normalization), got {images.shape}"
            )
        if len(images) == 0:
            raise InputError("images is an empty batch")
        return np.ascontiguousarray(images)

    def _check_labels(self, labels, count: int) -> np.ndarray:
        labels = np.asarray(labels)
        if labels.shape != (count,):
            raise InputError(f"labels must have shape ({count},) to match the images, got {labels.shape}")
        if not np.issubdtype(labels.dtype, np.integer):
            raise InputError(f"labels must be integers (class indices), got {labels.dtype}")
        bad = (labels < 0) | (labels >= self.config.num_classes)
        if bad.any():
            raise InputError(
                f"labels must be in [0, {self.config.num_classes}) for {self.config.num_classes} classes; "
                f"found {labels[bad][:5].tolist()}"
            )
        return labels.astype(np.int64)

    # ------------------------------------------------------------ framework hooks
    @abstractmethod
    def _build(self) -> None: ...

    @abstractmethod
    def _load_params(self, native: dict[str, np.ndarray]) -> None:
        """Copy native-layout arrays (impls.layout) into the parameters, by canonical name."""

    @abstractmethod
    def _read_params(self) -> dict[str, Any]:
        """Canonical name -> the parameter in native layout (anything np.asarray reads)."""

    @abstractmethod
    def _zero_momentum(self) -> None: ...

    @abstractmethod
    def _read_momentum(self) -> dict[str, Any]: ...

    @abstractmethod
    def _load_momentum(self, native: dict[str, np.ndarray]) -> None: ...

    @abstractmethod
    def _to_device(self, images: np.ndarray, labels: np.ndarray | None) -> tuple[Any, Any]: ...

    @abstractmethod
    def _predict(self, batch: DeviceBatch) -> Any: ...

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
