"""Plain, framework-idiomatic AlexNet loops: the baseline for the harness-overhead benchmark.

alexbench's own implementations (impls/) go through shared abstractions: a canonical weight
format, layout conversions, hand-written SGD updates, one `AlexNet` interface for three
frameworks. A throughput claim is only credible if those implementations run as fast as the
loop a competent user of each framework would write without ever seeing our code. This
module holds that loop, once per framework and mode, so that the two can be timed side by side.

The rules, on purpose:
- nothing from `impls` (or any other alexbench module) is used: the architecture is written
  out again in each framework's usual style (torch `nn.Sequential`, `keras.Sequential`,
  a params dict and `jax.lax` for plain JAX);
- each framework's stock optimizer and loss where it has one (`torch.optim.SGD`,
  `keras.optimizers.SGD`, optax), the documented recipe for each mode (channels_last,
  `torch.compile`, autocast, `tf.function(jit_compile=...)`, Keras mixed precision,
  `jax.jit` with donated buffers), and nothing cleverer;
- one random batch is placed on the device once; `train_step` returns the loss as a Python
  float and `predict` copies the logits to host numpy: those are each loop's sync points,
  the same ones the harness times.

The network is torchvision's AlexNet (64-192-384-256-256 convolutions, adaptive average
pooling to 6x6, 4096-4096 classifier with dropout). The numerics are NOT meant to match
the harness's (different initializations, Keras's decoupled weight decay): only the work
per step is the same. Importing this module imports no framework; each is loaded by the
builder that needs it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

import numpy as np

MODES: dict[str, tuple[str, ...]] = {
    "torch": ("eager", "channels_last", "compile", "bf16"),
    "keras": ("graph", "xla", "bf16"),
    "jax": ("jit", "bf16"),
}
DEVICES = ("cpu", "gpu")

LR, MOMENTUM, WEIGHT_DECAY = 0.01, 0.9, 5e-4
POOLED = 6  # the classifier reads a 6x6x256 map

# (kernel, stride, padding, max pool after) of the five convolutions, for the size arithmetic
# only: every framework below writes its layers out in its own style.
_CONV_GEOMETRY = ((11, 4, 2, True), (5, 1, 2, True), (3, 1, 1, False), (3, 1, 1, False), (3, 1, 1, True))


class RawLoop:
    """One framework's plain training step and inference pass on a fixed on-device batch."""

    framework: str
    mode: str

    def __init__(self, framework: str, mode: str, train_step: Callable[[], float], predict: Callable[[], None]):
        self.framework = framework
        self.mode = mode
        self._train_step = train_step
        self._predict = predict

    def train_step(self) -> float:
        """One SGD step on the batch; returns the loss as a Python float (the sync point)."""
        return self._train_step()

    def predict(self) -> None:
        """Eval-mode forward on the batch; the logits are copied to host numpy (the sync point)."""
        self._predict()

    def __repr__(self) -> str:
        return f"RawLoop({self.framework!r}, {self.mode!r})"


def final_map_size(image_size: int) -> int:
    """Side of the last feature map (before pooling to 6x6) for a square input; 0: too small."""
    size = image_size
    for kernel, stride, padding, pool in _CONV_GEOMETRY:
        size = (size + 2 * padding - kernel) // stride + 1
        if pool:
            size = (size - 3) // 2 + 1 if size >= 3 else 0  # a 3x3 max pool needs 3 pixels
        if size < 1:
            return 0
    return size


def _adaptive_pool_matrix(side: int, out: int = POOLED) -> np.ndarray:
    """(out, side) float32 matrix averaging torch AdaptiveAvgPool2d's bins along one axis.

    Bin i covers [floor(i * side / out), ceil((i + 1) * side / out)); pooling an NHWC map is
    then einsum("oh,nhwc,pw->nopc", P, x, P).
    """
    matrix = np.zeros((out, side), np.float32)
    for i in range(out):
        start, end = (i * side) // out, -(-((i + 1) * side) // out)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def _min_image_size() -> int:
    size = 1
    while final_map_size(size) < 1:
        size += 1
    return size


def build(
    framework: str,
    mode: str,
    *,
    batch_size: int,
    image_size: int,
    in_channels: int = 3,
    num_classes: int = 10,
    dropout: float = 0.5,
    seed: int = 0,
    device: str = "cpu",
) -> RawLoop:
    """A plain AlexNet loop for `framework` in `mode` (see MODES), ready to run.

    Builds the model, one random batch (standard-normal images, uniform labels) already on
    `device` ("cpu" or "gpu"), SGD (lr 0.01, momentum 0.9, weight decay 5e-4) and mean
    softmax cross-entropy. Nothing is compiled here: the first call of `train_step` and of
    `predict` traces/compiles, so run each once before timing.
    """
    if framework not in MODES:
        raise ValueError(f"unknown framework {framework!r}; choose one of {', '.join(MODES)}")
    if mode not in MODES[framework]:
        raise ValueError(f"unknown {framework} mode {mode!r}; choose one of {', '.join(MODES[framework])}")
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if final_map_size(image_size) < 1:
        raise ValueError(f"image_size {image_size} is too small for AlexNet: use at least {_min_image_size()}")
    if in_channels < 1 or num_classes < 2:
        raise ValueError(f"need in_channels >= 1 and num_classes >= 2, got {in_channels} and {num_classes}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")

    # The same data for every framework: NHWC float32 images, int64 labels.
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((batch_size, image_size, image_size, in_channels), dtype=np.float32)
    labels = rng.integers(0, num_classes, size=batch_size, dtype=np.int64)

    builder = {"torch": _build_torch, "keras": _build_keras, "jax": _build_jax}[framework]
    train_step, predict = builder(
        mode, images, labels, num_classes=num_classes, dropout=dropout, seed=seed, device=device
    )
    return RawLoop(framework, mode, train_step, predict)


# ------------------------------------------------------------------------------- PyTorch
def _build_torch(mode: str, images: np.ndarray, labels: np.ndarray, *, num_classes, dropout, seed, device):
    import torch
    import torch.nn.functional as F
    from torch import nn

    if device == "gpu" and not torch.cuda.is_available():
        raise RuntimeError("PyTorch finds no CUDA GPU (torch.cuda.is_available() is False)")
    dev = torch.device("cuda" if device == "gpu" else "cpu")
    torch.manual_seed(seed)  # the default initialization and the dropout masks

    in_channels = images.shape[-1]
    # Like torchvision, but AdaptiveAvgPool2d is left out where it would be the identity.
    avgpool = [] if final_map_size(images.shape[1]) == POOLED else [nn.AdaptiveAvgPool2d((POOLED, POOLED))]
    model = nn.Sequential(
        nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        *avgpool,
        nn.Flatten(),
        nn.Dropout(p=dropout),
        nn.Linear(256 * POOLED * POOLED, 4096),
        nn.ReLU(inplace=True),
        nn.Dropout(p=dropout),
        nn.Linear(4096, 4096),
        nn.ReLU(inplace=True),
        nn.Linear(4096, num_classes),
    ).to(dev)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous().to(dev)  # NCHW
    y = torch.from_numpy(labels).to(dev)
    if mode != "eager":  # channels_last, compile and bf16 all use PyTorch's recommended layout for convnets
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    net = torch.compile(model) if mode == "compile" else model
    # Mixed precision as the AMP docs show it: autocast around forward and loss only, fp32
    # weights; bfloat16 needs no GradScaler.
    ctx = torch.autocast(dev.type, dtype=torch.bfloat16) if mode == "bf16" else contextlib.nullcontext()

    def train_step() -> float:
        net.train()  # predict() may have switched to eval mode in between
        optimizer.zero_grad(set_to_none=True)
        with ctx:
            loss = F.cross_entropy(net(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    def predict() -> None:
        net.eval()
        with torch.inference_mode(), ctx:
            logits = net(x)
        logits.float().cpu().numpy()  # .float(): numpy has no bfloat16 (a no-op for float32)

    return train_step, predict


# --------------------------------------------------------------- Keras 3 (TensorFlow)
def _build_keras(mode: str, images: np.ndarray, labels: np.ndarray, *, num_classes, dropout, seed, device):
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import tensorflow as tf
    from keras import layers

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"the keras loop needs the TensorFlow backend, but Keras runs on {keras.backend.backend()!r}"
        )
    if device == "gpu" and not tf.config.list_physical_devices("GPU"):
        # Checked here because tf.device("/GPU:0") would silently fall back to the CPU.
        raise RuntimeError("TensorFlow finds no GPU (tf.config.list_physical_devices('GPU') is empty)")
    tf_device = "/GPU:0" if device == "gpu" else "/CPU:0"
    jit_compile = mode in ("xla", "bf16")
    keras.utils.set_random_seed(seed)  # initializers and dropout

    height, in_channels = images.shape[1], images.shape[-1]
    side = final_map_size(height)
    # The mixed-precision guide's recipe, but only while this model is built: the layers keep
    # the policy they were made with, and the process-wide policy is put back.
    previous_policy = keras.config.dtype_policy()
    if mode == "bf16":
        keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        # Pooling to 6x6 as torch's AdaptiveAvgPool2d, left out where it is the identity. A 1x1
        # map (inputs of 63 to 94 pixels) is upsampled instead: the same values (every bin holds
        # the one pixel), and Keras 3.15's AdaptiveAveragePooling2D fails on it inside a
        # tf.function ("Negative dimension size").
        if side == POOLED:
            avgpool = []
        elif side == 1:
            avgpool = [layers.UpSampling2D(POOLED)]
        else:
            avgpool = [layers.AdaptiveAveragePooling2D(POOLED)]
        with tf.device(tf_device):
            model = keras.Sequential(
                [
                    keras.Input(shape=(height, height, in_channels)),
                    # torch's symmetric padding 2 (TF's "same" would pad 3 and 4 here, one more output row)
                    layers.ZeroPadding2D(2),
                    layers.Conv2D(64, 11, strides=4, activation="relu"),
                    layers.MaxPooling2D(3, strides=2),
                    layers.Conv2D(192, 5, padding="same", activation="relu"),
                    layers.MaxPooling2D(3, strides=2),
                    layers.Conv2D(384, 3, padding="same", activation="relu"),
                    layers.Conv2D(256, 3, padding="same", activation="relu"),
                    layers.Conv2D(256, 3, padding="same", activation="relu"),
                    layers.MaxPooling2D(3, strides=2),
                    *avgpool,
                    layers.Flatten(),
                    layers.Dropout(dropout),
                    layers.Dense(4096, activation="relu"),
                    layers.Dropout(dropout),
                    layers.Dense(4096, activation="relu"),
                    layers.Dense(num_classes),
                    # float32 logits for the loss, as the guide recommends for the model's output
                    *([layers.Activation("linear", dtype="float32")] if mode == "bf16" else []),
                ]
            )
    finally:
        keras.config.set_dtype_policy(previous_policy)

    with tf.device(tf_device):
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        # Keras's weight_decay is decoupled (w -= lr * wd * w), not torch's L2-in-the-gradient:
        # the same work per step, which is all a throughput baseline needs.
        optimizer = keras.optimizers.SGD(learning_rate=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
        optimizer.build(model.trainable_variables)  # its variables now, not inside the first trace
        x = tf.identity(tf.constant(images))  # copied onto the device once
        y = tf.identity(tf.constant(labels))

    @tf.function(jit_compile=jit_compile)
    def train_fn(x, y):
        with tf.device(tf_device):
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                loss = loss_fn(y, logits)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

    @tf.function(jit_compile=jit_compile)
    def predict_fn(x):
        with tf.device(tf_device):
            return model(x, training=False)

    def train_step() -> float:
        return float(train_fn(x, y))

    def predict() -> None:
        predict_fn(x).numpy()

    return train_step, predict


# ---------------------------------------------------------------------------- plain JAX
def _build_jax(mode: str, images: np.ndarray, labels: np.ndarray, *, num_classes, dropout, seed, device):
    import jax
    import jax.numpy as jnp
    from jax import lax

    try:
        import optax
    except ImportError:  # optax is the usual optimizer library, but plain JAX does not need it
        optax = None

    dev = jax.devices("gpu")[0] if device == "gpu" else jax.devices("cpu")[0]
    compute_dtype = jnp.bfloat16 if mode == "bf16" else jnp.float32
    in_channels = images.shape[-1]

    # (name, in, out, kernel, stride, padding, max pool after): NHWC activations, HWIO kernels.
    convs = [
        ("conv1", in_channels, 64, 11, 4, 2, True),
        ("conv2", 64, 192, 5, 1, 2, True),
        ("conv3", 192, 384, 3, 1, 1, False),
        ("conv4", 384, 256, 3, 1, 1, False),
        ("conv5", 256, 256, 3, 1, 1, True),
    ]
    denses = [("fc1", 256 * POOLED * POOLED, 4096), ("fc2", 4096, 4096), ("fc3", 4096, num_classes)]

    # PyTorch's default Conv/Linear init (uniform, bound 1/sqrt(fan_in)), which torchvision's
    # AlexNet trains from at this lr and momentum; a lecun/he normal init diverges there.
    # Fan-in is read from the HWIO / (in, out) shapes.
    init = jax.nn.initializers.variance_scaling(1 / 3, "fan_in", "uniform")
    f32 = jnp.float32  # explicit: another model in this process may have enabled jax_enable_x64
    keys = iter(jax.random.split(jax.random.key(seed), len(convs) + len(denses)))
    params = {}
    for name, c_in, c_out, kernel, *_ in convs:
        params[name] = {"w": init(next(keys), (kernel, kernel, c_in, c_out), f32), "b": jnp.zeros(c_out, f32)}
    for name, n_in, n_out in denses:
        params[name] = {"w": init(next(keys), (n_in, n_out), f32), "b": jnp.zeros(n_out, f32)}
    params = jax.device_put(params, dev)

    # JAX has no adaptive pooling: two averaging matrices, left out where the map is already 6x6.
    side = final_map_size(images.shape[1])
    pool_matrix = None if side == POOLED else _adaptive_pool_matrix(side)

    def forward(params, x, dropout_key=None):
        if mode == "bf16":  # fp32 master weights; compute in bfloat16
            params = jax.tree_util.tree_map(lambda p: p.astype(compute_dtype), params)
            x = x.astype(compute_dtype)
        for name, _, _, _, stride, padding, pool in convs:
            x = lax.conv_general_dilated(
                x,
                params[name]["w"],
                window_strides=(stride, stride),
                padding=[(padding, padding), (padding, padding)],
                dimension_numbers=("NHWC", "HWIO", "NHWC"),
            )
            x = jax.nn.relu(x + params[name]["b"])
            if pool:
                x = lax.reduce_window(x, -jnp.inf, lax.max, (1, 3, 3, 1), (1, 2, 2, 1), "VALID")
        if pool_matrix is not None:
            p = pool_matrix.astype(x.dtype)
            x = jnp.einsum("oh,nhwc,pw->nopc", p, x, p)
        x = x.reshape(x.shape[0], -1)
        train = dropout_key is not None and dropout > 0.0
        dropout_keys = jax.random.split(dropout_key, 2) if train else None
        for i, (name, _, _) in enumerate(denses):
            if train and i < 2:  # dropout before fc1 and fc2
                keep = jax.random.bernoulli(dropout_keys[i], 1.0 - dropout, x.shape)
                x = jnp.where(keep, x / (1.0 - dropout), 0)
            x = x @ params[name]["w"] + params[name]["b"]
            if i < 2:
                x = jax.nn.relu(x)
        return x.astype(jnp.float32)  # the loss in float32

    def loss_fn(params, x, y, dropout_key):
        log_probs = jax.nn.log_softmax(forward(params, x, dropout_key))
        return -jnp.mean(jnp.take_along_axis(log_probs, y[:, None], axis=1))

    if optax is not None:
        # torch.optim.SGD's rule: coupled weight decay, then heavy-ball momentum.
        tx = optax.chain(optax.add_decayed_weights(WEIGHT_DECAY), optax.sgd(LR, momentum=MOMENTUM))
        opt_state = tx.init(params)

        def update(params, opt_state, grads):
            updates, opt_state = tx.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state

    else:
        tree_map = jax.tree_util.tree_map
        opt_state = tree_map(jnp.zeros_like, params)  # the momentum buffers

        def update(params, opt_state, grads):
            grads = tree_map(lambda g, w: g + WEIGHT_DECAY * w, grads, params)
            opt_state = tree_map(lambda v, g: MOMENTUM * v + g, opt_state, grads)
            return tree_map(lambda w, v: w - LR * v, params, opt_state), opt_state

    def step(params, opt_state, x, y, count):
        dropout_key = jax.random.fold_in(jax.random.key(seed), count)  # new masks every step
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y, dropout_key)
        params, opt_state = update(params, opt_state, grads)
        return params, opt_state, loss

    # Donated: the old params and optimizer state are dead after the step, so XLA updates in place.
    step_fn = jax.jit(step, donate_argnums=(0, 1))
    predict_fn = jax.jit(lambda params, x: forward(params, x))
    x = jax.device_put(images, dev)
    y = jax.device_put(labels.astype(np.int32), dev)  # JAX's default integer width
    state = {"params": params, "opt_state": opt_state, "count": 0}

    def train_step() -> float:
        state["params"], state["opt_state"], loss = step_fn(state["params"], state["opt_state"], x, y, state["count"])
        state["count"] += 1
        return float(loss)

    def predict() -> None:
        np.asarray(predict_fn(state["params"], x))

    return train_step, predict
