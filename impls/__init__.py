"""Network implementations behind one interface, and the registries that find them.

    import impls
    impls.names()                          # ['torch', 'keras', 'jax', 'keras-jax', 'keras-torch']
    impls.models()                         # networks: ['alexnet', 'vgg11']
    model = impls.create("torch", impls.AlexNetConfig(num_classes=10), device="cpu")
    model = impls.create("jax", impls.ModelConfig(model="alexnet", width=0.25))

Networks are framework-free definitions (impls.networks); each framework lowers them.

Implementations are imported lazily, on `create`: a framework that is not installed
makes only its own implementation unavailable (with the command that installs it).

Keras runs on one backend per process (impls.keras_select): keras (TensorFlow), keras-jax
and keras-torch are the same Keras network on three backends, and only the first one a
process creates can be created in it; `shares_process(a, b)` says which can meet.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from impls import keras_select, networks
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
    keras_backend: str | None = None  # Keras's backend, for the Keras implementations (one per process)
    native: str | None = None  # the registered native implementation of that backend (keras-jax: jax)


_REGISTRY: dict[str, Implementation] = {}


def register(impl: Implementation) -> None:
    _REGISTRY[impl.name] = impl


register(Implementation("torch", "impls.torch_alexnet", "TorchAlexNet", ("torch",), "pip install 'alexbench[torch]'"))
register(
    Implementation(
        "keras", "impls.keras_alexnet", "KerasAlexNet", ("tensorflow", "keras"), "pip install 'alexbench[keras]'",
        keras_backend="tensorflow", native=None,
    )
)  # fmt: skip
register(Implementation("jax", "impls.jax_alexnet", "JaxAlexNet", ("jax",), "pip install 'alexbench[jax]'"))
register(
    Implementation(
        "keras-jax", "impls.keras_jax", "KerasJaxAlexNet", ("jax", "keras"), "pip install 'alexbench[keras-jax]'",
        keras_backend="jax", native="jax",
    )
)  # fmt: skip
register(
    Implementation(
        "keras-torch", "impls.keras_torch", "KerasTorchAlexNet", ("torch", "keras"),
        "pip install 'alexbench[keras-torch]'", keras_backend="torch", native="torch",
    )
)  # fmt: skip


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
    """None if `name` can be created here, else why not (with the install command; for a
    Keras implementation, also when this process loaded Keras on another backend)."""
    impl = _lookup(name)
    for package in impl.requires:
        if importlib.util.find_spec(package) is None:
            return f"{name} needs the Python package {package!r}, which is not installed: {impl.install}"
    return keras_select.conflict(name, impl.keras_backend) if impl.keras_backend else None


def keras_backend(name: str) -> str | None:
    """The Keras backend implementation `name` runs on (None: not a Keras implementation)."""
    return _lookup(name).keras_backend


def native_of(name: str) -> str | None:
    """The native implementation of a Keras implementation's backend (keras-jax: jax), or None."""
    return _lookup(name).native


def shares_process(a: str, b: str) -> bool:
    """Whether implementations `a` and `b` can be created in one process (not two Keras backends)."""
    x, y = keras_backend(a), keras_backend(b)
    return x is None or y is None or x == y


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
    "keras_backend",
    "load_weights",
    "min_image_size",
    "models",
    "names",
    "native_of",
    "parameter_count",
    "register",
    "save_weights",
    "shares_process",
    "small_config",
    "tiny_config",
    "unavailable_reason",
]
