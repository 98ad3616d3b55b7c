"""The parameter store: every tensor of a network with its role, shape and layout kind.

One store per model, derived from the config's layers (impls.config.layers), in
torchvision's state_dict order. The base class (impls.base) reads and writes weights,
momentum and gradients through it in canonical form for every framework; a framework
only converts layouts (impls.layout) and moves arrays.

Roles: "trainable" (weights, biases, BatchNorm's scale and shift: they get gradients and
momentum) and "buffer" (BatchNorm's running statistics: in the weights, read and written
with them, never in gradients or momentum; `train_step` updates them, nothing else does).
`dtype` is "float" (the model's precision) or "int64" (num_batches_tracked, torch's counter);
`init` says how impls.weights.init_weights starts the tensor.
"""

from __future__ import annotations

from dataclasses import dataclass

from impls.networks.ops import BatchNorm, Conv, Dense, leaves


@dataclass(frozen=True)
class TensorSpec:
    name: str  # canonical, e.g. "features.0.weight"
    role: str  # "trainable" (see the module docstring)
    shape: tuple[int, ...]  # canonical (PyTorch) shape
    kind: str  # "conv" (OIHW kernel), "dense" ((out, in) kernel), "vector" (biases)
    flattened_from: tuple[int, int, int] | None = None  # a dense kernel fed by a flattened (C, H, W) map
    dtype: str = "float"  # "float" (the model's dtype) or "int64"
    init: str = "glorot"  # "glorot" (kernels), "zeros", "ones" (impls.weights.init_weights)


class ParameterStore:
    """name -> TensorSpec, in state_dict order."""

    def __init__(self, layers) -> None:
        self.specs: dict[str, TensorSpec] = {}
        for layer in leaves(layers):
            for name, shape in layer.params.items():
                kind, init = "vector", "zeros"
                if name.endswith(".weight") and isinstance(layer.op, Conv):
                    kind, init = "conv", "glorot"
                elif name.endswith(".weight") and isinstance(layer.op, Dense):
                    kind, init = "dense", "glorot"
                elif name.endswith(".weight") and isinstance(layer.op, BatchNorm):
                    init = "ones"  # the scale
                flat = layer.flattened_from if kind == "dense" else None
                self.specs[name] = TensorSpec(name, "trainable", tuple(shape), kind, flat, init=init)
            for name, shape in layer.buffers.items():
                integer = name.endswith(".num_batches_tracked")
                init = "ones" if name.endswith(".running_var") else "zeros"
                self.specs[name] = TensorSpec(name, "buffer", tuple(shape), "vector", None,
                                              "int64" if integer else "float", init)  # fmt: skip

    def __iter__(self):
        return iter(self.specs.values())

    def __getitem__(self, name: str) -> TensorSpec:
        return self.specs[name]

    def names(self, role: str | None = None) -> list[str]:
        return [s.name for s in self.specs.values() if role is None or s.role == role]

    @property
    def trainable(self) -> list[str]:
        return self.names("trainable")

    @property
    def buffers(self) -> list[str]:
        return self.names("buffer")

    @property
    def float_buffers(self) -> list[str]:
        """The running statistics (kept by each framework in the model's dtype)."""
        return [s.name for s in self.specs.values() if s.role == "buffer" and s.dtype == "float"]

    @property
    def counters(self) -> list[str]:
        """The integer buffers (num_batches_tracked): counted by the base class, one increment
        per train_step, identically in every framework."""
        return [s.name for s in self.specs.values() if s.dtype == "int64"]
