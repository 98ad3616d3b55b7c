"""Faults and interruptions: out of memory, divergence, signals, missing frameworks,
determinism. Each test fails without the handling it checks."""

import hashlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import impls
from harness import records
from harness.cli import main
from tests.conftest import require
from tests.test_run import TINY_RUN, mini_fashion  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parent.parent


def test_out_of_memory_retries_with_half_the_batch_and_records_it(tmp_path, mini_fashion):  # noqa: F811
    require("torch")
    args = [*TINY_RUN, "--skip-accuracy", "--frameworks", "torch", "--batch-size", "4", "--out", str(tmp_path),
            "--run-id", "oom", "--inject-failure", "torch=oom:1"]  # fmt: skip
    assert main(args) == 0
    frame = records.load(tmp_path)
    assert set(frame.batch_size) == {1} and set(frame.batch_size_requested) == {4}
    notes = " ".join(frame.iloc[0].notes)
    assert "out of memory at batch 4" in notes and "out of memory at batch 2" in notes


def test_nan_loss_stops_training_and_records_the_divergence(tmp_path, mini_fashion, capsys):  # noqa: F811
    require("torch")
    args = [*TINY_RUN, "--skip-throughput", "--frameworks", "torch", "--lr", "1e12", "--out", str(tmp_path),
            "--run-id", "nan", "--data-dir", str(mini_fashion)]  # fmt: skip
    assert main(args) == 1
    record = records.load(tmp_path).iloc[0]
    assert record.kind == "train" and record.diverged == 1
    assert any("loss became" in note and "training stopped" in note for note in record.notes)
    assert "DIVERGED" in capsys.readouterr().out


def test_missing_framework_is_skipped_with_its_install_hint(tmp_path, mini_fashion, monkeypatch):  # noqa: F811
    ghost = impls.Implementation("ghost", "impls.ghost", "Ghost", ("no_such_pkg_xyz",), "pip install ghost-fw")
    monkeypatch.setitem(impls._REGISTRY, "ghost", ghost)
    args = [*TINY_RUN, "--skip-throughput", "--frameworks", "ghost,torch", "--out", str(tmp_path),
            "--run-id", "ghost", "--data-dir", str(mini_fashion)]  # fmt: skip
    assert main(args) == 0  # a skip is not a failure
    frame = records.load(tmp_path)
    skipped = frame[frame.framework == "ghost"].iloc[0]
    assert skipped.kind == "failure" and "skipped" in skipped.error and "pip install ghost-fw" in skipped.error
    assert (frame[frame.framework == "torch"].kind == "train").any()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_run_keeps_every_written_record_valid_and_resume_finishes(tmp_path, mini_fashion, signum):  # noqa: F811
    require("torch")
    args = [*TINY_RUN, "--skip-throughput", "--frameworks", "torch,torch", "--out", str(tmp_path),
            "--run-id", "sig", "--data-dir", str(mini_fashion), "--epochs", "30"]  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    logs = tmp_path / "runs" / "sig" / "logs"
    deadline = time.time() + 240
    while not (logs / "torch-cpu.log").exists() and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(8)  # the worker is busy training now
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "continue with: alexbench run --resume sig" in err
    run_dir = tmp_path / "runs" / "sig"
    assert not list(run_dir.glob(".*.tmp")), "a partial record was left behind"
    for path in run_dir.glob("*.json"):
        records.read(path)  # every record written is complete and valid


def _fingerprint_script(framework: str) -> str:
    return f"""
import hashlib, numpy as np, impls
config = impls.tiny_config(dropout=0.5)
model = impls.create({framework!r}, config, seed=3)
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


def test_same_command_twice_gives_bit_identical_losses_and_weights(framework):
    digests = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", _fingerprint_script(framework)], cwd=ROOT, capture_output=True,
                              text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        digests.append(done.stdout.strip().splitlines()[-1])
    assert digests[0] == digests[1], f"{framework} is not deterministic on CPU"
    assert len(digests[0]) == len(hashlib.sha256().hexdigest())
