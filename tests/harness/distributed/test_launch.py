"""harness.distributed.launch: a rank that dies ends the whole launch within seconds, and no
process of it is left behind; a rank's error comes back in words. (torch's launch, through
torchrun, is killed mid-run in tests/harness/measure/test_scaling.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.distributed.launch import ROOT, LaunchFailed, launch
from tests.conftest import require
from tests.harness.distributed.processes import processes_of, wait_for

TINY = {"variant": "torchvision", "num_classes": 10, "in_channels": 3, "dropout": 0.0, "image_size": [67, 67],
        "dtype": "float32"}  # fmt: skip


def endless(engine: bool = True) -> dict:
    return {"kind": "throughput", "config": TINY, "batch": 4, "warmup": 1, "steps": 10**9, "threads": 1,
            "device": "cpu", "engine": engine}  # fmt: skip


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc to find the processes")
def test_killing_one_rank_ends_the_launch_and_leaves_no_process(tmp_path):
    framework = "jax"  # the launcher's own supervision: the survivor waits in a collective until killed
    require(framework)
    folder = tmp_path / "launch"
    outcome: dict = {}

    def run():
        try:
            outcome["result"] = launch(framework, 2, endless(), deadline=900, folder=folder)
        except LaunchFailed as error:
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    try:
        wait_for([folder / "warm0", folder / "warm1", folder / "pid1"], 600)  # both ranks in their timed steps
        assert len(processes_of(folder)) >= 2
        os.kill(int((folder / "pid1").read_text()), signal.SIGKILL)
        killed = time.monotonic()
        thread.join(60)
        assert not thread.is_alive(), "the launch still runs 60 s after one of its ranks was killed"
        assert time.monotonic() - killed < 60
    finally:
        if thread.is_alive():  # leave nothing behind even when the test fails
            for pid in processes_of(folder):
                os.kill(pid, signal.SIGKILL)
            thread.join(60)
    assert "error" in outcome, "a launch with a killed rank must fail"
    assert "failed" in str(outcome["error"]) and "killed" in str(outcome["error"])
    deadline = time.monotonic() + 10  # reaped by now; allow the kernel a moment
    while processes_of(folder) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_of(folder) == [], "a process of the launch outlived it"


def test_a_rank_error_fails_the_launch_with_its_message(tmp_path):
    require("torch")
    task = {**endless(engine=False), "config": {**TINY, "image_size": [7, 7]}}  # too small for AlexNet
    with pytest.raises(LaunchFailed, match="process 0 of 1 failed.*exit code 1.*Error"):
        launch("torch", 1, task, deadline=600, folder=tmp_path / "bad")


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc to find the processes")
def test_a_launcher_killed_unwarned_leaves_no_rank_behind(tmp_path):
    """SIGKILL gives the launcher no chance to kill its ranks: each rank watches it and ends
    itself, and torchrun (between a torch rank and the launcher) ends with its rank."""
    require("torch")
    folder = tmp_path / "launch"
    code = "import json, sys; from pathlib import Path; from harness.distributed.launch import launch; " \
           "launch('torch', 1, json.loads(sys.argv[1]), deadline=900, folder=Path(sys.argv[2]))"  # fmt: skip
    launcher = subprocess.Popen([sys.executable, "-c", code, json.dumps(endless(engine=False)), str(folder)], cwd=ROOT)
    try:
        wait_for([folder / "warm0", folder / "pid0"], 600)  # the rank is in its timed steps
        launcher.kill()
        launcher.wait(30)
        deadline = time.monotonic() + 30
        while processes_of(folder) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = processes_of(folder)
    finally:
        for pid in processes_of(folder):
            os.kill(pid, signal.SIGKILL)
    assert left == [], "a rank (or torchrun) outlived its killed launcher"
