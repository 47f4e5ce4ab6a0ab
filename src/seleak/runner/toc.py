"""Locating the book: its root folder and the pages and notebooks ``_toc.yml`` lists."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

import yaml

from seleak.profiles import find_project_root
from seleak.runner.errors import RunnerError


def find_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The book's root: the nearest folder at or above ``start`` with ``_toc.yml``, ``_config.yml`` and
    ``profiles/``."""
    root = find_project_root(start)
    if root is None:
        raise RunnerError(
            f"no _toc.yml, _config.yml and profiles/ found at or above {Path(start or Path.cwd()).resolve()}: "
            "run this from the seleak checkout or pass --root PATH"
        )
    return root


def toc_entries(root: Path) -> list[str]:
    """Every page of ``_toc.yml`` (without extension), in reading order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    pages: list[str] = [toc["root"]]

    def walk(items: Iterable[dict[str, Any]]) -> None:
        for item in items or []:
            if "file" in item:
                pages.append(item["file"])
            walk(item.get("sections", []))
            for part in item.get("parts", []):
                walk(part.get("chapters", []))

    walk(toc.get("chapters", []))
    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    return pages


def page_path(root: Path, entry: str) -> Path:
    """The file behind a toc entry (``.ipynb`` or ``.md``)."""
    for suffix in (".ipynb", ".md"):
        candidate = root / f"{entry}{suffix}"
        if candidate.is_file():
            return candidate
    raise RunnerError(f"_toc.yml names {entry!r} but neither {entry}.ipynb nor {entry}.md exists")


def toc_notebooks(root: Path) -> list[Path]:
    """The notebooks of ``_toc.yml`` in reading order."""
    return [p for p in (page_path(root, e) for e in toc_entries(root)) if p.suffix == ".ipynb"]
