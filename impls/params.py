"""The parameter store: every tensor of a network with its role, shape and layout kind.

One store per model, derived from the config's layers (impls.config.layers), in
torchvision's state_dict order. The base class (impls.base) reads and writes weights,
momentum and gradients through it in canonical form for every framework; a framework
only converts layouts (impls.layout) and moves arrays.

Roles: "trainable" (weights, biases: they get gradients and momentum). BatchNorm's running
statistics will be the second role ("buffer": in the weights, never in gradients or
momentum); nothing here is a buffer yet.
"""

from __future__ import annotations

from dataclasses import dataclass

from impls.networks.ops import Conv, Dense


@dataclass(frozen=True)
class TensorSpec:
    name: str  # canonical, e.g. "features.0.weight"
    role: str  # "trainable" (see the module docstring)
    shape: tuple[int, ...]  # canonical (PyTorch) shape
    kind: str  # "conv" (OIHW kernel), "dense" ((out, in) kernel), "vector" (biases)
    flattened_from: tuple[int, int, int] | None = None  # a dense kernel fed by a flattened (C, H, W) map


class ParameterStore:
    """name -> TensorSpec, in state_dict order."""

    def __init__(self, layers) -> None:
        self.specs: dict[str, TensorSpec] = {}
        for layer in layers:
            for name, shape in layer.params.items():
                kind = "vector"
                if name.endswith(".weight") and isinstance(layer.op, Conv):
                    kind = "conv"
                elif name.endswith(".weight") and isinstance(layer.op, Dense):
                    kind = "dense"
                flat = layer.flattened_from if kind == "dense" else None
                self.specs[name] = TensorSpec(name, "trainable", tuple(shape), kind, flat)

    def __iter__(self):
        return iter(self.specs.values())

    def __getitem__(self, name: str) -> TensorSpec:
        return self.specs[name]

    def names(self, role: str | None = None) -> list[str]:
        return [s.name for s in self.specs.values() if role is None or s.role == role]

    @property
    def trainable(self) -> list[str]:
        return self.names("trainable")
