"""Reading a run profile (``profiles/NAME.yaml``) and checking its top-level keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seleak._validation import check_device, is_int
from seleak.profiles import read_profile
from seleak.runner.errors import RunnerError

PROFILE_KEYS = {"description", "device", "kernel", "timeout", "notebooks", "study"}


def load_profile(root: Path, name: str) -> dict[str, Any]:
    """Read ``profiles/NAME.yaml`` (or a path to a YAML file) and check its top-level keys."""
    try:
        profile, path = read_profile(name, root)
    except (FileNotFoundError, ValueError) as err:
        raise RunnerError(str(err)) from None
    unknown = set(profile) - PROFILE_KEYS
    if unknown:
        raise RunnerError(
            f"profile {path.name} has unknown key(s) {sorted(unknown)}; valid keys: {sorted(PROFILE_KEYS)}"
        )
    _check_profile(profile, path)
    profile["notebooks"] = profile.get("notebooks") or {}
    profile["name"] = path.stem
    profile["path"] = str(path)
    return profile


def _check_profile(profile: dict[str, Any], path: Path) -> None:
    """The type of every top-level key of a profile; each message names the file, the key and the fix."""
    where = f"profile {path}"
    if "description" in profile and not isinstance(profile["description"], str):
        raise RunnerError(f"{where}: 'description' must be a line of text, got {profile['description']!r}")
    if "device" in profile:
        check_device(profile["device"], f"{where}: 'device'", error=RunnerError)
    if "kernel" in profile and (not isinstance(profile["kernel"], str) or not profile["kernel"].strip()):
        raise RunnerError(
            f"{where}: 'kernel' must be the name of a Jupyter kernel such as python3, got {profile['kernel']!r}"
        )
    timeout = profile.get("timeout")
    if timeout is not None and (not is_int(timeout) or timeout < 1):
        raise RunnerError(
            f"{where}: 'timeout' must be a whole number of seconds >= 1 per notebook (or null "
            f"for none), got {timeout!r}"
        )
    notebooks = profile.get("notebooks")
    if notebooks is not None and not isinstance(notebooks, dict):
        raise RunnerError(
            f"{where}: 'notebooks' must be a mapping notebook -> {{parameter: value}}, got a "
            f"{type(notebooks).__name__} ({notebooks!r}); write it as\n  notebooks:\n    01_selective_encryption: "
            "{size: 512}\n    02_mi_estimators: {}"
        )
    for stem, params in (notebooks or {}).items():
        if params is not None and not isinstance(params, dict):
            raise RunnerError(
                f"{where}: 'notebooks' -> {stem!r} must be a mapping of parameters such as {{n: 5}} (or {{}}), "
                f"got {params!r}"
            )
    if "study" in profile and not isinstance(profile["study"], dict):
        raise RunnerError(f"{where}: 'study' must be a mapping of study settings, got {profile['study']!r}")
