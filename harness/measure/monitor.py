"""Peak host memory and NVML sampling (power, utilisation, board memory) of a GPU.

The NVML sampler runs in a background thread during a timed block and integrates board
power over time (trapezoids) into joules; divided by the images processed in that block
it gives joules per image. Without NVML (no NVIDIA GPU, or nvidia-ml-py not installed)
every GPU figure is None and `why` says which. Device memory as the framework's own
allocator sees it comes from harness.backends.
"""

from __future__ import annotations

import resource
import sys
import threading
import time


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


class NvmlSampler:
    """Samples power (W), utilisation (%) and board memory (bytes) of one GPU every
    `interval` seconds while running. Use as a context manager around a timed block."""

    def __init__(self, index: int = 0, interval: float = 0.05) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float, float, float]] = []  # (t, watts, util, mem)
        self.why: str | None = None
        self._handle = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            import pynvml
        except ImportError:
            self.why = "nvidia-ml-py (pynvml) not installed: pip install 'alexbench[gpu]'"
            return
        try:
            pynvml.nvmlInit()
            self._nvml = pynvml
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        except Exception as error:
            self.why = f"NVML unavailable ({error}): no NVIDIA GPU or driver"

    @property
    def available(self) -> bool:
        return self._handle is not None

    def _sample(self) -> None:
        nvml, handle = self._nvml, self._handle
        while not self._stop.is_set():
            try:
                watts = nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0
                util = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
                mem = float(nvml.nvmlDeviceGetMemoryInfo(handle).used)
                self.samples.append((time.perf_counter(), watts, util, mem))
            except Exception as error:
                self.why = f"NVML sampling failed: {error}"
                return
            self._stop.wait(self.interval)

    def __enter__(self) -> NvmlSampler:
        self.samples.clear()
        self._stop.clear()
        if self.available:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    def summary(self) -> dict[str, float | None]:
        """joules (integrated power), mean/max watts, mean utilisation, max board memory."""
        if len(self.samples) < 2:
            return {"joules": None, "watts_mean": None, "watts_max": None, "gpu_util_mean": None,
                    "board_memory_max_bytes": None}  # fmt: skip
        t = [s[0] for s in self.samples]
        w = [s[1] for s in self.samples]
        joules = sum((t[i + 1] - t[i]) * (w[i + 1] + w[i]) / 2 for i in range(len(t) - 1))
        return {
            "joules": joules,
            "watts_mean": sum(w) / len(w),
            "watts_max": max(w),
            "gpu_util_mean": sum(s[2] for s in self.samples) / len(self.samples),
            "board_memory_max_bytes": max(s[3] for s in self.samples),
        }
