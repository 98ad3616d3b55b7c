"""Network implementations behind one interface, and the registries that find them.

    import impls
    impls.names()                          # frameworks: ['torch', 'keras', 'jax']
    impls.models()                         # networks: ['alexnet', 'vgg11']
    model = impls.create("torch", impls.AlexNetConfig(num_classes=10), device="cpu")
    model = impls.create("jax", impls.ModelConfig(model="alexnet", width=0.25))

Networks are framework-free definitions (impls.networks); each framework lowers them.

Implementations are imported lazily, on `create`: a framework that is not installed
makes only its own implementation unavailable (with the command that installs it).
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from impls import networks
from impls.base import AlexNet, DeviceBatch, InputNorm, Model, TrainState
from impls.config import (
    AlexNetConfig,
    ModelConfig,
    SGDConfig,
    forward_flops,
    min_image_size,
    small_config,
    tiny_config,
)
from impls.errors import AlexBenchError, ConfigError, FrameworkUnavailableError
from impls.weights import Weights, check_weights, init_weights, load_weights, parameter_count, save_weights


@dataclass(frozen=True)
class Implementation:
    name: str
    module: str  # imported only when the implementation is used
    cls: str
    requires: tuple[str, ...]  # top-level packages the module imports
    install: str  # how a user gets them


_REGISTRY: dict[str, Implementation] = {}


def register(impl: Implementation) -> None:
    _REGISTRY[impl.name] = impl


register(Implementation("torch", "impls.torch_alexnet", "TorchAlexNet", ("torch",), "pip install 'alexbench[torch]'"))
register(
    Implementation(
        "keras", "impls.keras_alexnet", "KerasAlexNet", ("tensorflow", "keras"), "pip install 'alexbench[keras]'"
    )
)
register(Implementation("jax", "impls.jax_alexnet", "JaxAlexNet", ("jax",), "pip install 'alexbench[jax]'"))


def models() -> list[str]:
    """Every registered network (impls.networks), by its torchvision name."""
    return networks.names()


def names() -> list[str]:
    """Every registered implementation, installed or not."""
    return list(_REGISTRY)


def _lookup(name: str) -> Implementation:
    if name not in _REGISTRY:
        raise ConfigError(f"unknown framework {name!r}; choose one of {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def unavailable_reason(name: str) -> str | None:
    """None if `name` can be created here, else why not (with the install command)."""
    impl = _lookup(name)
    for package in impl.requires:
        if importlib.util.find_spec(package) is None:
            return f"{name} needs the Python package {package!r}, which is not installed: {impl.install}"
    return None


def available() -> list[str]:
    return [name for name in _REGISTRY if unavailable_reason(name) is None]


def implementation_class(name: str) -> type[AlexNet]:
    impl = _lookup(name)
    reason = unavailable_reason(name)
    if reason:
        raise FrameworkUnavailableError(reason)
    try:
        module = importlib.import_module(impl.module)
    except FrameworkUnavailableError:
        raise  # the module's own diagnosis (e.g. Keras on the wrong backend) says it best
    except ImportError as error:
        raise FrameworkUnavailableError(f"{name} failed to import ({error}); reinstall with: {impl.install}") from error
    return getattr(module, impl.cls)


def create(name: str, config: AlexNetConfig | None = None, device: str = "cpu", **kwargs) -> AlexNet:
    """Build implementation `name` for `config` on `device` ('cpu' or 'gpu').

    kwargs: optimizer=SGDConfig(...), seed=int (initial weights and dropout masks).
    """
    return implementation_class(name)(config or AlexNetConfig(), device=device, **kwargs)


__all__ = [
    "AlexBenchError",
    "AlexNet",
    "AlexNetConfig",
    "DeviceBatch",
    "Model",
    "ModelConfig",
    "Implementation",
    "InputNorm",
    "TrainState",
    "SGDConfig",
    "Weights",
    "available",
    "check_weights",
    "create",
    "forward_flops",
    "implementation_class",
    "init_weights",
    "load_weights",
    "min_image_size",
    "models",
    "names",
    "parameter_count",
    "register",
    "save_weights",
    "small_config",
    "tiny_config",
    "unavailable_reason",
]
