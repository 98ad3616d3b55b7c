"""PyTorch: threads, TF32 switches, CUDA devices and allocator statistics."""

from __future__ import annotations

from harness.backends.base import Backend


class TorchBackend(Backend):
    name = "torch"

    def configure(self, device: str, threads: int, tf32: bool) -> dict:
        import torch

        torch.set_num_threads(threads)
        self.set_tf32(tf32)
        return {"torch_threads": torch.get_num_threads()}

    def set_tf32(self, enabled: bool) -> str:
        import torch

        mode = "tf32" if enabled else "ieee"
        try:
            torch.backends.cuda.matmul.fp32_precision = mode
            torch.backends.cudnn.conv.fp32_precision = mode
        except AttributeError:  # older torch
            torch.backends.cuda.matmul.allow_tf32 = enabled
            torch.backends.cudnn.allow_tf32 = enabled
        return f"cudnn.conv and cuda.matmul fp32_precision={mode}"

    def gpus(self) -> list[str]:
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]

    def reset_device_peak(self, device: str) -> None:
        import torch

        if device == "gpu" and torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    def _device_peak(self) -> int:
        import torch

        return int(torch.cuda.max_memory_allocated())

    def release_memory(self) -> None:
        import torch

        super().release_memory()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def matmul(self, device: str, n: int, dtype: str):
        import torch

        where = "cuda" if device == "gpu" else "cpu"
        a = torch.randn(n, n, device=where).to(getattr(torch, dtype))
        b = torch.randn(n, n, device=where).to(getattr(torch, dtype))

        def run(k: int):
            for _ in range(k):
                c = a @ b
            if where == "cuda":
                torch.cuda.synchronize()
            return c

        return run

    # ------------------------------------------------------------ data parallel
    engine = "DistributedDataParallel (gloo on CPU, NCCL on GPUs), processes started by torchrun"

    def launch(self, world: int, ports: list[int], argv: list[str], device: str):
        """One torchrun, which starts the ranks itself (RANK, WORLD_SIZE, MASTER_ADDR/PORT) and
        tears them all down when one fails; c10d rendezvous on loopback (--rdzv-endpoint)."""
        import sys

        command = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={world}", "--nnodes=1",
                   "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{ports[0]}", "--max-restarts=0",
                   "--module", "harness.distributed.rank", *argv]  # fmt: skip
        return [(command, {})]

    def rank_and_world(self) -> tuple[int, int]:
        import os

        return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])

    def local_rank(self) -> int:
        import os

        return int(os.environ["LOCAL_RANK"])

    def init_distributed(self, device: str, timeout: float):
        import datetime

        import torch.distributed as dist

        if device == "gpu":
            import torch

            torch.cuda.set_device(self.local_rank())  # torchrun's ranks all see every GPU of the host
        dist.init_process_group("nccl" if device == "gpu" else "gloo", timeout=datetime.timedelta(seconds=timeout))
        return dist.group.WORLD

    def shutdown_distributed(self) -> None:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


BACKEND = TorchBackend()
