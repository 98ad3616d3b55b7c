"""Paths the user typed, made absolute against the folder the command was started in.

Workers and data-parallel ranks run with the project's root as their working directory (so
that `python -m harness...` imports this checkout), so a relative path handed to one of them
names a place inside the project, not the user's: `alexbench scale --out results` started
elsewhere had every rank look for its task file in the wrong folder, and the checkpoints of
`alexbench run` landed in the project. Every path argument of every subcommand is therefore
made absolute once, when it is parsed (`type=absolute`), and only absolute paths travel on.
"""

from __future__ import annotations

import os


def absolute(path: str | os.PathLike[str]) -> str:
    """`path` ('~' expanded) as an absolute, normalized path against the current folder;
    an argparse `type` for every path argument."""
    return os.path.abspath(os.path.expanduser(os.fspath(path)))


def absolute_or_none(path: str | os.PathLike[str] | None) -> str | None:
    return None if path is None else absolute(path)
