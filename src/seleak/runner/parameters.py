"""Each notebook's papermill parameters: what its ``parameters`` cell declares, what the profile sets,
and whether each value fits the parameter's annotation."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any, Sequence

from seleak._validation import is_int
from seleak.runner.errors import RunnerError

# Parameters the runner fills in for every notebook that declares them.
GLOBAL_PARAMETERS = ("device", "profile")


def notebook_parameters(path: Path) -> dict[str, dict[str, Any]]:
    """The parameters a notebook's ``parameters`` cell defines (papermill's own inspection)."""
    import papermill

    nb = json.loads(path.read_text())
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise RunnerError(f"{path.name} must have exactly one cell tagged 'parameters', found {len(tagged)}")
    return dict(papermill.inspect_notebook(str(path)))


def resolve_parameters(
    root: Path, profile: dict[str, Any], notebooks: Sequence[Path], device: str | None
) -> dict[str, dict[str, Any]]:
    """Each notebook's papermill parameters; refuse any name a notebook does not define."""
    stems = {nb.stem: nb for nb in notebooks}
    configured = profile.get("notebooks") or {}
    unknown_nb = set(configured) - set(stems)
    if unknown_nb:
        raise RunnerError(
            f"profile {profile['name']!r} configures notebook(s) {sorted(unknown_nb)} that are not in "
            f"_toc.yml; notebooks: {sorted(stems)}"
        )
    resolved: dict[str, dict[str, Any]] = {}
    for stem, nb in stems.items():
        declared = notebook_parameters(nb)
        params = dict(configured.get(stem) or {})
        unknown = sorted(set(params) - set(declared))
        if unknown:
            raise RunnerError(
                f"profile {profile['name']!r} sets parameter(s) {unknown} for notebook {nb.name}, whose "
                f"parameters cell defines only {sorted(declared)}"
            )
        globals_ = {"device": device or profile.get("device", "cpu"), "profile": profile["name"]}
        for key in GLOBAL_PARAMETERS:
            if key in declared and key not in params:
                params[key] = globals_[key]
        for key, value in params.items():
            info = declared[key]
            problem = check_parameter_type(value, info.get("inferred_type_name", "None"), info.get("default"))
            if problem:
                source = (
                    f"profile {profile.get('path', profile['name'])}"
                    if key in (configured.get(stem) or {})
                    else f"the {key} setting (profile {profile['name']!r} or --{key})"
                )
                raise RunnerError(
                    f"notebook {nb.name}: parameter {key!r} expects {problem}, got {value!r} "
                    f"({type(value).__name__}) from {source}; fix the value there"
                )
        resolved[stem] = params
    return resolved


# --------------------------------------------------------------------------- parameter types

_SCALARS: dict[str, Any] = {
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "None": type(None),
    "NoneType": type(None),
}
_LISTS = ("list", "List", "Sequence", "tuple", "Tuple")
_MAPS = ("dict", "Dict", "Mapping")


def _type_node(annotation: str) -> ast.expr | None:
    try:
        return ast.parse(annotation.strip().strip("'\""), mode="eval").body
    except SyntaxError:
        return None


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):  # typing.List -> List
        return node.attr
    if isinstance(node, ast.Constant) and node.value is None:
        return "None"
    return None


def _matches(value: Any, node: ast.expr) -> tuple[bool, str] | None:
    """Whether ``value`` (as YAML gives it) fits the annotation ``node``, and the type in words;
    ``None`` when the annotation is beyond this small checker (then anything is accepted)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # X | Y
        left, right = _matches(value, node.left), _matches(value, node.right)
        if left is None or right is None:
            return None
        return left[0] or right[0], f"{left[1]} or {right[1]}"
    if isinstance(node, ast.Subscript):
        outer = _name(node.value)
        args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if outer in ("Optional",) and len(args) == 1:
            inner = _matches(value, args[0])
            return None if inner is None else (value is None or inner[0], f"{inner[1]} or None")
        if outer == "Union":
            parts = [_matches(value, a) for a in args]
            if any(p is None for p in parts):
                return None
            return any(p[0] for p in parts), " or ".join(p[1] for p in parts)
        if outer in _LISTS:
            if outer in ("tuple", "Tuple") and not (
                len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis
            ):
                return None  # fixed-length tuples: not checked
            probe = _matches(None, args[0])
            if probe is None:
                return None
            words = f"a list of {probe[1]}"
            if not isinstance(value, (list, tuple)):
                return False, words
            return all(_matches(v, args[0])[0] for v in value), words  # type: ignore[index]
        if outer in _MAPS and len(args) == 2:
            kp, vp = _matches(None, args[0]), _matches(None, args[1])
            if kp is None or vp is None:
                return None
            words = f"a mapping of {kp[1]} to {vp[1]}"
            if not isinstance(value, dict):
                return False, words
            return all(
                _matches(k, args[0])[0] and _matches(v, args[1])[0]  # type: ignore[index]
                for k, v in value.items()
            ), words
        return None
    name = _name(node)
    if name in ("Any", "object"):
        return True, "anything"
    if name in _LISTS:
        return isinstance(value, (list, tuple)), "a list"
    if name in _MAPS:
        return isinstance(value, dict), "a mapping"
    if name not in _SCALARS:
        return None
    if name == "float":  # an int is a fine float; a bool is not a number here (YAML's yes/no)
        return (isinstance(value, float) or is_int(value)), "float"
    if name == "int":
        return is_int(value), "int"
    return isinstance(value, _SCALARS[name]), name


def _element_type(default: str | None) -> str | None:
    """``int``/``float``/``str``/``bool`` when every element of a list default has that type (so a bare
    ``list`` annotation still tells what its elements are); ``None`` when it cannot tell."""
    try:
        items = ast.literal_eval(default) if default else None
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if not isinstance(items, (list, tuple)) or not items:
        return None
    kinds = {type(v) for v in items}
    if kinds <= {int, float} and float in kinds:
        return "float"
    return kinds.pop().__name__ if len(kinds) == 1 and kinds <= {int, float, str, bool} else None


def check_parameter_type(value: Any, annotation: str, default: str | None = None) -> str | None:
    """``None`` when ``value`` fits a parameter annotated ``annotation`` (papermill's
    ``inferred_type_name``), else the expected type in words.

    Understood: ``int``, ``float`` (an int is accepted), ``str``, ``bool`` (never an int: YAML turns
    ``yes``/``no`` into bools), ``None``, ``X | Y``, ``Optional[X]``, ``Union[...]``, ``list[X]``,
    ``tuple[X, ...]``, ``dict[K, V]``. A bare ``list`` takes its element type from a non-empty default
    whose elements share one type (``[1, 2]``: a list of int). Anything else (an unannotated parameter,
    a class of the notebook's own) is accepted, since it cannot be checked without running the notebook.
    """
    node = _type_node(annotation or "None") if annotation and annotation != "None" else None
    if node is None:
        return None
    if _name(node) in ("list", "List", "tuple", "Tuple"):
        element = _element_type(default)
        if element is not None:
            node = _type_node(f"list[{element}]")
    result = _matches(value, node)  # type: ignore[arg-type]
    if result is None or result[0]:
        return None
    return f"{result[1]} (annotated {annotation}" + (f", default {default}" if default else "") + ")"
