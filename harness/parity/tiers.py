"""The tiers: every framework (tiers 1 and 2) or execution mode (tiers 3 and 4) driven
through the same inputs and compared with the golden and with each other.

Tier 1 (float64, exact): every framework against every other and against the golden:
logits, loss, each gradient, the loss at every SGD step and each weight after the
trajectory, <= 1e-9. Tier 2 (float32 against the float64 golden, and pairwise): logits
<= 1e-5, the loss at every step <= 1e-4, gradients <= 2e-3 as ||a-b|| / ||b||, with the
ReLU sign flips of a plain torch float32 reference counted. Tiers 3 and 4: every mode that
is not its framework's default, against the golden, under tier 2's bounds (float32 modes)
or reduced-precision ones (bfloat16 modes). Full size: logits only, at 224 / 227.
"""

from __future__ import annotations

import gc
import math
import time

import numpy as np

from harness.parity.flips import FlipReport, describe_flips
from harness.parity.metrics import F32_REFERENCE, GOLDEN, Check, failed_run
from harness.parity.runs import (
    Inputs,
    ReferenceNet,
    Run,
    all_pairs,
    compare,
    full_config,
    make_inputs,
    reference_runs,
    run_model,
    select_frameworks,
    size_label,
    small_config,
)
from impls.config import AlexNetConfig, SGDConfig
from impls.errors import ConfigError


def each_model(
    labels: list[tuple[str, str | None]],
    config: AlexNetConfig,
    use,
    tier: int,
    variant: str,
    size: str,
    device: str,
    optimizer: SGDConfig | None = None,
    skip_unsupported: bool = False,
) -> tuple[dict[str, Run], list[Check], dict[str, str]]:
    """The one "run each framework" loop: for each (framework, mode), build the model (one
    alive at a time, freed before the next) and keep `use(model, label)`, a Run.

    A framework that fails becomes a failed-run Check, so one broken framework cannot hide
    the others' results; with `skip_unsupported`, a mode that cannot run this variant on
    this device (a ConfigError when it is built) is a skip with its reason instead.
    Returns (label -> Run, failed-run checks, label -> why skipped)."""
    import impls

    runs, failures, skipped = {}, [], {}
    for framework, mode in labels:
        label = framework if mode is None else f"{framework}:{mode}"
        model = None
        try:
            try:
                model = impls.create(framework, config, device=device, optimizer=optimizer, mode=mode)
            except ConfigError as error:
                if not skip_unsupported:
                    raise
                skipped[label] = str(error)
                continue
            runs[label] = use(model, label)
        except Exception as error:  # report it as a failed run; the others go on
            failures.append(failed_run(tier, variant, size, label, error))
        finally:
            del model
            gc.collect()
    return runs, failures, skipped


def _trajectories(inputs: Inputs, frameworks, dtype: str, tier: int, variant: str, size: str, device: str,
                  modes: dict[str, str] | None = None):  # fmt: skip
    """Each framework's Run on the parity inputs (in its default mode, or modes[framework]);
    float64 runs are kept compact (as differences from the golden) so that all of them fit
    in memory for the pairwise checks."""
    base = inputs.golden if dtype == "float64" else None

    def use(model, label):
        return run_model(model, inputs.weights, inputs.batches, inputs.steps, label, base=base)

    config = inputs.config.replace(dtype=dtype)
    labels = [(f, (modes or {}).get(f)) for f in frameworks]
    runs, failures, _ = each_model(labels, config, use, tier, variant, size, device, inputs.optimizer)
    return runs, failures


def tier1(
    variant: str = "torchvision",
    config: AlexNetConfig | None = None,
    frameworks=None,
    steps: int = 20,
    batch: int = 4,
    seed: int = 0,
    optimizer: SGDConfig | None = None,
    device: str = "cpu",
    inputs: Inputs | None = None,
    modes: dict[str, str] | None = None,
) -> list[Check]:
    """Tier 1 in float64 on `config` (default: the small config of `variant`): every
    framework against the golden and pairwise; logits, loss, gradients, the loss at every
    step and the weights after `steps` steps. Pass `inputs` (make_inputs) to share the
    golden with tier2. Unavailable frameworks are left out (see select_frameworks). Each
    framework runs in its default mode, or in modes[framework] (labelled FRAMEWORK:MODE)."""
    inputs = inputs or make_inputs(config or small_config(variant), steps, batch, seed, optimizer)
    frameworks, _ = select_frameworks(frameworks)
    golden = inputs.ensure_references(float32=False)
    size = size_label(inputs.config)
    runs, rows = _trajectories(inputs, frameworks, "float64", 1, variant, size, device, modes)
    rows += all_pairs(golden, runs, 1, variant, size)
    return rows


def tier2(
    variant: str = "torchvision",
    config: AlexNetConfig | None = None,
    frameworks=None,
    steps: int = 20,
    batch: int = 4,
    seed: int = 0,
    optimizer: SGDConfig | None = None,
    device: str = "cpu",
    inputs: Inputs | None = None,
) -> tuple[list[Check], FlipReport]:
    """Tier 2: every framework in float32 against the float64 golden and pairwise, plus the
    plain torch float32 reference (trained in lockstep with the golden) against the golden.
    Returns (checks, flips): the ReLU sign flips of the float32 reference against the golden,
    on batch 0 at the initial weights (where gradients are compared) and at every step."""
    inputs = inputs or make_inputs(config or small_config(variant), steps, batch, seed, optimizer)
    frameworks, _ = select_frameworks(frameworks)
    golden = inputs.ensure_references(float32=True)
    flips = inputs.flips
    grads_note = f"ReLU sign flips of {F32_REFERENCE} vs float64 on batch 0: {describe_flips(flips.initial)}"
    size = size_label(inputs.config)
    rows = compare(inputs.f32_reference, golden, 2, variant, size)
    inputs.f32_reference.grads, inputs.f32_reference.weights = {}, None  # compared: free 0.5 GB
    runs, failures = _trajectories(inputs, frameworks, "float32", 2, variant, size, device)
    rows += failures + all_pairs(golden, runs, 2, variant, size)
    for row in rows:
        if row.quantity == "grads":
            row.note = grads_note
        elif row.quantity == "step_loss" and flips.per_step:
            row.note = f"{F32_REFERENCE}: {flips.per_step[row.step - 1]['flips']} ReLU sign flips at this step"
    return rows, flips


def full_size(
    variant: str = "torchvision",
    frameworks=None,
    batch: int = 4,
    seed: int = 0,
    device: str = "cpu",
    tiers=(1, 2),
) -> list[Check]:
    """Logits at full size (224x224 torchvision / 227x227 paper, 1000 classes): float64
    (tier 1, <= 1e-9) and float32 (tier 2, <= 1e-5), against the golden and pairwise."""
    frameworks, _ = select_frameworks(frameworks)
    inputs = make_inputs(full_config(variant), steps=0, batch=batch, seed=seed)
    images = inputs.batches[0][0]
    reference_net = ReferenceNet(inputs.config, inputs.weights, inputs.optimizer, "float64", record=False)
    golden = Run(GOLDEN, "float64", reference_net.logits(images), math.nan, {}, [], None)  # logits only
    del reference_net
    rows = []
    for tier in tiers:
        dtype = "float64" if tier == 1 else "float32"

        def use(model, label, dtype=dtype):
            start = time.perf_counter()
            model.set_weights(inputs.weights)
            logits = np.array(model.predict(images), copy=True)
            return Run(label, dtype, logits, math.nan, {}, [], None, time.perf_counter() - start)

        config = inputs.config.replace(dtype=dtype)
        runs, failures, _ = each_model([(f, None) for f in frameworks], config, use, tier, variant, "full", device)
        rows += failures + all_pairs(golden, runs, tier, variant, "full", ("logits",))
    return rows


def mode_tiers(
    variant: str = "torchvision",
    frameworks=None,
    device: str = "cpu",
    inputs: Inputs | None = None,
    modes: dict[str, list[str]] | None = None,
) -> tuple[list[Check], dict[str, str]]:
    """Tiers 3 and 4: each execution mode that is not its framework's default (the default
    runs in tier 2) in float32 against the golden, on the same weights, batches and
    trajectory; named FRAMEWORK:MODE. `modes`: framework -> modes (default: all others).
    Returns (checks, {FRAMEWORK:MODE: why skipped}) - a mode that cannot run this variant
    on this device (Keras graph mode, paper variant, CPU) is skipped, not failed."""
    from impls.modes import DEFAULT_MODE, mode_names, resolve

    inputs = inputs or make_inputs(small_config(variant), 20, 4, 0)
    frameworks, _ = select_frameworks(frameworks)
    golden = inputs.ensure_references(float32=False)
    size = size_label(inputs.config)
    config = inputs.config.replace(dtype="float32")
    rows, skipped = [], {}

    def use(model, label):
        return run_model(model, inputs.weights, inputs.batches, inputs.steps, label)

    for name in frameworks:
        for mode in (modes or {}).get(name, [m for m in mode_names(name) if m != DEFAULT_MODE[name]]):
            tier = 4 if resolve(name, mode).reduced_precision else 3
            runs, failures, skips = each_model([(name, mode)], config, use, tier, variant, size, device,
                                               inputs.optimizer, skip_unsupported=True)  # fmt: skip
            rows += failures + [row for run in runs.values() for row in compare(run, golden, tier, variant, size)]
            skipped.update(skips)
    return rows, skipped


def tier1_uint8(variant: str = "torchvision", frameworks=None, device: str = "cpu", steps: int = 3, batch: int = 4,
                seed: int = 0, width: float | None = None) -> list[Check]:  # fmt: skip
    """Tier 1 with uint8 input, normalized on the device (impls.InputNorm): every framework
    in float64 fed uint8 batches against the golden fed the same batches normalized in numpy
    (float64), and pairwise; logits, loss, gradients, `steps` SGD steps; <= 1e-9. Gray
    batches (one channel, expanded on the device) cover the channel expansion too."""
    import impls

    frameworks, _ = select_frameworks(frameworks)
    config = small_config(variant, width=width)
    norm = impls.InputNorm((0.45,), (0.27,))
    rng = np.random.default_rng(seed)
    raw = [(rng.integers(0, 256, (batch, config.height, config.image_width, 1), dtype=np.uint8),
            rng.integers(0, config.num_classes, size=batch)) for _ in range(max(steps, 1))]  # fmt: skip
    floats = [(norm.apply(x, np.float64, config.in_channels), y) for x, y in raw]
    inputs = make_inputs(config, steps, batch, seed)
    golden = reference_runs(config, inputs.weights, floats, inputs.optimizer, steps, dtypes=("float64",),
                            record=False)[0][0]  # fmt: skip

    def use(model, label):
        model.set_input_norm(norm)
        return run_model(model, inputs.weights, raw, steps, label, base=golden)

    runs, rows, _ = each_model([(f, None) for f in frameworks], config, use, 1, variant, "small/uint8", device,
                               inputs.optimizer)  # fmt: skip
    return rows + all_pairs(golden, runs, 1, variant, "small/uint8")
