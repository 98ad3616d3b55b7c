"""The networks in Keras 3 on the JAX backend: impls.keras_network's model (the same Keras
lowering as on TensorFlow), trained the way Keras documents a custom loop on JAX
("Writing a training loop from scratch in JAX"): `model.stateless_call` inside `jax.jit`,
`jax.value_and_grad` of the loss, and the state (trainable and non-trainable values, the
momentum) threaded through the step functionally, never assigned per step.

The state lives in self._state, as the step returns it; the Keras variables are brought up
to date only where something reads them (get_weights, get_state: `_push`), and reread
after something writes them (`_pull`), as Keras's own fit does at the end of an epoch.

float64 needs x64: every call runs inside `jax.enable_x64(...)` for the model's own dtype
(impls.jax_alexnet does the same), so float32 and float64 models coexist in one process.

Modes (impls.modes): "jit" (the step under jax.jit, the state donated); "eager" (the same
functions, op by op, no jit); "bf16": jit under Keras's "mixed_bfloat16" policy (float32
variables and momentum, bfloat16 compute, the loss on float32 logits).
"""

from __future__ import annotations

import contextlib

from impls import keras_select

keras_select.use("keras-jax", "jax")  # before Keras is imported: Keras picks its backend once

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from impls.base import DeviceBatch  # noqa: E402
from impls.errors import ConfigError, DeviceUnavailableError  # noqa: E402
from impls.jax_alexnet import sgd_update  # noqa: E402  (the update rule, written out once for JAX)
from impls.keras_network import KerasModel, float64_promotion, mean_cross_entropy, normalize  # noqa: E402


class KerasJaxAlexNet(KerasModel):
    framework = "keras-jax"

    def _build(self) -> None:
        self._keras_device = self._find_device()
        with keras.device(self._keras_device):
            self._build_network(self._policy())
        self._trainable = self.net.trainable_variables
        self._index = [next(i for i, v in enumerate(self._trainable) if v is p) for p in self._params]
        others = self.net.non_trainable_variables
        self._statistics = [next(i for i, v in enumerate(others) if v is b) for b in self._buffers]
        self._state = None  # (trainable values, non-trainable values, momentum), model order
        self._pull()
        self._norm = None  # uint8 input: (scale, shift) on the device, set by set_input_norm
        self._compile()

    def _find_device(self) -> str:
        if self.device == "gpu":
            try:
                gpus = jax.local_devices(backend="gpu")
            except RuntimeError as error:
                raise DeviceUnavailableError(
                    f"JAX finds no GPU ({error}); use --device cpu, or install a CUDA build of jax on a machine "
                    "with an NVIDIA GPU"
                ) from error
            if not gpus:
                raise DeviceUnavailableError("JAX finds no GPU; use --device cpu, or install a CUDA build of jax")
            return "gpu:0"
        return "cpu:0"

    def _scope(self):
        """x64 for a float64 model (off for a float32 one) and float64 kept in Keras's type
        promotion (keras_network.float64_promotion), on the model's device, for this call only."""
        stack = contextlib.ExitStack()
        stack.enter_context(jax.enable_x64(self.config.dtype == "float64"))
        stack.enter_context(float64_promotion(self.config.dtype == "float64"))
        if getattr(self, "_keras_device", None):  # set by _build (which enters it itself)
            stack.enter_context(keras.device(self._keras_device))
        return stack

    def _compile(self) -> None:
        net, opt, config = self.net, self.optimizer, self.config
        dtype = config.dtype  # logits and the loss in the variables' dtype, whatever the policy computes in

        def prepare(x, norm):
            return x if norm is None else normalize(x, *norm, dtype, config.in_channels)

        def loss_fn(trainable, non_trainable, x, y, norm):
            logits, non_trainable = net.stateless_call(trainable, non_trainable, prepare(x, norm), training=True)
            return mean_cross_entropy(y, ops.cast(logits, dtype)), non_trainable

        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

        def predict(trainable, non_trainable, x, norm, training=False):
            logits, _ = net.stateless_call(trainable, non_trainable, prepare(x, norm), training=training)
            return ops.cast(logits, dtype)  # the new state (BatchNorm's statistics) dropped

        statistics = set(self._statistics)  # where BatchNorm's running statistics sit in the non-trainable list

        def loss_and_grads(state, x, y, norm):
            trainable, non_trainable, momentum = state
            (loss, updated), grads = grad_fn(trainable, non_trainable, x, y, norm)
            # keep the dropout generators' advance, not the statistics (loss_and_grads changes nothing)
            kept = [old if i in statistics else new for i, (old, new) in enumerate(zip(non_trainable, updated))]
            return loss, grads, (trainable, kept, momentum)

        def train_step(state, x, y, norm):
            trainable, non_trainable, momentum = state
            (loss, non_trainable), grads = grad_fn(trainable, non_trainable, x, y, norm)
            trainable, momentum = sgd_update(trainable, momentum, grads, opt)
            return loss, (trainable, non_trainable, momentum)

        if self.mode.compiled:
            predict, loss_and_grads = jax.jit(predict, static_argnums=4), jax.jit(loss_and_grads, donate_argnums=0)
            train_step = jax.jit(train_step, donate_argnums=0)
        self._predict_fn, self._loss_and_grads_fn, self._train_step_fn = predict, loss_and_grads, train_step

    # ----------------------------------------------------------- state <-> variables
    def _push(self) -> None:
        trainable, non_trainable, _ = self._state
        for variable, value in zip(self._trainable, trainable, strict=True):
            variable.assign(value)
        for variable, value in zip(self.net.non_trainable_variables, non_trainable, strict=True):
            variable.assign(value)

    def _pull(self) -> None:
        momentum = self._state[2] if self._state else [jax.numpy.zeros_like(v.value) for v in self._trainable]
        self._state = ([v.value for v in self._trainable], [v.value for v in self.net.non_trainable_variables],
                       momentum)  # fmt: skip

    # --------------------------------------------------------------- momentum
    def _zero_momentum(self) -> None:
        trainable, non_trainable, _ = self._state
        self._state = (trainable, non_trainable, [jax.numpy.zeros_like(v) for v in trainable])

    def _read_momentum(self) -> dict:
        momentum = self._state[2]
        return {name: np.asarray(momentum[i]) for name, i in zip(self._names, self._index, strict=True)}

    def _load_momentum(self, native: dict[str, np.ndarray]) -> None:
        momentum = list(self._state[2])
        for name, i in zip(self._names, self._index, strict=True):
            momentum[i] = jax.device_put(native[name], momentum[i].device)
        self._state = (*self._state[:2], momentum)

    def _distribute(self, engine, reduce: str) -> None:
        raise ConfigError(
            "keras-jax is not data-parallel in alexbench: its step is a stateless_call under jax.jit on one "
            "device, and Keras's own keras.distribution API drives fit(), not this loop; use jax (a sharded "
            "global batch) or keras (tf.distribute) for data-parallel runs"
        )

    # ------------------------------------------------------------------ data
    def _to_device(self, images: np.ndarray, labels: np.ndarray | None):
        device = self._state[0][0].device
        x = jax.device_put(images, device)  # NHWC, in the model's dtype (or uint8)
        y = None if labels is None else jax.device_put(labels.astype(np.int32), device)
        return x, y

    def _set_input_norm(self, scale: np.ndarray, shift: np.ndarray) -> None:
        device = self._state[0][0].device
        self._norm = (jax.device_put(scale, device), jax.device_put(shift, device))

    def _norm_for(self, batch: DeviceBatch):
        return self._norm if batch.images.dtype == np.uint8 else None

    def synchronize(self) -> None:
        jax.block_until_ready(self._state)

    # --------------------------------------------------------------- compute
    def _predict(self, batch: DeviceBatch, training: bool):
        trainable, non_trainable, _ = self._state
        return np.asarray(self._predict_fn(trainable, non_trainable, batch.images, self._norm_for(batch), training))

    def _loss_and_grads(self, batch: DeviceBatch):
        loss, grads, self._state = self._loss_and_grads_fn(self._state, batch.images, batch.labels,
                                                           self._norm_for(batch))  # fmt: skip
        return float(loss), {name: np.asarray(grads[i]) for name, i in zip(self._names, self._index, strict=True)}

    def _train_step(self, batch: DeviceBatch):
        loss, self._state = self._train_step_fn(self._state, batch.images, batch.labels, self._norm_for(batch))
        return np.asarray(loss)

    @classmethod
    def versions(cls) -> dict[str, str]:
        import jaxlib

        return {"keras": keras.__version__, "jax": jax.__version__, "jaxlib": jaxlib.__version__}
