"""Results on disk: safe run ids, a folder per run, writes that fail cleanly (read-only
folder, full disk), and records that this alexbench cannot read (a newer version, an
unknown kind) skipped with a warning that names them."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess

import pytest

from harness import report, results
from harness.cli import main
from impls.atomic import write_atomic
from impls.errors import ConfigError, ResultsWriteError
from tests.harness.measure.test_run import TINY_RUN


@pytest.mark.parametrize("bad", ["../../escaped", "a/b", ".hidden", "-x", "x" * 101, "a b", "r|<b>", ""])
def test_run_ids_that_are_paths_or_markup_are_refused(bad):
    with pytest.raises(ConfigError, match="letters, digits"):
        results.check_run_id(bad)


def test_cli_refuses_an_escaping_run_id_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "results"
    assert main([*TINY_RUN, "--skip-accuracy", "--out", str(out), "--run-id", "../../escaped"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "run id '../../escaped' is not allowed" in err and "letters, digits" in err
    assert not out.exists() and not (tmp_path / "escaped").exists()


def test_a_run_folder_is_never_shared(tmp_path):
    layout = results.Layout(tmp_path)
    assert layout.claim_run("20260101T000000Z", chosen=False) == "20260101T000000Z"
    assert layout.claim_run("20260101T000000Z", chosen=False) == "20260101T000000Z-1"  # same second: a suffix
    assert layout.claim_run("mine", chosen=True) == "mine"
    with pytest.raises(ConfigError, match="exists already.*--resume mine"):
        layout.claim_run("mine", chosen=True)
    assert sorted(layout.run_ids()) == ["20260101T000000Z", "20260101T000000Z-1", "mine"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "record.json"
    target.write_text("earlier\n")

    def disk_full(f):
        f.write(b"half a record")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, disk_full)
    assert target.read_text() == "earlier\n"
    assert os.listdir(tmp_path) == ["record.json"]


def test_results_write_error_names_the_folder_and_the_cause(tmp_path, monkeypatch):
    def refuse(path, payload, mode=0o644):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("harness.results.store.write_atomic", refuse)
    with pytest.raises(ResultsWriteError, match=f"cannot write results in {tmp_path}: Read-only file system"):
        results.write_text(tmp_path / "x.json", "{}")


@contextlib.contextmanager
def tmpfs(path, size: str, readonly: bool = False):
    """A small RAM file system at `path` (needs root, as CI runs); skips where it cannot mount."""
    path.mkdir()
    options = f"size={size}" + (",ro" if readonly else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_a_read_only_results_folder_stops_the_run_before_it_measures(tmp_path, capsys):
    if os.geteuid() == 0:
        context = tmpfs(tmp_path / "ro", "64k", readonly=True)
    else:  # permissions stop anyone but root
        (tmp_path / "ro").mkdir(mode=0o555)
        context = contextlib.nullcontext(tmp_path / "ro")
    with context as folder:
        assert main([*TINY_RUN, "--skip-accuracy", "--out", str(folder), "--run-id", "r"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0, err
        assert f"cannot write results in {folder}" in err and "choose another folder with --out" in err
        assert os.listdir(folder) == []


def test_a_full_disk_keeps_earlier_records_and_leaves_no_temporary_file(tmp_path, capsys):
    with tmpfs(tmp_path / "disk", "256k") as disk:
        run = results.Layout(disk).run("r")
        earlier = results.write(run, results.Record("failure", "jax", "cpu", "setup", "r", error="x"), {})
        before = earlier.read_bytes()
        with open(disk / "filler", "wb", buffering=0) as f, contextlib.suppress(OSError):  # fill it to the last byte
            while True:
                f.write(b"\0" * 4096)
        assert main([*TINY_RUN, "--skip-accuracy", "--out", str(disk), "--resume", "r"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0, err
        assert f"cannot write results in {run}: No space left on device (ENOSPC); free some space" in err
        assert earlier.read_bytes() == before
        leftovers = [p for p in disk.rglob("*") if p.name.startswith(".")]
        assert not leftovers, leftovers


def _envelope(run: str, **changes) -> dict:
    record = results.Record("failure", "jax", "cpu", "setup", run, error="x")
    payload = results.envelope(record, {})
    for key, value in changes.items():
        if key == "kind":
            payload["record"]["kind"] = value
        else:
            payload[key] = value
    return payload


def test_records_this_alexbench_cannot_read_are_skipped_with_a_warning(tmp_path, capsys):
    folder = tmp_path / "runs" / "r"
    results.write(folder, results.Record("failure", "torch", "cpu", "setup", "r", error="ok"), {})
    (folder / "newer.json").write_text(json.dumps(_envelope("r", version=results.VERSION + 1)))
    (folder / "kind.json").write_text(json.dumps(_envelope("r", kind="sorcery")))
    entries, skipped = report.load(tmp_path)
    assert [e.framework for e in entries] == ["torch"]  # read what it can, misread nothing
    reasons = {path.name: why for path, why in skipped}
    assert f"newer alexbench (record version {results.VERSION + 1}" in reasons["newer.json"]
    assert "unknown record kind 'sorcery'" in reasons["kind.json"]
    err = capsys.readouterr().err
    assert "newer.json" in err and "kind.json" in err and "Traceback" not in err
    out = tmp_path / "report"
    assert main(["report", "--results", str(tmp_path), "--out", str(out)]) == 0
    intro = (out / "REPORT.md").read_text().split("## ")[0]
    assert "2 unreadable file(s) skipped" in intro and "runs/r/newer.json (written by a newer alexbench" in intro
