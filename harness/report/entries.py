"""Reading records for the report: each record with its environment as an Entry, and what
the record says about itself (its execution mode, the default mode when it was measured).

Numbers are read as the records hold them, with one rule for every metric: counts and byte
sizes are integers, every other metric is a real number (a float), so a metric prints the
same whichever record it comes from. A metric stored as null is absent.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness import results
from harness.results import Record

INTEGER_METRICS = {"batch_size", "steps", "flops_per_image", "train_images", "diverged", "epoch"}


@dataclass
class Entry(Record):
    """One record and its environment, as the report reads it: image_size a tuple, metrics
    as numbers (INTEGER_METRICS integers, the rest floats) without the null ones."""

    environment: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    @classmethod
    def of(cls, path: Path, record: Record, environment: dict) -> Entry:
        fields = asdict(record)
        fields.update(
            run_id=record.run_id or "",
            image_size=tuple(record.image_size) if record.image_size else None,
            metrics={k: number(k, v) for k, v in record.metrics.items() if v is not None},
            notes=[str(n) for n in record.notes or []],
        )
        return cls(**fields, environment=dict(environment or {}), path=str(path))

    @property
    def order(self) -> tuple[str, str, str]:
        """Later records sort last: finish time, then run id, then file."""
        return (self.finished or self.started or "", self.run_id or "", self.path)

    @property
    def exec_mode(self) -> str | None:
        """The execution mode; for records older than modes, what their framework did then."""
        return self.mode or results.LEGACY_MODES.get(self.framework)

    @property
    def default_mode(self) -> str | None:
        """The framework's default mode when this record was measured."""
        modes = self.environment.get("modes") or {}
        return modes.get("default") or results.LEGACY_DEFAULT_MODES.get(self.framework)

    def won(self, phase: str) -> str | None:
        """The precision class in which this record's mode won `phase` in a --modes best
        trial ("float32" / "bfloat16"), or None (no trial, or another phase)."""
        selection = self.settings.get("selection") or {}
        return selection.get("class") if selection.get("won") == phase else None

    @property
    def headline_batch(self) -> bool:
        """Measured at its run's headline batch size (the first of --batch-sizes), or a record
        of a run that measured one batch size only."""
        headline = self.settings.get("headline_batch")
        return headline is None or self.settings.get("batch_size") == headline

    @property
    def headline_class(self) -> str:
        """The ranking this record may stand in: "bfloat16" for reduced-precision modes,
        "float32" otherwise. Rankings never mix the two."""
        return "bfloat16" if self.precision == "bfloat16" else "float32"

    def mode_order(self) -> list[str]:
        """The framework's modes, in their order, when this record was measured."""
        modes = self.environment.get("modes") or {}
        return list(modes.get("order") or results.LEGACY_MODE_ORDER.get(self.framework, ()))


def number(name: str, value):
    """A metric as the report shows it: integers for counts and sizes, floats otherwise."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        integral = name.endswith("_bytes") or name.startswith("images_to_") or name in INTEGER_METRICS
        if integral and float(value).is_integer():
            return int(value)
        return float(value)
    return value


def missing(value) -> bool:
    """None or NaN: a figure that is not there."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def load(root) -> tuple[list[Entry], list[tuple[Path, str]]]:
    """(every record under `root` as an Entry, [(file skipped, why)]); each skipped file
    is also printed to stderr as a warning."""
    found, skipped = results.scan(root)
    for path, why in skipped:
        print(f"alexbench report: warning: skipping {path}: {why}", file=sys.stderr)
    return [Entry.of(path, record, environment) for path, record, environment in found], skipped
