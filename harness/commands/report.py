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

from harness.paths import absolute
from harness.report import README_BEGIN, README_END, generate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", default="results", type=absolute,
                        help="folder with the records, searched recursively (default: ./results)")  # fmt: skip
    parser.add_argument("--out", default="results", type=absolute,
                        help="where REPORT.md, report.html and summary.csv go (default: ./results)")  # fmt: skip
    parser.add_argument(
        "--run",
        metavar="RUN_ID",
        help="report this run only (default: the latest record of each framework x device x measurement)",
    )
    parser.add_argument(
        "--readme",
        metavar="README.md",
        type=absolute,
        help=f"also replace the results table between the {README_BEGIN} and {README_END} markers of this file",
    )


def main(args: argparse.Namespace) -> int:
    written = generate(args.results, args.out, run_id=args.run, readme=args.readme)
    for name, path in written.items():
        print(f"wrote {path}" if name != "README" else f"updated the results table in {path}")
    return 0
