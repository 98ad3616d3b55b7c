"""The subcommands of `alexbench`, one module each: `add_arguments(parser)` and `main(args)`, thin
layers over the importable harness modules (the table is harness.cli.COMMANDS)."""
