"""Cells: the report's one way to turn a selected record into a table value, with a footnote
(a dash and the reason) wherever a figure is missing; every section builds on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.report.model import DASH, Notes, Value, fixed, metric_note
from harness.report.select import Cell, Selection

NO_CI_TIE = "a framework without a 95% CI (too few steps) cannot be told apart from the leader: shown as a tie"


class Cells:
    """The selection being reported, its footnotes, and the documents beside the records."""

    def __init__(self, selection: Selection, notes: Notes | None = None, overhead: dict | None = None) -> None:
        self.s = selection
        self.notes = notes or Notes()
        self.overhead = overhead  # the merged `alexbench overhead` documents, or None

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
        rate = self.figure(cell, "images_per_s", fixed(1))
        if rate.text == DASH:
            return rate
        ci = self.ci(cell)
        return Value(f"{rate.text} {ci.text}", ci.notes) if ci.text != DASH else Value(rate.text, ci.notes)

    def rank(self, ranks: dict[str, tuple[str, bool]], cell: Cell) -> Value:
        if cell.framework not in ranks:
            if cell.entry is not None and cell.metric("images_per_s") is not None:
                return Value(DASH, (self.notes.ref(
                    f"{cell.framework} on {cell.device.upper()} was measured in run {cell.entry.run_id}, not beside "
                    "the ranked frameworks: ranks compare the records of one run"),))  # fmt: skip
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

    def first_cell(self, framework: str, device: str) -> Cell:
        """The throughput cell that carries the worker's memory figures (the same for every
        measurement of one worker): the first measurement with a record, else the first."""
        cells = [self.s.cell("throughput", framework, device, m) for m in self.s.throughput_measurements]
        return next((c for c in cells if c.entry is not None), cells[0])

    def memory_kinds(self) -> tuple[bool, bool]:
        """(throughput columns, training columns) of the memory table and plot: those of the
        kinds the workload has records of (a training at 64x64 is not the benchmark at
        224x224); both where it has neither."""
        bench, train = "throughput" in self.s.kinds, "train" in self.s.kinds
        return (bench, train) if bench or train else (True, True)

    def parity_metrics(self) -> list[str]:
        names = {n for e in self.s.entries if e.kind == "parity" for n in e.metrics}
        return sorted(names)
