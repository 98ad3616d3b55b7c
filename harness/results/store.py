"""Where results live, and the one way they are written and read.

    results/                              (the root; `--out` of run and overhead)
      runs/<run id>/<record key>.json     records: alexbench run, parity summaries
      runs/<run id>/logs/                 worker logs (not committed)
      runs/<run id>/checkpoints/          trainings in progress, for --resume (not committed)
      parity/parity-<UTC time>.json       detailed parity documents
      overhead/overhead-<UTC time>.json   alexbench overhead documents
      REPORT.md, report.html, summary.csv the reports made from all of the above

Every file is written through impls.atomic.write_atomic (temp file, then rename), so a
reader or an interrupted run never sees a partial file.
"""

from __future__ import annotations

import errno
import json
import os
import re
import warnings
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from harness.results.record import OtherDocument, Record, dumps, envelope, read
from impls.atomic import write_atomic
from impls.errors import ConfigError, ResultsWriteError

RUNS, PARITY, OVERHEAD, LOGS, CHECKPOINTS = "runs", "parity", "overhead", "logs", "checkpoints"
# A run id names a folder under runs/ and appears in reports: nothing that is a path.
RUN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")
RUN_ID_RULE = "letters, digits, '-', '_' and '.', not starting with '.' or '-', at most 100 characters"


def check_run_id(run_id: str) -> str:
    """`run_id`, if it is a safe folder name (RUN_ID_RULE); else a ConfigError saying so."""
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        raise ConfigError(f"run id {run_id!r} is not allowed: use {RUN_ID_RULE}")
    return run_id


class Layout:
    """The folders under one results root."""

    def __init__(self, root: str | os.PathLike = "results", parity: str | os.PathLike | None = None) -> None:
        self.root = Path(root)
        self._parity = Path(parity) if parity is not None else self.root / PARITY

    @classmethod
    def of_parity_folder(cls, parity_dir: str | os.PathLike) -> Layout:
        """`alexbench parity --out-dir` names the parity folder itself: the documents go there,
        the summary records to runs/ beside it (its parent is the root)."""
        return cls(Path(parity_dir).parent, parity=parity_dir)

    @property
    def runs(self) -> Path:
        return self.root / RUNS

    def run(self, run_id: str) -> Path:
        return self.runs / run_id

    def logs(self, run_id: str) -> Path:
        return self.run(run_id) / LOGS

    def checkpoint(self, run_id: str, name: str) -> Path:
        """Where an accuracy training of the run keeps its checkpoint while it runs (not committed)."""
        return self.run(run_id) / CHECKPOINTS / f"{name}.npz"

    @property
    def parity(self) -> Path:
        return self._parity

    @property
    def overhead(self) -> Path:
        return self.root / OVERHEAD

    @property
    def overhead_logs(self) -> Path:
        return self.overhead / LOGS

    def run_ids(self) -> list[str]:
        return sorted(p.name for p in self.runs.glob("*") if p.is_dir()) if self.runs.is_dir() else []

    def claim_run(self, run_id: str, chosen: bool) -> str:
        """Create runs/<run_id>/ exclusively and check it can be written; returns the id used.

        A folder that exists already is never shared: a run id the user chose is an error,
        a generated one (the UTC second) gets a suffix -1, -2, ..."""
        check_run_id(run_id)
        guarded(self.runs, lambda: self.runs.mkdir(parents=True, exist_ok=True))
        for attempt in range(100):
            candidate = run_id if attempt == 0 else f"{run_id}-{attempt}"
            try:
                guarded(self.runs, lambda c=candidate: self.run(c).mkdir())
            except FileExistsError:
                if chosen:
                    raise ConfigError(
                        f"run {run_id!r} exists already under {self.runs}: choose another --run-id, or continue "
                        f"that run with --resume {run_id}"
                    ) from None
                continue
            check_writable(self.run(candidate))
            return candidate
        raise ConfigError(f"could not find a free run folder for {run_id!r} under {self.runs}")


def guarded(folder: Path, action):
    """Run `action` (a write in `folder`); an OSError other than "exists" becomes one clear
    ResultsWriteError naming the folder and the cause."""
    try:
        return action()
    except FileExistsError:
        raise
    except OSError as error:
        cause = error.strerror or str(error)
        code = errno.errorcode.get(error.errno, "") if error.errno else ""
        fix = {
            errno.ENOSPC: "free some space, or choose another folder with --out",
            errno.EDQUOT: "free some space, or choose another folder with --out",
            errno.EROFS: "the file system is read-only: choose another folder with --out",
            errno.EACCES: "the folder is not writable: fix its permissions, or choose another folder with --out",
            errno.EPERM: "the folder is not writable: fix its permissions, or choose another folder with --out",
        }.get(error.errno, "choose another folder with --out")
        raise ResultsWriteError(
            f"cannot write results in {folder}: {cause}{f' ({code})' if code else ''}; {fix}"
        ) from error


def check_writable(folder: Path) -> None:
    """Write (and remove) a small file in `folder`, so a read-only folder or a full disk
    stops a run before it measures anything, not after."""
    probe = folder / ".alexbench-write-check"
    guarded(folder, lambda: write_atomic(probe, "ok\n"))
    probe.unlink(missing_ok=True)


def utc_stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def unused_path(folder: Path, prefix: str, stamp: str | None = None) -> Path:
    """folder/<prefix>-<stamp>.json, with -1, -2 ... appended if that name is taken."""
    stamp = stamp or utc_stamp()
    path = folder / f"{prefix}-{stamp}.json"
    suffix = 1
    while path.exists():
        path = folder / f"{prefix}-{stamp}-{suffix}.json"
        suffix += 1
    return path


# ------------------------------------------------------------------------------ writing
def write_text(path: str | os.PathLike, text: str) -> Path:
    path = Path(path)
    return guarded(path.parent, lambda: write_atomic(path, text))


def write_json(path: str | os.PathLike, payload: dict) -> Path:
    return write_text(path, dumps(payload))


def write(directory: str | os.PathLike, record: Record, environment: dict) -> Path:
    """Write `record` as `<directory>/<key>.json`, atomically; returns the path."""
    return write_json(Path(directory) / f"{record.key}.json", envelope(record, environment))


# ------------------------------------------------------------------------------ reading
def iter_files(root: str | os.PathLike) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*.json") if not p.name.startswith("."))


def scan(root: str | os.PathLike) -> tuple[list[tuple[Path, Record, dict]], list[tuple[Path, str]]]:
    """(every valid record under `root` with its environment, every JSON file that is not
    one with the reason: unreadable, another version, an unknown kind). Other alexbench
    documents (detailed parity and overhead documents) are neither."""
    found, skipped = [], []
    for path in iter_files(root):
        try:
            record, environment = read(path)
        except OtherDocument:
            continue  # e.g. results/parity/*.json: detailed reports that records summarize
        except (ValueError, TypeError, KeyError, OSError) as error:  # JSONDecodeError is a ValueError
            skipped.append((path, str(error)))
            continue
        found.append((path, record, environment))
    return found, skipped


def load_all(root: str | os.PathLike) -> list[tuple[Path, Record, dict]]:
    """Every valid record under `root`; the files skipped get one warning each."""
    found, skipped = scan(root)
    for path, why in skipped:
        warnings.warn(f"skipping {path}: {why}", stacklevel=2)
    return found


def load(root: str | os.PathLike = "results"):
    """All records under `root` as one pandas DataFrame (for your own analysis): one row per
    record, metrics flattened into columns, plus path, environment and samples columns."""
    import pandas as pd

    rows = []
    for path, record, environment in load_all(root):
        row = {k: v for k, v in asdict(record).items() if k != "metrics"}
        row.update(record.metrics)
        row["path"] = str(path)
        row["environment"] = environment
        rows.append(row)
    return pd.DataFrame(rows)


def documents(folder: Path, prefix: str, schema: str) -> list[dict]:
    """The JSON documents `<prefix>-*.json` of `schema` in `folder`, oldest first (UTC stamps
    sort by time); unreadable ones are left out."""
    found = []
    for path in sorted(folder.glob(f"{prefix}-*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(document, dict) and document.get("schema") == schema:
            found.append(document)
    return found
