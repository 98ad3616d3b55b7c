import subprocess
import sys

import pytest

from harness.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, timeout=600)


def test_info_lists_every_framework_and_every_model():
    import impls

    done = run_cli("info")
    assert done.returncode == 0, done.stderr
    for name in impls.names():  # keras-jax and keras-torch too: each probed in a process of its own
        assert name in done.stdout
    rows = {tuple(line.split()[:2]): line.split() for line in done.stdout.splitlines() if line.startswith("  ")}
    for model in impls.models():
        for variant in impls.networks.get(model).variants:
            config = impls.AlexNetConfig(model=model, variant=variant, num_classes=1000)
            row = rows[(model, variant)]
            assert row[2:] == [
                "x".join(map(str, config.image_size)), f"{impls.parameter_count(config):,}",
                f"{impls.forward_flops(config) / 1e9:.2f}", str(impls.min_image_size(variant, model)),
            ], row  # fmt: skip
        assert f"  {model}: {impls.networks.get(model).description}" in done.stdout
    assert "132,863,336" in rows[("vgg11", "torchvision")] and "61,100,840" in rows[("alexnet", "torchvision")]


@pytest.mark.parametrize("command", ["info", "train", "scale", "overhead"])
@pytest.mark.parametrize(
    ("models", "message"),
    [
        ("vgg99", "unknown model 'vgg99'; choose from alexnet, vgg11, resnet18 (comma-separated) or 'all'"),
        ("alexnet,vgg99", "unknown model 'vgg99'; choose from alexnet, vgg11, resnet18 (comma-separated) or 'all'"),
        ("", "--models names no model; choose from alexnet, vgg11, resnet18 (comma-separated) or 'all'"),
    ],
)
def test_a_missing_or_unknown_model_is_one_line_listing_the_choices(command, models, message, tmp_path, capsys):
    extra = [] if command in ("info", "train") else ["--out", str(tmp_path)]
    assert main([command, "--models", models, *extra]) == 2
    assert capsys.readouterr().err == f"alexbench {command}: error: {message}\n"
    assert not list(tmp_path.iterdir())  # refused before anything ran or was written


def test_train_checks_the_variant_against_each_model(capsys):
    assert main(["train", "--models", "alexnet,vgg11", "--variant", "paper"]) == 2
    error = capsys.readouterr().err
    assert error == "alexbench train: error: vgg11 has no variant 'paper'; its variants: torchvision\n"


def test_user_errors_are_one_line_without_traceback():
    done = run_cli("train", "--framework", "mxnet", "--train-subset", "10")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "alexbench train: error: unknown framework 'mxnet'; choose one of torch, keras, jax, keras-jax, keras-torch"
    )
    done = run_cli("train", "--image-size", "32")
    assert done.returncode == 2 and "at least 63" in done.stderr and "Traceback" not in done.stderr


def test_debug_shows_the_traceback():
    with pytest.raises(Exception, match="unknown framework"):
        main(["--debug", "train", "--framework", "mxnet"])


def test_missing_dataset_names_the_fix(tmp_path, capsys):
    assert main(["train", "--data-dir", str(tmp_path)]) == 2
    assert "apt-get install dataset-fashion-mnist" in capsys.readouterr().err


@pytest.mark.parametrize(("models", "size"), [([], 64), (["--models", "vgg11", "--image-size", "32"], 32)])
def test_train_on_a_tiny_image_folder(models, size, tmp_path, capsys):
    Image = pytest.importorskip("PIL.Image")
    import numpy as np

    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for i in range(10):
            Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(tmp_path / label / f"{i}.png")
    args = ["train", "--dataset", "folder", "--data-dir", str(tmp_path), "--epochs", "1", "--batch-size", "8"]
    code = main([*args, *models])
    out = capsys.readouterr().out
    assert code == 0
    assert "16 train, 4 test" in out and "top-1" in out
    assert f"{models[1] if models else 'alexnet'} (torchvision) at {size}x{size}" in out  # alexnet: the default


def test_checkpoints_are_one_file_per_model_and_seed():
    from harness.commands.train import checkpoint_path

    assert checkpoint_path("/r/run.npz", "vgg11", 3, models=False, seeds=False) == "/r/run.npz"
    assert checkpoint_path("/r/run.npz", "vgg11", 3, models=True, seeds=True) == "/r/run-vgg11-seed3.npz"
    assert checkpoint_path("/r.npz.d/run.npz", "alexnet", 0, models=False, seeds=True) == "/r.npz.d/run-seed0.npz"
    assert checkpoint_path(None, "alexnet", 0, models=True, seeds=True) is None


def test_overhead_runs_the_chosen_network_on_both_sides(tmp_path, capsys):
    """vgg11 at its smallest input and width 1/8, torch, one block of one step each: ours and the
    raw loop both build VGG-11 (the raw worker says which network it built) at that width (the
    same parameter count: tests/harness/reference/test_rawloops.py), and the document names it."""
    import json

    from impls.modes import DEFAULT_MODE
    from tests.conftest import require

    require("torch")
    mode = DEFAULT_MODE["torch"]
    args = ["overhead", "--frameworks", "torch", "--models", "vgg11", "--image-size", "32", "--batch-size", "2",
            "--num-classes", "10", "--repeats", "1", "--train-steps", "1", "--inference-steps", "1", "--warmup",
            "1", "--threads", "1", "--width", "0.125", "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "alexbench overhead: vgg11 at 32x32, width 0.125, batch 2" in out
    rows = [line.split()[:4] for line in out.splitlines() if line.startswith("vgg11 ")]
    assert rows == [["vgg11", "torch", mode, "train"], ["vgg11", "torch", mode, "inference"]]
    (path,) = (tmp_path / "overhead").glob("overhead-*.json")
    document = json.loads(path.read_text())
    assert document["settings"]["models"] == "vgg11" and document["settings"]["width"] == 0.125
    (result,) = document["results"]
    assert (result["model"], result["framework"], result["mode"]) == ("vgg11", "torch", mode)
    logs = sorted(p.name for p in (tmp_path / "overhead" / "logs").iterdir())
    assert logs == [f"vgg11-torch-{mode}-raw.log", f"vgg11-torch-{mode}.log"]
