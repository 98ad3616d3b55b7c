"""The parity inputs and runs: shared weights and batches, the golden and the float32
reference trained in lockstep, each framework driven through the same inputs, and the
comparison of two runs under a tier's metrics.

All models live in one process (fine for parity; throughput runs use subprocesses); float64
runs are kept as float32 differences from the golden (Run.compact) to fit in memory.
"""

from __future__ import annotations

import gc
import itertools
import time
from dataclasses import dataclass, field

import numpy as np

from harness.parity.flips import FlipReport, relu_flips, step_flips
from harness.parity.metrics import F32_REFERENCE, GOLDEN, METRICS, PARITY_SGD, QUANTITIES, Check, tolerance
from harness.reference.golden import ReferenceNet
from impls.config import AlexNetConfig, SGDConfig, tiny_config
from impls.errors import ConfigError


@dataclass
class Run:
    """What one model produced on the parity inputs (numpy, canonical names and layouts)."""

    name: str
    dtype: str
    logits: np.ndarray  # predict(batch 0) at the initial weights
    loss: float  # loss_and_grads(batch 0) at the initial weights
    grads: dict[str, np.ndarray]
    step_losses: list[float]  # the loss of each SGD step, before its update
    weights: dict[str, np.ndarray] | None  # after the last step (None: no steps)
    seconds: float = 0.0
    preactivations: dict[str, np.ndarray] = field(default_factory=dict)  # reference runs only
    base: Run | None = None  # set: grads and weights hold float32 differences from base's (see compact)
    # networks with BatchNorm only (else None / empty): the train-mode logits of batch 0 at the
    # initial weights, the running statistics after each step, the eval logits after the last
    train_logits: np.ndarray | None = None
    stats: list[dict[str, np.ndarray]] = field(default_factory=list)
    final_logits: np.ndarray | None = None

    def grad(self, name: str) -> np.ndarray:
        return self._tensor(self.grads, name, self.base.grads if self.base else None)

    def weight(self, name: str) -> np.ndarray:
        return self._tensor(self.weights, name, self.base.weights if self.base else None)

    @staticmethod
    def _tensor(values, name, base_values):
        if base_values is None:
            return values[name]
        return np.asarray(base_values[name], np.float64) + values[name]

    def compact(self, base: Run) -> Run:
        """Keep gradients and weights as float32 differences from `base` (a float64 golden):
        half the memory of a float64 run, and every error stays exact to ~1e-7 of itself
        (a difference of 1e-15 is kept as 1e-15; rounding it to float32 cannot hide it)."""
        if self.base is not None or base.base is not None:
            raise ValueError("compact() takes an uncompacted run and base")
        self.grads, self.weights = _delta(self.grads, base.grads), _delta(self.weights, base.weights)
        self.base = base
        return self


def _delta(values, base_values):
    if values is None or base_values is None:
        return values
    return {k: (np.asarray(v, np.float64) - base_values[k]).astype(np.float32) for k, v in values.items()}


def reference_run(
    config: AlexNetConfig,
    weights: dict[str, np.ndarray],
    batches: list[tuple[np.ndarray, np.ndarray]],
    optimizer: SGDConfig,
    steps: int,
    dtype: str = "float64",
    preactivations: bool = False,
) -> Run:
    """The golden (float64; float32: the float32 reference): a plain torch.nn network trained
    with torch.optim.SGD(lr, momentum, weight_decay). preactivations: keep every ReLU's input
    of the batch-0 forward (Run.preactivations), for counting sign flips."""
    return reference_runs(config, weights, batches, optimizer, steps, dtypes=(dtype,), record=preactivations)[0][0]


def reference_runs(
    config: AlexNetConfig,
    weights: dict[str, np.ndarray],
    batches: list[tuple[np.ndarray, np.ndarray]],
    optimizer: SGDConfig,
    steps: int,
    dtypes=("float64", "float32"),
    record: bool = True,
) -> tuple[list[Run], FlipReport | None]:
    """The golden and the float32 reference, trained in lockstep on the same batches; with
    `record` and both dtypes, ReLU sign flips are counted at batch 0 and at every step."""
    start = time.perf_counter()
    refs = [ReferenceNet(config, weights, optimizer, dtype, record) for dtype in dtypes]
    images, labels = batches[0]
    logits = [ref.logits(images) for ref in refs]
    preactivations = [dict(ref.preactivations) for ref in refs]
    train_logits = [ref.train_logits(images) if ref.has_statistics else None for ref in refs]
    loss_grads = [ref.loss_and_grads(images, labels) for ref in refs]
    compare_flips = record and len(refs) == 2
    flips = FlipReport(relu_flips(*preactivations) if compare_flips else [], [])
    losses: list[list[float]] = [[] for _ in refs]
    stats: list[list[dict]] = [[] for _ in refs]
    for step, (images, labels) in enumerate(batches[:steps], start=1):
        for ref, out, kept in zip(refs, losses, stats, strict=True):
            out.append(ref.step(images, labels))
            if ref.has_statistics:
                kept.append(ref.statistics())
        if compare_flips:
            flips.per_step.append(step_flips(step, relu_flips(refs[0].preactivations, refs[1].preactivations)))
    runs = []
    for i, ref in enumerate(refs):
        name = GOLDEN if dtypes[i] == "float64" else F32_REFERENCE
        final = ref.weights() if steps else None
        loss, grads = loss_grads[i]
        run = Run(name, dtypes[i], logits[i], loss, grads, losses[i], final, 0.0, preactivations[i])
        if ref.has_statistics:
            run.train_logits, run.stats = train_logits[i], stats[i]
            run.final_logits = ref.logits(batches[0][0]) if steps else None
        runs.append(run)
    del refs
    gc.collect()
    for run in runs:
        run.seconds = time.perf_counter() - start
    return runs, (flips if compare_flips else None)


# ------------------------------------------------------------------------ framework runs
def make_batches(config: AlexNetConfig, batch: int, count: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """`count` seeded batches of standard-normal NHWC images (float32 values, so float32
    and float64 models see identical inputs) and integer labels."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        images = rng.standard_normal((batch, config.height, config.image_width, config.in_channels)).astype(np.float32)
        out.append((images, rng.integers(0, config.num_classes, size=batch)))
    return out


def run_model(model, weights, batches, steps: int, name: str | None = None, base: Run | None = None) -> Run:
    """Drive any impls.AlexNet (or a subclass) through the parity inputs: logits and
    gradients on batch 0 at `weights`, then `steps` SGD steps. With `base` (the golden of a
    float64 run) gradients and weights are kept compact as they arrive (see Run.compact)."""
    start = time.perf_counter()
    model.set_weights(weights)  # also zeroes the momentum
    images, labels = batches[0]
    logits = np.array(model.predict(images), copy=True)
    statistics = model.params.float_buffers  # BatchNorm's running statistics (none: AlexNet, VGG)
    train_logits = np.array(model.predict(images, training=True), copy=True) if statistics else None
    loss, grads = model.loss_and_grads(images, labels)
    if base is not None:
        grads = _delta(grads, base.grads)
    step_losses, stats = [], []
    for x, y in batches[:steps]:
        step_losses.append(float(model.train_step(x, y)))
        if statistics:
            current = model.get_weights()
            stats.append({name: current[name] for name in statistics})
    final = model.get_weights() if steps else None
    final_logits = np.array(model.predict(images), copy=True) if statistics and steps else None
    if base is not None:
        final = _delta(final, base.weights)
    run = Run(name or model.framework, model.config.dtype, logits, float(loss), grads, step_losses, final)
    run.base, run.seconds = base, time.perf_counter() - start
    run.train_logits, run.stats, run.final_logits = train_logits, stats, final_logits
    return run


def compare(a: Run, b: Run, tier: int, variant: str, size: str, quantities=QUANTITIES) -> list[Check]:
    """Every error of `a` against `b` (the scale) under tier `tier`'s metrics and bounds (the
    model's own where it has them: metrics.MODEL_TOLERANCES); `variant` names the network."""
    rows = []
    try:
        model = net_of(variant)[0]
    except ConfigError:
        model = None

    def add(quantity, tensor, step, x, y, note=""):
        metric, bound = tolerance(tier, quantity, model)
        rows.append(
            Check(
                tier, variant, size, quantity, a.name, b.name, tensor, step, metric, METRICS[metric](x, y), bound, note
            )
        )

    if "logits" in quantities:
        add("logits", "logits", None, a.logits, b.logits)
    if "train_logits" in quantities and a.train_logits is not None and b.train_logits is not None:
        add("train_logits", "logits", None, a.train_logits, b.train_logits)
    if "loss" in quantities:
        add("loss", "loss", None, a.loss, b.loss)
    if "grads" in quantities:
        for name in b.grads:
            add("grads", name, None, a.grad(name), b.grad(name))
    if "step_loss" in quantities:
        for step, (x, y) in enumerate(zip(a.step_losses, b.step_losses, strict=False), start=1):
            add("step_loss", "loss", step, x, y)
    if "weights" in quantities and a.weights is not None and b.weights is not None:
        steps = min(len(a.step_losses), len(b.step_losses))
        for name in b.weights:
            add("weights", name, steps, a.weight(name), b.weight(name))
    if "stats" in quantities:
        for step, (x, y) in enumerate(zip(a.stats, b.stats, strict=False), start=1):
            for name in y:
                add("stats", name, step, x[name], y[name])
    if "eval_after" in quantities and a.final_logits is not None and b.final_logits is not None:
        add("eval_after", "logits", min(len(a.step_losses), len(b.step_losses)), a.final_logits, b.final_logits)
    return rows


def select_frameworks(frameworks=None) -> tuple[list[str], dict[str, str]]:
    """(usable frameworks, {skipped framework: why}); an unknown name is a ConfigError."""
    import impls

    names = impls.names() if frameworks is None else list(frameworks)
    usable, skipped = [], {}
    for name in names:
        reason = impls.unavailable_reason(name)  # raises ConfigError for an unknown name
        if reason:
            skipped[name] = reason
        else:
            usable.append(name)
    return usable, skipped


# The network a parity part checks is named "model/variant" ("alexnet/paper", "vgg11/torchvision");
# AlexNet's variants alone ("torchvision", "paper") still name AlexNet's, as before there were models.
SMALL_SIZES = {"alexnet": (67, 67), "vgg11": (96, 128), "resnet18": (64, 80)}
"""Input of each model's small config: AlexNet's smallest size both variants take; for VGG-11
a non-square size whose last map (3x4) the 7x7 adaptive pool spreads over overlapping bins, so
the pool and the flatten order after it do real work."""
SMALL_WIDTHS = {"alexnet": 1.0, "vgg11": 0.25, "resnet18": 0.25}
"""Each model's width in the small config when none is asked for. AlexNet runs at full width.
VGG-11 at width 1 is 129M parameters at the small size: every float64 copy of the weights
(golden, gradients, momentum, each framework's run) is ~1 GB, which 2 cores and 24 GiB do not
keep for a 20-step trajectory in every framework and mode; at 0.25 (16-128 channels, 1024
hidden) it is 8.1M, and every operation, shape rule and layout of the definition is the same.
ResNet-18 runs at 64x80, whose last map is 2x3 (the global average pool averages, and the
last BatchNorms still see 24 values per channel at batch 4), and width 0.25 (0.7M parameters):
see TRAJECTORY_STEPS for why not width 1."""


TRAJECTORY_STEPS = {"alexnet": 20, "vgg11": 10, "resnet18": 2}
"""SGD steps of each model's parity trajectories when --steps is not given. VGG-11 (small
config, width 0.25, lr 0.001, seed 0) takes 10: at step 11 a features.14 unit at +5.1e-7 in
float64 is -1.2e-6 in float32, the flips then double every step or two (284 at step 20), and
float32 Keras and JAX end 1.6e-4 from the golden's step loss against tier 2's 1e-4 (torch
6.7e-5): chaos after a sign flip, not a porting error (`alexbench parity --models vgg11
--steps 20` shows it, flip by flip), as AlexNet's at lr 0.01 (docs/DESIGN.md). ResNet-18
(small config, width 0.25) takes 8: its first float32 ReLU flips come at step 9 (8 units), 51
at step 10, where the plain torch float32 reference is already 2.3e-4 from the golden's loss;
at width 1 they start at step 1 and the reference is 1.1e-4 off at step 2 (BatchNorm over 4
images turns float32 rounding into sign flips fast)."""


def net_of(net: str) -> tuple[str, str]:
    """'alexnet/paper' -> ('alexnet', 'paper'); 'vgg11' -> ('vgg11', its first variant);
    'paper' -> ('alexnet', 'paper') (AlexNet's variants by themselves)."""
    from impls import networks

    model, _, variant = net.partition("/")
    if not variant and model not in networks.names() and model in networks.get("alexnet").variants:
        model, variant = "alexnet", model
    definition = networks.get(model)  # ConfigError naming the choices
    variant = variant or definition.variants[0]
    if variant not in definition.variants:
        raise ConfigError(f"{model} has no variant {variant!r}; its variants: {', '.join(definition.variants)}")
    return model, variant


def net_label(model: str, variant: str) -> str:
    return f"{model}/{variant}"


def small_config(net: str = "torchvision", dtype: str = "float64", width: float | None = None) -> AlexNetConfig:
    """The model's SMALL_SIZES input, 10 classes, dropout off, at `width` (None: SMALL_WIDTHS;
    tests use less; the published parity runs at the default)."""
    model, variant = net_of(net)
    width = SMALL_WIDTHS.get(model, 1.0) if width is None else width
    return tiny_config(variant, model=model, image_size=SMALL_SIZES.get(model, (67, 67)), dtype=dtype, width=width)


def full_config(net: str = "torchvision", dtype: str = "float32") -> AlexNetConfig:
    """Full size at full width: the model's own input (224x224; 227x227 for the paper's AlexNet),
    1000 classes, dropout off."""
    model, variant = net_of(net)
    return AlexNetConfig(model=model, variant=variant, dropout=0.0, dtype=dtype)


def size_label(config: AlexNetConfig) -> str:
    """ "small" (small_config), "full" (full_config), else "HxW" (dtype ignored)."""
    config = config.replace(dtype="float64")
    suffix = f" w{config.width:g}" if config.width != 1.0 else ""
    net = net_label(config.model, config.variant)
    if config.replace(width=1.0) == small_config(net, width=1.0):
        return "small" + suffix
    if config.replace(width=1.0) == full_config(net, "float64"):
        return "full" + suffix
    return f"{config.height}x{config.image_width}{suffix}"


def _check_config(config: AlexNetConfig) -> None:
    if config.dropout != 0.0:
        raise ConfigError(
            f"parity needs dropout off (dropout masks cannot match across frameworks); got dropout={config.dropout}"
        )


@dataclass
class Inputs:
    """The shared inputs of one variant/config: weights, batches, optimizer, and (computed
    once, on demand) the golden, the float32 reference and the ReLU sign flips between them."""

    config: AlexNetConfig  # dtype ignored: each run sets its own
    weights: dict[str, np.ndarray]
    batches: list[tuple[np.ndarray, np.ndarray]]
    optimizer: SGDConfig
    steps: int
    golden: Run | None = None
    f32_reference: Run | None = None
    flips: FlipReport | None = None

    def ensure_references(self, float32: bool = True) -> Run:
        """The golden (and with `float32`, the float32 reference trained in lockstep with it)."""
        if self.golden is None or (float32 and (self.f32_reference is None or not self.f32_reference.grads)):
            dtypes = ("float64", "float32") if float32 else ("float64",)
            runs, self.flips = reference_runs(
                self.config, self.weights, self.batches, self.optimizer, self.steps, dtypes, record=float32
            )
            self.golden = runs[0]
            self.f32_reference = runs[1] if float32 else None
        return self.golden


def make_inputs(
    config: AlexNetConfig, steps: int = 20, batch: int = 4, seed: int = 0, optimizer: SGDConfig | None = None
) -> Inputs:
    """Canonical weights (impls.init_weights(seed), rounded to float32 so float32 and float64
    models start from the same values) and max(steps, 1) seeded batches."""
    from impls.weights import init_weights

    _check_config(config)
    if steps < 0 or batch < 1:
        raise ConfigError(f"steps must be >= 0 and batch >= 1, got steps={steps}, batch={batch}")
    weights = nontrivial_statistics(init_weights(config, seed=seed, dtype=np.float32), seed)
    batches = make_batches(config, batch, max(steps, 1), seed=seed)
    return Inputs(config, weights, batches, optimizer or PARITY_SGD, steps)


def nontrivial_statistics(weights: dict[str, np.ndarray], seed: int = 0) -> dict[str, np.ndarray]:
    """BatchNorm away from its initialisation (scale 1, shift 0, statistics 0 and 1, where
    eval mode is nearly the identity and a wrong epsilon or momentum hides): seeded scales in
    [0.5, 1.5], shifts and running means in [-0.5, 0.5], running variances in [0.5, 2], 3
    batches tracked; float32 values, as the weights. Networks without BatchNorm are unchanged."""
    rng = np.random.default_rng([seed, 2026])
    ranges = {"weight": (0.5, 1.5), "bias": (-0.5, 0.5), "running_mean": (-0.5, 0.5), "running_var": (0.5, 2.0)}
    out = dict(weights)
    for name, value in weights.items():
        module, suffix = name.rsplit(".", 1)
        if f"{module}.running_mean" not in weights:
            continue  # not a BatchNorm
        if suffix == "num_batches_tracked":
            out[name] = np.asarray(3, dtype=np.int64)
        else:
            out[name] = rng.uniform(*ranges[suffix], size=value.shape).astype(np.float32)
    return out


def all_pairs(golden: Run, runs: dict[str, Run], tier, variant, size, quantities=QUANTITIES) -> list[Check]:
    rows = []
    for name in runs:
        rows += compare(runs[name], golden, tier, variant, size, quantities)
    for x, y in itertools.combinations(runs, 2):
        rows += compare(runs[x], runs[y], tier, variant, size, quantities)
    return rows
