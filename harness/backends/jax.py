"""JAX: XLA's CPU thread pool, matmul precision, devices and allocator statistics."""

from __future__ import annotations

import os

from harness.backends.base import Backend, NoStat


class JaxBackend(Backend):
    name = "jax"

    def environment(self, threads: int) -> dict[str, str]:
        flags = os.environ.get("XLA_FLAGS", "")
        return {"XLA_FLAGS": f"{flags} --xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}"}

    def configure(self, device: str, threads: int, tf32: bool) -> dict:
        import jax

        self.set_tf32(tf32)
        return {"jax_default_matmul_precision": jax.config.jax_default_matmul_precision}

    def set_tf32(self, enabled: bool) -> str:
        import jax

        precision = "tensorfloat32" if enabled else "highest"
        jax.config.update("jax_default_matmul_precision", precision)
        return f"jax_default_matmul_precision={precision}"

    def gpus(self) -> list[str]:
        import jax

        return [str(d) for d in jax.devices() if d.platform == "gpu"]

    def _device_peak(self) -> int:
        import jax

        stats = jax.devices("gpu")[0].memory_stats() or {}
        if "peak_bytes_in_use" not in stats:
            raise NoStat("JAX's allocator reports no peak_bytes_in_use")
        return int(stats["peak_bytes_in_use"])  # JAX has no reset: the peak covers the process

    def matmul(self, device: str, n: int, dtype: str):
        import jax
        import jax.numpy as jnp

        where = jax.devices("gpu" if device == "gpu" else "cpu")[0]
        a = jax.device_put(jnp.ones((n, n), getattr(jnp, dtype)), where)
        b = jax.device_put(jnp.ones((n, n), getattr(jnp, dtype)), where)
        product = jax.jit(lambda x, y: x @ y)

        def run(k: int):
            for _ in range(k):
                c = product(a, b)
            c.block_until_ready()
            return c

        return run

    # ------------------------------------------------------------ data parallel
    engine = "multi-controller jax.distributed (gloo CPU collectives; NCCL on GPUs), the batch sharded over a mesh"

    def init_distributed(self, device: str, timeout: float):
        """jax.distributed.initialize before any other JAX work; a mesh of every process's
        devices (one CPU device per process here, or each process's GPUs). A dead peer is
        noticed by the heartbeat (and the launcher kills what is left); SIGTERM is left to
        the launcher (JAX's preemption service would swallow it)."""
        import os

        import jax
        import numpy as np
        from jax.sharding import Mesh

        rank, world = self.rank_and_world()
        jax.config.update("jax_enable_preemption_service", False)
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(
            coordinator_address=os.environ["ALEXBENCH_COORDINATOR"], num_processes=world, process_id=rank,
            initialization_timeout=int(timeout), heartbeat_timeout_seconds=30, shutdown_timeout_seconds=int(timeout),
        )  # fmt: skip
        return Mesh(np.array(jax.devices()), ("data",))

    def shutdown_distributed(self) -> None:
        import jax

        jax.distributed.shutdown()


BACKEND = JaxBackend()
