"""Keras 3 on PyTorch: torch's settings (threads, TF32, devices, allocator statistics), with
KERAS_BACKEND=torch set before Keras is imported, and no data-parallel engine."""

from __future__ import annotations

from harness.backends.base import Backend
from harness.backends.torch import TorchBackend


class KerasTorchBackend(TorchBackend):
    name = "keras-torch"
    engine = ""  # impls.keras_torch refuses distribute(): see its message

    def environment(self, threads: int) -> dict[str, str]:
        return {**super().environment(threads), "KERAS_BACKEND": "torch"}

    def release_memory(self) -> None:
        import keras

        super().release_memory()
        keras.backend.clear_session(free_memory=True)

    # torch's launch (torchrun) and process group do not apply: back to the defaults
    launch = Backend.launch
    rank_and_world = Backend.rank_and_world
    local_rank = Backend.local_rank

    def data_parallel_refusal(self) -> str | None:
        return (
            "keras-torch is not data-parallel in alexbench: Keras on torch has no data-parallel engine for a "
            "custom loop (keras.distribution is JAX-only; DDP does not wrap a Keras model); "
            "use torch (DDP) or keras (tf.distribute)"
        )

    def init_distributed(self, device: str, timeout: float):
        raise NotImplementedError(self.data_parallel_refusal())

    def shutdown_distributed(self) -> None:
        """Nothing joined (init_distributed refuses)."""


BACKEND = KerasTorchBackend()
