"""The --models axis: names checked against the registry with one-line errors, each model's
variant and profile resolved, one plan per model in one run, and parity's networks."""

from __future__ import annotations

import pytest

from harness.cli import build_parser
from harness.commands.parity import parity_nets
from harness.commands.run import plan_from_args
from harness.measure.plan import PROFILES
from harness.models import parse_models, variant_for
from impls.errors import ConfigError


def test_models_are_parsed_in_order_once_and_checked():
    assert parse_models(None) == ["alexnet"]  # the main job's default keeps its time
    assert parse_models("vgg11, alexnet,vgg11") == ["vgg11", "alexnet"]
    assert parse_models(["alexnet", "vgg11"]) == ["alexnet", "vgg11"]
    assert parse_models("all") == ["alexnet", "vgg11", "resnet18"]  # registry order
    with pytest.raises(ConfigError, match=r"unknown model 'vgg16'; choose from alexnet, vgg11, resnet18"):
        parse_models("alexnet,vgg16")
    with pytest.raises(ConfigError, match="names no model"):
        parse_models(" , ")


def test_a_variant_is_the_models_own_or_an_error_naming_its_variants():
    assert variant_for("vgg11", None) == "torchvision" and variant_for("alexnet", "paper") == "paper"
    with pytest.raises(ConfigError, match="vgg11 has no variant 'paper'; its variants: torchvision"):
        variant_for("vgg11", "paper")


def _run_args(*extra):
    return build_parser().parse_args(["run", "--frameworks", "torch", "--out", "unused", *extra])


def test_run_plans_one_model_after_another_with_each_models_profile():
    plans = plan_from_args(_run_args("--models", "alexnet,vgg11"))
    assert [p.train.model for p in plans] == [p.bench.model for p in plans] == ["alexnet", "vgg11"]
    assert len({p.run_id for p in plans}) == 1  # one run
    alexnet, vgg = (p.train for p in plans)
    assert (alexnet.image_size, alexnet.width) == (PROFILES["quick"]["image_size"], 1.0)
    assert (vgg.image_size, vgg.width) == (32, 0.5)  # MODEL_PROFILES: VGG-11's quick training
    assert plans[1].bench.width == 1.0 and plans[1].bench.image_size == 224  # throughput: the published network
    override = plan_from_args(_run_args("--models", "vgg11", "--width", "0.25", "--train-image-size", "40"))[0]
    assert (override.train.width, override.train.image_size, override.bench.width) == (0.25, 40, 0.25)


def test_run_rejects_a_variant_a_model_lacks():
    with pytest.raises(ConfigError, match="vgg11 has no variant 'paper'"):
        plan_from_args(_run_args("--models", "alexnet,vgg11", "--variant", "paper"))


def test_parity_checks_every_variant_of_each_model_or_those_asked_for():
    assert parity_nets(["alexnet", "vgg11"], None) == ["alexnet/torchvision", "alexnet/paper", "vgg11/torchvision"]
    assert parity_nets(["alexnet", "vgg11"], ["torchvision"]) == ["alexnet/torchvision", "vgg11/torchvision"]
    with pytest.raises(ConfigError, match="vgg11 has none of the variants paper; its variants: torchvision"):
        parity_nets(["vgg11"], ["paper"])
    with pytest.raises(ConfigError, match="unknown variant 'tf'"):
        parity_nets(["alexnet"], ["tf"])


def test_cli_unknown_model_is_one_line_exit_2(capsys):
    from harness.cli import main

    for command in (["run", "--skip-accuracy"], ["parity"]):
        assert main([*command, "--models", "resnet50"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "unknown model 'resnet50'; choose from alexnet, vgg11" in err, err
