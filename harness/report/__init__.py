"""Reports from the records: REPORT.md, report.html (with plots) and summary.csv, and the
results table README embeds. Reads the records (harness.results) and nothing else: no
framework, no impls, no clock.

    entries.py          records as the report reads them (mode, default mode when measured)
    workloads.py        which workload each record belongs to, headline workload first
    select.py           which record each cell shows, over all and per workload; ranks with ties
    grouping.py         the sections that rank or compare frameworks, once per workload
    model.py            values with footnotes, tables, sections, number formats
    cells.py            record -> table value, a dash and its reason where a figure is missing
    sections_speed.py   throughput, GPU vs CPU, latency, efficiency, modes, overhead
    sections_results.py memory, energy, parity, failures, environment
    accuracy.py · best.py · pipeline.py · scaling.py   the other sections
    plots.py, svg.py    the plots of each section, drawn as inline SVG
    render.py           Markdown and HTML
    spreadsheet.py      summary.csv
    readme.py           README's summary table (each device's headline workloads) between its markers
    build.py            read, select, build, render, write (generate)

The command is harness.commands.report.
"""

from harness.report.build import SECTIONS, build, generate, latest_overhead
from harness.report.entries import Entry, load
from harness.report.model import DASH
from harness.report.readme import README_BEGIN, README_END, markdown_cpu_table, replace_between_markers
from harness.report.render import render_html, render_markdown
from harness.report.select import THROUGHPUT_MEASUREMENTS, Selection
from harness.report.spreadsheet import summary_csv

__all__ = [
    "DASH", "README_BEGIN", "README_END", "SECTIONS", "THROUGHPUT_MEASUREMENTS", "Entry", "Selection", "build",
    "generate", "latest_overhead", "load", "markdown_cpu_table", "render_html", "render_markdown",
    "replace_between_markers", "summary_csv",
]  # fmt: skip
