"""harness.reference.golden's VGG-11: typed out independently of impls.networks, so these check
that the two definitions agree (names, shapes, the width rule, the forward pass)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")  # the golden is plain torch.nn

import impls  # noqa: E402
from harness.parity import max_rel  # noqa: E402
from harness.reference.golden import plain_torchvision_vgg11, reference, torchvision_vgg_init  # noqa: E402
from impls.errors import ConfigError  # noqa: E402
from impls.weights import parameter_shapes  # noqa: E402
from tests.conftest import batch  # noqa: E402


@pytest.mark.parametrize("width", [1.0, 0.25])
@pytest.mark.parametrize("in_channels", [3, 1])
def test_golden_vgg11_state_dict_matches_the_definition(width, in_channels):
    config = impls.AlexNetConfig(model="vgg11", num_classes=10, in_channels=in_channels, width=width)
    with torch.device("meta"):  # shapes only: no 133M-parameter allocation
        net = torchvision_vgg_init(plain_torchvision_vgg11(10, in_channels, width=width))
    assert {name: tuple(t.shape) for name, t in net.state_dict().items()} == parameter_shapes(config)
    assert list(net.state_dict()) == list(parameter_shapes(config))  # same order, too


def test_golden_vgg11_forward_matches_the_torch_implementation():
    config = impls.AlexNetConfig(model="vgg11", num_classes=10, image_size=(40, 53), width=0.125, dtype="float64")
    images, _ = batch(config, n=2)
    net = reference(config).eval()  # holds impls.init_weights(config), like the model below
    with torch.no_grad():
        expected = net(torch.from_numpy(images).permute(0, 3, 1, 2)).numpy()
    assert max_rel(impls.create("torch", config).predict(images), expected) < 1e-12


def test_reference_names_a_model_the_golden_does_not_have():
    with pytest.raises(ConfigError, match="golden has no 'lenet'"):  # raised before any weights are drawn
        reference(SimpleNamespace(model="lenet", variant="torchvision"))
