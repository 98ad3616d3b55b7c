"""`alexbench run --modes best`: the trial picks the faster mode, per precision class and
phase, never comparing a bfloat16 mode with a float32 one; the choice is recorded whole."""

from __future__ import annotations

import pytest

from harness import results
from harness.cli import main
from harness.measure.selection import choose, precision_class
from tests import fault_workers
from tests.conftest import require
from tests.harness.measure.test_run import TINY_RUN


def seconds(rate: float, batch: int = 32, n: int = 6) -> list[float]:
    return [batch / rate] * n


def test_the_faster_mode_wins_each_phase_within_its_class():
    trial = {
        ("torch", "cpu", "eager", "train"): seconds(30.0),
        ("torch", "cpu", "channels_last", "train"): seconds(28.0),
        ("torch", "cpu", "eager", "inference"): seconds(90.0),
        ("torch", "cpu", "channels_last", "inference"): seconds(103.0),
        ("torch", "cpu", "bf16", "train"): seconds(95.0),  # fastest of all: but another class
        ("torch", "cpu", "bf16", "inference"): seconds(300.0),
    }
    batch = {("torch", "cpu", m): 32 for m in ("eager", "channels_last", "bf16")}
    choices = {c.klass: c for c in choose(trial, batch, {("torch", "cpu", "compile"): "no compiler"})}
    assert set(choices) == {"float32", "bfloat16"}
    assert choices["float32"].winners == {"train": "eager", "inference": "channels_last"}
    assert choices["bfloat16"].winners == {"train": "bf16", "inference": "bf16"}
    assert choices["float32"].unavailable == {"compile": "no compiler"}
    assert choices["float32"].margin("train") == pytest.approx(30 / 28)  # eager over channels_last (default)
    assert choices["float32"].margin("inference") == pytest.approx(1.0)
    assert {m for _, m in choices["float32"].rates} == {"eager", "channels_last"}  # bf16 never ranked here


def test_a_tie_goes_to_the_default_mode():
    trial = {("keras", "cpu", m, p): seconds(50.0) for m in ("graph", "xla") for p in ("train", "inference")}
    (choice,) = choose(trial, {("keras", "cpu", m): 32 for m in ("graph", "xla")})
    assert choice.winners == {"train": "xla", "inference": "xla"}


@pytest.mark.parametrize(("framework", "mode", "klass"), [("torch", "bf16", "bfloat16"), ("jax", "jit", "float32")])
def test_precision_classes(framework, mode, klass):
    assert precision_class(framework, mode) == klass


def test_modes_best_picks_the_faster_mode_and_records_the_trial(tmp_path, monkeypatch):
    """torch's default, channels_last, made 4x slower: eager must win both phases of the
    float32 class; bf16 wins its own class; channels_last, having lost, is not measured.
    (compile is left out of the candidates: it compiles for minutes on two cores.)"""
    require("torch")
    fault_workers.use(monkeypatch, "SlowMode", framework="torch", arg="4")
    monkeypatch.setenv("ALEXBENCH_FAULT_MODE", "channels_last")
    args = [*TINY_RUN, "--skip-accuracy", "--frameworks", "torch", "--modes", "best:torch=eager+channels_last+bf16",
            "--out", str(tmp_path), "--run-id", "best"]  # fmt: skip
    assert main(args) == 0
    found = [r for _, r, _ in results.load_all(tmp_path)]
    selections = {r.measurement: r for r in found if r.kind == "selection"}
    assert set(selections) == {"float32", "bfloat16"}
    f32 = selections["float32"]
    assert f32.settings["winners"] == {"train": "eager", "inference": "eager"}
    assert f32.settings["default"] == "channels_last" and f32.settings["candidates"] == ["channels_last", "eager"]
    for phase in ("train", "inference"):
        assert f32.metrics[f"{phase}/channels_last/images_per_s"] < f32.metrics[f"{phase}/eager/images_per_s"]
        assert f32.metrics[f"{phase}/margin_over_default"] > 1
    assert selections["bfloat16"].settings["winners"] == {"train": "bf16", "inference": "bf16"}
    assert "bf16" not in str(f32.metrics) and "eager" not in str(selections["bfloat16"].metrics)  # never mixed
    measured = {(r.mode, r.measurement) for r in found if r.kind == "throughput"}
    assert measured == {(m, f"{p}/{q}") for m in ("eager", "bf16") for p in ("train", "inference")
                        for q in ("compute_only", "end_to_end")}  # fmt: skip
    eager = next(r for r in found if r.kind == "throughput" and r.mode == "eager" and r.measurement.startswith("train"))
    assert eager.settings["selection"] == {"class": "float32", "won": "train"}
