"""The torch implementation against a plain torch.nn AlexNet written out independently
(the parity golden, harness.reference.golden). The function and the update rule at
SMALL_WIDTH (they do not depend on the channel counts; tests/harness/parity/test_parity.py
checks the full size and width)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import impls  # noqa: E402
from harness.parity import max_rel  # noqa: E402
from harness.reference.golden import reference  # noqa: E402
from impls.config import small_config, tiny_config  # noqa: E402
from tests.conftest import batch  # noqa: E402


@pytest.mark.parametrize("variant", ["torchvision", "paper"])
@pytest.mark.parametrize("size", [(67, 67), (100, 80)])
def test_forward_and_gradients_match_plain_torch(variant, size):
    config = small_config(variant, image_size=size, dtype="float64")
    model = impls.create("torch", config)
    net = reference(config)
    images, labels = batch(config)
    x = torch.from_numpy(images).permute(0, 3, 1, 2)
    net.eval()
    assert max_rel(model.predict(images), net(x).detach().numpy()) < 1e-12
    net.train()
    loss_ref = nn.functional.cross_entropy(net(x), torch.from_numpy(labels))
    loss_ref.backward()
    loss, grads = model.loss_and_grads(images, labels)
    assert abs(loss - loss_ref.item()) < 1e-12
    for name, param in net.named_parameters():
        assert max_rel(grads[name], param.grad.numpy()) < 1e-12, name


def test_train_steps_match_hand_written_sgd_and_torch_optim():
    config = small_config(dtype="float64")
    opt = impls.SGDConfig(lr=0.02, momentum=0.9, weight_decay=5e-4)
    model = impls.create("torch", config, optimizer=opt)
    net = reference(config)
    sgd = torch.optim.SGD(net.parameters(), lr=opt.lr, momentum=opt.momentum, weight_decay=opt.weight_decay)
    w = {k: v.astype(np.float64) for k, v in impls.init_weights(config).items()}
    v = {k: np.zeros_like(a) for k, a in w.items()}
    for step in range(3):
        images, labels = batch(config, seed=step)
        _, grads = model.loss_and_grads(images, labels)  # at the current weights
        for k in w:  # the rule, by hand in numpy
            g = grads[k] + opt.weight_decay * w[k]
            v[k] = opt.momentum * v[k] + g
            w[k] = w[k] - opt.lr * v[k]
        model.train_step(images, labels)
        sgd.zero_grad()
        nn.functional.cross_entropy(
            net(torch.from_numpy(images).permute(0, 3, 1, 2)), torch.from_numpy(labels)
        ).backward()
        sgd.step()
        got = model.get_weights()
        for k in w:
            assert max_rel(got[k], w[k]) < 1e-12, (step, k)
            assert max_rel(got[k], dict(net.named_parameters())[k].detach().numpy()) < 1e-12, (step, k)


def test_grayscale_input_and_first_layer_shape():
    config = tiny_config(in_channels=1, image_size=(64, 97))
    model = impls.create("torch", config)
    images, _ = batch(config, n=2)
    assert model.predict(images).shape == (2, 10)
    assert model.get_weights()["features.0.weight"].shape == (64, 1, 11, 11)
