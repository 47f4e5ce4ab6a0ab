"""seleak.data: offline data sets, torchvision data sets in their official on-disk formats, subsampling."""

from __future__ import annotations

import gzip
import pickle
import socket
from pathlib import Path

import numpy as np
import pytest

from seleak.data import available_datasets, disk, load_dataset, resize_images, subsample_indices
from seleak.data.sampling import held_out_share

pytestmark = pytest.mark.usefixtures("isolated_cache")


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


# ------------------------------------------------------------------------------------------ offline


@pytest.mark.parametrize(
    "name, shape, n_classes, n_all",
    [("digits", (32, 32, 1), 10, 1797), ("photos", (32, 32, 3), 16, 1600), ("faces", (25, 25, 1), 2, 200)],
)
def test_offline_sets_load_without_network(no_network, name, shape, n_classes, n_all):
    ds = load_dataset(name, split="all")
    assert ds.images.dtype == np.uint8 and ds.images.ndim == 4 and ds.images.shape[1:] == shape
    assert ds.images.flags.c_contiguous
    assert ds.labels is not None and ds.labels.dtype == np.int64 and ds.labels.shape == (n_all,)
    assert set(np.unique(ds.labels)) == set(range(n_classes))
    assert len(ds.class_names) == n_classes and len(ds) == n_all
    assert ds.name == name and ds.split == "all"
    assert "source" in ds.provenance and ds.provenance["n"] == n_all


@pytest.mark.parametrize("name, split", [("digits", "test"), ("photos", "test")])
def test_default_offline_sets_have_at_least_1000_images_using_8_bits(name, split):
    # the quick study measures 1000 digits and 1000 photo tiles the shipped CNNs never saw (their test splits)
    ds = load_dataset(name, split=split)
    assert len(ds) >= 1000
    assert ds.images.min() == 0 and ds.images.max() == 255
    # a real 8-bit picture uses many grey levels, so every bit-plane carries something
    assert np.unique(ds.images).size > 200


def test_photos_are_balanced_tiles_of_the_bundled_photographs():
    ds = load_dataset("photos", split="all")
    assert np.bincount(ds.labels).tolist() == [100] * 16
    assert "astronaut" in ds.class_names
    again = load_dataset("photos", split="all")
    assert np.array_equal(ds.images, again.images)  # deterministic cut


@pytest.mark.parametrize("name", ["digits", "photos", "faces"])
def test_offline_split_is_fixed_stratified_and_disjoint(name):
    train, test, full = (load_dataset(name, split=s, seed=s_) for s, s_ in (("train", 1), ("test", 2), ("all", 3)))
    assert len(train) + len(test) == len(full)
    share = held_out_share(name)  # 0.6 for digits (the study's held-out images), 0.2 elsewhere
    assert abs(len(test) / len(full) - share) < 0.01
    if name == "photos":  # tiles are distinct pictures, so no tile may sit on both sides
        rows = {r.tobytes() for r in train.images}
        assert not any(r.tobytes() in rows for r in test.images)
    # every class is on both sides in its share
    assert np.all(np.abs(np.bincount(test.labels) / np.bincount(full.labels) - share) < 0.02)
    # the split does not depend on the subsample seed
    assert np.array_equal(load_dataset(name, split="test", seed=9).images, test.images)


def test_subsample_is_deterministic_stratified_and_ordered():
    a = load_dataset("digits", n=100, seed=0)
    b = load_dataset("digits", n=100, seed=0)
    c = load_dataset("digits", n=100, seed=1)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.indices, c.indices)
    assert np.bincount(a.labels).tolist() == [10] * 10
    assert np.all(np.diff(a.indices) > 0)
    full = load_dataset("digits")
    assert np.array_equal(full.images[a.indices], a.images)
    assert len(load_dataset("faces", n=10_000)) == 160


def test_subsample_indices_uneven_classes():
    labels = np.array([0] * 70 + [1] * 20 + [2] * 10)
    idx = subsample_indices(100, 10, seed=3, labels=labels)
    assert np.bincount(labels[idx]).tolist() == [7, 2, 1]
    assert len(set(idx.tolist())) == 10
    idx = subsample_indices(100, 7, seed=0)
    assert idx.shape == (7,) and idx.dtype == np.int64


def test_size_resizes_with_uint8_output():
    ds = load_dataset("photos", n=20, size=16)
    assert ds.images.shape == (20, 16, 16, 3) and ds.images.dtype == np.uint8
    ds = load_dataset("digits", n=5, size=(20, 24))
    assert ds.images.shape == (5, 20, 24, 1)


def test_resize_of_constant_image_is_constant():
    x = np.full((2, 9, 7, 3), 77, np.uint8)
    assert np.all(resize_images(x, 5) == 77) and resize_images(x, (9, 7)) is x


@pytest.mark.parametrize(
    "kwargs, err",
    [
        ({"name": "nope"}, ValueError),
        ({"name": "digits", "split": "val"}, ValueError),
        ({"name": "digits", "n": 0}, ValueError),
        ({"name": "digits", "n": 2.5}, ValueError),
        ({"name": "digits", "size": 0}, ValueError),
        ({"name": "cifar10", "split": "all"}, ValueError),
    ],
)
def test_bad_arguments_raise(kwargs, err, tmp_path):
    with pytest.raises(err):
        load_dataset(root=tmp_path, **kwargs)


def test_names_are_normalised_and_listed():
    assert load_dataset("DIGITS", n=3).name == "digits"
    with pytest.raises(FileNotFoundError, match="fashionmnist"):
        load_dataset("Fashion-MNIST", root="/nonexistent-seleak-root")
    names = available_datasets()
    assert names["digits"] == "offline" and names["cifar10"] == "disk" and names["fashionmnist"] == "disk"


# ------------------------------------------------------------------------------------------ on disk


def _write_cifar10(root: Path, n_per_batch: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    """A tiny CIFAR-10 in the official python-pickle layout (root/cifar-10-batches-py)."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    out = {}
    for fname in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)  # rows: R plane, G plane, B plane
        y = rng.integers(0, 10, n_per_batch).tolist()
        with open(folder / fname, "wb") as fh:
            pickle.dump({"batch_label": fname, "data": x, "labels": y, "filenames": [b"x.png"] * n_per_batch}, fh)
        out[fname] = (x, np.array(y))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": names, "num_cases_per_batch": n_per_batch, "num_vis": 3072}, fh)
    return out


def test_fake_cifar10_root_loads_pixel_exact(tmp_path, no_network):
    written = _write_cifar10(tmp_path)
    train = load_dataset("cifar10", root=tmp_path)
    assert train.images.shape == (20, 32, 32, 3) and train.images.dtype == np.uint8
    assert train.labels.dtype == np.int64 and train.class_names[0] == "airplane"
    x, y = written["data_batch_1"]
    # pixel (row 3, col 5) of image 0: R at 3*32+5, G at 1024+..., B at 2048+...
    assert train.images[0, 3, 5].tolist() == [x[0, 101], x[0, 1024 + 101], x[0, 2048 + 101]]
    assert np.array_equal(train.labels[:4], y)
    test = load_dataset("cifar10", root=tmp_path, split="test", n=3, size=8)
    assert test.images.shape == (3, 8, 8, 3) and len(test.labels) == 3
    # pointing root at the batches folder itself works too
    assert len(load_dataset("cifar10", root=tmp_path / "cifar-10-batches-py", split="test")) == 4


def test_fake_cifar100_root_loads(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    x = np.arange(2 * 3072, dtype=np.int64).astype(np.uint8).reshape(2, 3072)
    for f in ("train", "test"):
        with open(folder / f, "wb") as fh:
            pickle.dump({"data": x, "fine_labels": [3, 99], "coarse_labels": [0, 1]}, fh)
    with open(folder / "meta", "wb") as fh:
        pickle.dump({"fine_label_names": [f"c{i}" for i in range(100)]}, fh)
    ds = load_dataset("cifar100", root=tmp_path, split="test")
    assert ds.labels.tolist() == [3, 99] and ds.class_names[99] == "c99" and ds.images.shape == (2, 32, 32, 3)


def _idx_bytes(a: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    return header + a.astype(np.uint8).tobytes()


def _write_mnist(root: Path, folder: str, n: int = 6, gz: bool = False, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, n).astype(np.uint8)
    for prefix in ("train", "t10k"):
        for kind, arr in (("images-idx3-ubyte", x), ("labels-idx1-ubyte", y)):
            path = raw / f"{prefix}-{kind}"
            blob = _idx_bytes(arr)
            if gz:
                Path(str(path) + ".gz").write_bytes(gzip.compress(blob))
            else:
                path.write_bytes(blob)
    return x, y


@pytest.mark.parametrize(
    "name, folder, gz", [("mnist", "MNIST", False), ("fashionmnist", "FashionMNIST", True), ("kmnist", "KMNIST", False)]
)
def test_fake_mnist_family_root_loads(tmp_path, no_network, name, folder, gz):
    x, y = _write_mnist(tmp_path, folder, gz=gz)
    for split in ("train", "test"):
        ds = load_dataset(name, root=tmp_path, split=split)
        assert ds.images.shape == (6, 28, 28, 1) and ds.images.dtype == np.uint8
        assert np.array_equal(ds.images[..., 0], x) and np.array_equal(ds.labels, y.astype(np.int64))
        assert len(ds.class_names) == 10


def test_truncated_idx_file_is_a_clear_error(tmp_path):
    _write_mnist(tmp_path, "MNIST")
    p = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated"):
        load_dataset("mnist", root=tmp_path)


@pytest.mark.parametrize("name", ["cifar10", "mnist", "fashionmnist", "svhn"])
def test_missing_root_says_where_and_how(tmp_path, no_network, name):
    with pytest.raises(FileNotFoundError) as exc:
        load_dataset(name, root=tmp_path / "nowhere")
    msg = str(exc.value)
    assert str(tmp_path / "nowhere") in msg and "download=True" in msg and "http" in msg


def test_default_root_comes_from_environment(tmp_path, monkeypatch):
    _write_cifar10(tmp_path / "d")
    monkeypatch.setenv("SELEAK_DATA", str(tmp_path / "d"))
    assert len(load_dataset("cifar10", split="test")) == 4


def test_download_is_only_attempted_when_asked(tmp_path, monkeypatch):
    calls = []

    def fake_download(name, spec, root, split):
        calls.append((name, split))
        _write_mnist(root, "MNIST")

    # load_disk in seleak.data.disk calls _download through its module globals, so patch it there
    monkeypatch.setattr(disk, "_download", fake_download)
    with pytest.raises(FileNotFoundError):
        load_dataset("mnist", root=tmp_path)
    assert calls == []
    ds = load_dataset("mnist", root=tmp_path, download=True)
    assert calls == [("mnist", "train")] and len(ds) == 6


def test_fake_svhn_root_loads_and_maps_label_10_to_0(tmp_path):
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (32, 32, 3, 5), dtype=np.uint8)  # the .mat layout: H, W, C, N
    savemat(tmp_path / "test_32x32.mat", {"X": x, "y": np.array([[10], [1], [2], [3], [10]], dtype=np.uint8)})
    ds = load_dataset("svhn", root=tmp_path, split="test")
    assert ds.images.shape == (5, 32, 32, 3) and ds.labels.tolist() == [0, 1, 2, 3, 0]
    assert np.array_equal(ds.images[2], x[..., 2])
