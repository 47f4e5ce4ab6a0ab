"""The project's root folder and its profiles (``profiles/NAME.yaml``): the parameter sets of the book.

A profile holds the notebooks' papermill parameters (``notebooks:``), the study grid (``study:``, read
by :mod:`seleak.study`) and how to run them (``device``, ``kernel``, ``timeout``; checked by
:mod:`seleak.runner`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["available_profiles", "find_project_root", "read_profile"]


def find_project_root(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The project's root: the nearest folder at or above ``start`` (default: the current folder) that
    holds the book (``_toc.yml``, ``_config.yml``) and its ``profiles/``; ``None`` if there is none."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "profiles").is_dir() and (folder / "_toc.yml").is_file() and (folder / "_config.yml").is_file():
            return folder
    return None


def available_profiles(root: Path) -> list[str]:
    """Names of the profiles in ``root/profiles``."""
    return sorted(p.stem for p in (root / "profiles").glob("*.yaml"))


def read_profile(name: str, root: str | os.PathLike[str] | None = None) -> tuple[dict[str, Any], Path]:
    """Read ``profiles/NAME.yaml`` (or a YAML path): the mapping and the file it came from.

    An unknown name raises ``FileNotFoundError`` listing the profiles that exist.
    """
    import yaml

    if name.endswith((".yaml", ".yml")):
        path = Path(name)
        base = path.parent.parent
    else:
        base = Path(root) if root is not None else find_project_root()
        if base is None:
            raise FileNotFoundError(
                f"profile {name!r}: no profiles/ folder at or above {Path.cwd()}; run from the seleak "
                "checkout or pass a path to a YAML file"
            )
        path = base / "profiles" / f"{name}.yaml"
    if not path.is_file():
        known = available_profiles(base) if (base / "profiles").is_dir() else []
        raise FileNotFoundError(
            f"unknown profile {name!r}: no {path}. Profiles that exist: {', '.join(known) or '(none)'}"
        )
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ValueError(
            f"profile {path} is not valid YAML{where}: {problem}. Fix the syntax there (indentation, a "
            "missing ':' or an unclosed bracket or quote)"
        ) from None
    if not isinstance(data, dict):
        raise ValueError(f"profile {path} must be a mapping, got {type(data).__name__}")
    return data, path
