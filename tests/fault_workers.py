"""Faulty workers for tests: the harness's one test-only seam is the environment variable
ALEXBENCH_WORKER_CLASS (harness.measure.protocol), naming a Worker subclass the worker
processes run instead of the real one. Production code has no fault branches.

ALEXBENCH_FAULT_FRAMEWORK names the framework that misbehaves (default: every one);
ALEXBENCH_FAULT_ARG carries a number where a fault needs one.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from harness.measure.worker import Worker

CLASS = "ALEXBENCH_WORKER_CLASS"


def use(monkeypatch, name: str, framework: str | None = None, arg: str | None = None) -> None:
    """Make every worker started from now on a `name` (a class of this module)."""
    monkeypatch.setenv(CLASS, f"tests.fault_workers:{name}")
    if framework:
        monkeypatch.setenv("ALEXBENCH_FAULT_FRAMEWORK", framework)
    if arg is not None:
        monkeypatch.setenv("ALEXBENCH_FAULT_ARG", arg)


class _Faulty(Worker):
    @property
    def faulty(self) -> bool:
        return os.environ.get("ALEXBENCH_FAULT_FRAMEWORK", self.framework) == self.framework

    @property
    def arg(self) -> int:
        return int(os.environ.get("ALEXBENCH_FAULT_ARG", "0"))


class CrashOnHello(_Faulty):
    """Dies like a segfaulting framework would, with exit code 3."""

    def cmd_hello(self) -> dict:
        if self.faulty:
            os._exit(3)
        return super().cmd_hello()


class HangInBlock(_Faulty):
    """Stops answering in its first block of steps, as a stuck kernel or a deadlocked
    collective would, with a child process of its own; writes both pids to the file
    ALEXBENCH_FAULT_ARG names, so a test can check that the whole group was killed."""

    def cmd_bench_block(self, **arguments) -> dict:
        if self.faulty:
            child = subprocess.Popen(["sleep", "3600"])
            Path(os.environ["ALEXBENCH_FAULT_ARG"]).write_text(f"{os.getpid()} {child.pid}")
            time.sleep(3600)
        return super().cmd_bench_block(**arguments)


class OutOfMemoryAbove(_Faulty):
    """A device that fits only ALEXBENCH_FAULT_ARG images per batch."""

    def _bench_setup(self, config, batch_size, warmup, seed, mode):
        if self.faulty and batch_size > self.arg:
            raise MemoryError(f"simulated out of memory at batch {batch_size}")
        return super()._bench_setup(config, batch_size, warmup, seed, mode)


class SlowMode(_Faulty):
    """Makes every step of one execution mode (ALEXBENCH_FAULT_MODE) ALEXBENCH_FAULT_ARG
    times slower (the step runs that many times): a mode the trial of --modes best must not
    pick, whatever this machine's speed."""

    mode = None

    def _bench_setup(self, config, batch_size, warmup, seed, mode):
        self.mode = mode
        return super()._bench_setup(config, batch_size, warmup, seed, mode)

    def step_function(self, phase, pipeline, block):
        step = super().step_function(phase, pipeline, block)
        if not (self.faulty and self.mode == os.environ.get("ALEXBENCH_FAULT_MODE")):
            return step

        def slow():
            for _ in range(self.arg - 1):
                step()
            return step()

        return slow
