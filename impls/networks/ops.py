"""The operations a network is made of, framework-free, and what follows from their order.

A network is a tuple of named operations (`Network`), each a frozen dataclass whose
`name` is its torchvision module path ("features.0", "classifier.6", "avgpool"): the
canonical weight names are "<name>.weight" / "<name>.bias". Input channels and features
are not written down; they follow from the shape walk (`plan`), so a width change or a
grayscale input cannot leave two numbers disagreeing.

`plan(network, (C, H, W))` walks the shapes once and returns the `Layer`s every
framework lowers (operation + input and output shape), with two rules applied here and
nowhere else: an adaptive pool that is the identity (the map already has its size) is
left out (CUDA's AdaptiveAvgPool2d backward has no deterministic kernel, and an identity
costs time), and a Dense that follows a Flatten of a spatial map records that map's
(C, H, W) shape, from which NHWC frameworks permute its columns (impls.layout).

ResNet adds two operations: `BatchNorm` (torch's BatchNorm2d semantics, written out: its
running statistics are buffers, `Op.buffers`) and `Residual`, a block holding two
sub-networks (the body and the shortcut) whose outputs are added; `plan` walks each
sub-network into the block's `Layer.body` / `Layer.shortcut`, and `leaves` yields every
layer that holds tensors, nested ones included, in torchvision's state_dict order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from impls.errors import ConfigError

Shape = tuple[int, ...]  # (C, H, W) for maps, (F,) after a flatten


@dataclass(frozen=True)
class Op:
    name: str

    def out_shape(self, shape: Shape) -> Shape:
        return shape

    def params(self, shape: Shape) -> dict[str, tuple[int, ...]]:
        """suffix ("weight", "bias") -> canonical (PyTorch) shape, for input `shape`."""
        return {}

    def buffers(self, shape: Shape) -> dict[str, tuple[int, ...]]:
        """suffix -> canonical shape of the tensors that are state, not parameters (BatchNorm's
        running statistics): in the weights, never in gradients or momentum."""
        return {}

    def flops(self, shape: Shape, out: Shape) -> int:
        """Multiply-adds x 2 of one image; element-wise operations count 0 (the ~0.1%)."""
        return 0


def _spatial(op: Op, shape: Shape) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ConfigError(f"{op.name} ({type(op).__name__}) needs a (C, H, W) map, got shape {shape}")
    return shape  # type: ignore[return-value]


def _window(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output size along one axis; < 1 when the window does not fit."""
    if size + 2 * padding < kernel:
        return 0
    return (size + 2 * padding - kernel) // stride + 1


class TooSmall(ConfigError):
    """The input is smaller than the network can take (an axis shrinks below one pixel)."""


@dataclass(frozen=True)
class Conv(Op):
    """2-D convolution, explicit symmetric padding on every side (never TF's "SAME")."""

    out_channels: int
    kernel: int
    stride: int = 1
    padding: int = 0
    groups: int = 1
    bias: bool = True

    def out_shape(self, shape: Shape) -> Shape:
        c, h, w = _spatial(self, shape)
        if c % self.groups or self.out_channels % self.groups:
            raise ConfigError(
                f"{self.name}: {c} input and {self.out_channels} output channels are not divisible by "
                f"groups={self.groups} (choose a width whose channel counts the groups divide)"
            )
        oh, ow = (_window(s, self.kernel, self.stride, self.padding) for s in (h, w))
        if oh < 1 or ow < 1:
            raise TooSmall(f"{self.name}: a {h}x{w} map is too small for a {self.kernel}x{self.kernel} convolution")
        return (self.out_channels, oh, ow)

    def params(self, shape: Shape) -> dict[str, tuple[int, ...]]:
        out = {"weight": (self.out_channels, shape[0] // self.groups, self.kernel, self.kernel)}
        if self.bias:
            out["bias"] = (self.out_channels,)
        return out

    def flops(self, shape: Shape, out: Shape) -> int:
        return 2 * out[1] * out[2] * self.out_channels * (shape[0] // self.groups) * self.kernel**2


@dataclass(frozen=True)
class ReLU(Op):
    pass


@dataclass(frozen=True)
class LRN(Op):
    """Local response normalization across channels, the paper's form:
    b = a / (k + alpha * sum over `size` channels of a^2) ** beta, alpha NOT divided by size."""

    size: int = 5
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 2.0


@dataclass(frozen=True)
class MaxPool(Op):
    """Max pooling (torch MaxPool2d, floor mode); padding counts as -inf."""

    kernel: int
    stride: int
    padding: int = 0

    def out_shape(self, shape: Shape) -> Shape:
        c, h, w = _spatial(self, shape)
        oh, ow = (_window(s, self.kernel, self.stride, self.padding) for s in (h, w))
        if oh < 1 or ow < 1:
            raise TooSmall(f"{self.name}: a {h}x{w} map is too small for a {self.kernel}x{self.kernel} max pool")
        return (c, oh, ow)


@dataclass(frozen=True)
class AdaptiveAvgPool(Op):
    """torch's AdaptiveAvgPool2d((size, size)): bin i covers [floor(i*H/n), ceil((i+1)*H/n))."""

    size: int

    def out_shape(self, shape: Shape) -> Shape:
        return (_spatial(self, shape)[0], self.size, self.size)


@dataclass(frozen=True)
class BatchNorm(Op):
    """torch's BatchNorm2d(C, eps, momentum), every number stated (never a library default):

        train:  y = (x - mean_b) / sqrt(var_b + eps) * weight + bias   over (N, H, W), var_b biased (/n)
                running_mean = (1 - momentum) * running_mean + momentum * mean_b
                running_var  = (1 - momentum) * running_var  + momentum * var_b * n / (n - 1)   (unbiased)
                num_batches_tracked += 1
        eval:   y = (x - running_mean) / sqrt(running_var + eps) * weight + bias

    momentum is the weight of the new batch (torch's; Keras's and Flax's 0.99 is the old one's)."""

    eps: float = 1e-5
    momentum: float = 0.1

    def params(self, shape: Shape) -> dict[str, tuple[int, ...]]:
        c = _spatial(self, shape)[0]
        return {"weight": (c,), "bias": (c,)}

    def buffers(self, shape: Shape) -> dict[str, tuple[int, ...]]:
        c = _spatial(self, shape)[0]
        return {"running_mean": (c,), "running_var": (c,), "num_batches_tracked": ()}


@dataclass(frozen=True)
class Residual(Op):
    """relu(body(x) + shortcut(x)): torchvision's BasicBlock / Bottleneck with its final ReLU.
    An empty shortcut is the identity; the two outputs must have one shape."""

    body: tuple = ()
    shortcut: tuple = ()

    def out_shape(self, shape: Shape) -> Shape:
        return plan_shapes(self, shape)[0]

    def flops(self, shape: Shape, out: Shape) -> int:
        return sum(layer.op.flops(layer.in_shape, layer.out_shape) for layer in plan_shapes(self, shape)[1])


def plan_shapes(block: Residual, shape: Shape) -> tuple[Shape, list]:
    """(output shape, every nested layer) of a residual block on `shape`."""
    body, shortcut = plan(block.body, shape), plan(block.shortcut, shape)
    out = body[-1].out_shape if body else shape
    across = shortcut[-1].out_shape if shortcut else shape
    if out != across:
        raise ConfigError(f"{block.name}: the body gives {out} and the shortcut {across}; they must agree to be added")
    return out, body + shortcut


@dataclass(frozen=True)
class Flatten(Op):
    """(C, H, W) -> (C*H*W,) in (C, H, W) order, torch's `torch.flatten(x, 1)`."""

    def out_shape(self, shape: Shape) -> Shape:
        c, h, w = _spatial(self, shape)
        return (c * h * w,)


@dataclass(frozen=True)
class Dropout(Op):
    """Inverted dropout at the config's rate (identity in eval mode and at rate 0)."""


@dataclass(frozen=True)
class Dense(Op):
    out_features: int
    bias: bool = True

    def out_shape(self, shape: Shape) -> Shape:
        if len(shape) != 1:
            raise ConfigError(f"{self.name} (Dense) needs a flat input, got shape {shape}: flatten first")
        return (self.out_features,)

    def params(self, shape: Shape) -> dict[str, tuple[int, ...]]:
        out = {"weight": (self.out_features, shape[0])}
        if self.bias:
            out["bias"] = (self.out_features,)
        return out

    def flops(self, shape: Shape, out: Shape) -> int:
        return 2 * shape[0] * self.out_features


Network = tuple[Op, ...]


@dataclass(frozen=True)
class Layer:
    """One operation as a framework lowers it: its input and output shapes, its parameters
    (canonical name -> shape) and, for a Dense after a Flatten of a spatial map, that map's
    (C, H, W) (`flattened_from`)."""

    op: Op
    in_shape: Shape
    out_shape: Shape
    params: dict[str, tuple[int, ...]] = field(default_factory=dict)
    flattened_from: tuple[int, int, int] | None = None
    buffers: dict[str, tuple[int, ...]] = field(default_factory=dict)  # canonical name -> shape (BatchNorm)
    body: tuple[Layer, ...] = ()  # a Residual's sub-networks, walked
    shortcut: tuple[Layer, ...] = ()


def leaves(layers) -> list[Layer]:
    """Every layer, a residual block's nested ones in its place (body, then shortcut): the
    order of torchvision's state_dict."""
    out = []
    for layer in layers:
        out.append(layer)
        out += leaves(layer.body) + leaves(layer.shortcut)
    return out


def sequential(prefix: str, ops: list) -> list[Op]:
    """Name operations like torch's nn.Sequential: "<prefix>.<index>" in order.

    Each item of `ops` is a callable taking the name: an Op class without other fields
    (`ReLU`) or e.g. `lambda name: Conv(name, 64, 11, 4, 2)`; see impls.networks.alexnet."""
    return [make(f"{prefix}.{index}") for index, make in enumerate(ops)]


def features_pool_classifier(features: list, pooled: int, classifier: list) -> Network:
    """torchvision's layout of AlexNet and VGG: `features.N`, an adaptive average pool to
    pooled x pooled (`avgpool`), a flatten in (C, H, W) order, `classifier.N`."""
    return (
        *sequential("features", features),
        AdaptiveAvgPool("avgpool", pooled),
        Flatten("flatten"),
        *sequential("classifier", classifier),
    )


def plan(network: Network, in_shape: Shape) -> list[Layer]:
    """Walk the shapes once: the layers a framework builds, in order (see the module docstring)."""
    layers, shape, flat_from = [], tuple(in_shape), None
    for op in network:
        out = op.out_shape(shape)
        if isinstance(op, AdaptiveAvgPool) and out == shape:
            continue  # identity at its own size: left out everywhere
        params = {f"{op.name}.{suffix}": s for suffix, s in op.params(shape).items()}
        buffers = {f"{op.name}.{suffix}": s for suffix, s in op.buffers(shape).items()}
        from_map = flat_from if isinstance(op, Dense) else None
        body = tuple(plan(op.body, shape)) if isinstance(op, Residual) else ()
        shortcut = tuple(plan(op.shortcut, shape)) if isinstance(op, Residual) else ()
        layers.append(Layer(op, shape, out, params, from_map, buffers, body, shortcut))
        if isinstance(op, Flatten):
            flat_from = shape if shape[1] * shape[2] > 1 else None  # a 1x1 map flattens the same in any order
        elif not isinstance(op, (Dropout, ReLU)):
            flat_from = None
        shape = out
    return layers


def scaled(channels: int, width: float, multiple: int = 1) -> int:
    """A channel count or hidden width times `width`, rounded to a multiple of `multiple`
    (the groups that must divide it), never below `multiple` (at least one channel)."""
    return max(multiple, int(round(channels * width / multiple)) * multiple)
