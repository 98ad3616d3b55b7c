"""Plain, framework-idiomatic AlexNet and VGG-11 loops: the baseline for the harness-overhead benchmark.

alexbench's own implementations (impls/) go through shared abstractions: a canonical weight
format, layout conversions, hand-written SGD updates, one `AlexNet` interface for three
frameworks. A throughput claim is only credible if those implementations run as fast as the
loop a competent user of each framework would write without ever seeing our code. This
module holds that loop, once per framework, network and mode, so that the two can be timed
side by side.

The rules, on purpose:
- nothing from `impls` (or any other alexbench module) is used: each architecture is written
  out again in each framework's usual style (torch `nn.Sequential`, `keras.Sequential`,
  a params dict and `jax.lax` for plain JAX);
- each framework's stock optimizer and loss where it has one (`torch.optim.SGD`,
  `keras.optimizers.SGD`, optax), the documented recipe for each mode (channels_last,
  `torch.compile`, autocast, `tf.function(jit_compile=...)`, Keras mixed precision,
  `jax.jit` with donated buffers), and nothing cleverer;
- one random batch is placed on the device once; `train_step` returns the loss as a Python
  float and `predict` copies the logits to host numpy: those are each loop's sync points,
  the same ones the harness times.

The networks (MODELS) are torchvision's: AlexNet (64-192-384-256-256 convolutions, adaptive
average pooling to 6x6, 4096-4096 classifier with dropout) and VGG-11 (configuration A: eight
3x3 convolutions, 64 to 512 channels, five 2x2 max pools, adaptive average pooling to 7x7,
the same 4096-4096 classifier), at their published widths or at a `width` that scales every
channel count and hidden width as impls' configs do (tests run them small). The numerics
are NOT meant to match the harness's (different initializations, Keras's decoupled weight decay): only the
work per step is the same. Importing this module imports no framework; each is loaded by
the builder that needs it.
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
    "keras-jax": ("jit", "eager", "bf16"),  # rawloops_keras.py: Keras 3 on JAX and on PyTorch
    "keras-torch": ("eager", "bf16"),
}
DEVICES = ("cpu", "gpu")
MODELS = ("alexnet", "vgg11")

LR, MOMENTUM, WEIGHT_DECAY = 0.01, 0.9, 5e-4
HIDDEN = 4096  # both classifiers: 4096-4096
POOLED = {"alexnet": 6, "vgg11": 7}  # the classifier reads a 6x6x256 (AlexNet) / 7x7x512 (VGG-11) map
ALEXNET_CHANNELS = (64, 192, 384, 256, 256)  # torchvision's five convolutions
VGG11_CFG = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")  # torchvision's cfgs["A"]

# (kernel, stride, padding, (window, stride) of the max pool after it or None) of each
# convolution, for the size arithmetic only: every framework below writes its layers out in its own style.
_CONV_GEOMETRY = {
    "alexnet": ((11, 4, 2, (3, 2)), (5, 1, 2, (3, 2)), (3, 1, 1, None), (3, 1, 1, None), (3, 1, 1, (3, 2))),
    "vgg11": tuple(
        (3, 1, 1, (2, 2) if after == "M" else None)
        for item, after in zip(VGG11_CFG, VGG11_CFG[1:] + (None,))
        if item != "M"
    ),
}


class RawLoop:
    """One framework's plain training step and inference pass on a fixed on-device batch."""

    framework: str
    mode: str
    model: str

    def __init__(self, framework: str, mode: str, train_step: Callable[[], float], predict: Callable[[], np.ndarray],
                 model: str = "alexnet"):  # fmt: skip
        self.framework = framework
        self.mode = mode
        self.model = model
        self._train_step = train_step
        self._predict = predict

    def train_step(self) -> float:
        """One SGD step on the batch; returns the loss as a Python float (the sync point)."""
        return self._train_step()

    def predict(self) -> None:
        """Eval-mode forward on the batch; the logits are copied to host numpy (the sync point)."""
        self._predict()

    def logits(self) -> np.ndarray:
        """predict, returning the host logits (batch, classes) as float32: for checks, not timed."""
        return self._predict()

    def __repr__(self) -> str:
        return f"RawLoop({self.framework!r}, {self.mode!r}, model={self.model!r})"


def final_map_size(image_size: int, model: str = "alexnet") -> int:
    """Side of the last feature map (before the adaptive pooling) for a square input; 0: too small."""
    size = image_size
    for kernel, stride, padding, pool in _CONV_GEOMETRY[model]:
        size = (size + 2 * padding - kernel) // stride + 1
        if pool and size >= 1:
            window, pool_stride = pool
            size = (size - window) // pool_stride + 1 if size >= window else 0  # the window must fit
        if size < 1:
            return 0
    return size


def _adaptive_pool_matrix(side: int, out: int) -> np.ndarray:
    """(out, side) float32 matrix averaging torch AdaptiveAvgPool2d's bins along one axis.

    Bin i covers [floor(i * side / out), ceil((i + 1) * side / out)); pooling an NHWC map is
    then einsum("oh,nhwc,pw->nopc", P, x, P).
    """
    matrix = np.zeros((out, side), np.float32)
    for i in range(out):
        start, end = (i * side) // out, -(-((i + 1) * side) // out)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def scaled(channels: int, width: float) -> int:
    """A channel count or hidden width times `width`, rounded, at least 1: impls' rule for
    torchvision's networks (which have no groups), written again here (nothing from impls)."""
    return max(1, int(round(channels * width)))


def _min_image_size(model: str = "alexnet") -> int:
    size = 1
    while final_map_size(size, model) < 1:
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
    model: str = "alexnet",
    width: float = 1.0,
) -> RawLoop:
    """A plain `model` loop (see MODELS) for `framework` in `mode` (see MODES), ready to run.

    Builds the network, one random batch (standard-normal images, uniform labels) already on
    `device` ("cpu" or "gpu"), SGD (lr 0.01, momentum 0.9, weight decay 5e-4) and mean
    softmax cross-entropy. `width` scales every channel count and hidden width (impls'
    rule, `scaled`; 1: the published network). Nothing is compiled here: the first call of
    `train_step` and of `predict` traces/compiles, so run each once before timing.
    """
    if framework not in MODES:
        raise ValueError(f"unknown framework {framework!r}; choose one of {', '.join(MODES)}")
    if mode not in MODES[framework]:
        raise ValueError(f"unknown {framework} mode {mode!r}; choose one of {', '.join(MODES[framework])}")
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if final_map_size(image_size, model) < 1:
        raise ValueError(f"image_size {image_size} is too small for {model}: use at least {_min_image_size(model)}")
    if in_channels < 1 or num_classes < 2:
        raise ValueError(f"need in_channels >= 1 and num_classes >= 2, got {in_channels} and {num_classes}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if not 0.0 < width <= 4.0:
        raise ValueError(f"width must be in (0, 4] (1 is the published network), got {width}")

    # The same data for every framework: NHWC float32 images, int64 labels.
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((batch_size, image_size, image_size, in_channels), dtype=np.float32)
    labels = rng.integers(0, num_classes, size=batch_size, dtype=np.int64)

    from harness.reference.rawloops_keras import BUILDERS  # imports no framework

    builder = {"torch": _build_torch, "keras": _build_keras, "jax": _build_jax, **BUILDERS}[framework]
    train_step, predict = builder(
        mode, images, labels, model=model, num_classes=num_classes, dropout=dropout, seed=seed, device=device,
        width=width,
    )
    return RawLoop(framework, mode, train_step, predict, model)


# ------------------------------------------------------------------------------- PyTorch
def _torch_alexnet(nn, in_channels: int, num_classes: int, dropout: float, side: int, width: float = 1.0):
    # Like torchvision, but AdaptiveAvgPool2d is left out where it would be the identity.
    pooled = POOLED["alexnet"]
    avgpool = [] if side == pooled else [nn.AdaptiveAvgPool2d((pooled, pooled))]
    c1, c2, c3, c4, c5 = (scaled(c, width) for c in ALEXNET_CHANNELS)
    hidden = scaled(HIDDEN, width)
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, kernel_size=11, stride=4, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(c1, c2, kernel_size=5, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(c2, c3, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(c3, c4, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(c4, c5, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        *avgpool,
        nn.Flatten(),
        nn.Dropout(p=dropout),
        nn.Linear(c5 * pooled * pooled, hidden),
        nn.ReLU(inplace=True),
        nn.Dropout(p=dropout),
        nn.Linear(hidden, hidden),
        nn.ReLU(inplace=True),
        nn.Linear(hidden, num_classes),
    )


def _torch_vgg11(nn, in_channels: int, num_classes: int, dropout: float, side: int, width: float = 1.0):
    # torchvision's make_layers(cfgs["A"]) (no batch norm), AdaptiveAvgPool2d left out where it is the identity.
    features, channels = [], in_channels
    for item in VGG11_CFG:
        if item == "M":
            features.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            features += [nn.Conv2d(channels, scaled(item, width), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = scaled(item, width)
    pooled, hidden = POOLED["vgg11"], scaled(HIDDEN, width)
    avgpool = [] if side == pooled else [nn.AdaptiveAvgPool2d((pooled, pooled))]
    return nn.Sequential(
        *features,
        *avgpool,
        nn.Flatten(),
        nn.Linear(channels * pooled * pooled, hidden),
        nn.ReLU(inplace=True),
        nn.Dropout(p=dropout),
        nn.Linear(hidden, hidden),
        nn.ReLU(inplace=True),
        nn.Dropout(p=dropout),
        nn.Linear(hidden, num_classes),
    )


def _build_torch(mode: str, images: np.ndarray, labels: np.ndarray, *, model, num_classes, dropout, seed, device,
                 width):  # fmt: skip
    import torch
    import torch.nn.functional as F
    from torch import nn

    if device == "gpu" and not torch.cuda.is_available():
        raise RuntimeError("PyTorch finds no CUDA GPU (torch.cuda.is_available() is False)")
    dev = torch.device("cuda" if device == "gpu" else "cpu")
    torch.manual_seed(seed)  # the default initialization and the dropout masks

    network = {"alexnet": _torch_alexnet, "vgg11": _torch_vgg11}[model]
    net = network(nn, images.shape[-1], num_classes, dropout, final_map_size(images.shape[1], model), width).to(dev)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous().to(dev)  # NCHW
    y = torch.from_numpy(labels).to(dev)
    if mode != "eager":  # channels_last, compile and bf16 all use PyTorch's recommended layout for convnets
        net = net.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    if mode == "compile":
        net = torch.compile(net)
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

    def predict() -> np.ndarray:
        net.eval()
        with torch.inference_mode(), ctx:
            logits = net(x)
        return logits.float().cpu().numpy()  # .float(): numpy has no bfloat16 (a no-op for float32)

    return train_step, predict


# --------------------------------------------------------------- Keras 3 (TensorFlow)
def _keras_pooling(layers, side: int, pooled: int) -> list:
    """Pooling to pooled x pooled as torch's AdaptiveAvgPool2d, left out where it is the
    identity. A 1x1 map (AlexNet's inputs of 63 to 94 pixels, VGG-11's of 32 to 63) is upsampled
    instead: the same values (every bin holds the one pixel), and Keras 3.15's
    AdaptiveAveragePooling2D fails on it inside a tf.function ("Negative dimension size")."""
    if side == pooled:
        return []
    return [layers.UpSampling2D(pooled)] if side == 1 else [layers.AdaptiveAveragePooling2D(pooled)]


def _keras_alexnet(layers, num_classes: int, dropout: float, side: int, width: float = 1.0) -> list:
    c1, c2, c3, c4, c5 = (scaled(c, width) for c in ALEXNET_CHANNELS)
    hidden = scaled(HIDDEN, width)
    return [
        # torch's symmetric padding 2 (TF's "same" would pad 3 and 4 here, one more output row)
        layers.ZeroPadding2D(2),
        layers.Conv2D(c1, 11, strides=4, activation="relu"),
        layers.MaxPooling2D(3, strides=2),
        layers.Conv2D(c2, 5, padding="same", activation="relu"),
        layers.MaxPooling2D(3, strides=2),
        layers.Conv2D(c3, 3, padding="same", activation="relu"),
        layers.Conv2D(c4, 3, padding="same", activation="relu"),
        layers.Conv2D(c5, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(3, strides=2),
        *_keras_pooling(layers, side, POOLED["alexnet"]),
        layers.Flatten(),
        layers.Dropout(dropout),
        layers.Dense(hidden, activation="relu"),
        layers.Dropout(dropout),
        layers.Dense(hidden, activation="relu"),
        layers.Dense(num_classes),
    ]


def _keras_vgg11(layers, num_classes: int, dropout: float, side: int, width: float = 1.0) -> list:
    # a 3x3 stride-1 "same" convolution pads 1 on every side, as torch's padding=1
    features = [layers.MaxPooling2D(2) if item == "M"
                else layers.Conv2D(scaled(item, width), 3, padding="same", activation="relu")
                for item in VGG11_CFG]  # fmt: skip
    hidden = scaled(HIDDEN, width)
    return [
        *features,
        *_keras_pooling(layers, side, POOLED["vgg11"]),
        layers.Flatten(),
        layers.Dense(hidden, activation="relu"),
        layers.Dropout(dropout),
        layers.Dense(hidden, activation="relu"),
        layers.Dropout(dropout),
        layers.Dense(num_classes),
    ]


def _build_keras(mode: str, images: np.ndarray, labels: np.ndarray, *, model, num_classes, dropout, seed, device,
                 width):  # fmt: skip
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
    network = {"alexnet": _keras_alexnet, "vgg11": _keras_vgg11}[model]
    # The mixed-precision guide's recipe, but only while this model is built: the layers keep
    # the policy they were made with, and the process-wide policy is put back.
    previous_policy = keras.config.dtype_policy()
    if mode == "bf16":
        keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        with tf.device(tf_device):
            net = keras.Sequential(
                [
                    keras.Input(shape=(height, height, in_channels)),
                    *network(layers, num_classes, dropout, final_map_size(height, model), width),
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
        optimizer.build(net.trainable_variables)  # its variables now, not inside the first trace
        x = tf.identity(tf.constant(images))  # copied onto the device once
        y = tf.identity(tf.constant(labels))

    @tf.function(jit_compile=jit_compile)
    def train_fn(x, y):
        with tf.device(tf_device):
            with tf.GradientTape() as tape:
                logits = net(x, training=True)
                loss = loss_fn(y, logits)
            grads = tape.gradient(loss, net.trainable_variables)
            optimizer.apply_gradients(zip(grads, net.trainable_variables))
            return loss

    @tf.function(jit_compile=jit_compile)
    def predict_fn(x):
        with tf.device(tf_device):
            return net(x, training=False)

    def train_step() -> float:
        return float(train_fn(x, y))

    def predict() -> np.ndarray:
        return predict_fn(x).numpy()

    return train_step, predict


# ---------------------------------------------------------------------------- plain JAX
def _jax_layers(model: str, in_channels: int, num_classes: int, width: float = 1.0):
    """(convs, denses, dense indices with dropout before them). A conv is (name, in, out,
    kernel, stride, padding, (window, stride) of the max pool after it or None): NHWC
    activations, HWIO kernels; a dense is (name, in, out)."""
    if model == "alexnet":
        c1, c2, c3, c4, c5 = (scaled(c, width) for c in ALEXNET_CHANNELS)
        convs = [
            ("conv1", in_channels, c1, 11, 4, 2, (3, 2)),
            ("conv2", c1, c2, 5, 1, 2, (3, 2)),
            ("conv3", c2, c3, 3, 1, 1, None),
            ("conv4", c3, c4, 3, 1, 1, None),
            ("conv5", c4, c5, 3, 1, 1, (3, 2)),
        ]
        dropout_before = (0, 1)  # dropout, fc1, relu, dropout, fc2, relu, fc3
    else:  # vgg11: torchvision's cfgs["A"], a 2x2 max pool after each "M"
        convs, channels = [], in_channels
        for item in VGG11_CFG:
            if item == "M":
                convs[-1] = (*convs[-1][:-1], (2, 2))
            else:
                convs.append((f"conv{len(convs) + 1}", channels, scaled(item, width), 3, 1, 1, None))
                channels = scaled(item, width)
        dropout_before = (1, 2)  # fc1, relu, dropout, fc2, relu, dropout, fc3
    flat = convs[-1][2] * POOLED[model] ** 2
    hidden = scaled(HIDDEN, width)
    denses = [("fc1", flat, hidden), ("fc2", hidden, hidden), ("fc3", hidden, num_classes)]
    return convs, denses, dropout_before


def _build_jax(mode: str, images: np.ndarray, labels: np.ndarray, *, model, num_classes, dropout, seed, device,
               width):  # fmt: skip
    import jax
    import jax.numpy as jnp
    from jax import lax

    try:
        import optax
    except ImportError:  # optax is the usual optimizer library, but plain JAX does not need it
        optax = None

    dev = jax.devices("gpu")[0] if device == "gpu" else jax.devices("cpu")[0]
    compute_dtype = jnp.bfloat16 if mode == "bf16" else jnp.float32
    convs, denses, dropout_before = _jax_layers(model, images.shape[-1], num_classes, width)

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

    # JAX has no adaptive pooling: two averaging matrices, left out where the map is already pooled-sized.
    side, pooled = final_map_size(images.shape[1], model), POOLED[model]
    pool_matrix = None if side == pooled else _adaptive_pool_matrix(side, pooled)

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
                window, pool_stride = pool
                x = lax.reduce_window(x, -jnp.inf, lax.max, (1, window, window, 1), (1, pool_stride, pool_stride, 1),
                                      "VALID")  # fmt: skip
        if pool_matrix is not None:
            p = pool_matrix.astype(x.dtype)
            x = jnp.einsum("oh,nhwc,pw->nopc", p, x, p)
        x = x.reshape(x.shape[0], -1)
        train = dropout_key is not None and dropout > 0.0
        dropout_keys = dict(zip(dropout_before, jax.random.split(dropout_key, 2))) if train else {}
        for i, (name, _, _) in enumerate(denses):
            if i in dropout_keys:
                keep = jax.random.bernoulli(dropout_keys[i], 1.0 - dropout, x.shape)
                x = jnp.where(keep, x / (1.0 - dropout), 0)
            x = x @ params[name]["w"] + params[name]["b"]
            if i < len(denses) - 1:
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

    def predict() -> np.ndarray:
        return np.asarray(predict_fn(state["params"], x))

    return train_step, predict
