"""Prepare once, not per batch: a dataset resized to the model's input size and kept as uint8,
padded for random crops, with the normalization the model applies on its device.

Resizing 28x28 Fashion-MNIST to 224x224 in float32 for every batch of every epoch made the
input pipeline, not the frameworks, the bottleneck of end-to-end runs; here it happens once
per dataset x size x channels x padding, and the result is cached: in memory, and for sets
too large for that (Fashion-MNIST at 224x224 is 4.7 GB padded) as a memory-mapped .npy
file under the cache folder (ALEXBENCH_CACHE, default ~/.cache/alexbench). Grayscale stays
one channel: the model expands it to three on its device, after normalizing.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.data.floats import resize_matrix
from harness.data.sources import Dataset
from impls.base import InputNorm
from impls.errors import DataError

MEMORY_LIMIT = 2 * 2**30  # bytes; a larger prepared set goes to a memory-mapped cache file
_MEMORY: dict[str, Prepared] = {}  # this process's prepared sets, by cache key


@dataclass
class Prepared:
    """Images (N, H + 2 pad, W + 2 pad, C) uint8, labels int64 (N,): the model's input size
    plus a reflected border of `pad` pixels for random crops; `norm` maps them to the model's
    input (x = u8 / 255, minus mean, over std, per channel)."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    size: tuple[int, int]
    pad: int
    norm: InputNorm
    key: str
    _mirrored: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def channels(self) -> int:
        return self.images.shape[-1]

    def mirrored(self) -> np.ndarray:
        """The images flipped left-right, made once on first use: a flipped crop is then a
        plain copy (a reversed copy of 3-byte pixels runs ~7x slower in numpy than a plain one)."""
        if self._mirrored is None:
            if isinstance(self.images, np.memmap):
                self._mirrored = _memmapped(cache_folder() / f"{self.key}-mirrored.npy", self.images.shape,
                                            lambda out: _copy_mirrored(self.images, out))  # fmt: skip
            else:
                self._mirrored = _copy_mirrored(self.images, np.empty_like(self.images))
        return self._mirrored

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def cache_folder() -> Path:
    return Path(os.environ.get("ALEXBENCH_CACHE") or Path.home() / ".cache" / "alexbench") / "prepared"


def _key(dataset: Dataset, size: tuple[int, int], channels: int, pad: int) -> str:
    digest = hashlib.sha256()
    digest.update(f"{dataset.name}|{dataset.images.shape}|{dataset.images.dtype}|{size}|{channels}|{pad}|v1".encode())
    digest.update(np.ascontiguousarray(dataset.images).data)  # identity: the pixels themselves
    digest.update(np.ascontiguousarray(dataset.labels).data)
    return digest.hexdigest()[:24]


def prepare(dataset: Dataset, size: tuple[int, int], channels: int, pad: int = 0, cache: bool = True) -> Prepared:
    """`dataset` at `size` (H, W) with `channels` for the model (1 or 3; a grayscale source
    stays 1 channel, the model expands it), padded by `pad` reflected pixels. Cached."""
    if channels not in (1, 3):
        raise DataError(f"a model takes 1 or 3 channels, got {channels}")
    key = _key(dataset, tuple(size), channels, pad)
    if key in _MEMORY:
        return _MEMORY[key]
    have = dataset.images.shape[-1]
    keep = 1 if (have == 1 or channels == 1) else 3
    shape = (len(dataset), size[0] + 2 * pad, size[1] + 2 * pad, keep)
    if int(np.prod(shape)) > MEMORY_LIMIT and cache:  # too large for memory: a memory-mapped file
        images = _memmapped(cache_folder() / f"{key}.npy", shape, lambda out: _resize_all(dataset, tuple(size),
                                                                                         keep, pad, out))  # fmt: skip
    else:
        images = _resize_all(dataset, tuple(size), keep, pad, np.empty(shape, dtype=np.uint8))
    mean, std = _stats(images, pad)
    prepared = Prepared(dataset.name, images, dataset.labels, dataset.classes, tuple(size), pad,
                        InputNorm(mean, std), key)  # fmt: skip
    if cache and images.nbytes <= MEMORY_LIMIT:
        _MEMORY[key] = prepared
    return prepared


def _memmapped(path: Path, shape, fill) -> np.ndarray:
    """The uint8 array in the .npy file `path`, made by `fill(out)` chunk by chunk into a
    memory-mapped temporary file (renamed when complete) unless it exists already."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npy")
        try:
            out = np.lib.format.open_memmap(partial, "w+", np.uint8, shape)
            fill(out)
            out.flush()
            del out
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
    return np.load(path, mmap_mode="r")


def _copy_mirrored(images: np.ndarray, out: np.ndarray) -> np.ndarray:
    for start in range(0, len(images), 512):
        out[start : start + 512] = images[start : start + 512, :, ::-1]
    return out


def _resize_all(dataset: Dataset, size: tuple[int, int], keep: int, pad: int, out: np.ndarray) -> np.ndarray:
    """Fill `out`: bilinear resize (half-pixel centres, harness.data.floats.resize_matrix) in
    float32 of chunks of the set, rounded to uint8, channels converted, the border reflected."""
    peak = 65535.0 if dataset.images.dtype == np.uint16 else 255.0
    h, w = dataset.images.shape[1:3]
    rows, cols = resize_matrix(h, size[0]), resize_matrix(w, size[1])
    for start in range(0, len(dataset), 512):
        x = dataset.images[start : start + 512].astype(np.float32) * (255.0 / peak)
        if x.shape[-1] == 4:
            x = x[..., :3]
        if x.shape[-1] == 3 and keep == 1:
            x = (x @ np.asarray([0.299, 0.587, 0.114], np.float32))[..., None]  # ITU-R 601 luma
        if (h, w) != size:
            x = np.einsum("Hh,nhwc,Ww->nHWc", rows, x, cols, optimize=True)
        x = np.clip(np.rint(x), 0, 255).astype(np.uint8)
        if pad:
            x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
        out[start : start + len(x)] = x
    return out


def _stats(images: np.ndarray, pad: int, sample: int = 10000) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of the prepared images in [0, 1] (a seeded sample, border left out)."""
    take = np.sort(np.random.default_rng(0).choice(len(images), size=min(sample, len(images)), replace=False))
    h, w = images.shape[1] - 2 * pad, images.shape[2] - 2 * pad
    core = images[take, pad : pad + h, pad : pad + w].astype(np.float64) / 255.0
    axes = (0, 1, 2)
    mean, std = core.mean(axis=axes), np.maximum(core.std(axis=axes), 1e-6)
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)
