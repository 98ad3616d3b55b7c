"""Frameworks available here, their versions, the devices each one finds, and their
execution modes.

Each framework is probed in its own subprocess, so a broken install of one cannot
hide the others (and importing all three in one process is slow).
"""

from __future__ import annotations

import argparse
import json

from harness import backends


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


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
    return 0
