"""A restricted unpickler for the official CIFAR python files, which are pickles.

An ordinary ``pickle.load`` of a crafted file runs arbitrary code; :func:`read_cifar_pickle` rebuilds
only dicts, lists, strings, numbers and numpy arrays and refuses anything else.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """The only globals a CIFAR batch may name: what rebuilds numpy arrays, dtypes and scalars.

    Python 2 pickles (the official files) name ``numpy.core.*``; files written under numpy 2 name
    ``numpy._core.*``. Each name maps to the object itself, so numpy 2's ``numpy.core`` shim is never
    imported. None of these runs arbitrary code: they allocate arrays from bytes.
    """
    from numpy._core import multiarray, numeric

    allowed: dict[tuple[str, str], Any] = {}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = numeric._frombuffer  # pickle protocol 5
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    # bytes pickled by Python 3 with protocol < 3 are rebuilt as _codecs.encode(text, "latin1")
    allowed[("_codecs", "encode")] = __import__("_codecs").encode
    return allowed


class UnsafePickleError(ValueError):
    """A data file asks to run code that a plain data pickle never contains; it was not loaded."""


class _DataUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds dicts, lists, strings, numbers and numpy arrays, and nothing else.

    A pickle is a program: ``pickle.load`` of a crafted file runs whatever function it names (e.g.
    ``os.system``). Every global a pickle names goes through :meth:`find_class`, so refusing all but
    numpy's array reconstructors means a malicious batch file cannot execute code here.
    """

    _allowed: dict[tuple[str, str], Any] | None = None

    def find_class(self, module: str, name: str) -> Any:
        if _DataUnpickler._allowed is None:
            _DataUnpickler._allowed = _allowed_globals()
        try:
            return _DataUnpickler._allowed[(module, name)]
        except KeyError:
            raise UnsafePickleError(f"{module}.{name}") from None


def read_cifar_pickle(path: Path) -> dict[str, Any]:
    """Read one file of the official CIFAR python format (a pickled dict) without running its code.

    The official format is Python pickles, and an ordinary ``pickle.load`` of a crafted file executes
    code; this reader allows only the numpy array reconstructors (see :class:`_DataUnpickler`).

    Raises :class:`UnsafePickleError` for a file that names anything else (nothing in it runs), and
    ``ValueError`` for a file that cannot be read, is damaged, or does not hold a dict.
    """
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ValueError(f"cannot read CIFAR file {path}: {err}") from None
    try:
        obj = _DataUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except UnsafePickleError as err:
        raise UnsafePickleError(
            f"refused to load {path}: it asks to run {err} when unpickled, which an official CIFAR batch "
            "never does (only numpy arrays, lists and strings). Nothing in it was executed. Delete the file "
            "and re-download it from the official source (load_dataset(..., download=True))"
        ) from None
    except Exception as err:  # truncated or corrupt: EOFError, UnpicklingError, ValueError, ...
        raise ValueError(
            f"CIFAR file {path} is damaged and cannot be read ({type(err).__name__}: {err}); delete it and "
            "re-download it (load_dataset(..., download=True) or the official archive)"
        ) from None
    if not isinstance(obj, dict):
        raise ValueError(
            f"CIFAR file {path} holds a {type(obj).__name__}, not the official dict of a batch; re-download it"
        )
    return obj
