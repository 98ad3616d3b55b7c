"""Frameworks available here, their versions, and the devices each one finds.

Each framework is probed in its own subprocess, so a broken install of one cannot
hide the others (and importing all three in one process is slow).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

PROBE = r"""
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
name = sys.argv[1]
out = {"framework": name}
try:
    import impls
    cls = impls.implementation_class(name)
    out["versions"] = cls.versions()
    if name == "torch":
        import torch
        out["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    elif name == "keras":
        import tensorflow as tf
        out["gpus"] = [d.name for d in tf.config.list_physical_devices("GPU")]
    elif name == "jax":
        import jax
        out["gpus"] = [str(d) for d in jax.devices() if d.platform == "gpu"]
except Exception as error:  # report, never crash the listing
    out["error"] = f"{type(error).__name__}: {error}"
print(json.dumps(out))
"""


def probe(name: str, timeout: float = 120.0) -> dict:
    """{framework, versions, gpus} or {framework, error} for one implementation."""
    import impls

    reason = impls.unavailable_reason(name)
    if reason:
        return {"framework": name, "error": reason}
    try:
        done = subprocess.run([sys.executable, "-c", PROBE, name], capture_output=True, text=True, timeout=timeout)
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, json.JSONDecodeError, IndexError) as error:
        return {"framework": name, "error": f"probe failed: {error}"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def main(args: argparse.Namespace) -> int:
    import platform

    import impls
    from impls.modes import DEFAULT_MODE, MODES

    results = [probe(name) for name in impls.names()]
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
