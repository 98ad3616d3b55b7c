"""The typed measurement record and its versioned envelope: the one format of results/.

One JSON file per record:

    {"schema": "alexbench.record", "version": 3,
     "environment": {...machine, software, settings...},
     "record": {"kind": "throughput", "framework": "torch", "device": "cpu", ...}}

What a report needs to show a record is in the record or its environment (which mode was
the framework's default when it was measured, the order of its modes); records written
before those facts were stored are read with the facts of the version that wrote them
(LEGACY_*), so the report never asks the code of today what a past run meant.

A record's workload (Workload: model, variant, width, input size and channels, data,
precision) is what its figures are figures of: two records of different workloads are never
ranked against each other. Since version 3 a record names its model, width and input
channels, and its key (its file name) names its workload, so two workloads of one run never
share a file; older records keep their names and read as AlexNet at width 1, their input
channels as their version made them (LEGACY_IN_CHANNELS).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = "alexbench.record"
# 2: the selection, pipeline and scaling kinds, seed and curve; 3: model, width and in_channels, and keys
# that name the workload. Records of versions 1 and 2 read as they are (the new fields at their defaults).
VERSION = 3
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
# Records made before in_channels was recorded (None): every benchmark (throughput, the
# input pipeline, --modes best trials, scaling) of versions 1 and 2 built a 3-channel model;
# a training's channels are in its settings (TrainSettings.in_channels).
LEGACY_IN_CHANNELS = 3
BENCH_KINDS = ("throughput", "pipeline", "selection", "scaling")


@dataclass(frozen=True)
class Workload:
    """What a record's figures are figures of: the network (model, variant, width), its input
    (height and width, channels), the data, the precision. Batch size is not part of it:
    throughput keys and tables name the batch themselves.

    The data counts as it is recorded: benchmarks (throughput, the input pipeline, scaling)
    time synthetic images, whose content does not change a step's time, so their label names
    no data; a training's dataset (Fashion-MNIST, an image folder) decides its accuracy and
    is named. None where the record does not say (in_channels of a record that predates it
    and has no legacy fact, or a failure that never reached its workload)."""

    model: str = "alexnet"
    variant: str = "torchvision"
    width: float = 1.0
    image_size: tuple[int, int] | None = None
    in_channels: int | None = None
    dataset: str | None = None
    precision: str | None = "float32"

    def replace(self, **changes) -> Workload:
        return Workload(**{**asdict(self), **changes})

    def size_text(self) -> str:
        size = "x".join(str(i) for i in self.image_size) if self.image_size else "?x?"
        return f"{size}x{self.in_channels if self.in_channels is not None else '?'}"

    def label(self, precision: str | None = None) -> str:
        """e.g. "alexnet (torchvision) · 224x224x3 · float32 · width 0.25 · fashion-mnist/train";
        `precision` replaces the workload's own in the text (a table of bfloat16 modes)."""
        parts = [f"{self.model} ({self.variant})", self.size_text()]
        if precision or self.precision:
            parts.append(precision or self.precision)
        if self.width != 1:
            parts.append(f"width {self.width:g}")
        if self.dataset and self.dataset != "synthetic":
            parts.append(self.dataset)
        return " · ".join(parts)

    @property
    def slug(self) -> str:
        """A compact name for file names: alexnet-torchvision-224x224c3, then -w0.25 when the width is not 1."""
        size = "x".join(str(i) for i in self.image_size) if self.image_size else "nosize"
        text = f"{self.model}-{self.variant}-{size}c{self.in_channels if self.in_channels is not None else 'x'}"
        text += f"-w{self.width:g}" if self.width != 1 else ""
        return re.sub(r"[^A-Za-z0-9._+-]", "_", text)

    def sort_key(self) -> tuple:
        return (self.model, self.variant, self.width, self.image_size or (), self.in_channels or 0,
                self.dataset or "", self.precision or "")  # fmt: skip


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
    model: str = "alexnet"  # the network (impls.models); records older than version 3: AlexNet
    width: float = 1.0  # channel width multiplier of the network; 1 is the published network
    in_channels: int | None = None  # input channels; None in records older than version 3 (see workload)
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
    def workload(self) -> Workload:
        """What the figures are figures of; records older than version 3 read with the facts of
        their version (AlexNet, width 1, LEGACY_IN_CHANNELS or the training's settings)."""
        channels = self.in_channels
        if channels is None and self.image_size:
            channels = self.settings.get("in_channels") if self.kind == "train" else None
            channels = LEGACY_IN_CHANNELS if channels is None and self.kind in BENCH_KINDS else channels
        size = tuple(int(i) for i in self.image_size) if self.image_size else None
        return Workload(self.model, self.variant, float(self.width), size, channels, self.dataset, self.precision)

    @property
    def key(self) -> str:
        """Identity of the measurement within a run (its file name; used by --resume). Since
        version 3 it ends in the workload (Workload.slug), so two workloads of one run never
        share a file; a record that does not name its input channels (older, or a failure
        before its workload was known) has the key of the version that wrote it."""
        key = self.base_key
        return key + f"-{self.workload.slug}" if self.in_channels is not None else key

    @property
    def base_key(self) -> str:
        """The key without the workload: what versions 1 and 2 named the file."""
        key = f"{self.kind}-{self.framework}-{self.device}-{self.measurement}"
        key += (f"-{self.mode}" if self.mode else "") + (f"-seed{self.seed}" if self.seed is not None else "")
        if self.kind in ("throughput", "selection", "pipeline") and self.settings.get("batch_size"):
            key += f"-b{self.settings['batch_size']}"  # the batch asked for (a retry after out of memory may use less)
        return key.replace("/", "_")

    @staticmethod
    def model_fields(config: Any) -> dict[str, Any]:
        """model, width and in_channels of a network config (impls.AlexNetConfig, training or
        scaling settings, or their dict), for the Record built from it: AlexNet at width 1 where
        the config does not say. `width` counts only as a field of the config (in configs
        without one, `width` was the image width)."""
        if isinstance(config, Mapping):
            get, named = config.get, config
        else:
            get, named = (lambda k, d=None: getattr(config, k, d)), getattr(config, "__dataclass_fields__", {})
        channels = get("in_channels")
        return {
            "model": str(get("model") or "alexnet"),
            "width": float(get("width", 1.0)) if "width" in named else 1.0,
            "in_channels": int(channels) if channels is not None else None,
        }

    @staticmethod
    def workload_fields(config: Any) -> dict[str, Any]:
        """model_fields and the variant and input size (an int: square), as the records made
        from `config` hold them: what --resume looks a measurement up by before it measures."""
        size = config.get("image_size") if isinstance(config, Mapping) else getattr(config, "image_size", None)
        size = [int(size)] * 2 if isinstance(size, int) else (list(size) if size else None)
        variant = config.get("variant") if isinstance(config, Mapping) else getattr(config, "variant", None)
        return {"variant": variant or "torchvision", "image_size": size, **Record.model_fields(config)}


def recorded(done: Mapping[str, Record], probe: Record) -> Record | None:
    """The record in `done` (by key, as --resume reads a run) of the measurement `probe`
    names (kind, framework, device, measurement, mode, seed, batch and workload): under its
    key, or, in a run begun by an older alexbench, under the key of that version if that
    record's workload is the probe's (the fields the probe knows before measuring)."""
    if probe.key in done:
        return done[probe.key]
    old = done.get(probe.base_key)
    if old is None or old.in_channels is not None:
        return None
    mine, theirs = probe.workload, old.workload
    known = ("model", "variant", "width", "image_size", "in_channels")
    return old if all(getattr(mine, f) == getattr(theirs, f) for f in known) else None


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
