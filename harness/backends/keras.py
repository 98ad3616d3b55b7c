"""Keras 3 on TensorFlow: threads, TF32, GPUs and allocator statistics (TensorFlow's)."""

from __future__ import annotations

import contextlib

from harness.backends.base import Backend


class KerasBackend(Backend):
    name = "keras"

    def environment(self, threads: int) -> dict[str, str]:
        return {"KERAS_BACKEND": "tensorflow"}  # Keras reads it once, at import

    def configure(self, device: str, threads: int, tf32: bool) -> dict:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
        self.set_tf32(tf32)
        return {}

    def set_tf32(self, enabled: bool) -> str:
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(enabled)
        return f"enable_tensor_float_32_execution({enabled})"

    def gpus(self) -> list[str]:
        import tensorflow as tf

        return [d.name for d in tf.config.list_physical_devices("GPU")]

    def reset_device_peak(self, device: str) -> None:
        import tensorflow as tf

        if device == "gpu":
            with contextlib.suppress(Exception):  # no GPU after all: nothing to reset
                tf.config.experimental.reset_memory_stats("GPU:0")

    def _device_peak(self) -> int:
        import tensorflow as tf

        return int(tf.config.experimental.get_memory_info("GPU:0")["peak"])

    def release_memory(self) -> None:
        """Keras keeps every model it built reachable through its global state: clear it."""
        import keras

        super().release_memory()
        keras.backend.clear_session(free_memory=True)

    def matmul(self, device: str, n: int, dtype: str):
        import tensorflow as tf

        with tf.device("/GPU:0" if device == "gpu" else "/CPU:0"):
            a = tf.cast(tf.random.normal((n, n)), dtype)
            b = tf.cast(tf.random.normal((n, n)), dtype)

        def run(k: int):
            for _ in range(k):
                c = tf.matmul(a, b)
            return c.numpy()  # waits for the device

        return run

    # ------------------------------------------------------------ data parallel
    engine = "tf.distribute.MultiWorkerMirroredStrategy (TF_CONFIG), a custom tf.function step"

    def launch(self, world: int, ports: list[int], argv: list[str], device: str):
        """One process per worker, each told the cluster through TF_CONFIG (loopback ports)."""
        import json

        cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
        processes = super().launch(world, ports, argv, device)
        for rank, (_, extra) in enumerate(processes):
            extra["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": rank}})
        return processes

    def init_distributed(self, device: str, timeout: float):
        """The strategy, created before any TensorFlow op ("collective ops must be configured
        at program startup"), with a timeout on every collective: ring all-reduce between CPUs,
        NCCL between GPUs."""
        import tensorflow as tf

        how = tf.distribute.experimental.CommunicationImplementation
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=how.NCCL if device == "gpu" else how.RING, timeout_seconds=timeout
        )
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


BACKEND = KerasBackend()
