"""VGG-11 as data (Simonyan & Zisserman 2014, configuration "A"; torchvision.models.vgg11).

torchvision's `cfgs["A"]` list, walked as torchvision's `make_layers` walks it: a number is a
3x3 convolution with padding 1 and bias followed by a ReLU, "M" a 2x2 stride-2 max pool;
then an adaptive average pool to 7x7 and the classifier Linear(512*7*7, 4096), ReLU,
Dropout, Linear(4096, 4096), ReLU, Dropout, Linear(4096, classes). Names are the indices of
torchvision's `features` / `classifier` Sequentials (features.0, .3, .6, .8, ...;
classifier.0/.3/.6), so torchvision's vgg11 state_dict is the canonical weight format.
"""

from __future__ import annotations

from impls.networks import register_model
from impls.networks.ops import Conv, Dense, Dropout, MaxPool, Network, ReLU, features_pool_classifier, scaled

CFG_A = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
POOLED_SIZE = 7
HIDDEN = 4096


@register_model(
    "vgg11",
    variants=("torchvision",),
    default_sizes={"torchvision": 224},
    description="VGG-11 (Simonyan & Zisserman 2014, configuration A; torchvision's vgg11)",
)
def vgg11(config) -> Network:
    features = []
    for item in CFG_A:
        if item == "M":
            features.append(lambda name: MaxPool(name, 2, 2))
        else:
            channels = scaled(item, config.width)
            features += [lambda name, c=channels: Conv(name, c, 3, 1, 1), ReLU]
    hidden = scaled(HIDDEN, config.width)
    classifier = [
        lambda name: Dense(name, hidden),
        ReLU,
        Dropout,
        lambda name: Dense(name, hidden),
        ReLU,
        Dropout,
        lambda name: Dense(name, config.num_classes),
    ]
    return features_pool_classifier(features, POOLED_SIZE, classifier)
