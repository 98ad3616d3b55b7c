"""harness.progress: plain lines where stderr is no terminal (throttled, one at the end), tqdm's
bar on a terminal, and the call sites' tqdm interface on both."""

import io

import pytest

from harness import progress


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_lines_at_most_every_interval_and_one_at_close():
    clock, out = Clock(), io.StringIO()
    bar = progress.PlainProgress(total=400, desc="torch/cpu accuracy, seed 0", unit="img", stream=out, every=30,
                                 clock=clock)  # fmt: skip
    for _ in range(10):  # 10 updates in 20 s: no line yet
        clock.now += 2
        bar.update(10)
    assert out.getvalue() == ""
    clock.now += 10  # 30 s since the start
    bar.set_postfix(loss="2.301")
    bar.update(10)
    clock.now += 5  # 5 s later: throttled
    bar.update(10)
    clock.now += 65
    bar.update(20)
    bar.close()
    bar.close()  # once only
    assert out.getvalue().splitlines() == [
        "  torch/cpu accuracy, seed 0: 110/400 img (28%), 30 s, loss=2.301",
        "  torch/cpu accuracy, seed 0: 140/400 img (35%), 1 min 40 s, loss=2.301",
        "  torch/cpu accuracy, seed 0: done, 140 img in 1 min 40 s",
    ]


def test_reset_sets_the_total_as_tqdm_does(monkeypatch):
    monkeypatch.setenv(progress.INTERVAL_VARIABLE, "0")  # every update prints
    clock, out = Clock(), io.StringIO()
    bar = progress.PlainProgress(desc="train", unit="img", stream=out, clock=clock)
    bar.update(5)
    bar.reset(total=50)
    bar.update(25)
    assert out.getvalue().splitlines() == ["  train: 5 img, 0 s", "  train: 25/50 img (50%), 0 s"]


def test_the_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(progress.INTERVAL_VARIABLE, "2.5")
    assert progress.interval() == 2.5
    monkeypatch.setenv(progress.INTERVAL_VARIABLE, "soon")
    assert progress.interval() == progress.DEFAULT_INTERVAL
    monkeypatch.delenv(progress.INTERVAL_VARIABLE)
    assert progress.interval() == 30.0


def test_bar_is_plain_without_a_terminal_and_tqdm_on_one():
    plain = progress.bar(total=3, desc="x", unit="step", leave=False, disable=None, stream=io.StringIO())
    assert isinstance(plain, progress.PlainProgress)
    tqdm = pytest.importorskip("tqdm")
    terminal = Terminal()
    shown = progress.bar(total=3, desc="x", unit="step", leave=False, disable=None, stream=terminal)
    assert isinstance(shown, tqdm.tqdm)
    shown.update(3)
    shown.close()
    assert "x" in terminal.getvalue()


def test_disabled_is_silent_everywhere():
    out = io.StringIO()
    bar = progress.bar(total=3, desc="x", disable=True, stream=out)
    bar.update(3)
    bar.set_postfix(loss="1.0")
    bar.close()
    quiet = progress.PlainProgress(total=3, desc="y", disable=True, stream=out, every=0)
    quiet.update(3)
    quiet.close()
    assert out.getvalue() == ""


def test_note_prints_only_without_a_terminal():
    out, terminal = io.StringIO(), Terminal()
    progress.note("torch (channels_last) on cpu: built and warmed up in 12 s", out)
    progress.note("not shown", terminal)
    assert out.getvalue() == "  torch (channels_last) on cpu: built and warmed up in 12 s\n"
    assert terminal.getvalue() == ""


@pytest.mark.parametrize(("seconds", "text"), [(0.4, "0 s"), (59.6, "1 min 00 s"), (3725, "1 h 02 min")])
def test_duration(seconds, text):
    assert progress.duration(seconds) == text
