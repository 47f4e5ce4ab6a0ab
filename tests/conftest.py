"""Fixtures shared by the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from book_helpers import write_notebook


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


@pytest.fixture()
def tiny_book(tmp_path: Path) -> Path:
    """A two-chapter book with the same structure as the real one."""
    root = tmp_path / "tinybook"
    (root / "book").mkdir(parents=True)
    (root / "profiles").mkdir()
    (root / "_config.yml").write_text(
        "title: tiny\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: 'off'\n"
        "sphinx:\n  config:\n    nb_execution_mode: 'off'\n"
    )
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n"
        "  - file: book/01_a\n  - file: book/02_b\n  - file: book/status\n"
    )
    (root / "book" / "intro.md").write_text("# Intro\n\nSee {doc}`01_a`.\n")
    (root / "book" / "status.md").write_text("# Status\n\nFilled in by the runner.\n")
    write_notebook(
        root / "book" / "01_a.ipynb",
        'n: int = 3  # how many\ndevice: str = "cpu"  # torch device',
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "plt.plot(range(n)); plt.show()\nprint('n =', n, 'device =', device)",
    )
    write_notebook(root / "book" / "02_b.ipynb", 'word: str = "hi"  # a word', "print(word * 2)")
    (root / "profiles" / "quick.yaml").write_text(
        "description: test\ndevice: cpu\nnotebooks:\n  01_a: {n: 5}\n  02_b: {word: yo}\n"
    )
    return root
