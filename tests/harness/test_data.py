import gzip
import os

import numpy as np
import pytest

from harness import data
from impls.errors import DataError
from tests.conftest import write_idx


@pytest.fixture
def idx_folder(tmp_path):
    """Fashion-MNIST's four files, small, some gzipped and some not."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 50), ("t10k", 20)):
        write_idx(tmp_path / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte", np.arange(n) % 10, gz=(split == "train"))
    return tmp_path


def test_fashion_mnist_from_any_directory(idx_folder):
    train = data.load_fashion_mnist("train", idx_folder)
    test = data.load_fashion_mnist("test", idx_folder)
    assert train.images.shape == (50, 28, 28, 1) and train.images.dtype == np.uint8
    assert len(test) == 20 and test.num_classes == 10 and test.classes[9] == "Ankle boot"


def test_missing_fashion_mnist_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist.*--data-dir"):
        data.load_fashion_mnist("train", tmp_path)


def test_truncated_idx_is_a_clear_error(idx_folder):
    path = idx_folder / "t10k-images-idx3-ubyte.gz"
    with gzip.open(path, "rb") as f:
        payload = f.read()
    with gzip.open(path, "wb") as f:
        f.write(payload[:-100])
    with pytest.raises(DataError, match="truncated or corrupt"):
        data.load_fashion_mnist("test", idx_folder)


def test_mismatched_idx_files_are_a_clear_error(idx_folder):
    write_idx(idx_folder / "t10k-labels-idx1-ubyte", np.arange(7), gz=False)
    with pytest.raises(DataError, match="do not match"):
        data.load_fashion_mnist("test", idx_folder)


def test_real_fashion_mnist_when_installed():
    if not os.path.exists(data.FASHION_MNIST_DIRS[0]) and os.environ.get("ALEXBENCH_REQUIRE_ALL") != "1":
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    train, test = data.load_fashion_mnist("train"), data.load_fashion_mnist("test")
    assert (len(train), len(test)) == (60000, 10000)
    assert np.bincount(train.labels).tolist() == [6000] * 10


def make_folder(root, Image):
    (root / "cats").mkdir(parents=True)
    (root / "dogs").mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(root / "cats" / "rgb.jpg")
    Image.fromarray(rng.integers(0, 256, (30, 20), dtype=np.uint8)).save(root / "cats" / "gray.png")
    Image.fromarray(rng.integers(0, 256, (30, 30, 4), dtype=np.uint8), "RGBA").save(root / "dogs" / "rgba.png")
    Image.fromarray(rng.integers(0, 65536, (25, 25), dtype=np.uint16)).save(root / "dogs" / "deep16.png")
    (root / "dogs" / "broken.png").write_bytes(b"\x89PNG not really")
    (root / "dogs" / "notes.txt").write_text("not an image")


def test_image_folder_reads_every_mode_and_skips_broken_files(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    make_folder(tmp_path, Image)
    with pytest.warns(UserWarning, match="skipped 1 unreadable.*broken.png"):
        dataset = data.load_image_folder(tmp_path, size=(32, 32))
    assert dataset.classes == ("cats", "dogs")
    assert dataset.images.shape == (4, 32, 32, 3)
    assert sorted(dataset.labels.tolist()) == [0, 0, 1, 1]
    with pytest.raises(DataError, match="cannot read image .*broken.png"):
        data.load_image_folder(tmp_path, size=(32, 32), strict=True)


def test_image_folder_errors(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    with pytest.raises(DataError, match="no images found"):
        data.load_image_folder(tmp_path)
    (tmp_path / "only").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "only" / "a.png")
    with pytest.raises(DataError, match="only one class"):
        data.load_image_folder(tmp_path)


def test_same_seed_same_batches_and_augmentation_varies_by_epoch():
    dataset = data.synthetic(40, size=(28, 28), channels=1, seed=1)
    pre = data.Preprocess.for_dataset(dataset, (64, 64), 3)
    run = lambda epoch: list(
        data.batches(dataset, 16, pre, seed=3, epoch=epoch, augment=data.Augment(rotate_degrees=10))
    )  # noqa: E731
    a, b, c = run(0), run(0), run(1)
    assert [x.shape for x, _ in a] == [(16, 64, 64, 3), (16, 64, 64, 3), (8, 64, 64, 3)]
    assert all(np.array_equal(x, y) and np.array_equal(la, lb) for (x, la), (y, lb) in zip(a, b))
    assert not np.array_equal(a[0][0], c[0][0])


def test_preprocess_normalizes_resizes_and_converts_channels():
    dataset = data.synthetic(200, size=(28, 28), channels=1, seed=0)
    same_size = data.Preprocess.for_dataset(dataset, (28, 28), 1)(dataset.images)
    assert abs(same_size.mean()) < 0.01 and abs(same_size.std() - 1) < 0.01
    x = data.Preprocess.for_dataset(dataset, (70, 90), 3)(dataset.images)
    assert x.shape == (200, 70, 90, 3) and x.dtype == np.float32
    assert np.array_equal(x[..., 0], x[..., 2])  # gray replicated
    rgb = data.synthetic(4, size=(30, 30), channels=3)
    gray = data.Preprocess((67, 67), 1, (0.5,), (0.25,))(rgb.images)
    assert gray.shape == (4, 67, 67, 1)


def test_resize_matrix_is_exact_for_same_size_and_rows_sum_to_one():
    assert np.array_equal(data.resize_matrix(7, 7), np.eye(7, dtype=np.float32))
    m = data.resize_matrix(28, 64)
    np.testing.assert_allclose(m.sum(axis=1), 1.0, rtol=1e-6)


def test_stratified_subset():
    dataset = data.synthetic(1000, size=(8, 8), classes=10, seed=0)
    sub = dataset.subset(100, seed=0)
    assert len(sub) == 100 and len(set(sub.labels.tolist())) == 10
    assert "subset of 100 of 1000" in sub.notes[-1]


# ------------------------------------------------------------------ the uint8 pipeline
def reference_crop(image: np.ndarray, pad: int, oy: int, ox: int, flip: bool) -> np.ndarray:
    """Reflect-pad one prepared (unpadded) image, crop, flip: the definition of the augmentation."""
    h, w = image.shape[:2]
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    crop = padded[oy : oy + h, ox : ox + w]
    return crop[:, ::-1] if flip else crop


@pytest.fixture(scope="module")
def prepared():
    source = data.synthetic(50, size=(28, 28), channels=3, classes=10, seed=2)
    return data.prepare(source, (40, 36), 3, pad=5, cache=False)


def test_prepare_resizes_once_to_uint8_with_a_reflected_border(prepared):
    assert prepared.images.dtype == np.uint8 and prepared.images.shape == (50, 50, 46, 3)
    core = prepared.images[:, 5:45, 5:41]
    assert np.array_equal(prepared.images[:, :5, 5:41], core[:, 5:0:-1])  # reflected, as np.pad's "reflect"
    expected = data.Preprocess((40, 36), 3, (0.0,) * 3, (1 / 255,) * 3)(data.synthetic(50, (28, 28), 3, 10, 2).images)
    assert np.abs(core.astype(np.float64) - expected).max() <= 0.5 + 1e-3  # the float resize, rounded once
    assert prepared.norm.channels == 3 and all(0 < s < 1 for s in prepared.norm.std)


def test_gray_stays_one_channel_and_rgb_to_gray_is_luma():
    gray = data.prepare(data.synthetic(8, (28, 28), 1, seed=0), (64, 64), 3, cache=False)
    assert gray.channels == 1 and gray.norm.channels == 1  # expanded on the device, not in memory
    rgb = data.prepare(data.synthetic(8, (28, 28), 3, seed=0), (28, 28), 1, cache=False)
    assert rgb.channels == 1


def test_crops_and_flips_are_those_of_the_definition(prepared):
    pipeline = data.Pipeline(prepared, 16, seed=4, augment=data.Augment(crop_padding=0.125), workers=1, prefetch=1)
    images, labels = pipeline.batch(epoch=1, index=2)
    order = pipeline.order(1)[32:48]
    rng = np.random.default_rng([4, 1, 2])
    offsets_y, offsets_x, flips = rng.integers(0, 11, 16), rng.integers(0, 11, 16), rng.random(16) < 0.5
    assert flips.any() and not flips.all()
    for j, i in enumerate(order):
        core = prepared.images[i, 5:45, 5:41]
        assert np.array_equal(images[j], reference_crop(core, 5, offsets_y[j], offsets_x[j], flips[j])), j
    assert np.array_equal(labels, prepared.labels[order])


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_same_seed_same_batches_whatever_the_workers(prepared, workers):
    def epoch(pipeline):
        return [(x.copy(), y.copy()) for x, y in pipeline.epoch(3)]

    reference = epoch(data.Pipeline(prepared, 7, seed=9, augment=data.Augment(), workers=1, prefetch=1))
    batches = epoch(data.Pipeline(prepared, 7, seed=9, augment=data.Augment(), workers=workers, prefetch=3))
    assert len(batches) == len(reference) == 8  # 50 images, batch 7: the last batch has 1
    assert all(np.array_equal(a, b) and np.array_equal(la, lb) for (a, la), (b, lb) in zip(batches, reference))
    other = epoch(data.Pipeline(prepared, 7, seed=10, augment=data.Augment(), workers=workers))
    assert not np.array_equal(other[0][0], reference[0][0])


def test_a_stream_resumed_at_its_position_gives_the_same_batches(prepared):
    pipeline = data.Pipeline(prepared, 16, seed=1, augment=data.Augment())
    stream = pipeline.stream()
    seen = [next(stream) for _ in range(7)]  # 4 batches per epoch: into the second epoch
    position = seen[5][0]
    assert position == data.Position(epoch=1, batch=1)
    again = pipeline.stream(position)
    for (p, (x, y)), (q, (x2, y2)) in zip(seen[5:], (next(again) for _ in range(2))):
        assert p == q and np.array_equal(x, x2) and np.array_equal(y, y2)


def test_a_large_prepared_set_is_a_memory_mapped_cache_file(tmp_path, monkeypatch):
    monkeypatch.setenv("ALEXBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr("harness.data.prepared.MEMORY_LIMIT", 1000)
    source = data.synthetic(20, size=(28, 28), channels=1, seed=0)
    first = data.prepare(source, (32, 32), 1, pad=2)
    assert isinstance(first.images, np.memmap)
    files = list((tmp_path / "prepared").glob("*.npy"))
    assert len(files) == 1 and not list((tmp_path / "prepared").glob(".*"))  # complete, no temporary left
    again = data.prepare(source, (32, 32), 1, pad=2)  # from the cache file: the same bytes
    assert np.array_equal(np.asarray(first.images), np.asarray(again.images))
    mirrored = first.mirrored()
    assert isinstance(mirrored, np.memmap) and np.array_equal(mirrored, np.asarray(first.images)[:, :, ::-1])


def test_pipeline_refuses_crops_larger_than_the_prepared_border(prepared):
    with pytest.raises(DataError, match="need a border of 10 pixels; the dataset was prepared with 5"):
        data.Pipeline(prepared, 4, augment=data.Augment(crop_padding=0.25))
