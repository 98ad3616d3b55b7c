"""The torch implementation against a plain torch.nn AlexNet built here, independently."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import impls  # noqa: E402
from impls.config import tiny_config  # noqa: E402
from tests.conftest import batch, rel_err  # noqa: E402


def plain_torchvision_alexnet(num_classes: int, in_channels: int = 3, dropout: float = 0.5) -> nn.Module:
    """torchvision.models.AlexNet, written out (torchvision is not a dependency)."""

    class AlexNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
            )  # fmt: skip
            self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
            self.classifier = nn.Sequential(
                nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
                nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
                nn.Linear(4096, num_classes),
            )  # fmt: skip

        def forward(self, x):
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    return AlexNet()


def plain_paper_alexnet(num_classes: int, dropout: float = 0.5) -> nn.Module:
    lrn = lambda: nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)  # noqa: E731  torch divides alpha by 5
    net = plain_torchvision_alexnet(num_classes, dropout=dropout)
    net.features = nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2),
    )  # fmt: skip
    return net


def reference(config):
    build = plain_paper_alexnet if config.variant == "paper" else plain_torchvision_alexnet
    net = build(config.num_classes, dropout=config.dropout).double()
    net.load_state_dict({k: torch.from_numpy(v.astype(np.float64)) for k, v in impls.init_weights(config).items()})
    return net


@pytest.mark.parametrize("variant", ["torchvision", "paper"])
@pytest.mark.parametrize("size", [(67, 67), (100, 80)])
def test_forward_and_gradients_match_plain_torch(variant, size):
    config = tiny_config(variant, image_size=size, dtype="float64")
    model = impls.create("torch", config)
    net = reference(config)
    images, labels = batch(config)
    x = torch.from_numpy(images).permute(0, 3, 1, 2)
    net.eval()
    assert rel_err(model.predict(images), net(x).detach().numpy()) < 1e-12
    net.train()
    loss_ref = nn.functional.cross_entropy(net(x), torch.from_numpy(labels))
    loss_ref.backward()
    loss, grads = model.loss_and_grads(images, labels)
    assert abs(loss - loss_ref.item()) < 1e-12
    for name, param in net.named_parameters():
        assert rel_err(grads[name], param.grad.numpy()) < 1e-12, name


def test_train_steps_match_hand_written_sgd_and_torch_optim():
    config = tiny_config(dtype="float64")
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
            assert rel_err(got[k], w[k]) < 1e-12, (step, k)
            assert rel_err(got[k], dict(net.named_parameters())[k].detach().numpy()) < 1e-12, (step, k)


def test_grayscale_input_and_first_layer_shape():
    config = tiny_config(in_channels=1, image_size=(64, 97))
    model = impls.create("torch", config)
    images, _ = batch(config, n=2)
    assert model.predict(images).shape == (2, 10)
    assert model.get_weights()["features.0.weight"].shape == (64, 1, 11, 11)
