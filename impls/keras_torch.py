"""The networks in Keras 3 on the PyTorch backend: impls.keras_network's model (the same
Keras lowering as on TensorFlow), trained the way Keras documents a custom loop on PyTorch
("Writing a training loop from scratch in PyTorch"): the model called eagerly, torch
autograd through it (`loss.backward()`), the gradients read from the Keras variables' torch
tensors (`variable.value.grad`), and the update applied to those tensors in place.

The update rule is torch_alexnet's, with torch's foreach kernels, on momentum buffers of
torch tensors. Keras on torch keeps NHWC at its boundary (its convolutions transpose to
torch's NCHW inside): that is part of what Keras costs over native torch.

Modes (impls.modes): "eager" (the default); "bf16": Keras's "mixed_bfloat16" policy
(float32 variables, momentum and gradients, bfloat16 compute, the loss on float32 logits).
"""

from __future__ import annotations

import contextlib

from impls import keras_select

keras_select.use("keras-torch", "torch")  # before Keras is imported: Keras picks its backend once

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from impls.base import DeviceBatch  # noqa: E402
from impls.errors import ConfigError, DeviceUnavailableError  # noqa: E402
from impls.keras_network import KerasModel, float64_promotion, mean_cross_entropy, normalize  # noqa: E402


class KerasTorchAlexNet(KerasModel):
    framework = "keras-torch"

    def _build(self) -> None:
        self._keras_device = self._find_device()
        with keras.device(self._keras_device):
            self._build_network(self._policy())
        self._tensors = [variable.value for variable in self._params]  # torch Parameters, canonical order
        self._momentum = [torch.zeros_like(t) for t in self._tensors]
        self._norm = None  # uint8 input: (scale, shift) torch tensors, set by set_input_norm

    def _find_device(self) -> str:
        if self.device != "gpu":
            return "cpu"
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(
                "PyTorch finds no CUDA GPU (torch.cuda.is_available() is False); use --device cpu, "
                "or install a CUDA build of torch on a machine with an NVIDIA GPU"
            )
        return "cuda"

    def _scope(self):
        """On the model's device (Keras on torch otherwise takes the GPU if any), and for a
        float64 model with float64 kept in Keras's type promotion, for this call only."""
        stack = contextlib.ExitStack()
        stack.enter_context(keras.device(getattr(self, "_keras_device", "cpu")))
        stack.enter_context(float64_promotion(self.config.dtype == "float64"))
        return stack

    # --------------------------------------------------------------- momentum
    def _zero_momentum(self) -> None:
        for buffer in self._momentum:
            buffer.zero_()

    def _read_momentum(self) -> dict:
        return {n: m.detach().cpu().numpy() for n, m in zip(self._names, self._momentum, strict=True)}

    def _load_momentum(self, native: dict[str, np.ndarray]) -> None:
        with torch.no_grad():
            for name, buffer in zip(self._names, self._momentum, strict=True):
                buffer.copy_(torch.from_numpy(native[name]))

    def _distribute(self, engine, reduce: str) -> None:
        raise ConfigError(
            "keras-torch is not data-parallel in alexbench: Keras on torch has no data-parallel engine for a custom "
            "loop (keras.distribution supports JAX only, and DistributedDataParallel does not wrap a Keras model); "
            "use torch (DDP) or keras (tf.distribute) for data-parallel runs"
        )

    # ------------------------------------------------------------------ data
    def _to_device(self, images: np.ndarray, labels: np.ndarray | None):
        x = torch.from_numpy(images).to(self._keras_device)  # NHWC, as Keras takes it
        y = None if labels is None else torch.from_numpy(labels).to(self._keras_device)
        return x, y

    def _set_input_norm(self, scale: np.ndarray, shift: np.ndarray) -> None:
        self._norm = tuple(torch.from_numpy(v).to(self._keras_device) for v in (scale, shift))

    def synchronize(self) -> None:
        if self._keras_device == "cuda":
            torch.cuda.synchronize()

    # --------------------------------------------------------------- compute
    def _logits(self, images: torch.Tensor, training: bool) -> torch.Tensor:
        if images.dtype == torch.uint8:
            images = normalize(images, *self._norm, self.config.dtype, self.config.in_channels)
        return self.net(images, training=training).to(self._tensors[0].dtype)  # the loss in float32 in every mode

    def _predict(self, batch: DeviceBatch, training: bool):
        kept = self._kept_buffers()
        with torch.no_grad():
            logits = self._logits(batch.images, training=training).cpu().numpy()
        self._restore_buffers(kept)
        return logits

    def _kept_buffers(self) -> list[torch.Tensor]:
        return [variable.value.detach().clone() for variable in self._buffers]

    def _restore_buffers(self, kept: list[torch.Tensor]) -> None:
        """BatchNorm's running statistics as they were (a train-mode pass updates them)."""
        for variable, value in zip(self._buffers, kept, strict=True):
            variable.assign(value)

    def _forward_loss(self, batch: DeviceBatch) -> torch.Tensor:
        for tensor in self._tensors:
            tensor.grad = None
        loss = mean_cross_entropy(batch.labels, self._logits(batch.images, training=True))
        loss.backward()
        return loss.detach()

    def _loss_and_grads(self, batch: DeviceBatch):
        kept = self._kept_buffers()
        loss = self._forward_loss(batch)
        self._restore_buffers(kept)
        return loss.item(), {n: t.grad.detach().cpu().numpy() for n, t in zip(self._names, self._tensors, strict=True)}

    def _train_step(self, batch: DeviceBatch):
        loss = self._forward_loss(batch)
        self._sgd_update([t.grad for t in self._tensors])
        return loss.item()

    def _sgd_update(self, grads: list[torch.Tensor]) -> None:
        """The update rule of impls.config.SGDConfig, in place (torch_alexnet's, foreach kernels)."""
        opt = self.optimizer
        with torch.no_grad():
            torch._foreach_add_(grads, self._tensors, alpha=opt.weight_decay)  # g += wd * w
            torch._foreach_mul_(self._momentum, opt.momentum)  # v = mu * v + g
            torch._foreach_add_(self._momentum, grads)
            torch._foreach_add_(self._tensors, self._momentum, alpha=-opt.lr)  # w -= lr * v

    @classmethod
    def versions(cls) -> dict[str, str]:
        return {"keras": keras.__version__, "torch": torch.__version__}
