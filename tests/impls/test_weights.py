import numpy as np
import pytest

from impls.config import AlexNetConfig, tiny_config
from impls.errors import WeightsError
from impls.weights import check_weights, config_for_weights, init_weights, load_weights, save_weights, weight_shapes


def test_init_is_seeded_and_float32():
    config = tiny_config()
    a, b, c = init_weights(config, seed=3), init_weights(config, seed=3), init_weights(config, seed=4)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["features.0.weight"], c["features.0.weight"])
    assert all(v.dtype == np.float32 and v.shape == s for (k, v), s in zip(a.items(), weight_shapes(config).values()))


def test_save_load_round_trip(tmp_path):
    weights = init_weights(tiny_config("paper"))
    path = save_weights(tmp_path / "w.npz", weights)
    loaded = load_weights(path)
    assert list(loaded) == list(weights)
    assert all(np.array_equal(loaded[k], weights[k]) for k in weights)
    assert not list(tmp_path.glob("*.tmp*"))  # the atomic write left no temp file


def test_npz_with_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(WeightsError, match="cannot read"):
        load_weights(path)


def test_torch_state_dict_loads_with_weights_only(tmp_path):
    torch = pytest.importorskip("torch")
    weights = init_weights(tiny_config())
    path = tmp_path / "state.pth"
    torch.save({k: torch.from_numpy(v) for k, v in weights.items()}, path)
    loaded = load_weights(path)
    assert all(np.array_equal(loaded[k], weights[k]) for k in weights)


def test_check_lists_every_mismatch():
    config = tiny_config()
    weights = init_weights(config)
    weights.pop("features.3.bias")
    weights["features.0.weight"] = weights["features.0.weight"][:, :1]
    weights["extra.weight"] = np.zeros(2, np.float32)
    with pytest.raises(WeightsError) as error:
        check_weights(weights, config)
    message = str(error.value)
    assert "missing features.3.bias" in message
    assert "features.0.weight: shape (64, 1, 11, 11), expected (64, 3, 11, 11)" in message
    assert "unexpected extra.weight" in message


def test_config_inferred_from_weights():
    weights = init_weights(AlexNetConfig(variant="paper", num_classes=10, in_channels=1, image_size=67))
    config = config_for_weights(weights)
    assert (config.variant, config.num_classes, config.in_channels) == ("paper", 10, 1)


def test_vgg11_config_inferred_from_its_weights():
    made = AlexNetConfig(model="vgg11", num_classes=7, in_channels=1, image_size=32, width=0.25)
    config = config_for_weights(init_weights(made))
    assert (config.model, config.num_classes, config.in_channels, config.width) == ("vgg11", 7, 1, 0.25)
    check_weights(init_weights(made), config.replace(image_size=made.image_size))


def test_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        load_weights(tmp_path / "nope.npz")
    (tmp_path / "w.h5").write_bytes(b"x")
    with pytest.raises(WeightsError, match="unknown weight file type"):
        load_weights(tmp_path / "w.h5")
