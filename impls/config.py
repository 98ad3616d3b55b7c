"""The configuration of a network to build, framework-free, and what follows from it.

A config names the network (`model`, a name of impls.networks' registry: "alexnet") and its
`variant` ("torchvision" or "paper" for AlexNet), and fixes the number of classes, the
input size and channels, the dropout rate, the compute precision and a `width` that
scales every channel count and hidden width (tests use small widths; published figures
width 1). Everything else -- layers, shapes, parameter names and counts, FLOPs, the
minimum input size -- is derived from the model's definition (impls.networks), never retyped.

`to_dict` / `from_dict` are the one way a config crosses a process boundary (workers,
data-parallel ranks, records).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from functools import lru_cache

from impls import networks
from impls.errors import ConfigError
from impls.networks.ops import AdaptiveAvgPool, Flatten, Layer, leaves, plan

DTYPES = ("float32", "float64")
VARIANTS = tuple(networks.get("alexnet").variants)  # AlexNet's; other models list their own


@dataclass(frozen=True)
class AlexNetConfig:
    """What network to build. Frozen: a config is a value, safe to share and hash.

    model names the network (impls.networks.names()); variant one of its variants.
    image_size is (height, width); any size at or above `min_image_size(variant, model)`;
    None means the variant's own size (224x224 for torchvision's AlexNet, 227x227 for the paper's).
    dtype is the compute precision of parameters and activations. width scales every
    channel count and hidden width (rounded, at least one channel, groups kept valid).
    """

    variant: str = "torchvision"
    num_classes: int = 1000
    image_size: tuple[int, int] | None = None
    in_channels: int = 3
    dropout: float = 0.5
    dtype: str = "float32"
    model: str = "alexnet"
    width: float = 1.0

    def __post_init__(self) -> None:
        definition = networks.get(self.model)  # ConfigError naming the choices
        if self.variant not in definition.variants:
            raise ConfigError(
                f"unknown {self.model} variant {self.variant!r}; choose one of {', '.join(definition.variants)}"
            )
        if self.dtype not in DTYPES:
            raise ConfigError(f"unknown dtype {self.dtype!r}; choose one of {', '.join(DTYPES)}")
        if self.in_channels not in (1, 3):
            raise ConfigError(f"in_channels must be 1 (grayscale) or 3 (RGB), got {self.in_channels}")
        if not isinstance(self.num_classes, int) or self.num_classes < 2:
            raise ConfigError(f"num_classes must be an integer >= 2, got {self.num_classes!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if isinstance(self.width, bool) or not isinstance(self.width, (int, float)) or not 0 < self.width <= 4:
            raise ConfigError(f"width must be a number in (0, 4] (1 is the published network), got {self.width!r}")
        object.__setattr__(self, "width", float(self.width))
        size = self.image_size
        if size is None:
            size = definition.default_sizes[self.variant]
        if isinstance(size, int):
            size = (size, size)
        size = tuple(int(s) for s in size)
        if len(size) != 2:
            raise ConfigError(f"image_size must be (height, width), got {self.image_size!r}")
        minimum = min_image_size(self.variant, self.model)
        if min(size) < minimum:
            raise ConfigError(
                f"image_size {size[0]}x{size[1]} is too small for the {self.variant} {self.model}: "
                f"height and width must be at least {minimum} (resize or pad the images)"
            )
        object.__setattr__(self, "image_size", size)
        layers(self)  # a width whose channels the groups cannot divide fails here, not in a framework

    @property
    def height(self) -> int:
        return self.image_size[0]

    @property
    def image_width(self) -> int:
        return self.image_size[1]

    def replace(self, **changes) -> AlexNetConfig:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        if ({"variant", "model"} & set(changes)) and "image_size" not in changes and self._default_size():
            values["image_size"] = None  # the new variant's own size
        values.update(changes)
        return AlexNetConfig(**values)

    def _default_size(self) -> bool:
        size = networks.get(self.model).default_sizes[self.variant]
        return self.image_size == (size, size)

    def to_dict(self) -> dict:
        """Plain JSON types: what a worker, a rank or a record receives."""
        out = asdict(self)
        out["image_size"] = list(self.image_size)
        return out

    @classmethod
    def from_dict(cls, values: dict) -> AlexNetConfig:
        """The inverse of to_dict; dicts written before `model` and `width` existed mean AlexNet at width 1."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown config fields {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        values = dict(values)
        if values.get("image_size") is not None:
            values["image_size"] = tuple(values["image_size"])
        return cls(**values)

    @property
    def label(self) -> str:
        """e.g. "alexnet (torchvision) 224x224x3, width 0.25"."""
        text = f"{self.model} ({self.variant}) {self.height}x{self.image_width}x{self.in_channels}"
        return text + (f", width {self.width:g}" if self.width != 1.0 else "")


ModelConfig = AlexNetConfig  # the name for any registered network


@dataclass(frozen=True)
class SGDConfig:
    """One update rule for every framework (torch.optim.SGD's, written out):

        g = grad + weight_decay * w      # coupled L2, as in the paper
        v = momentum * v + g
        w = w - lr * v

    applied to every parameter, biases included (as torch's weight_decay does).
    Paper values: lr 0.01, momentum 0.9, weight decay 5e-4.
    """

    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ConfigError(f"learning rate must be > 0, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}")


@lru_cache(maxsize=256)
def layers(config: AlexNetConfig) -> tuple[Layer, ...]:
    """The layers every framework builds for `config`, with their shapes (impls.networks.ops.plan)."""
    return tuple(plan(networks.network(config), (config.in_channels, config.height, config.image_width)))


def parameter_shapes(config: AlexNetConfig) -> dict[str, tuple[int, ...]]:
    """Canonical name -> shape of every tensor of the weights (parameters and buffers, as a
    state_dict holds them), in torchvision's state_dict order."""
    tensors = ({**layer.params, **layer.buffers} for layer in leaves(layers(config)))
    return {name: shape for each in tensors for name, shape in each.items()}


def trainable_shapes(config: AlexNetConfig) -> dict[str, tuple[int, ...]]:
    """Canonical name -> shape of the parameters only (what gets gradients)."""
    return {name: shape for layer in leaves(layers(config)) for name, shape in layer.params.items()}


def min_image_size(variant: str = "torchvision", model: str = "alexnet") -> int:
    """Smallest height/width the network takes (63 for torchvision's AlexNet, 67 for the paper's)."""
    return networks.min_image_size(model, variant)


def final_feature_size(config: AlexNetConfig) -> tuple[int, int]:
    """(h, w) of the last feature map entering the classifier, before adaptive pooling."""
    shape = (config.in_channels, config.height, config.image_width)
    for layer in plan(networks.network(config), shape):
        if isinstance(layer.op, (Flatten, AdaptiveAvgPool)):
            return tuple(layer.in_shape[1:])
    return tuple(shape[1:])


def forward_flops(config: AlexNetConfig) -> int:
    """FLOPs of one image's forward pass (a multiply-add is 2 FLOPs).

    Counts convolutions and dense layers (the ~99.9%); ReLU, pooling, LRN are left out.
    A training step is about 3x this (forward, grad wrt activations, grad wrt weights).
    """
    return sum(layer.op.flops(layer.in_shape, layer.out_shape) for layer in layers(config))  # a block sums its own


TINY_CONFIG_FIELDS = dict(num_classes=10, image_size=(67, 67), dropout=0.0)
"""A small config for tests: the smallest size both AlexNet variants take, 10 classes."""
SMALL_WIDTH = 0.125
"""The width of tests whose proof does not depend on size (AlexNet: 8-24-48-32-32 convs, 512 hidden)."""


def tiny_config(variant: str = "torchvision", **changes) -> AlexNetConfig:
    """67x67, 10 classes, dropout 0, width 1 (the full channel counts)."""
    values = dict(TINY_CONFIG_FIELDS, variant=variant)
    values.update(changes)
    return AlexNetConfig(**values)


def small_config(variant: str = "torchvision", **changes) -> AlexNetConfig:
    """tiny_config at SMALL_WIDTH: ~60x fewer parameters, for every numeric test that proves
    a function (layouts, padding, the update rule), not a size."""
    return tiny_config(variant, **{"width": SMALL_WIDTH, **changes})


__all__ = [
    "AlexNetConfig",
    "ModelConfig",
    "SGDConfig",
    "VARIANTS",
    "DTYPES",
    "layers",
    "parameter_shapes",
    "min_image_size",
    "final_feature_size",
    "forward_flops",
    "tiny_config",
    "small_config",
]
