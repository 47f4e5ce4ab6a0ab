"""Fixtures shared by the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def _session_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test writes its caches (models, embeddings) under this session's temporary folder: a test
    run never reads or fills the reader's own cache, and starts as a fresh machine would."""
    path = tmp_path_factory.getbasetemp() / "seleak-cache"
    mp = pytest.MonkeyPatch()
    mp.setenv("SELEAK_CACHE", str(path))
    yield path
    mp.undo()


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache, data root and torch hub of the test's own, for tests that count or damage cache files."""
    monkeypatch.setenv("SELEAK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("SELEAK_DATA", raising=False)
    return tmp_path / "cache"
