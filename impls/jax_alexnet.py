"""The networks in plain JAX (jax.lax / jax.numpy, no Flax): the third of three mirror-like
implementations (torch_alexnet.py, keras_alexnet.py, jax_alexnet.py share one skeleton).

Every operation of impls.networks (impls.networks.ops) is lowered once, by `lower`, into a
function of (the pass, x) (`Pass`: parameters, buffers, train or eval, dropout keys);
`build_network` composes them in the definition's order, a residual block its two branches.
The parameters are a flat dict keyed by the canonical names holding JAX layouts
(impls.layout.NHWCLayout: HWIO convs, the columns of a dense kernel after a flatten in
(H, W, C) order, dense kernels kept (out, in)).

Pitfalls (docs/DESIGN.md has the measurements behind them):
- explicit symmetric padding, never "SAME"; LRN written out with `lax.reduce_window`
  (alpha not divided by n); adaptive pooling as two averaging matrices;
- ReLU is `jax.nn.relu` (derivative 0 at 0, as torch; `jnp.maximum`'s is 0.5);
- float64 needs x64: every call of a model runs inside `jax.enable_x64(...)` for its own
  dtype (a scoped switch), so float32 and float64 models coexist in one process and the
  process-wide flag is never touched;
- on GPUs JAX uses TF32 for float32 by default: the harness sets the matmul precision;
- dropout masks come from `fold_in(key(seed), step)`, a counter of train-mode passes:
  reproducible run after run, but they cannot match torch's masks.

Modes (impls.modes): "jit" is the whole step under jax.jit, parameters and momentum
donated (updated in place); "bf16" casts parameters and images to bfloat16 inside the
step, with the update, momentum and the loss (on float32 logits) in float32.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from impls.base import AlexNet, DeviceBatch
from impls.config import AlexNetConfig, SGDConfig, layers
from impls.errors import ConfigError, DeviceUnavailableError
from impls.layout import NHWCLayout, adaptive_pool_matrix
from impls.networks import ops as defs
from impls.networks.ops import Layer

_DTYPES = {"float32": jnp.float32, "float64": jnp.float64}

Params = dict[str, jax.Array]


# -------------------------------------------------------------------------- network
def _conv(x: jax.Array, params: Params, op: defs.Conv) -> jax.Array:
    y = lax.conv_general_dilated(
        x,
        params[f"{op.name}.weight"],
        window_strides=(op.stride, op.stride),
        padding=[(op.padding, op.padding), (op.padding, op.padding)],
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=op.groups,
    )
    return y + params[f"{op.name}.bias"] if op.bias else y


def _lrn(x: jax.Array, op: defs.LRN) -> jax.Array:
    """The paper's LRN over the channel axis of an NHWC map (alpha not divided by n)."""
    half = op.size // 2
    window_sum = lax.reduce_window(
        x * x,
        np.array(0, dtype=x.dtype),  # a concrete init value: lax picks the differentiable sum
        lax.add,
        window_dimensions=(1, 1, 1, op.size),
        window_strides=(1, 1, 1, 1),
        padding=((0, 0), (0, 0), (0, 0), (half, op.size - 1 - half)),
    )
    return x / (op.k + op.alpha * window_sum) ** op.beta


def _max_pool(x: jax.Array, op: defs.MaxPool) -> jax.Array:
    """torch's MaxPool2d(kernel, stride, padding): padding counts as -inf."""
    pad = (op.padding, op.padding)
    return lax.reduce_window(
        x,
        np.array(-np.inf, dtype=x.dtype),  # concrete: lax picks the differentiable max
        lax.max,
        window_dimensions=(1, op.kernel, op.kernel, 1),
        window_strides=(1, op.stride, op.stride, 1),
        padding=((0, 0), pad, pad, (0, 0)),
    )


def _dense(x: jax.Array, params: Params, op: defs.Dense) -> jax.Array:
    """x (N, in) @ weight (out, in)^T, contracting axis 1 with axis 1."""
    y = lax.dot_general(x, params[f"{op.name}.weight"], (((1,), (1,)), ((), ())))
    return y + params[f"{op.name}.bias"] if op.bias else y


def _dropout(x: jax.Array, rate: float, key: jax.Array) -> jax.Array:
    """Inverted dropout, as torch's: keep with probability 1 - rate, scale by 1/(1 - rate)."""
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), jnp.zeros((), dtype=x.dtype))


@dataclass
class Pass:
    """What one forward pass reads besides the activations: the parameters, the buffers
    (BatchNorm's running statistics), whether it trains (batch statistics; dropout where a
    key is given) and the buffers' new values, which a training pass writes into `updates`."""

    params: Params
    buffers: Params
    train: bool
    keys: dict = field(default_factory=dict)  # layer name -> dropout key
    updates: Params = field(default_factory=dict)
    groups: int = 1  # > 1: BatchNorm's statistics per share of the batch (data parallel's "local-stats" control)


Step = Callable[[Pass, jax.Array], jax.Array]  # (the pass, x) -> x


def _batch_norm(run: Pass, x: jax.Array, op: defs.BatchNorm) -> jax.Array:
    """torch's BatchNorm2d over the channel axis of an NHWC map (impls.networks.ops.BatchNorm):
    biased batch variance to normalize, the unbiased one into the running average."""
    weight, bias = run.params[f"{op.name}.weight"], run.params[f"{op.name}.bias"]
    mean_name, var_name = f"{op.name}.running_mean", f"{op.name}.running_var"
    compute, x = x.dtype, x.astype(run.buffers[mean_name].dtype)  # statistics in the model's dtype (bf16 too)
    if not run.train:
        mean, var = run.buffers[mean_name], run.buffers[var_name]
    elif run.groups > 1:  # each rank's share on its own: the wrong recipe of a data-parallel control
        shares = x.reshape(run.groups, -1, *x.shape[1:])
        mean = jnp.mean(shares, axis=(1, 2, 3), keepdims=True)
        var = jnp.mean(jnp.square(shares - mean), axis=(1, 2, 3), keepdims=True)
        y = (shares - mean) * lax.rsqrt(var + op.eps) * weight + bias
        return y.reshape(x.shape).astype(compute)  # running statistics not updated: the control is caught before
    else:
        mean = jnp.mean(x, axis=(0, 1, 2))
        var = jnp.mean(jnp.square(x - mean), axis=(0, 1, 2))  # two passes, as torch's CPU kernel
        n = x.size // x.shape[-1]
        stats = lax.stop_gradient((mean, var))  # the running average takes no gradient
        run.updates[mean_name] = (1 - op.momentum) * run.buffers[mean_name] + op.momentum * stats[0]
        run.updates[var_name] = (1 - op.momentum) * run.buffers[var_name] + op.momentum * stats[1] * (n / (n - 1))
    return ((x - mean) * lax.rsqrt(var + op.eps) * weight + bias).astype(compute)


def lower(layer: Layer, config: AlexNetConfig, dtype: Any) -> Step:
    """One operation of impls.networks.ops as a function of (the pass, x NHWC)."""
    op = layer.op
    if isinstance(op, defs.Conv):
        return lambda run, x: _conv(x, run.params, op)
    if isinstance(op, defs.ReLU):
        return lambda run, x: jax.nn.relu(x)
    if isinstance(op, defs.LRN):
        return lambda run, x: _lrn(x, op)
    if isinstance(op, defs.MaxPool):
        return lambda run, x: _max_pool(x, op)
    if isinstance(op, defs.AdaptiveAvgPool):
        rows = adaptive_pool_matrix(layer.in_shape[1], op.size).astype(dtype)  # (n, H)
        cols = adaptive_pool_matrix(layer.in_shape[2], op.size).astype(dtype)  # (n, W)
        return lambda run, x: jnp.einsum("oh,nhwc,pw->nopc", rows, x, cols)
    if isinstance(op, defs.Flatten):  # (H, W, C) flatten: the next kernel's columns are permuted to match
        return lambda run, x: x.reshape(x.shape[0], -1)
    if isinstance(op, defs.Dropout):
        rate = config.dropout
        return lambda run, x: x if op.name not in run.keys or rate == 0.0 else _dropout(x, rate, run.keys[op.name])
    if isinstance(op, defs.Dense):
        return lambda run, x: _dense(x, run.params, op)
    if isinstance(op, defs.BatchNorm):
        return lambda run, x: _batch_norm(run, x, op)
    if isinstance(op, defs.Residual):
        body = [lower(child, config, dtype) for child in layer.body]
        shortcut = [lower(child, config, dtype) for child in layer.shortcut]
        return lambda run, x: jax.nn.relu(_chain(body, run, x) + _chain(shortcut, run, x))
    raise ConfigError(f"the jax implementation cannot lower {type(op).__name__} ({op.name})")


def _chain(steps: list[Step], run: Pass, x: jax.Array) -> jax.Array:
    for step in steps:
        x = step(run, x)
    return x


def build_network(config: AlexNetConfig, compute_dtype: Any = None, groups: int = 1) -> Callable[..., tuple]:
    """The network as a function: forward(params, buffers, images NHWC, train, dropout_key)
    -> (logits, buffers after the pass). train: batch statistics in BatchNorm (and new running
    statistics returned), dropout with `dropout_key` (None: none); else eval mode.

    compute_dtype (e.g. jnp.bfloat16): cast parameters and images to it on entry and
    return logits in the config's dtype; None computes in the config's dtype. BatchNorm's
    statistics stay in the config's dtype (float32 under bfloat16, as torch's autocast keeps them).
    """
    plan = layers(config)
    dtype = compute_dtype or _DTYPES[config.dtype]
    steps = [lower(layer, config, dtype) for layer in plan]
    dropouts = [layer.op.name for layer in plan if isinstance(layer.op, defs.Dropout)]

    def forward(params: Params, buffers: Params, x: jax.Array, train: bool, dropout_key) -> tuple[jax.Array, Params]:
        if compute_dtype is not None:
            params = jax.tree_util.tree_map(lambda p: p.astype(compute_dtype), params)
            x = x.astype(compute_dtype)
        drop = train and dropout_key is not None and config.dropout > 0.0 and dropouts
        keys = dict(zip(dropouts, jax.random.split(dropout_key, len(dropouts)))) if drop else {}
        run = Pass(params, buffers, train, keys, groups=groups)
        x = _chain(steps, run, x)
        logits = x if compute_dtype is None else x.astype(_DTYPES[config.dtype])
        new = {name: run.updates.get(name, value) for name, value in buffers.items()}
        return logits, jax.tree_util.tree_map(lambda new, old: new.astype(old.dtype), new, buffers)

    return forward


def input_normalization(config: AlexNetConfig) -> Callable[..., jax.Array]:
    """normalize(images, norm): uint8 images (norm = (scale, shift)) to the model's input,
    u8 * scale + shift with gray expanded to three channels; float images (norm None) as they are."""
    dtype = _DTYPES[config.dtype]

    def normalize(images: jax.Array, norm) -> jax.Array:
        if norm is None:
            return images
        scale, shift = norm
        x = images.astype(dtype) * scale + shift
        if x.shape[-1] != config.in_channels:
            x = jnp.broadcast_to(x, (*x.shape[:-1], config.in_channels))
        return x

    return normalize


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean over the batch of -log softmax(logits)[label] (torch's cross_entropy)."""
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    picked = jnp.take_along_axis(log_probs, labels[:, None], axis=-1)[:, 0]
    return -jnp.mean(picked)


def sgd_update(params: Params, momentum: Params, grads: Params, opt: SGDConfig) -> tuple[Params, Params]:
    """The update rule of impls.config.SGDConfig, written out (functional: new params and momentum)."""
    lr, mu, wd = float(opt.lr), float(opt.momentum), float(opt.weight_decay)
    tree_map = jax.tree_util.tree_map
    grads = tree_map(lambda g, w: g + wd * w, grads, params)  # g = grad + wd * w
    momentum = tree_map(lambda v, g: mu * v + g, momentum, grads)  # v = mu * v + g
    params = tree_map(lambda w, v: w - lr * v, params, momentum)  # w = w - lr * v
    return params, momentum


# ---------------------------------------------------------------------------- model
class JaxAlexNet(AlexNet):
    framework = "jax"
    statistics_sync = "the mean over the global batch sharded on the mesh (XLA inserts the all-reduce)"

    def _build(self) -> None:
        self._device = self._find_device()
        self._dtype = _DTYPES[self.config.dtype]
        self._layout = NHWCLayout(dense_in_out=False)
        self._step = 0  # train-mode passes so far: folds into the dropout key
        self._dropout_seed = int(self.seed) % 2**32
        self._mesh = None  # data-parallel: the mesh the batch is sharded over (distribute)
        self._compile()
        self._params: Params = {}
        self._momentum: Params = {}
        self._buffers: Params = {}  # BatchNorm's running statistics (params.float_buffers)
        self._norm = None  # uint8 input: (scale, shift) on the device, set by set_input_norm

    def _compile(self, loss_scale: float = 1.0, groups: int = 1) -> None:
        """The jitted entry points. loss_scale multiplies the loss (the summed-gradient
        control of data-parallel parity: world x the mean); groups > 1 computes BatchNorm's
        statistics per rank's share (its local-stats control)."""
        forward = build_network(self.config, jnp.bfloat16 if self.mode.reduced_precision else None, groups)
        opt = self.optimizer
        normalize = input_normalization(self.config)

        def loss_fn(params: Params, buffers: Params, images, labels, step, norm) -> tuple[jax.Array, Params]:
            key = jax.random.fold_in(jax.random.key(step[0]), step[1])  # step: (seed, pass)
            logits, buffers = forward(params, buffers, normalize(images, norm), True, key)
            return cross_entropy(logits, labels) * loss_scale, buffers

        def predict(params: Params, buffers: Params, images: jax.Array, norm, train: bool) -> jax.Array:
            return forward(params, buffers, normalize(images, norm), train, None)[0]  # new statistics dropped

        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

        def loss_and_grads(params, buffers, images, labels, step, norm):
            (loss, _), grads = grad_fn(params, buffers, images, labels, step, norm)  # statistics left as they were
            return loss, grads

        def train_step(params: Params, momentum: Params, buffers: Params, images, labels, step, norm):
            (loss, buffers), grads = grad_fn(params, buffers, images, labels, step, norm)
            params, momentum = sgd_update(params, momentum, grads, opt)
            return params, momentum, buffers, loss

        self._predict_fn = jax.jit(predict, static_argnums=4)
        self._loss_and_grads_fn = jax.jit(loss_and_grads)
        self._train_step_fn = jax.jit(train_step, donate_argnums=(0, 1, 2))

    def _scope(self):
        """x64 on for a float64 model and off for a float32 one, for this call only."""
        return jax.enable_x64(self.config.dtype == "float64")

    # ------------------------------------------------------------ placement
    def _put(self, array: np.ndarray) -> jax.Array:
        """Parameters, momentum, normalization: on the device, or replicated over the mesh."""
        if self._mesh is None:
            return jax.device_put(array, self._device)
        return jax.make_array_from_process_local_data(self._replicated, array)

    def _put_batch(self, array: np.ndarray) -> jax.Array:
        """A batch: on the device, or this process's shard of the global batch over the mesh."""
        if self._mesh is None:
            return jax.device_put(array, self._device)
        return jax.make_array_from_process_local_data(self._sharded, array)

    @staticmethod
    def _host(value: jax.Array) -> np.ndarray:
        """To numpy; a replicated array of several processes from this process's copy."""
        return np.asarray(value if value.is_fully_addressable else value.addressable_shards[0].data)

    def _distribute(self, mesh, reduce: str) -> None:
        """The global batch sharded over the mesh's "data" axis, parameters and momentum
        replicated: jit of the whole step then averages the gradient over every rank's
        shard (the loss is the global batch's mean); XLA inserts the all-reduce."""
        from jax.sharding import NamedSharding
        from jax.sharding import PartitionSpec as P

        weights, state = self.get_weights(), self.get_state()
        self._mesh = mesh
        self._replicated, self._sharded = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
        if reduce == "sum" or self._local_statistics:  # sum: each rank's mean gradient summed, world x the mean
            self._compile(loss_scale=float(mesh.devices.size) if reduce == "sum" else 1.0,
                          groups=mesh.devices.size if self._local_statistics else 1)  # fmt: skip
        self.set_weights(weights)
        self.set_state(state)
        if self.input_norm is not None:
            self.set_input_norm(self.input_norm)

    def _find_device(self) -> Any:
        if self.device == "gpu":
            try:
                gpus = jax.local_devices(backend="gpu")  # this process's (a multi-process run sees all)
            except RuntimeError as error:
                raise DeviceUnavailableError(
                    f"JAX finds no GPU ({error}); use --device cpu, or install a CUDA build of jax "
                    "(pip install 'jax[cuda13]') on a machine with an NVIDIA GPU"
                ) from error
            if not gpus:
                raise DeviceUnavailableError("JAX finds no GPU; use --device cpu, or install a CUDA build of jax")
            return gpus[0]
        return jax.local_devices(backend="cpu")[0]

    # --------------------------------------------------------------- weights
    def _load_params(self, native: dict[str, np.ndarray]) -> None:
        self._params = {name: self._put(native[name]) for name in self.params.trainable}
        self._buffers = {name: self._put(native[name]) for name in self.params.float_buffers}

    def _read_params(self) -> dict:
        held = {**self._params, **self._buffers}
        return {name: self._host(held[name]) for name in self.params.trainable + self.params.float_buffers}

    def _zero_momentum(self) -> None:
        self._momentum = {n: self._put(np.zeros(p.shape, dtype=self._dtype)) for n, p in self._params.items()}

    def _read_momentum(self) -> dict:
        return {name: self._host(self._momentum[name]) for name in self.params.trainable}

    def _load_momentum(self, native: dict[str, np.ndarray]) -> None:
        self._momentum = {name: self._put(native[name]) for name in self.params.trainable}

    # ------------------------------------------------------------------ data
    def _to_device(self, images: np.ndarray, labels: np.ndarray | None):
        x = self._put_batch(images)  # already NHWC, in the model's dtype (or uint8)
        y = None if labels is None else self._put_batch(labels.astype(np.int32))
        return x, y

    def synchronize(self) -> None:
        jax.block_until_ready(self._params)

    # --------------------------------------------------------------- compute
    def _next_step(self) -> np.ndarray:
        """(dropout seed, train-mode pass): the dropout key of this pass."""
        step = np.asarray([self._dropout_seed, self._step], dtype=np.uint32)
        self._step += 1
        return step

    def _norm_for(self, batch: DeviceBatch):
        return self._norm if batch.images.dtype == jnp.uint8 else None

    def _predict(self, batch: DeviceBatch, training: bool):
        logits = self._predict_fn(self._params, self._buffers, batch.images, self._norm_for(batch), training)
        if logits.is_fully_addressable:
            return np.asarray(logits)
        shards = sorted(logits.addressable_shards, key=lambda s: s.index[0].start or 0)  # this process's rows
        return np.concatenate([np.asarray(s.data) for s in shards])

    def _loss_and_grads(self, batch: DeviceBatch):
        loss, grads = self._loss_and_grads_fn(
            self._params, self._buffers, batch.images, batch.labels, self._next_step(), self._norm_for(batch)
        )
        return float(self._host(loss)), {name: self._host(grads[name]) for name in self.params.trainable}

    def _train_step(self, batch: DeviceBatch):
        self._params, self._momentum, self._buffers, loss = self._train_step_fn(
            self._params, self._momentum, self._buffers, batch.images, batch.labels, self._next_step(),
            self._norm_for(batch),
        )  # fmt: skip
        return self._host(loss)

    def _set_input_norm(self, scale: np.ndarray, shift: np.ndarray) -> None:
        self._norm = (self._put(scale), self._put(shift))

    def _get_rng_state(self) -> np.ndarray:
        """The dropout seed and the count of train-mode passes: together every dropout key."""
        return np.asarray([self._dropout_seed, self._step], dtype=np.int64)

    def _set_rng_state(self, state: np.ndarray) -> None:
        self._dropout_seed, self._step = int(state[0]), int(state[1])

    @classmethod
    def versions(cls) -> dict[str, str]:
        import jaxlib

        return {"jax": jax.__version__, "jaxlib": jaxlib.__version__}
