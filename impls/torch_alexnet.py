"""AlexNet in PyTorch: the first of three mirror-like implementations
(torch_alexnet.py, keras_alexnet.py, jax_alexnet.py share one skeleton).

References: Krizhevsky et al. 2012 ("paper" variant); torchvision.models.AlexNet
("torchvision" variant). Layers come from impls.config.layer_specs and are registered
under torchvision's `features.N` / `classifier.N` names, so `state_dict()` IS the
canonical weight format (OIHW convs, (out, in) dense, C,H,W flatten): no conversion.

Layer order (both variants): [conv -> ReLU -> (LRN) -> (maxpool 3/2)] x 5
-> adaptive avg pool 6x6 -> flatten (C,H,W) -> [dropout -> fc -> ReLU] x 2 -> fc.

Pitfalls: torch's LocalResponseNorm divides alpha by the window size (pass alpha * 5);
CUDA's AdaptiveAvgPool2d backward has no deterministic kernel (the pool is skipped where it
is the identity, at 6x6); on GPUs cuDNN convolutions default to TF32 (the harness sets
IEEE float32 for parity).

Modes (impls.modes): "eager" keeps NCHW-contiguous tensors; "channels_last" stores conv
weights and the batch in channels_last (NHWC) strides, oneDNN's native layout (the NHWC
numpy batch becomes a channels_last tensor with no copy; flatten still yields (C, H, W)
order); "compile" adds torch.compile (Inductor) of the module, the update left eager
(foreach kernels); "bf16" is channels_last under torch.autocast(bfloat16): weights,
gradients, momentum and the loss stay float32.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from impls.base import AlexNet, DeviceBatch
from impls.config import LRN_ALPHA, LRN_BETA, LRN_K, LRN_SIZE, POOLED_SIZE, AlexNetConfig, layer_specs
from impls.errors import ConfigError, DeviceUnavailableError
from impls.weights import Weights

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


# -------------------------------------------------------------------------- network
class AlexNetModule(nn.Module):
    """features / avgpool / classifier, with torchvision's module indices."""

    def __init__(self, config: AlexNetConfig) -> None:
        super().__init__()
        convs, denses = layer_specs(config)
        features: dict[str, nn.Module] = {}
        for spec in convs:
            index = int(spec.name.split(".")[1])
            features[str(index)] = nn.Conv2d(
                spec.in_channels, spec.out_channels, spec.kernel, spec.stride, spec.padding, groups=spec.groups
            )
            features[str(index + 1)] = nn.ReLU(inplace=True)
            index += 2
            if spec.lrn:
                # torch divides alpha by `size`; the paper does not: pass alpha * size.
                features[str(index)] = nn.LocalResponseNorm(
                    LRN_SIZE, alpha=LRN_ALPHA * LRN_SIZE, beta=LRN_BETA, k=LRN_K
                )
                index += 1
            if spec.pool:
                features[str(index)] = nn.MaxPool2d(kernel_size=3, stride=2)
        self.features = nn.Sequential()
        for key in sorted(features, key=int):
            self.features.add_module(key, features[key])
        self.avgpool = nn.AdaptiveAvgPool2d((POOLED_SIZE, POOLED_SIZE))
        self.classifier = nn.Sequential()
        for spec in denses:
            if spec.dropout_before:
                self.classifier.add_module(str(len(self.classifier)), nn.Dropout(p=config.dropout))
            self.classifier.add_module(str(len(self.classifier)), nn.Linear(spec.in_features, spec.out_features))
            if spec.relu:
                self.classifier.add_module(str(len(self.classifier)), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (N, C, H, W)
        x = self.features(x)  # (N, 256, h, w)
        if x.shape[-2:] != (POOLED_SIZE, POOLED_SIZE):
            # Identity at 6x6, and skipping it keeps CUDA's deterministic mode usable
            # (its AdaptiveAvgPool2d backward has no deterministic kernel).
            x = self.avgpool(x)
        x = torch.flatten(x, 1)  # (N, 256*6*6) in (C, H, W) order: the canonical FC1 layout
        return self.classifier(x)


def build_network(config: AlexNetConfig) -> nn.Module:
    """The network as a torch module: NCHW in, logits out, torchvision's parameter names."""
    return AlexNetModule(config)


# ---------------------------------------------------------------------------- model
class TorchAlexNet(AlexNet):
    framework = "torch"

    def _build(self) -> None:
        self._device = self._find_device()
        self._dtype = _DTYPES[self.config.dtype]
        torch.manual_seed(self.seed)  # dropout masks: same seed, same masks, run after run
        self._memory_format = torch.contiguous_format if self.mode.name == "eager" else torch.channels_last
        self.net = build_network(self.config).to(device=self._device, dtype=self._dtype)
        self.net = self.net.to(memory_format=self._memory_format)
        self._params = [p for p in self.net.parameters()]
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
    def _set_weights(self, weights: Weights) -> None:
        state = {k: torch.from_numpy(v) for k, v in weights.items()}
        self.net.load_state_dict(state, strict=True)  # copies in place: keeps each parameter's layout
        for buffer in self._momentum:
            buffer.zero_()

    def _get_weights(self) -> Weights:
        return {k: v.detach().cpu().numpy().copy() for k, v in self.net.state_dict().items()}

    def _get_momentum(self) -> Weights:
        names = [name for name, _ in self.net.named_parameters()]
        return {n: m.detach().contiguous().cpu().numpy().copy() for n, m in zip(names, self._momentum)}

    def _set_momentum(self, momentum: Weights) -> None:
        names = [name for name, _ in self.net.named_parameters()]
        with torch.no_grad():
            for name, buffer in zip(names, self._momentum):
                buffer.copy_(torch.from_numpy(momentum[name]))  # copy_ keeps the buffer's layout

    def _get_rng_state(self) -> np.ndarray:
        """torch's generator of this device (dropout masks come from it)."""
        state = torch.cuda.get_rng_state() if self._device.type == "cuda" else torch.get_rng_state()
        return state.numpy().copy()

    def _set_rng_state(self, state: np.ndarray) -> None:
        tensor = torch.from_numpy(np.ascontiguousarray(state, dtype=np.uint8))
        if self._device.type == "cuda":
            torch.cuda.set_rng_state(tensor)
        else:
            torch.set_rng_state(tensor)

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
    def _predict(self, batch: DeviceBatch):
        self.net.eval()
        with torch.inference_mode():
            return self._run(batch.images).cpu().numpy()

    def _forward_loss(self, batch: DeviceBatch) -> torch.Tensor:
        self.net.train()
        for p in self._params:
            p.grad = None
        logits = self._run(batch.images)
        loss = nn.functional.cross_entropy(logits, batch.labels)  # mean over the batch
        loss.backward()
        return loss.detach()

    def _loss_and_grads(self, batch: DeviceBatch):
        loss = self._forward_loss(batch)
        names = [name for name, _ in self.net.named_parameters()]
        # .contiguous(): a channels_last gradient's numpy view would be OHWI-strided.
        grads = {n: p.grad.detach().contiguous().cpu().numpy().copy() for n, p in zip(names, self._params)}
        return loss.item(), grads

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
