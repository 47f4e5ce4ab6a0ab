"""Writing output files: never over an existing file unless asked, never over a key or an input, atomically."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Iterable


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file (through links, relative paths, hard links)."""
    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output_path(
    output: str | os.PathLike[str],
    *,
    force: bool = False,
    inputs: Iterable[str | os.PathLike[str]] = (),
    keys: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Refuse an output path before any work: a key file (always, ``force`` or not), an input file,
    a folder, a missing or unwritable folder, or an existing file unless ``force``."""
    out = Path(output)
    for k in keys:
        if _same_file(out, Path(k)):
            raise ValueError(
                f"the output {out} is the key file {k}; refusing to write over a key (the ciphertext "
                "could then never be decrypted). Give another output path"
            )
    for i in inputs:
        if _same_file(out, Path(i)):
            raise ValueError(
                f"the output {out} is the input file; write to a new file (e.g. add .se or .out before .png)"
            )
    if out.is_dir():
        raise ValueError(f"the output {out} is a folder; give a file path, e.g. {out / 'image.png'}")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise ValueError(f"cannot write {out}: {parent} {what}; create the folder or choose another output path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write {out}: the folder {parent} is not writable; choose another output path")
    if os.path.lexists(out) and not force:
        raise ValueError(f"{out} already exists; pass --force to overwrite it (or choose another output path)")
    return out


def _os_error(path: Path, err: OSError) -> ValueError:
    """A one-line message for a failed write of ``path``."""
    if isinstance(err, PermissionError):
        why = "permission denied; choose a folder you can write to"
    elif isinstance(err, IsADirectoryError):
        why = "it is a folder; give a file path"
    elif isinstance(err, NotADirectoryError):
        why = f"{path.parent} is not a folder; choose another output path"
    elif err.errno == errno.ENOSPC:
        why = "no space left on the device; free some space and retry"
    elif err.errno == errno.EROFS:
        why = "the file system is read-only; choose another output path"
    else:
        why = f"{err.strerror or err}; choose another output path"
    return ValueError(f"cannot write {path}: {why}")


def write_new_file(
    path: str | os.PathLike[str], data: bytes, *, overwrite: bool, protect: Iterable[str | os.PathLike[str]] = ()
) -> Path:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder (mode 0600), synced,
    then published with a hard link (fails if ``path`` exists: no check-then-write race) or, when
    ``overwrite``, with ``os.replace``. ``protect``: files that must never be replaced, ``overwrite``
    or not. After a failure no file is left behind."""
    path = Path(path)
    protect = [Path(p) for p in protect]
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise _os_error(path, e) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if any(_same_file(path, p) for p in protect):
            raise ValueError(f"{path} is a key or input file; refusing to write over it. Give another output path")
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise ValueError(
                    f"{path} already exists; pass --force to overwrite it (or choose another output path)"
                ) from None
            except OSError as e:
                if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                    raise
                # a file system without hard links: the next best, check then rename
                if os.path.lexists(path):
                    raise ValueError(f"{path} already exists; pass --force to overwrite it") from None
                os.replace(tmp, path)
    except OSError as e:
        raise _os_error(path, e) from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path
