"""A short training on real Fashion-MNIST learns (the default dataset must be installed)."""

from harness.training import TrainSettings, train_and_evaluate
from tests.conftest import require

SETTINGS = TrainSettings(epochs=1, batch_size=32, image_size=63, train_subset=2048, test_subset=500, dropout=0.0)


def test_short_real_training_lowers_the_loss_and_beats_chance(fashion):
    require("torch")
    train, test = fashion(SETTINGS)
    result = train_and_evaluate("torch", SETTINGS, train, test, show_progress=False)
    assert not result.diverged
    epoch = result.final
    # Chance on 10 balanced classes is 10% top-1 and a loss of ln(10) = 2.303. Measured
    # with torch 2.13 on CPU: test loss 1.64, top-1 33%, top-5 94% after these 64 steps.
    assert epoch.test_loss < 2.0, epoch
    assert epoch.test_top1 > 0.25, epoch
