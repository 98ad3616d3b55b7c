import subprocess
import sys

import pytest

from harness.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, timeout=600)


def test_info_lists_every_framework():
    done = run_cli("info")
    assert done.returncode == 0, done.stderr
    for name in ("torch", "keras", "jax"):
        assert name in done.stdout


def test_user_errors_are_one_line_without_traceback():
    done = run_cli("train", "--framework", "mxnet", "--train-subset", "10")
    assert done.returncode == 2
    assert done.stderr.strip() == ("alexbench train: error: unknown framework 'mxnet'; choose one of torch, keras, jax")
    done = run_cli("train", "--image-size", "32")
    assert done.returncode == 2 and "at least 63" in done.stderr and "Traceback" not in done.stderr


def test_debug_shows_the_traceback():
    with pytest.raises(Exception, match="unknown framework"):
        main(["--debug", "train", "--framework", "mxnet"])


def test_missing_dataset_names_the_fix(tmp_path, capsys):
    assert main(["train", "--data-dir", str(tmp_path)]) == 2
    assert "apt-get install dataset-fashion-mnist" in capsys.readouterr().err


def test_train_on_a_tiny_image_folder(tmp_path, capsys):
    Image = pytest.importorskip("PIL.Image")
    import numpy as np

    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for i in range(10):
            Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(tmp_path / label / f"{i}.png")
    code = main(["train", "--dataset", "folder", "--data-dir", str(tmp_path), "--epochs", "1", "--batch-size", "8"])
    out = capsys.readouterr().out
    assert code == 0
    assert "16 train, 4 test" in out and "top-1" in out
