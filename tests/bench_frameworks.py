"""pytest-benchmark: the frameworks' training and inference steps side by side, per network.

    .venv/bin/python -m pytest tests/bench_frameworks.py --benchmark-only \\
        --benchmark-json results/benchmarks/pytest-benchmark.json --benchmark-group-by=group

Not part of the normal test run: plain `pytest` collects only test_*.py and *_test.py
(pytest's default python_files); a file named on the command line is always collected.

One group per (step, model, batch, input size), e.g. "train alexnet batch=8 input=128x128",
holding one row per framework and execution mode, so the table compares them at equal work. Each timed call
is one step on a batch already on the device (`model.device_batch`), followed by
`model.synchronize()`; train_step returns the loss and predict the logits to the host,
so the device has finished. One untimed warm-up call per (framework, step, batch) takes
the compilation (XLA for keras and jax) out of the figures.

The models: every network of impls.models(), full width, RGB, 10 classes, dropout 0.5,
float32, seed 0, each at its input side of BENCH_SIZES: the torchvision AlexNet at 128x128,
VGG-11 at 64x64 (its full size, 224x224, is 10x the FLOPs), ResNet-18 at 128x128. These are
the configurations of the asv suite (benchmarks/benchmarks.py, its BENCH_MODELS): the two files share no code
(the suite must load at older commits), so keep them equal. Models, sizes and rounds:

    ALEXBENCH_BENCH_MODELS=alexnet    networks (default: all, every one of impls.models())
    ALEXBENCH_BENCH_BATCHES=8,32      batch sizes (default 8,32)
    ALEXBENCH_BENCH_SIZES=128         square input sides for every model (default: each
                                      model's side in BENCH_SIZES; 224 is full size)
    ALEXBENCH_BENCH_ROUNDS=5          timed calls per benchmark (default 5)
    ALEXBENCH_BENCH_MODES=float32     execution modes: float32 (default: every float32 mode,
                                      the --modes best candidates), all, default, or names
    ALEXBENCH_BENCH_DEVICE=gpu        device (default cpu)
    ALEXBENCH_BENCH_THREADS=N         CPU threads per framework (default: every core)

A framework that is not installed is skipped (failed under ALEXBENCH_REQUIRE_ALL=1, as
in the other tests). All frameworks share this process, one model at a time; Keras runs on
one backend per process, so keras-jax and keras-torch get a run of their own:

    ALEXBENCH_FRAMEWORKS=keras-jax,jax .venv/bin/python -m pytest tests/bench_frameworks.py --benchmark-only
"""

from __future__ import annotations

import gc
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import impls  # noqa: E402
from tests.conftest import FRAMEWORKS, require  # noqa: E402


def _ints(name: str, default: str) -> list[int]:
    return [int(v) for v in os.environ.get(name, default).replace(" ", "").split(",") if v]


# Each model's input side, as in benchmarks/benchmarks.py (BENCH_MODELS); keep them equal.
BENCH_SIZES = {"alexnet": 128, "vgg11": 64, "resnet18": 128}
_MODELS_WANTED = os.environ.get("ALEXBENCH_BENCH_MODELS", "all").replace(" ", "")
MODELS = impls.models() if _MODELS_WANTED == "all" else [m for m in _MODELS_WANTED.split(",") if m]
BATCHES = _ints("ALEXBENCH_BENCH_BATCHES", "8,32")
SIZES = _ints("ALEXBENCH_BENCH_SIZES", "")  # empty: each model's BENCH_SIZES
ROUNDS = _ints("ALEXBENCH_BENCH_ROUNDS", "5")[0]
DEVICE = os.environ.get("ALEXBENCH_BENCH_DEVICE", "cpu").lower()
THREADS = int(os.environ.get("ALEXBENCH_BENCH_THREADS", "0") or 0) or (os.cpu_count() or 1)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _modes(framework: str) -> list[str]:
    """ALEXBENCH_BENCH_MODES: float32 (default: every mode computing in float32, the
    candidates of `alexbench run --modes best`), all, default, or a list of mode names."""
    from impls.modes import DEFAULT_MODE, MODES

    wanted = os.environ.get("ALEXBENCH_BENCH_MODES", "float32").replace(" ", "")
    if wanted == "default":
        return [DEFAULT_MODE[framework]]
    if wanted in ("all", "float32"):
        return [m.name for m in MODES[framework].values() if wanted == "all" or not m.reduced_precision]
    return [m for m in wanted.split(",") if m in MODES[framework]]


def _sizes(name: str) -> list[int | None]:
    """ALEXBENCH_BENCH_SIZES, else the model's BENCH_SIZES side (None: it has none)."""
    return SIZES or [BENCH_SIZES.get(name)]


@pytest.fixture(
    scope="module",
    params=[
        (name, framework, mode, size)
        for name in MODELS
        for framework in FRAMEWORKS
        for mode in _modes(framework)
        for size in _sizes(name)
    ],
    ids=lambda p: f"{p[0]}-{p[1]}-{p[2]}-{p[3]}px",
)
def model(request):
    """One model per (network, framework, mode, input size); pytest orders the tests so that
    each is built once and released before the next (module scope)."""
    name, framework, mode, size = request.param
    if size is None:
        reason = f"no input size for the model {name!r} in BENCH_SIZES (or set ALEXBENCH_BENCH_SIZES)"
        if os.environ.get("ALEXBENCH_REQUIRE_ALL") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    require(framework)
    from harness.measure.plan import apply_settings

    apply_settings(framework, DEVICE, THREADS, "ieee")  # threads, memory growth, IEEE fp32
    config = impls.AlexNetConfig(model=name, num_classes=10, image_size=(size, size), in_channels=3, dropout=0.5)
    net = impls.create(framework, config, device=DEVICE, seed=0, mode=mode)
    yield net
    del net
    gc.collect()


@pytest.mark.parametrize("batch", BATCHES, ids=lambda b: f"b{b}")
@pytest.mark.parametrize("step", ["train", "inference"])
def test_step(benchmark, model, step, batch):
    config = model.config
    rng = np.random.default_rng(0)
    images = rng.standard_normal((batch, config.height, config.image_width, config.in_channels)).astype(np.float32)
    if step == "train":
        data = model.device_batch(images, rng.integers(0, config.num_classes, size=batch))
        call = model.train_step
    else:
        data = model.device_batch(images)
        call = model.predict

    def one_step():
        out = call(data)
        model.synchronize()
        return out

    benchmark.group = f"{step} {config.model} batch={batch} input={config.height}x{config.image_width}"
    benchmark.extra_info.update(
        model=config.model, framework=model.framework, mode=model.mode.name, device=DEVICE, threads=THREADS,
        batch=batch, image_size=list(config.image_size), images_per_call=batch,
    )  # fmt: skip
    out = benchmark.pedantic(one_step, rounds=ROUNDS, warmup_rounds=1, iterations=1)
    assert np.all(np.isfinite(out))
