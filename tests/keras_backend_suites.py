"""The suite's own files, run for Keras on JAX and on PyTorch, each in a pytest process of its
own (tests/impls/test_keras_backends.py asserts on them; why each gets a process is there).

These two processes are the suite's longest tests, and most of their time is XLA and
TensorFlow compiling small programs, on one core; the ordinary test process keeps about 1.2
of CI's 2 cores busy on average (a fresh clone's `.ci/run`: 1853 s of CPU in 1542 s). So
tests/impls/conftest.py starts them in the background, one after the other, once the rest of
the session is tests/impls (numerics only: no timings or deadlines there for a process
beside them to disturb), and moves their tests to the end, where each waits for its own."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from tests.conftest import REQUIRE_ALL, ROOT, installed

BACKENDS = {"keras-jax": "jax", "keras-torch": "torch"}  # each backend and its native framework
FILES = [
    "tests/impls/test_contract.py",
    "tests/impls/test_modes.py",
    "tests/impls/test_keras_network.py",
    "tests/impls/test_resnet.py",
    "tests/harness/parity/test_parity.py",
    "tests/harness/reference/test_rawloops.py",
]
SELECTION = "keras and not full_size"
TIMEOUT_S = 1800
SUITE_TEST = "test_keras_backends.py::test_the_suite_passes_for_keras_on_its_backend"


def command(framework: str) -> tuple[list[str], dict[str, str]]:
    """The pytest command line and environment of `framework`'s process."""
    env = {**os.environ, "ALEXBENCH_FRAMEWORKS": f"{framework},{BACKENDS[framework]}", "TF_CPP_MIN_LOG_LEVEL": "2"}
    if REQUIRE_ALL:
        env["ALEXBENCH_REQUIRE_ALL"] = "1"
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", SELECTION, "--durations=5", *FILES]
    return argv, env


def runnable(framework: str) -> bool:
    """Whether `framework` and its native framework are installed (else its test skips or fails)."""
    return framework in BACKENDS and installed(framework) and installed(BACKENDS[framework])


class Suites:
    """Runs the backends' processes one after the other on a thread; `result` waits for one."""

    def __init__(self) -> None:
        self._done: dict[str, threading.Event] = {}
        self._results: dict[str, subprocess.CompletedProcess] = {}
        self._process: subprocess.Popen | None = None
        self._stopped = False

    def start(self, frameworks: list[str]) -> None:
        """Start the processes of `frameworks` not started yet, in the background."""
        pending = [f for f in frameworks if f not in self._done and runnable(f)]
        for framework in pending:
            self._done[framework] = threading.Event()
        if pending:
            threading.Thread(target=self._run_all, args=(pending,), daemon=True).start()

    def result(self, framework: str) -> subprocess.CompletedProcess:
        """`framework`'s finished process (started now if it was not)."""
        self.start([framework])
        if not self._done[framework].wait(TIMEOUT_S + 60):
            raise TimeoutError(f"{framework}'s suite did not finish in {TIMEOUT_S + 60} s")
        return self._results[framework]

    def stop(self) -> None:
        """End the session's background work: no process outlives the suite."""
        self._stopped = True
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def _run_all(self, frameworks: list[str]) -> None:
        for framework in frameworks:
            try:
                self._results[framework] = self._run(framework)
            except Exception as error:  # noqa: BLE001 -- the waiting test reports it
                self._results[framework] = subprocess.CompletedProcess([], 1, "", f"{type(error).__name__}: {error}")
            finally:
                self._done[framework].set()

    def _run(self, framework: str) -> subprocess.CompletedProcess:
        if self._stopped:
            return subprocess.CompletedProcess([], 1, "", "the session ended before this suite started")
        argv, env = command(framework)
        self._process = process = subprocess.Popen(argv, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
                                                   stderr=subprocess.PIPE)  # fmt: skip
        try:
            stdout, stderr = process.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            stderr += f"\n{framework}'s suite ran past {TIMEOUT_S} s and was killed"
        return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


SUITES = Suites()
