"""CIFAR's official files are Python pickles: they are read without running code, a damaged file is a
clear error naming it, and bad arguments to load_dataset are refused with the argument's name."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from seleak.data import UnsafePickleError, load_dataset

pytestmark = pytest.mark.usefixtures("isolated_cache")


def _batch(n: int = 3, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "batch_label": "b",
        "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        "labels": rng.integers(0, 10, n).tolist(),
        "filenames": [b"x.png"] * n,
    }


def _cifar10(root: Path, protocol: int = pickle.DEFAULT_PROTOCOL) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        (folder / name).write_bytes(pickle.dumps(_batch(seed=i), protocol=protocol))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"c{i}" for i in range(10)]}))
    return folder


class _WritesMarker:
    """Unpickling this runs ``exec``, which would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


class _RunsShell:
    """Unpickling this runs ``os.system`` with a command that would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


@pytest.mark.parametrize("payload", [_WritesMarker, _RunsShell])
@pytest.mark.parametrize("victim", ["test_batch", "batches.meta"])
def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path: Path, payload, victim) -> None:
    folder = _cifar10(tmp_path)
    marker = tmp_path / "marker"
    (folder / victim).write_bytes(pickle.dumps({**_batch(), "labels": payload(marker)}))
    with pytest.raises(
        UnsafePickleError,
        match=rf"refused to load .*{victim}: it asks to run .*Nothing in it "
        r"was executed.*re-download",
    ):
        load_dataset("cifar10", root=tmp_path, split="test")
    assert not marker.exists()
    assert issubclass(UnsafePickleError, ValueError)  # the command line reports it in one line


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_batches_of_every_pickle_protocol_load(tmp_path: Path, protocol: int) -> None:
    _cifar10(tmp_path, protocol)
    ds = load_dataset("cifar10", root=tmp_path, split="test")
    assert ds.images.shape == (3, 32, 32, 3) and ds.class_names[9] == "c9"
    assert np.array_equal(ds.images[0].transpose(2, 0, 1).reshape(-1), _batch(seed=5)["data"][0])


def test_python2_numpy_names_of_the_official_files_load(tmp_path: Path) -> None:
    """The official batches were written by Python 2 and name numpy.core.multiarray._reconstruct."""
    folder = _cifar10(tmp_path, protocol=2)
    path = folder / "test_batch"
    blob = path.read_bytes()
    assert b"numpy._core.multiarray" in blob
    path.write_bytes(blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    assert len(load_dataset("cifar10", root=tmp_path, split="test")) == 3


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[: len(b) // 2], r"test_batch is damaged and cannot be read .*re-download it"),
        (lambda b: b"", r"test_batch is damaged and cannot be read .*re-download it"),
        (lambda b: b"\x00garbage" * 10, r"test_batch is damaged and cannot be read .*re-download it"),
        (lambda b: pickle.dumps([1, 2, 3]), r"test_batch holds a list, not the official dict.*re-download it"),
        (
            lambda b: pickle.dumps({"data": np.zeros((2, 5), np.uint8), "labels": [0, 1]}),
            r"test_batch is not a valid batch \('data' is uint8 \(2, 5\).*re-download it",
        ),
        (
            lambda b: pickle.dumps({"data": np.zeros((2, 3072), np.uint8)}),
            r"test_batch is not a valid batch .*'labels'.*re-download it",
        ),
        (
            lambda b: pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [1]}),
            r"test_batch is not a valid batch .*2 integer labels.*re-download it",
        ),
    ],
)
def test_a_damaged_batch_is_a_clear_error_naming_the_file(tmp_path: Path, damage, message: str) -> None:
    folder = _cifar10(tmp_path)
    path = folder / "test_batch"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ValueError, match=message):
        load_dataset("cifar10", root=tmp_path, split="test")


def test_missing_cifar_says_the_files_are_pickles(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="Python pickles.*restricted unpickler"):
        load_dataset("cifar10", root=tmp_path)


def test_load_dataset_documents_the_pickle_risk() -> None:
    assert "pickle" in load_dataset.__doc__ and "untrusted" in load_dataset.__doc__


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": -1}, r"seed \(of the subsample\) must be an integer >= 0, got -1"),
        ({"seed": 1.5}, r"seed \(of the subsample\) must be an integer >= 0, got 1\.5 \(float\)"),
        ({"seed": True}, r"seed \(of the subsample\) must be an integer >= 0, got True \(bool\)"),
        ({"size": (4,)}, r"size must be a positive integer \(square\) or a pair \(HEIGHT, WIDTH\).*got \(4,\)"),
        ({"size": (4, 0)}, r"size must be .*got \(4, 0\)"),
        ({"size": "big"}, r"size must be .*got 'big'"),
        ({"size": True}, r"size must be .*got True"),
        ({"size": 4.0}, r"size must be .*got 4\.0"),
        ({"download": "yes"}, r"download must be true or false, got 'yes' \(str\)"),
        ({"n": True}, r"n must be a positive integer or None, got True"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_dataset("digits", **kwargs)


def test_seed_and_size_still_work() -> None:
    ds = load_dataset("digits", n=5, seed=np.int64(3), size=np.array([8, 6]))
    assert ds.images.shape == (5, 8, 6, 1)
