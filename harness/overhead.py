"""Side by side: our implementation, timed by the harness, against a plain idiomatic loop.

    alexbench overhead                                  # every framework, its default mode
    alexbench overhead --modes all --repeats 7          # every mode of every framework
    alexbench overhead --frameworks torch --modes torch=eager+compile --image-size 128

A benchmark, not a test: for each framework and mode, two subprocesses run with the same
settings (threads, batch, input size, precision): `ours` is the real harness worker
(harness.worker, exactly the compute-only steps `alexbench run` times) and `raw` is the
loop in harness.rawloops, written directly in the framework. Each is timed by the same
code path (the worker's bench_block: one perf_counter pair around each step, the step
returning the loss / the logits to the host). Blocks are interleaved, ours raw ours
raw ..., so the machine's drift hits both alike.

Printed per framework, mode and phase: the median step time of each, and the ratio
raw / ours (our throughput as a fraction of the raw loop's; >= 0.97 is the target; < 1
means the harness costs something). The ratio's spread is the range of the per-round
ratios (one ours block against the raw block next to it). Results go to
results/overhead/overhead-<UTC time>.json (atomically); nothing else is written.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from harness import records
from impls.errors import AlexBenchError, ConfigError
from impls.modes import DEFAULT_MODE, parse_modes

TARGET = 0.97


# ------------------------------------------------------------------ the raw-loop worker
class RawWorker:
    """The raw loop behind the same JSON-lines commands as harness.worker.Worker
    (hello, bench_setup, bench_block), so both are driven and timed alike."""

    def __init__(self, framework: str, device: str, threads: int, precision: str, channel) -> None:
        from harness.worker import apply_settings

        self.framework, self.device, self.channel = framework, device, channel
        self.settings = apply_settings(framework, device, threads, precision)  # the same as ours
        self.loop = None

    def send(self, message: dict) -> None:
        self.channel.write(json.dumps(message) + "\n")
        self.channel.flush()

    def cmd_hello(self) -> dict:
        return {"versions": {}, "settings": self.settings, "pid": os.getpid()}

    def cmd_bench_setup(self, config: dict, batch_size: int, warmup: int, mode: str, **_) -> dict:
        from harness import rawloops

        size = config["image_size"][0]
        start = time.perf_counter()
        self.loop = rawloops.build(
            self.framework, mode, batch_size=batch_size, image_size=size, in_channels=config["in_channels"],
            num_classes=config["num_classes"], dropout=config["dropout"], device=self.device,
        )  # fmt: skip
        warm = {"train": [], "inference": []}
        for _ in range(max(1, warmup)):
            for phase, step in (("train", self.loop.train_step), ("inference", self.loop.predict)):
                t0 = time.perf_counter()
                step()
                warm[phase].append(time.perf_counter() - t0)
        return {"warmup_seconds": warm, "batch_size": batch_size, "notes": [], "build_s": time.perf_counter() - start}

    def cmd_bench_block(self, phase: str, pipeline: str, steps: int, block: int) -> dict:
        # The timing loop of harness.worker.Worker.cmd_bench_block (compute-only), verbatim
        # in what it times: one perf_counter pair around each step and its sync point.
        step = self.loop.train_step if phase == "train" else self.loop.predict
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
            self.send({"progress": 1})
        return {"seconds": times}


def serve(argv: list[str]) -> int:
    from harness import worker

    worker.Worker = RawWorker  # the same serve loop and protocol, another worker class
    return worker.serve(argv)


# ---------------------------------------------------------------------------- the driver
def measure(framework: str, mode: str, args, out_dir: Path) -> dict:
    """Both workers for one framework and mode: set up, then interleaved blocks."""
    from harness.run import Plan, WorkerProcess

    plan = Plan([framework], args.device, None, None, Path(args.out), "overhead", args.threads)
    config = {
        "variant": "torchvision", "num_classes": args.num_classes, "image_size": [args.image_size] * 2,
        "in_channels": 3, "dropout": 0.5, "dtype": "float32",
    }  # fmt: skip
    procs = {
        "ours": WorkerProcess(framework, args.device, plan, out_dir / "logs", mode),
        "raw": WorkerProcess(
            framework, args.device, plan, out_dir / "logs", f"{mode}-raw", module="harness.overhead serve"
        ),
    }
    steps = {"train": args.train_steps, "inference": args.inference_steps}
    seconds = {(who, phase): [] for who in procs for phase in steps}
    rounds = {(who, phase): [] for who in procs for phase in steps}
    setup = {}
    try:
        for who, proc in procs.items():
            proc.call("hello")
            setup[who] = proc.call(
                "bench_setup", config=config, batch_size=args.batch_size, warmup=args.warmup, mode=mode
            )
        for block in range(args.repeats):
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
    result = {"framework": framework, "mode": mode, "phases": {}}
    for phase in steps:
        ours, raw = seconds[("ours", phase)], seconds[("raw", phase)]
        per_round = [r / o for o, r in zip(rounds[("ours", phase)], rounds[("raw", phase)], strict=True)]
        result["phases"][phase] = {
            "ours_median_s": statistics.median(ours),
            "raw_median_s": statistics.median(raw),
            "ours_images_per_s": args.batch_size / statistics.median(ours),
            "raw_images_per_s": args.batch_size / statistics.median(raw),
            "ratio": statistics.median(raw) / statistics.median(ours),
            "ratio_rounds": per_round,
            "ours_seconds": ours,
            "raw_seconds": raw,
            "warmup_first_s": {who: setup[who]["warmup_seconds"][phase][0] for who in procs},
        }
    return result


def format_rows(results: list[dict]) -> str:
    lines = [
        f"{'framework':<9} {'mode':<14} {'phase':<10} {'ours ms':>9} {'raw ms':>9} {'ratio':>6} "
        f"{'round range':>13}  target >= {TARGET}"
    ]
    for r in results:
        if "error" in r:
            lines.append(f"{r['framework']:<9} {r['mode']:<14} FAILED: {r['error']}")
            continue
        for phase, p in r["phases"].items():
            low, high = min(p["ratio_rounds"]), max(p["ratio_rounds"])
            flag = "" if p["ratio"] >= TARGET else ("  below (inside the spread)" if high >= TARGET else "  BELOW")
            lines.append(
                f"{r['framework']:<9} {r['mode']:<14} {phase:<10} {p['ours_median_s'] * 1e3:>9.1f} "
                f"{p['raw_median_s'] * 1e3:>9.1f} {p['ratio']:>6.3f} {f'[{low:.2f}, {high:.2f}]':>13}{flag}"
            )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frameworks", default="all", help="comma-separated, or 'all' installed")
    parser.add_argument("--modes", default="default", help="'default', 'all', or e.g. 'torch=eager+compile'")
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-classes", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (ours, raw / raw, ours)")
    parser.add_argument("--train-steps", type=int, default=3, help="training steps per block")
    parser.add_argument("--inference-steps", type=int, default=6, help="inference steps per block")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default="results", help="the JSON goes to OUT/overhead/")


def main(args: argparse.Namespace) -> int:
    import impls

    frameworks = impls.available() if args.frameworks == "all" else [f.strip() for f in args.frameworks.split(",")]
    for framework in frameworks:
        if framework not in impls.names():
            raise ConfigError(f"unknown framework {framework!r}; choose from {', '.join(impls.names())}")
    for name in ("image_size", "batch_size", "repeats", "train_steps", "inference_steps"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 1")
    impls.AlexNetConfig(image_size=args.image_size)  # a size we cannot build fails now
    modes = parse_modes(args.modes, frameworks)
    out_dir = Path(args.out) / "overhead"
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    print(f"alexbench overhead: {args.image_size}x{args.image_size}, batch {args.batch_size}, {args.repeats} "
          f"interleaved rounds of {args.train_steps} train + {args.inference_steps} inference steps")  # fmt: skip
    results = []
    for framework, names in modes.items():
        for mode in names:
            print(f"  {framework} ({mode}) ...", flush=True)
            try:
                results.append(measure(framework, mode, args, out_dir))
            except AlexBenchError as error:  # one framework or mode failing leaves the others
                results.append({"framework": framework, "mode": mode, "error": str(error)})
    from harness import env

    document = {
        "schema": "alexbench.overhead/1",
        "created": stamp,
        # what was measured; not where it was written (no paths of the machine in results)
        "settings": {k: v for k, v in vars(args).items() if isinstance(v, (str, int, float, bool)) and k != "out"},
        "default_modes": DEFAULT_MODE,
        "environment": env.machine(),
        "target_ratio": TARGET,
        "results": results,
    }
    path = records.write_json_atomic(out_dir / f"overhead-{stamp}.json", document)
    print()
    print(format_rows(results))
    print(f"\nratio = raw median step time / ours (our throughput as a fraction of the raw loop's); {path}")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        sys.exit(serve(sys.argv[2:]))
    sys.exit("run it as `alexbench overhead` (or `python -m harness.overhead serve ...` as a worker)")
