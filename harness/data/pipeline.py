"""The input pipeline: uint8 batches of a prepared dataset, made by worker threads ahead of
the consumer, identical for every framework.

Batch b of epoch e is a pure function of (seed, e, b): its images are positions
[b*B, (b+1)*B) of the epoch's permutation (seeded by (seed, e)), and its augmentation —
random crops from the reflected border and horizontal flips, integer slicing of uint8
images — comes from a generator seeded by (seed, e, b). So the same seed gives the same
batches in the same order in every framework and for any number of workers, and a
training resumed at (epoch, batch) sees exactly the batches it would have seen.
Workers copy with numpy, which releases the GIL: threads overlap the consumer's step.
Rotation (optional, off by default) interpolates in float and rounds back to uint8.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from harness.data.floats import Augment, _rotate
from harness.data.prepared import Prepared
from impls.errors import DataError

Batch = tuple[np.ndarray, np.ndarray]  # uint8 images (n, H, W, C), int64 labels (n,)


@dataclass(frozen=True)
class Position:
    """Where a pipeline is: the next batch to deliver (what --resume restores)."""

    epoch: int = 0
    batch: int = 0


class Pipeline:
    def __init__(
        self, prepared: Prepared, batch_size: int, seed: int = 0, shuffle: bool = True,
        augment: Augment | None = None, drop_last: bool = False, workers: int = 2, prefetch: int = 4,
    ) -> None:  # fmt: skip
        if batch_size < 1:
            raise DataError(f"batch size must be >= 1, got {batch_size}")
        augment = augment or Augment(crop_padding=0.0, flip=False)
        border = round(prepared.size[0] * augment.crop_padding)
        if augment.crop_padding and border > prepared.pad:
            raise DataError(
                f"random crops of {augment.crop_padding:.0%} need a border of {border} pixels; the dataset was "
                f"prepared with {prepared.pad}: prepare it with that padding"
            )
        self.prepared, self.batch_size, self.seed, self.shuffle = prepared, batch_size, seed, shuffle
        self.augment, self.drop_last = augment, drop_last
        self.workers, self.prefetch = max(1, workers), max(1, prefetch)

    def __len__(self) -> int:
        """Batches per epoch."""
        n = len(self.prepared)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        n = len(self.prepared)
        return np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle else np.arange(n)

    def batch(self, epoch: int, index: int, order: np.ndarray | None = None) -> Batch:
        """Batch `index` of `epoch` (a pure function of seed, epoch and index)."""
        order = self.order(epoch) if order is None else order
        take = order[index * self.batch_size : (index + 1) * self.batch_size]
        if not self.shuffle:
            take = np.sort(take)
        p = self.prepared
        h, w = p.size
        pad = round(h * self.augment.crop_padding) if self.augment.crop_padding else 0
        rng = np.random.default_rng([self.seed, epoch, index])
        # every random number of the batch drawn up front, in a fixed order
        offsets_y = rng.integers(0, 2 * pad + 1, size=len(take))
        offsets_x = rng.integers(0, 2 * pad + 1, size=len(take))
        flips = rng.random(len(take)) < 0.5
        angles = rng.uniform(-1, 1, size=len(take)) * self.augment.rotate_degrees
        out = np.empty((len(take), h, w, p.channels), dtype=np.uint8)
        base = p.pad - pad  # where a crop window starts when its offset is 0
        mirrored = p.mirrored() if self.augment.flip else None
        full = w + 2 * p.pad
        for j, i in enumerate(take):
            y, x = base + offsets_y[j], base + offsets_x[j]
            if mirrored is not None and flips[j]:  # the flipped crop: the mirrored image's window
                out[j] = mirrored[i, y : y + h, full - x - w : full - x]
            else:
                out[j] = p.images[i, y : y + h, x : x + w]
            if self.augment.rotate_degrees:
                out[j] = np.clip(np.rint(_rotate(out[j].astype(np.float32), angles[j])), 0, 255).astype(np.uint8)
        return out, p.labels[take]

    def epoch(self, epoch: int, start: int = 0) -> Iterator[Batch]:
        """Batches start.. of `epoch`, in order, made by the workers up to `prefetch` ahead."""
        order = self.order(epoch)
        stop = len(self)
        if self.workers == 1 and self.prefetch == 1:
            for index in range(start, stop):
                yield self.batch(epoch, index, order)
            return
        with ThreadPoolExecutor(self.workers, thread_name_prefix="alexbench-data") as pool:
            pending = deque()
            next_index = start
            while next_index < stop and len(pending) < self.prefetch:
                pending.append(pool.submit(self.batch, epoch, next_index, order))
                next_index += 1
            while pending:
                batch = pending.popleft().result()
                if next_index < stop:
                    pending.append(pool.submit(self.batch, epoch, next_index, order))
                    next_index += 1
                yield batch

    def stream(self, position: Position = Position()) -> Iterator[tuple[Position, Batch]]:
        """Endless: (position of the batch, batch) from `position` on, epoch after epoch."""
        epoch, start = position.epoch, position.batch
        while True:
            for offset, batch in enumerate(self.epoch(epoch, start)):
                yield Position(epoch, start + offset), batch
            epoch, start = epoch + 1, 0


def throughput(pipeline: Pipeline, batches: int, warmup: int = 2) -> list[float]:
    """Seconds between consecutive batches delivered to a consumer that does nothing else:
    what the pipeline alone sustains (workers and prefetch included)."""
    stream = pipeline.stream()
    for _ in range(warmup):
        next(stream)
    times = []
    for _ in range(batches):
        start = time.perf_counter()
        next(stream)
        times.append(time.perf_counter() - start)
    stream.close()
    return times
