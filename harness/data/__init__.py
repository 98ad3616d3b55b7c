"""Datasets and batches, identical for every framework.

    sources.py    datasets as uint8 arrays: Fashion-MNIST, image folders, synthetic
    prepared.py   prepare once: resized to the model's size, uint8, padded, cached
    pipeline.py   uint8 batches by worker threads, deterministic per (seed, epoch, batch)
    floats.py     the float32 path (normalized on the host), for float inputs and tests

The batches cross to the device as uint8; each model normalizes them (and expands gray to
three channels) as the first operation of its step (impls.InputNorm).
"""

from harness.data.floats import NO_AUGMENT, Augment, Preprocess, batches, channel_stats, num_batches, resize_matrix
from harness.data.pipeline import Batch, Pipeline, Position, throughput
from harness.data.prepared import Prepared, cache_folder, prepare
from harness.data.sources import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_DIRS,
    FASHION_MNIST_FILES,
    FASHION_MNIST_HELP,
    IMAGE_SUFFIXES,
    Dataset,
    fashion_mnist_dir,
    load_fashion_mnist,
    load_image_folder,
    read_idx,
    synthetic,
)

__all__ = [
    "FASHION_MNIST_CLASSES", "FASHION_MNIST_DIRS", "FASHION_MNIST_FILES", "FASHION_MNIST_HELP", "IMAGE_SUFFIXES",
    "NO_AUGMENT", "Augment", "Batch", "Dataset", "Pipeline", "Position", "Prepared", "Preprocess", "batches",
    "cache_folder", "channel_stats", "fashion_mnist_dir", "load_fashion_mnist", "load_image_folder", "num_batches",
    "prepare", "read_idx", "resize_matrix", "synthetic", "throughput",
]  # fmt: skip
