"""`alexbench scale` (harness.measure.scaling): a record per world size with its efficiency,
a failure record for a launch that failed while the other sizes are still measured, clear
errors for settings that cannot work, and the Scaling section of the report."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings

import pytest

from harness.cli import main
from harness.distributed.launch import LaunchFailed, Outcome
from harness.measure import scaling
from harness.measure.scaling import ScaleSettings
from harness.results import load_all
from impls.config import SMALL_WIDTH
from impls.errors import ConfigError
from tests.conftest import ROOT, interruptible, require
from tests.harness.distributed.processes import processes_of, reap, wait_for


def scale_command(out, steps: int, width: float = SMALL_WIDTH) -> list[str]:
    """torch at 67x67, global batch 4, one round: single, dp1, dp2 in this order."""
    return [sys.executable, "-m", "harness", "scale", "--frameworks", "torch", "--nproc", "1,2", "--threads", "2",
            "--batch", "4", "--image-size", "67", "--width", str(width), "--steps", str(steps), "--warmup", "1",
            "--rounds", "1", "--out", str(out), "--run-id", "s"]  # fmt: skip


def test_scale_records_every_world_size_and_the_report_shows_them(tmp_path):
    require("torch")
    out = tmp_path / "results"
    done = subprocess.run(scale_command(out, 2), cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout + done.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a file under results/ that is neither a record nor a document
        records = {r.measurement: r for _, r, _ in load_all(out)}  # and nothing else: the ranks' files are no records
    assert set(records) == {"scale/single", "scale/dp1", "scale/dp2"}
    assert {r.kind for r in records.values()} == {"scaling"}
    dp2 = records["scale/dp2"].metrics
    assert (dp2["world_size"], dp2["threads_per_rank"]) == (2, 1)
    assert dp2["images_per_s"] > 0 and dp2["scaling_efficiency"] > 0 and dp2["rank_spread"] >= 0
    one = records["scale/dp1"].metrics["images_per_s"]
    assert dp2["scaling_efficiency"] == pytest.approx(dp2["images_per_s"] / one)
    assert "engine_cost_at_one" in records["scale/single"].metrics
    assert not list((out / "runs" / "s" / "ranks").glob("*/rank*.json.tmp"))
    assert main(["report", "--results", str(out), "--out", str(tmp_path / "report")]) == 0
    markdown = (tmp_path / "report" / "REPORT.md").read_text()
    table = markdown.split("### Data-parallel training images/s by world size\n\n", 1)[1].split("\n\n", 1)[0]
    assert [line.split("|")[3].strip() for line in table.splitlines()[2:]] == ["1, no engine", "dp1", "dp2"]
    assert (
        "<title>Data-parallel training on CPU: images/s by world size</title>"
        in (tmp_path / "report" / "report.html").read_text()
    )


def test_killing_a_rank_mid_run_ends_it_within_60_s_with_a_failure_record_and_no_process_left(tmp_path):
    """Through torchrun: it sees its rank die and stops the other; the launcher reaps all."""
    require("torch")
    out = tmp_path / "results"
    # 12 steps at full width (a step is ~0.7 s): single and dp1 end in ~8 s each, and dp2
    # lasts ~8 s past its warm-up, long enough to be killed mid-run (asserted below)
    process = subprocess.Popen(scale_command(out, 12, width=1.0), cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)  # fmt: skip
    folder = out / "runs" / "s" / "ranks" / "alexnet-torch-dp2-round0"
    try:
        wait_for([folder / "warm0", folder / "warm1", folder / "pid1"], 900)
        assert not (folder / "rank1.json").exists(), "the run ended before the rank could be killed"
        os.kill(int((folder / "pid1").read_text()), signal.SIGKILL)
        killed = time.monotonic()
        output, _ = process.communicate(timeout=60)
        assert time.monotonic() - killed < 60
    finally:
        reap(process, out)
    assert process.returncode == 1, output
    assert processes_of(out) == [], "a process of the run outlived it"
    records = {r.measurement: r for _, r, _ in load_all(out)}
    assert records["scale/dp2"].kind == "failure", output
    assert "failed" in records["scale/dp2"].error
    assert records["scale/dp1"].kind == records["scale/single"].kind == "scaling"  # measured before, kept


def test_ctrl_c_stops_the_run_and_leaves_no_process(tmp_path):
    require("torch")
    out = tmp_path / "results"
    process = subprocess.Popen(scale_command(out, 10**6), cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, preexec_fn=interruptible)  # fmt: skip
    try:
        wait_for([out / "runs" / "s" / "ranks" / "alexnet-torch-single-round0" / "warm0"], 900)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        reap(process, out)
    assert process.returncode == 130, output
    assert "interrupted" in output
    assert processes_of(out) == []


def test_a_failed_launch_is_a_failure_record_and_the_other_sizes_are_measured(tmp_path, monkeypatch):
    def fake_launch(framework, world, task, deadline, folder):
        if world == 2:
            raise LaunchFailed("torch data-parallel run of 2 ranks: process 1 of 2 failed (killed by signal 9)")
        seconds = [0.5, 0.5, 0.5] if task["engine"] else [0.4, 0.4, 0.4]
        return Outcome(folder, 1.0, {r: {"seconds": seconds, "versions": {}} for r in range(world)})

    monkeypatch.setattr(scaling, "launch", fake_launch)
    settings = ScaleSettings(world_sizes=(1, 2), batch=4, steps=3, rounds=2)
    records = {r.measurement: r for r in scaling.measure("torch", settings, tmp_path, "s", progress=lambda _: None)}
    assert records["scale/dp2"].kind == "failure" and "killed by signal 9" in records["scale/dp2"].error
    assert records["scale/dp1"].metrics["images_per_s"] == pytest.approx(8.0)
    assert records["scale/single"].metrics["engine_cost_at_one"] == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--nproc", "2"], "needs world size 1"),
        (["--nproc", "one,two"], "world sizes separated by commas"),
        (["--nproc", "1,2", "--batch", "5"], "does not split equally"),
        (["--nproc", "1,4", "--threads", "2"], "at least 4 CPU threads"),
        (["--frameworks", "mxnet"], "unknown framework 'mxnet'"),
    ],
)
def test_settings_that_cannot_work_are_refused_before_anything_starts(option, message, tmp_path, capsys):
    assert main(["scale", *option, "--out", str(tmp_path)]) != 0
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_write_task_gives_the_ranks_task_for_a_launch_by_hand(tmp_path):
    import json

    path = tmp_path / "task.json"
    args = ["scale", "--frameworks", "jax", "--device", "gpu", "--nproc", "1,16", "--batch", "512"]
    assert main([*args, "--write-task", str(path)]) == 0
    task = json.loads(path.read_text())
    assert (task["schema"], task["framework"], task["world"], task["kind"]) == (
        "alexbench.rank/1",
        "jax",
        16,
        "throughput",
    )
    assert (task["batch"], task["device"], task["engine"]) == (512, "gpu", True)
    assert not (tmp_path / "runs").exists()
    assert main([*args[:2], "torch,jax", *args[3:], "--write-task", str(path)]) == 2  # one framework at a time


def test_each_model_in_turn_gets_its_own_records_and_rank_folders(tmp_path, monkeypatch):
    """--models alexnet,vgg11 (launches faked: the records, not the engines): every record
    names its network, and the two networks' records and rank folders never share a name."""
    folders = []

    def fake_launch(framework, world, task, deadline, folder):
        folders.append((task["config"]["model"], folder.name))
        return Outcome(folder, 1.0, {r: {"seconds": [0.5, 0.5], "versions": {}} for r in range(world)})

    monkeypatch.setattr(scaling, "launch", fake_launch)
    out = tmp_path / "results"
    args = ["scale", "--frameworks", "torch", "--models", "alexnet,vgg11", "--nproc", "1,2", "--threads", "2",
            "--batch", "4", "--image-size", "32", "--width", str(SMALL_WIDTH), "--rounds", "1", "--out", str(out),
            "--run-id", "m"]  # fmt: skip
    with pytest.raises(ConfigError, match="too small for the torchvision alexnet"):  # 32 fits vgg11 only
        main(["--debug", *args])
    args[args.index("32")] = "64"
    assert main(args) == 0
    found = [(path.name, record) for path, record, _ in load_all(out)]
    assert sorted((r.model, r.measurement) for _, r in found) == [
        (model, f"scale/{label}") for model in ("alexnet", "vgg11") for label in ("dp1", "dp2", "single")
    ]
    assert all(r.width == SMALL_WIDTH and r.image_size == [64, 64] for _, r in found)
    assert len({name for name, _ in found}) == 6  # one file each: the keys name the network
    assert {model for model, _ in folders} == {"alexnet", "vgg11"}
    assert all(name.startswith(f"{model}-torch-") for model, name in folders)
    assert len({name for _, name in folders}) == len(folders)
