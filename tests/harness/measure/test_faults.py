"""Faults and interruptions: out of memory, divergence, signals and resume, missing
frameworks, determinism. Each test fails without the handling it checks."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import impls
from harness import results
from harness.cli import main
from harness.measure.protocol import Deadlines
from impls.modes import DEFAULT_MODE
from tests import fault_workers
from tests.conftest import ROOT, interruptible, require
from tests.harness.measure.test_run import TINY_RUN


def test_out_of_memory_retries_with_half_the_batch_and_records_it(tmp_path, mini_fashion, monkeypatch):
    require("torch")
    fault_workers.use(monkeypatch, "OutOfMemoryAbove", framework="torch", arg="1")
    args = [*TINY_RUN, "--skip-accuracy", "--frameworks", "torch", "--batch-size", "4", "--out", str(tmp_path),
            "--run-id", "oom"]  # fmt: skip
    assert main(args) == 0
    frame = results.load(tmp_path)
    frame = frame[frame.kind == "throughput"]
    assert len(frame) == 4 and set(frame.batch_size) == {1} and set(frame.batch_size_requested) == {4}
    notes = " ".join(frame.iloc[0].notes)
    assert "out of memory at batch 4" in notes and "out of memory at batch 2" in notes


def test_nan_loss_stops_training_and_records_the_divergence(tmp_path, mini_fashion, capsys):
    require("torch")
    args = [*TINY_RUN, "--skip-throughput", "--frameworks", "torch", "--lr", "1e12", "--out", str(tmp_path),
            "--run-id", "nan", "--data-dir", str(mini_fashion)]  # fmt: skip
    assert main(args) == 1
    record = results.load(tmp_path).iloc[0]
    assert record.kind == "train" and record.diverged == 1
    assert any("loss became" in note and "training stopped" in note for note in record.notes)
    assert "DIVERGED" in capsys.readouterr().out


def test_missing_framework_is_skipped_with_its_install_hint(tmp_path, mini_fashion, monkeypatch):
    ghost = impls.Implementation("ghost", "impls.ghost", "Ghost", ("no_such_pkg_xyz",), "pip install ghost-fw")
    monkeypatch.setitem(impls._REGISTRY, "ghost", ghost)
    args = [*TINY_RUN, "--skip-throughput", "--frameworks", "ghost,torch", "--out", str(tmp_path),
            "--run-id", "ghost", "--data-dir", str(mini_fashion)]  # fmt: skip
    assert main(args) == 0  # a skip is not a failure
    frame = results.load(tmp_path)
    skipped = frame[frame.framework == "ghost"].iloc[0]
    assert skipped.kind == "failure" and "skipped" in skipped.error and "pip install ghost-fw" in skipped.error
    assert (frame[frame.framework == "torch"].kind == "train").any()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_run_keeps_every_record_and_resume_finishes_the_run(tmp_path, mini_fashion, signum):
    """torch trains first, then jax: the signal comes as soon as torch's record is written,
    while jax is still starting or training. Every record written stays valid, and --resume
    finishes the run: torch's record untouched, jax's written."""
    require("torch")
    require("jax")
    args = [*TINY_RUN, "--skip-throughput", "--frameworks", "torch,jax", "--out", str(tmp_path),
            "--run-id", "sig", "--data-dir", str(mini_fashion), "--epochs", "4",
            "--width", "0.25"]  # fmt: skip  # jax's worker (start, import, compile, 80 steps) outlasts the 50 ms poll
    run_dir = tmp_path / "runs" / "sig"
    workload = "alexnet-torchvision-63x63c3-w0.25"  # part of every record's name
    first = run_dir / f"train-torch-cpu-accuracy-{DEFAULT_MODE['torch']}-seed0-{workload}.json"
    second = run_dir / f"train-jax-cpu-accuracy-{DEFAULT_MODE['jax']}-seed0-{workload}.json"
    process = subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)  # fmt: skip
    deadline = time.time() + 300
    while not first.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert first.exists(), "torch's accuracy record never appeared"
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "continue with: alexbench run --resume sig" in err
    assert not second.exists(), "jax finished before the signal: the test did not interrupt anything"
    assert not list(run_dir.glob(".*.tmp")), "a partial record was left behind"
    written = sorted(run_dir.glob("*.json"))
    assert written == [first]
    results.read(first)  # complete and valid
    before = first.read_bytes()

    done = subprocess.run([sys.executable, "-m", "harness", *args, "--resume", "sig"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "torch on cpu: accuracy (seed 0) already recorded (--resume)" in done.stdout
    assert first.read_bytes() == before
    record, _ = results.read(second)
    assert record.kind == "train" and record.metrics["top1"] is not None


def _fingerprint_script(framework: str, seed: int) -> str:
    return f"""
import hashlib, numpy as np, impls
config = impls.small_config(dropout=0.5)
model = impls.create({framework!r}, config, seed={seed})
rng = np.random.default_rng(0)
h = hashlib.sha256()
for step in range(3):
    x = rng.standard_normal((4, 67, 67, 3)).astype(np.float32)
    y = rng.integers(0, 10, 4)
    h.update(np.float64(model.train_step(x, y)).tobytes())
for name, value in model.get_weights().items():
    h.update(name.encode()); h.update(value.tobytes())
print(h.hexdigest())
"""


def _fingerprint(framework: str, seed: int) -> str:
    done = subprocess.run([sys.executable, "-c", _fingerprint_script(framework, seed)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_same_command_twice_gives_bit_identical_losses_and_weights(framework):
    digests = [_fingerprint(framework, seed=3) for _ in range(2)]
    assert digests[0] == digests[1], f"{framework} is not deterministic on CPU"
    # The fingerprint sees the training: another seed (other weights, other dropout masks) changes it.
    assert _fingerprint(framework, seed=4) != digests[0]


def test_a_hung_worker_is_killed_at_its_deadline_and_the_others_finish(tmp_path, monkeypatch):
    """torch's worker stops answering in its first block (with a child process of its own);
    past the deadline its whole process group is killed, a failure record names framework,
    device, phase and deadline, and jax is measured as if nothing happened."""
    require("torch")
    require("jax")
    pids = tmp_path / "pids"
    fault_workers.use(monkeypatch, "HangInBlock", framework="torch", arg=str(pids))
    args = [*TINY_RUN, "--skip-accuracy", "--frameworks", "torch,jax", "--out", str(tmp_path), "--run-id", "hang",
            "--worker-timeout", "15"]  # fmt: skip
    start = time.monotonic()
    assert main(args) == 1
    assert time.monotonic() - start < 600
    frame = results.load(tmp_path)
    failure = frame[(frame.kind == "failure") & (frame.framework == "torch")].iloc[0]
    assert failure.device == "cpu" and failure.measurement == "throughput"
    assert "sent nothing for 15 s during 'bench_block train/compute_only'" in failure.error
    assert "was killed" in failure.error and "--worker-timeout" in failure.error
    jax = frame[(frame.kind == "throughput") & (frame.framework == "jax")]
    assert len(jax) == 4 and (jax.images_per_s > 0).all()
    for pid in map(int, pids.read_text().split()):  # the worker and its child: no orphan left
        assert _dead(pid), f"process {pid} outlived its killed worker"


def _dead(pid: int) -> bool:
    """Gone, or a zombie: killed, and waiting only for a parent to reap it (the orphaned child
    is re-parented to PID 1, which in some containers never reaps)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_deadlines_grow_with_what_a_worker_has_shown():
    deadlines = Deadlines()
    assert deadlines.seconds("bench_block") == 120  # the floor
    assert deadlines.seconds("bench_block", shown=30.0) == 600  # 20x its slowest step so far
    assert deadlines.seconds("hello") == 600 and deadlines.seconds("bench_setup") == 1800
    assert Deadlines(override=5.0).seconds("bench_setup", shown=1000.0) == 5.0
