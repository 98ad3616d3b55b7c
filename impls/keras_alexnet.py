"""The networks in Keras 3 on the TensorFlow backend: the second of three mirror-like
implementations (torch_alexnet.py, keras_alexnet.py, jax_alexnet.py share one skeleton).

The network is impls.keras_network's lowering, shared with Keras on JAX (keras_jax.py) and
on PyTorch (keras_torch.py); this file holds what is TensorFlow's: the training step, in
the custom loop Keras documents for TensorFlow (tf.function around a tf.GradientTape):

- the update rule written out with momentum variables: Keras's SGD `weight_decay` is
  decoupled and is not the paper's rule;
- every entry point is one tf.function, traced once (batch dimension open): eager
  grouped convolutions recompile on every call, so Keras is timed through these only.

Modes (impls.modes): "xla" compiles each tf.function with XLA (`jit_compile=True`);
"graph" runs TensorFlow's own kernels, torchvision variant only on CPU (grouped convs run
there only through XLA); "bf16" is XLA under the "mixed_bfloat16" policy: float32
variables, bfloat16 compute, the loss on float32 logits.
"""

from __future__ import annotations

import contextlib

from impls import keras_select

keras_select.use("keras", "tensorflow")  # before Keras is imported: Keras picks its backend once

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from impls.base import DeviceBatch  # noqa: E402
from impls.config import layers as layers_of  # noqa: E402
from impls.errors import ConfigError, DeviceUnavailableError  # noqa: E402
from impls.keras_network import BatchNorm, KerasModel  # noqa: E402


# ---------------------------------------------------------------------------- model
def synced_moments(x):
    """(mean, biased variance, count) over (N, H, W) of every replica's batch: sums all-reduced
    in the replica context (whose gradient is all-reduced too), two passes as one process
    computes them; what Keras's own BatchNormalization(synchronized=True) does on TensorFlow."""
    context = tf.distribute.get_replica_context()
    total = tf.distribute.ReduceOp.SUM
    count = tf.cast(tf.shape(x)[0] * x.shape[1] * x.shape[2], x.dtype)
    summed, count = context.all_reduce(total, [tf.reduce_sum(x, axis=(0, 1, 2)), count])
    mean = summed / count
    var = context.all_reduce(total, tf.reduce_sum(tf.square(x - mean), axis=(0, 1, 2))) / count
    return mean, var, count


class KerasAlexNet(KerasModel):
    framework = "keras"
    statistics_sync = "the replica context's all_reduce of the batch statistics (tf.distribute)"

    def _build(self) -> None:
        self._tf_device = self._find_device()
        config = self.config
        self._dtype = tf.as_dtype(config.dtype)
        self._xla = self.mode.name != "graph"
        grouped = any(getattr(layer.op, "groups", 1) > 1 for layer in layers_of(config))
        if not self._xla and grouped and self.device == "cpu":
            raise ConfigError(
                "keras mode 'graph' cannot run the paper variant on CPU: TensorFlow runs grouped convolutions "
                "there only through XLA; use mode 'xla' (the default)"
            )
        policy = "mixed_bfloat16" if self.mode.reduced_precision else config.dtype
        self._strategy = getattr(self, "_strategy", None)  # data parallel: a tf.distribute strategy (distribute)
        # under a strategy, the strategy places the variables; else the device does
        with tf.device(self._tf_device) if self._strategy is None else contextlib.nullcontext():
            self._build_network(policy)  # self.net, and its variables in canonical order (self._params)
            if self._strategy is not None and not self._local_statistics:
                for layer in self.net.layers:
                    if isinstance(layer, BatchNorm):
                        layer.moments = synced_moments
            self._momentum = [tf.Variable(tf.zeros(p.shape, p.dtype), trainable=False) for p in self._params]
        self._functions: dict[str, dict] = {}
        self._scale = self._shift = None  # uint8 input: tf.Variables (C,), set by set_input_norm
        self._compile_functions()

    def _find_device(self) -> str:
        if self.device != "gpu":
            return "/CPU:0"
        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            raise DeviceUnavailableError(
                "TensorFlow finds no GPU (tf.config.list_physical_devices('GPU') is empty); use --device cpu, "
                "or install tensorflow[and-cuda] on a machine with an NVIDIA GPU"
            )
        for gpu in gpus:  # grow on demand instead of reserving the whole card; a GPU that an
            with contextlib.suppress(RuntimeError):  # earlier model initialized keeps its setting
                tf.config.experimental.set_memory_growth(gpu, True)
        return "/GPU:0"

    def _compile_functions(self, kind: str = "float") -> dict:
        """One tf.function per entry point for `kind` of input, traced once (batch dimension
        left open): "float" (normalized images) or "uint8" (normalized first, in the step)."""
        if kind in self._functions:
            return self._functions[kind]
        config, device = self.config, self._tf_device
        channels = self.input_norm.channels if kind == "uint8" else config.in_channels
        dtype = tf.uint8 if kind == "uint8" else self._dtype
        images = tf.TensorSpec((None, config.height, config.image_width, channels), dtype)
        labels = tf.TensorSpec((None,), tf.int64)
        net, params = self.net, self._params

        def prepare(x):
            return self._normalize(x) if kind == "uint8" else x

        def forward_backward(x, y):
            with tf.GradientTape() as tape:
                logits = tf.cast(net(x, training=True), params[0].dtype)  # the loss in float32 in every mode
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
            return loss, tape.gradient(loss, params)

        buffers = self._buffers  # BatchNorm's running statistics

        def unchanged(compute):
            """compute() with the running statistics put back afterwards (a train-mode pass
            updates them; predict and loss_and_grads change nothing)."""
            kept = [tf.identity(b.value) for b in buffers]
            out = compute()
            with tf.control_dependencies(tf.nest.flatten(out)):
                for buffer, value in zip(buffers, kept, strict=True):
                    buffer.assign(value)
            return tf.nest.map_structure(tf.identity, out) if buffers else out

        @tf.function(input_signature=[images], jit_compile=self._xla)
        def predict(x):
            with tf.device(device):
                return tf.cast(net(prepare(x), training=False), params[0].dtype)

        @tf.function(input_signature=[images], jit_compile=self._xla)
        def predict_training(x):
            with tf.device(device):
                return unchanged(lambda: tf.cast(net(prepare(x), training=True), params[0].dtype))

        if self._strategy is not None:
            functions = self._data_parallel_functions(images, labels, lambda x, y: forward_backward(prepare(x), y),
                                                      unchanged)  # fmt: skip
            self._functions[kind] = {"predict": predict, "predict_training": predict_training, **functions}
            return self._functions[kind]

        @tf.function(input_signature=[images, labels], jit_compile=self._xla)
        def loss_and_grads(x, y):
            with tf.device(device):
                return unchanged(lambda: forward_backward(prepare(x), y))

        @tf.function(input_signature=[images, labels], jit_compile=self._xla)
        def train_step(x, y):
            with tf.device(device):
                loss, grads = forward_backward(prepare(x), y)
                self._sgd_update(grads)
                return loss

        self._functions[kind] = {"predict": predict, "predict_training": predict_training,
                                 "loss_and_grads": loss_and_grads, "train_step": train_step}  # fmt: skip
        return self._functions[kind]

    def _data_parallel_functions(self, images, labels, forward_backward, unchanged) -> dict:
        """loss_and_grads and train_step under the strategy: each worker's replica computes
        its local loss and gradients (XLA-compiled where the mode says so: TensorFlow cannot
        compile CPU collectives, so only the replica's own work is), the gradients are
        all-reduced (MEAN; SUM for parity's control), and the update runs in cross-replica
        context on the averaged gradients (never a Keras optimizer: its apply_gradients
        inside a replica all-reduces again)."""
        strategy = self._strategy
        op = tf.distribute.ReduceOp.SUM if self._reduce == "sum" else tf.distribute.ReduceOp.MEAN
        per_replica = tf.function(forward_backward, jit_compile=self._xla)
        if self._buffers:  # BatchNorm all-reduces its statistics inside the forward pass: a sync
            per_replica = forward_backward  # point, which a nested tf.function (and XLA on CPU) cannot hold

        def replica(x, y):
            loss, grads = per_replica(x, y)
            return loss, tf.distribute.get_replica_context().all_reduce(op, grads)

        def local(value):
            return strategy.experimental_local_results(value)[0]

        @tf.function(input_signature=[images, labels])
        def loss_and_grads(x, y):
            loss, grads = strategy.run(lambda x, y: unchanged(lambda: replica(x, y)), args=(x, y))
            return local(loss), [local(g) for g in grads]

        @tf.function(input_signature=[images, labels])
        def train_step(x, y):
            loss, grads = strategy.run(replica, args=(x, y))
            self._sgd_update([local(g) for g in grads])
            return local(loss)

        return {"loss_and_grads": loss_and_grads, "train_step": train_step}

    def _distribute(self, strategy, reduce: str) -> None:
        """Rebuilt under the strategy's scope (mirrored variables), then the same weights."""
        weights, state = self.get_weights(), self.get_state()
        self._strategy, self._reduce = strategy, reduce
        with strategy.scope():
            self._build()
        self.set_weights(weights)
        self.set_state(state)
        if self.input_norm is not None:
            self.set_input_norm(self.input_norm)

    def _functions_for(self, batch: DeviceBatch) -> dict:
        return self._compile_functions("uint8" if batch.images.dtype == tf.uint8 else "float")

    def _normalize(self, x):
        """uint8 NHWC -> the model's input: u8 * scale + shift, gray expanded to 3 channels."""
        x = tf.cast(x, self._dtype) * self._scale + self._shift
        if x.shape[-1] != self.config.in_channels:
            x = tf.tile(x, [1, 1, 1, self.config.in_channels])
        return x

    def _set_input_norm(self, scale: np.ndarray, shift: np.ndarray) -> None:
        with tf.device(self._tf_device):
            if self._scale is None or self._scale.shape != scale.shape:
                self._scale = tf.Variable(scale, trainable=False)
                self._shift = tf.Variable(shift, trainable=False)
                self._functions.pop("uint8", None)  # traced for the other channel count
            else:
                self._scale.assign(scale)
                self._shift.assign(shift)

    # --------------------------------------------------------------- weights
    def _read_params(self) -> dict:
        return {name: variable.numpy() for name, variable in self._held_variables()}

    def _zero_momentum(self) -> None:
        for buffer in self._momentum:
            buffer.assign(tf.zeros_like(buffer))

    def _read_momentum(self) -> dict:
        return {name: buffer.numpy() for name, buffer in zip(self._names, self._momentum, strict=True)}

    def _load_momentum(self, native: dict[str, np.ndarray]) -> None:
        for name, buffer in zip(self._names, self._momentum, strict=True):
            buffer.assign(native[name])

    def _get_rng_state(self) -> np.ndarray:
        """The state of each Dropout layer's seed generator (its masks come from it)."""
        states = [np.asarray(g.state.numpy()).ravel() for g in self._dropout_generators()]
        return np.concatenate(states) if states else np.zeros(0, np.int64)

    def _set_rng_state(self, state: np.ndarray) -> None:
        offset = 0
        for generator in self._dropout_generators():
            size = int(np.prod(generator.state.shape))
            current = generator.state.numpy()
            generator.state.assign(
                np.asarray(state[offset : offset + size]).astype(current.dtype).reshape(current.shape)
            )
            offset += size

    # ------------------------------------------------------------------ data
    def _to_device(self, images: np.ndarray, labels: np.ndarray | None):
        dtype = tf.uint8 if images.dtype == np.uint8 else self._dtype  # uint8 is normalized in the step
        with tf.device(self._tf_device):  # tf.identity copies onto the device now, not per step
            x = tf.identity(tf.convert_to_tensor(images, dtype=dtype))
            y = None if labels is None else tf.identity(tf.convert_to_tensor(labels, dtype=tf.int64))
        return x, y

    def synchronize(self) -> None:
        if self.device == "gpu":
            tf.test.experimental.sync_devices()

    # --------------------------------------------------------------- compute
    def _predict(self, batch: DeviceBatch, training: bool):
        return self._functions_for(batch)["predict_training" if training else "predict"](batch.images).numpy()

    def _loss_and_grads(self, batch: DeviceBatch):
        loss, grads = self._functions_for(batch)["loss_and_grads"](batch.images, batch.labels)
        return float(loss), {name: g.numpy() for name, g in zip(self._names, grads, strict=True)}

    def _train_step(self, batch: DeviceBatch):
        return self._functions_for(batch)["train_step"](batch.images, batch.labels)

    def _sgd_update(self, grads) -> None:
        """The update rule of impls.config.SGDConfig, on the variables (inside the traced step)."""
        opt = self.optimizer
        lr, mu, wd = opt.lr, opt.momentum, opt.weight_decay
        for w, v, g in zip(self._params, self._momentum, grads, strict=True):
            g = g + wd * w  # coupled L2, as in the paper
            v_new = mu * v + g  # v = mu * v + g
            v.assign(v_new)
            w.assign_sub(lr * v_new)  # w = w - lr * v

    @classmethod
    def versions(cls) -> dict[str, str]:
        return {"tensorflow": tf.__version__, "keras": keras.__version__}
