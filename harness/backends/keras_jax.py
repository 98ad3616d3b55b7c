"""Keras 3 on JAX: JAX's settings (threads, matmul precision, devices, allocator statistics),
with KERAS_BACKEND=jax set before Keras is imported, and no data-parallel engine."""

from __future__ import annotations

from harness.backends.jax import JaxBackend


class KerasJaxBackend(JaxBackend):
    name = "keras-jax"
    engine = ""  # impls.keras_jax refuses distribute(): see its message

    def environment(self, threads: int) -> dict[str, str]:
        return {**super().environment(threads), "KERAS_BACKEND": "jax"}

    def release_memory(self) -> None:
        import keras

        super().release_memory()
        keras.backend.clear_session(free_memory=True)

    def data_parallel_refusal(self) -> str | None:
        return (
            "keras-jax is not data-parallel in alexbench: its step is a stateless_call under jax.jit on one device, "
            "and Keras's keras.distribution API drives fit(), not a custom loop; "
            "use jax (a sharded global batch) or keras (tf.distribute)"
        )

    def init_distributed(self, device: str, timeout: float):
        raise NotImplementedError(self.data_parallel_refusal())

    def shutdown_distributed(self) -> None:
        """Nothing joined (init_distributed refuses)."""


BACKEND = KerasJaxBackend()
