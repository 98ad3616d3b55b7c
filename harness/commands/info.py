"""Frameworks available here, their versions, the devices each one finds, their execution
modes, and the networks every framework builds (impls.networks: variants, parameters and
forward FLOPs at the default size, smallest input).

Each framework is probed in its own subprocess, so a broken install of one cannot
hide the others (and importing all three in one process is slow).
"""

from __future__ import annotations

import argparse
import json
import os

from harness import backends, env, results
from harness.models import parse_models
from harness.paths import absolute


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--models", default="all", help="the networks to list, comma-separated (default: all)")
    parser.add_argument(
        "--results", default="results", type=absolute,
        help="where to look for the modes `alexbench run --modes best` chose (default: ./results)",
    )  # fmt: skip


MODEL_CLASSES = 1000  # the classes of the models' table: ImageNet's, as published


def models_table(models: list[str] | None = None) -> list[dict]:
    """One row per network (default: all registered, impls.networks) and variant, at the
    variant's default size and MODEL_CLASSES classes: parameters, forward FLOPs of one image,
    smallest input."""
    import impls

    rows = []
    for name in models or impls.models():
        definition = impls.networks.get(name)
        for variant in definition.variants:
            config = impls.AlexNetConfig(model=name, variant=variant, num_classes=MODEL_CLASSES)
            rows.append({
                "model": name, "variant": variant, "description": definition.description,
                "image_size": list(config.image_size), "num_classes": MODEL_CLASSES,
                "parameters": impls.parameter_count(config), "forward_flops": impls.forward_flops(config),
                "min_image_size": impls.min_image_size(variant, name),
            })  # fmt: skip
    return rows


def print_models(rows: list[dict]) -> None:
    print(f"networks (--models; at the default size, {MODEL_CLASSES} classes; forward GFLOPs of one image):")
    print(f"  {'model':<8} {'variant':<12} {'size':>7} {'parameters':>12} {'GFLOPs':>7}  {'min size':>8}")
    for r in rows:
        size = "x".join(map(str, r["image_size"]))
        print(f"  {r['model']:<8} {r['variant']:<12} {size:>7} {r['parameters']:>12,} "
              f"{r['forward_flops'] / 1e9:>7.2f}  {r['min_image_size']:>8}")  # fmt: skip
    for model, description in dict((r["model"], r["description"]) for r in rows).items():
        print(f"  {model}: {description}")


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

    models = models_table(parse_models(args.models))  # an unknown name fails before the probes
    results = [backends.probe(name) for name in impls.names()]
    if args.json:
        print(json.dumps({"frameworks": results, "models": models}, indent=2))
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
    print_models(models)
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
