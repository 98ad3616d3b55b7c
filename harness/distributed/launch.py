"""One launcher for data-parallel runs: N ranks started by each engine's own conventions
(harness.backends: torchrun for torch, TF_CONFIG for TensorFlow, a coordinator address for
JAX), on loopback ports of this host, supervised until all are done.

Every process starts in a process group of its own. The first rank that exits with an error,
a deadline that passes, or a Ctrl-C of the parent ends the run: every group is killed
(SIGKILL: JAX's preemption service would swallow a SIGTERM), so no rank is left behind and
no survivor waits on a dead peer's collective. The ranks write their results as JSON into the
run's folder; the launcher hands those back.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import backends

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = "alexbench.rank/1"  # the task and the ranks' results: alexbench documents, not records


class LaunchFailed(RuntimeError):
    """A rank failed, the run passed its deadline, or it was interrupted; every rank is gone."""


@dataclass
class Outcome:
    folder: Path
    seconds: float
    outputs: dict[int, dict] = field(default_factory=dict)  # rank -> its JSON result


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def task_document(framework: str, world: int, task: dict) -> dict:
    """What every rank reads (python -m harness.distributed.rank --task FILE)."""
    return {**task, "schema": SCHEMA, "framework": framework, "world": world}


def launch(framework: str, world: int, task: dict, deadline: float = 600.0, log: Path | None = None,
           folder: Path | None = None) -> Outcome:  # fmt: skip
    """Run `task` (a JSON-able dict for harness.distributed.rank) on `world` ranks of
    `framework`'s engine; the result of every rank, or LaunchFailed saying which rank failed
    how (and the tail of the log). Without `folder`, a temporary one (removed after a success,
    kept with its log after a failure)."""
    backend = backends.get(framework)
    temporary = folder is None
    # the ranks start in the project's root (cwd=ROOT): every path they are handed is absolute
    folder = Path(folder or tempfile.mkdtemp(prefix="alexbench-dp-")).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "task.json"
    spec.write_text(json.dumps(task_document(framework, world, task)))
    argv = ["--task", str(spec), "--out", str(folder)]
    log = Path(log).absolute() if log else folder / "ranks.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    environment = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
    environment["ALEXBENCH_LAUNCHER_PID"] = str(os.getpid())  # ranks end themselves if it dies unwarned
    if task.get("device", "cpu") == "cpu":
        environment.update(CUDA_VISIBLE_DEVICES="", JAX_PLATFORMS="cpu")
    start = time.monotonic()
    processes = []
    with open(log, "a") as out:
        try:
            for command, extra in backend.launch(world, free_ports(world), argv, task.get("device", "cpu")):
                processes.append(subprocess.Popen(
                    command, env={**environment, **extra}, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True,
                ))  # fmt: skip
            failure = _supervise(processes, start + deadline)
        finally:
            _kill(processes)
    if failure:
        raise LaunchFailed(f"{framework} data-parallel run of {world} ranks: {failure}; log: {_tail(log)}")
    outputs = {}
    for rank in range(world):
        path = folder / f"rank{rank}.json"
        if not path.is_file():
            raise LaunchFailed(f"{framework} rank {rank} ended without a result; log: {_tail(log)}")
        outputs[rank] = json.loads(path.read_text())
    if temporary:
        shutil.rmtree(folder, ignore_errors=True)
    return Outcome(folder, time.monotonic() - start, outputs)


def _supervise(processes: list[subprocess.Popen], deadline: float) -> str | None:
    """Wait for every process; the first failure (or the deadline) is returned as text."""
    while True:
        codes = [p.poll() for p in processes]
        failed = [(i, c) for i, c in enumerate(codes) if c not in (None, 0)]
        if failed:
            i, code = failed[0]
            how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
            return f"process {i} of {len(processes)} failed ({how}); the others were killed"
        if all(c == 0 for c in codes):
            return None
        if time.monotonic() > deadline:
            return "the run passed its deadline; every rank was killed"
        time.sleep(0.05)


def _kill(processes: list[subprocess.Popen]) -> None:
    """SIGKILL every process of the launch and reap them: each started process's group, and
    every descendant found before the killing (torchrun starts its workers in sessions of
    their own: killing torchrun's group alone would orphan them)."""
    family = _descendants([p.pid for p in processes if p.poll() is None])
    for process in processes:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # even if it exited: its group may live on
    for pid in family:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
    give_up = time.monotonic() + 30
    while family and time.monotonic() < give_up:  # orphans are reaped by init: wait until they are gone
        family = [pid for pid in family if _alive(pid)]
        time.sleep(0.05)


def _descendants(roots: list[int]) -> list[int]:
    """Every process below `roots` (Linux /proc; elsewhere none: process groups must do)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*") if Path("/proc/self/stat").exists() else []:
        try:
            parent = int(entry.joinpath("stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie awaiting its reaper is not); Linux only, as _descendants."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _tail(log: Path, lines: int = 6) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    interesting = [line for line in text if "Error" in line or "error" in line] or text
    return " | ".join(interesting[-lines:]) or "(empty)"


if __name__ == "__main__":
    sys.exit("harness.distributed.launch is a library: see `alexbench scale` and `alexbench parity`")
