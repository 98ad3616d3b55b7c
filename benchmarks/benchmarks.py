"""asv benchmarks: the networks' steps (AlexNet, VGG-11) in every framework, over the project's history.

    asv run --python=same --quick            # this environment, each benchmark once (smoke test)
    asv run HEAD^!                           # HEAD, in a virtualenv asv builds under .asv/env
    asv continuous main HEAD                 # two commits, side by side, regressions flagged

Every benchmark is parameterized over the frameworks of the registry (`impls.names()`), and
all but Accuracy over the networks (`impls.models()`: "alexnet", "vgg11"), each at its own
benchmark configuration (BENCH_MODELS, below), so a regression in one model shows over
commits. A framework that is not installed, or a framework or model that the benchmarked
commit does not have (vgg11 before impls/networks/vgg.py, any model but AlexNet before
configs had a `model` field), is skipped: setup raises NotImplementedError, asv's skip
convention, shown as n/a. Under ALEXBENCH_REQUIRE_ALL=1 (CI, .ci/asv-check.sh) a registered
framework that is not installed fails instead, as in the tests, and so does a registered
model that BENCH_MODELS (or PARITY_MODELS) gives no configuration.

What is measured
----------------
- `TrainStep.time_train_step(model, framework, mode, batch)`: one SGD step (forward, backward, update)
  on a batch already on the device (`model.device_batch`), so no host-to-device copy is
  timed. `train_step` returns the loss as a Python float, which waits for the device;
  `model.synchronize()` is called as well.
- `Inference.time_inference(model, framework, mode, batch)`: one eval-mode forward pass; `predict`
  returns the logits as numpy (a device wait), then `model.synchronize()`.
- `TrainStep.peakmem_train_step(model, framework, mode, batch)`: peak host RSS of a fresh benchmark
  process that imported the framework, built the model, compiled and ran training steps.
- `DeviceMemory.track_device_memory(model, framework, batch)` [bytes]: the framework allocator's
  peak device memory around a training step (harness.backends: torch
  max_memory_allocated, TF get_memory_info peak, JAX peak_bytes_in_use, which has no
  reset and covers the whole process). GPUs only: on CPU it is skipped (n/a) rather
  than reported as a number, because host memory is what peakmem_train_step measures.
- `Parity.track_parity_error(model, framework, variant)` [relative error]: max|a - b| / max|b|
  of the float32 logits `a` of the framework against float64 logits `b` of impls' torch
  model (itself proven equal to an independent torch.nn float64 golden to 1e-9 by
  `alexbench parity`), on impls.tiny_config (67x67 RGB, 10 classes, dropout 0), the same
  canonical weights (seed 0) and one seeded batch of 4. AlexNet at width 1, both variants;
  VGG-11 (torchvision's only; "paper" is n/a) at width 0.25 (PARITY_MODELS: 8.1M parameters;
  at width 1 the cache asv pickles for every benchmark process would be 0.5 GB of weights).
  About 1e-6 on CPU and GPU (IEEE float32); `alexbench parity` bounds it at 1e-5.
- `Accuracy.track_accuracy(framework)` [fraction]: test top-1 after a fixed short training
  on real Fashion-MNIST (harness.training.train_and_evaluate: 63x63 grayscale, 1,024
  stratified training images, 1 epoch, batch 32, SGD lr 0.01 / momentum 0.9 / weight
  decay 5e-4, no augmentation, seed 0; 500 test images). A regression guard on training,
  not a measure of AlexNet's accuracy. Skipped when Fashion-MNIST is not installed.
  AlexNet only: the fixed recipe is AlexNet's, and a VGG-11 figure would need a recipe
  (and a baseline) of its own before it could guard anything.

Configuration
-------------
bench_config(model) is small but real, one configuration per model (BENCH_MODELS), all
RGB, 10 classes, dropout 0.5, float32, batches 8 and 32:

- alexnet: the full torchvision AlexNet (five convolutions, three dense layers, 57.0M
  parameters, 0.5 GFLOP per forward image) at 128x128. Exactly the configuration from
  before `model` was a parameter, so its figures continue the same measurement. At this
  size a train step takes 0.3-2 s on two CPU cores (a few ms on an H200).
- vgg11: the full-width VGG-11 (eight 3x3 convolutions, three dense layers, 128.8M
  parameters at 10 classes) at 64x64: 1.46 GFLOP per forward image, against 15.2 at its
  224x224 full size (impls.forward_flops: 10.4x the work per image). The input
  is reduced rather than the width so that the parameters -- the update's and the dense
  layers' memory traffic, the peak memory -- are VGG-11's own; its last feature map is 2x2,
  averaged adaptively up to the 7x7 the classifier takes. A train step took 0.39-0.58 s at
  batch 8 and 0.76-1.28 s at batch 32 on two CPU cores (torch, keras, jax in their default
  modes; best of 3 steps after a compiling one, from a standalone script timing
  impls.create(...).train_step on a device batch, run before other jobs loaded the machine).

`asv run --python=same --quick` over the whole suite took about 5 minutes on two cores
before VGG-11 was added (Accuracy is half of it). VGG-11's benchmarks for torch, keras and
jax (`asv run --python=same --quick --dry-run --bench vgg11`, 75 entries, each in a fresh
process: import, a 128.8M-parameter build, compilation) took 17.7 minutes more, measured
once while other jobs shared the two cores (load average 3-5).

    ALEXBENCH_BENCH_DEVICE=gpu     run the models on the GPU (default: cpu)
    ALEXBENCH_BENCH_THREADS=N      CPU threads per framework (default: every core)

Threads, GPU memory growth and IEEE float32 (no TF32) are set the way throughput runs
set them (harness.measure.plan.apply_settings), before the framework is imported.

Writing benchmarks here
-----------------------
- The suite is the working tree's; the project is the benchmarked commit's (asv installs
  it). Every project import is guarded, so older commits still load the suite: missing
  pieces make benchmarks skip, never fail to import.
- Nothing heavy at import time (asv imports the suite to discover it) and no framework
  import at module level (each benchmark runs in its own process and imports one).
- asv re-runs `setup` before every timed sample; models and device batches are memoized
  per process (`_model`, `_device_batch`) so that re-setup costs a dict lookup rather
  than a rebuild and a recompilation, and the first (compiling) step runs in setup,
  never in a timed call.
- Bump a class's `version` when what it measures changes; results of another version
  are not compared. The versions name AlexNet's configuration (CONFIG_TAG) only: changing
  another model's entry in BENCH_MODELS or PARITY_MODELS needs a bump by hand (which
  restarts every model's series of that class).
- asv matches stored results by the whole parameter tuple. `model` became the first
  parameter after results had been stored as (framework, mode, batch) / (framework,
  variant) / (framework, batch); those do not join the new series in `asv compare` or
  `asv publish`. The versions were left as they were (AlexNet measures what it did): re-run
  older commits with this suite (`asv run A..B`, `asv continuous`) for AlexNet's history
  next to VGG-11's.
"""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

try:
    import impls
except Exception:  # a commit without the package (or a broken one): every benchmark skips
    impls = None

try:
    from impls.errors import DeviceUnavailableError as _DeviceUnavailable
except Exception:
    _DeviceUnavailable = RuntimeError

FALLBACK_FRAMEWORKS = ["torch", "keras", "jax"]
FRAMEWORKS = list(impls.names()) if impls is not None and hasattr(impls, "names") else FALLBACK_FRAMEWORKS
# Networks: FALLBACK_MODELS, then any other of impls.models(). Always listing the fallback
# keeps the parameter grid the same whichever commit asv discovers the suite at (a commit
# before impls.models(), or one whose registry has only AlexNet); a model the benchmarked
# commit lacks is skipped (n/a).
FALLBACK_MODELS = ["alexnet", "vgg11"]
MODELS = list(dict.fromkeys([*FALLBACK_MODELS, *(impls.models() if hasattr(impls, "models") else [])]))
VARIANTS = ["torchvision", "paper"]
# Execution modes (impls.modes): "default" is the framework's default at the benchmarked
# commit; the others are the float32 candidates of `alexbench run --modes best` and the
# bfloat16 modes, so a regression in a non-default mode shows over commits too. A mode a
# framework does not have is skipped (n/a).
MODES = ["default", "eager", "channels_last", "compile", "graph", "xla", "jit", "bf16"]
BATCHES = [8, 32]
IMAGE_SIZE = (128, 128)
IN_CHANNELS = 3
NUM_CLASSES = 10

DEVICE = os.environ.get("ALEXBENCH_BENCH_DEVICE", "cpu").lower()
THREADS = int(os.environ.get("ALEXBENCH_BENCH_THREADS", "0") or 0) or (os.cpu_count() or 1)

# Part of every class's version: changing the configuration starts a new series. It names
# AlexNet's configuration, the only one before `model` was a parameter (see "Configuration").
CONFIG_TAG = f"torchvision-{IMAGE_SIZE[0]}x{IMAGE_SIZE[1]}x{IN_CHANNELS}-c{NUM_CLASSES}-f32"

# Each model's benchmark configuration: AlexNetConfig fields over the common ones of
# bench_config(). "alexnet" adds nothing: it is exactly the configuration from before models
# were a parameter, built without the `model` field so commits before that field take it.
# tests/bench_frameworks.py (pytest-benchmark) uses the same sizes (its BENCH_SIZES); keep them equal.
BENCH_MODELS = {
    "alexnet": {},
    "vgg11": {"model": "vgg11", "image_size": (64, 64)},  # full width (128.8M parameters), input reduced
    "resnet18": {"model": "resnet18"},  # full width (11.2M parameters, 20 BatchNorms), 128x128: 0.6 GMAC per image
}
# Each model's config for the Parity track: impls.tiny_config(variant, **fields).
PARITY_MODELS = {
    "alexnet": {},
    "vgg11": {"model": "vgg11", "width": 0.25},  # 8.1M parameters: a cache of MBs, not 0.5 GB
    "resnet18": {"model": "resnet18", "width": 0.25},  # as parity's small config
}


# ------------------------------------------------------------------------------ helpers
def _require(framework: str) -> None:
    """Raise NotImplementedError (asv: skip) unless `framework` can run at this commit."""
    if impls is None:
        raise NotImplementedError("the impls package is not importable at this commit")
    if framework not in impls.names():
        raise NotImplementedError(f"framework {framework!r} is not registered at this commit")
    reason = impls.unavailable_reason(framework) if hasattr(impls, "unavailable_reason") else None
    if reason:
        if os.environ.get("ALEXBENCH_REQUIRE_ALL") == "1":  # CI: every framework must run
            raise RuntimeError(f"ALEXBENCH_REQUIRE_ALL=1 but {reason}")
        raise NotImplementedError(reason)


_SETTINGS_APPLIED: set[str] = set()


def _apply_settings(framework: str) -> None:
    """Threads, GPU memory growth and IEEE fp32, as throughput runs set them, once per process."""
    if framework in _SETTINGS_APPLIED:
        return
    _SETTINGS_APPLIED.add(framework)
    try:
        from harness.measure.plan import apply_settings
    except Exception:
        try:  # commits before harness.measure
            from harness.worker import apply_settings
        except Exception:  # older commits: framework defaults
            return
    apply_settings(framework, DEVICE, THREADS, "ieee")


def _missing(reason: str) -> None:
    """Skip (NotImplementedError); under ALEXBENCH_REQUIRE_ALL=1 (CI) fail instead."""
    if os.environ.get("ALEXBENCH_REQUIRE_ALL") == "1":
        raise RuntimeError(f"ALEXBENCH_REQUIRE_ALL=1 but {reason}")
    raise NotImplementedError(reason)


def _model_config(model: str, table: dict, build):
    """build(**table[model]), or NotImplementedError (asv: skip) where this commit lacks the model.
    AlexNet's errors propagate: a commit that cannot build it fails, as before models existed."""
    if impls is None:
        raise NotImplementedError("the impls package is not importable at this commit")
    if model not in table:
        _missing(f"benchmarks/benchmarks.py has no configuration for the model {model!r}")
    if model == "alexnet":
        return build(**table[model])
    if hasattr(impls, "models") and model not in impls.models():
        raise NotImplementedError(f"model {model!r} is not registered at this commit")
    try:
        return build(**table[model])
    except (TypeError, ValueError) as error:  # a config without `model` (TypeError), or ConfigError
        raise NotImplementedError(f"this commit cannot build {model!r}: {error}") from error


def bench_config(model: str = "alexnet", **changes):
    """The benchmarked configuration of `model` (BENCH_MODELS over the common fields)."""

    def build(**fields):
        values = dict(num_classes=NUM_CLASSES, image_size=IMAGE_SIZE, in_channels=IN_CHANNELS, dropout=0.5)
        values.update(fields, **changes)
        return impls.AlexNetConfig(**values)

    return _model_config(model, BENCH_MODELS, build)


_MODELS: dict = {}
_BATCHES: dict = {}


def _model(framework: str, config, seed: int = 0, mode: str = "default"):
    """The model for (framework, config, mode), built once per process (asv re-runs setup per
    sample). mode "default" is the framework's default at the benchmarked commit; a mode the
    framework (or the commit) does not have is skipped."""
    key = (framework, config, seed, mode)
    if key not in _MODELS:
        _require(framework)
        kwargs = {}
        if mode != "default":
            try:
                from impls.modes import mode_names
            except ImportError as error:
                raise NotImplementedError("execution modes are not in this commit") from error
            if mode not in mode_names(framework):
                raise NotImplementedError(f"{framework} has no mode {mode!r}")
            kwargs["mode"] = mode
        _apply_settings(framework)
        try:
            _MODELS[key] = impls.create(framework, config, device=DEVICE, seed=seed, **kwargs)
        except (ImportError, _DeviceUnavailable) as error:  # FrameworkUnavailableError is an ImportError
            raise NotImplementedError(str(error)) from error
        except ValueError as error:  # ConfigError: this mode cannot run this config on this device
            raise NotImplementedError(str(error)) from error
    return _MODELS[key]


def _device_batch(model, batch: int, train: bool, seed: int = 0):
    """A seeded batch, placed on the model's device once (numpy where the commit lacks
    device_batch), after one untimed step on it: the step that compiles (XLA, tf.function)."""
    key = (id(model), batch, train)
    if key not in _BATCHES:
        config = model.config
        rng = np.random.default_rng(seed)
        images = rng.standard_normal((batch, *config.image_size, config.in_channels)).astype(np.float32)
        labels = rng.integers(0, config.num_classes, size=batch) if train else None
        if hasattr(model, "device_batch"):
            data = (model.device_batch(images, labels),) if train else (model.device_batch(images),)
        else:
            data = (images, labels) if train else (images,)
        (model.train_step if train else model.predict)(*data)
        _synchronize(model)
        _BATCHES[key] = data
    return _BATCHES[key]


def _synchronize(model) -> None:
    sync = getattr(model, "synchronize", None)
    if sync is not None:
        sync()


# --------------------------------------------------------------------------- benchmarks
class TrainStep:
    """One SGD step of bench_config() on a device-resident batch."""

    params = (MODELS, FRAMEWORKS, MODES, BATCHES)
    param_names = ["model", "framework", "mode", "batch"]
    timeout = 600  # setup imports the framework and compiles the step (XLA for keras and jax)
    number = 1  # one step per timed call (ms on a GPU, 0.1 s and more on CPU): no batching needed
    version = f"train-step-2-{CONFIG_TAG}"

    def setup(self, model, framework, mode, batch):
        self.model = _model(framework, bench_config(model), mode=mode)
        self.data = _device_batch(self.model, batch, train=True)

    def time_train_step(self, model, framework, mode, batch):
        self.model.train_step(*self.data)
        _synchronize(self.model)

    def peakmem_train_step(self, model, framework, mode, batch):
        for _ in range(2):
            self.model.train_step(*self.data)
        _synchronize(self.model)


class Inference:
    """One eval-mode forward pass of bench_config() on a device-resident batch."""

    params = (MODELS, FRAMEWORKS, MODES, BATCHES)
    param_names = ["model", "framework", "mode", "batch"]
    timeout = 600
    number = 1
    version = f"inference-2-{CONFIG_TAG}"

    def setup(self, model, framework, mode, batch):
        self.model = _model(framework, bench_config(model), mode=mode)
        self.data = _device_batch(self.model, batch, train=False)

    def time_inference(self, model, framework, mode, batch):
        self.model.predict(*self.data)
        _synchronize(self.model)


class DeviceMemory:
    """Peak device memory of the framework's allocator around a training step (GPU only)."""

    params = (MODELS, FRAMEWORKS, BATCHES)
    param_names = ["model", "framework", "batch"]
    timeout = 600
    version = f"device-memory-1-{CONFIG_TAG}"

    def setup(self, model, framework, batch):
        if DEVICE != "gpu":
            raise NotImplementedError("device memory is measured on GPUs only (ALEXBENCH_BENCH_DEVICE=gpu)")
        try:
            from harness import backends

            self.backend = backends.get(framework)
        except Exception as error:
            raise NotImplementedError(f"harness.backends is not available at this commit ({error})") from error
        self.model = _model(framework, bench_config(model))
        self.data = _device_batch(self.model, batch, train=True)

    def track_device_memory(self, model, framework, batch):
        self.backend.reset_device_peak(DEVICE)
        self.model.train_step(*self.data)
        _synchronize(self.model)
        peak, _why = self.backend.device_peak_bytes(DEVICE)
        return float("nan") if peak is None else float(peak)

    track_device_memory.unit = "bytes"


class Parity:
    """float32 logits of each framework against float64 torch logits (tiny config)."""

    params = (MODELS, FRAMEWORKS, VARIANTS)
    param_names = ["model", "framework", "variant"]
    timeout = 600
    version = "parity-1-tiny-b4-seed0"
    batch = 4

    def setup_cache(self):
        """{(model, variant): (weights, images, float64 reference logits)}; {} without torch."""
        if impls is None or "torch" not in impls.names() or impls.unavailable_reason("torch"):
            return {}
        try:
            from harness.parity import max_rel  # noqa: F401  (the metric: commits without it skip)
        except ImportError:
            return {}
        _apply_settings("torch")
        cache = {}
        for model in MODELS:
            for variant in VARIANTS:
                config = _tiny_config(model, variant)
                if config is None:
                    continue
                weights = impls.init_weights(config, seed=0)
                shape = (self.batch, *config.image_size, config.in_channels)
                images = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
                reference = impls.create("torch", config.replace(dtype="float64"), device="cpu", seed=0)
                reference.set_weights({k: np.asarray(v, np.float64) for k, v in weights.items()})
                cache[model, variant] = (weights, images, reference.predict(images.astype(np.float64)))
        return cache

    def setup(self, cache, model, framework, variant):
        if model not in PARITY_MODELS:
            _missing(f"benchmarks/benchmarks.py has no Parity configuration for the model {model!r}")
        if (model, variant) not in cache:
            raise NotImplementedError(f"no float64 torch reference for {model} ({variant}) at this commit")
        self.model = _model(framework, _tiny_config(model, variant))

    def track_parity_error(self, cache, model, framework, variant):
        from harness.parity import max_rel

        weights, images, reference = cache[model, variant]
        self.model.set_weights(weights)
        return max_rel(self.model.predict(images), reference)

    track_parity_error.unit = "relative error"


def _training():
    """harness.training (harness.train in commits before it was split from the command)."""
    try:
        from harness import training
    except ImportError:
        from harness import train as training
    return training


def _tiny_config(model: str, variant: str):
    """The Parity config of (model, variant), or None where this commit cannot build it."""
    try:
        return _model_config(model, PARITY_MODELS, lambda **fields: impls.tiny_config(variant, **fields))
    except Exception:  # older commits: no tiny_config, no such model, or no such variant
        return None


class Accuracy:
    """Test top-1 on Fashion-MNIST after a fixed, short, seeded training."""

    params = (FRAMEWORKS,)
    param_names = ["framework"]
    timeout = 1200
    version = "accuracy-1-fmnist-63px-gray-1024x1-b32-test500-seed0"

    @staticmethod
    def settings():
        return _training().TrainSettings(
            epochs=1, batch_size=32, image_size=63, train_subset=1024, test_subset=500,
            augment=False, in_channels=1, seed=0,
        )  # fmt: skip

    def setup_cache(self):
        """(train, test) Fashion-MNIST subsets, or None if the data (or the harness) is missing."""
        try:
            return _training().load_data(self.settings())
        except Exception as error:  # DataError when Fashion-MNIST is not installed
            return str(error)

    def setup(self, data, framework):
        if isinstance(data, str):
            raise NotImplementedError(f"Fashion-MNIST or the harness is unavailable: {data}")
        _require(framework)

    def track_accuracy(self, data, framework):
        train_and_evaluate = _training().train_and_evaluate
        _apply_settings(framework)
        train, test = data
        result = train_and_evaluate(framework, self.settings(), train, test, device=DEVICE, show_progress=False)
        if result.diverged or not result.epochs:
            return float("nan")
        return float(result.epochs[-1].test_top1)

    track_accuracy.unit = "fraction"
