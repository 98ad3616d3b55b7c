"""What a report is made of, before it is rendered: values with footnotes, tables, sections,
and the number formats every table uses."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.report.entries import Entry

DASH = "—"
ENERGY_METRICS = ("joules_per_image", "watts_mean", "gpu_util_mean", "board_memory_max_bytes")


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
    workload: str = ""  # the workload every row is of (Workload.label), shown under the title
    precision: str | None = None  # the precision the caption names, where not the workload's own (bfloat16 modes)


@dataclass
class Section:
    title: str
    level: int = 2
    text: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    plots: list[tuple[str, str]] = field(default_factory=list)  # (svg, caption), HTML only


def fixed(digits: int) -> Callable[[float], str]:
    return lambda x: f"{float(x):.{digits}f}"


def gib(x) -> str:
    return f"{float(x) / 2**30:.2f}"


def ms(x) -> str:
    return f"{float(x) * 1000:.1f}"


def pct(x) -> str:
    return f"{float(x) * 100:.2f}"


def sci(x) -> str:
    return "0" if float(x) == 0 else f"{float(x):.2e}"


def sig(x) -> str:
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


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def text_or_dash(value) -> str:
    return DASH if value is None else str(value)


def pairs_text(mapping: dict) -> list[str]:
    return [f"{k}={mapping[k]}" for k in sorted(mapping)]


def short_commit(commit) -> str:
    """A 12-digit abbreviation (plus +dirty): enough to find the commit, narrow enough to read."""
    if not commit:
        return DASH
    sha, dirty = str(commit).split("+", 1) if "+" in str(commit) else (str(commit), "")
    return sha[:12] + (f"+{dirty}" if dirty else "")


def gpus_text(gpus) -> str:
    if not gpus:
        return "none"
    out = []
    for g in gpus:
        if isinstance(g, dict):
            memory = f", {gib(g['memory_bytes'])} GiB" if g.get("memory_bytes") else ""
            driver = f", driver {g['driver']}" if g.get("driver") else ""
            out.append(f"{g.get('name', 'GPU')}{memory}{driver}")
        else:
            out.append(str(g))
    return "; ".join(out)


def workload_text(entry: Entry) -> str:
    return f"{entry.workload.label()}, batch {entry.batch_size}"
