"""Small shared helpers: the cache folder, content hashes and atomic writes.

Every file seleak writes (caches, results, executed notebooks) goes through
:func:`atomic_write_bytes` or one of its wrappers, so an interrupted run never
leaves a half-written file behind: a reader sees the old file or the new one.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping

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


# --------------------------------------------------------------------------------------------------
# a lock on an output folder
# --------------------------------------------------------------------------------------------------


class FolderBusyError(RuntimeError, ValueError):
    """Another process holds the lock of an output folder.

    Also a ``ValueError``, so the command line reports it as one line (it is a usage problem: pick
    another folder or wait), not as a crash.
    """

    def __init__(self, message: str, pid: int | None = None) -> None:
        super().__init__(message)
        self.pid = pid


@contextlib.contextmanager
def folder_lock(
    folder: str | os.PathLike[str], message: str = "another process is using {folder} (lock held by pid {pid})"
) -> Iterator[Path]:
    """Hold an exclusive lock on ``folder/.lock`` for the ``with`` block, or raise at once.

    The lock is an OS advisory lock (``flock`` on POSIX, ``msvcrt.locking`` on Windows) on an open
    file, so the OS drops it when the holder exits or crashes: a killed run never leaves a stale lock
    behind. The holder writes its pid into the file for the message of the process that is refused.
    ``message`` is formatted with ``folder`` and ``pid``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".lock"
    # no O_TRUNC: a refused process must not erase the holder's pid before reading it
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd):
            pid = _read_pid(path)
            raise FolderBusyError(message.format(folder=folder, pid=pid if pid is not None else "unknown"), pid)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield path
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _unlock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(fd, fcntl.LOCK_UN)


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # empty while the holder is between lock and write
