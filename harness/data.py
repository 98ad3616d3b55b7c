"""Datasets and batches: numpy in, numpy out, identical for every framework.

- Fashion-MNIST (default; 70,000 real 28x28 grayscale images, 10 classes, MIT licence)
  from its four IDX files (gzipped or not). Debian's `dataset-fashion-mnist` package puts
  them in /usr/share/datasets/fashion-mnist/; any directory holding them works.
- An image folder (one subfolder per class, JPEG/PNG via Pillow): Imagenette, ImageNet.
- A seeded synthetic dataset for throughput runs.

`batches()` resizes to the model's size, converts channels (gray <-> RGB), normalizes and
augments (random crop from a padded image, horizontal flip, optional rotation) in numpy,
seeded by (seed, epoch), so every framework receives the same batches in the same order.
"""

from __future__ import annotations

import gzip
import os
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from impls.errors import DataError

FASHION_MNIST_DIRS = ("/usr/share/datasets/fashion-mnist",)
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
FASHION_MNIST_HELP = (
    "Fashion-MNIST is not installed. On Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist "
    "(puts it in /usr/share/datasets/fashion-mnist/); or download the four files "
    "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
    "t10k-labels-idx1-ubyte.gz from github.com/zalandoresearch/fashion-mnist into a folder "
    "and pass it with --data-dir (or set ALEXBENCH_FASHION_MNIST)"
)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass
class Dataset:
    """Images as uint8 (N, H, W, C) (or uint16 for 16-bit sources), labels int64 (N,)."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    notes: list[str] = field(default_factory=list)  # e.g. files skipped, subset taken

    def __post_init__(self) -> None:
        if len(self.images) != len(self.labels):
            raise DataError(f"{self.name}: {len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def subset(self, count: int | None, seed: int = 0) -> Dataset:
        """A class-stratified random subset of `count` examples (the whole set if None)."""
        if count is None or count >= len(self):
            return self
        order = np.random.default_rng(seed).permutation(len(self))
        # Rank each example within its class (in random order), as a fraction of the class
        # size; the `count` smallest fractions keep the class proportions of the whole set.
        fraction = np.empty(len(self))
        for c in np.unique(self.labels):
            members = order[self.labels[order] == c]
            fraction[members] = np.arange(len(members)) / len(members)
        take = np.sort(order[np.argsort(fraction[order], kind="stable")[:count]])
        note = f"subset of {len(take)} of {len(self)} examples (seed {seed})"
        return Dataset(self.name, self.images[take], self.labels[take], self.classes, self.notes + [note])


# --------------------------------------------------------------------- IDX / Fashion-MNIST
def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (optionally .gz) into a uint8 array, checking its header."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as error:
        raise DataError(f"cannot read IDX file {str(path)!r}: {error}") from error
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{str(path)!r} is not an unsigned-byte IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{str(path)!r} is truncated (header)")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(shape))
    if len(data) - header != expected:
        raise DataError(
            f"{str(path)!r} is truncated or corrupt: header says {shape} ({expected} bytes), "
            f"file holds {len(data) - header}; download it again"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _find_idx(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def fashion_mnist_dir(data_dir: str | os.PathLike | None = None) -> Path:
    candidates = [data_dir] if data_dir else [os.environ.get("ALEXBENCH_FASHION_MNIST"), *FASHION_MNIST_DIRS]
    for candidate in filter(None, candidates):
        directory = Path(candidate)
        if all(_find_idx(directory, stem) for pair in FASHION_MNIST_FILES.values() for stem in pair):
            return directory
    where = f"in {str(data_dir)!r}" if data_dir else "in " + ", ".join(FASHION_MNIST_DIRS)
    raise DataError(f"Fashion-MNIST IDX files not found {where}. {FASHION_MNIST_HELP}")


def load_fashion_mnist(split: str = "train", data_dir: str | os.PathLike | None = None) -> Dataset:
    """Fashion-MNIST `split` ('train': 60,000; 'test': 10,000) as (N, 28, 28, 1) uint8."""
    if split not in FASHION_MNIST_FILES:
        raise DataError(f"unknown split {split!r}; use 'train' or 'test'")
    directory = fashion_mnist_dir(data_dir)
    image_stem, label_stem = FASHION_MNIST_FILES[split]
    images = read_idx(_find_idx(directory, image_stem))
    labels = read_idx(_find_idx(directory, label_stem))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(
            f"Fashion-MNIST {split} files in {str(directory)!r} do not match: images {images.shape}, "
            f"labels {labels.shape}; download them again"
        )
    if labels.max(initial=0) >= len(FASHION_MNIST_CLASSES):
        raise DataError(f"Fashion-MNIST {split} labels go up to {labels.max()}, expected 0..9")
    return Dataset(f"fashion-mnist/{split}", images[..., None], labels.astype(np.int64), FASHION_MNIST_CLASSES)


# ------------------------------------------------------------------------- image folder
def load_image_folder(root: str | os.PathLike, size: tuple[int, int] | None = None, strict: bool = False) -> Dataset:
    """One subfolder per class (sorted names = class indices), images read with Pillow.

    Every image is converted to RGB (grayscale replicated, alpha dropped, 16-bit scaled to
    8-bit) and, if `size` is given, resized to (height, width) on load to save memory.
    Unreadable files are skipped with a warning naming the first few (or raise, if strict).
    """
    from PIL import Image, UnidentifiedImageError

    root = Path(root)
    if not root.is_dir():
        raise DataError(f"image folder {str(root)!r} does not exist")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    files = [(f, label) for label, d in enumerate(class_dirs) for f in sorted(d.rglob("*")) if f.is_file()]
    files = [(f, label) for f, label in files if f.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise DataError(
            f"no images found under {str(root)!r}: expected one subfolder per class holding "
            f"{'/'.join(IMAGE_SUFFIXES)} files (e.g. root/cat/001.jpg, root/dog/002.png)"
        )
    present = sorted({label for _, label in files})
    if len(present) < 2:
        raise DataError(f"{str(root)!r} has images in only one class folder; a classifier needs at least two")
    images, labels, bad = [], [], []
    for path, label in files:
        try:
            with Image.open(path) as image:
                image.load()
                array = _to_rgb_uint8(image, size, Image)
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as error:
            if strict:
                raise DataError(f"cannot read image {str(path)!r}: {error}") from error
            bad.append(path)
            continue
        images.append(array)
        labels.append(label)
    notes = []
    if bad:
        shown = ", ".join(str(p) for p in bad[:3])
        message = (
            f"skipped {len(bad)} unreadable image file(s) under {str(root)!r}: {shown}{' ...' if len(bad) > 3 else ''}"
        )
        warnings.warn(message, stacklevel=2)
        notes.append(message)
    if not images:
        raise DataError(f"none of the {len(files)} image files under {str(root)!r} could be read")
    if size is None and len({a.shape for a in images}) > 1:
        raise DataError(f"images under {str(root)!r} have different sizes; pass size=(height, width) to resize on load")
    classes = tuple(d.name for d in class_dirs)
    return Dataset(f"folder/{root.name}", np.stack(images), np.asarray(labels, dtype=np.int64), classes, notes)


def _to_rgb_uint8(image, size, Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        image = Image.fromarray(np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8))
    image = image.convert("RGB")  # grayscale replicated, palette expanded, alpha dropped
    if size is not None:
        image = image.resize((size[1], size[0]), Image.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


# ---------------------------------------------------------------------------- synthetic
def synthetic(
    count: int, size: tuple[int, int] = (224, 224), channels: int = 3, classes: int = 10, seed: int = 0
) -> Dataset:
    """Seeded random uint8 images and labels, for throughput runs (not for accuracy)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, *size, channels), dtype=np.uint8)
    labels = rng.integers(0, classes, size=count).astype(np.int64)
    return Dataset(f"synthetic/{count}", images, labels, tuple(f"class{i}" for i in range(classes)))


# ------------------------------------------------------------------------ preprocessing
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
