"""AlexNet in plain JAX: the third of three mirror-like implementations.

References: Krizhevsky et al. 2012 ("paper" variant); torchvision.models.AlexNet
("torchvision" variant). Layers are built from impls.config.layer_specs, and the
parameters are a flat dict keyed by the canonical names (`features.N.weight`,
`classifier.N.bias`, ...) holding JAX layouts: HWIO conv kernels, dense weights in the
canonical (out, in) layout, and FC1's columns permuted to the (H, W, C) flatten of an
NHWC map. Every conversion to and from the canonical format goes through impls.layout.
Dense layers contract x's features with the weight's axis 1 (x @ W^T, no transpose
materialized): with (in, out) kernels XLA's CPU matmul ran FC1's forward at 17 GFLOP/s,
with (out, in) about 2.2x faster; whole-model inference, batch 32 at 224x224 on a 2-core
CPU, went from 79-80 to 87-89 images/s (3 interleaved runs each), training unchanged.

Layer order (both variants): [conv -> ReLU -> (LRN) -> (maxpool 3/2)] x 5
-> adaptive avg pool 6x6 -> flatten (H,W,C) -> [dropout -> fc -> ReLU] x 2 -> fc.

Why plain JAX (jax.lax / jax.numpy) and no Flax: the parameters are an explicit dict
keyed by the canonical names, so set/get_weights and gradients are a per-name layout
conversion and nothing else; the update rule (impls.config.SGDConfig) is written out
with jax.tree_util.tree_map, the same three lines as torch's; and there is no module
system between us and XLA, so what is benchmarked is the jitted function below.
The library helpers were left out on purpose too: optax's equivalent of the update
is `chain(add_decayed_weights(wd), sgd(lr, momentum))`, and its cross-entropy returns
per-example values (the mean here is taken explicitly).

Numerics:
- Padding is explicit and symmetric ([(p, p), (p, p)]); never "SAME".
- LRN (paper, after the ReLU of conv1 and conv2): b = a / (k + alpha * S) ** beta with S
  the sum of a^2 over a centred 5-channel window, zero padded, alpha NOT divided by n
  (a `lax.reduce_window` add over the channel axis). Equals torch
  `LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2)`.
- Adaptive average pooling to 6x6 is two averaging matrices (impls.layout), exactly
  torch's bins for any input size; skipped when the map is already 6x6.
- ReLU is `jax.nn.relu`, whose derivative at 0 is 0 as in torch (the derivative of
  `jnp.maximum(x, 0)` at 0 is 0.5).
- float64 needs `jax_enable_x64`. It is enabled when a float64 model is created and
  that switch is PROCESS-GLOBAL (every later JAX computation in the process may use
  64-bit types). Every array here is created with an explicit dtype, so float32
  models compute in float32 with or without it.
- Modes (impls.modes): "jit" is the whole step under jax.jit, parameters and momentum
  donated (updated in place, no second copy of the 61M weights per step); "bf16" is
  the same step with the parameters and images cast to bfloat16 inside the jitted
  function: the update, momentum and the loss (on float32 logits) stay float32, and
  gradients reach the float32 weights through the casts.
- Matmul/conv precision is JAX's default. On CPU that is IEEE fp32; on GPUs since
  Ampere JAX uses TF32 for fp32 by default, so parity runs set
  `jax.config.update("jax_default_matmul_precision", "highest")` (the harness does
  this) and throughput runs record which precision they used.
- Dropout masks come from `jax.random.fold_in(jax.random.key(seed), step)`, step being
  a counter of train-mode passes (loss_and_grads and train_step): the same calls give
  the same masks run after run. They cannot match torch's masks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from impls.base import AlexNet, DeviceBatch
from impls.config import (
    LRN_ALPHA,
    LRN_BETA,
    LRN_K,
    LRN_SIZE,
    POOLED_SIZE,
    AlexNetConfig,
    ConvSpec,
    final_feature_size,
    layer_specs,
)
from impls.errors import DeviceUnavailableError
from impls.layout import (
    adaptive_pool_matrix,
    fc1_chw_to_hwc,
    fc1_hwc_to_chw,
    hwio_to_oihw,
    oihw_to_hwio,
)
from impls.weights import Weights, weight_shapes

_DTYPES = {"float32": jnp.float32, "float64": jnp.float64}
_FC1 = "classifier.1.weight"  # the dense kernel whose input is the flattened feature map

Params = dict[str, jax.Array]


# ------------------------------------------------------------------ layout conversion
def to_jax_layout(weights: Weights, convs: list[ConvSpec]) -> Weights:
    """Canonical (OIHW, (out, in), FC1 in C,H,W order) -> HWIO, (out, in), FC1 in H,W,C."""
    conv_names = {f"{spec.name}.weight" for spec in convs}
    out: Weights = {}
    for name, value in weights.items():
        if name in conv_names:
            out[name] = oihw_to_hwio(value)
        elif name == _FC1:
            out[name] = fc1_chw_to_hwc(value)
        else:  # biases and the other dense weights: the same in both layouts
            out[name] = np.ascontiguousarray(value)
    return out


def to_canonical_layout(arrays: Weights, convs: list[ConvSpec]) -> Weights:
    """The inverse of `to_jax_layout` (for weights and for gradients)."""
    conv_names = {f"{spec.name}.weight" for spec in convs}
    out: Weights = {}
    for name, value in arrays.items():
        if name in conv_names:
            out[name] = hwio_to_oihw(value)
        elif name == _FC1:
            out[name] = fc1_hwc_to_chw(value)
        else:
            out[name] = np.array(value, copy=True)
    return out


# ---------------------------------------------------------------------------- layers
def _conv(x: jax.Array, params: Params, spec: ConvSpec) -> jax.Array:
    y = lax.conv_general_dilated(
        x,
        params[f"{spec.name}.weight"],
        window_strides=(spec.stride, spec.stride),
        padding=[(spec.padding, spec.padding), (spec.padding, spec.padding)],
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=spec.groups,
    )
    return y + params[f"{spec.name}.bias"]


def _lrn(x: jax.Array) -> jax.Array:
    """The paper's LRN over the channel axis of an NHWC map (alpha not divided by n)."""
    half = LRN_SIZE // 2
    window_sum = lax.reduce_window(
        x * x,
        np.array(0, dtype=x.dtype),  # a concrete init value: lax picks the differentiable sum
        lax.add,
        window_dimensions=(1, 1, 1, LRN_SIZE),
        window_strides=(1, 1, 1, 1),
        padding=((0, 0), (0, 0), (0, 0), (half, LRN_SIZE - 1 - half)),
    )
    return x / (LRN_K + LRN_ALPHA * window_sum) ** LRN_BETA


def _max_pool(x: jax.Array) -> jax.Array:
    """3x3, stride 2, no padding (torch MaxPool2d(3, 2))."""
    return lax.reduce_window(
        x,
        np.array(-np.inf, dtype=x.dtype),  # concrete: lax picks the differentiable max
        lax.max,
        window_dimensions=(1, 3, 3, 1),
        window_strides=(1, 2, 2, 1),
        padding="VALID",
    )


def _dense(x: jax.Array, weight: jax.Array) -> jax.Array:
    """x (N, in) @ weight (out, in)^T, contracting axis 1 with axis 1."""
    return lax.dot_general(x, weight, (((1,), (1,)), ((), ())))


def _dropout(x: jax.Array, rate: float, key: jax.Array) -> jax.Array:
    """Inverted dropout, as torch's: keep with probability 1 - rate, scale by 1/(1 - rate)."""
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), jnp.zeros((), dtype=x.dtype))


def make_forward(config: AlexNetConfig, compute_dtype: Any = None) -> Callable[..., jax.Array]:
    """forward(params, images NHWC, dropout_key or None) -> logits; None means eval mode.

    compute_dtype (e.g. jnp.bfloat16): cast parameters and images to it on entry and
    return logits in the config's dtype; None computes in the config's dtype.
    """
    convs, denses = layer_specs(config)
    dtype = compute_dtype or _DTYPES[config.dtype]
    rate = config.dropout
    final_h, final_w = final_feature_size(config)
    if (final_h, final_w) == (POOLED_SIZE, POOLED_SIZE):
        pool_h = pool_w = None  # adaptive pooling is the identity: skip it (as torch does)
    else:
        pool_h = adaptive_pool_matrix(final_h, POOLED_SIZE, dtype=np.float64).astype(dtype)
        pool_w = adaptive_pool_matrix(final_w, POOLED_SIZE, dtype=np.float64).astype(dtype)
    dropout_layers = sum(spec.dropout_before for spec in denses)

    def forward(params: Params, x: jax.Array, dropout_key: jax.Array | None) -> jax.Array:
        if compute_dtype is not None:
            params = jax.tree_util.tree_map(lambda p: p.astype(compute_dtype), params)
            x = x.astype(compute_dtype)
        for spec in convs:
            x = jax.nn.relu(_conv(x, params, spec))
            if spec.lrn:
                x = _lrn(x)
            if spec.pool:
                x = _max_pool(x)
        if pool_h is not None:
            x = jnp.einsum("oh,nhwc,pw->nopc", pool_h, x, pool_w)  # (N, 6, 6, 256)
        x = x.reshape(x.shape[0], -1)  # (H, W, C) flatten: FC1's kernel rows are permuted to match
        train = dropout_key is not None and rate > 0.0
        keys = jax.random.split(dropout_key, dropout_layers) if train else None
        dropped = 0
        for spec in denses:
            if spec.dropout_before and train:
                x = _dropout(x, rate, keys[dropped])
                dropped += 1
            x = _dense(x, params[f"{spec.name}.weight"]) + params[f"{spec.name}.bias"]
            if spec.relu:
                x = jax.nn.relu(x)
        return x if compute_dtype is None else x.astype(_DTYPES[config.dtype])

    return forward


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean over the batch of -log softmax(logits)[label] (torch's cross_entropy)."""
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    picked = jnp.take_along_axis(log_probs, labels[:, None], axis=-1)[:, 0]
    return -jnp.mean(picked)


# ---------------------------------------------------------------------------- model
class JaxAlexNet(AlexNet):
    framework = "jax"

    def _build(self) -> None:
        if self.config.dtype == "float64":
            # Process-global switch (see the module docstring); float32 models are
            # unaffected because every array they make has an explicit dtype.
            jax.config.update("jax_enable_x64", True)
        self._device = self._find_device()
        self._dtype = _DTYPES[self.config.dtype]
        self._convs, _ = layer_specs(self.config)
        self._step = 0  # train-mode passes so far: folds into the dropout key

        forward = make_forward(self.config, jnp.bfloat16 if self.mode.reduced_precision else None)
        seed = int(self.seed)
        opt = self.optimizer
        lr, mu, wd = float(opt.lr), float(opt.momentum), float(opt.weight_decay)

        def loss_fn(params: Params, images: jax.Array, labels: jax.Array, step: jax.Array) -> jax.Array:
            key = jax.random.fold_in(jax.random.key(seed), step)
            return cross_entropy(forward(params, images, key), labels)

        def predict(params: Params, images: jax.Array) -> jax.Array:
            return forward(params, images, None)

        def train_step(params: Params, momentum: Params, images, labels, step):
            loss, grads = jax.value_and_grad(loss_fn)(params, images, labels, step)
            tree_map = jax.tree_util.tree_map
            grads = tree_map(lambda g, w: g + wd * w, grads, params)  # g = grad + wd * w
            momentum = tree_map(lambda v, g: mu * v + g, momentum, grads)  # v = mu * v + g
            params = tree_map(lambda w, v: w - lr * v, params, momentum)  # w = w - lr * v
            return params, momentum, loss

        self._predict_fn = jax.jit(predict)
        self._loss_and_grads_fn = jax.jit(jax.value_and_grad(loss_fn))
        self._train_step_fn = jax.jit(train_step, donate_argnums=(0, 1))
        self._params: Params = {}
        self._momentum: Params = {}

    def _find_device(self) -> Any:
        if self.device == "gpu":
            try:
                gpus = jax.devices("gpu")
            except RuntimeError as error:
                raise DeviceUnavailableError(
                    f"JAX finds no GPU ({error}); use --device cpu, or install a CUDA build of jax "
                    "(pip install 'jax[cuda13]') on a machine with an NVIDIA GPU"
                ) from error
            if not gpus:
                raise DeviceUnavailableError("JAX finds no GPU; use --device cpu, or install a CUDA build of jax")
            return gpus[0]
        return jax.devices("cpu")[0]

    # --------------------------------------------------------------- weights
    def _set_weights(self, weights: Weights) -> None:
        # Canonical (state_dict) order, whatever order the caller's dict has.
        arrays = to_jax_layout({name: weights[name] for name in weight_shapes(self.config)}, self._convs)
        self._params = {k: jax.device_put(v.astype(self._dtype, copy=False), self._device) for k, v in arrays.items()}
        self._momentum = {k: jnp.zeros(v.shape, dtype=self._dtype, device=self._device) for k, v in arrays.items()}

    def _get_weights(self) -> Weights:
        return self._canonical(self._params)

    def _canonical(self, tree: Params) -> Weights:
        # JAX pytrees sort dict keys: rebuild torchvision's state_dict order.
        host = jax.device_get(tree)
        host = {name: np.array(host[name], copy=True) for name in weight_shapes(self.config)}
        return to_canonical_layout(host, self._convs)

    # ------------------------------------------------------------------ data
    def _to_device(self, images: np.ndarray, labels: np.ndarray | None):
        x = jax.device_put(images, self._device)  # already NHWC, in the model's dtype
        y = None if labels is None else jax.device_put(labels.astype(np.int32), self._device)
        return x, y

    def synchronize(self) -> None:
        jax.block_until_ready(self._params)

    # --------------------------------------------------------------- compute
    def _next_step(self) -> np.uint32:
        step = np.uint32(self._step)
        self._step += 1
        return step

    def _predict(self, batch: DeviceBatch):
        return np.asarray(self._predict_fn(self._params, batch.images))

    def _loss_and_grads(self, batch: DeviceBatch):
        loss, grads = self._loss_and_grads_fn(self._params, batch.images, batch.labels, self._next_step())
        return float(loss), self._canonical(grads)

    def _train_step(self, batch: DeviceBatch):
        self._params, self._momentum, loss = self._train_step_fn(
            self._params, self._momentum, batch.images, batch.labels, self._next_step()
        )
        return loss

    @classmethod
    def versions(cls) -> dict[str, str]:
        import jaxlib

        return {"jax": jax.__version__, "jaxlib": jaxlib.__version__}
