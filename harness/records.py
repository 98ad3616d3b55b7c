"""Typed measurement records in a versioned envelope, written atomically, read by pandas.

One JSON file per record:

    {"schema": "alexbench.record", "version": 1,
     "environment": {...machine, software, settings...},
     "record": {"kind": "throughput", "framework": "torch", "device": "cpu", ...}}

Files are written to a temp file in the same folder and renamed over the target, so a
reader (or an interrupted run) never sees a partial record. `load()` reads every record
under a folder into one DataFrame, skipping unreadable files with a warning.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = "alexbench.record"
VERSION = 1
KINDS = ("train", "throughput", "parity", "failure")


@dataclass
class Record:
    """One measurement of one framework on one device.

    kind: train (accuracy), throughput (speed and memory), parity, failure.
    measurement: what was measured within the kind, e.g. "train/compute_only".
    metrics: flat name -> number (None when not available, with a note saying why).
    samples: per-step seconds (throughput) or per-epoch rows (train), kept whole.
    """

    kind: str
    framework: str
    device: str
    measurement: str
    run_id: str
    variant: str = "torchvision"
    precision: str = "float32"
    mode: str | None = None  # execution mode (impls.modes); None in records older than modes
    batch_size: int | None = None
    image_size: list[int] | None = None
    dataset: str | None = None
    metrics: dict[str, float | int | str | None] = field(default_factory=dict)
    samples: list[Any] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    started: str | None = None
    finished: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"record kind must be one of {KINDS}, got {self.kind!r}")

    @property
    def key(self) -> str:
        """Identity of the measurement within a run (used by --resume)."""
        key = f"{self.kind}-{self.framework}-{self.device}-{self.measurement}"
        return (key + (f"-{self.mode}" if self.mode else "")).replace("/", "_")


def _clean(value):
    """JSON has no NaN/inf: store them as None (the report shows a dash with a note)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def envelope(record: Record, environment: dict) -> dict:
    return {"schema": SCHEMA, "version": VERSION, "environment": _clean(environment), "record": _clean(asdict(record))}


def write_text_atomic(path: Path, text: str) -> Path:
    """Write `text` to `path` through a temp file in the same folder and a rename, so a
    reader (or an interrupted run) never sees a partial file. Every result file goes here."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; results are meant to be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_json_atomic(path: Path, payload: dict) -> Path:
    return write_text_atomic(path, json.dumps(payload, indent=1, sort_keys=True, allow_nan=False) + "\n")


def write(directory: str | os.PathLike, record: Record, environment: dict) -> Path:
    """Write `record` as `<directory>/<key>.json`, atomically; returns the path."""
    return write_json_atomic(Path(directory) / f"{record.key}.json", envelope(record, environment))


class OtherDocument(ValueError):
    """A valid alexbench file of another schema (e.g. a detailed parity report)."""


def read(path: str | os.PathLike) -> tuple[Record, dict]:
    """(record, environment) from one file; ValueError if it is not a valid record."""
    payload = json.loads(Path(path).read_text())
    schema = payload.get("schema") if isinstance(payload, dict) else None
    if isinstance(schema, str) and schema.startswith("alexbench.") and schema != SCHEMA:
        raise OtherDocument(f"an {schema} document, not a record")
    if schema != SCHEMA:
        raise ValueError("not an alexbench record")
    if payload.get("version") != VERSION:
        raise ValueError(f"record version {payload.get('version')}, this alexbench reads {VERSION}")
    return Record(**payload["record"]), payload.get("environment", {})


def iter_files(root: str | os.PathLike):
    return sorted(p for p in Path(root).rglob("*.json") if not p.name.startswith("."))


def load_all(root: str | os.PathLike) -> list[tuple[Path, Record, dict]]:
    """Every valid record under `root`; invalid files are skipped with one warning each."""
    found = []
    for path in iter_files(root):
        try:
            record, environment = read(path)
        except OtherDocument:
            continue  # e.g. results/parity/*.json: detailed reports that records summarize
        except (ValueError, TypeError, KeyError, OSError) as error:  # JSONDecodeError is a ValueError
            warnings.warn(f"skipping {path}: {error}", stacklevel=2)
            continue
        found.append((path, record, environment))
    return found


def load(root: str | os.PathLike = "results"):
    """All records under `root` as one pandas DataFrame: one row per record, metrics
    flattened into columns, plus path, environment and samples columns."""
    import pandas as pd

    rows = []
    for path, record, environment in load_all(root):
        row = {k: v for k, v in asdict(record).items() if k != "metrics"}
        row.update(record.metrics)
        row["path"] = str(path)
        row["environment"] = environment
        rows.append(row)
    return pd.DataFrame(rows)
