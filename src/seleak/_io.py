"""Small shared helpers: the cache folder, content hashes and atomic writes.

Every file seleak writes (caches, results, executed notebooks) goes through
:func:`atomic_write_bytes` or one of its wrappers, so an interrupted run never
leaves a half-written file behind: a reader sees the old file or the new one.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

CACHE_ENV = "SELEAK_CACHE"


def cache_dir(sub: str | None = None) -> Path:
    """The cache folder: ``$SELEAK_CACHE`` if set, else ``~/.cache/seleak``.

    ``sub`` names a sub-folder (``"embeddings"``, ``"models"``, ...), created on demand.
    """
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "seleak")
    path = root / sub if sub else root
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write text (UTF-8) atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_save_npz(path: str | os.PathLike[str], **arrays: np.ndarray) -> Path:
    """Save arrays to an ``.npz`` file atomically."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return atomic_write_bytes(path, buf.getvalue())


def load_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray] | None:
    """Load an ``.npz`` cache file; ``None`` if it is missing or damaged (the caller recomputes)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except Exception:  # a truncated or corrupt cache file is recomputed, never fatal
        return None


def hash_array(a: np.ndarray) -> str:
    """A content hash of an array: dtype, shape and bytes (SHA-256, hex)."""
    a = np.ascontiguousarray(a)
    h = hashlib.sha256()
    h.update(str(a.dtype).encode())
    h.update(str(a.shape).encode())
    h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def hash_config(config: Mapping[str, Any]) -> str:
    """A stable hash of a JSON-serialisable configuration (keys sorted)."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


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
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"profile {path} must be a mapping, got {type(data).__name__}")
    return data, path


_BLAS_CONTROLLER = None


def one_blas_thread():
    """A context manager that runs numpy's BLAS on one thread.

    The matrices of the estimators are small, and once torch has run in a process its OpenMP workers
    keep spinning and starve multi-threaded BLAS: a 1000x128 SVD took 2.2 s instead of 0.03 s. The
    controller (which scans the loaded libraries) is built once, so entering costs microseconds.
    """
    global _BLAS_CONTROLLER
    from threadpoolctl import ThreadpoolController

    if _BLAS_CONTROLLER is None:
        _BLAS_CONTROLLER = ThreadpoolController()
    return _BLAS_CONTROLLER.limit(limits=1, user_api="blas")
