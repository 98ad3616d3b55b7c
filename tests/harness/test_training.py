"""A short training on real Fashion-MNIST learns (the default dataset must be installed)."""

import pytest

from harness.training import TrainSettings, train_and_evaluate
from tests.conftest import require

# width 0.5: about a quarter of the parameters, the same pipeline, loss and update (what this proves)
SETTINGS = TrainSettings(width=0.5, epochs=1, batch_size=32, image_size=63, train_subset=2048, test_subset=500,
                         dropout=0.0)  # fmt: skip


def test_short_real_training_lowers_the_loss_and_beats_chance(fashion):
    require("torch")
    train, test = fashion(SETTINGS)
    result = train_and_evaluate("torch", SETTINGS, train, test, show_progress=False)
    assert not result.diverged
    epoch = result.final
    # Chance on 10 balanced classes is 10% top-1 and a loss of ln(10) = 2.303. Measured
    # with torch 2.13 on CPU: test loss 1.33, top-1 53%, top-5 93% after these 64 steps.
    assert epoch.test_loss < 2.0, epoch
    assert epoch.test_top1 > 0.25, epoch


class Interrupt(Exception):
    pass


def test_an_interrupted_training_resumes_mid_epoch_exactly(tmp_path):
    """Stopped in the evaluation after 4 of 8 batches of its second epoch (its last checkpoint
    after batch 3), a training resumed from its
    checkpoint ends with the same weights, curve and epochs as one never stopped: the
    pipeline's position, the momentum and the dropout generator came back with it."""
    from harness import data

    require("torch")
    settings = TrainSettings(width=0.125, epochs=2, batch_size=8, image_size=63, train_subset=None, test_subset=None,
                             dropout=0.5, evals_per_epoch=2)  # fmt: skip
    train, test = data.synthetic(64, (28, 28), 1, seed=0), data.synthetic(16, (28, 28), 1, seed=1)
    whole = train_and_evaluate("torch", settings, train, test, show_progress=False)
    seen = []

    def stop_after_13_batches(n):
        seen.append(n)
        if len(seen) == 8 + 2 + 4 + 1:  # epoch 1 (8 steps, 2 evaluations), then 4 steps and the evaluation after
            raise Interrupt

    path = tmp_path / "checkpoint.npz"
    with pytest.raises(Interrupt):
        train_and_evaluate("torch", settings, train, test, show_progress=False, progress=stop_after_13_batches,
                           checkpoint=path, checkpoint_seconds=0.0)  # fmt: skip
    resumed = train_and_evaluate("torch", settings, train, test, show_progress=False, checkpoint=path)
    assert any("resumed from a checkpoint at epoch 2, batch 3" in note for note in resumed.notes)
    assert [p.test_top1 for p in resumed.curve] == [p.test_top1 for p in whole.curve]
    assert [p.images for p in resumed.curve] == [p.images for p in whole.curve] == [32, 64, 96, 128]
    assert [e.train_loss for e in resumed.epochs] == [e.train_loss for e in whole.epochs]


def test_a_checkpoint_of_other_settings_is_refused(tmp_path):
    from harness import data
    from impls.errors import DataError

    require("torch")
    settings = TrainSettings(width=0.125, epochs=1, batch_size=8, image_size=63, train_subset=None, test_subset=None)
    train, test = data.synthetic(16, (28, 28), 1, seed=0), data.synthetic(8, (28, 28), 1, seed=1)
    path = tmp_path / "c.npz"
    train_and_evaluate("torch", settings, train, test, show_progress=False, checkpoint=path)
    other = TrainSettings(width=0.125, epochs=1, batch_size=8, image_size=63, train_subset=None, test_subset=None,
                          lr=0.1)  # fmt: skip
    with pytest.raises(DataError, match="other settings \\(lr\\)"):
        train_and_evaluate("torch", other, train, test, show_progress=False, checkpoint=path)
