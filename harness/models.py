"""The `--models` and `--variant` options every command shares: names checked against the
registry (impls.networks), each model's variant resolved, one-line errors that list the choices."""

from __future__ import annotations

from collections.abc import Iterable

from impls import networks
from impls.errors import ConfigError

DEFAULT_MODELS = ("alexnet",)  # the main job's network: `alexbench run` keeps its time


def parse_models(text: str | Iterable[str] | None, default: Iterable[str] = DEFAULT_MODELS) -> list[str]:
    """'alexnet,vgg11' (or a list of such strings; None: `default`) -> checked names, in the
    order given, each once; 'all' is every registered model."""
    if text is None:
        return list(default)
    items = [text] if isinstance(text, str) else list(text)
    names = [name.strip() for item in items for name in item.split(",") if name.strip()]
    choices = networks.names()
    if names == ["all"]:
        return choices
    if not names:
        raise ConfigError(f"--models names no model; choose from {', '.join(choices)} (comma-separated) or 'all'")
    for name in names:
        if name not in choices:
            raise ConfigError(f"unknown model {name!r}; choose from {', '.join(choices)} (comma-separated) or 'all'")
    return list(dict.fromkeys(names))


def variant_for(model: str, variant: str | None) -> str:
    """`variant` if `model` has it; None: the model's own default (its first variant)."""
    variants = networks.get(model).variants
    if variant is None:
        return variants[0]
    if variant not in variants:
        raise ConfigError(f"{model} has no variant {variant!r}; its variants: {', '.join(variants)}")
    return variant


def variant_choices() -> list[str]:
    """Every variant of any registered model (for --variant's help and choices)."""
    return list(dict.fromkeys(v for name in networks.names() for v in networks.get(name).variants))
