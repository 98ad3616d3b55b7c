import pytest

import impls
from impls.config import AlexNetConfig, SGDConfig, final_feature_size, forward_flops, min_image_size
from impls.errors import ConfigError, FrameworkUnavailableError
from impls.weights import parameter_count, weight_shapes


def test_parameter_counts_match_torchvision_and_the_paper():
    assert parameter_count(AlexNetConfig()) == 61_100_840  # torchvision.models.alexnet()
    assert parameter_count(AlexNetConfig(variant="paper")) == 60_965_224


def test_torchvision_names_and_shapes():
    shapes = weight_shapes(AlexNetConfig())
    assert list(shapes)[:4] == ["features.0.weight", "features.0.bias", "features.3.weight", "features.3.bias"]
    assert shapes["features.0.weight"] == (64, 3, 11, 11)
    assert shapes["features.10.weight"] == (256, 256, 3, 3)
    assert shapes["classifier.1.weight"] == (4096, 9216)
    assert shapes["classifier.6.weight"] == (1000, 4096)


def test_paper_variant_names_and_grouped_shapes():
    shapes = weight_shapes(AlexNetConfig(variant="paper", num_classes=10, in_channels=1))
    convs = [k for k in shapes if k.startswith("features") and k.endswith("weight")]
    assert convs == [f"features.{i}.weight" for i in (0, 4, 8, 10, 12)]
    assert shapes["features.0.weight"] == (96, 1, 11, 11)
    assert shapes["features.4.weight"] == (256, 48, 5, 5)  # groups=2: in/groups
    assert shapes["features.10.weight"] == (384, 192, 3, 3)
    assert shapes["classifier.6.weight"] == (10, 4096)


def test_default_sizes():
    assert AlexNetConfig().image_size == (224, 224)
    assert AlexNetConfig(variant="paper").image_size == (227, 227)
    assert final_feature_size(AlexNetConfig()) == (6, 6)
    assert final_feature_size(AlexNetConfig(variant="paper")) == (6, 6)


def test_minimum_sizes_and_clear_error():
    assert min_image_size("torchvision") == 63
    assert min_image_size("paper") == 67
    AlexNetConfig(image_size=(63, 200))
    with pytest.raises(ConfigError, match="at least 63"):
        AlexNetConfig(image_size=(62, 224))
    with pytest.raises(ConfigError, match="at least 67"):
        AlexNetConfig(variant="paper", image_size=66)


@pytest.mark.parametrize(
    "fields, match",
    [
        (dict(variant="vgg"), "unknown alexnet variant 'vgg'; choose one of torchvision, paper"),
            (dict(model="lenet"), "unknown model 'lenet'; choose one of alexnet"),
            (dict(width=0), "width must be"),
        (dict(in_channels=4), "in_channels must be 1"),
        (dict(num_classes=1), "num_classes"),
        (dict(dropout=1.0), "dropout"),
        (dict(dtype="float16"), "unknown dtype"),
    ],
)
def test_config_errors_name_the_problem(fields, match):
    with pytest.raises(ConfigError, match=match):
        AlexNetConfig(**fields)


def test_sgd_config_errors():
    with pytest.raises(ConfigError, match="learning rate"):
        SGDConfig(lr=0)
    with pytest.raises(ConfigError, match="momentum"):
        SGDConfig(momentum=1.0)


def test_unknown_framework_is_a_clear_error():
    with pytest.raises(ConfigError, match="unknown framework 'mxnet'.*torch"):
        impls.create("mxnet")


def test_missing_framework_reports_install_hint(monkeypatch):
    impl = impls.Implementation("ghost", "impls.ghost", "Ghost", ("no_such_package_xyz",), "pip install ghost")
    monkeypatch.setitem(impls._REGISTRY, "ghost", impl)
    assert "ghost" not in impls.available()
    with pytest.raises(FrameworkUnavailableError, match="no_such_package_xyz.*pip install ghost"):
        impls.create("ghost")
    assert "torch" in impls.available()  # the others are unaffected


def test_forward_flops_counts_multiply_adds_twice():
    # torchvision AlexNet at 224: 0.714 GMACs (the commonly quoted figure) = 1.43 GFLOPs
    assert forward_flops(AlexNetConfig()) == 2 * 714_188_480
