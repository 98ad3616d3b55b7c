"""One framework on one device, in its own process, driven by `harness.run`.

    python -m harness.worker FRAMEWORK DEVICE THREADS PRECISION

The parent writes one JSON command per line to stdin; the worker answers on its
original stdout with JSON lines: any number of {"progress": n}, then {"ok": result} or
{"error": message, "traceback": text}. Everything else the framework prints goes to
stderr (stdout is redirected there), which the parent saves as the worker's log.

Fair settings are applied here before the framework is imported: the same number of
CPU threads for every framework, no GPU memory grabbing (TF memory growth, JAX without
preallocation), and IEEE float32 on GPUs unless TF32 is asked for (parity-grade math).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback

import numpy as np


def apply_settings(framework: str, device: str, threads: int, precision: str) -> dict:
    """Set threads, memory and TF32 behaviour before/after importing the framework; returns
    what was set, for the record."""
    settings = {"threads": threads, "tf32": precision == "tf32"}
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    if framework == "jax":
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}"
        import jax

        jax.config.update("jax_default_matmul_precision", "tensorfloat32" if settings["tf32"] else "highest")
        settings["jax_default_matmul_precision"] = jax.config.jax_default_matmul_precision
    elif framework == "torch":
        import torch

        torch.set_num_threads(threads)
        mode = "tf32" if settings["tf32"] else "ieee"
        try:
            torch.backends.cuda.matmul.fp32_precision = mode
            torch.backends.cudnn.conv.fp32_precision = mode
        except AttributeError:  # older torch
            torch.backends.cuda.matmul.allow_tf32 = settings["tf32"]
            torch.backends.cudnn.allow_tf32 = settings["tf32"]
        settings["torch_threads"] = torch.get_num_threads()
    elif framework == "keras":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
        tf.config.experimental.enable_tensor_float_32_execution(settings["tf32"])
    return settings


class Worker:
    def __init__(self, framework: str, device: str, threads: int, precision: str, channel) -> None:
        self.framework, self.device, self.channel = framework, device, channel
        self.settings = apply_settings(framework, device, threads, precision)
        import impls

        self.impl = impls.implementation_class(framework)
        self.model = None
        self.bench: dict = {}

    def send(self, message: dict) -> None:
        self.channel.write(json.dumps(message) + "\n")
        self.channel.flush()

    # ------------------------------------------------------------------ commands
    def cmd_hello(self) -> dict:
        return {"versions": self.impl.versions(), "settings": self.settings, "pid": os.getpid()}

    def cmd_train(self, settings: dict, data_dir: str | None = None, dataset: str = "fashion-mnist") -> dict:
        from dataclasses import asdict

        from harness import monitor
        from harness.train import TrainSettings, load_data, train_and_evaluate

        train_settings = TrainSettings(**settings)
        train_set, test_set = load_data(train_settings, data_dir, dataset)
        total = train_settings.epochs * (len(train_set) + len(test_set))
        self.send({"total": total})
        start = time.perf_counter()
        result = train_and_evaluate(
            self.framework, train_settings, train_set, test_set, self.device, show_progress=False,
            progress=lambda n: self.send({"progress": n}),
        )  # fmt: skip
        peak, why = monitor.device_peak_bytes(self.framework, self.device)
        return {
            "epochs": [asdict(e) for e in result.epochs],
            "diverged": result.diverged,
            "notes": result.notes,
            "dataset": result.dataset,
            "train_examples": len(train_set),
            "test_examples": len(test_set),
            "seconds": time.perf_counter() - start,
            "peak_rss_bytes": monitor.peak_rss_bytes(),
            "device_peak_bytes": peak,
            "device_peak_why": why,
        }

    def cmd_bench_setup(
        self, config: dict, batch_size: int, warmup: int, seed: int = 0, oom_above: int = 0, mode: str | None = None
    ) -> dict:
        """Build the model and data, warm up; on out-of-memory, retry with half the batch
        (down to 1) and say so. `oom_above` simulates a device that fits only that many."""
        notes = []
        while True:
            try:
                if oom_above and batch_size > oom_above:
                    raise MemoryError(f"simulated out of memory at batch {batch_size}")
                out = self._bench_setup(config, batch_size, warmup, seed, mode)
                break
            except Exception as error:
                if not is_out_of_memory(error) or batch_size == 1:
                    raise
                notes.append(
                    f"out of memory at batch {batch_size} ({type(error).__name__}); retried at {batch_size // 2}"
                )
                self.model, self.bench = None, {}
                _release_memory(self.framework)
                batch_size //= 2
        return {**out, "batch_size": batch_size, "notes": notes}

    def _bench_setup(self, config: dict, batch_size: int, warmup: int, seed: int, mode: str | None) -> dict:
        """Build the model and data for throughput blocks; time the warm-up steps (the
        first includes compilation/tracing) separately from everything measured later."""
        import impls
        from harness import data, monitor

        cfg = impls.AlexNetConfig(**{**config, "image_size": tuple(config["image_size"])})
        monitor.reset_device_peak(self.framework, self.device)
        self.model = self.impl(cfg, device=self.device, seed=seed, mode=mode)
        # The pipeline's source: uint8 images at the model's size, preprocessed per step.
        source = data.synthetic(batch_size * 4, cfg.image_size, cfg.in_channels, cfg.num_classes, seed)
        preprocess = data.Preprocess(
            cfg.image_size, cfg.in_channels, (0.5,) * cfg.in_channels, (0.25,) * cfg.in_channels
        )
        self.bench = {"source": source, "preprocess": preprocess, "batch_size": batch_size, "config": cfg}
        images, labels = next(data.batches(source, batch_size, preprocess, seed=seed))
        self.bench["device_batch"] = self.model.device_batch(images, labels)
        warm = {"train": [], "inference": []}
        for _ in range(max(1, warmup)):
            start = time.perf_counter()
            self.model.train_step(self.bench["device_batch"])
            warm["train"].append(time.perf_counter() - start)
            start = time.perf_counter()
            self.model.predict(self.bench["device_batch"])
            warm["inference"].append(time.perf_counter() - start)
        # End-to-end steps run the numpy pipeline and a host->device copy: warm those too.
        self.model.train_step(images, labels)
        self.model.predict(images)
        return {"warmup_seconds": warm}

    def cmd_bench_block(self, phase: str, pipeline: str, steps: int, block: int) -> dict:
        """`steps` timed steps; the device is synchronized around each one (train_step
        returns the loss to the host, predict the logits, which waits for the device)."""
        from harness import data, monitor

        b = self.bench
        model, batch_size = self.model, b["batch_size"]
        pipeline = data.batches(b["source"], batch_size, b["preprocess"], seed=block, epoch=block, drop_last=True)
        times, losses = [], []
        sampler = monitor.NvmlSampler() if self.device == "gpu" else None
        model.synchronize()
        block_start = time.perf_counter()
        with sampler or _Null():
            for _ in range(steps):
                start = time.perf_counter()
                if pipeline == "end_to_end":
                    try:
                        images, labels = next(pipeline)
                    except StopIteration:
                        pipeline = data.batches(b["source"], batch_size, b["preprocess"], seed=block, drop_last=True)
                        images, labels = next(pipeline)
                    if phase == "train":
                        losses.append(model.train_step(images, labels))
                    else:
                        model.predict(images)
                elif phase == "train":
                    losses.append(model.train_step(b["device_batch"]))
                else:
                    model.predict(b["device_batch"])
                model.synchronize()
                times.append(time.perf_counter() - start)
                self.send({"progress": 1})
        out = {"seconds": times, "block_seconds": time.perf_counter() - block_start}
        if losses and not all(np.isfinite(losses)):
            out["nonfinite_loss"] = True
        if sampler is not None:
            out["nvml"] = sampler.summary()
            out["nvml_why"] = sampler.why
        return out

    def cmd_peak(self, size: int = 2048, trials: int = 3, budget: float = 0.25) -> dict:
        """This device's measured matmul peak (GFLOP/s) in float32 and bfloat16 through this
        framework: the best of `trials` timings of square products (2 n^3 FLOPs each).
        Bounded in time: where one product takes over `budget` seconds (a slow bf16 path on
        a CPU without native support, say) n is halved, down to 256."""
        peaks = {}
        for dtype in ("float32", "bfloat16"):
            n = size
            try:
                while True:
                    run = _matmul_function(self.framework, self.device, n)(dtype)
                    run(1)  # compile / warm up
                    one = _timed(run, 1)
                    if one <= budget or n <= 256:
                        break
                    n //= 2
                repeats = max(1, min(10, int(budget / max(one, 1e-6))))
                best = min(_timed(run, repeats) for _ in range(trials))
                peaks[dtype] = 2 * n**3 * repeats / best / 1e9
                peaks[f"{dtype}_size"] = n
            except Exception as error:  # e.g. no bf16 kernel on this device
                peaks[dtype] = None
                peaks[f"{dtype}_why"] = f"{type(error).__name__}: {error}"
        return peaks

    def cmd_memory(self) -> dict:
        from harness import monitor

        peak, why = monitor.device_peak_bytes(self.framework, self.device)
        return {"peak_rss_bytes": monitor.peak_rss_bytes(), "device_peak_bytes": peak, "device_peak_why": why}

    def cmd_crash(self, code: int = 3) -> dict:  # for tests: die like a segfaulting framework would
        os._exit(code)


def _timed(run, repeats: int) -> float:
    start = time.perf_counter()
    run(repeats)
    return time.perf_counter() - start


def _matmul_function(framework: str, device: str, n: int):
    """dtype -> run(k): k chained n x n products, finished (synchronized) on return."""
    if framework == "torch":
        import torch

        dev = "cuda" if device == "gpu" else "cpu"

        def make(dtype):
            a = torch.randn(n, n, device=dev).to(getattr(torch, dtype))
            b = torch.randn(n, n, device=dev).to(getattr(torch, dtype))

            def run(k):
                for _ in range(k):
                    c = a @ b
                if dev == "cuda":
                    torch.cuda.synchronize()
                return c

            return run

        return make
    if framework == "jax":
        import jax
        import jax.numpy as jnp

        dev = jax.devices("gpu" if device == "gpu" else "cpu")[0]

        def make(dtype):
            a = jax.device_put(jnp.ones((n, n), getattr(jnp, dtype)), dev)
            b = jax.device_put(jnp.ones((n, n), getattr(jnp, dtype)), dev)
            product = jax.jit(lambda x, y: x @ y)

            def run(k):
                for _ in range(k):
                    c = product(a, b)
                c.block_until_ready()
                return c

            return run

        return make
    import tensorflow as tf

    def make(dtype):
        with tf.device("/GPU:0" if device == "gpu" else "/CPU:0"):
            a = tf.cast(tf.random.normal((n, n)), dtype)
            b = tf.cast(tf.random.normal((n, n)), dtype)

        def run(k):
            for _ in range(k):
                c = tf.matmul(a, b)
            return c.numpy()  # waits for the device

        return run

    return make


def is_out_of_memory(error: BaseException) -> bool:
    """Out-of-memory in any framework: torch.OutOfMemoryError, TF ResourceExhaustedError,
    XLA RESOURCE_EXHAUSTED, or a host MemoryError."""
    text = f"{type(error).__name__} {error}"
    return isinstance(error, MemoryError) or any(
        marker in text for marker in ("OutOfMemory", "out of memory", "ResourceExhausted", "RESOURCE_EXHAUSTED")
    )


def _release_memory(framework: str) -> None:
    import gc

    gc.collect()
    if framework == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def serve(argv: list[str]) -> int:
    framework, device, threads, precision = argv[0], argv[1], int(argv[2]), argv[3]
    channel = os.fdopen(os.dup(1), "w")  # the protocol keeps the real stdout...
    os.dup2(2, 1)  # ...and anything else printed to fd 1 goes to the log (stderr)
    sys.stdout = sys.stderr
    worker = None
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        command = message.pop("cmd")
        if command == "exit":
            break
        try:
            if worker is None:
                worker = Worker(framework, device, threads, precision, channel)
            result = getattr(worker, f"cmd_{command}")(**message)
            channel.write(json.dumps({"ok": result}, default=_json_default) + "\n")
        except BaseException as error:  # report everything; the parent decides
            from impls.errors import AlexBenchError

            text = f"{type(error).__name__}: {error}" if not isinstance(error, AlexBenchError) else str(error)
            channel.write(json.dumps({"error": text, "traceback": traceback.format_exc()}) + "\n")
        channel.flush()
    return 0


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1:]))
