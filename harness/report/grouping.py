"""Sections drawn once per workload: a section's tables for each workload that has records
of the kinds it shows (headline first), each table captioned with its workload, so no table
ranks or compares frameworks measured on different workloads.

A section function builds its tables from one selection (a Cells); per_workload runs it on
every workload's selection (harness.report.workloads) and merges what it returns: the
section's title, its paragraphs (each once), the tables with their workload and an anchor
unique in the page (the headline workload's table keeps the plain one), the plots with
their workload in the caption. A table with no rows (nothing of that kind measured on this
workload, say no threshold reached) is left out where another workload's is drawn.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from harness.report.cells import Cells
from harness.report.model import Section
from harness.results import Workload

SectionFn = Callable[[Cells], Section]


def per_workload(*kinds: str) -> Callable[[SectionFn], SectionFn]:
    """Decorator: the section once per workload with records of `kinds`; without any, once
    over all records (its cells say what is missing)."""

    def wrap(section: SectionFn) -> SectionFn:
        @functools.wraps(section)
        def build(ctx: Cells) -> Section:
            parts = []
            for workload, selection in ctx.s.by_workload(*kinds):
                view = ctx if workload is None else Cells(selection, ctx.notes, ctx.overhead)
                parts.append((workload, section(view)))
            return merge(parts)

        build.once = section  # the section over one selection, as it was written
        return build

    return wrap


def merge(parts: list[tuple[Workload | None, Section]]) -> Section:
    """One section from its per-workload parts (see the module's docstring)."""
    first = parts[0][1]
    drawn = [s for _, s in parts if s.tables] or [first]
    merged = Section(first.title, first.level)
    for _, part in parts:
        if any(part is d for d in drawn):
            merged.text += [p for p in part.text if p not in merged.text]
    slugs: set[str] = set()
    filled = {t.title for _, part in parts for t in part.tables if t.rows}
    for workload, part in parts:
        for table in part.tables:
            if not table.rows and (table.title in filled or any(t.title == table.title for t in merged.tables)):
                continue
            if workload is not None:
                table.workload = workload.label(precision=table.precision or "float32")
                if table.slug in slugs:
                    table.slug = f"{table.slug}-{workload.slug}"
            slugs.add(table.slug)
            merged.tables.append(table)
        for svg, caption in part.plots:
            merged.plots.append((svg, caption if workload is None else f"{caption} Workload: {workload.label()}."))
    return merged
