"""The float path: images resized, channel-converted, normalized and augmented in numpy
float32 on the host, batch by batch. For users who hand `predict` float arrays, and a
reference the uint8 pipeline (pipeline.py) is tested against; training and runs use the
uint8 pipeline, which prepares once and normalizes on the device.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from harness.data.sources import Dataset
from impls.errors import DataError


@dataclass(frozen=True)
class Augment:
    """Training augmentation, as in the AlexNet paper (crops and flips; rotation optional)."""

    crop_padding: float = 0.125  # pad by this fraction of the side, then crop back (0: off)
    flip: bool = True
    rotate_degrees: float = 0.0  # uniform in +-degrees (0: off)


NO_AUGMENT = Augment(crop_padding=0.0, flip=False, rotate_degrees=0.0)


def resize_matrix(in_size: int, out_size: int) -> np.ndarray:
    """(out, in) bilinear interpolation matrix (half-pixel centres, edge clamped)."""
    if in_size == out_size:
        return np.eye(out_size, dtype=np.float32)
    centres = (np.arange(out_size) + 0.5) * in_size / out_size - 0.5
    centres = np.clip(centres, 0, in_size - 1)
    low = np.floor(centres).astype(int)
    high = np.minimum(low + 1, in_size - 1)
    frac = (centres - low).astype(np.float32)
    matrix = np.zeros((out_size, in_size), dtype=np.float32)
    matrix[np.arange(out_size), low] += 1 - frac
    matrix[np.arange(out_size), high] += frac
    return matrix


def channel_stats(dataset: Dataset, sample: int = 10000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of the images scaled to [0, 1] (from a seeded sample)."""
    rng = np.random.default_rng(seed)
    take = rng.choice(len(dataset), size=min(sample, len(dataset)), replace=False)
    images = dataset.images[np.sort(take)].astype(np.float64) / _peak(dataset.images)
    axes = tuple(range(images.ndim - 1))
    return images.mean(axis=axes), np.maximum(images.std(axis=axes), 1e-6)


def _peak(images: np.ndarray) -> float:
    return 65535.0 if images.dtype == np.uint16 else 255.0


@dataclass(frozen=True)
class Preprocess:
    """Everything that turns stored images into model input."""

    size: tuple[int, int]
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def for_dataset(cls, dataset: Dataset, size: tuple[int, int], channels: int) -> Preprocess:
        mean, std = channel_stats(dataset)
        return cls(tuple(size), channels, tuple(float(m) for m in mean), tuple(float(s) for s in std))

    def __call__(
        self, images: np.ndarray, rng: np.random.Generator | None = None, augment: Augment = NO_AUGMENT
    ) -> np.ndarray:
        """uint8 (N, h, w, c) -> float32 (N, H, W, channels), normalized."""
        x = images.astype(np.float32) / _peak(images)
        x = (x - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        h, w = self.size
        if x.shape[1:3] != (h, w):  # (already the model's size: nothing to interpolate)
            x = np.einsum(
                "Hh,nhwc,Ww->nHWc", resize_matrix(x.shape[1], h), x, resize_matrix(x.shape[2], w), optimize=True
            )
        x = _convert_channels(x, self.channels)  # after resizing: linear, so same result, less work
        if rng is not None:
            x = _augment(x, rng, augment)
        return np.ascontiguousarray(x, dtype=np.float32)


def _convert_channels(x: np.ndarray, channels: int) -> np.ndarray:
    have = x.shape[-1]
    if have == channels:
        return x
    if have == 1 and channels == 3:
        return np.repeat(x, 3, axis=-1)
    if have == 3 and channels == 1:
        return (x @ np.asarray([0.299, 0.587, 0.114], np.float32))[..., None]  # ITU-R 601 luma
    if have == 4:
        return _convert_channels(x[..., :3], channels)
    raise DataError(f"cannot convert images with {have} channels to {channels}")


def _augment(x: np.ndarray, rng: np.random.Generator, augment: Augment) -> np.ndarray:
    n, h, w, _ = x.shape
    # Draw every random number for the batch up front, in a fixed order, so the stream
    # (and the batches) never depends on which augmentations are switched on.
    pad_h, pad_w = int(round(h * augment.crop_padding)), int(round(w * augment.crop_padding))
    offsets_y = rng.integers(0, 2 * pad_h + 1, size=n)
    offsets_x = rng.integers(0, 2 * pad_w + 1, size=n)
    flips = rng.random(n) < 0.5
    angles = rng.uniform(-1, 1, size=n) * augment.rotate_degrees
    if pad_h or pad_w:
        padded = np.pad(x, ((0, 0), (pad_h, pad_h), (pad_w, pad_w), (0, 0)), mode="reflect")
        x = np.stack([padded[i, oy : oy + h, ox : ox + w] for i, (oy, ox) in enumerate(zip(offsets_y, offsets_x))])
    if augment.flip:
        x = np.where(flips[:, None, None, None], x[:, :, ::-1], x)
    if augment.rotate_degrees:
        x = np.stack([_rotate(image, angle) for image, angle in zip(x, angles)])
    return x


def _rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate one (H, W, C) float image about its centre, bilinear, edges clamped."""
    h, w, _ = image.shape
    theta = np.deg2rad(degrees)
    yy, xx = np.meshgrid(np.arange(h) - (h - 1) / 2, np.arange(w) - (w - 1) / 2, indexing="ij")
    src_y = np.clip(np.cos(theta) * yy - np.sin(theta) * xx + (h - 1) / 2, 0, h - 1)
    src_x = np.clip(np.sin(theta) * yy + np.cos(theta) * xx + (w - 1) / 2, 0, w - 1)
    y0, x0 = np.floor(src_y).astype(int), np.floor(src_x).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (src_y - y0)[..., None], (src_x - x0)[..., None]
    top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(image.dtype)


def batches(
    dataset: Dataset,
    batch_size: int,
    preprocess: Preprocess,
    seed: int = 0,
    epoch: int = 0,
    shuffle: bool = True,
    augment: Augment | None = None,
    drop_last: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (images float32 NHWC, labels int64) batches; same (seed, epoch) -> same batches."""
    if batch_size < 1:
        raise DataError(f"batch size must be >= 1, got {batch_size}")
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(dataset)) if shuffle else np.arange(len(dataset))
    stop = len(order) - (len(order) % batch_size if drop_last else 0)
    for start in range(0, stop, batch_size):
        index = np.sort(order[start : start + batch_size]) if not shuffle else order[start : start + batch_size]
        images = preprocess(dataset.images[index], rng if augment else None, augment or NO_AUGMENT)
        yield images, dataset.labels[index]


def num_batches(dataset: Dataset, batch_size: int, drop_last: bool = False) -> int:
    return len(dataset) // batch_size if drop_last else -(-len(dataset) // batch_size)
