"""Every command works from any folder with relative paths: `run`, `scale`, `parity` and
`report` through the installed entry point, started in a folder of the user's own. Their
records land there, the scale launch has no failure record, and nothing under the project's
root changes (workers and ranks run with the root as their working directory: a relative path
handed to one of them would write there). The smallest settings each command allows."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import progress, results
from tests.conftest import REQUIRE_ALL, ROOT, require

SKIP_DIRS = {".git", ".venv", ".asv", "__pycache__", ".pytest_cache", ".ruff_cache"}


def entry_point() -> str:
    """The installed `alexbench` of this interpreter (its bin folder), else the one on PATH."""
    sibling = Path(sys.executable).parent / "alexbench"
    found = str(sibling) if sibling.is_file() else shutil.which("alexbench")
    if not found:
        if REQUIRE_ALL:
            pytest.fail("ALEXBENCH_REQUIRE_ALL=1 but the alexbench entry point is not installed (pip install -e .)")
        pytest.skip("the alexbench entry point is not installed (pip install -e .)")
    return found


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """path -> (mtime, size) of every file under the project's root that a command could write:
    all but version control, caches, the virtual environment and source files (which people
    edit while the suite runs)."""
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        for name in files:
            if not name.endswith((".py", ".pyc")):
                path = Path(folder, name)
                with_stat = path.stat()
                found[str(path.relative_to(root))] = (with_stat.st_mtime_ns, with_stat.st_size)
    return found


def test_run_scale_parity_report_from_a_folder_of_ones_own(tmp_path, mini_fashion):
    require("torch")
    alexbench = entry_point()
    shutil.copytree(mini_fashion, tmp_path / "fashion")  # --data-dir fashion: relative, too
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **{progress.INTERVAL_VARIABLE: "0"})

    def cli(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([alexbench, *args], cwd=tmp_path, env=environment, capture_output=True, text=True,
                              timeout=600, stdin=subprocess.DEVNULL)  # fmt: skip
        assert done.returncode == 0, f"alexbench {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done

    before = snapshot(ROOT)
    # run: one framework, one seed, one epoch on 20 images; its checkpoint is written by the worker
    run = cli("run", "--frameworks", "torch", "--devices", "cpu", "--skip-throughput", "--epochs", "1",
              "--train-subset", "20", "--train-image-size", "63", "--seeds", "1", "--data-dir", "fashion",
              "--width", "0.125", "--run-id", "here")  # fmt: skip
    assert "accuracy, seed 0: done" in run.stderr  # no terminal: a plain progress line per finished step
    again = cli("run", "--frameworks", "torch", "--devices", "cpu", "--skip-throughput", "--epochs", "1",
                "--train-subset", "20", "--train-image-size", "63", "--seeds", "1", "--data-dir", "fashion",
                "--width", "0.125", "--resume")  # fmt: skip  (the latest run under ./results)
    assert "already recorded (--resume)" in again.stdout
    # scale: torch at world size 1, through the engine (torchrun) and without it
    cli("scale", "--frameworks", "torch", "--nproc", "1", "--threads", "1", "--batch", "2", "--image-size", "63",
        "--steps", "1", "--warmup", "1", "--rounds", "1", "--width", "0.125", "--run-id", "scaled")  # fmt: skip
    cli("scale", "--frameworks", "torch", "--nproc", "1", "--write-task", "task.json")
    # parity: tiers 1 and 2 at the initial weights, torch only, no data-parallel launch
    cli("parity", "--size", "small", "--variants", "torchvision", "--steps", "0", "--frameworks", "torch",
        "--modes", "none", "--data-parallel", "0", "--width", "0.125", "--out-dir", "results/parity")  # fmt: skip
    cli("report")

    assert snapshot(ROOT) == before, "a command wrote under the project's root"
    found = {record.key: record for _, record, _ in results.load_all(tmp_path / "results")}
    assert [r.run_id for r in found.values() if r.kind == "train"] == ["here"]
    assert [r.framework for r in found.values() if r.kind == "parity"] == ["torch"]  # parity's summary record
    scaled = [r for r in found.values() if r.run_id == "scaled"]
    assert sorted(r.measurement for r in scaled) == ["scale/dp1", "scale/single"]
    assert all(r.kind == "scaling" for r in scaled), [r.error for r in scaled if r.kind == "failure"]
    assert not list((tmp_path / "results" / "runs" / "here").rglob("*.npz"))  # the checkpoint, done with: removed
    assert json.loads((tmp_path / "task.json").read_text())["framework"] == "torch"
    assert list((tmp_path / "results" / "parity").glob("parity-*.json"))
    for name in ("REPORT.md", "report.html", "summary.csv"):
        assert (tmp_path / "results" / name).is_file()
