"""Typed checks of settings: profiles, command-line options, function arguments.

One small set, so every setting is refused the same way: the message names the setting (``name``
carries where it sits, e.g. "study: block 'paper': 'seeds'"), the value and what is allowed. YAML
turns `yes`/`no` into booleans and `1.0` into a float, so bool is never an int and an int-valued float
is never an int: both are typos that must not run silently.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable

import numpy as np

ErrorType = Callable[[str], Exception]


def _shown(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def is_int(value: Any) -> bool:
    """An integer and not a bool (``True`` is an ``int`` to Python, never to a profile)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value: Any) -> bool:
    """An int or a float (not a bool)."""
    return is_int(value) or (isinstance(value, (float, np.floating)))


def check_int(value: Any, name: str, *, minimum: int | None = None, error: ErrorType = ValueError) -> int:
    """``value`` as an int; refuse bools, floats, strings and values below ``minimum``."""
    allowed = "an integer" if minimum is None else f"an integer >= {minimum}"
    if not is_int(value):
        raise error(f"{name} must be {allowed}, got {_shown(value)}")
    if minimum is not None and value < minimum:
        raise error(f"{name} must be {allowed}, got {value!r}")
    return int(value)


def check_float(
    value: Any, name: str, *, low: float | None = None, high: float | None = None, error: ErrorType = ValueError
) -> float:
    """``value`` as a finite float strictly between ``low`` and ``high`` (ints are fine, bools are not)."""
    if low is not None and high is not None:
        allowed = f"a number strictly between {low:g} and {high:g}"
    elif low is not None:
        allowed = f"a number > {low:g}"
    else:
        allowed = "a finite number"
    if not is_number(value) or not math.isfinite(float(value)):
        raise error(f"{name} must be {allowed}, got {_shown(value)}")
    v = float(value)
    if (low is not None and v <= low) or (high is not None and v >= high):
        raise error(f"{name} must be {allowed}, got {value!r}")
    return v


def check_bool(value: Any, name: str, *, error: ErrorType = ValueError) -> bool:
    """``value`` as a bool; refuse strings such as ``'no'`` (truthy!) and numbers."""
    if not isinstance(value, (bool, np.bool_)):
        raise error(f"{name} must be true or false, got {_shown(value)}")
    return bool(value)


def check_str(value: Any, name: str, *, choices: Any = None, error: ErrorType = ValueError) -> str:
    """``value`` as a non-empty string, one of ``choices`` when given."""
    if not isinstance(value, str) or not value.strip():
        raise error(f"{name} must be a non-empty string, got {_shown(value)}")
    if choices is not None and value not in choices:
        raise error(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


_DEVICE = re.compile(r"(cpu|mps|(cuda|xpu)(:\d+)?)")
DEVICES_ALLOWED = "'cpu', 'cuda', 'cuda:N' (N = GPU index), 'mps' or 'xpu[:N]'"


def check_device(value: Any, name: str, *, error: ErrorType = ValueError) -> str:
    """A torch device string; the check is by form, so it needs neither torch nor the device."""
    if not isinstance(value, str) or not _DEVICE.fullmatch(value):
        raise error(f"{name} must be a torch device: {DEVICES_ALLOWED}; got {_shown(value)}")
    return value
