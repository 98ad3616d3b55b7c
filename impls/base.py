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
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from impls.config import AlexNetConfig, SGDConfig
from impls.errors import ConfigError, InputError
from impls.modes import Mode, resolve
from impls.weights import Weights, check_weights, init_weights


@dataclass(frozen=True)
class DeviceBatch:
    """A validated batch already on the model's device (framework-native arrays)."""

    images: Any
    labels: Any  # None for inference-only batches
    size: int
    owner: int  # id() of the model that made it: a batch is not portable between models


def normalize_device(device: str) -> str:
    device = device.lower()
    if device in ("gpu", "cuda"):
        return "gpu"
    if device == "cpu":
        return "cpu"
    raise ConfigError(f"unknown device {device!r}; use 'cpu' or 'gpu'")


class AlexNet(ABC):
    """Base class of the framework implementations (torch, keras, jax)."""

    framework: str = ""  # registry name, set by subclasses

    def __init__(
        self,
        config: AlexNetConfig,
        device: str = "cpu",
        optimizer: SGDConfig | None = None,
        seed: int = 0,
        mode: str | None = None,
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
        self._build()
        self.set_weights(init_weights(config, seed=seed))

    # ----------------------------------------------------------------- public API
    def set_weights(self, weights: Weights) -> None:
        """Load canonical weights and reset the optimizer's momentum to zero."""
        check_weights(weights, self.config)
        self._set_weights({k: np.asarray(v, dtype=self._np_dtype) for k, v in weights.items()})

    def get_weights(self) -> Weights:
        return self._get_weights()

    def predict(self, images: np.ndarray | DeviceBatch) -> np.ndarray:
        """Logits (N, num_classes) in eval mode (no dropout)."""
        batch = self._as_batch(images, None)
        return np.asarray(self._predict(batch))

    def loss_and_grads(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, Weights]:
        """Mean cross-entropy and its gradients (canonical names and layouts), in train
        mode (dropout active if configured), without updating anything. Weight decay is
        not part of the loss: it is added by the update rule."""
        batch = self._as_batch(images, labels)
        loss, grads = self._loss_and_grads(batch)
        return float(loss), grads

    def train_step(self, images: np.ndarray | DeviceBatch, labels: np.ndarray | None = None) -> float:
        """One SGD step (see SGDConfig for the rule); returns the loss before the update."""
        batch = self._as_batch(images, labels)
        if batch.labels is None:
            raise InputError("train_step needs labels: pass them, or make the batch with device_batch(images, labels)")
        return float(self._train_step(batch))

    def device_batch(self, images: np.ndarray, labels: np.ndarray | None = None) -> DeviceBatch:
        images = self._check_images(images)
        labels = None if labels is None else self._check_labels(labels, len(images))
        native_images, native_labels = self._to_device(images, labels)
        return DeviceBatch(native_images, native_labels, len(images), id(self))

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
        h, w, c = self.config.height, self.config.width, self.config.in_channels
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
    def _set_weights(self, weights: Weights) -> None: ...

    @abstractmethod
    def _get_weights(self) -> Weights: ...

    @abstractmethod
    def _to_device(self, images: np.ndarray, labels: np.ndarray | None) -> tuple[Any, Any]: ...

    @abstractmethod
    def _predict(self, batch: DeviceBatch) -> Any: ...

    @abstractmethod
    def _loss_and_grads(self, batch: DeviceBatch) -> tuple[Any, Weights]: ...

    @abstractmethod
    def _train_step(self, batch: DeviceBatch) -> Any: ...
