"""Datasets as uint8 images in memory: Fashion-MNIST (its four IDX files), an image folder
(one subfolder per class), and a seeded synthetic set for throughput runs.

- Fashion-MNIST (default; 70,000 real 28x28 grayscale images, 10 classes, MIT licence)
  from its four IDX files (gzipped or not). Debian's `dataset-fashion-mnist` package puts
  them in /usr/share/datasets/fashion-mnist/; any directory holding them works.
- An image folder (one subfolder per class, JPEG/PNG via Pillow): Imagenette, ImageNet.
- A seeded synthetic dataset for throughput runs.
"""

from __future__ import annotations

import gzip
import os
import struct
import warnings
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
