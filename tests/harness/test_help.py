"""--help reads as written: every subcommand's description keeps its examples and numbered steps
line by line, and the numbers it states come from the constants the code runs with."""

import importlib

import pytest

from harness import cli
from harness.commands import parity
from harness.measure.plan import PROFILES, REPLICATES, BenchSettings
from harness.measure.scaling import ScaleSettings
from harness.parity.metrics import TOLERANCES
from harness.training import TrainSettings


def help_of(command: str, capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_every_description_keeps_its_lines(command, capsys):
    module_name, one_line = cli.COMMANDS[command]
    text = cli.description(importlib.import_module(module_name), one_line)
    assert text in help_of(command, capsys)  # verbatim: argparse did not rewrap it


def test_run_help_states_the_profiles_numbers(capsys):
    text = help_of("run", capsys)
    quick, bench = PROFILES["quick"], BenchSettings()
    assert f"a stratified {quick['train_subset']:,}-image" in text and "8,000" not in text
    assert f"{quick['test_subset']:,} test images" in text and f"{REPLICATES['quick']} times" in text
    assert f"{quick['image_size']}x{quick['image_size']} input" in text
    assert f"{bench.train_steps} training + {bench.inference_steps} inference steps" in text
    lines = text.splitlines()
    assert "    alexbench run --resume                 # finish the latest run, skipping what it recorded" in lines
    assert [line.split(":")[0] for line in lines if line.startswith("  1.") or line.startswith("  2.")] == [
        "  1. accuracy", "  2. throughput"]  # fmt: skip


def test_train_scale_parity_help_state_their_defaults(capsys):
    train = TrainSettings()
    assert f"a stratified {train.train_subset:,}-image subset, {train.epochs} epochs" in help_of("train", capsys)
    scale = ScaleSettings()
    text = help_of("scale", capsys)
    assert f"{scale.rounds} interleaved rounds of {scale.steps} timed steps" in text
    assert f"(default {','.join(map(str, scale.world_sizes))})" in text
    text = " ".join(help_of("parity", capsys).split())
    assert f"weight after the trajectory, <= {parity._bound(TOLERANCES[1]['weights'][1])} as" in text
    assert f"gradients <= {parity._bound(TOLERANCES[2]['grads'][1])} as" in text
    assert f"a {parity.STEPS}-step SGD trajectory" in text and parity._bound(1e-9) == "1e-9"


@pytest.mark.parametrize("command", ["train", "scale", "overhead"])
def test_models_help_names_the_registry_and_the_default(command, capsys):
    import impls
    from harness.models import DEFAULT_MODELS
    from harness.reference import rawloops

    models = rawloops.MODELS if command == "overhead" else impls.models()  # overhead: those with a plain loop
    text = " ".join(help_of(command, capsys).split())
    assert f"{', '.join(models)} or 'all' (default {','.join(DEFAULT_MODELS)}" in text
    assert f"--models {','.join(models)} " in text  # the example runs every network
    if command == "train":
        smallest = f"alexnet {impls.min_image_size('torchvision')} (paper {impls.min_image_size('paper')})"
        others = ", ".join(f"{m} {impls.min_image_size('torchvision', m)}" for m in impls.models() if m != "alexnet")
        assert f"(smallest: {smallest}, {others})" in text
