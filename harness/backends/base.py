"""The interface of a framework backend: what the harness asks of a framework beyond the
AlexNet contract of impls (settings, devices, memory, the machine's matmul peak)."""

from __future__ import annotations

import gc
from collections.abc import Callable

MatmulRunner = Callable[[int], object]  # run(k): k chained n x n products, finished when it returns


class Backend:
    """One framework's answers. Subclasses set `name` and override what differs."""

    name = ""

    def environment(self, threads: int) -> dict[str, str]:
        """Environment variables to set before the framework is imported (thread pools that
        read them at start-up)."""
        return {}

    def configure(self, device: str, threads: int, tf32: bool) -> dict:
        """Threads and float32 precision after import; returns what was set, for records."""
        return {}

    def set_tf32(self, enabled: bool) -> str:
        """Allow (or forbid) TF32 for float32 matmuls and convolutions on GPUs; returns what
        was set, in words. IEEE float32 (False) is what parity needs."""
        return ""

    def gpus(self) -> list[str]:
        """Names of the GPUs this framework finds (an empty list on a CPU-only machine)."""
        return []

    def reset_device_peak(self, device: str) -> None:
        """Start a new peak of the framework allocator's device memory (where it can)."""

    def device_peak_bytes(self, device: str) -> tuple[int | None, str | None]:
        """(peak bytes, None) from the framework's own allocator, or (None, why not)."""
        if device != "gpu":
            return None, "device memory applies to GPUs; on CPU see peak host RSS"
        try:
            return self._device_peak(), None
        except NoStat as why:
            return None, str(why)
        except Exception as error:  # a missing stat must not lose the measurement
            return None, f"allocator stats unavailable: {error}"

    def _device_peak(self) -> int:
        raise NoStat(f"no allocator stats for {self.name}")

    def release_memory(self) -> None:
        """Give back what an out-of-memory attempt left allocated."""
        gc.collect()

    def matmul(self, device: str, n: int, dtype: str) -> MatmulRunner:
        """run(k): k products of two n x n matrices of `dtype` on `device`, synchronized."""
        raise NotImplementedError

    # ------------------------------------------------------------ data parallel
    engine = ""  # the framework's own data-parallel engine, in words (README, records); "": none

    def data_parallel_refusal(self) -> str | None:
        """None where this framework trains data-parallel in alexbench, else why not (the
        parity tiers 5-6 and `alexbench scale` skip it with this reason)."""
        return None if self.engine else f"{self.name} has no data-parallel engine in alexbench"

    def launch(self, world: int, ports: list[int], argv: list[str], device: str) -> list[tuple[list[str], dict]]:
        """The processes of a data-parallel run of `world` ranks on this host: (command, extra
        environment) each; `ports` are `world` free loopback ports. By default one `python -m
        harness.distributed.rank` per rank with ALEXBENCH_RANK, ALEXBENCH_WORLD and
        ALEXBENCH_COORDINATOR (127.0.0.1:ports[0]); on GPUs, rank r sees GPU r only."""
        import sys

        return [
            ([sys.executable, "-m", "harness.distributed.rank", *argv],
             {"ALEXBENCH_RANK": str(rank), "ALEXBENCH_WORLD": str(world),
              "ALEXBENCH_COORDINATOR": f"127.0.0.1:{ports[0]}",
              **({"CUDA_VISIBLE_DEVICES": str(rank)} if device == "gpu" else {})})
            for rank in range(world)
        ]  # fmt: skip

    def rank_and_world(self) -> tuple[int, int]:
        """This process's rank and the world size, as its launcher told it."""
        import os

        return int(os.environ["ALEXBENCH_RANK"]), int(os.environ["ALEXBENCH_WORLD"])

    def local_rank(self) -> int:
        """This process's rank among those of its host (ALEXBENCH_LOCAL_RANK on several hosts)."""
        import os

        return int(os.environ.get("ALEXBENCH_LOCAL_RANK", self.rank_and_world()[0]))

    def init_distributed(self, device: str, timeout: float):
        """Join the run's process group through the framework's engine (before the model is
        built); returns the engine handle that impls' AlexNet.distribute takes."""
        raise NotImplementedError(f"{self.name} has no data-parallel engine in alexbench")

    def shutdown_distributed(self) -> None:
        """Leave the process group (end of a rank's work)."""


class NoStat(Exception):
    """The framework's allocator does not report the figure (said in the message)."""
