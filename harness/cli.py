"""The `alexbench` command: a thin layer over importable harness modules.

Each subcommand lives in its own module exposing `add_arguments(parser)` and
`main(args) -> int`, and optionally `description() -> str`, its --help text (built from the
constants the code uses, so the numbers it shows are the ones that run; else the module's
docstring). Help keeps its examples and numbered steps as written (RawDescriptionHelpFormatter).
Path arguments are made absolute as they are parsed (harness.paths). Errors a user can cause
(impls.errors.AlexBenchError) print one line and exit 2; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# subcommand -> (module, one-line help)
COMMANDS = {
    "info": ("harness.commands.info", "frameworks here, their versions and devices; the networks (--models)"),
    "train": ("harness.commands.train", "train one framework on a dataset and evaluate top-1/top-5"),
    "parity": ("harness.commands.parity", "prove the implementations compute the same function (float64 and float32)"),
    "run": ("harness.commands.run", "the main job: train, evaluate and measure every framework x device, record it"),
    "report": ("harness.commands.report", "write results/REPORT.md, report.html and summary.csv from the records"),
    "overhead": ("harness.commands.overhead", "benchmark: our implementations side by side with plain framework loops"),
    "scale": ("harness.commands.scale", "data-parallel training throughput at each world size, on each engine"),
}


def build_parser() -> argparse.ArgumentParser:
    from harness import __version__

    parser = argparse.ArgumentParser(prog="alexbench", description="AlexNet across PyTorch, Keras and JAX.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--version", action="version", version=f"alexbench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                continue  # a subcommand not in this version
            raise
        command = sub.add_parser(name, help=help_text, description=description(module, help_text),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        module.add_arguments(command)
        command.set_defaults(handler=module.main)
    return parser


def description(module, fallback: str) -> str:
    """A subcommand's --help text: its module's description(), else its docstring."""
    text = module.description() if callable(getattr(module, "description", None)) else module.__doc__
    return (text or fallback).strip()


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # silence TensorFlow's start-up noise
    from impls.errors import AlexBenchError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except AlexBenchError as error:
        if args.debug:
            raise
        print(f"alexbench {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"alexbench {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
