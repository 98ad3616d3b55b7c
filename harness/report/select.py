"""Selection: which record the report shows for each framework x device x measurement (the
latest, or the failure that replaced it, or why there is none), and ranks with ties; once
over all records, and once per workload (harness.report.workloads), which is what every
table that ranks or compares frameworks shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness import stats
from harness.report import workloads
from harness.report.entries import Entry, missing
from harness.results import Workload

THROUGHPUT_MEASUREMENTS = ("train/compute_only", "train/end_to_end", "inference/compute_only", "inference/end_to_end")
MEASUREMENT_TITLES = {
    "train/compute_only": "Training, compute only",
    "train/end_to_end": "Training, end to end",
    "inference/compute_only": "Inference, compute only",
    "inference/end_to_end": "Inference, end to end",
}


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


def headline(candidates: list[Entry], phase: str) -> list[Entry]:
    """The records that may stand in a headline (float32) cell of `phase`: at the run's
    headline batch size (the first it measured), the mode that won the phase in a --modes
    best trial, or, without a trial, the default mode when measured; failures of those. Else
    any float32-class record: a bfloat16 mode never stands in a float32 ranking."""
    candidates = [e for e in candidates if e.headline_batch]
    chosen = [
        e for e in candidates
        if (e.kind == "failure" and e.mode is None)
        or e.won(phase) == "float32"
        or (not e.settings.get("selection") and e.exec_mode == e.default_mode)
    ]  # fmt: skip
    return chosen or [e for e in candidates if e.headline_class == "float32"]


@dataclass
class View:
    """The records of one workload, selected on their own (a Selection), for the tables that
    rank or compare frameworks."""

    workload: Workload
    selection: Selection


class Selection:
    """The records the report shows: per framework x device x measurement, the latest; and
    the same per workload (views, headline first). A view keeps the frameworks of the whole
    report (a framework without a record of the workload is a row saying so) and the devices
    its workload was measured on."""

    def __init__(self, entries: Sequence[Entry], run_id: str | None = None, frameworks: list[str] | None = None,
                 devices: list[str] | None = None, parent: Selection | None = None) -> None:  # fmt: skip
        from impls.errors import ConfigError

        if run_id is not None:
            runs = sorted({e.run_id for e in entries})
            entries = [e for e in entries if e.run_id == run_id]
            if not entries:
                raise ConfigError(f"no records of run {run_id!r}; runs found: {', '.join(runs) or 'none'}")
        self.entries = sorted(entries, key=lambda e: e.order)
        self.run_filter = run_id
        measured = [e for e in self.entries if e.kind != "pipeline"]  # the input pipeline is no framework
        self.frameworks = frameworks if frameworks is not None else sorted({e.framework for e in measured})
        self.devices = devices if devices is not None else sorted({e.device for e in measured}, key=device_key)
        self.kinds = {e.kind for e in self.entries if e.kind != "failure"}  # what was measured, not what failed
        self.parent = parent  # the selection of all records, where this is one workload's
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
        self.views = [
            View(w, Selection(members, frameworks=self.frameworks, devices=sorted(on, key=device_key), parent=self))
            for w, members, on in (workloads.grouped(self.entries) if parent is None else [])
        ]

    def by_workload(self, *kinds: str) -> list[tuple[Workload | None, Selection]]:
        """(workload, its selection) for every workload with records of `kinds`, headline
        first; without any, this whole selection once (workload None: its cells say what is
        missing)."""
        found = [(v.workload, v.selection) for v in self.views if v.selection.kinds & set(kinds)]
        return found or [(None, self)]

    def headline(self, kind: str, device: str) -> tuple[Workload | None, Selection]:
        """The first workload (in report order) with records of `kind` on `device`."""
        for v in self.views:
            if kind in v.selection.kinds and any(e.kind == kind and e.device == device for e in v.selection.entries):
                return v.workload, v.selection
        return None, self

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
        candidates = headline(candidates, measurement.split("/")[0])
        cell = Cell(kind, framework, device, measurement)
        if candidates:
            latest = candidates[-1]  # entries are sorted oldest first
            if latest.kind == "failure":
                cell.failure = latest
            else:
                cell.entry = latest
        elif not any(e.device == device for e in self.entries if e.framework == framework):
            elsewhere = self.parent is not None and any(
                (e.framework, e.device) == (framework, device) for e in self.parent.entries
            )
            where = "of this workload" if elsewhere else "in these results"
            cell.absent = f"{framework} has no record on {device.upper()} {where}"
        else:
            what = {"train": "accuracy (training)", "throughput": f"{measurement} throughput"}.get(kind, measurement)
            cell.absent = f"no {what} record for {framework} on {device.upper()}"
        self.cells[(kind, framework, device, measurement)] = cell

    def best(self, klass: str, framework: str, device: str, measurement: str) -> Cell | None:
        """The latest record that won `measurement`'s phase in a --modes best trial within
        `klass` (e.g. the fastest bfloat16 mode), as a cell; None if no trial chose one."""
        phase = measurement.split("/")[0]
        won = [
            e for e in self.entries
            if e.kind == "throughput" and (e.framework, e.device, e.measurement) == (framework, device, measurement)
            and e.won(phase) == klass and e.headline_batch
        ]  # fmt: skip
        return Cell("throughput", framework, device, measurement, entry=won[-1]) if won else None

    def in_run(self, cell: Cell, run_id: str) -> Cell | None:
        """The record `cell` would show if only run `run_id` had been measured, as a cell
        (None: that run has no such record): a comparison that must stay within one run."""
        same = [
            e for e in self.entries
            if e.kind == cell.kind and e.run_id == run_id
            and (e.framework, e.device, e.measurement) == (cell.framework, cell.device, cell.measurement)
        ]  # fmt: skip
        same = headline(same, cell.measurement.split("/")[0])
        return Cell(cell.kind, cell.framework, cell.device, cell.measurement, entry=same[-1]) if same else None

    def mode_entries(self) -> dict[tuple[str, str, str, str], Entry]:
        """(device, framework, mode, measurement) -> the latest throughput record, every mode."""
        latest: dict[tuple[str, str, str, str], Entry] = {}
        for e in self.entries:  # oldest first: later records replace earlier ones
            if e.kind == "throughput" and e.exec_mode and e.headline_batch:
                latest[(e.device, e.framework, e.exec_mode, e.measurement)] = e
        return latest

    def cell(self, kind: str, framework: str, device: str, measurement: str) -> Cell:
        key = (kind, framework, device, measurement)
        if key not in self.cells:
            if device not in self.devices and device == "gpu":
                on_gpu = self.parent is not None and "gpu" in self.parent.devices
                absent = f"no GPU record: nothing {'of this workload' if on_gpu else 'in these results'} ran on a GPU"
            else:
                absent = f"no record for {framework} on {device.upper()}"
            return Cell(kind, framework, device, measurement, absent=absent)
        return self.cells[key]

    def shown(self) -> list[Entry]:
        """Every record that some cell shows (successes and failures), oldest first: with
        workloads, the cells of each workload's tables and the parity checks."""
        if not self.views:
            cells = list(self.cells.values())
        else:
            cells = [c for c in self.cells.values() if c.kind == "parity"]
            for kind in ("train", "throughput"):
                cells += [c for _, s in self.by_workload(kind) for c in s.cells.values() if c.kind == kind]
        chosen = {id(c.entry or c.failure): (c.entry or c.failure) for c in cells if c.entry or c.failure}
        return sorted(chosen.values(), key=lambda e: e.order)

    def runs(self) -> list[str]:
        return sorted({e.run_id for e in self.shown()})

    def ranks(self, device: str, measurement: str, klass: str = "float32") -> dict[str, tuple[str, bool]]:
        """framework -> (rank text, tie caused by a missing CI) among the frameworks on one
        device, within one precision class (the headline float32 cells, or the bfloat16
        modes a --modes best trial chose): sorted by median images/s; a leader and every
        later framework whose CI overlaps the leader's share its rank, a tie within noise.
        Only the records of one run are ranked (machine and load differ between runs): the
        run most of the cells come from, the latest of equals; the others get no rank."""
        cells = []
        for framework in self.frameworks:
            if klass == "float32":
                cell = self.cell("throughput", framework, device, measurement)
            else:
                cell = self.best(klass, framework, device, measurement)
                if cell is None:
                    continue
            if cell.metric("images_per_s") is not None:
                cells.append(cell)
        runs = [c.entry.run_id for c in sorted(cells, key=lambda c: c.entry.order)]
        ranked = max(reversed(runs), key=runs.count) if runs else None
        rows = []
        for cell in cells:
            if cell.entry.run_id == ranked:
                ci = (cell.metric("images_per_s_ci95_low"), cell.metric("images_per_s_ci95_high"))
                rows.append((-float(cell.metric("images_per_s")), cell.framework, ci))
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
    return None if missing(value) else float(value)
