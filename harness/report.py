"""Write results/REPORT.md, report.html and summary.csv from the records, and nothing else.

    alexbench report                                  # every record under results/
    alexbench report --run 20261127T232228Z           # one run only
    alexbench report --readme README.md               # also refresh README's results table

Each figure comes from the latest record of its framework x device x measurement (by the
time the record was finished, then run id), or from the run named by --run. A failure
record newer than a measurement hides it: the cell shows "—" and a note with the error.
Missing figures (no GPU, no NVML, too few steps for a confidence interval, a failed run)
are "—" with a note saying why, never 0. Throughput is the median with the 95% confidence
interval of the median; frameworks whose interval overlaps the best one's are ties within
noise (harness.stats.overlaps), not ranked apart.

The output depends on the records alone: no clock, sorted rows, fixed float formats, plots
drawn as inline SVG; generating twice gives the same bytes. report.html needs no network
(no scripts, fonts or style sheets from elsewhere).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import html
import io
import json
import math
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import records, stats
from impls.modes import DEFAULT_MODE, MODES

DASH = "—"
THROUGHPUT_MEASUREMENTS = ("train/compute_only", "train/end_to_end", "inference/compute_only", "inference/end_to_end")
MEASUREMENT_TITLES = {
    "train/compute_only": "Training, compute only",
    "train/end_to_end": "Training, end to end",
    "inference/compute_only": "Inference, compute only",
    "inference/end_to_end": "Inference, end to end",
}
README_BEGIN = "<!-- alexbench:results:begin -->"
README_END = "<!-- alexbench:results:end -->"
ENERGY_METRICS = ("joules_per_image", "watts_mean", "gpu_util_mean", "board_memory_max_bytes")
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")
NO_CI_TIE = "a framework without a 95% CI (too few steps) cannot be told apart from the leader: shown as a tie"
_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(records.Record))
# What each framework ran before execution modes were recorded (NCHW eager torch, Keras
# through XLA, jitted JAX): records without a mode were made that way.
LEGACY_MODES = {"torch": "eager", "keras": "xla", "jax": "jit"}
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


# ------------------------------------------------------------------------------ reading
@dataclass
class Entry:
    """One record, as read back from the DataFrame of records.load()."""

    kind: str
    framework: str
    device: str
    measurement: str
    run_id: str
    variant: str | None = None
    precision: str | None = None
    batch_size: int | None = None
    image_size: tuple[int, ...] | None = None
    dataset: str | None = None
    mode: str | None = None  # execution mode; records from before modes have None
    metrics: dict[str, Any] = field(default_factory=dict)
    samples: list[Any] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    started: str | None = None
    finished: str | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    @property
    def order(self) -> tuple[str, str, str]:
        """Later records sort last: finish time, then run id, then file."""
        return (self.finished or self.started or "", self.run_id or "", self.path)

    def workload(self) -> tuple:
        return (self.variant, self.precision, self.batch_size, self.image_size)

    @property
    def exec_mode(self) -> str | None:
        """The execution mode; for records older than modes, what their framework did then."""
        return self.mode or LEGACY_MODES.get(self.framework)


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return isinstance(value, float) and math.isnan(value)
    except TypeError:
        return False


def _plain(name: str, value):
    """A DataFrame cell back to a plain Python value (NaN -> None, integral floats of
    integer quantities -> int, numpy scalars -> Python)."""
    if _missing(value):
        return None
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        value = value.item()
    if isinstance(value, float) and value.is_integer() and (name.endswith("_bytes") or name in _INTEGER_FIELDS):
        return int(value)
    return value


_INTEGER_FIELDS = {"batch_size", "steps", "flops_per_image", "train_images", "diverged", "epoch"}


def entries_from_frame(frame) -> list[Entry]:
    """Entries from records.load()'s DataFrame (one row per record, metrics as columns)."""
    if frame is None or len(frame) == 0:
        return []
    metric_columns = [c for c in frame.columns if c not in _RECORD_FIELDS and c not in ("path", "environment")]
    entries = []
    for row in frame.to_dict("records"):
        fields = {name: _plain(name, row.get(name)) for name in _RECORD_FIELDS if name != "metrics"}
        image_size = fields.get("image_size")
        entries.append(
            Entry(
                kind=str(fields["kind"]),
                framework=str(fields["framework"]),
                device=str(fields["device"]),
                measurement=str(fields["measurement"]),
                run_id=str(fields.get("run_id") or ""),
                variant=fields.get("variant"),
                precision=fields.get("precision"),
                batch_size=fields.get("batch_size"),
                image_size=tuple(image_size) if image_size else None,
                dataset=fields.get("dataset"),
                mode=fields.get("mode"),
                samples=list(fields.get("samples") or []),
                settings=dict(fields.get("settings") or {}),
                notes=[str(n) for n in fields.get("notes") or []],
                error=fields.get("error"),
                started=fields.get("started"),
                finished=fields.get("finished"),
                environment=dict(row.get("environment") or {}),
                path=str(row.get("path") or ""),
                metrics={c: _plain(c, row.get(c)) for c in metric_columns if not _missing(row.get(c))},
            )
        )
    return entries


def load(root: str | os.PathLike) -> tuple[Any, list[str]]:
    """(records.load(root), warnings): every record as a DataFrame, and one line per
    file that was skipped (printed to stderr here too, whatever the warning filters)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = records.load(root)
    messages = [str(w.message) for w in caught]
    for message in messages:
        print(f"alexbench report: warning: {message}", file=sys.stderr)
    return frame, messages


# ----------------------------------------------------------------------------- selection
@dataclass
class Cell:
    """What the report shows for one framework x device x measurement: the latest record,
    or the failure that replaced it, or why there is none."""

    kind: str
    framework: str
    device: str
    measurement: str
    entry: Entry | None = None
    failure: Entry | None = None
    absent: str | None = None

    def why(self) -> str:
        if self.failure is not None:
            f = self.failure
            error = " ".join(str(f.error or "no error text").split())
            if error.startswith("skipped"):
                return f"{f.framework} on {f.device.upper()}: {error}"
            return f"{f.framework} on {f.device.upper()}: {f.measurement} failed in run {f.run_id}: {error}"
        return self.absent or "no record"

    def metric(self, name: str):
        return None if self.entry is None else self.entry.metrics.get(name)


def device_key(device: str) -> tuple[int, str]:
    return ({"cpu": 0, "gpu": 1}.get(device, 2), device)


def measurement_key(measurement: str) -> tuple[int, str]:
    if measurement in THROUGHPUT_MEASUREMENTS:
        return (THROUGHPUT_MEASUREMENTS.index(measurement), measurement)
    return (len(THROUGHPUT_MEASUREMENTS), measurement)


def _covers(failure_measurement: str, kind: str, measurement: str) -> bool:
    """Does a failure record (of this measurement) stand for the cell (kind, measurement)?"""
    if failure_measurement in ("setup", measurement):
        return True
    return (kind, failure_measurement) in (("throughput", "throughput"), ("train", "train"), ("parity", "parity"))


class Selection:
    """The records the report shows: per framework x device x measurement, the latest."""

    def __init__(self, entries: Sequence[Entry], run_id: str | None = None) -> None:
        from impls.errors import ConfigError

        if run_id is not None:
            runs = sorted({e.run_id for e in entries})
            entries = [e for e in entries if e.run_id == run_id]
            if not entries:
                raise ConfigError(f"no records of run {run_id!r}; runs found: {', '.join(runs) or 'none'}")
        self.entries = sorted(entries, key=lambda e: e.order)
        self.run_filter = run_id
        self.frameworks = sorted({e.framework for e in self.entries})
        self.devices = sorted({e.device for e in self.entries}, key=device_key)
        present = {e.measurement for e in self.entries if e.kind == "throughput"}
        self.throughput_measurements = sorted(set(THROUGHPUT_MEASUREMENTS) | present, key=measurement_key)
        self.parity_checks = sorted(
            {(e.device, e.measurement) for e in self.entries if e.kind == "parity"},
            key=lambda dm: (device_key(dm[0]), dm[1]),
        )
        self.cells: dict[tuple[str, str, str, str], Cell] = {}
        for framework in self.frameworks:
            for device in self.devices:
                self._resolve("train", framework, device, "accuracy")
                for measurement in self.throughput_measurements:
                    self._resolve("throughput", framework, device, measurement)
            for device, measurement in self.parity_checks:
                self._resolve("parity", framework, device, measurement)

    def _resolve(self, kind: str, framework: str, device: str, measurement: str) -> None:
        candidates = [
            e
            for e in self.entries
            if e.framework == framework
            and e.device == device
            and (
                (e.kind == kind and e.measurement == measurement)
                or (e.kind == "failure" and _covers(e.measurement, kind, measurement))
            )
        ]
        default = DEFAULT_MODE.get(framework)
        in_default = [e for e in candidates if e.mode is None and e.kind == "failure" or e.exec_mode == default]
        candidates = in_default or candidates  # the default mode's figures, else whatever mode was measured
        cell = Cell(kind, framework, device, measurement)
        if candidates:
            latest = candidates[-1]  # entries are sorted oldest first
            if latest.kind == "failure":
                cell.failure = latest
            else:
                cell.entry = latest
        elif not any(e.device == device for e in self.entries if e.framework == framework):
            cell.absent = f"{framework} has no record on {device.upper()} in these results"
        else:
            what = {"train": "accuracy (training)", "throughput": f"{measurement} throughput"}.get(kind, measurement)
            cell.absent = f"no {what} record for {framework} on {device.upper()}"
        self.cells[(kind, framework, device, measurement)] = cell

    def mode_entries(self) -> dict[tuple[str, str, str, str], Entry]:
        """(device, framework, mode, measurement) -> the latest throughput record, every mode."""
        latest: dict[tuple[str, str, str, str], Entry] = {}
        for e in self.entries:  # oldest first: later records replace earlier ones
            if e.kind == "throughput" and e.exec_mode:
                latest[(e.device, e.framework, e.exec_mode, e.measurement)] = e
        return latest

    def cell(self, kind: str, framework: str, device: str, measurement: str) -> Cell:
        key = (kind, framework, device, measurement)
        if key not in self.cells:
            if device not in self.devices and device == "gpu":
                absent = "no GPU record: nothing in these results ran on a GPU"
            else:
                absent = f"no record for {framework} on {device.upper()}"
            return Cell(kind, framework, device, measurement, absent=absent)
        return self.cells[key]

    def shown(self) -> list[Entry]:
        """Every record that some cell shows (successes and failures), oldest first."""
        chosen = {id(c.entry or c.failure): (c.entry or c.failure) for c in self.cells.values() if c.entry or c.failure}
        return sorted(chosen.values(), key=lambda e: e.order)

    def runs(self) -> list[str]:
        return sorted({e.run_id for e in self.shown()})

    def ranks(self, device: str, measurement: str) -> dict[str, tuple[str, bool]]:
        """framework -> (rank text, tie caused by a missing CI) among the frameworks on one
        device: sorted by median images/s; a leader and every later framework whose CI
        overlaps the leader's share the leader's rank, marked as a tie within noise."""
        rows = []
        for framework in self.frameworks:
            cell = self.cell("throughput", framework, device, measurement)
            rate = cell.metric("images_per_s")
            if rate is not None:
                ci = (cell.metric("images_per_s_ci95_low"), cell.metric("images_per_s_ci95_high"))
                rows.append((-float(rate), framework, ci))
        rows.sort()
        out: dict[str, tuple[str, bool]] = {}
        position = 0
        remaining = rows
        while remaining:
            leader, rest = remaining[0], remaining[1:]
            group = [leader] + [r for r in rest if stats.overlaps(leader[2], r[2])]
            remaining = [r for r in rest if r not in group]
            rank = position + 1
            for member in group:
                no_ci = None in member[2] or None in leader[2]
                text = f"{rank}, tie (within noise)" if len(group) > 1 else str(rank)
                out[member[1]] = (text, len(group) > 1 and no_ci)
            position += len(group)
        return out


def peak_gflops(entry: Entry | None) -> float | None:
    """The machine's measured peak GFLOP/s for this record's device: the record's metric
    `peak_gflops`, else the environment's `peak_gflops` (a number, or one per device)."""
    if entry is None:
        return None
    value = entry.metrics.get("peak_gflops")
    if value is None:
        value = entry.environment.get("peak_gflops")
        if isinstance(value, dict):
            value = value.get(entry.device)
    return None if _missing(value) else float(value)


# -------------------------------------------------------------------------------- tables
@dataclass(frozen=True)
class Value:
    text: str
    notes: tuple[int, ...] = ()


class Notes:
    """Footnotes, numbered in order of first use; the same text is one note."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def ref(self, text: str) -> int:
        text = " ".join(str(text).split())
        if text not in self.texts:
            self.texts.append(text)
        return self.texts.index(text) + 1


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[Value]]
    numeric: tuple[int, ...] = ()  # right-aligned columns
    slug: str = ""


@dataclass
class Section:
    title: str
    level: int = 2
    text: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    plots: list[tuple[str, str]] = field(default_factory=list)  # (svg, caption), HTML only


def _f(digits: int) -> Callable[[float], str]:
    return lambda x: f"{float(x):.{digits}f}"


def _gib(x) -> str:
    return f"{float(x) / 2**30:.2f}"


def _ms(x) -> str:
    return f"{float(x) * 1000:.1f}"


def _pct(x) -> str:
    return f"{float(x) * 100:.2f}"


def _sci(x) -> str:
    return "0" if float(x) == 0 else f"{float(x):.2e}"


def _sig(x) -> str:
    return f"{float(x):.3g}"


def metric_note(entry: Entry, name: str) -> str:
    """Why a metric is missing from a record, from its notes where they say."""

    def noted(prefix: str, default: str) -> str:
        found = next((n for n in entry.notes if n.startswith(prefix)), None)
        return found if found is not None else default

    if name == "device_peak_bytes":
        return noted("device peak memory:", "device peak memory: not recorded")
    if name in ENERGY_METRICS:
        if entry.device != "gpu":
            return "energy, power, GPU utilization and board memory come from NVML: measured on GPUs only"
        return noted("energy:", "energy: no NVML samples")
    if name in ("images_per_s_ci95_low", "images_per_s_ci95_high"):
        return "no 95% CI: fewer than 6 timed steps (too few for a confidence interval of the median)"
    if name == "peak_gflops":
        return "peak not measured: no record gives the machine's peak_gflops"
    return f"{name}: not in the {entry.kind} record"


class Builder:
    """Builds the sections of the report for a Selection, with shared footnotes."""

    def __init__(self, selection: Selection, notes: Notes | None = None) -> None:
        self.s = selection
        self.notes = notes or Notes()

    # ---------------------------------------------------------------- cells
    def dash(self, *why: str) -> Value:
        return Value(DASH, tuple(self.notes.ref(w) for w in why))

    def figure(self, cell: Cell, name: str, fmt: Callable[[Any], str]) -> Value:
        if cell.entry is None:
            return self.dash(cell.why())
        value = cell.entry.metrics.get(name)
        if value is None:
            return self.dash(metric_note(cell.entry, name))
        return Value(fmt(value) if isinstance(value, (int, float)) else str(value))

    def ci(self, cell: Cell) -> Value:
        if cell.entry is None:
            return self.dash(cell.why())
        low, high = cell.metric("images_per_s_ci95_low"), cell.metric("images_per_s_ci95_high")
        if low is None or high is None:
            return self.dash(metric_note(cell.entry, "images_per_s_ci95_low"))
        return Value(f"[{float(low):.1f}, {float(high):.1f}]")

    def rate_with_ci(self, cell: Cell) -> Value:
        rate = self.figure(cell, "images_per_s", _f(1))
        if rate.text == DASH:
            return rate
        ci = self.ci(cell)
        return Value(f"{rate.text} {ci.text}", ci.notes) if ci.text != DASH else Value(rate.text, ci.notes)

    def rank(self, ranks: dict[str, tuple[str, bool]], cell: Cell) -> Value:
        if cell.framework not in ranks:
            return Value(DASH)  # the images/s cell says why
        text, no_ci = ranks[cell.framework]
        if no_ci:
            return Value(text, (self.notes.ref(NO_CI_TIE),))
        return Value(text)

    def label(self, cell: Cell, what: str) -> Value:
        entry = cell.entry or cell.failure
        if entry is None:
            return Value(DASH)
        if what == "run":
            return Value(entry.run_id)
        if what == "batch":
            return Value(str(entry.batch_size)) if entry.batch_size is not None else Value(DASH)
        if what == "input":
            return Value("x".join(str(i) for i in entry.image_size)) if entry.image_size else Value(DASH)
        if what == "mode":
            return Value(entry.exec_mode or DASH)
        raise ValueError(what)

    def pairs(self) -> list[tuple[str, str]]:
        return [(d, f) for d in self.s.devices for f in self.s.frameworks]

    # ------------------------------------------------------------- sections
    def throughput(self) -> Section:
        section = Section(
            "Throughput",
            text=[
                "Images per second: the median of per-step rates, with the 95% confidence interval of the median "
                "(distribution-free). Rank is within a device; frameworks whose interval overlaps the leader's are "
                "a tie within noise, not ranked apart."
            ],
        )
        for measurement in self.s.throughput_measurements:
            rows = []
            for device in self.s.devices:
                ranks = self.s.ranks(device, measurement)
                for framework in self.s.frameworks:
                    c = self.s.cell("throughput", framework, device, measurement)
                    rows.append(
                        [
                            Value(device.upper()),
                            Value(framework),
                            self.label(c, "mode"),
                            self.label(c, "batch"),
                            self.label(c, "input"),
                            self.figure(c, "images_per_s", _f(1)),
                            self.ci(c),
                            self.rank(ranks, c),
                            self.label(c, "run"),
                        ]
                    )
            title = f"{MEASUREMENT_TITLES.get(measurement, measurement)} (images/s)"
            section.tables.append(
                Table(
                    title,
                    ["device", "framework", "mode", "batch", "input", "images/s", "95% CI", "rank", "run"],
                    rows,
                    (3, 5, 6),
                    _slug(measurement),
                )
            )
        return section

    def latency(self) -> Section:
        rows = []
        for device, framework in self.pairs():
            for measurement in self.s.throughput_measurements:
                c = self.s.cell("throughput", framework, device, measurement)
                rows.append(
                    [
                        Value(device.upper()),
                        Value(framework),
                        Value(measurement),
                        self.label(c, "batch"),
                        self.figure(c, "step_seconds_p50", _ms),
                        self.figure(c, "step_seconds_p90", _ms),
                        self.figure(c, "warmup_first_seconds", _f(2)),
                        self.figure(c, "warmup_seconds_total", _f(2)),
                    ]
                )
        table = Table(
            "Step latency and warm-up",
            [
                "device",
                "framework",
                "measurement",
                "batch",
                "step p50 (ms)",
                "step p90 (ms)",
                "first warm-up step (s)",
                "warm-up total (s)",
            ],
            rows,
            (3, 4, 5, 6, 7),
            "latency",
        )
        return Section(
            "Latency and warm-up",
            text=[
                "Seconds per step (one batch). The first warm-up step includes tracing and compilation "
                "(XLA, graph building); warm-up steps are excluded from the timings above."
            ],
            tables=[table],
        )

    def memory(self) -> Section:
        rows = []
        for device, framework in self.pairs():
            bench = self._first_cell(framework, device)
            train = self.s.cell("train", framework, device, "accuracy")
            rows.append(
                [
                    Value(device.upper()),
                    Value(framework),
                    self.figure(bench, "peak_rss_bytes", _gib),
                    self.figure(bench, "device_peak_bytes", _gib),
                    self.figure(bench, "board_memory_max_bytes", _gib),
                    self.figure(train, "peak_rss_bytes", _gib),
                    self.figure(train, "device_peak_bytes", _gib),
                ]
            )
        table = Table(
            "Peak memory (GiB)",
            [
                "device",
                "framework",
                "host RSS, throughput",
                "device, throughput",
                "GPU board (NVML), throughput",
                "host RSS, training",
                "device, training",
            ],
            rows,
            (2, 3, 4, 5, 6),
            "memory",
        )
        return Section(
            "Memory",
            text=[
                "Peak resident set size of the worker process (host) and the framework allocator's peak (device), "
                "over the throughput measurements and over accuracy training."
            ],
            tables=[table],
        )

    def _first_cell(self, framework: str, device: str) -> Cell:
        """The throughput cell that carries the worker's memory figures (the same for every
        measurement of one worker): the first measurement with a record, else the first."""
        cells = [self.s.cell("throughput", framework, device, m) for m in self.s.throughput_measurements]
        return next((c for c in cells if c.entry is not None), cells[0])

    def energy(self) -> Section:
        rows = []
        for device, framework in self.pairs():
            # NVML measures GPUs only: one row of dashes per framework on other devices
            measurements = self.s.throughput_measurements if device == "gpu" else self.s.throughput_measurements[:1]
            for measurement in measurements:
                c = self.s.cell("throughput", framework, device, measurement)
                rows.append(
                    [
                        Value(device.upper()),
                        Value(framework),
                        Value(measurement if device == "gpu" else "all"),
                        self.figure(c, "joules_per_image", _sig),
                        self.figure(c, "watts_mean", _f(1)),
                        self.figure(c, "gpu_util_mean", _f(1)),
                    ]
                )
        table = Table(
            "Energy (NVML)",
            ["device", "framework", "measurement", "J/image", "mean board W", "mean GPU util (%)"],
            rows,
            (3, 4, 5),
            "energy",
        )
        return Section(
            "Energy",
            text=[
                "Board power sampled by NVML during the timed blocks, integrated over time "
                "and divided by the images processed."
            ],
            tables=[table],
        )

    def gpu_vs_cpu(self) -> Section:
        rows = []
        for framework in self.s.frameworks:
            for measurement in self.s.throughput_measurements:
                cpu = self.s.cell("throughput", framework, "cpu", measurement)
                gpu = self.s.cell("throughput", framework, "gpu", measurement)
                rows.append(
                    [
                        Value(framework),
                        Value(measurement),
                        self.rate_with_ci(cpu),
                        self.rate_with_ci(gpu),
                        *self.speedup(cpu, gpu),
                    ]
                )
        table = Table(
            "GPU vs CPU (images/s, median [95% CI])",
            ["framework", "measurement", "CPU", "GPU", "speed-up (GPU/CPU)", "speed-up range (from the CIs)"],
            rows,
            (2, 3, 4, 5),
            "gpu-vs-cpu",
        )
        return Section(
            "GPU vs CPU",
            text=[
                "The same workload (variant, precision, batch and input size) on both "
                "devices; the speed-up is the ratio of the medians."
            ],
            tables=[table],
        )

    def speedup(self, cpu: Cell, gpu: Cell) -> list[Value]:
        missing = [c for c in (gpu, cpu) if c.metric("images_per_s") is None]
        if missing:
            c = missing[0]
            why = c.why() if c.entry is None else metric_note(c.entry, "images_per_s")
            return [self.dash(why), self.dash(why)]
        if cpu.entry.workload() != gpu.entry.workload():
            why = (
                f"{cpu.framework}: different workloads on CPU ({_workload(cpu.entry)}) and GPU "
                f"({_workload(gpu.entry)}): not comparable"
            )
            return [self.dash(why), self.dash(why)]
        ratio = Value(f"{float(gpu.metric('images_per_s')) / float(cpu.metric('images_per_s')):.1f}x")
        bounds = [
            gpu.metric("images_per_s_ci95_low"),
            gpu.metric("images_per_s_ci95_high"),
            cpu.metric("images_per_s_ci95_low"),
            cpu.metric("images_per_s_ci95_high"),
        ]
        if None in bounds or float(bounds[3]) <= 0 or float(bounds[2]) <= 0:
            return [
                ratio,
                self.dash(metric_note(cpu.entry if None in bounds[2:] else gpu.entry, "images_per_s_ci95_low")),
            ]
        low, high = float(bounds[0]) / float(bounds[3]), float(bounds[1]) / float(bounds[2])
        return [ratio, Value(f"[{low:.1f}x, {high:.1f}x]")]

    def efficiency(self) -> Section:
        rows = []
        for device, framework in self.pairs():
            for measurement in self.s.throughput_measurements:
                c = self.s.cell("throughput", framework, device, measurement)
                peak = peak_gflops(c.entry)
                achieved = c.metric("achieved_gflops")
                if c.entry is None:
                    peak_value = efficiency = self.dash(c.why())
                elif peak is None:
                    peak_value = efficiency = self.dash(metric_note(c.entry, "peak_gflops"))
                else:
                    peak_value = Value(f"{peak:.1f}")
                    efficiency = (
                        Value(f"{100 * float(achieved) / peak:.1f}")
                        if achieved is not None and peak > 0
                        else self.dash(metric_note(c.entry, "achieved_gflops"))
                    )
                rows.append(
                    [
                        Value(device.upper()),
                        Value(framework),
                        Value(measurement),
                        self.figure(c, "flops_per_image", lambda x: f"{float(x) / 1e9:.3f}"),
                        self.figure(c, "achieved_gflops", _f(1)),
                        peak_value,
                        efficiency,
                    ]
                )
        table = Table(
            "Achieved FLOP/s against the measured peak",
            ["device", "framework", "measurement", "GFLOP/image", "achieved GFLOP/s", "peak GFLOP/s", "efficiency (%)"],
            rows,
            (3, 4, 5, 6),
            "efficiency",
        )
        return Section(
            "Efficiency",
            text=[
                "Achieved FLOP/s (model FLOPs per image x images/s; a training step counts "
                "3x the forward FLOPs) over the peak measured on the machine."
            ],
            tables=[table],
        )

    def modes(self) -> Section:
        """Every execution mode measured: compute-only images/s, efficiency against the peak
        of the dtype the mode computes in, and speed relative to the framework's default."""
        latest = self.s.mode_entries()
        keys = sorted(
            {(d, f, m) for d, f, m, _ in latest},
            key=lambda k: (
                device_key(k[0]),
                k[1],
                list(MODES.get(k[1], {})).index(k[2]) if k[2] in MODES.get(k[1], {}) else 99,
            ),
        )
        rows = []
        for device, framework, mode in keys:
            row = [
                Value(device.upper()),
                Value(framework),
                Value(mode + (" (default)" if DEFAULT_MODE.get(framework) == mode else "")),
            ]
            spec = MODES.get(framework, {}).get(mode)
            row.append(Value("bfloat16" if spec and spec.reduced_precision else "float32"))
            for phase in ("train", "inference"):
                measurement = f"{phase}/compute_only"
                entry = latest.get((device, framework, mode, measurement))
                base = latest.get((device, framework, DEFAULT_MODE.get(framework), measurement))
                cell = Cell(
                    "throughput",
                    framework,
                    device,
                    measurement,
                    entry=entry,
                    absent=f"{framework} {mode}: not measured",
                )
                row.append(self.rate_with_ci(cell))
                peak, achieved = peak_gflops(entry), cell.metric("achieved_gflops")
                row.append(
                    Value(f"{100 * float(achieved) / peak:.0f}")
                    if peak and achieved
                    else self.dash(cell.why() if entry is None else metric_note(entry, "peak_gflops"))
                )
                rate, base_rate = cell.metric("images_per_s"), base.metrics.get("images_per_s") if base else None
                row.append(Value(f"{float(rate) / float(base_rate):.2f}") if rate and base_rate else Value(DASH))
            row.append(
                Value(
                    ", ".join(
                        sorted(
                            {e.run_id for (d, f, m, _), e in latest.items() if (d, f, m) == (device, framework, mode)}
                        )
                    )
                )
            )
            rows.append(row)
        table = Table(
            "Execution modes, compute-only (images/s [95% CI]; efficiency in % of the matmul peak "
            "of the dtype it computes in)",
            ["device", "framework", "mode", "computes in", "train", "train eff. (%)", "train vs default",
             "inference", "inference eff. (%)", "inference vs default", "run"],
            rows,
            (4, 5, 6, 7, 8, 9),
            "modes",
        )  # fmt: skip
        return Section(
            "Execution modes",
            text=[
                "Each framework's execution modes (impls.modes), timed in one run, interleaved. Efficiency is "
                "achieved FLOP/s over the measured matmul peak of the dtype the mode computes in (float32, or "
                "bfloat16 for bf16 modes); 'vs default' is the mode's images/s over the default mode's."
            ],
            tables=[table],
        )

    def overhead(self, document: dict | None) -> Section:
        """The latest `alexbench overhead` document: ours against a plain framework loop."""
        section = Section(
            "Harness overhead",
            text=[
                "Our implementation, timed by the harness worker, against a plain idiomatic loop written directly in "
                "the framework (harness/rawloops.py), side by side in interleaved rounds (`alexbench overhead`). "
                "Ratio = raw median step time / ours: our throughput as a fraction of the raw loop's (target >= 0.97); "
                "the range is that of the per-round ratios."
            ],
        )
        if not document:
            section.text.append("No overhead measurement in these results: run `alexbench overhead --modes all`.")
            return section
        settings = document.get("settings", {})
        rows = []
        for result in document.get("results", []):
            if "error" in result:
                rows.append(
                    [
                        Value(result["framework"]),
                        Value(result["mode"]),
                        Value("both"),
                        *[self.dash(result["error"])] * 4,
                    ]
                )
                continue
            for phase, p in result["phases"].items():
                rounds = p.get("ratio_rounds") or [p["ratio"]]
                rows.append([
                    Value(result["framework"]), Value(result["mode"]), Value(phase),
                    Value(f"{p['ours_median_s'] * 1e3:.1f}"), Value(f"{p['raw_median_s'] * 1e3:.1f}"),
                    Value(f"{p['ratio']:.3f}"), Value(f"[{min(rounds):.2f}, {max(rounds):.2f}]"),
                    Value(str(result.get("created", ""))),
                ])  # fmt: skip
        size, batch = settings.get("image_size"), settings.get("batch_size")
        where = f"{str(settings.get('device', 'cpu')).upper()}, {size}x{size}, batch {batch}"
        section.tables.append(
            Table(
                f"Ours vs a plain loop ({where})",
                ["framework", "mode", "phase", "ours (ms/step)", "raw (ms/step)", "ratio", "round range", "measured"],
                rows,
                (3, 4, 5, 6),
                "overhead",
            )
        )
        return section

    def accuracy(self) -> Section:
        rows, epochs = [], []
        for device, framework in self.pairs():
            c = self.s.cell("train", framework, device, "accuracy")
            e = c.entry
            rows.append(
                [
                    Value(device.upper()),
                    Value(framework),
                    Value(e.dataset or DASH) if e else Value(DASH),
                    self.label(c, "input"),
                    Value(str(e.settings.get("epochs", DASH))) if e else Value(DASH),
                    self.figure(c, "top1", _pct),
                    self.figure(c, "top5", _pct),
                    self.figure(c, "test_loss", _f(4)),
                    self.figure(c, "train_loss", _f(4)),
                    self.figure(c, "seconds", _f(1)),
                    self.label(c, "run"),
                ]
            )
            if e is None:
                continue
            for sample in sorted((s for s in e.samples if isinstance(s, dict)), key=lambda s: s.get("epoch", 0)):
                epoch = Cell("train", framework, device, "accuracy", entry=dataclasses.replace(e, metrics=sample))
                epochs.append(
                    [
                        Value(device.upper()),
                        Value(framework),
                        Value(str(sample.get("epoch", DASH))),
                        self.figure(epoch, "train_loss", _f(4)),
                        self.figure(epoch, "test_loss", _f(4)),
                        self.figure(epoch, "test_top1", _pct),
                        self.figure(epoch, "test_top5", _pct),
                        self.figure(epoch, "seconds", _f(1)),
                    ]
                )
        final = Table(
            "Top-1 and top-5 on the test split (%)",
            [
                "device",
                "framework",
                "dataset",
                "input",
                "epochs",
                "top-1",
                "top-5",
                "test loss",
                "train loss",
                "train time (s)",
                "run",
            ],
            rows,
            (4, 5, 6, 7, 8, 9),
            "accuracy",
        )
        per_epoch = Table(
            "Accuracy per epoch",
            ["device", "framework", "epoch", "train loss", "test loss", "top-1 (%)", "top-5 (%)", "seconds"],
            epochs,
            (2, 3, 4, 5, 6, 7),
            "accuracy-per-epoch",
        )
        return Section(
            "Accuracy",
            text=["Same seed, data, augmentation and hyperparameters for every framework; evaluated after each epoch."],
            tables=[final, per_epoch],
        )

    def parity_metrics(self) -> list[str]:
        names = {n for e in self.s.entries if e.kind == "parity" for n in e.metrics}
        return sorted(names)

    def parity(self) -> Section:
        names = self.parity_metrics()
        if not self.s.parity_checks:
            why = (
                "no parity record in these results: parity errors against the float64 golden appear here once "
                "`alexbench parity` records them"
            )
            rows = [[Value(f), self.dash(why)] for f in self.s.frameworks]
            table = Table("Parity error against float64", ["framework", "max relative error"], rows, (1,), "parity")
        else:
            rows = []
            for device, measurement in self.s.parity_checks:
                for framework in self.s.frameworks:
                    c = self.s.cell("parity", framework, device, measurement)
                    rows.append(
                        [
                            Value(framework),
                            Value(device.upper()),
                            Value(measurement),
                            *[self.figure(c, n, _sci) for n in names],
                        ]
                    )
            table = Table(
                "Parity error against float64",
                ["framework", "device", "check", *names],
                rows,
                tuple(range(3, 3 + len(names))),
                "parity",
            )
        return Section(
            "Parity against float64",
            text=[
                "Relative error of each implementation against the float64 golden model (tier 1: float64, tier 2: "
                "float32); smaller is closer."
            ],
            tables=[table],
        )

    def failures(self) -> Section:
        rows = []
        for e in sorted(
            (e for e in self.s.shown() if e.kind == "failure"),
            key=lambda e: (e.framework, device_key(e.device), e.measurement, e.order),
        ):
            error = " ".join(str(e.error or "").split())
            rows.append(
                [Value(e.framework), Value(e.device.upper()), Value(e.measurement), Value(e.run_id), Value(error)]
            )
        if not rows:
            return Section("Failures", text=["None: no figure in this report comes from a failed run."])
        return Section(
            "Failures",
            tables=[
                Table(
                    "Failed or skipped measurements",
                    ["framework", "device", "measurement", "run", "error"],
                    rows,
                    (),
                    "failures",
                )
            ],
        )

    def environment(self) -> Section:
        shown = self.s.shown()
        machines, software = {}, {}
        for e in shown:
            env = e.environment
            machine = (
                e.run_id,
                str(env.get("cpu_model") or DASH),
                _text(env.get("cpu_count")),
                _gib(env["memory_bytes"]) if env.get("memory_bytes") else DASH,
                _gpus(env.get("gpus")),
                str(env.get("os") or DASH),
                str(env.get("python") or DASH),
                _commit(env.get("git_commit")),
                _text(env.get("seed")),
                str(env.get("alexbench_version") or DASH),
            )
            machines[machine] = True
            key = (e.run_id, e.framework, e.device)
            item = software.setdefault(key, {"versions": {}, "settings": {}, "precision": set(), "variables": {}})
            item["versions"].update(env.get("versions") or {})
            item["settings"].update(env.get("settings") or {})
            item["variables"].update(env.get("variables") or {})
            if e.kind in ("train", "throughput") and e.precision:  # parity runs float64 by design
                item["precision"].add(e.precision)
        machine_rows = [[Value(v) for v in m] for m in sorted(machines)]
        software_rows = []
        for (run_id, framework, device), item in sorted(
            software.items(), key=lambda kv: (kv[0][0], kv[0][1], device_key(kv[0][2]))
        ):
            settings = item["settings"]
            threads = {k: v for k, v in settings.items() if "thread" in k}
            others = {k: v for k, v in settings.items() if "thread" not in k}
            precision = ", ".join([*sorted(item["precision"]), *_pairs(others)]) or DASH
            software_rows.append(
                [
                    Value(run_id),
                    Value(framework),
                    Value(device.upper()),
                    Value(", ".join(_pairs(item["versions"])) or DASH),
                    Value(", ".join(_pairs(threads)) or DASH),
                    Value(precision),
                    Value(", ".join(_pairs(item["variables"])) or DASH),
                ]
            )
        return Section(
            "Environment",
            text=["As recorded with each measurement (no hostnames)."],
            tables=[
                Table(
                    "Machines",
                    ["run", "CPU", "cores", "memory (GiB)", "GPUs", "OS", "Python", "commit", "seed", "alexbench"],
                    machine_rows,
                    (2, 3),
                    "machines",
                ),
                Table(
                    "Software and settings",
                    ["run", "framework", "device", "versions", "threads", "precision", "environment variables"],
                    software_rows,
                    (),
                    "software",
                ),
            ],
        )

    def summary_table(self) -> Table:
        """The compact table README embeds: per device and framework, the compute-only
        images/s (training and inference) with CIs and ranks, and accuracy."""
        rows = []
        ranks = {(d, m): self.s.ranks(d, m) for d in self.s.devices for m in THROUGHPUT_MEASUREMENTS}
        for device, framework in self.pairs():
            train = self.s.cell("throughput", framework, device, "train/compute_only")
            infer = self.s.cell("throughput", framework, device, "inference/compute_only")
            accuracy = self.s.cell("train", framework, device, "accuracy")
            rows.append(
                [
                    Value(device.upper()),
                    Value(framework),
                    self.rate_with_ci(train),
                    self.rank(ranks[(device, "train/compute_only")], train),
                    self.rate_with_ci(infer),
                    self.rank(ranks[(device, "inference/compute_only")], infer),
                    self.figure(accuracy, "top1", _pct),
                    self.figure(accuracy, "top5", _pct),
                    self.figure(train, "peak_rss_bytes", _gib),
                ]
            )
        return Table(
            "Results",
            [
                "device",
                "framework",
                "training images/s [95% CI]",
                "rank",
                "inference images/s [95% CI]",
                "rank",
                "top-1 (%)",
                "top-5 (%)",
                "peak host memory (GiB)",
            ],
            rows,
            (2, 4, 6, 7, 8),
            "summary",
        )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _text(value) -> str:
    return DASH if value is None else str(value)


def _pairs(mapping: dict) -> list[str]:
    return [f"{k}={mapping[k]}" for k in sorted(mapping)]


def _commit(commit) -> str:
    """A 12-digit abbreviation (plus +dirty): enough to find the commit, narrow enough to read."""
    if not commit:
        return DASH
    sha, dirty = str(commit).split("+", 1) if "+" in str(commit) else (str(commit), "")
    return sha[:12] + (f"+{dirty}" if dirty else "")


def _gpus(gpus) -> str:
    if not gpus:
        return "none"
    out = []
    for g in gpus:
        if isinstance(g, dict):
            memory = f", {_gib(g['memory_bytes'])} GiB" if g.get("memory_bytes") else ""
            driver = f", driver {g['driver']}" if g.get("driver") else ""
            out.append(f"{g.get('name', 'GPU')}{memory}{driver}")
        else:
            out.append(str(g))
    return "; ".join(out)


def _workload(entry: Entry) -> str:
    size = "x".join(str(i) for i in entry.image_size) if entry.image_size else "?"
    return f"{entry.variant}, {entry.precision}, batch {entry.batch_size}, {size}"


# --------------------------------------------------------------------------------- plots
def _nice_step(span: float, target: int = 5) -> float:
    raw = span / target
    magnitude = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


def _num(x: float) -> str:
    return f"{x:.1f}"


def _tick(x: float) -> str:
    return f"{round(x, 10):g}"


class Svg:
    """A small deterministic SVG writer: coordinates with one decimal, no randomness."""

    def __init__(self, width: int, height: int, title: str) -> None:
        self.width, self.height, self.title = width, height, title  # height may grow until done()
        self.parts = [
            f'<text x="{width / 2:.1f}" y="16" text-anchor="middle" font-size="13" font-weight="bold">'
            f"{html.escape(title)}</text>",
        ]

    def add(self, text: str) -> None:
        self.parts.append(text)

    def line(self, x1, y1, x2, y2, stroke="#000000", width=1.0, dash: str | None = None) -> None:
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(
            f'<line x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}" stroke="{stroke}" '
            f'stroke-width="{width}"{extra}/>'
        )

    def rect(self, x, y, w, h, fill, title: str | None = None) -> None:
        inner = f"<title>{html.escape(title)}</title>" if title else ""
        self.add(f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}" fill="{fill}">{inner}</rect>')

    def text(self, x, y, text, anchor="middle", size=None, rotate: float | None = None, fill="#000000") -> None:
        size_attr = f' font-size="{size}"' if size else ""
        transform = f' transform="rotate({rotate:g} {_num(x)} {_num(y)})"' if rotate is not None else ""
        self.add(
            f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}" fill="{fill}"{size_attr}{transform}>'
            f"{html.escape(str(text))}</text>"
        )

    def legend(self, names: Sequence[str], colors: Sequence[str], x: float, y: float, dashes=None) -> int:
        """Swatches and names in rows of as many as fit; returns the number of rows."""
        per_row = max(1, int((self.width - x - 10) // 150))
        for i, (name, color) in enumerate(zip(names, colors)):
            cx = x + i % per_row * 150
            y_row = y + i // per_row * 16
            if dashes is not None:
                self.line(cx, y_row - 4, cx + 16, y_row - 4, stroke=color, width=2.5, dash=dashes[i])
            else:
                self.rect(cx, y_row - 10, 12, 12, color)
            self.text(cx + 20, y_row, name, anchor="start")
        return max(1, math.ceil(len(names) / per_row))

    def done(self) -> str:
        w, h = self.width, self.height
        head = [
            f'<svg class="plot" role="img" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
            'font-family="sans-serif" font-size="11">',
            f"<title>{html.escape(self.title)}</title>",
            f'<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>',
        ]
        return "\n".join([*head, *self.parts, "</svg>"])


def bar_chart(
    title: str,
    groups: Sequence[str],
    series: Sequence[str],
    value,
    y_label: str,
    log: bool = False,
    width: int = 780,
    height: int = 340,
) -> str:
    """Grouped bars with error bars. value(group, series) -> (v, low, high) or None; a
    missing bar is drawn as a dash at the axis. log: logarithmic y (v > 0; 0 marked)."""
    svg = Svg(width, height, title)
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(series))]
    rows = svg.legend(series, colors, 70, 36)
    height += 16 * (rows - 1)
    svg.height = height
    left, right, top, bottom = 70, width - 20, 50 + 16 * (rows - 1), height - 50
    points = [value(g, s) for g in groups for s in series]
    found = [p for p in points if p is not None]
    tops = [float(h if h is not None else v) for v, _, h in found] or [1.0]
    if log:
        positive = [float(x) for p in found for x in p if x is not None and float(x) > 0] or [1e-12, 1.0]
        lo_exp, hi_exp = math.floor(math.log10(min(positive))), math.ceil(math.log10(max(positive)))
        hi_exp = max(hi_exp, lo_exp + 1)

        def y_of(x: float) -> float:
            x = min(max(float(x), 10.0**lo_exp), 10.0**hi_exp)
            return bottom - (math.log10(x) - lo_exp) / (hi_exp - lo_exp) * (bottom - top)

        ticks = [(10.0**e, f"1e{e}") for e in range(lo_exp, hi_exp + 1)]
    else:
        peak = max(max(tops), 1e-12)
        step = _nice_step(peak * 1.05)
        y_max = step * math.ceil(peak * 1.05 / step)

        def y_of(x: float) -> float:
            return bottom - float(x) / y_max * (bottom - top)

        ticks = [(i * step, _tick(i * step)) for i in range(int(round(y_max / step)) + 1)]
    for tick, label in ticks:
        y = y_of(tick)
        svg.line(left, y, right, y, stroke="#dddddd")
        svg.text(left - 6, y + 4, label, anchor="end")
    svg.line(left, top, left, bottom)
    svg.line(left, bottom, right, bottom)
    svg.text(16, (top + bottom) / 2, y_label, rotate=-90)
    group_width = (right - left) / max(len(groups), 1)
    bar_width = group_width * 0.8 / max(len(series), 1)
    for gi, group in enumerate(groups):
        x0 = left + gi * group_width + group_width * 0.1
        svg.text(left + (gi + 0.5) * group_width, bottom + 16, group)
        for si, name in enumerate(series):
            point = value(group, name)
            x = x0 + si * bar_width
            center = x + bar_width / 2
            if point is None:
                svg.text(center, bottom - 4, DASH, fill="#888888")
                continue
            v, low, high = point
            if log and float(v) <= 0:
                svg.text(center, bottom - 4, "0", fill=colors[si])
                continue
            base = bottom if not log else y_of(10.0**lo_exp)
            y = y_of(v)
            svg.rect(x + 1, y, max(bar_width - 2, 1), max(base - y, 0), colors[si], f"{group}, {name}: {float(v):.4g}")
            if low is not None and high is not None:
                y_low, y_high = y_of(low), y_of(high)
                svg.line(center, y_low, center, y_high, width=1.2)
                svg.line(center - 4, y_low, center + 4, y_low, width=1.2)
                svg.line(center - 4, y_high, center + 4, y_high, width=1.2)
    return svg.done()


def line_chart(
    title: str,
    lines: Sequence[tuple[str, Sequence[tuple[float, float]], str | None]],
    x_label: str,
    y_label: str,
    width: int = 780,
    height: int = 340,
    y_cap: float | None = None,
) -> str:
    """Lines with markers: (name, [(x, y)...], dash pattern or None)."""
    svg = Svg(width, height, title)
    names = sorted({name.rsplit(" ", 1)[0] for name, _, _ in lines})
    color_of = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    rows = svg.legend(
        [n for n, _, _ in lines],
        [color_of[n.rsplit(" ", 1)[0]] for n, _, _ in lines],
        70,
        36,
        dashes=[d for _, _, d in lines],
    )
    height += 16 * (rows - 1)
    svg.height = height
    left, right, top, bottom = 70, width - 20, 50 + 16 * (rows - 1), height - 50
    xs = [x for _, pts, _ in lines for x, _ in pts] or [1]
    ys = [y for _, pts, _ in lines for _, y in pts] or [1.0]
    x_min, x_max = min(xs), max(xs)
    if x_max == x_min:
        x_min, x_max = x_min - 1, x_max + 1
    step = _nice_step(max(max(ys), 1e-12) * 1.05)
    y_max = step * math.ceil(max(max(ys), 1e-12) * 1.05 / step)
    if y_cap is not None and max(ys) <= y_cap < y_max:
        step, y_max = _nice_step(y_cap), y_cap

    def at(x, y):
        return (left + (x - x_min) / (x_max - x_min) * (right - left), bottom - y / y_max * (bottom - top))

    for i in range(int(round(y_max / step)) + 1):
        _, y = at(x_min, i * step)
        svg.line(left, y, right, y, stroke="#dddddd")
        svg.text(left - 6, y + 4, _tick(i * step), anchor="end")
    for x in (
        sorted(set(xs)) if len(set(xs)) <= 20 else range(int(x_min), int(x_max) + 1, max(1, (x_max - x_min) // 10))
    ):
        px, _ = at(x, 0)
        svg.text(px, bottom + 16, _tick(x))
    svg.line(left, top, left, bottom)
    svg.line(left, bottom, right, bottom)
    svg.text((left + right) / 2, height - 12, x_label)
    svg.text(16, (top + bottom) / 2, y_label, rotate=-90)
    for name, pts, dash in lines:
        color = color_of[name.rsplit(" ", 1)[0]]
        coords = [at(x, y) for x, y in pts]
        if len(coords) > 1:
            path = " ".join(f"{_num(x)},{_num(y)}" for x, y in coords)
            extra = f' stroke-dasharray="{dash}"' if dash else ""
            svg.add(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{extra}/>')
        for (x, y), (px, py) in zip(pts, coords):
            svg.add(
                f'<circle cx="{_num(px)}" cy="{_num(py)}" r="3" fill="{color}"><title>'
                f"{html.escape(name)}, epoch {_tick(x)}: {y:.2f}</title></circle>"
            )
    return svg.done()


def plots(selection: Selection, builder: Builder) -> dict[str, list[tuple[str, str]]]:
    """Section title -> [(svg, caption)]."""
    s = selection
    out: dict[str, list[tuple[str, str]]] = {}

    def rate(device):
        def value(measurement, framework):
            c = s.cell("throughput", framework, device, measurement)
            v = c.metric("images_per_s")
            return None if v is None else (v, c.metric("images_per_s_ci95_low"), c.metric("images_per_s_ci95_high"))

        return value

    out["Throughput"] = [
        (
            bar_chart(
                f"Throughput on {device.upper()}", s.throughput_measurements, s.frameworks, rate(device), "images/s"
            ),
            f"Images/s on {device.upper()}: median; error bars: 95% CI of the median (none with fewer than 6 steps); "
            f"{DASH}: no figure (see the table's notes).",
        )
        for device in s.devices
    ]
    memory_series = ["host RSS, throughput", "device, throughput", "host RSS, training", "device, training"]

    def memory(label, series):
        device, framework = label.split(" ", 1)
        cell = (
            builder._first_cell(framework, device.lower())
            if series.endswith("throughput")
            else s.cell("train", framework, device.lower(), "accuracy")
        )
        v = cell.metric("peak_rss_bytes" if series.startswith("host") else "device_peak_bytes")
        return None if v is None else (float(v) / 2**30, None, None)

    labels = [f"{d.upper()} {f}" for d in s.devices for f in s.frameworks]
    out["Memory"] = [
        (
            bar_chart("Peak memory", labels, memory_series, memory, "GiB"),
            f"Peak host RSS and device memory (GiB); {DASH}: not measured (see the table's notes).",
        )
    ]
    lines = []
    for device in s.devices:
        for framework in s.frameworks:
            e = s.cell("train", framework, device, "accuracy").entry
            if e is None:
                continue
            rows = sorted(
                (r for r in e.samples if isinstance(r, dict) and r.get("epoch") is not None), key=lambda r: r["epoch"]
            )
            for metric, dash in (("test_top1", None), ("test_top5", "5,3")):
                pts = [(float(r["epoch"]), 100 * float(r[metric])) for r in rows if not _missing(r.get(metric))]
                if pts:
                    lines.append((f"{framework}/{device} {'top-1' if metric == 'test_top1' else 'top-5'}", pts, dash))
    if lines:
        out["Accuracy"] = [
            (
                line_chart("Test accuracy per epoch", lines, "epoch", "accuracy (%)", y_cap=100.0),
                "Top-1 (solid) and top-5 (dashed) test accuracy after each epoch.",
            )
        ]
    names = builder.parity_metrics()
    if s.parity_checks and names:
        groups = [f"{m} {n}" for d, m in s.parity_checks for n in names]
        pairs = {f"{m} {n}": (d, m, n) for d, m in s.parity_checks for n in names}

        def parity(group, framework):
            d, m, n = pairs[group]
            v = s.cell("parity", framework, d, m).metric(n)
            return None if not isinstance(v, (int, float)) else (float(v), None, None)

        out["Parity against float64"] = [
            (
                bar_chart(
                    "Parity error against float64 (log scale)", groups, s.frameworks, parity, "relative error", log=True
                ),
                "Relative error against the float64 golden, log scale; 0 marks an exact match.",
            )
        ]
    return out


# ------------------------------------------------------------------------------ building
@dataclass
class Report:
    title: str
    intro: list[str]
    sections: list[Section]
    notes: Notes


def build(
    frame, run_id: str | None = None, skipped: Sequence[str] = (), overhead: dict | None = None
) -> tuple[Report, Selection]:
    from impls.errors import ConfigError

    entries = entries_from_frame(frame)
    if not entries:
        raise ConfigError("no alexbench records to report on; run `alexbench run` first (or pass --results DIR)")
    selection = Selection(entries, run_id)
    builder = Builder(selection)
    runs = selection.runs()
    intro = [
        f"Generated by `alexbench report` from {len(selection.shown())} record(s) of run(s) {', '.join(runs)}"
        + (
            f" (--run {run_id})."
            if run_id
            else "; each figure comes from the latest record of its framework, device and measurement."
        ),
        f"Frameworks: {', '.join(selection.frameworks)}. Devices: {', '.join(d.upper() for d in selection.devices)}. "
        f"{DASH} marks a missing figure; its note says why.",
    ]
    if skipped:
        intro.append(f"{len(skipped)} unreadable file(s) skipped: {'; '.join(skipped)}.")
    sections = [
        builder.throughput(),
        builder.gpu_vs_cpu(),
        builder.latency(),
        builder.memory(),
        builder.energy(),
        builder.efficiency(),
        builder.modes(),
        builder.overhead(overhead),
        builder.accuracy(),
        builder.parity(),
        builder.failures(),
        builder.environment(),
    ]
    drawn = plots(selection, builder)
    for section in sections:
        section.plots = drawn.get(section.title, [])
    return Report("alexbench report", intro, sections, builder.notes), selection


def _sup(numbers: Iterable[int]) -> str:
    return ",".join(str(n).translate(_SUPERSCRIPT) for n in numbers)


def _md_cell(value: Value) -> str:
    text = value.text.replace("|", "\\|").replace("<", "&lt;")
    return text + _sup(value.notes)


def table_markdown(table: Table, heading: str | None = "###") -> list[str]:
    lines = [f"{heading} {table.title}", ""] if heading else []
    if not table.rows:
        return [*lines, "None.", ""]
    lines.append("| " + " | ".join(h.replace("|", "\\|") for h in table.header) + " |")
    lines.append("|" + "|".join("---:" if i in table.numeric else "---" for i in range(len(table.header))) + "|")
    lines.extend("| " + " | ".join(_md_cell(v) for v in row) + " |" for row in table.rows)
    return [*lines, ""]


def notes_markdown(notes: Notes) -> list[str]:
    if not notes.texts:
        return []
    return ["## Notes", "", *[f"{i}. {t.replace('<', '&lt;')}" for i, t in enumerate(notes.texts, 1)], ""]


def render_markdown(report: Report) -> str:
    lines = [f"# {report.title}", "", *[line for p in report.intro for line in (p, "")]]
    lines += ["Superscript numbers refer to the notes at the end.", ""]
    for section in report.sections:
        lines += [f"{'#' * section.level} {section.title}", ""]
        for paragraph in section.text:
            lines += [paragraph, ""]
        for table in section.tables:
            lines += table_markdown(table)
    lines += notes_markdown(report.notes)
    return "\n".join(lines).rstrip("\n") + "\n"


def _inline_html(text: str) -> str:
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _html_cell(value: Value, tag: str, numeric: bool) -> str:
    notes = "".join(f'<sup><a href="#note-{n}">{n}</a></sup>' for n in value.notes)
    cls = ' class="num"' if numeric else ""
    cls = ' class="missing"' if value.text == DASH else cls
    return f"<{tag}{cls}>{html.escape(value.text)}{notes}</{tag}>"


def table_html(table: Table) -> str:
    head = "".join(_html_cell(Value(h), "th", i in table.numeric) for i, h in enumerate(table.header))
    body = "\n".join(
        "<tr>" + "".join(_html_cell(v, "td", i in table.numeric) for i, v in enumerate(row)) + "</tr>"
        for row in table.rows
    )
    if not table.rows:
        body = f'<tr><td colspan="{len(table.header)}">None.</td></tr>'
    return (
        f'<div class="wide">\n<table id="{table.slug}">\n<caption>{html.escape(table.title)}</caption>\n'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>\n</div>"
    )


STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
div.wide { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 13px; }
caption { text-align: left; font-weight: bold; padding: 0.3em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.missing { text-align: center; color: #888; }
figure { margin: 1em 0; }
figcaption { font-size: 12px; color: #555; }
svg.plot { max-width: 100%; height: auto; border: 1px solid #eee; }
ol.notes { font-size: 13px; }
code { background: #f4f4f4; padding: 0 3px; }
""".strip()


def render_html(report: Report) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{html.escape(report.title)}</title>",
        f"<style>\n{STYLE}\n</style>",
        "</head>",
        "<body>",
        f"<h1>{html.escape(report.title)}</h1>",
        *[f"<p>{_inline_html(p)}</p>" for p in report.intro],
        "<p>Superscript numbers link to the notes at the end.</p>",
        "<nav><ul>",
        *[f'<li><a href="#{_slug(s.title)}">{html.escape(s.title)}</a></li>' for s in report.sections],
        '<li><a href="#notes">Notes</a></li>',
        "</ul></nav>",
    ]
    for section in report.sections:
        out.append(f'<section id="{_slug(section.title)}">')
        out.append(f"<h{section.level}>{html.escape(section.title)}</h{section.level}>")
        out.extend(f"<p>{_inline_html(p)}</p>" for p in section.text)
        for svg, caption in section.plots:
            out.append(f"<figure>\n{svg}\n<figcaption>{html.escape(caption)}</figcaption>\n</figure>")
        out.extend(table_html(t) for t in section.tables)
        out.append("</section>")
    out.append('<section id="notes">\n<h2>Notes</h2>')
    if report.notes.texts:
        out.append('<ol class="notes">')
        out.extend(f'<li id="note-{i}">{_inline_html(t)}</li>' for i, t in enumerate(report.notes.texts, 1))
        out.append("</ol>")
    else:
        out.append("<p>None.</p>")
    out += ["</section>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------------- CSV
CSV_METRICS = (
    "images_per_s",
    "images_per_s_ci95_low",
    "images_per_s_ci95_high",
    "images_per_s_iqr",
    "step_seconds_p50",
    "step_seconds_p90",
    "steps",
    "warmup_first_seconds",
    "warmup_seconds_total",
    "flops_per_image",
    "achieved_gflops",
    "peak_gflops",
    "efficiency",
    "peak_rss_bytes",
    "device_peak_bytes",
    "board_memory_max_bytes",
    "joules_per_image",
    "watts_mean",
    "gpu_util_mean",
    "top1",
    "top5",
    "test_loss",
    "train_loss",
    "seconds",
)


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return str(value)


def summary_csv(selection: Selection, builder: Builder | None = None) -> str:
    """One row per framework x device x measurement with the main metrics; empty fields
    are missing figures, `note` says why (a failure's error, or the record's notes)."""
    builder = builder or Builder(selection)
    parity_names = builder.parity_metrics()
    header = [
        "kind",
        "framework",
        "device",
        "measurement",
        "mode",
        "status",
        "run_id",
        "variant",
        "precision",
        "batch_size",
        "image_size",
        "dataset",
        "rank",
        *CSV_METRICS,
        *[f"parity_{n}" for n in parity_names],
        "note",
    ]
    kinds = {"train": 0, "throughput": 1, "parity": 2}
    cells = sorted(
        selection.cells.values(),
        key=lambda c: (kinds.get(c.kind, 3), device_key(c.device), c.framework, measurement_key(c.measurement)),
    )
    ranks = {(d, m): selection.ranks(d, m) for d in selection.devices for m in selection.throughput_measurements}
    # Then every other execution mode's throughput (the cells above hold the default mode's).
    shown = {id(c.entry) for c in cells if c.entry is not None}
    extra = set()
    for (device, framework, _mode, measurement), entry in sorted(selection.mode_entries().items()):
        if id(entry) not in shown:
            cells.append(Cell("throughput", framework, device, measurement, entry=entry))
            extra.add(id(entry))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for c in cells:
        e = c.entry or c.failure
        status = "ok" if c.entry else ("failed" if c.failure else "missing")
        metrics = dict(c.entry.metrics) if c.entry else {}
        peak = peak_gflops(c.entry)
        metrics["peak_gflops"] = peak
        achieved = metrics.get("achieved_gflops")
        metrics["efficiency"] = float(achieved) / peak if peak and achieved is not None else None
        in_ranking = c.kind == "throughput" and id(c.entry) not in extra
        rank = ranks.get((c.device, c.measurement), {}).get(c.framework, ("", False))[0] if in_ranking else ""
        note = "" if c.entry else c.why()
        row = [
            c.kind,
            c.framework,
            c.device,
            c.measurement,
            e.exec_mode if e and c.kind == "throughput" else "",
            status,
            e.run_id if e else "",
            e.variant if c.entry else "",
            e.precision if c.entry else "",
            e.batch_size if c.entry else "",
            "x".join(str(i) for i in e.image_size) if c.entry and e.image_size else "",
            e.dataset if c.entry else "",
            rank,
            *[metrics.get(m) for m in CSV_METRICS],
            *[metrics.get(n) if c.kind == "parity" else None for n in parity_names],
            note,
        ]
        writer.writerow([_csv_value(v) for v in row])
    return buffer.getvalue()


# -------------------------------------------------------------------------------- README
def markdown_cpu_table(frame, run_id: str | None = None) -> str:
    """The summary table README embeds, from records.load()'s DataFrame: per device (CPU,
    and GPU where there are GPU records) and framework, compute-only training and
    inference images/s with 95% CIs and ranks (ties within noise shown as ties), top-1,
    top-5 and peak host memory; followed by its own notes. Deterministic."""
    from impls.errors import ConfigError

    entries = entries_from_frame(frame)
    if not entries:
        raise ConfigError("no alexbench records to summarize; run `alexbench run` first")
    selection = Selection(entries, run_id)
    builder = Builder(selection)
    table = builder.summary_table()
    runs = ", ".join(selection.runs())
    lines = table_markdown(table, heading=None)
    lines.append(
        f"Compute-only throughput at the recorded batch and input size, median [95% CI]; from run(s) {runs}. "
        "Generated by `alexbench report`; the full report (latency, memory, energy, GPU vs CPU, parity, "
        "environment) is REPORT.md / report.html in the results folder."
    )
    if builder.notes.texts:
        lines += ["", *[f"- {_sup([i])} {t.replace('<', '&lt;')}" for i, t in enumerate(builder.notes.texts, 1)]]
    return "\n".join(lines).rstrip("\n") + "\n"


def replace_between_markers(text: str, content: str, path: str = "README.md") -> str:
    """`text` with what lies between the results markers replaced by `content`."""
    from impls.errors import ConfigError

    begins, ends = text.count(README_BEGIN), text.count(README_END)
    if begins == 0 or ends == 0:
        raise ConfigError(
            f"{path} has no results markers: put the lines {README_BEGIN} and {README_END} where the "
            "results table should go, then run again"
        )
    if begins > 1 or ends > 1:
        raise ConfigError(f"{path} has {begins} {README_BEGIN} and {ends} {README_END} markers; keep one pair")
    start, end = text.index(README_BEGIN) + len(README_BEGIN), text.index(README_END)
    if end < start:
        raise ConfigError(f"{path}: {README_END} comes before {README_BEGIN}; swap them")
    return text[:start] + "\n\n" + content.strip("\n") + "\n\n" + text[end:]


# ----------------------------------------------------------------------------------- I/O
write_text_atomic = records.write_text_atomic  # one atomic writer for every result file


def generate(
    results: str | os.PathLike,
    out: str | os.PathLike,
    run_id: str | None = None,
    readme: str | os.PathLike | None = None,
) -> dict[str, Path]:
    """Read the records under `results`, write REPORT.md, report.html and summary.csv to
    `out` (and refresh README's table); returns the paths written."""
    from impls.errors import ConfigError

    results, out = Path(results), Path(out)
    if not results.is_dir():
        raise ConfigError(f"no results folder {str(results)!r}; run `alexbench run` first (or pass --results DIR)")
    readme_text = None
    if readme is not None:
        readme = Path(readme)
        if not readme.is_file():
            raise ConfigError(f"no README at {str(readme)!r}")
        readme_text = readme.read_text(encoding="utf-8")
        replace_between_markers(readme_text, "", str(readme))  # fail before writing anything
    frame, _ = load(results)
    loaded = {Path(p).resolve() for p in frame["path"]} if len(frame) else set()
    skipped = sorted(
        p.relative_to(results).as_posix()
        for p in records.iter_files(results)
        if p.resolve() not in loaded and not _other_document(p)
    )
    report, selection = build(frame, run_id, skipped, latest_overhead(results))
    written = {
        "REPORT.md": write_text_atomic(out / "REPORT.md", render_markdown(report)),
        "report.html": write_text_atomic(out / "report.html", render_html(report)),
        "summary.csv": write_text_atomic(out / "summary.csv", summary_csv(selection)),
    }
    if readme is not None:
        updated = replace_between_markers(readme_text, markdown_cpu_table(frame, run_id), str(readme))
        if updated != readme_text:
            write_text_atomic(readme, updated)
        written["README"] = readme
    return written


def latest_overhead(results: Path) -> dict | None:
    """The `alexbench overhead` documents under results/overhead, merged: for each framework
    and mode the newest measurement (a rerun of a few modes after a fix replaces only
    those); the settings are the newest document's, `created` lists every one used."""
    merged: dict[tuple[str, str], dict] = {}
    used, settings = [], {}
    for path in sorted((results / "overhead").glob("overhead-*.json")):  # oldest first: UTC stamps
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if document.get("schema") != "alexbench.overhead/1":
            continue
        for result in document.get("results", []):
            merged[(result["framework"], result["mode"])] = {**result, "created": document.get("created")}
        used.append(str(document.get("created")))
        settings = document.get("settings", {})
    if not merged:
        return None
    order = {(f, m): (i, j) for i, f in enumerate(MODES) for j, m in enumerate(MODES[f])}
    results_sorted = sorted(merged.values(), key=lambda r: order.get((r["framework"], r["mode"]), (99, 99)))
    return {"created": ", ".join(used), "settings": settings, "results": results_sorted}


def _other_document(path: Path) -> bool:
    """A valid alexbench document that is not a record (a detailed parity report): not 'unreadable'."""
    try:
        records.read(path)
    except records.OtherDocument:
        return True
    except Exception:
        return False
    return False


# ----------------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", default="results", help="folder with the records (searched recursively)")
    parser.add_argument("--out", default="results", help="where REPORT.md, report.html and summary.csv go")
    parser.add_argument(
        "--run",
        metavar="RUN_ID",
        help="report this run only (default: the latest record of each framework x device x measurement)",
    )
    parser.add_argument(
        "--readme",
        metavar="README.md",
        help=f"also replace the results table between the {README_BEGIN} and {README_END} markers of this file",
    )


def main(args: argparse.Namespace) -> int:
    written = generate(args.results, args.out, run_id=args.run, readme=args.readme)
    for name, path in written.items():
        print(f"wrote {path}" if name != "README" else f"updated the results table in {path}")
    return 0
