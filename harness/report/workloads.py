"""Which workload each record belongs to, and the order the report shows the workloads in.

A report table ranks or compares frameworks within one workload only: the same network
(model, variant, width) on the same input (size, channels) and data. The report therefore
groups the records by workload (group_of) and draws every such table once per workload.
Precision is not part of the group: within a workload the report keeps precisions apart as
it always has (float32 rankings, a ranking of bfloat16 modes among themselves, mode tables
that say what each mode computes in); the input pipeline's uint8 records belong to the
workload whose images they make.

Records that do not name their workload (failures before the workload was known, `--modes
best` trials, records older than the workload fields with no input size) belong to the
workloads their run measured of their family (family_of: a training's, or the benchmarks'):
a run measures one workload of each. A run that recorded nothing of the family (say, every
framework skipped) does not say which workload its records were meant for: they stand for
every workload, as a later failure always stood for the cell.

The headline workload comes first: the one with the most records (every run counted), ties
broken by the workload's own order (model, variant, width, size, channels, data), so the
order follows from the records alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.report.entries import Entry
from harness.results import Workload

UNGROUPED = ("parity",)  # checks of correctness at their own sizes: reported apart, not per workload
BENCH = ("throughput", "pipeline", "selection", "scaling")


def family_of(entry: Entry) -> str | None:
    """"train" or "bench": which workload of its run a record measured (a failure: the one of
    its measurement); None for a failure before either (setup), which may be of both."""
    if entry.kind == "failure":
        if entry.measurement == "setup":
            return None
        return "train" if entry.measurement in ("accuracy", "train") else "bench"
    return "train" if entry.kind == "train" else "bench"


def group_of(entry: Entry) -> Workload | None:
    """The workload group of a record that names its input (precision left out); None if it names none."""
    if entry.kind in UNGROUPED or not entry.image_size:
        return None
    return entry.workload.replace(precision=None)


def grouped(entries: Sequence[Entry]) -> list[tuple[Workload, list[Entry], set[str]]]:
    """(workload, its records in the order given, the devices it measured), headline first.
    Records without a workload join those of their run (or every workload, see above);
    they add no device of their own unless their run measured the workload."""
    named: dict[Workload, list[Entry]] = {}
    by_run: dict[tuple[str, str | None], list[Workload]] = {}  # (run, family or None: any) -> workloads
    for e in entries:
        group = group_of(e)
        if group is not None:
            named.setdefault(group, []).append(e)
            for key in ((e.run_id, family_of(e)), (e.run_id, None)):
                if group not in by_run.setdefault(key, []):
                    by_run[key].append(group)
    counts = {w: len(found) for w, found in named.items()}
    order = sorted(named, key=lambda w: (-counts[w], w.sort_key()))
    members: dict[Workload, list[Entry]] = {w: [] for w in order}
    devices: dict[Workload, set[str]] = {w: set() for w in order}
    for e in entries:
        if e.kind in UNGROUPED:
            continue
        group = group_of(e)
        own = [group] if group is not None else by_run.get((e.run_id, family_of(e)))
        for w in own or order:
            members[w].append(e)
            if own and e.kind != "pipeline":  # the input pipeline runs on no framework's device
                devices[w].add(e.device)
    return [(w, members[w], devices[w]) for w in order]
