"""AlexNet, both variants, as data.

References:
- Krizhevsky, Sutskever, Hinton, "ImageNet Classification with Deep Convolutional Neural
  Networks", NeurIPS 2012 (the "paper" variant: 96-256-384-384-256 channels, LRN after
  conv1 and conv2, groups=2 in conv2/4/5 (the two-GPU split), no padding in conv1).
- torchvision.models.AlexNet (the "torchvision" variant, after Krizhevsky's "One weird
  trick", 2014): 64-192-384-256-256 convs, no LRN, no groups, adaptive average pool to 6x6.

Names are the index of each module in torchvision's `features` / `classifier`
Sequentials, so the torchvision variant's weights are exactly torchvision's state_dict
(features.0/.3/.6/.8/.10, classifier.1/.4/.6); the paper variant, whose LRN layers take
an index too, follows the same rule (features.0/.4/.8/.10/.12).
"""

from __future__ import annotations

from impls.networks import register_model
from impls.networks.ops import LRN, Conv, Dense, Dropout, MaxPool, Network, ReLU, features_pool_classifier, scaled

POOLED_SIZE = 6  # the last feature map is pooled to 6x6 before the classifier
HIDDEN = 4096

# The paper's LRN: k=2, n=5, alpha=1e-4 (not divided by n), beta=0.75.
LRN_SIZE, LRN_ALPHA, LRN_BETA, LRN_K = 5, 1e-4, 0.75, 2.0

# (out_channels, kernel, stride, padding, groups, lrn, pool) per conv, in order
CONVS = {
    "torchvision": [
        (64, 11, 4, 2, 1, False, True),
        (192, 5, 1, 2, 1, False, True),
        (384, 3, 1, 1, 1, False, False),
        (256, 3, 1, 1, 1, False, False),
        (256, 3, 1, 1, 1, False, True),
    ],
    "paper": [
        (96, 11, 4, 0, 1, True, True),
        (256, 5, 1, 2, 2, True, True),
        (384, 3, 1, 1, 1, False, False),
        (384, 3, 1, 1, 2, False, False),
        (256, 3, 1, 1, 2, False, True),
    ],
}


@register_model(
    "alexnet",
    variants=("torchvision", "paper"),
    default_sizes={"torchvision": 224, "paper": 227},
    description="AlexNet (Krizhevsky et al. 2012; torchvision's and the paper's variants)",
)
def alexnet(config) -> Network:
    table = CONVS[config.variant]
    # Every channel count of a variant with grouped convs stays a multiple of its groups
    # (a conv's input must split evenly too), whatever the width.
    multiple = max(groups for *_, groups, _, _ in table)
    features = []
    for out, kernel, stride, padding, groups, lrn, pool in table:
        channels = scaled(out, config.width, multiple)
        features.append(lambda name, c=channels, k=kernel, s=stride, p=padding, g=groups: Conv(name, c, k, s, p, g))
        features.append(ReLU)
        if lrn:
            features.append(lambda name: LRN(name, LRN_SIZE, LRN_ALPHA, LRN_BETA, LRN_K))
        if pool:
            features.append(lambda name: MaxPool(name, 3, 2))
    hidden = scaled(HIDDEN, config.width)
    classifier = [
        Dropout,
        lambda name: Dense(name, hidden),
        ReLU,
        Dropout,
        lambda name: Dense(name, hidden),
        ReLU,
        lambda name: Dense(name, config.num_classes),
    ]
    return features_pool_classifier(features, POOLED_SIZE, classifier)
