"""Frameworks available here, their versions, the devices each one finds, and their
execution modes.

Each framework is probed in its own subprocess, so a broken install of one cannot
hide the others (and importing all three in one process is slow).
"""

from __future__ import annotations

import argparse
import json
import os

from harness import backends, env, results
from harness.paths import absolute


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--results", default="results", type=absolute,
        help="where to look for the modes `alexbench run --modes best` chose (default: ./results)",
    )  # fmt: skip


def best_modes_here(root: str) -> list[results.Record]:
    """The newest selection record per framework, device and precision class that was made
    on this machine (same CPU model and core count) under `root`."""
    machine = (env.cpu_model(), os.cpu_count())
    latest: dict[tuple[str, str, str], results.Record] = {}
    found = results.load_all(root) if os.path.isdir(root) else []
    for _, record, environment in sorted(found, key=lambda x: (x[1].finished or x[1].started or "", x[1].run_id)):
        if record.kind == "selection" and (environment.get("cpu_model"), environment.get("cpu_count")) == machine:
            latest[(record.framework, record.device, record.measurement)] = record
    return [latest[k] for k in sorted(latest)]


def main(args: argparse.Namespace) -> int:
    import platform

    import impls
    from impls.modes import DEFAULT_MODE, MODES

    results = [backends.probe(name) for name in impls.names()]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"alexbench on Python {platform.python_version()}, {platform.system()} {platform.machine()}")
    for r in results:
        if "error" in r:
            print(f"  {r['framework']:6} unavailable: {r['error']}")
            continue
        versions = ", ".join(f"{k} {v}" for k, v in r["versions"].items() if v not in ("None", ""))
        gpus = ", ".join(r["gpus"]) or "none"
        print(f"  {r['framework']:6} {versions}; devices: cpu, GPUs: {gpus}")
    print("execution modes (alexbench run --modes FRAMEWORK=MODE+MODE; * = default):")
    for framework, modes in MODES.items():
        for mode in modes.values():
            star = "*" if DEFAULT_MODE[framework] == mode.name else " "
            print(f"  {framework:6} {star}{mode.name:<14} {mode.description}")
    chosen = best_modes_here(args.results)
    if not chosen:
        print("fastest modes on this machine: not measured yet (alexbench run --modes best)")
    for record in chosen:
        picks = []
        for phase, mode in record.settings.get("winners", {}).items():
            margin = record.metrics.get(f"{phase}/margin_over_default")
            picks.append(f"{phase} {mode}" + (f" ({margin:.2f}x the default)" if margin else ""))
        print(
            f"  fastest {record.measurement} on {record.device} for {record.framework} (--modes best, run "
            f"{record.run_id}): {'; '.join(picks)}"
        )
    return 0
