"""Networks as data: one framework-free definition per family, registered by name.

    from impls import networks
    networks.names()                      # ['alexnet', 'vgg11', 'resnet18']
    networks.get("alexnet").variants      # ('torchvision', 'paper')
    network = networks.network(config)    # the tuple of named operations (impls.networks.ops)

A definition is a function of the config (variant, width, number of classes) that returns
the operations in order with torchvision's module names; `@register_model` puts it in the
registry (as timm's does), and every framework lowers the same operations
(impls/torch_alexnet.py, keras_alexnet.py, jax_alexnet.py).
Adding a network is one module here; only a new kind of operation needs a lowering per
framework.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from types import SimpleNamespace

from impls.errors import ConfigError
from impls.networks.ops import Network, TooSmall, plan


@dataclass(frozen=True)
class ModelDef:
    name: str  # torchvision's name of the network
    build: Callable  # build(config) -> Network
    variants: tuple[str, ...]  # the first is the default
    default_sizes: dict[str, int]  # variant -> its natural input size (square)
    description: str


_MODELS: dict[str, ModelDef] = {}


def register_model(name: str, variants: tuple[str, ...], default_sizes: dict[str, int], description: str):
    """Decorator: register `build(config) -> Network` as the network called `name`."""

    def decorate(build: Callable) -> Callable:
        _MODELS[name] = ModelDef(name, build, tuple(variants), dict(default_sizes), description)
        return build

    return decorate


def names() -> list[str]:
    return list(_MODELS)


def get(name: str) -> ModelDef:
    if name not in _MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(_MODELS)}")
    return _MODELS[name]


def network(config) -> Network:
    """The operations of `config`'s model, variant, width and number of classes."""
    return get(config.model).build(config)


@cache
def min_image_size(model: str, variant: str, in_channels: int = 3) -> int:
    """Smallest height/width the network takes (every window must fit): found by walking the
    shapes, so it can never disagree with what the frameworks build."""
    # A stand-in for the config (building one checks its size against this very function):
    # window sizes do not depend on the width or the classes.
    probe = SimpleNamespace(model=model, variant=variant, in_channels=in_channels, num_classes=2, width=1.0,
                            dropout=0.0)  # fmt: skip
    layers = get(model).build(probe)
    for size in range(1, 4097):
        try:
            plan(layers, (in_channels, size, size))
            return size
        except TooSmall:
            continue
    raise ConfigError(f"{model} ({variant}) takes no input size up to 4096")


# The definitions register themselves on import, in this order (the order names() lists).
from impls.networks import alexnet, vgg  # noqa: E402, F401, I001
from impls.networks import resnet  # noqa: E402, F401, I001

__all__ = ["ModelDef", "get", "min_image_size", "names", "network", "register_model"]
