"""The float64 golden of `alexbench parity`: torchvision's AlexNet, the paper's,
torchvision's VGG-11 and ResNet-18 (torch's own BatchNorm2d), written out in plain torch.nn
(torchvision is not a dependency), trained with torch.optim.SGD.

Independent of impls on purpose: a port is checked against torch's own layers and
optimizer, not against our written-out update rule, and the networks are typed out here
again rather than read from impls.networks (only the width rule is shared, retyped).
`reference(config)` picks the network by `config.model` / `config.variant`.

`torchvision_vgg_init(net)` re-initialises a VGG as torchvision's VGG constructor does, so
that, after torch.manual_seed(0), plain_torchvision_vgg11(1000) + torchvision_vgg_init draws
exactly torchvision's vgg11(weights=None) weights (tests/impls/test_torchvision_weights.py);
`plain_torchvision_resnet18` builds its modules in torchvision's order and initialises them
as torchvision's ResNet does, so after torch.manual_seed(0) it draws resnet18(weights=None)'s.
"""

from __future__ import annotations

import numpy as np

from impls.config import AlexNetConfig, SGDConfig
from impls.errors import ConfigError


def _scaled(channels: int, width: float, multiple: int = 1) -> int:
    """The width rule of the config (README: every channel count times width, rounded to a
    multiple of the groups that split it, at least that multiple), written out again here."""
    return max(multiple, int(round(channels * width / multiple)) * multiple)


def plain_torchvision_alexnet(num_classes: int, in_channels: int = 3, dropout: float = 0.5, width: float = 1.0):
    """torchvision.models.AlexNet, written out with torch.nn (torchvision is not a dependency);
    `width` scales every channel count and hidden width (1: torchvision's)."""
    import torch
    from torch import nn

    c1, c2, c3, c4, c5, hidden = (_scaled(n, width) for n in (64, 192, 384, 256, 256, 4096))

    class AlexNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, c1, kernel_size=11, stride=4, padding=2), nn.ReLU(),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(c1, c2, kernel_size=5, padding=2), nn.ReLU(),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(c2, c3, kernel_size=3, padding=1), nn.ReLU(),
                nn.Conv2d(c3, c4, kernel_size=3, padding=1), nn.ReLU(),
                nn.Conv2d(c4, c5, kernel_size=3, padding=1), nn.ReLU(),
                nn.MaxPool2d(kernel_size=3, stride=2),
            )  # fmt: skip
            self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
            self.classifier = nn.Sequential(
                nn.Dropout(p=dropout), nn.Linear(c5 * 6 * 6, hidden), nn.ReLU(),
                nn.Dropout(p=dropout), nn.Linear(hidden, hidden), nn.ReLU(),
                nn.Linear(hidden, num_classes),
            )  # fmt: skip

        def forward(self, x):
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    return AlexNet()


def plain_paper_alexnet(num_classes: int, in_channels: int = 3, dropout: float = 0.5, width: float = 1.0):
    """Krizhevsky et al. 2012: LRN (k=2, n=5, alpha=1e-4, beta=0.75) after conv1 and conv2,
    groups=2 in conv2/4/5, no padding in conv1; torchvision's classifier."""
    from torch import nn

    lrn = lambda: nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)  # noqa: E731  torch divides alpha by 5
    c1, c2, c3, c4, c5 = (_scaled(n, width, 2) for n in (96, 256, 384, 384, 256))  # groups=2 must divide them
    net = plain_torchvision_alexnet(num_classes, in_channels, dropout=dropout, width=width)
    net.features = nn.Sequential(
        nn.Conv2d(in_channels, c1, 11, stride=4), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(c1, c2, 5, padding=2, groups=2), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(),
        nn.Conv2d(c3, c4, 3, padding=1, groups=2), nn.ReLU(),
        nn.Conv2d(c4, c5, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2),
    )  # fmt: skip
    return net


VGG11_CFG = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]  # torchvision's cfgs["A"]


def plain_torchvision_vgg11(num_classes: int, in_channels: int = 3, dropout: float = 0.5, width: float = 1.0):
    """torchvision.models.vgg11 (configuration A, no batch norm), written out with torch.nn;
    `width` scales every channel count and the 4096 hidden width (1: torchvision's).
    torch's default init; torchvision's own is `torchvision_vgg_init`."""
    import torch
    from torch import nn

    class VGG(nn.Module):
        def __init__(self):
            super().__init__()
            layers, channels = [], in_channels  # make_layers: built (and drawn) before the classifier
            for item in VGG11_CFG:
                if item == "M":
                    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                else:
                    out = _scaled(item, width)
                    layers += [nn.Conv2d(channels, out, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                    channels = out
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            hidden = _scaled(4096, width)
            self.classifier = nn.Sequential(
                nn.Linear(channels * 7 * 7, hidden), nn.ReLU(True), nn.Dropout(p=dropout),
                nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(p=dropout),
                nn.Linear(hidden, num_classes),
            )  # fmt: skip

        def forward(self, x):
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    return VGG()


def torchvision_vgg_init(net):
    """torchvision's VGG initialisation, in place and in module order (as VGG.__init__ does
    it after building with torch's defaults): conv weights kaiming_normal_(fan_out, relu),
    linear weights normal_(0, 0.01), every bias 0. Returns `net`."""
    import torch
    from torch import nn

    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.constant_(module.bias, 0)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
                nn.init.constant_(module.bias, 0)
    return net


def plain_torchvision_resnet18(num_classes: int, in_channels: int = 3, dropout: float = 0.5, width: float = 1.0):
    """torchvision.models.resnet18, written out with torch.nn: BasicBlocks [2, 2, 2, 2], torch's
    BatchNorm2d (eps 1e-5, momentum 0.1), modules created in torchvision's order (each block's
    downsample before the block, so the random draws match) and initialised as torchvision's
    ResNet.__init__ does (convs kaiming_normal_(fan_out, relu), BatchNorm 1 / 0, fc torch's
    default). `width` scales the channels; `dropout` is unused (ResNet has none)."""
    import torch
    from torch import nn

    class BasicBlock(nn.Module):
        def __init__(self, inplanes, planes, stride, downsample):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = downsample

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + identity)

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.inplanes = _scaled(64, width)
            self.conv1 = nn.Conv2d(in_channels, self.inplanes, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(self.inplanes)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1 = self._make_layer(_scaled(64, width), 1)
            self.layer2 = self._make_layer(_scaled(128, width), 2)
            self.layer3 = self._make_layer(_scaled(256, width), 2)
            self.layer4 = self._make_layer(_scaled(512, width), 2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(self.inplanes, num_classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

        def _make_layer(self, planes, stride):
            downsample = None
            if stride != 1 or self.inplanes != planes:
                downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride, bias=False),
                                           nn.BatchNorm2d(planes))  # fmt: skip
            blocks = [BasicBlock(self.inplanes, planes, stride, downsample)]
            self.inplanes = planes
            blocks.append(BasicBlock(planes, planes, 1, None))
            return nn.Sequential(*blocks)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return ResNet()


def _builder(config: AlexNetConfig):
    """The plain torch.nn builder of config.model / config.variant."""
    if config.model == "alexnet":
        return plain_paper_alexnet if config.variant == "paper" else plain_torchvision_alexnet
    if config.model == "vgg11":
        return plain_torchvision_vgg11
    if config.model == "resnet18":
        return plain_torchvision_resnet18
    raise ConfigError(
        f"the float64 golden has no {config.model!r} network (it has alexnet, vgg11 and resnet18): "
        "write it out in harness/reference/golden.py first"
    )


def reference(config: AlexNetConfig, weights: dict[str, np.ndarray] | None = None, dtype: str = "float64"):
    """The plain torch.nn network of `config.model` / `config.variant` in `dtype` (float64 by
    default, whatever config.dtype says), holding `weights` (default: impls.init_weights(config)).
    ConfigError for a model the golden does not have."""
    import torch

    from impls.weights import init_weights

    build = _builder(config)
    net = build(config.num_classes, config.in_channels, dropout=config.dropout, width=config.width)
    torch_dtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
    net = net.to(torch_dtype)
    weights = init_weights(config) if weights is None else weights
    state = {k: torch.from_numpy(np.asarray(v, dtype=np.int64 if k.endswith("num_batches_tracked") else dtype))
             for k, v in weights.items()}  # fmt: skip
    net.load_state_dict(state)
    return net


class ReferenceNet:
    """One plain torch.nn network with torch.optim.SGD, optionally recording every ReLU's
    input (pre-activation) of the last forward pass."""

    def __init__(self, config, weights, optimizer: SGDConfig, dtype: str, record: bool) -> None:
        import torch
        from torch import nn

        self.torch, self.nn, self.np_dtype = torch, nn, np.dtype(dtype)
        self.net = reference(config, weights, dtype)
        self.sgd = torch.optim.SGD(
            self.net.parameters(), lr=optimizer.lr, momentum=optimizer.momentum, weight_decay=optimizer.weight_decay
        )
        self.preactivations: dict[str, np.ndarray] = {}
        if record:
            for name, module in self.net.named_modules():
                if isinstance(module, nn.ReLU):
                    module.register_forward_pre_hook(self._recorder(name))
        # training passes in train mode; logits() in eval mode (BatchNorm: its running statistics)
        self.net.train()

    @property
    def has_statistics(self) -> bool:
        """Whether the network keeps running statistics (BatchNorm)."""
        return any(not name.endswith("num_batches_tracked") for name, _ in self.net.named_buffers())

    def statistics(self) -> dict[str, np.ndarray]:
        """BatchNorm's running statistics (the float buffers), as they are now."""
        return {n: b.detach().numpy().copy() for n, b in self.net.named_buffers() if b.is_floating_point()}

    def train_logits(self, images) -> np.ndarray:
        """The train-mode forward (BatchNorm with the batch's statistics), the statistics put back."""
        kept = {n: b.clone() for n, b in self.net.named_buffers()}
        with self.torch.no_grad():
            out = self.net(self._tensors(images)[0]).numpy().copy()
            for name, buffer in self.net.named_buffers():
                buffer.copy_(kept[name])
        return out

    def _recorder(self, name):
        def hook(module, inputs):
            self.preactivations[name] = inputs[0].detach().numpy().copy()

        return hook

    def _tensors(self, images, labels=None):
        x = self.torch.from_numpy(np.ascontiguousarray(images.astype(self.np_dtype).transpose(0, 3, 1, 2)))
        return x, (None if labels is None else self.torch.from_numpy(np.asarray(labels, np.int64)))

    def logits(self, images) -> np.ndarray:
        self.net.eval()
        with self.torch.no_grad():
            out = self.net(self._tensors(images)[0]).numpy().copy()
        self.net.train()
        return out

    def loss_and_grads(self, images, labels) -> tuple[float, dict[str, np.ndarray]]:
        """In train mode, with BatchNorm's running statistics put back afterwards."""
        x, y = self._tensors(images, labels)
        self.sgd.zero_grad()
        kept = {n: b.clone() for n, b in self.net.named_buffers()}
        loss = self.nn.functional.cross_entropy(self.net(x), y)  # mean over the batch
        loss.backward()
        with self.torch.no_grad():
            for name, buffer in self.net.named_buffers():
                buffer.copy_(kept[name])
        return loss.item(), {n: p.grad.detach().numpy().copy() for n, p in self.net.named_parameters()}

    def step(self, images, labels) -> float:
        x, y = self._tensors(images, labels)
        self.sgd.zero_grad(set_to_none=False)  # reuse the gradient buffers (no 0.5 GB allocation per step)
        loss = self.nn.functional.cross_entropy(self.net(x), y)
        loss.backward()
        self.sgd.step()
        return loss.item()

    def weights(self) -> dict[str, np.ndarray]:
        """Parameters and buffers (BatchNorm's running statistics), as the state_dict holds them."""
        return {n: t.detach().numpy().copy() for n, t in self.net.state_dict().items()}


def versions() -> dict[str, str]:
    """The golden's framework and its version ({} when torch is not installed)."""
    try:
        import torch
    except ImportError:
        return {}
    return {"torch": torch.__version__}


def require() -> None:
    """Raise ConfigError with the install command when the golden cannot be built here."""
    try:
        import torch  # noqa: F401
    except ImportError as error:
        raise ConfigError(
            "parity's float64 golden is a plain torch.nn network: install torch (pip install 'alexbench[torch]')"
        ) from error
