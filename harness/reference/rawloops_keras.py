"""Plain Keras 3 loops on JAX and on PyTorch, for the harness-overhead benchmark: the same
keras.Sequential networks as rawloops.py's TensorFlow loop, trained the way the Keras guides
write a custom loop on each backend, with Keras's own SGD and loss (the rules of rawloops.py:
nothing from impls; Keras's weight decay is decoupled, which only the numerics notice).

- JAX ("Writing a training loop from scratch in JAX"): `model.stateless_call` and
  `optimizer.stateless_apply` inside one `jax.jit` (the state donated), `jax.value_and_grad`,
  the state threaded functionally; mode "eager" is the same step without jit.
- PyTorch ("Writing a training loop from scratch in PyTorch"): the model called eagerly,
  `loss.backward()`, the gradients from the variables' torch tensors, `optimizer.apply`
  under `torch.no_grad()`.

Keras picks its backend once per process: a loop here must be the first Keras of its process.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from harness.reference import rawloops


def _keras(backend: str):
    """Keras, on `backend` (set before the first import; an error if Keras runs on another)."""
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = backend
    import keras

    if keras.backend.backend() != backend:
        raise RuntimeError(f"this loop needs Keras on {backend}, but this process runs Keras on "
                           f"{keras.backend.backend()!r} (one backend per process)")  # fmt: skip
    return keras


def _network(keras, mode: str, images: np.ndarray, model: str, num_classes: int, dropout: float, width: float):
    """rawloops' keras.Sequential network, under the mixed-bfloat16 policy in mode bf16."""
    from keras import layers

    height, in_channels = images.shape[1], images.shape[-1]
    network = {"alexnet": rawloops._keras_alexnet, "vgg11": rawloops._keras_vgg11}[model]
    previous_policy = keras.config.dtype_policy()
    if mode == "bf16":
        keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        return keras.Sequential([
            keras.Input(shape=(height, height, in_channels)),
            *network(layers, num_classes, dropout, rawloops.final_map_size(height, model), width),
            *([layers.Activation("linear", dtype="float32")] if mode == "bf16" else []),
        ])  # fmt: skip
    finally:
        keras.config.set_dtype_policy(previous_policy)


def _sgd(keras):
    return keras.optimizers.SGD(
        learning_rate=rawloops.LR, momentum=rawloops.MOMENTUM, weight_decay=rawloops.WEIGHT_DECAY
    )


def build_jax(mode: str, images: np.ndarray, labels: np.ndarray, *, model, num_classes, dropout, seed, device,
              width):  # fmt: skip
    keras = _keras("jax")
    import jax

    if device == "gpu" and not [d for d in jax.devices() if d.platform == "gpu"]:
        raise RuntimeError("JAX finds no GPU")
    where = "gpu:0" if device == "gpu" else "cpu:0"
    keras.utils.set_random_seed(seed)
    with keras.device(where):
        net = _network(keras, mode, images, model, num_classes, dropout, width)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        optimizer = _sgd(keras)
        optimizer.build(net.trainable_variables)
        x, y = jax.device_put(images), jax.device_put(labels.astype(np.int32))

    def loss_and_updates(trainable, non_trainable, x, y):
        logits, non_trainable = net.stateless_call(trainable, non_trainable, x, training=True)
        return loss_fn(y, logits), non_trainable

    grad_fn = jax.value_and_grad(loss_and_updates, has_aux=True)

    def train(state, x, y):
        trainable, non_trainable, optimizer_state = state
        (loss, non_trainable), grads = grad_fn(trainable, non_trainable, x, y)
        trainable, optimizer_state = optimizer.stateless_apply(optimizer_state, grads, trainable)
        return loss, (trainable, non_trainable, optimizer_state)

    def infer(trainable, non_trainable, x):
        return net.stateless_call(trainable, non_trainable, x, training=False)[0]

    if mode != "eager":
        train, infer = jax.jit(train, donate_argnums=0), jax.jit(infer)
    state = {"now": ([v.value for v in net.trainable_variables], [v.value for v in net.non_trainable_variables],
                     [v.value for v in optimizer.variables])}  # fmt: skip

    def train_step() -> float:
        loss, state["now"] = train(state["now"], x, y)
        return float(loss)

    def predict() -> np.ndarray:
        return np.asarray(infer(*state["now"][:2], x)).astype(np.float32)

    return train_step, predict


def build_torch(mode: str, images: np.ndarray, labels: np.ndarray, *, model, num_classes, dropout, seed, device,
              width):  # fmt: skip
    keras = _keras("torch")
    import torch

    if device == "gpu" and not torch.cuda.is_available():
        raise RuntimeError("PyTorch finds no CUDA GPU (torch.cuda.is_available() is False)")
    where = "cuda" if device == "gpu" else "cpu"
    keras.utils.set_random_seed(seed)
    with keras.device(where):
        net = _network(keras, mode, images, model, num_classes, dropout, width)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        optimizer = _sgd(keras)
        optimizer.build(net.trainable_variables)
    x, y = torch.from_numpy(images).to(where), torch.from_numpy(labels).to(where)

    def train_step() -> float:
        with keras.device(where):
            loss = loss_fn(y, net(x, training=True))
            net.zero_grad()
            loss.backward()
            trainable = net.trainable_weights
            with torch.no_grad():
                optimizer.apply([v.value.grad for v in trainable], trainable)
        return loss.item()

    def predict() -> np.ndarray:
        with keras.device(where), torch.no_grad():
            return net(x, training=False).float().cpu().numpy()

    return train_step, predict


BUILDERS = {"keras-jax": build_jax, "keras-torch": build_torch}
