"""What a run measures, and the fair settings every worker applies before it measures.

Fair settings: the same number of CPU threads for every framework, no GPU memory grabbing
(TF memory growth, JAX without preallocation), and IEEE float32 on GPUs unless TF32 is
asked for (parity-grade math). They are applied in the worker process before the
framework is imported, and recorded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from harness import backends
from harness.training import TrainSettings

PROFILES = {
    # accuracy training (TrainSettings fields) per profile
    # quick: 3 seeds x 3 frameworks fit `make run` in 15 minutes on 2 cores (README says what it trades)
    "quick": dict(epochs=2, image_size=64, train_subset=3000, test_subset=1000, batch_size=64, evals_per_epoch=2),
    "full": dict(epochs=10, image_size=224, train_subset=None, test_subset=None, batch_size=128, evals_per_epoch=2),
}
# A model's own sizes in a profile, where the profile's would not fit: VGG-11 does ~10x
# AlexNet's work per image (7.6 vs 0.7 GMAC at 224), and at small inputs its 25088x4096
# classifier.0 alone is 103M multiply-adds per image, so its quick training runs at its
# minimum input, 32x32 (Fashion-MNIST's 28x28 resized), and half width (README: the time).
# ResNet-18's quick training runs at 96x96 and half width: 89M multiply-adds per image, about
# AlexNet's 94M at 64x64. Not 64x64: layer4's map would be 2x2, where XLA's CPU convolution
# (Keras, JAX) falls off a cliff (a 3x3 conv over a 2x2 map with 512 channels: 2 GFLOP/s,
# against 148 on a 7x7 map; measured, jax 0.10), which made Keras and JAX 8x slower than torch.
MODEL_PROFILES = {
    "vgg11": {"quick": dict(image_size=32, width=0.5)},
    "resnet18": {"quick": dict(image_size=96, width=0.5)},
}


def profile_for(profile: str, model: str) -> dict:
    """The TrainSettings fields of `profile` for `model` (PROFILES, then MODEL_PROFILES)."""
    return {**PROFILES[profile], **MODEL_PROFILES.get(model, {}).get(profile, {})}


# Accuracy replicates (seeds) per profile: one float32 training run per framework measures the
# seed's luck as much as the framework (see README, "Accuracy you can compare").
REPLICATES = {"quick": 3, "full": 3}


@dataclass
class BenchSettings:
    model: str = "alexnet"  # a name of impls.models()
    variant: str = "torchvision"
    width: float = 1.0  # of the network (impls.AlexNetConfig.width; published figures: 1)
    image_size: int = 224
    num_classes: int = 1000
    batch_size: int = 32  # the batch of the session being measured (one of batch_sizes)
    batch_sizes: tuple[int, ...] | None = None  # every batch to measure; None: DEFAULT_BATCH_SIZES per device
    headline_batch: int | None = None  # the batch the report's headline tables show (the first)
    warmup: int = 2
    repeats: int = 3  # interleaved rounds
    train_steps: int = 4  # per block
    inference_steps: int = 8  # per block
    pipelines: tuple[str, ...] = ("compute_only", "end_to_end")  # batch already on the device; from numpy


# Throughput batch sizes per device when --batch-sizes is not given: batch 32 leaves an H200
# mostly idle, so GPUs also run 256; the first is the one the headline tables show.
DEFAULT_BATCH_SIZES = {"cpu": (32,), "gpu": (32, 256)}


@dataclass
class TrialSettings:
    """The short trial of `--modes best`: compute-only steps per candidate mode, per round."""

    rounds: int = 1
    train_steps: int = 2
    inference_steps: int = 4


@dataclass
class Plan:
    frameworks: list[str]
    devices: str  # "auto" (cpu + gpu where found), "cpu", "gpu", "cpu,gpu"
    train: TrainSettings | None
    bench: BenchSettings | None
    out: Path  # the results root (harness.results.Layout)
    run_id: str
    threads: int
    precision: str = "ieee"  # or "tf32" (GPU float32 matmuls/convs)
    data_dir: str | None = None
    resume: bool = False
    modes: dict[str, list[str]] | None = None  # framework -> execution modes to time (None: defaults)
    worker_timeout: float | None = None  # seconds a worker may stay silent (None: derived, protocol.Deadlines)
    best: bool = False  # --modes best: every mode a candidate, the fastest per class and phase measured
    seeds: list[int] | None = None  # accuracy replicates (paired across frameworks); None: train.seed only
    trial: TrialSettings = field(default_factory=TrialSettings)


def apply_settings(framework: str, device: str, threads: int, precision: str) -> dict:
    """Threads, memory and TF32 behaviour, before and after importing the framework;
    returns what was set, for the record."""
    tf32 = precision == "tf32"
    backend = backends.get(framework)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    os.environ.update(backend.environment(threads))
    return {"threads": threads, "tf32": tf32, **backend.configure(device, threads, tf32)}
