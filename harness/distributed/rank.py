"""One rank of a data-parallel run, started by harness.distributed.launch through its
engine's conventions (its rank and the world come from the environment the engine sets).

    python -m harness.distributed.rank --task TASK.json --out FOLDER

The task says what to do: "parity" (the gradient on batch 0 and a short SGD trajectory on
this rank's shard of seeded global batches) or "throughput" (timed data-parallel training
steps on a batch already on the device). Each rank pins itself to its own CPU cores (the
same total cores at every world size), applies the fair settings, joins the engine's
process group, and writes rankN.json into the folder. A rank whose launcher is gone (killed
with SIGKILL: it had no chance to kill its ranks) ends itself within a few seconds.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np


def pin_cores(local_rank: int, threads: int) -> list[int]:
    """This rank's share of its host's CPU cores (local rank r gets cores [r*threads,
    (r+1)*threads)), so that N ranks x T threads use the same cores as 1 rank x N*T threads."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    mine = cores[local_rank * threads : (local_rank + 1) * threads]
    if mine and len(mine) == threads:
        os.sched_setaffinity(0, mine)
    return mine


LAUNCHER = "ALEXBENCH_LAUNCHER_PID"  # set by harness.distributed.launch


def end_with_launcher(pid: int, every: float = 2.0) -> threading.Thread:
    """Watch the launcher (process `pid`) from a daemon thread and end this process when it is
    gone. Its parent is no proxy: torchrun sits between a torch rank and the launcher and
    lives on as long as its ranks do."""

    def watch() -> None:
        while True:
            time.sleep(every)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                print(f"rank: launcher {pid} is gone; ending", file=sys.stderr, flush=True)
                os._exit(3)
            except PermissionError:
                pass  # it exists (another user's process would mean a reused pid: keep going)

    thread = threading.Thread(target=watch, name="end-with-launcher", daemon=True)
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.distributed.rank")
    parser.add_argument("--task", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if os.environ.get(LAUNCHER, "").isdigit():
        end_with_launcher(int(os.environ[LAUNCHER]))
    task = json.loads(Path(args.task).read_text())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from harness import backends
    from harness.measure.plan import apply_settings

    backend = backends.get(task["framework"])
    rank, world = backend.rank_and_world() if task.get("engine", True) else (0, 1)
    (out / f"pid{rank}").write_text(str(os.getpid()))  # for whoever must check nothing is left behind
    device = task.get("device", "cpu")
    local = backend.local_rank() if task.get("engine", True) else 0
    cores = pin_cores(local, task["threads"]) if device == "cpu" else []
    settings = apply_settings(task["framework"], device, task["threads"], task.get("precision", "ieee"))
    engine = backend.init_distributed(device, task.get("timeout", 300)) if task.get("engine", True) else None
    try:
        result = (parity if task["kind"] == "parity" else throughput)(task, rank, world, engine, out)
    finally:
        if engine is not None:
            backend.shutdown_distributed()
    result.update(schema=task["schema"], rank=rank, world=world, cores=cores, settings=settings)
    (out / f".rank{rank}.json.tmp").write_text(json.dumps(result))
    os.replace(out / f".rank{rank}.json.tmp", out / f"rank{rank}.json")  # whole, or not there
    return 0


def _model(task: dict, engine, config):
    import impls
    from impls.config import SGDConfig

    optimizer = SGDConfig(**task["optimizer"]) if task.get("optimizer") else None
    model = impls.create(task["framework"], config, device=task.get("device", "cpu"), optimizer=optimizer,
                         seed=task.get("seed", 0), mode=task.get("mode"))  # fmt: skip
    return model


def _config(task: dict):
    import impls

    return impls.AlexNetConfig.from_dict(task["config"])


def _shard(batch, rank: int, world: int, control: str | None):
    """This rank's equal share of a global batch (every rank shard 0 for the same-shard control)."""
    images, labels = batch
    per = len(images) // world
    shard = 0 if control == "same-shard" else rank
    return images[shard * per : (shard + 1) * per], labels[shard * per : (shard + 1) * per]


def parity(task: dict, rank: int, world: int, engine, out: Path):
    """The data-parallel check, every variant in this one process group: the single-process
    reference (no engine, the whole batch: every rank computes it), the engine's averaged
    data-parallel run on this rank's shard, and the controls (gradients summed over ranks;
    every rank on shard 0). Each: the gradient on batch 0 from the canonical weights of
    seed 0, and (the reference and the data-parallel run; a control is caught by its
    gradient alone) `steps` SGD steps on seeded global batches (harness.parity's inputs).

    Rank 0 compares every variant with the reference here, tensor by tensor (both metrics
    of harness.parity), so no 0.5 GB of arrays cross processes; every rank reports its
    local losses, which the caller averages over ranks."""
    from harness import backends
    from harness.parity.metrics import max_rel, rel_l2
    from harness.parity.runs import make_batches
    from impls.weights import init_weights

    config = _config(task)
    weights = init_weights(config, seed=task.get("seed", 0), dtype=np.float32)  # the float32 values, in any dtype
    batches = make_batches(config, task["batch"], max(task["steps"], 1), seed=task.get("seed", 0))
    reference, result = None, {"variants": {}}
    for variant in task["variants"]:  # "reference" first: the others are compared with it at once
        model = _model(task, engine, config)
        model.set_weights(weights)
        if variant == "reference":
            mine = batches
        else:
            model.distribute(engine, "sum" if variant == "sum" else "mean",
                             statistics="local" if variant == "local-stats" else "global")  # fmt: skip
            mine = [_shard(b, rank, world, variant) for b in batches]
        loss, grads = model.loss_and_grads(*mine[0])
        steps = task["steps"] if variant in ("reference", "mean") else 0  # a control is caught by its gradient
        losses = [float(model.train_step(x, y)) for x, y in mine[:steps]]
        entry = {"loss": float(loss), "step_losses": losses}
        if variant == "mean" and model.params.float_buffers:  # how the engine reduced BatchNorm's statistics
            entry["statistics_sync"] = model.statistics_sync
        run = {"grads": grads, "weights": model.get_weights() if steps else {}}
        del model
        if variant == "reference":
            reference = run
        elif rank == 0:
            for quantity in ("grads", "weights") if steps else ("grads",):
                entry[quantity] = {
                    name: {"max_rel": max_rel(value, reference[quantity][name]),
                           "rel_l2": rel_l2(value, reference[quantity][name])}
                    for name, value in run[quantity].items()
                }  # fmt: skip
        result["variants"][variant] = entry
        del run, grads
        gc.collect()
        backends.get(task["framework"]).release_memory()  # the next model in this process, not beside it
    return result


def throughput(task: dict, rank: int, world: int, engine, out: Path):
    """Timed data-parallel training steps on this rank's share of the global batch, already
    on the device (uint8, normalized in the step): warm-up, then every step's seconds. The
    file warmN says rank N is past its warm-up (in the timed steps, inside collectives)."""
    config = _config(task)
    model = _model(task, engine, config)
    from impls import InputNorm

    model.set_input_norm(InputNorm((0.5,) * config.in_channels, (0.25,) * config.in_channels))
    if engine is not None:
        model.distribute(engine)
    local = task["batch"] // world
    rng = np.random.default_rng([task.get("seed", 0), rank])
    images = rng.integers(0, 256, (local, config.height, config.image_width, config.in_channels), dtype=np.uint8)
    labels = rng.integers(0, config.num_classes, size=local)
    batch = model.device_batch(images, labels)
    warm = []
    for _ in range(task["warmup"]):
        start = time.perf_counter()
        model.train_step(batch)
        model.synchronize()
        warm.append(time.perf_counter() - start)
    (out / f"warm{rank}").touch()
    seconds = []
    for _ in range(task["steps"]):
        start = time.perf_counter()
        loss = model.train_step(batch)
        model.synchronize()
        seconds.append(time.perf_counter() - start)
    return {"seconds": seconds, "warmup_seconds": warm, "local_batch": local, "loss": float(loss),
            "versions": type(model).versions(), "mode": model.mode.name}  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
