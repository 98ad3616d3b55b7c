"""The typed measurement record and its versioned envelope: the one format of results/.

One JSON file per record:

    {"schema": "alexbench.record", "version": 1,
     "environment": {...machine, software, settings...},
     "record": {"kind": "throughput", "framework": "torch", "device": "cpu", ...}}

What a report needs to show a record is in the record or its environment (which mode was
the framework's default when it was measured, the order of its modes); records written
before those facts were stored are read with the facts of the version that wrote them
(LEGACY_*), so the report never asks the code of today what a past run meant.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = "alexbench.record"
VERSION = 2  # 2: the selection, pipeline and scaling kinds, seed and curve; version 1 records read as they are
KINDS = ("train", "throughput", "parity", "failure", "selection", "pipeline", "scaling")

# Records made before execution modes were recorded (mode None) ran these: NCHW eager
# torch, Keras through XLA, jitted JAX.
LEGACY_MODES = {"torch": "eager", "keras": "xla", "jax": "jit"}
# Records made before the environment carried "modes": the defaults and the mode order
# of alexbench 0.1.0 as it wrote them.
LEGACY_DEFAULT_MODES = {"torch": "channels_last", "keras": "xla", "jax": "jit"}
LEGACY_MODE_ORDER = {
    "torch": ("eager", "channels_last", "compile", "bf16"),
    "keras": ("graph", "xla", "bf16"),
    "jax": ("jit", "bf16"),
}


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
    seed: int | None = None  # train records: the replicate's seed (weights, batch order, augmentation, dropout)
    curve: list[dict] = field(default_factory=list)  # train records: test accuracy against images seen

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"record kind must be one of {KINDS}, got {self.kind!r}")

    @property
    def key(self) -> str:
        """Identity of the measurement within a run (its file name; used by --resume)."""
        key = f"{self.kind}-{self.framework}-{self.device}-{self.measurement}"
        key += (f"-{self.mode}" if self.mode else "") + (f"-seed{self.seed}" if self.seed is not None else "")
        if self.kind in ("throughput", "selection", "pipeline") and self.settings.get("batch_size"):
            key += f"-b{self.settings['batch_size']}"  # the batch asked for (a retry after out of memory may use less)
        return key.replace("/", "_")


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


def dumps(payload: dict) -> str:
    """The JSON text of every result document: sorted keys, no NaN."""
    return json.dumps(payload, indent=1, sort_keys=True, allow_nan=False) + "\n"


class OtherDocument(ValueError):
    """A valid alexbench file of another schema (e.g. a detailed parity report)."""


def read(path: str | Path) -> tuple[Record, dict]:
    """(record, environment) from one file; ValueError if it is not a valid record."""
    payload = json.loads(Path(path).read_text())
    schema = payload.get("schema") if isinstance(payload, dict) else None
    if isinstance(schema, str) and schema.startswith("alexbench.") and schema != SCHEMA:
        raise OtherDocument(f"an {schema} document, not a record")
    if schema != SCHEMA:
        raise ValueError("not an alexbench record")
    version = payload.get("version")
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"record version {version!r} is not one any alexbench wrote")
    if version > VERSION:
        raise ValueError(
            f"written by a newer alexbench (record version {version}; this one reads up to {VERSION}): "
            "upgrade alexbench to read it"
        )
    fields = payload.get("record")
    if not isinstance(fields, dict):
        raise ValueError("the envelope holds no record")
    if fields.get("kind") not in KINDS:
        raise ValueError(f"unknown record kind {fields.get('kind')!r} (this alexbench knows {', '.join(KINDS)})")
    unknown = sorted(set(fields) - set(Record.__dataclass_fields__))
    if unknown:
        raise ValueError(f"unknown record fields {', '.join(unknown)} for record version {version}")
    return Record(**fields), payload.get("environment", {})
