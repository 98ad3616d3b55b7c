"""The channel between the harness and a worker process: one JSON command per line on the
worker's stdin; on its original stdout any number of {"progress": n} / {"total": n}, then
{"ok": result} or {"error": message, "traceback": text}. Everything else the framework
prints goes to stderr (stdout is redirected there), which the parent saves as the log.

    python -m harness.measure.protocol [--worker-class MODULE:CLASS] FRAMEWORK DEVICE THREADS PRECISION

The worker class is harness.measure.worker:Worker unless the parent names another
(`alexbench overhead` runs its plain-loop worker this way). Tests swap in a faulty worker
through the environment variable ALEXBENCH_WORKER_CLASS (same MODULE:CLASS form): the one
test-only seam of the harness; production code has no fault branches.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from impls.errors import AlexBenchError

DEFAULT_WORKER = "harness.measure.worker:Worker"
WORKER_CLASS_VARIABLE = "ALEXBENCH_WORKER_CLASS"  # tests only: a worker that crashes, hangs, ...
ROOT = Path(__file__).resolve().parents[2]


class WorkerCrashed(RuntimeError):
    """The worker process died (or was killed because it hung)."""


class WorkerHung(WorkerCrashed):
    """The worker sent nothing for longer than its deadline: killed, with its process group."""


@dataclass(frozen=True)
class Deadlines:
    """How long a worker may stay silent (no progress, no answer) before it is declared hung.

    A silence, not a total: training for hours is fine as long as progress keeps coming.
    Each request's deadline is the larger of its floor and `factor` x the longest silence
    that worker has already shown for that request (a slow mode's slow steps, a compile);
    `override` (alexbench run --worker-timeout) replaces all of it with one number.
    """

    floors: dict[str, float] = field(
        default_factory=lambda: {"hello": 600.0, "bench_setup": 1800.0, "train": 600.0, "peak": 600.0}
    )
    floor: float = 120.0  # every other request (a block of steps, memory figures, ...)
    factor: float = 20.0
    override: float | None = None

    def seconds(self, command: str, shown: float = 0.0) -> float:
        if self.override is not None:
            return self.override
        return max(self.floors.get(command, self.floor), self.factor * shown)


class WorkerProcess:
    """Parent side: a worker subprocess for one framework x device, spoken to in JSON lines.

    The worker runs in a process group of its own: a hung worker is killed with everything
    it started, and a Ctrl-C of the parent (which closes its workers) reaches them through
    the parent only."""

    def __init__(
        self, framework: str, device: str, threads: int, precision: str, log_path: Path,
        worker_class: str | None = None, deadlines: Deadlines | None = None,
    ) -> None:  # fmt: skip
        self.framework, self.device = framework, device
        self.deadlines = deadlines or Deadlines()
        self.shown: dict[str, float] = {}  # command -> the longest silence seen so far
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        self._log = open(log_path, "a")  # noqa: SIM115  (closed in close())
        environment = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
        if device == "cpu":
            environment["CUDA_VISIBLE_DEVICES"] = ""  # a CPU measurement must not touch a GPU
            environment["JAX_PLATFORMS"] = "cpu"
        command = [sys.executable, "-m", "harness.measure.protocol"]
        if worker_class:
            command += ["--worker-class", worker_class]
        command += [framework, device, str(threads), precision]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1,
            env=environment, cwd=ROOT, start_new_session=True,
        )  # fmt: skip
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        """Forward the worker's stdout line by line (None at its end), so that waiting for a
        line can time out."""
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def call(self, command: str, progress=None, **arguments):
        """Send one command; return its result, or raise AlexBenchError (the command
        failed), WorkerCrashed (the worker died) or WorkerHung (it went silent too long)."""
        try:
            self.process.stdin.write(json.dumps({"cmd": command, **arguments}) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the read below reports the crash
        what = command + (f" {arguments['phase']}/{arguments['pipeline']}" if "phase" in arguments else "")
        while True:
            deadline = self.deadlines.seconds(command, self.shown.get(command, 0.0))
            start = time.monotonic()
            try:
                line = self._lines.get(timeout=deadline)
            except queue.Empty:
                self.kill()
                raise WorkerHung(
                    f"{self.framework} worker on {self.device} sent nothing for {deadline:.0f} s during {what!r} "
                    f"(its deadline) and was killed; last log lines: {self.log_tail()}. If it was only slow, "
                    "raise the deadline with --worker-timeout SECONDS"
                ) from None
            self.shown[command] = max(self.shown.get(command, 0.0), time.monotonic() - start)
            if line is None:
                code = self.process.wait()
                raise WorkerCrashed(
                    f"{self.framework} worker on {self.device} died (exit code {code}) during {what!r}; "
                    f"last log lines: {self.log_tail()}"
                )
            message = json.loads(line)
            if "progress" in message or "total" in message:
                if progress is not None:
                    progress(message)
                continue
            if "error" in message:
                self._log.write(message.get("traceback", ""))
                self._log.flush()
                raise _error_class(message.get("type"))(message["error"])
            return message["ok"]

    def observe(self, command: str, seconds: float) -> None:
        """Tell the deadlines what a request will take (e.g. a step time from the warm-up)."""
        self.shown[command] = max(self.shown.get(command, 0.0), seconds)

    def log_tail(self, lines: int = 3) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:]) or "(empty)"

    def kill(self) -> None:
        """SIGKILL the worker's whole process group (anything it started too), and reap it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):  # gone already
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def close(self, kill: bool = False) -> None:
        """Ask the worker to exit (or kill it now, e.g. on Ctrl-C); kill it if it does not go."""
        if self.process.poll() is None:
            if kill:
                self.kill()
            else:
                try:
                    self.process.stdin.write('{"cmd": "exit"}\n')
                    self.process.stdin.flush()
                    self.process.wait(timeout=30)
                except (OSError, subprocess.TimeoutExpired):
                    self.kill()
        self._log.close()


def close_all(workers) -> None:
    """Close every worker; on an exception in flight (Ctrl-C, a write that failed), kill them."""
    kill = sys.exc_info()[0] is not None
    for worker in workers:
        worker.close(kill=kill)


# ------------------------------------------------------------------------- child side
class Channel:
    """The worker's end: JSON lines to the parent."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def send(self, message: dict) -> None:
        self.stream.write(json.dumps(message, default=_json_default) + "\n")
        self.stream.flush()


def load_class(spec: str):
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.measure.protocol")
    parser.add_argument("--worker-class", default=None)
    parser.add_argument("framework")
    parser.add_argument("device")
    parser.add_argument("threads", type=int)
    parser.add_argument("precision")
    args = parser.parse_args(argv)
    spec = args.worker_class or os.environ.get(WORKER_CLASS_VARIABLE) or DEFAULT_WORKER
    channel = Channel(os.fdopen(os.dup(1), "w"))  # the protocol keeps the real stdout...
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
                worker = load_class(spec)(args.framework, args.device, args.threads, args.precision, channel)
            channel.send({"ok": getattr(worker, f"cmd_{command}")(**message)})
        except BaseException as error:  # report everything; the parent decides
            text = f"{type(error).__name__}: {error}" if not isinstance(error, AlexBenchError) else str(error)
            channel.send({"error": text, "type": type(error).__name__, "traceback": traceback.format_exc()})
    return 0


def _error_class(name: str | None) -> type[AlexBenchError]:
    """The user-error class a worker raised (impls.errors: ConfigError, InputError, ...),
    so the parent can tell "this mode cannot run here" from a failure; else AlexBenchError."""
    from impls import errors

    found = getattr(errors, name or "", None)
    return found if isinstance(found, type) and issubclass(found, AlexBenchError) else AlexBenchError


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1:]))
