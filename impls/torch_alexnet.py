"""The networks in PyTorch: the first of three mirror-like implementations
(torch_alexnet.py, keras_alexnet.py, jax_alexnet.py share one skeleton).

Every operation of impls.networks (impls.networks.ops) is lowered once, by `lower`, into its
torch.nn module, registered under its torchvision name ("features.0" is module `0` of the
`features` Sequential), so `named_parameters()` carries the canonical names and layouts
(OIHW convs, (out, in) dense, C,H,W flatten): no conversion. The network (`Network`) runs
its modules in the definition's order.

Pitfalls: torch's LocalResponseNorm divides alpha by the window size (pass alpha * size);
CUDA's AdaptiveAvgPool2d backward has no deterministic kernel (impls.networks.ops.plan
leaves an identity pool out); on GPUs cuDNN convolutions default to TF32 (the harness sets
IEEE float32 for parity). Modules are built on the meta device (no default init: the
canonical weights are loaded next, and torch's global generator is not touched); dropout
masks come from this model's own generator state, swapped in around each train-mode pass.

Modes (impls.modes): "eager" keeps NCHW-contiguous tensors; "channels_last" stores conv
weights and the batch in channels_last (NHWC) strides, oneDNN's native layout (the NHWC
numpy batch becomes a channels_last tensor with no copy; flatten still yields (C, H, W)
order); "compile" adds torch.compile (Inductor) of the module, the update left eager
(foreach kernels); "bf16" is channels_last under torch.autocast(bfloat16): weights,
gradients, momentum and the loss stay float32.
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np
import torch
from torch import nn

from impls.base import AlexNet, DeviceBatch
from impls.config import AlexNetConfig, layers
from impls.errors import ConfigError, DeviceUnavailableError
from impls.networks import ops
from impls.networks.ops import Layer

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


# -------------------------------------------------------------------------- network
def lower(layer: Layer, config: AlexNetConfig) -> nn.Module:
    """One operation of impls.networks.ops as its torch.nn module (NCHW)."""
    op = layer.op
    if isinstance(op, ops.Conv):
        return nn.Conv2d(layer.in_shape[0], op.out_channels, op.kernel, op.stride, op.padding, groups=op.groups,
                         bias=op.bias)  # fmt: skip
    if isinstance(op, ops.ReLU):
        return nn.ReLU(inplace=True)
    if isinstance(op, ops.LRN):  # torch divides alpha by `size`; the paper does not: pass alpha * size.
        return nn.LocalResponseNorm(op.size, alpha=op.alpha * op.size, beta=op.beta, k=op.k)
    if isinstance(op, ops.MaxPool):
        return nn.MaxPool2d(op.kernel, op.stride, op.padding)
    if isinstance(op, ops.AdaptiveAvgPool):
        return nn.AdaptiveAvgPool2d((op.size, op.size))
    if isinstance(op, ops.Flatten):
        return nn.Flatten(1)  # (N, C*H*W) in (C, H, W) order: the canonical layout of the next dense kernel
    if isinstance(op, ops.Dropout):
        return nn.Dropout(p=config.dropout)
    if isinstance(op, ops.Dense):
        return nn.Linear(layer.in_shape[0], op.out_features, bias=op.bias)
    if isinstance(op, ops.BatchNorm):  # torch's semantics are the definition's; eps and momentum still stated
        return nn.BatchNorm2d(layer.in_shape[0], eps=op.eps, momentum=op.momentum)
    if isinstance(op, ops.Residual):
        return Block(layer, config)
    raise ConfigError(f"the torch implementation cannot lower {type(op).__name__} ({op.name})")


def _place(root: nn.Module, name: str, module: nn.Module) -> None:
    """Register `module` under its dotted name below `root` ("features.0": module "0" of the
    Sequential "features"; "downsample.1" inside a block), making the Sequentials on the way."""
    *path, leaf = name.split(".")
    parent = root
    for part in path:
        if not hasattr(parent, part):
            parent.add_module(part, nn.Sequential())
        parent = getattr(parent, part)
    parent.add_module(leaf, module)


def _lower_all(root: nn.Module, plan, config: AlexNetConfig, prefix: str = "") -> list[nn.Module]:
    """Each layer of `plan` lowered and registered below `root` under its name less `prefix`;
    the modules in the definition's order."""
    modules = []
    for layer in plan:
        module = lower(layer, config)
        _place(root, layer.op.name.removeprefix(prefix), module)
        modules.append(module)
    return modules


class Block(nn.Module):
    """A residual block (impls.networks.ops.Residual): relu(body(x) + shortcut(x)), its modules
    named inside the block as torchvision's (conv1, bn1, ..., downsample.0)."""

    def __init__(self, layer: Layer, config: AlexNetConfig) -> None:
        super().__init__()
        prefix = layer.op.name + "."
        self._body = _lower_all(self, layer.body, config, prefix)
        self._shortcut = _lower_all(self, layer.shortcut, config, prefix)  # empty: the identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, across = x, x
        for module in self._body:
            out = module(out)
        for module in self._shortcut:
            across = module(across)
        return torch.relu(out + across)


class Network(nn.Module):
    """The config's layers as torch modules under their torchvision names, run in order."""

    def __init__(self, config: AlexNetConfig) -> None:
        super().__init__()
        self._sequence = _lower_all(self, layers(config), config)  # the order of the definition

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (N, C, H, W) -> logits (N, classes)
        for module in self._sequence:
            x = module(x)
        return x


def build_network(config: AlexNetConfig) -> nn.Module:
    """The network as a torch module: NCHW in, logits out, torchvision's parameter names
    (uninitialized, on the meta device: load weights before use)."""
    with torch.device("meta"):
        return Network(config)


# ---------------------------------------------------------------------------- model
def _synced_batch_norm(module: nn.BatchNorm2d, group, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm2d with its train-mode statistics over the whole data-parallel batch: the
    per-channel sum and count, then the sum of squared deviations from the global mean
    (two passes, as one process computes them), each summed over ranks with
    torch.distributed.nn's all_reduce, whose backward sums the gradients over ranks. What
    torch's SyncBatchNorm does (CUDA only), written for any device."""
    from torch.distributed.nn.functional import all_reduce

    if not module.training:
        return nn.functional.batch_norm(x, module.running_mean, module.running_var, module.weight, module.bias,
                                        False, 0.0, module.eps)  # fmt: skip
    channels = x.shape[1]
    count = torch.full((1,), x.numel() // channels, dtype=x.dtype, device=x.device)
    totals = all_reduce(torch.cat([x.sum((0, 2, 3)), count]), group=group)
    total = totals[channels]
    mean = totals[:channels] / total
    centred = x - mean.view(1, -1, 1, 1)
    var = all_reduce(centred.square().sum((0, 2, 3)), group=group) / total
    with torch.no_grad():  # torch's running averages: the unbiased variance, momentum of the new batch
        momentum = module.momentum
        module.running_mean.mul_(1 - momentum).add_(mean.detach(), alpha=momentum)
        module.running_var.mul_(1 - momentum).add_(var.detach() * (total / (total - 1)), alpha=momentum)
    scale = (torch.rsqrt(var + module.eps) * module.weight).view(1, -1, 1, 1)
    return centred * scale + module.bias.view(1, -1, 1, 1)


class TorchAlexNet(AlexNet):
    framework = "torch"
    statistics_sync = "all_reduce of the batch statistics (torch.distributed.nn, as SyncBatchNorm does) under DDP"

    def _build(self) -> None:
        self._device = self._find_device()
        self._dtype = _DTYPES[self.config.dtype]
        self._memory_format = torch.contiguous_format if self.mode.name == "eager" else torch.channels_last
        self.net = build_network(self.config).to(dtype=self._dtype).to_empty(device=self._device)
        self.net = self.net.to(memory_format=self._memory_format)
        named = dict(self.net.named_parameters())
        assert list(named) == self.params.trainable, "torch module names differ from the definition's"
        self._params = [named[name] for name in self.params.trainable]
        buffers = dict(self.net.named_buffers())  # BatchNorm's; its own num_batches_tracked is unused (impls.base)
        self._buffers = [buffers[name] for name in self.params.float_buffers]
        self._tensors = dict(zip(self.params.trainable + self.params.float_buffers, self._params + self._buffers))
        # Dropout masks from this model's own generator (seeded by `seed`), never the global one.
        generator = torch.Generator(device=self._device)
        generator.manual_seed(self.seed)
        self._rng = generator.get_state()
        self._momentum = [torch.zeros_like(p) for p in self._params]
        # What runs the network: the module itself, or its torch.compile wrapper (same
        # parameters; compiled lazily, on the first call of each of train/eval).
        self._forward = torch.compile(self.net) if self.mode.name == "compile" else self.net
        self._autocast = self.mode.reduced_precision
        self._norm: tuple[torch.Tensor, torch.Tensor] | None = None  # uint8 input: (scale, shift), (1, C, 1, 1)

    def _find_device(self) -> torch.device:
        if self.device != "gpu":
            return torch.device("cpu")
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(
                "PyTorch finds no CUDA GPU (torch.cuda.is_available() is False); use --device cpu, "
                "or install a CUDA build of torch on a machine with an NVIDIA GPU"
            )
        return torch.device("cuda")

    def _run(self, images: torch.Tensor) -> torch.Tensor:
        """Logits, in float32/float64 whatever the mode computes in."""
        if images.dtype == torch.uint8:
            images = self._normalize(images)
        if not self._autocast:
            return self._forward(images)
        with torch.autocast(device_type=self._device.type, dtype=torch.bfloat16):
            logits = self._forward(images)
        return logits.to(self._dtype)  # loss and outputs in float32

    def _normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, C, H, W) -> the model's input: u8 * scale + shift, gray expanded to 3 channels."""
        scale, shift = self._norm
        x = images.to(self._dtype) * scale + shift
        if x.shape[1] != self.config.in_channels:
            x = x.expand(-1, self.config.in_channels, -1, -1)
        return x.contiguous(memory_format=self._memory_format)

    def _distribute(self, engine, reduce: str) -> None:
        """DistributedDataParallel around the network: backward all-reduces the gradients
        (averaged over ranks), then the same _sgd_update on every rank."""
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel

        if self.mode.name == "compile":
            raise ConfigError("torch mode 'compile' is not data-parallel in alexbench; use eager or channels_last")
        for module in self.net.modules():  # BatchNorm: statistics over every rank's batch
            if isinstance(module, nn.BatchNorm2d) and not self._local_statistics:
                module.forward = functools.partial(_synced_batch_norm, module, engine)
        ddp = DistributedDataParallel(
            self.net, device_ids=[self._device.index or 0] if self._device.type == "cuda" else None,
            process_group=engine,
        )  # fmt: skip
        if reduce == "sum":

            def summed(state, bucket):
                reduced = dist.all_reduce(bucket.buffer(), op=dist.ReduceOp.SUM, group=engine, async_op=True)
                return reduced.get_future().then(lambda future: future.value()[0])

            ddp.register_comm_hook(None, summed)
        self._forward = ddp

    def _set_input_norm(self, scale: np.ndarray, shift: np.ndarray) -> None:
        self._norm = tuple(torch.from_numpy(v).view(1, -1, 1, 1).to(self._device) for v in (scale, shift))

    # --------------------------------------------------------------- weights
    def _load_params(self, native: dict[str, np.ndarray]) -> None:
        with torch.no_grad():
            for name, tensor in self._tensors.items():
                tensor.copy_(torch.from_numpy(native[name]))  # copy_ keeps each parameter's layout

    def _read_params(self) -> dict:
        return {n: t.detach().cpu().numpy() for n, t in self._tensors.items()}

    def _zero_momentum(self) -> None:
        for buffer in self._momentum:
            buffer.zero_()

    def _read_momentum(self) -> dict:
        return {n: m.detach().cpu().numpy() for n, m in zip(self.params.trainable, self._momentum)}

    def _load_momentum(self, native: dict[str, np.ndarray]) -> None:
        with torch.no_grad():
            for name, buffer in zip(self.params.trainable, self._momentum):
                buffer.copy_(torch.from_numpy(native[name]))

    def _get_rng_state(self) -> np.ndarray:
        """This model's dropout generator (a torch generator state of its device)."""
        return self._rng.numpy().copy()

    def _set_rng_state(self, state: np.ndarray) -> None:
        self._rng = torch.from_numpy(np.ascontiguousarray(state, dtype=np.uint8)).clone()

    @contextlib.contextmanager
    def _own_rng(self):
        """Run with this model's dropout generator as the device's default one (torch's
        dropout, eager or compiled, draws from the default generator), then put it back."""
        if self.config.dropout == 0.0:
            yield
            return
        cuda = self._device.type == "cuda"
        get = torch.cuda.get_rng_state if cuda else torch.get_rng_state
        put = torch.cuda.set_rng_state if cuda else torch.set_rng_state
        outside = get()
        put(self._rng)
        try:
            yield
        finally:
            self._rng = get()
            put(outside)

    # ------------------------------------------------------------------ data
    def _to_device(self, images: np.ndarray, labels: np.ndarray | None):
        x = torch.from_numpy(images)
        if images.dtype == np.uint8:  # stays uint8 (NHWC strides) until _normalize, on the device
            if self._device.type == "cuda":  # pinned, so the copy can overlap the step before it
                x = x.pin_memory().to(self._device, non_blocking=True)
            return x.permute(0, 3, 1, 2), (None if labels is None else torch.from_numpy(labels).to(self._device))
        # NHWC -> NCHW view. That view already has channels_last strides, so for every mode
        # but eager the batch is used as it is; eager copies it to the standard layout.
        x = x.permute(0, 3, 1, 2).contiguous(memory_format=self._memory_format)
        x = x.to(self._device)
        y = None if labels is None else torch.from_numpy(labels).to(self._device)
        return x, y

    def synchronize(self) -> None:
        if self._device.type == "cuda":
            torch.cuda.synchronize()

    # --------------------------------------------------------------- compute
    def _predict(self, batch: DeviceBatch, training: bool):
        if not training:
            self.net.eval()
            with torch.inference_mode():
                return self._run(batch.images).cpu().numpy()
        self.net.train()
        kept = [b.clone() for b in self._buffers]
        with torch.no_grad(), self._own_rng():
            logits = self._run(batch.images).cpu().numpy()
            for buffer, value in zip(self._buffers, kept, strict=True):  # the statistics as they were
                buffer.copy_(value)
        return logits

    def _forward_loss(self, batch: DeviceBatch) -> torch.Tensor:
        self.net.train()
        for p in self._params:
            p.grad = None
        with self._own_rng():
            logits = self._run(batch.images)
        loss = nn.functional.cross_entropy(logits, batch.labels)  # mean over the batch
        loss.backward()
        return loss.detach()

    def _loss_and_grads(self, batch: DeviceBatch):
        kept = [b.clone() for b in self._buffers]  # a train-mode pass updates BatchNorm's statistics:
        loss = self._forward_loss(batch)
        with torch.no_grad():  # put them back (loss_and_grads changes nothing)
            for buffer, value in zip(self._buffers, kept, strict=True):
                buffer.copy_(value)
        # native views; the layout makes contiguous canonical copies (a channels_last gradient is OHWI-strided)
        return loss.item(), {n: p.grad.detach().cpu().numpy() for n, p in zip(self.params.trainable, self._params)}

    def _train_step(self, batch: DeviceBatch):
        loss = self._forward_loss(batch)
        self._sgd_update([p.grad for p in self._params])
        return loss.item()

    def _sgd_update(self, grads: list[torch.Tensor]) -> None:
        """The update rule of impls.config.SGDConfig, in place (foreach: one pass per line)."""
        opt = self.optimizer
        with torch.no_grad():
            torch._foreach_add_(grads, self._params, alpha=opt.weight_decay)  # g += wd * w
            torch._foreach_mul_(self._momentum, opt.momentum)  # v = mu * v + g
            torch._foreach_add_(self._momentum, grads)
            torch._foreach_add_(self._params, self._momentum, alpha=-opt.lr)  # w -= lr * v

    @classmethod
    def versions(cls) -> dict[str, str]:
        return {
            "torch": torch.__version__,
            "cuda": str(torch.version.cuda),
            "cudnn": str(torch.backends.cudnn.version()),
        }
