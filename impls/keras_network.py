"""The networks in Keras 3, backend-neutral: one lowering for Keras on every backend.

keras_alexnet.py (TensorFlow), keras_jax.py (JAX) and keras_torch.py (PyTorch) build the
same functional model from here and differ only in their training step, each written the
way Keras documents a custom loop on its backend. Import this module only after
impls.keras_select.use(...) chose the backend (each of those modules does so first).

Every operation of impls.networks (impls.networks.ops) is lowered once, by `lower`, into Keras
layers named after its torchvision name (keras_name: "features.0" is layer "features_0");
`build_network` chains them in the definition's order into a functional model. Keras is
NHWC: weights and gradients are converted to and from the canonical format at the boundary
(impls.layout.NHWCLayout: HWIO convs, (in, out) dense kernels, the columns of a dense kernel
after a flatten in (H, W, C) order), never inside.

Pitfalls (docs/DESIGN.md has the measurements behind them):
- symmetric padding: "same" only where it is symmetric (stride 1, odd kernel), else an
  explicit ZeroPadding2D and a "valid" conv (TF's "SAME" at stride > 1 pads bottom/right);
- LRN written out (TF's kernel has no float64, Keras 3 has no LRN layer);
- adaptive average pooling as two averaging matrices (left out where it is the identity);
- the update rule written out by each backend: Keras's SGD `weight_decay` is decoupled and
  is not the paper's rule.
"""

from __future__ import annotations

import contextlib

import keras
import numpy as np
from keras import layers, ops

from impls.base import AlexNet
from impls.config import AlexNetConfig
from impls.config import layers as layers_of
from impls.errors import ConfigError
from impls.layout import NHWCLayout, adaptive_pool_matrix
from impls.networks import ops as defs
from impls.networks.ops import Layer


class LocalResponseNorm(layers.Layer):
    """The paper's LRN across channels (NHWC): b = a / (k + alpha * sum_window a^2) ** beta.

    The window is `size` channels centred on each channel, zero padded at the ends;
    alpha is NOT divided by size (torch's LocalResponseNorm(size, alpha * size, beta, k)).
    """

    def __init__(self, size: int, alpha: float, beta: float, k: float, **kwargs):
        super().__init__(**kwargs)
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def call(self, x):
        channels = x.shape[-1]
        half = self.size // 2
        squared = ops.pad(ops.square(x), [[0, 0], [0, 0], [0, 0], [half, self.size - 1 - half]])
        window = squared[..., 0:channels]
        for offset in range(1, self.size):
            window = window + squared[..., offset : offset + channels]
        return x / ops.power(self.k + self.alpha * window, self.beta)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "alpha": self.alpha, "beta": self.beta, "k": self.k}


class AdaptiveAvgPool(layers.Layer):
    """torch's AdaptiveAvgPool2d for a static (in_h, in_w) NHWC map: P_h @ x @ P_w^T."""

    def __init__(self, in_size: tuple[int, int], out_size: int, **kwargs):
        super().__init__(**kwargs)
        self.in_size, self.out_size = tuple(in_size), out_size
        self._rows = adaptive_pool_matrix(self.in_size[0], out_size)  # (n, H) float64
        self._cols = adaptive_pool_matrix(self.in_size[1], out_size)  # (n, W)

    def call(self, x):
        rows = ops.convert_to_tensor(self._rows, dtype=x.dtype)
        cols = ops.convert_to_tensor(self._cols, dtype=x.dtype)
        x = ops.einsum("oh,nhwc->nowc", rows, x)
        return ops.einsum("pw,nowc->nopc", cols, x)

    def get_config(self):
        return {**super().get_config(), "in_size": self.in_size, "out_size": self.out_size}


class BatchNorm(layers.Layer):
    """torch's BatchNorm2d over the channel axis of an NHWC map, written out
    (impls.networks.ops.BatchNorm): biased batch variance to normalize, the unbiased one into
    the running average, momentum the new batch's weight. Never Keras's BatchNormalization,
    whose defaults are another function (eps 1e-3, momentum 0.99 of the old average, the
    biased variance averaged). Its variables are named as Keras's (gamma, beta, moving_mean,
    moving_variance); it computes in its variables' dtype (float32 under mixed_bfloat16, as
    torch's autocast keeps BatchNorm). `moments` may be replaced (data parallel: reduced over
    replicas, keras_alexnet)."""

    unbiased_running_var = True  # torch's rule; parity's negative control turns it off

    def __init__(self, eps: float, momentum: float, **kwargs):
        super().__init__(**kwargs)
        self.eps, self.momentum = eps, momentum
        self.moments = local_moments

    def build(self, input_shape):
        channels = (input_shape[-1],)
        self.gamma = self.add_weight(shape=channels, initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=channels, initializer="zeros", name="beta")
        # aggregation "mean": data-parallel replicas assign the same (reduced) statistics in replica context
        self.moving_mean = self.add_weight(shape=channels, initializer="zeros", name="moving_mean", trainable=False,
                                           aggregation="mean")  # fmt: skip
        self.moving_variance = self.add_weight(shape=channels, initializer="ones", name="moving_variance",
                                               trainable=False, aggregation="mean")  # fmt: skip

    def call(self, x, training=False):
        # Constants as tensors of the variables' dtype: a Python float becomes a float32 tensor
        # first on some backends (Keras on torch: eps 1e-5 in float32 moved float64 logits 9e-13).
        const = lambda value: ops.convert_to_tensor(value, dtype=self.moving_mean.dtype)  # noqa: E731
        if not training:
            mean, var = self.moving_mean, self.moving_variance
        else:
            mean, var, count = self.moments(x)
            stats_mean, stats_var = ops.stop_gradient(mean), ops.stop_gradient(var)
            if self.unbiased_running_var:
                stats_var = stats_var * (count / (count - const(1.0)))
            keep, new = const(1.0 - self.momentum), const(self.momentum)
            self.moving_mean.assign(self.moving_mean * keep + stats_mean * new)
            self.moving_variance.assign(self.moving_variance * keep + stats_var * new)
        return (x - mean) * ops.rsqrt(var + const(self.eps)) * self.gamma + self.beta

    def get_config(self):
        return {**super().get_config(), "eps": self.eps, "momentum": self.momentum}


def local_moments(x):
    """(mean, biased variance, count) over (N, H, W) of this batch (two passes, as torch)."""
    mean = ops.mean(x, axis=(0, 1, 2))
    var = ops.mean(ops.square(x - mean), axis=(0, 1, 2))
    count = ops.cast(ops.shape(x)[0], x.dtype) * (x.shape[1] * x.shape[2])
    return mean, var, count


class PaddedMaxPool(layers.Layer):
    """torch's MaxPool2d(kernel, stride, padding): the border padded with -inf (never zeros,
    which equal it only after a ReLU), then a valid max pool."""

    def __init__(self, kernel: int, stride: int, padding: int, **kwargs):
        super().__init__(**kwargs)
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def call(self, x):
        p = self.padding
        x = ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], constant_values=float("-inf"))
        return ops.max_pool(x, self.kernel, self.stride, padding="valid")

    def get_config(self):
        return {**super().get_config(), "kernel": self.kernel, "stride": self.stride, "padding": self.padding}


def keras_name(name: str) -> str:
    """The Keras layer name of a torchvision module name: "features.0" -> "features_0". Keras on
    PyTorch keeps each layer's variables in a torch ParameterDict keyed by their path, where
    torch forbids ".", so every backend uses this one rule."""
    return name.replace(".", "_")


def same_padding(op: defs.Conv) -> bool:
    """Whether TF's "same" is the conv's symmetric padding: only at stride 1 with an odd kernel
    and padding (k-1)/2 (at stride 2 "same" pads (2, 3) where torch pads (3, 3); a
    module-level function, so that parity's negative control can get it wrong)."""
    return op.stride == 1 and op.kernel % 2 == 1 and op.padding == (op.kernel - 1) // 2


def lower(layer: Layer, config: AlexNetConfig, dtype: str, seeds) -> list[layers.Layer]:
    """One operation of impls.networks.ops as Keras layers (NHWC), named with its torchvision
    name (keras_name); `seeds` yields one seed per Dropout."""
    op, name = layer.op, keras_name(layer.op.name)
    if isinstance(op, defs.Conv):
        # Stride 1, odd kernel, padding (k-1)/2: TF's "same" pads exactly that on every side, in
        # the conv itself; anything else gets an explicit symmetric ZeroPadding2D (TF's "same"
        # at stride > 1 pads bottom/right only). An explicit pad before every conv cost ~5%
        # of a training step through XLA (a copy of each map, and its slice in the backward).
        same = same_padding(op)
        pad = [layers.ZeroPadding2D(op.padding, name=f"{name}_pad", dtype=dtype)] if op.padding and not same else []
        # kernel_initializer "zeros": overwritten by set_weights, so skip the random init
        conv = layers.Conv2D(op.out_channels, op.kernel, strides=op.stride, padding="same" if same else "valid",
                             groups=op.groups, use_bias=op.bias, name=name, dtype=dtype,
                             kernel_initializer="zeros")  # fmt: skip
        return [*pad, conv]
    if isinstance(op, defs.ReLU):
        return [layers.ReLU(name=name, dtype=dtype)]
    if isinstance(op, defs.LRN):
        return [LocalResponseNorm(op.size, op.alpha, op.beta, op.k, name=name, dtype=dtype)]
    if isinstance(op, defs.MaxPool):
        if op.padding:
            return [PaddedMaxPool(op.kernel, op.stride, op.padding, name=name, dtype=dtype)]
        return [layers.MaxPooling2D(pool_size=op.kernel, strides=op.stride, padding="valid", name=name, dtype=dtype)]
    if isinstance(op, defs.AdaptiveAvgPool):
        return [AdaptiveAvgPool(layer.in_shape[1:], op.size, name=name, dtype=dtype)]
    if isinstance(op, defs.Flatten):
        return [layers.Flatten(name=name, dtype=dtype)]  # (H, W, C) order: the next kernel's columns are permuted
    if isinstance(op, defs.Dropout):
        return [layers.Dropout(config.dropout, seed=next(seeds), name=name, dtype=dtype)]
    if isinstance(op, defs.Dense):
        return [layers.Dense(op.out_features, use_bias=op.bias, kernel_initializer="zeros", name=name, dtype=dtype)]
    if isinstance(op, defs.BatchNorm):  # in the variables' dtype (float32 under mixed_bfloat16)
        return [batch_norm_layer(op, name, keras.DTypePolicy(dtype).variable_dtype)]
    if isinstance(op, defs.Residual):
        body = [k for child in layer.body for k in lower(child, config, dtype, seeds)]
        shortcut = [k for child in layer.shortcut for k in lower(child, config, dtype, seeds)]
        add, relu = layers.Add(name=f"{name}_add", dtype=dtype), layers.ReLU(name=f"{name}_out", dtype=dtype)
        return [lambda x: relu(add([_chain(body, x), _chain(shortcut, x)]))]
    raise ConfigError(f"the Keras implementations cannot lower {type(op).__name__} ({name})")


def batch_norm_layer(op: defs.BatchNorm, name: str, dtype: str) -> layers.Layer:
    """The Keras layer of a BatchNorm (a module-level function: parity's negative control puts
    Keras's own BatchNormalization, with its defaults, in its place)."""
    return BatchNorm(op.eps, op.momentum, name=name, dtype=dtype)


def _chain(keras_layers: list, x):
    for keras_layer in keras_layers:
        x = keras_layer(x)
    return x


def build_network(config: AlexNetConfig, dtype: str, seed: int) -> keras.Model:
    """The functional Keras model, NHWC in, logits out, layers named as torchvision's modules.

    `dtype` is the Keras dtype policy of every layer ("float32", "float64", or the mixed
    "mixed_bfloat16": float32 variables, bfloat16 compute and bfloat16 logits).
    """
    plan = layers_of(config)
    dropouts = sum(isinstance(layer.op, defs.Dropout) for layer in plan)
    # int32 seeds: Keras on torch makes each seed an int32 tensor (a uint32 seed overflows it)
    seeds = iter(int(s) % 2**31 for s in np.random.SeedSequence(seed).generate_state(max(dropouts, 1)))
    input_dtype = keras.DTypePolicy(dtype).variable_dtype  # images arrive in the variables' dtype
    inputs = keras.Input(shape=(config.height, config.image_width, config.in_channels), dtype=input_dtype,
                         name="images")  # fmt: skip
    x = _chain([k for layer in plan for k in lower(layer, config, dtype, seeds)], inputs)
    return keras.Model(inputs, x, name=f"{config.model}_{config.variant}")


def mean_cross_entropy(labels, logits):
    """Mean over the batch of -log softmax(logits)[label] (torch's cross_entropy), in the
    logits' dtype: a sum divided by the batch size, as keras.ops.mean (and so Keras's loss
    functions) averages in Keras's promoted dtype (see float64_promotion)."""
    log_probs = ops.log_softmax(logits, axis=-1)
    picked = ops.take_along_axis(log_probs, ops.expand_dims(ops.cast(labels, "int32"), -1), axis=-1)
    return -ops.sum(picked) / picked.shape[0]


def normalize(images, scale, shift, dtype: str, channels: int):
    """uint8 NHWC -> the model's input: u8 * scale + shift, gray expanded to `channels`."""
    x = ops.cast(images, dtype) * scale + shift
    return ops.tile(x, (1, 1, 1, channels)) if x.shape[-1] != channels else x


@contextlib.contextmanager
def float64_promotion(enabled: bool = True):
    """Keras's type promotion with float64 kept float64, for this block only.

    Keras 3 (keras.src.backend.common.dtypes.result_type) promotes float64 to float32 on
    every backend but TensorFlow, "to be aligned with JAX's default" (x64 off), and several
    ops compute in the promoted dtype: on PyTorch, `ops.matmul` (every Dense layer) and
    `ops.power` (the LRN) of float64 tensors run in float32 (measured: float64 logits 6.6e-7
    from the golden); on JAX, `ops.mean` returns a float32 mean. A float64 model on those
    backends runs inside this switch, as native JAX runs inside jax.enable_x64; float32
    models never touch it."""
    if not enabled:
        yield
        return
    from keras.src.backend.common import dtypes

    table = dtypes.BIT64_TO_BIT32_DTYPE
    before = table.get("float64")
    table["float64"] = "float64"
    try:
        yield
    finally:
        table["float64"] = before


# ---------------------------------------------------------------------------- model
class KerasModel(AlexNet):
    """What the Keras implementations share: the network under a dtype policy, its variables
    in canonical (state_dict) order, and weights and dropout state read and written through
    Keras variables. A backend that threads its state outside the variables (JAX) syncs it
    in `_push` / `_pull`."""

    def _build_network(self, policy: str) -> None:
        """self.net under `policy` ("float32", "float64" or "mixed_bfloat16"), its variables in
        canonical order (self._params: "features.0.weight" is layer features.0's kernel)."""
        self._layout = NHWCLayout(dense_in_out=True)
        self.net = build_network(self.config, policy, self.seed)
        self._names = self.params.trainable
        self._params = [self._variable(name) for name in self._names]
        self._buffer_names = self.params.float_buffers  # BatchNorm's running statistics
        self._buffers = [self._variable(name) for name in self._buffer_names]

    _BATCH_NORM = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}

    def _variable(self, name: str) -> keras.Variable:
        layer_name, kind = name.rsplit(".", 1)
        layer = self.net.get_layer(keras_name(layer_name))
        if hasattr(layer, "moving_mean"):  # ours (or Keras's own BatchNormalization, in a parity control)
            return getattr(layer, self._BATCH_NORM[kind])
        return getattr(layer, "kernel" if kind == "weight" else "bias")

    def _held_variables(self) -> list[tuple[str, keras.Variable]]:
        """(canonical name, variable) of every parameter and float buffer."""
        return list(zip(self._names + self._buffer_names, self._params + self._buffers, strict=True))

    def _push(self) -> None:
        """Write state held outside the Keras variables into them (nothing by default)."""

    def _pull(self) -> None:
        """Read the Keras variables into state held outside them (nothing by default)."""

    def _load_params(self, native: dict[str, np.ndarray]) -> None:
        self._push()
        for name, variable in self._held_variables():
            variable.assign(native[name])
        self._pull()

    def _read_params(self) -> dict:
        self._push()
        return {name: ops.convert_to_numpy(v) for name, v in self._held_variables()}

    def _dropout_generators(self) -> list:
        dropouts = [layer for layer in self.net.layers if isinstance(layer, layers.Dropout)]
        return [d.seed_generator for d in dropouts if getattr(d, "seed_generator", None) is not None]  # rate 0: none

    def _get_rng_state(self) -> np.ndarray:
        """The state of each Dropout layer's seed generator (its masks come from it)."""
        self._push()
        states = [np.asarray(ops.convert_to_numpy(g.state)).ravel() for g in self._dropout_generators()]
        return np.concatenate(states) if states else np.zeros(0, np.int64)

    def _set_rng_state(self, state: np.ndarray) -> None:
        self._push()
        offset = 0
        for generator in self._dropout_generators():
            current = ops.convert_to_numpy(generator.state)
            size = current.size
            values = np.asarray(state[offset : offset + size]).astype(current.dtype).reshape(current.shape)
            generator.state.assign(values)
            offset += size
        self._pull()

    def _policy(self) -> str:
        return "mixed_bfloat16" if self.mode.reduced_precision else self.config.dtype

    @classmethod
    def versions(cls) -> dict[str, str]:
        return {"keras": keras.__version__}
