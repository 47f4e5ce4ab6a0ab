"""seleak.embedding: shapes, determinism, caches, bad input, layers, pretrained weights from the torch cache."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from seleak import embedding as E
from seleak._io import cache_dir, load_npz
from seleak.data import load_dataset
from seleak.embedding import TrainConfig, check_images, get_embedder, retrieval_accuracy, train_small_cnn

FAST = TrainConfig(epochs=1, n_train=120)  # seconds, not minutes: the tests check plumbing, not accuracy


pytestmark = pytest.mark.usefixtures("isolated_cache")


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_dataset("digits", split="test", n=40).images


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    return load_dataset("photos", split="test", n=24).images


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One quickly trained embedder shared by the read-only tests (training is the slow part)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SELEAK_CACHE", str(tmp_path_factory.mktemp("shared-cache")))
        yield get_embedder("trained:digits", train_config=FAST)


def _cache_files(sub: str) -> list[Path]:
    return sorted((Path(cache_dir(sub))).glob("*.npz"))


# ------------------------------------------------------------------------------------------ basics


def test_trained_embedder_shapes_and_metadata(trained, digits):
    emb = trained
    z = emb.embed(digits, progress=False)
    assert z.dtype == np.float32 and z.shape == (40, 128) and emb.dim == 128
    assert np.isfinite(z).all() and z.std() > 0
    assert emb.spec == "trained:digits" and emb.name == "trained:digits" and emb.layer == "flatten"
    info = emb.info
    assert info["n_train"] == 120 and 0 <= info["train_accuracy"] <= 1 and "test_accuracy" in info
    json.dumps({k: v for k, v in info.items()})  # provenance is table-friendly


def test_random_small_is_deterministic_for_a_seed_and_differs_across_seeds(photos):
    a = get_embedder("random:small", seed=3).embed(photos, progress=False, cache=False)
    b = get_embedder("random:small", seed=3).embed(photos, progress=False, cache=False)
    c = get_embedder("random:small", seed=4).embed(photos, progress=False, cache=False)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_seeding_leaves_global_rng_untouched():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    get_embedder("random:small", seed=0)
    assert torch.equal(torch.rand(3), expected)
    assert not torch.are_deterministic_algorithms_enabled()


def test_training_is_deterministic_for_a_seed(digits):
    ds = load_dataset("digits", n=100)
    m1, i1 = train_small_cnn(ds.images, ds.labels, config=FAST, seed=5)
    m2, i2 = train_small_cnn(ds.images, ds.labels, config=FAST, seed=5)
    for (k, v1), v2 in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(v1, v2), k
    assert i1["train_accuracy"] == i2["train_accuracy"]


def test_rows_follow_images_and_batch_size_does_not_matter(photos):
    emb = get_embedder("random:small")
    z = emb.embed(photos, batch_size=512, progress=False, cache=False)
    z7 = emb.embed(photos, batch_size=7, progress=False, cache=False)
    np.testing.assert_allclose(z7, z, rtol=1e-5, atol=1e-5)
    perm = np.random.default_rng(0).permutation(len(photos))
    np.testing.assert_allclose(emb.embed(photos[perm], progress=False, cache=False), z[perm], rtol=1e-5, atol=1e-5)
    # row i depends on image i only
    np.testing.assert_allclose(emb.embed(photos[5:6], progress=False, cache=False)[0], z[5], rtol=1e-5, atol=1e-5)


def test_grey_images_are_repeated_for_rgb_models(digits):
    emb = get_embedder("random:small")
    grey = emb.embed(digits, progress=False, cache=False)
    rgb = emb.embed(np.repeat(digits, 3, axis=-1), progress=False, cache=False)
    np.testing.assert_allclose(grey, rgb, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(emb.embed(digits[..., 0], progress=False, cache=False), grey)  # (N, H, W)


def test_rgb_images_into_a_grey_model_and_other_sizes(trained, photos):
    emb = trained
    assert emb.embed(photos, progress=False).shape == (24, 128)
    big = np.zeros((2, 64, 48, 1), np.uint8)
    assert emb.embed(big, progress=False).shape == (2, 128)


# ------------------------------------------------------------------------------------------ caches


def test_embedding_cache_hit_returns_identical_array_without_recomputing(digits, monkeypatch):
    emb = get_embedder("random:small")
    z = emb.embed(digits, progress=False)
    assert len(_cache_files("embeddings")) == 1

    forward = E.Embedder._forward

    def boom(self, batch):
        # a hit validates the file's width with one image's forward pass; more means it recomputed
        if len(batch) > 1:
            raise AssertionError("cache miss: the model ran again")
        return forward(self, batch)

    monkeypatch.setattr(E.Embedder, "_forward", boom)
    again = get_embedder("random:small").embed(digits, progress=False)
    assert again.dtype == np.float32 and np.array_equal(again, z)


def test_cache_key_depends_on_content_seed_and_layer(digits):
    a = get_embedder("random:small", seed=0)
    assert a.cache_key(digits) == get_embedder("random:small", seed=0).cache_key(digits.copy())
    assert a.cache_key(digits) != get_embedder("random:small", seed=1).cache_key(digits)
    assert a.cache_key(digits) != get_embedder("random:small", layer="features.2.3").cache_key(digits)
    changed = digits.copy()
    changed[0, 0, 0, 0] ^= 1  # one flipped least-significant bit is a different input
    assert a.cache_key(digits) != a.cache_key(changed)


@pytest.mark.parametrize("damage", [b"", b"not a zip file at all", "truncate"])
def test_damaged_embedding_cache_file_is_recomputed(digits, damage):
    emb = get_embedder("random:small")
    z = emb.embed(digits, progress=False)
    (path,) = _cache_files("embeddings")
    path.write_bytes(path.read_bytes()[:40] if damage == "truncate" else damage)
    again = emb.embed(digits, progress=False)
    assert np.array_equal(again, z)
    assert load_npz(path) is not None  # rewritten whole


def test_trained_weights_are_cached_and_a_damaged_file_is_retrained(digits):
    first = get_embedder("trained:digits", train_config=FAST)
    assert first.info["weights_source"] == "trained"
    z = first.embed(digits, progress=False, cache=False)
    second = get_embedder("trained:digits", train_config=FAST)
    assert second.info["weights_source"] == "cache"
    assert np.array_equal(second.embed(digits, progress=False, cache=False), z)
    (path,) = _cache_files("models")
    path.write_bytes(b"\x00" * 100)
    third = get_embedder("trained:digits", train_config=FAST)
    assert third.info["weights_source"] == "trained"
    assert np.array_equal(third.embed(digits, progress=False, cache=False), z)  # retraining is deterministic
    # another config is another model file
    get_embedder("trained:digits", train_config=TrainConfig(epochs=1, n_train=100))
    assert len(_cache_files("models")) == 2


# ------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "images, err, match",
    [
        (np.zeros((2, 8, 8, 3), np.float32), TypeError, "uint8"),
        (np.zeros((2, 8, 8), np.int64), TypeError, "uint8"),
        ([[0, 1], [2, 3]], TypeError, "numpy"),
        (torch.zeros(2, 8, 8, 3, dtype=torch.uint8), TypeError, "numpy"),
        (np.zeros((2, 8, 8, 4), np.uint8), ValueError, "channels"),
        (np.zeros((2, 8, 8, 2), np.uint8), ValueError, "channels"),
        (np.zeros((2, 3, 8, 8), np.uint8), ValueError, "channels"),
        (np.zeros((0, 8, 8, 3), np.uint8), ValueError, "empty"),
        (np.zeros((8, 8), np.uint8), ValueError, "shape"),
        (np.zeros((1, 2, 8, 8, 3), np.uint8), ValueError, "shape"),
    ],
)
def test_bad_images_raise_clear_errors(images, err, match):
    with pytest.raises(err, match=match):
        check_images(images)
    with pytest.raises(err, match=match):
        get_embedder("random:small").embed(images, progress=False)


@pytest.mark.parametrize(
    "spec, kwargs, err, match",
    [
        ("resnet18", {}, ValueError, "kind:arg"),
        ("magic:resnet18", {}, ValueError, "unknown embedder kind"),
        ("random:notanet", {}, ValueError, "unknown torchvision"),
        ("torchvision:resnet18:NOPE", {}, ValueError, "no weights"),
        ("random:small", {"layer": "nope"}, ValueError, "features.0.0"),
        ("random:small", {"pool": "max"}, ValueError, "pool"),
        ("trained:nope", {}, ValueError, "unknown data set"),
    ],
)
def test_bad_specs_raise_clear_errors(spec, kwargs, err, match):
    with pytest.raises(err, match=match):
        get_embedder(spec, **kwargs)


def test_cuda_is_never_required():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="cpu"):
        get_embedder("random:small", device="cuda")


def test_bad_batch_size(digits):
    with pytest.raises(ValueError, match="batch_size"):
        get_embedder("random:small").embed(digits, batch_size=-1, progress=False)


# ------------------------------------------------------------------------------------------ layers


def test_layer_choice_and_pooling(photos):
    emb = get_embedder("random:small", layer="features.2.3")
    assert "features.2.3" in emb.available_layers() and emb.name == "random:small@features.2.3"
    assert emb.embed(photos, progress=False).shape == (24, 64)
    flat = get_embedder("random:small", layer="features.2.3", pool="flatten")
    assert flat.embed(photos, progress=False).shape == (24, 64 * 4 * 4) and flat.dim == 1024


# ------------------------------------------------------------------------------------------ torchvision


def _fake_resnet18_weights(torch_home: Path) -> Path:
    """Seeded random resnet18 weights saved where torchvision's hub cache keeps the real ones."""
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.resnet18()
    path = torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    path.parent.mkdir(parents=True)
    torch.save(model.state_dict(), path)
    return path


def test_pretrained_weights_load_from_the_torch_cache_offline(tmp_path, monkeypatch):
    import torchvision

    path = _fake_resnet18_weights(tmp_path / "torch")

    def refuse(*a, **k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    emb = get_embedder("torchvision:resnet18")
    assert emb.info["weights_file"] == str(path) and emb.layer == "flatten"
    images = load_dataset("photos", n=3, seed=1).images
    z = emb.embed(images, progress=False)
    assert z.shape == (3, 512) and z.dtype == np.float32 and emb.dim == 512

    # known answer: the same weights, the weights' own transforms, the head removed, by hand
    ref = torchvision.models.resnet18()
    ref.load_state_dict(torch.load(path, weights_only=True))
    ref.fc = torch.nn.Identity()
    tf = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.transforms()
    with torch.inference_mode():
        expected = ref.eval()(tf(torch.from_numpy(images).permute(0, 3, 1, 2))).numpy()
    np.testing.assert_allclose(z, expected, rtol=1e-4, atol=1e-4)


def test_missing_pretrained_weights_say_how_to_fetch(tmp_path):
    with pytest.raises(FileNotFoundError) as exc:
        get_embedder("torchvision:resnet18")
    msg = str(exc.value)
    assert "resnet18-f37072fd.pth" in msg and "download=True" in msg and "TORCH_HOME" in msg


def test_random_torchvision_control_needs_no_weights_and_is_seeded():
    images = load_dataset("digits", n=2).images
    a = get_embedder("random:resnet18", seed=1).embed(images, progress=False, cache=False)
    b = get_embedder("random:resnet18", seed=1).embed(images, progress=False, cache=False)
    assert a.shape == (2, 512) and np.array_equal(a, b)


# ------------------------------------------------------------------------------------------ retrieval


def test_retrieval_accuracy_known_answers():
    rng = np.random.default_rng(0)
    g = rng.normal(size=(200, 16))
    assert retrieval_accuracy(g, g, top=(1, 5)) == {1: 1.0, 5: 1.0}
    assert retrieval_accuracy(g + 1e-3 * rng.normal(size=g.shape), g, metric="euclidean")[1] == 1.0
    shuffled = retrieval_accuracy(g[rng.permutation(200)], g, top=(1, 100))
    assert shuffled[1] < 0.05 and 0.3 < shuffled[100] < 0.7  # chance: k / N
    # the true match second-closest: top-1 misses, top-2 hits
    q = np.array([[0.0, 0.0], [0.6, 0.0]])
    gal = np.array([[0.9, 0.0], [0.5, 0.0]])
    assert retrieval_accuracy(q, gal, top=(1, 2), metric="euclidean") == {1: 0.5, 2: 1.0}
    with pytest.raises(ValueError):
        retrieval_accuracy(g, g[:10])


# ------------------------------------------------------------------------------------------ slow


@pytest.mark.slow
def test_default_trained_digits_embedder_learns_the_classes():
    emb = get_embedder("trained:digits")
    assert emb.info["test_accuracy"] >= 0.97, emb.info


def test_neighbour_label_accuracy_excludes_the_original():
    g = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 0.0], [5.1, 0.0]])
    y = np.array([0, 0, 1, 1])
    assert E.neighbour_label_accuracy(g, g, y, metric="euclidean") == 1.0
    assert E.neighbour_label_accuracy(g, g, np.array([0, 1, 0, 1]), metric="euclidean") == 0.0
    with pytest.raises(ValueError):
        E.neighbour_label_accuracy(g, g, y[:3])


def test_trained_embedder_on_a_torchvision_format_data_set(tmp_path):
    import pickle

    rng = np.random.default_rng(0)
    folder = tmp_path / "data" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for fname in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / fname, "wb") as fh:
            pickle.dump(
                {"data": rng.integers(0, 256, (8, 3072), dtype=np.uint8), "labels": rng.integers(0, 10, 8).tolist()}, fh
            )
    emb = get_embedder("trained:cifar10", data_root=tmp_path / "data", train_config=TrainConfig(epochs=1))
    assert emb.info["n_train"] == 40 and emb.info["n_test"] == 8 and emb.info["in_channels"] == 3
    assert emb.embed(load_dataset("photos", n=4).images, progress=False).shape == (4, 128)
    with pytest.raises(FileNotFoundError, match="download=True"):
        get_embedder("trained:cifar10", data_root=tmp_path / "elsewhere")
