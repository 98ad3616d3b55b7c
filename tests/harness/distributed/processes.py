"""Finding a launch's processes (by the folder their command lines name) and waiting for the
files its ranks write."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def processes_of(folder: Path) -> list[int]:  # the processes' command lines name the task file
    """Live processes whose command line names the launch's folder (its task file)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(folder) in command and state != "Z":
            found.append(int(entry.name))
    return found


def wait_for(paths: list[Path], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not all(p.exists() for p in paths):
        assert time.monotonic() < deadline, f"not there after {seconds} s: {[p.name for p in paths]}"
        time.sleep(0.2)


def reap(process, folder: Path) -> None:
    """After a test: a run still going is killed, with every process of its launches."""
    if process.poll() is None:
        process.kill()
        for pid in processes_of(folder):
            os.kill(pid, signal.SIGKILL)
