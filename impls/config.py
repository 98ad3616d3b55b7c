"""Configuration and architecture of the two AlexNet variants, framework-free.

Every implementation builds its network from `layer_specs(config)`, so the
three frameworks cannot disagree on a kernel size, a stride or a padding.

References:
- Krizhevsky, Sutskever, Hinton, "ImageNet Classification with Deep
  Convolutional Neural Networks", NeurIPS 2012 (the "paper" variant).
- torchvision.models.AlexNet (the "torchvision" variant, after Krizhevsky's
  "One weird trick", 2014): 64-192-384-256-256 convs, no LRN, no groups,
  adaptive average pooling to 6x6.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from impls.errors import ConfigError

VARIANTS = ("torchvision", "paper")
DTYPES = ("float32", "float64")
POOLED_SIZE = 6  # both variants pool the last feature map to 6x6 before the classifier

# The paper's local response normalization: b = a / (k + alpha * sum_{5 channels} a^2) ** beta,
# alpha NOT divided by n (torch divides it, so torch gets alpha * size).
LRN_SIZE, LRN_ALPHA, LRN_BETA, LRN_K = 5, 1e-4, 0.75, 2.0


@dataclass(frozen=True)
class ConvSpec:
    name: str  # canonical prefix, e.g. "features.0"
    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    padding: int  # symmetric, on every side (never TF's "SAME")
    groups: int = 1
    lrn: bool = False  # LRN after this conv's ReLU (paper variant, conv1 and conv2)
    pool: bool = False  # 3x3 stride-2 max pool after the ReLU (and LRN)


@dataclass(frozen=True)
class DenseSpec:
    name: str  # canonical prefix, e.g. "classifier.1"
    in_features: int
    out_features: int
    relu: bool
    dropout_before: bool


@dataclass(frozen=True)
class AlexNetConfig:
    """What network to build. Frozen: a config is a value, safe to share and hash.

    image_size is (height, width); any size at or above `min_image_size(variant)`.
    dtype is the compute precision of parameters and activations.
    """

    variant: Literal["torchvision", "paper"] = "torchvision"
    num_classes: int = 1000
    image_size: tuple[int, int] | None = None  # None: 224x224 (torchvision) or 227x227 (paper)
    in_channels: int = 3
    dropout: float = 0.5
    dtype: Literal["float32", "float64"] = "float32"

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ConfigError(f"unknown AlexNet variant {self.variant!r}; choose one of {', '.join(VARIANTS)}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"unknown dtype {self.dtype!r}; choose one of {', '.join(DTYPES)}")
        if self.in_channels not in (1, 3):
            raise ConfigError(f"in_channels must be 1 (grayscale) or 3 (RGB), got {self.in_channels}")
        if not isinstance(self.num_classes, int) or self.num_classes < 2:
            raise ConfigError(f"num_classes must be an integer >= 2, got {self.num_classes!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        size = self.image_size
        if size is None:
            size = (227, 227) if self.variant == "paper" else (224, 224)
        elif isinstance(size, int):
            size = (size, size)
        size = tuple(int(s) for s in size)
        if len(size) != 2:
            raise ConfigError(f"image_size must be (height, width), got {self.image_size!r}")
        minimum = min_image_size(self.variant)
        if min(size) < minimum:
            raise ConfigError(
                f"image_size {size[0]}x{size[1]} is too small for the {self.variant} AlexNet: "
                f"height and width must be at least {minimum} (resize or pad the images)"
            )
        object.__setattr__(self, "image_size", size)

    @property
    def height(self) -> int:
        return self.image_size[0]

    @property
    def width(self) -> int:
        return self.image_size[1]

    def replace(self, **changes) -> AlexNetConfig:
        fields = {k: getattr(self, k) for k in self.__dataclass_fields__}
        if "variant" in changes and "image_size" not in changes and self._default_size():
            fields["image_size"] = None
        fields.update(changes)
        return AlexNetConfig(**fields)

    def _default_size(self) -> bool:
        return self.image_size == ((227, 227) if self.variant == "paper" else (224, 224))


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


_CONV_TABLE = {
    # (out_channels, kernel, stride, padding, groups, lrn, pool) per conv, in order
    "torchvision": [
        (64, 11, 4, 2, 1, False, True),
        (192, 5, 1, 2, 1, False, True),
        (384, 3, 1, 1, 1, False, False),
        (256, 3, 1, 1, 1, False, False),
        (256, 3, 1, 1, 1, False, True),
    ],
    "paper": [
        (96, 11, 4, 0, 1, True, True),
        (256, 5, 1, 2, 2, True, True),
        (384, 3, 1, 1, 1, False, False),
        (384, 3, 1, 1, 2, False, False),
        (256, 3, 1, 1, 2, False, True),
    ],
}


def conv_specs(variant: str, in_channels: int = 3) -> list[ConvSpec]:
    """The five convolutions with their canonical names.

    Names follow the index of the layer in torchvision's `features` Sequential
    (conv, ReLU, [LRN], [MaxPool] each take one index), so the torchvision variant's
    names are exactly torchvision's: features.0, .3, .6, .8, .10. The paper variant,
    which has LRN layers, is named by the same rule: features.0, .4, .8, .10, .12.
    """
    if variant not in _CONV_TABLE:
        raise ConfigError(f"unknown AlexNet variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    specs, index, channels = [], 0, in_channels
    for out, kernel, stride, padding, groups, lrn, pool in _CONV_TABLE[variant]:
        specs.append(ConvSpec(f"features.{index}", channels, out, kernel, stride, padding, groups, lrn, pool))
        index += 2 + int(lrn) + int(pool)  # conv, relu, [lrn], [pool]
        channels = out
    return specs


def dense_specs(num_classes: int) -> list[DenseSpec]:
    """torchvision's classifier: Dropout, Linear(9216, 4096), ReLU, Dropout, Linear, ReLU, Linear."""
    flat = 256 * POOLED_SIZE * POOLED_SIZE
    return [
        DenseSpec("classifier.1", flat, 4096, relu=True, dropout_before=True),
        DenseSpec("classifier.4", 4096, 4096, relu=True, dropout_before=True),
        DenseSpec("classifier.6", 4096, num_classes, relu=False, dropout_before=False),
    ]


def layer_specs(config: AlexNetConfig) -> tuple[list[ConvSpec], list[DenseSpec]]:
    return conv_specs(config.variant, config.in_channels), dense_specs(config.num_classes)


def _out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def feature_map_sizes(variant: str, size: int) -> list[int]:
    """Spatial size after each conv (and its pool) along one axis; < 1 means impossible."""
    sizes = []
    for spec in conv_specs(variant):
        size = _out(size, spec.kernel, spec.stride, spec.padding)
        if spec.pool:
            size = _out(size, 3, 2, 0) if size >= 3 else 0
        sizes.append(size)
        if size < 1:
            break
    return sizes


def min_image_size(variant: str) -> int:
    """Smallest height/width the variant can take (every 3x3 max pool needs >= 3 pixels)."""
    size = 1
    while True:
        sizes = feature_map_sizes(variant, size)
        if len(sizes) == 5 and sizes[-1] >= 1:
            return size
        size += 1


def final_feature_size(config: AlexNetConfig) -> tuple[int, int]:
    """(h, w) of the last feature map, before adaptive pooling to 6x6."""
    return feature_map_sizes(config.variant, config.height)[-1], feature_map_sizes(config.variant, config.width)[-1]


def forward_flops(config: AlexNetConfig) -> int:
    """FLOPs of one image's forward pass (a multiply-add is 2 FLOPs).

    Counts convolutions and dense layers (the ~99.9%); ReLU, pooling, LRN are left out.
    A training step is about 3x this (forward, grad wrt activations, grad wrt weights).
    """
    convs, denses = layer_specs(config)
    h, w, flops = config.height, config.width, 0
    for spec in convs:
        h, w = _out(h, spec.kernel, spec.stride, spec.padding), _out(w, spec.kernel, spec.stride, spec.padding)
        flops += 2 * h * w * spec.out_channels * (spec.in_channels // spec.groups) * spec.kernel**2
        if spec.pool:
            h, w = _out(h, 3, 2, 0), _out(w, 3, 2, 0)
    for spec in denses:
        flops += 2 * spec.in_features * spec.out_features
    return flops


TINY_CONFIG_FIELDS = dict(num_classes=10, image_size=(67, 67), dropout=0.0)
"""A small config for tests: the smallest size both variants take, 10 classes."""


def tiny_config(variant: str = "torchvision", **changes) -> AlexNetConfig:
    fields = dict(TINY_CONFIG_FIELDS, variant=variant)
    fields.update(changes)
    return AlexNetConfig(**fields)


__all__ = [
    "AlexNetConfig",
    "SGDConfig",
    "ConvSpec",
    "DenseSpec",
    "VARIANTS",
    "DTYPES",
    "layer_specs",
    "conv_specs",
    "dense_specs",
    "min_image_size",
    "final_feature_size",
    "forward_flops",
    "tiny_config",
]
