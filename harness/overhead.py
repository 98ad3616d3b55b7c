"""Side by side: our implementation, timed by the harness worker, against a plain idiomatic
loop written directly in the framework (harness.reference.rawloops).

For one framework, mode and network, two worker processes run with the same settings
(network, threads, batch, input size, precision): `ours` is the harness worker
(harness.measure.worker, exactly the compute-only steps `alexbench run` times) and `raw` is
RawWorker below, the same worker class with the plain loop in place of our model. Both are timed by the same
code (Worker.cmd_bench_block: one perf_counter pair around each step, the step returning
the loss / the logits to the host). Blocks are interleaved, ours raw ours raw ..., so the
machine's drift hits both alike. The command is harness.commands.overhead.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import impls
from harness.measure.protocol import WorkerProcess
from harness.measure.worker import Worker
from impls.errors import AlexBenchError

TARGET = 0.97
RAW_WORKER = "harness.overhead:RawWorker"


class RawWorker(Worker):
    """The harness worker with a plain framework loop (rawloops.build) in place of our
    model: the same commands, the same timing loop."""

    loop = None

    def versions(self) -> dict:
        return {}

    def _bench_setup(self, config: dict, batch_size: int, warmup: int, seed: int, mode: str | None) -> dict:
        from harness.reference import rawloops

        if config.get("variant", "torchvision") != "torchvision":
            raise ValueError("the raw loops are torchvision's networks")
        start = time.perf_counter()
        self.loop = rawloops.build(
            self.framework, mode, batch_size=batch_size, image_size=config["image_size"][0],
            in_channels=config["in_channels"], num_classes=config["num_classes"], dropout=config["dropout"],
            device=self.device, model=config.get("model", "alexnet"), width=config.get("width", 1.0),
        )  # fmt: skip
        warm = {"train": [], "inference": []}
        for _ in range(max(1, warmup)):
            for phase in warm:
                t0 = time.perf_counter()
                self.step_function(phase, "compute_only", 0)()
                warm[phase].append(time.perf_counter() - t0)
        return {"warmup_seconds": warm, "build_s": time.perf_counter() - start, "model": self.loop.model}

    def step_function(self, phase: str, pipeline: str, block: int):
        return self.loop.train_step if phase == "train" else self.loop.predict  # each returns on the host

    def synchronize(self) -> None:
        """The loop's steps return the loss / copy the logits to the host: already synchronized."""


def measure(framework: str, mode: str, settings: dict, log_dir: Path, model: str = "alexnet") -> dict:
    """Both workers for one framework, mode and network (a name of impls.models(), which the
    raw loops write out too): set up, then interleaved blocks.

    settings: device, threads, image_size, batch_size, num_classes, width (default 1), repeats,
    warmup, train_steps, inference_steps."""
    s = settings
    config = impls.AlexNetConfig(model=model, num_classes=s["num_classes"], image_size=s["image_size"],
                                 width=s.get("width", 1.0)).to_dict()  # fmt: skip
    log = f"{model}-{framework}-{mode}"
    procs = {
        "ours": WorkerProcess(framework, s["device"], s["threads"], "ieee", log_dir / f"{log}.log"),
        "raw": WorkerProcess(framework, s["device"], s["threads"], "ieee", log_dir / f"{log}-raw.log", RAW_WORKER),
    }
    steps = {"train": s["train_steps"], "inference": s["inference_steps"]}
    seconds = {(who, phase): [] for who in procs for phase in steps}
    rounds = {(who, phase): [] for who in procs for phase in steps}
    setup = {}
    try:
        for who, proc in procs.items():
            proc.call("hello")
            setup[who] = proc.call("bench_setup", config=config, batch_size=s["batch_size"], warmup=s["warmup"],
                                   mode=mode)  # fmt: skip
        for block in range(s["repeats"]):
            order = ("ours", "raw") if block % 2 == 0 else ("raw", "ours")  # A B B A: no order bias
            for phase in steps:
                for who in order:
                    out = procs[who].call(
                        "bench_block", phase=phase, pipeline="compute_only", steps=steps[phase], block=block
                    )
                    seconds[(who, phase)] += out["seconds"]
                    rounds[(who, phase)].append(statistics.median(out["seconds"]))
    finally:
        for proc in procs.values():
            proc.close()
    if setup["raw"].get("model") != model:  # both sides must run the same network
        raise AlexBenchError(f"the raw loop built {setup['raw'].get('model')!r}, not {model!r}")
    result = {"model": model, "framework": framework, "mode": mode, "phases": {}}
    for phase in steps:
        ours, raw = seconds[("ours", phase)], seconds[("raw", phase)]
        per_round = [r / o for o, r in zip(rounds[("ours", phase)], rounds[("raw", phase)], strict=True)]
        result["phases"][phase] = {
            "ours_median_s": statistics.median(ours),
            "raw_median_s": statistics.median(raw),
            "ours_images_per_s": s["batch_size"] / statistics.median(ours),
            "raw_images_per_s": s["batch_size"] / statistics.median(raw),
            "ratio": statistics.median(raw) / statistics.median(ours),
            "ratio_rounds": per_round,
            "ours_seconds": ours,
            "raw_seconds": raw,
            "warmup_first_s": {who: setup[who]["warmup_seconds"][phase][0] for who in procs},
        }
    return result


def format_rows(results: list[dict]) -> str:
    lines = [
        f"{'model':<8} {'framework':<9} {'mode':<14} {'phase':<10} {'ours ms':>9} {'raw ms':>9} {'ratio':>6} "
        f"{'round range':>13}  target >= {TARGET}"
    ]
    for r in results:
        who = f"{r.get('model', 'alexnet'):<8} {r['framework']:<9} {r['mode']:<14}"
        if "error" in r:
            lines.append(f"{who} FAILED: {r['error']}")
            continue
        for phase, p in r["phases"].items():
            low, high = min(p["ratio_rounds"]), max(p["ratio_rounds"])
            flag = "" if p["ratio"] >= TARGET else ("  below (inside the spread)" if high >= TARGET else "  BELOW")
            lines.append(
                f"{who} {phase:<10} {p['ours_median_s'] * 1e3:>9.1f} "
                f"{p['raw_median_s'] * 1e3:>9.1f} {p['ratio']:>6.3f} {f'[{low:.2f}, {high:.2f}]':>13}{flag}"
            )
    return "\n".join(lines)
