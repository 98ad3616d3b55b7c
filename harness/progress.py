"""Progress a log can read: tqdm's bars on a terminal, plain lines everywhere else.

tqdm turns its bars off when stderr is not a terminal (`disable=None`), so with output going
to a file (CI, nohup, `make run > log 2>&1`) a run printed nothing between its plan and its
tables for twelve minutes and more. `bar(...)` takes tqdm's arguments and gives tqdm's bar
on a terminal; elsewhere a `PlainProgress` with the same interface (`update`, `reset`,
`set_postfix`, `close`) that writes one line at most every INTERVAL seconds while the phase
runs (what is running, how far, the time it has taken) and one line when it ends, so a log
shows the run is alive and where it is. `note(text)` is the line of a step without a bar.

The interval is 30 s, or ALEXBENCH_PROGRESS_INTERVAL seconds (tests use a small one).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

INTERVAL_VARIABLE = "ALEXBENCH_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 30.0


def interval() -> float:
    """Seconds between two lines of one phase: ALEXBENCH_PROGRESS_INTERVAL, else 30."""
    try:
        seconds = float(os.environ.get(INTERVAL_VARIABLE, DEFAULT_INTERVAL))
    except ValueError:
        return DEFAULT_INTERVAL
    return seconds if seconds >= 0 else DEFAULT_INTERVAL


def is_terminal(stream: TextIO | None) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def duration(seconds: float) -> str:
    """'42 s', '3 min 05 s', '1 h 02 min': elapsed time as a log line says it."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class PlainProgress:
    """tqdm's interface, as plain lines: at most one per `every` seconds, and one at close.

    `disable=True` makes it silent (as tqdm's). `clock` and `stream` are for tests."""

    def __init__(
        self, total: float | None = None, desc: str = "", unit: str = "it", initial: float = 0,
        disable: bool | None = False, stream: TextIO | None = None, every: float | None = None,
        clock: Callable[[], float] = time.monotonic, **_tqdm_only: Any,
    ) -> None:  # fmt: skip
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.disable = disable is True
        self.stream = stream
        self.every = interval() if every is None else every
        self.clock = clock
        self.start = self.last = clock()
        self.postfix = ""
        self.closed = False

    # ------------------------------------------------------------------ tqdm's interface
    def update(self, n: float = 1) -> None:
        self.n += n
        now = self.clock()
        if now - self.last >= self.every:
            self.last = now
            self._write(self._line(now))

    def reset(self, total: float | None = None) -> None:
        self.n = 0
        if total is not None:
            self.total = total

    def set_postfix(self, ordered_dict: dict | None = None, refresh: bool = True, **kwargs: Any) -> None:
        items = {**(ordered_dict or {}), **kwargs}
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        elapsed = duration(self.clock() - self.start)
        self._write(f"{self.desc}: done, {_count(self.n)} {self.unit} in {elapsed}")

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ lines
    def _line(self, now: float) -> str:
        far = f"{_count(self.n)}"
        if self.total:
            far += f"/{_count(self.total)} {self.unit} ({self.n / self.total:.0%})"
        else:
            far += f" {self.unit}"
        return f"{self.desc}: {far}, {duration(now - self.start)}" + (f", {self.postfix}" if self.postfix else "")

    def _write(self, line: str) -> None:
        if self.disable:
            return
        stream = self.stream or sys.stderr
        stream.write(f"  {line}\n")
        stream.flush()


def bar(
    total: float | None = None, desc: str = "", unit: str = "it", leave: bool = False, initial: float = 0,
    disable: bool | None = None, stream: TextIO | None = None, **kwargs: Any,
):  # fmt: skip
    """A progress bar with tqdm's arguments: tqdm's own where `stream` (default stderr) is a
    terminal, else a PlainProgress writing lines to it. disable=True: silent in both."""
    out = stream or sys.stderr
    if is_terminal(out) or disable is True:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit=unit, leave=leave, initial=initial, disable=disable, file=out,
                    **kwargs)  # fmt: skip
    return PlainProgress(total=total, desc=desc, unit=unit, initial=initial, stream=stream, **kwargs)


def note(text: str, stream: TextIO | None = None) -> None:
    """The line of a finished step that has no bar (e.g. a worker built and warmed up),
    where stderr is no terminal; on a terminal the bars say enough."""
    out = stream or sys.stderr
    if not is_terminal(out):
        out.write(f"  {text}\n")
        out.flush()


def _count(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
