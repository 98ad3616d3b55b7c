"""One framework on one device, in its own process: the commands a run sends, and the one
timing loop every throughput figure comes from.

Started by harness.measure.protocol.WorkerProcess (`python -m harness.measure.protocol`),
which applies nothing itself: this worker applies the fair settings (plan.apply_settings)
before the framework is imported. A subclass can replace what is timed (the model and
its step functions) and keep the timing: `alexbench overhead` times plain framework
loops through the very same `cmd_bench_block`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np

from harness import backends
from harness.data.pipeline import Position
from harness.measure import monitor
from harness.measure.plan import apply_settings


def timed_steps(step: Callable[[], object], steps: int, synchronize: Callable[[], None], on_step=None) -> list[float]:
    """Run `step` `steps` times; seconds of each, the device synchronized inside every
    timing (a step that returns the loss or the logits to the host has waited already)."""
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        synchronize()
        times.append(time.perf_counter() - start)
        if on_step is not None:
            on_step()
    return times


class Worker:
    """The commands of a worker process: hello, train, bench_setup, bench_block, peak, memory."""

    def __init__(self, framework: str, device: str, threads: int, precision: str, channel) -> None:
        self.framework, self.device, self.channel = framework, device, channel
        self.settings = apply_settings(framework, device, threads, precision)
        self.backend = backends.get(framework)
        self.model = None
        self.bench: dict = {}

    def send(self, message: dict) -> None:
        self.channel.send(message)

    # ------------------------------------------------------------------ commands
    def cmd_hello(self) -> dict:
        return {"versions": self.versions(), "settings": self.settings, "pid": os.getpid()}

    def versions(self) -> dict:
        import impls

        return impls.implementation_class(self.framework).versions()

    def cmd_train(
        self, settings: dict, data_dir: str | None = None, dataset: str = "fashion-mnist", checkpoint: str | None = None
    ) -> dict:
        from dataclasses import asdict

        from harness.training import TrainSettings, load_data, train_and_evaluate

        train_settings = TrainSettings(**settings)
        train_set, test_set = load_data(train_settings, data_dir, dataset)
        # every epoch trains once and evaluates the test split evals_per_epoch times
        total = train_settings.epochs * (len(train_set) + max(1, train_settings.evals_per_epoch) * len(test_set))
        self.send({"total": total})
        start = time.perf_counter()
        result = train_and_evaluate(
            self.framework, train_settings, train_set, test_set, self.device, show_progress=False,
            progress=lambda n: self.send({"progress": n}), checkpoint=checkpoint,
        )  # fmt: skip
        peak, why = self.backend.device_peak_bytes(self.device)
        return {
            "epochs": [asdict(e) for e in result.epochs],
            "curve": [asdict(p) for p in result.curve],
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
        self, config: dict, batch_size: int, warmup: int, seed: int = 0, mode: str | None = None
    ) -> dict:
        """Build the model and data, warm up; on out-of-memory, retry with half the batch
        (down to 1) and say so."""
        notes = []
        while True:
            try:
                out = self._bench_setup(config, batch_size, warmup, seed, mode)
                break
            except Exception as error:
                if not is_out_of_memory(error) or batch_size == 1:
                    raise
                notes.append(
                    f"out of memory at batch {batch_size} ({type(error).__name__}); retried at {batch_size // 2}"
                )
                self.model, self.bench = None, {}
                self.backend.release_memory()
                batch_size //= 2
        return {**out, "batch_size": batch_size, "notes": notes}

    def _bench_setup(self, config: dict, batch_size: int, warmup: int, seed: int, mode: str | None) -> dict:
        """Build the model and data for throughput blocks; time the warm-up steps (the
        first includes compilation/tracing) separately from everything measured later."""
        import impls

        cfg = impls.AlexNetConfig.from_dict(config)
        self.backend.reset_device_peak(self.device)
        # The input pipeline of end-to-end steps (harness.data.pipeline, as training uses it):
        # synthetic uint8 images prepared at the model's size, random crops and flips, batches
        # made by worker threads ahead of the step, normalized on the device.
        pipeline = bench_pipeline(cfg, batch_size, seed)
        self.model = impls.create(self.framework, cfg, device=self.device, seed=seed, mode=mode,
                                  input_norm=pipeline.prepared.norm)  # fmt: skip
        self.bench = {"pipeline": pipeline, "batch_size": batch_size, "config": cfg}
        images, labels = pipeline.batch(0, 0)
        self.bench["device_batch"] = self.model.device_batch(images, labels)
        warm = {"train": [], "inference": []}
        for _ in range(max(1, warmup)):
            for phase in warm:
                warm[phase] += timed_steps(self.step_function(phase, "compute_only", 0), 1, lambda: None)
        # End-to-end steps run the numpy pipeline and a host->device copy: warm those too.
        self.model.train_step(images, labels)
        self.model.predict(images)
        return {"warmup_seconds": warm}

    def step_function(self, phase: str, pipeline: str, block: int) -> Callable[[], object]:
        """One step of `phase` ("train": returns the loss; "inference") fed by `pipeline`:
        "compute_only" (the batch already on the device) or "end_to_end" (uint8 batches from
        the input pipeline, made ahead by its threads; each batch's host-to-device copy is
        started before the step on the batch before it, so the two overlap where they can)."""
        b, model = self.bench, self.model
        run = model.train_step if phase == "train" else model.predict
        if pipeline != "end_to_end":
            return lambda: run(b["device_batch"])
        with_labels = phase == "train"
        batches = (batch for _, batch in b["pipeline"].stream(Position(epoch=block)))
        state = {"next": _to_device(model, next(batches), with_labels)}  # the first copy: before any timing

        def step():
            current = state["next"]
            state["next"] = _to_device(model, next(batches), with_labels)  # batch k+1 on its way during step k
            return run(current)

        return step

    def synchronize(self) -> None:
        self.model.synchronize()

    def cmd_bench_block(self, phase: str, pipeline: str, steps: int, block: int) -> dict:
        """`steps` timed steps (timed_steps); train steps' losses checked for NaN/inf."""
        step = self.step_function(phase, pipeline, block)
        losses = []

        def recorded():
            out = step()
            if phase == "train":
                losses.append(out)

        sampler = monitor.NvmlSampler() if self.device == "gpu" else None
        self.synchronize()
        block_start = time.perf_counter()
        with sampler or _Null():
            times = timed_steps(recorded, steps, self.synchronize, lambda: self.send({"progress": 1}))
        out = {"seconds": times, "block_seconds": time.perf_counter() - block_start}
        if losses and not all(np.isfinite(np.asarray(losses, dtype=float))):
            out["nonfinite_loss"] = True
        if sampler is not None:
            out["nvml"] = sampler.summary()
            out["nvml_why"] = sampler.why
        return out

    def cmd_peak(self, size: int = 2048, trials: int = 3, budget: float = 0.25) -> dict:
        """This device's measured matmul peak (GFLOP/s) in float32 and bfloat16 through this
        framework: the best of `trials` timings of square products (2 n^3 FLOPs each).
        Bounded in time: n starts at 256 and doubles up to `size` while one product stays
        within `budget` seconds (doubling n costs 8x), so a slow path (bf16 on a CPU without
        native support, say) is found in a fraction of a second, not after minutes."""
        peaks = {}
        for dtype in ("float32", "bfloat16"):
            n = min(256, size)
            try:
                while True:
                    run = self.backend.matmul(self.device, n, dtype)
                    run(1)  # compile / warm up
                    one = _timed(run, 1)
                    if n >= size or 8 * one > budget:
                        break
                    n *= 2
                repeats = max(1, min(10, int(budget / max(one, 1e-6))))
                best = min(_timed(run, repeats) for _ in range(trials))
                peaks[dtype] = 2 * n**3 * repeats / best / 1e9
                peaks[f"{dtype}_size"] = n
            except Exception as error:  # e.g. no bf16 kernel on this device
                peaks[dtype] = None
                peaks[f"{dtype}_why"] = f"{type(error).__name__}: {error}"
        return peaks

    def cmd_memory(self) -> dict:
        peak, why = self.backend.device_peak_bytes(self.device)
        return {"peak_rss_bytes": monitor.peak_rss_bytes(), "device_peak_bytes": peak, "device_peak_why": why}


def bench_pipeline(config, batch_size: int, seed: int = 0):
    """The input pipeline throughput runs use: 4 batches' worth (at least 1,024) of seeded
    synthetic uint8 images at the model's size, prepared once, crops and flips."""
    from harness import data

    source = data.synthetic(max(4 * batch_size, 1024), config.image_size, config.in_channels, config.num_classes,
                            seed)  # fmt: skip
    pad = round(config.image_size[0] * data.Augment().crop_padding)
    prepared = data.prepare(source, config.image_size, config.in_channels, pad)
    return data.Pipeline(prepared, batch_size, seed, augment=data.Augment(), drop_last=True)


def _to_device(model, batch, with_labels: bool):
    images, labels = batch
    return model.device_batch(images, labels if with_labels else None)


def _timed(run, repeats: int) -> float:
    start = time.perf_counter()
    run(repeats)
    return time.perf_counter() - start


def is_out_of_memory(error: BaseException) -> bool:
    """Out-of-memory in any framework: torch.OutOfMemoryError, TF ResourceExhaustedError,
    XLA RESOURCE_EXHAUSTED, or a host MemoryError."""
    text = f"{type(error).__name__} {error}"
    return isinstance(error, MemoryError) or any(
        marker in text for marker in ("OutOfMemory", "out of memory", "ResourceExhausted", "RESOURCE_EXHAUSTED")
    )


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
