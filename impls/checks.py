"""Boundary checks of impls.base: what a batch must be before any framework sees it.

One function per input, each raising InputError with the problem and the fix, so every
framework rejects bad input with the same words.
"""

from __future__ import annotations

import numpy as np

from impls.config import AlexNetConfig
from impls.errors import InputError


def check_images(images, config: AlexNetConfig, dtype: np.dtype, input_norm) -> np.ndarray:
    """Float NHWC images of the configured size, as contiguous `dtype`; or uint8 ones of the
    input normalization's channels (`input_norm`, an impls.base.InputNorm or None)."""
    if not isinstance(images, np.ndarray):
        raise InputError(f"images must be a numpy array (N, H, W, C), got {type(images).__name__}")
    if images.dtype == np.uint8:
        return _check_uint8(images, config, input_norm)
    h, w, c = config.height, config.image_width, config.in_channels
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
    images = np.ascontiguousarray(images, dtype=dtype)
    if not np.isfinite(images).all():
        raise InputError(f"images contain {int((~np.isfinite(images)).sum())} NaN or inf values")
    return images


def _check_uint8(images: np.ndarray, config: AlexNetConfig, input_norm) -> np.ndarray:
    if input_norm is None:
        raise InputError(
            "uint8 images need the model's input normalization: create the model with input_norm="
            "impls.InputNorm(mean, std) (harness.data.prepare gives one), or pass normalized float images"
        )
    h, w, c = config.height, config.image_width, input_norm.channels
    if images.ndim != 4 or images.shape[1:] != (h, w, c):
        raise InputError(
            f"uint8 images must have shape (N, {h}, {w}, {c}) (NHWC; {c} channel(s), as the input "
            f"normalization), got {images.shape}"
        )
    if len(images) == 0:
        raise InputError("images is an empty batch")
    return np.ascontiguousarray(images)


def check_labels(labels, count: int, num_classes: int) -> np.ndarray:
    """Integer class indices, one per image, as int64."""
    labels = np.asarray(labels)
    if labels.shape != (count,):
        raise InputError(f"labels must have shape ({count},) to match the images, got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise InputError(f"labels must be integers (class indices), got {labels.dtype}")
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        raise InputError(
            f"labels must be in [0, {num_classes}) for {num_classes} classes; found {labels[bad][:5].tolist()}"
        )
    return labels.astype(np.int64)


def check_statistics(batch_size: int, norm_pixels: int | None, config: AlexNetConfig) -> None:
    """A train-mode BatchNorm needs more than one value per channel (torch raises; the unbiased
    variance divides by n - 1 = 0). norm_pixels: the smallest H x W a BatchNorm of the network
    sees per image (None: no BatchNorm)."""
    if norm_pixels is not None and batch_size * norm_pixels < 2:
        raise InputError(
            f"a train-mode pass of {config.model} on a batch of {batch_size} at "
            f"{config.height}x{config.image_width} leaves its last BatchNorm one value per channel; "
            "train on batches of 2 or more images (or a larger input)"
        )
