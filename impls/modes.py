"""Execution modes: the ways each framework can run the same AlexNet, framework-free.

A mode changes HOW a model computes (memory layout, graph compilation, precision),
never WHAT: same architecture, same canonical weights, same update rule. Every mode
is selectable (`impls.create(name, config, mode=...)`, `alexbench run --modes ...`) and
recorded with each measurement.

Reduced-precision modes (compute_dtype "bfloat16") keep float32 master weights,
momentum and loss; only convolutions, matmuls and activations run in bfloat16. They
have their own parity tolerance against float64 (tier 4, harness.parity.metrics.TOLERANCES)
and an accuracy check, and need a float32 config.

Default mode per framework: the fastest one that passes parity on the reference
machine (a 2-core AVX2 CPU; see README "Execution modes" for the measurements). That
CPU has no AMX or AVX512-BF16, so bfloat16 is emulated there and slower than float32:
no bfloat16 mode is a default.
"""

from __future__ import annotations

from dataclasses import dataclass

from impls.errors import ConfigError


@dataclass(frozen=True)
class Mode:
    name: str
    compute_dtype: str  # "config" (the config's dtype: float32 or float64) or "bfloat16"
    compiled: bool  # whole-step graph compilation (its first call includes the compile)
    description: str

    @property
    def reduced_precision(self) -> bool:
        return self.compute_dtype == "bfloat16"


MODES: dict[str, dict[str, Mode]] = {
    "torch": {
        m.name: m
        for m in (
            Mode("eager", "config", False, "eager PyTorch, NCHW contiguous tensors"),
            Mode("channels_last", "config", False, "eager PyTorch, model and input in channels_last (NHWC) layout"),
            Mode("compile", "config", True, "channels_last + torch.compile (Inductor) of forward and backward"),
            Mode("bf16", "bfloat16", False, "channels_last + torch.autocast(bfloat16); float32 weights and loss"),
        )
    },
    "keras": {
        m.name: m
        for m in (
            Mode("graph", "config", True, "tf.function without XLA (TensorFlow's own kernels)"),
            Mode("xla", "config", True, "tf.function(jit_compile=True): the whole step compiled by XLA"),
            Mode("bf16", "bfloat16", True, "XLA + Keras 'mixed_bfloat16' dtype policy; float32 weights and loss"),
        )
    },
    "jax": {
        m.name: m
        for m in (
            Mode("jit", "config", True, "jax.jit of the whole step, parameters and momentum donated"),
            Mode("bf16", "bfloat16", True, "jit + bfloat16 compute (params cast in the step); float32 weights, loss"),
        )
    },
    "keras-jax": {
        m.name: m
        for m in (
            Mode("jit", "config", True, "Keras on JAX: stateless_call under jax.jit, the state donated"),
            Mode("eager", "config", False, "Keras on JAX: the same stateless_call step, op by op (no jit)"),
            Mode("bf16", "bfloat16", True, "jit + Keras 'mixed_bfloat16' dtype policy; float32 weights and loss"),
        )
    },
    "keras-torch": {
        m.name: m
        for m in (
            Mode("eager", "config", False, "Keras on PyTorch: the model called eagerly, torch autograd"),
            Mode("bf16", "bfloat16", False, "eager + Keras 'mixed_bfloat16' dtype policy; float32 weights and loss"),
        )
    },
}

DEFAULT_MODE = {"torch": "channels_last", "keras": "xla", "jax": "jit", "keras-jax": "jit", "keras-torch": "eager"}


def mode_names(framework: str) -> list[str]:
    return list(MODES.get(framework, {}))


def resolve(framework: str, mode: str | None, dtype: str = "float32") -> Mode:
    """The Mode called `mode` of `framework` (None: its default), checked against `dtype`."""
    if framework not in MODES:
        raise ConfigError(f"unknown framework {framework!r}; choose one of {', '.join(MODES)}")
    name = DEFAULT_MODE[framework] if mode is None else mode
    if name not in MODES[framework]:
        raise ConfigError(
            f"unknown {framework} mode {name!r}; choose one of {', '.join(MODES[framework])} "
            f"(default {DEFAULT_MODE[framework]})"
        )
    chosen = MODES[framework][name]
    if chosen.reduced_precision and dtype != "float32":
        raise ConfigError(
            f"{framework} mode {name!r} computes in bfloat16 from float32 master weights; it needs "
            f"dtype='float32', got {dtype!r}"
        )
    return chosen


def parse_modes(text: str, frameworks: list[str]) -> dict[str, list[str]]:
    """`--modes` syntax: 'default', 'all', or 'torch=eager+compile,jax=all' (others: default)."""
    text = text.strip()
    chosen = {f: [DEFAULT_MODE[f]] for f in frameworks if f in MODES}
    if text in ("", "default"):
        return chosen
    if text == "all":
        return {f: mode_names(f) for f in chosen}
    for item in text.split(","):
        framework, sep, names = item.partition("=")
        framework = framework.strip()
        if not sep or framework not in MODES:
            raise ConfigError(
                f"--modes item {item!r} must look like FRAMEWORK=MODE[+MODE...] with FRAMEWORK one of "
                f"{', '.join(MODES)}; or use 'default' or 'all'"
            )
        if framework not in chosen:
            raise ConfigError(f"--modes names {framework!r}, which is not among the frameworks to run")
        wanted = mode_names(framework) if names.strip() == "all" else [n.strip() for n in names.split("+")]
        for name in wanted:
            resolve(framework, name)
        chosen[framework] = list(dict.fromkeys(wanted))
    return chosen
