"""ResNet-18 as data (He, Zhang, Ren, Sun 2015, "Deep Residual Learning"; torchvision.models.resnet18).

torchvision's ResNet with BasicBlocks [2, 2, 2, 2]: a 7x7 stride-2 stem convolution without
bias, BatchNorm, ReLU, a 3x3 stride-2 max pool with padding 1; four stages of two blocks
(64, 128, 256, 512 channels, the first block of stages 2-4 at stride 2 with a 1x1 stride-2
convolution + BatchNorm as its shortcut, `downsample`); a global average pool and `fc`.
Every BatchNorm is torch's (eps 1e-5, momentum 0.1, impls.networks.ops.BatchNorm).
Names are torchvision's module paths (conv1, bn1, layer1.0.conv1, layer2.0.downsample.0,
fc), so torchvision's resnet18 state_dict, buffers included, is the canonical weight format:
11,689,512 parameters at 1000 classes.
"""

from __future__ import annotations

from impls.networks import register_model
from impls.networks.ops import (
    AdaptiveAvgPool,
    BatchNorm,
    Conv,
    Dense,
    Flatten,
    MaxPool,
    Network,
    ReLU,
    Residual,
    scaled,
)

STAGES = (64, 128, 256, 512)  # channels of layer1..layer4
BLOCKS = (2, 2, 2, 2)  # BasicBlocks per stage (ResNet-18)
BN_EPS, BN_MOMENTUM = 1e-5, 0.1  # torch's BatchNorm2d, stated


def batch_norm(name: str) -> BatchNorm:
    return BatchNorm(name, BN_EPS, BN_MOMENTUM)


def basic_block(name: str, in_channels: int, channels: int, stride: int) -> Residual:
    """torchvision's BasicBlock: conv3x3(stride) bn relu conv3x3 bn, plus the shortcut
    (1x1 conv(stride) + bn where the shape changes), then relu."""
    body = (
        Conv(f"{name}.conv1", channels, 3, stride, 1, bias=False),
        batch_norm(f"{name}.bn1"),
        ReLU(f"{name}.relu"),
        Conv(f"{name}.conv2", channels, 3, 1, 1, bias=False),
        batch_norm(f"{name}.bn2"),
    )
    shortcut = ()
    if stride != 1 or in_channels != channels:
        shortcut = (
            Conv(f"{name}.downsample.0", channels, 1, stride, 0, bias=False),
            batch_norm(f"{name}.downsample.1"),
        )
    return Residual(name, body, shortcut)


@register_model(
    "resnet18",
    variants=("torchvision",),
    default_sizes={"torchvision": 224},
    description="ResNet-18 (He et al. 2015, BasicBlocks [2, 2, 2, 2] with BatchNorm; torchvision's resnet18)",
)
def resnet18(config) -> Network:
    stem = scaled(64, config.width)
    ops = [
        Conv("conv1", stem, 7, 2, 3, bias=False),
        batch_norm("bn1"),
        ReLU("relu"),
        MaxPool("maxpool", 3, 2, 1),
    ]
    channels = stem
    for stage, (width, blocks) in enumerate(zip(STAGES, BLOCKS, strict=True), start=1):
        out = scaled(width, config.width)
        for index in range(blocks):
            stride = 2 if stage > 1 and index == 0 else 1
            ops.append(basic_block(f"layer{stage}.{index}", channels, out, stride))
            channels = out
    ops += [AdaptiveAvgPool("avgpool", 1), Flatten("flatten"), Dense("fc", config.num_classes)]
    return tuple(ops)
