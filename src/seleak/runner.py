"""Execute the book's notebooks with papermill and build the HTML book with Jupyter Book.

The runner holds no study logic. It

1. reads a profile (``profiles/NAME.yaml``): papermill parameters for each notebook of ``_toc.yml``;
2. refuses what papermill would only warn about: a parameter that a notebook's ``parameters`` cell does
   not define, an unknown profile, a missing kernel;
3. executes each notebook into a staging copy of the book (``_build/stage``), atomically, with volatile
   papermill metadata stripped and the injected-parameters cell hidden from the rendered page;
4. runs ``jupyter-book build`` on the stage with warnings as errors and notebook execution off (papermill
   already ran them), so the HTML lands in ``_build/html`` and the source tree stays clean.
"""

from __future__ import annotations

import ast
import datetime as _dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml

from seleak._io import atomic_write_text
from seleak._validation import check_device, is_int
from seleak.profiles import find_project_root, read_profile

CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"
PROFILE_KEYS = {"description", "device", "kernel", "timeout", "notebooks", "study"}
# Parameters the runner fills in for every notebook that declares them.
GLOBAL_PARAMETERS = ("device", "profile")


class RunnerError(RuntimeError):
    """A problem with the book, a profile or the environment, explained for the user."""


@dataclass
class NotebookRun:
    """What happened to one notebook."""

    name: str
    seconds: float
    parameters: dict[str, Any]
    output: Path
    outcome: str = "ran"  # "ran" or "failed"


@dataclass
class BookRun:
    """The result of :func:`run_book`."""

    profile: str
    device: str
    runs: list[NotebookRun] = field(default_factory=list)
    html_index: Path | None = None


# --------------------------------------------------------------------------- locating things


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


# --------------------------------------------------------------------------- profiles


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
        raise RunnerError(f"{where}: 'kernel' must be the name of a Jupyter kernel such as python3, got "
                          f"{profile['kernel']!r}")
    timeout = profile.get("timeout")
    if timeout is not None and (not is_int(timeout) or timeout < 1):
        raise RunnerError(f"{where}: 'timeout' must be a whole number of seconds >= 1 per notebook (or null "
                          f"for none), got {timeout!r}")
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
                source = f"profile {profile.get('path', profile['name'])}" if key in (configured.get(stem) or {}) \
                    else f"the {key} setting (profile {profile['name']!r} or --{key})"
                raise RunnerError(
                    f"notebook {nb.name}: parameter {key!r} expects {problem}, got {value!r} "
                    f"({type(value).__name__}) from {source}; fix the value there"
                )
        resolved[stem] = params
    return resolved


# --------------------------------------------------------------------------- parameter types

_SCALARS: dict[str, Any] = {"int": int, "float": float, "str": str, "bool": bool, "None": type(None),
                            "NoneType": type(None)}
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
            if outer in ("tuple", "Tuple") and not (len(args) == 2 and isinstance(args[1], ast.Constant)
                                                     and args[1].value is Ellipsis):
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
            return all(_matches(k, args[0])[0] and _matches(v, args[1])[0]  # type: ignore[index]
                       for k, v in value.items()), words
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


def check_kernel(name: str) -> None:
    """Fail early, and clearly, when the Jupyter kernel is missing."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        raise RunnerError(
            f"Jupyter kernel {name!r} not found. Install it in this environment with "
            f"`{sys.executable} -m ipykernel install --sys-prefix --name {name}` or run `make book`, "
            "which sets the environment up."
        ) from None


# --------------------------------------------------------------------------- notebook hygiene


def strip_volatile(nb: dict[str, Any]) -> dict[str, Any]:
    """Drop timings and other per-run metadata so outputs do not change from run to run."""
    meta = nb.get("metadata", {})
    pm = meta.pop("papermill", None)
    if pm is not None:  # also marks the staged copy as executed (the status page relies on it)
        meta["seleak"] = {"parameters": pm.get("parameters") or {}}
    for cell in nb.get("cells", []):
        cmeta = cell.get("metadata", {})
        cmeta.pop("papermill", None)
        cmeta.pop("execution", None)
        tags = cmeta.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            # the injected cell duplicates the parameters cell; the page shows the profile instead
            cmeta["tags"] = [*tags, "remove-cell"]
    return nb


def is_checked(cell: dict[str, Any]) -> bool:
    src = cell.get("source", "")
    src = "".join(src) if isinstance(src, list) else src
    return cell.get("cell_type") == "code" and src.lstrip().startswith(CHECK_MARKER)


def _execute(
    src: Path,
    parameters: dict[str, Any],
    kernel: str,
    timeout: int | None,
    log: Path | None,
    failed_dir: Path,
) -> dict[str, Any]:
    """Run one notebook with papermill into a temporary file; return it, stripped of volatile metadata."""
    import papermill

    with tempfile.TemporaryDirectory(prefix="seleak-nb-") as tmp:
        out = Path(tmp) / src.name
        log_fh = open(log, "w") if log else None
        try:
            papermill.execute_notebook(
                str(src),
                str(out),
                parameters=parameters,
                kernel_name=kernel,
                execution_timeout=timeout,
                cwd=str(src.parent),
                progress_bar=False,
                log_output=False,
                stdout_file=log_fh,
                stderr_file=log_fh,
                report_mode=False,
            )
        except papermill.PapermillExecutionError as err:
            failed = failed_dir / src.name
            failed_dir.mkdir(parents=True, exist_ok=True)
            if out.exists():
                shutil.copyfile(out, failed)
            raise RunnerError(_describe_failure(src, out, err, failed)) from None
        finally:
            if log_fh:
                log_fh.close()
        return strip_volatile(json.loads(out.read_text()))


def _describe_failure(src: Path, out: Path, err: Exception, failed: Path) -> str:
    """The failing cell's source and its traceback, as the user should see them."""
    source = ""
    if out.exists():
        nb = json.loads(out.read_text())
        for cell in nb["cells"]:
            if cell.get("cell_type") != "code":
                continue
            if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
                source = "".join(cell["source"])
                break
    tb = "\n".join(getattr(err, "traceback", []) or [str(err)])
    tb = re.sub(r"\x1b\[[0-9;]*m", "", tb)  # papermill's traceback carries ANSI colours
    return (
        f"notebook {src.name} failed (cell {getattr(err, 'exec_count', '?')}):\n"
        f"---- cell source ----\n{source}\n---- traceback ----\n{tb}\n"
        f"The executed notebook is kept at {failed}"
    )


# --------------------------------------------------------------------------- the book


def stage_sources(root: Path, stage: Path) -> None:
    """Copy the book's non-notebook sources (config, toc, markdown, bib, static files) into ``stage``."""
    stage.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copyfile(root / name, stage / name)
    for path in (root / "book").rglob("*"):
        rel = path.relative_to(root)
        if path.is_dir() or ".ipynb_checkpoints" in rel.parts or path.suffix == ".ipynb":
            continue
        target = stage / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


RUNS_FORMAT = "seleak-book-runs-v1"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def read_runs(path: Path) -> dict[str, dict[str, Any]]:
    """The record of notebook runs (``_build/runs.json``): stem -> {"last": attempt, "shown": run whose
    output the staged notebook holds, or None}. A missing or damaged record is an empty one (the status
    page then says it does not know when a kept notebook ran); it is rewritten by the next run."""
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        print(f"seleak book: ignoring the damaged run record {path} ({err}); it is rewritten", file=sys.stderr)
        return {}
    notebooks = obj.get("notebooks") if isinstance(obj, dict) and obj.get("format") == RUNS_FORMAT else None
    if not isinstance(notebooks, dict):
        print(f"seleak book: ignoring the run record {path}: not in format {RUNS_FORMAT}", file=sys.stderr)
        return {}
    ok = {}
    for stem, entry in notebooks.items():
        if isinstance(entry, dict) and all(_valid_attempt(entry.get(k)) or (k == "shown" and entry.get(k) is None)
                                           for k in ("last", "shown")):
            ok[stem] = entry
    return ok


def _valid_attempt(a: Any) -> bool:
    return (isinstance(a, dict) and a.get("outcome") in ("ran", "failed") and isinstance(a.get("when"), str)
            and (a.get("seconds") is None or isinstance(a.get("seconds"), (int, float)))
            and isinstance(a.get("parameters"), dict)
            and isinstance(a.get("profile"), str) and isinstance(a.get("device"), str))


def write_runs(path: Path, runs: dict[str, dict[str, Any]]) -> None:
    atomic_write_text(path, json.dumps({"format": RUNS_FORMAT, "notebooks": runs}, indent=1, sort_keys=True,
                                       default=str) + "\n")


def _unrecorded_run(staged: Path) -> dict[str, Any] | None:
    """A staged notebook executed by an earlier run that the record does not know (it was lost or
    damaged): what the notebook itself says about that run, or ``None`` if it was never executed."""
    try:
        meta = json.loads(staged.read_text()).get("metadata", {})
    except (OSError, ValueError, AttributeError):
        return None
    params = meta.get("seleak", {}).get("parameters") if isinstance(meta.get("seleak"), dict) else None
    if not isinstance(params, dict):
        return None
    return {"outcome": "ran", "when": "", "seconds": None,
            "parameters": params, "profile": "?", "device": str(params.get("device", "?"))}


def _attempt(r: NotebookRun, run: BookRun) -> dict[str, Any]:
    return {"outcome": r.outcome, "when": _now(), "seconds": round(r.seconds, 3), "parameters": r.parameters,
            "profile": run.profile, "device": str(r.parameters.get("device", run.device))}


def _which_run(attempt: dict[str, Any]) -> str:
    return f"the run of {attempt['when']}" if attempt["when"] else "an earlier run missing from the run record"


def _md(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def write_status_page(stage: Path, run: BookRun, total_seconds: float, notebooks: Sequence[str] | None = None,
                      record: dict[str, dict[str, Any]] | None = None) -> None:
    """The book's status page: every notebook of the book with its outcome, time, profile, device and
    the parameters it ran with (as papermill injected them), plus versions.

    ``notebooks`` is every notebook of ``_toc.yml`` (stems, in reading order) and ``record`` the run
    record (see :func:`read_runs`) after this run; without them only this run's notebooks are listed.
    """
    import importlib.metadata as md

    def version(pkg: str) -> str:
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return "not installed"

    this_run = {r.name: r for r in run.runs}
    record = record or {}
    names = list(notebooks) if notebooks is not None else [r.name for r in run.runs]
    counts = {"ran": 0, "failed": 0, "kept": 0, "never": 0}
    rows = []
    for name in names:
        entry = record.get(name) or {}
        shown = entry.get("shown")
        if name in this_run:
            r = this_run[name]
            info = {"when": "this run", "seconds": r.seconds, "parameters": r.parameters, "profile": run.profile,
                    "device": str(r.parameters.get("device", run.device))}
            if r.outcome == "ran":
                outcome = "ran"
                counts["ran"] += 1
            else:
                counts["failed"] += 1
                outcome = ("**failed**; the page shows " + _which_run(shown) if shown
                           else "**failed**; the page shows the notebook without outputs")
        elif shown:
            counts["kept"] += 1
            info = shown
            outcome = f"not run this time; kept from {_which_run(shown)}"
        else:
            counts["never"] += 1
            info = None
            last = entry.get("last")
            outcome = (f"not run this time; {_which_run(last)} failed; shown without outputs"
                       if last else "never run; shown without outputs")
        if info is None:
            rows.append(f"| {_md(name)} | {outcome} | | |")
        else:
            # plain text that wraps inside the column: profile, device, then each injected parameter
            params = "; ".join(f"{k} = {json.dumps(v, default=str)}" for k, v in sorted(info["parameters"].items()))
            seconds = "?" if info["seconds"] is None else f"{float(info['seconds']):.1f}"
            rows.append(f"| {_md(name)} | {outcome} | {seconds} | profile {_md(info['profile'])}, device "
                        f"{_md(info['device'])}{': ' + _md(params) if params else ''} |")
    pkgs = ("seleak", "torch", "torchvision", "numpy", "scipy", "scikit-learn", "scikit-image",
            "pycryptodome", "papermill", "jupyter-book")
    versions = "\n".join(f"| {p} | {version(p)} |" for p in pkgs)
    text = f"""# Build status

This page is written by `seleak book` each time it runs the notebooks; it lists every notebook of the
book, whether it ran this time, and with which settings the output you see was made.

- Profile of this run: **{run.profile}**
- Device requested: **{run.device}**
- Python {platform.python_version()} on {platform.platform()}
- Written {_now()}; notebooks executed this run: {counts['ran'] + counts['failed']}
  ({counts['ran']} ran, {counts['failed']} failed) in {total_seconds:.1f} s; kept from earlier runs:
  {counts['kept']}; never run: {counts['never']}

| notebook | outcome | seconds | ran with (profile, device, the parameters papermill injected) |
| --- | --- | --- | --- |
{chr(10).join(rows) or '| (no notebooks) | | | |'}

| package | version |
| --- | --- |
{versions}
"""
    atomic_write_text(stage / "book" / "status.md", text)


def build_html(root: Path, stage: Path, build_dir: Path, log: Path) -> Path:
    """``jupyter-book build`` on the stage, warnings as errors; the HTML lands in ``build_dir/html``."""
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(stage),
           "--path-output", str(build_dir.parent), "-W", "-n", "--keep-going"]
    # jupyter-book writes to PATH_OUTPUT/_build; point that at build_dir
    if build_dir.name != "_build":
        raise RunnerError("the build folder must be named _build")
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=root)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-40:])
        raise RunnerError(f"jupyter-book build failed (exit {proc.returncode}); log {log}:\n{tail}")
    index = build_dir / "html" / "index.html"
    if not index.is_file():
        raise RunnerError(f"jupyter-book build finished but {index} is missing; log {log}")
    return index


def run_book(
    profile_name: str = "quick",
    *,
    root: str | os.PathLike[str] | None = None,
    device: str | None = None,
    only: Sequence[str] | None = None,
    build: bool = True,
    progress: bool = True,
) -> BookRun:
    """Execute the notebooks of ``_toc.yml`` with a profile, then build the HTML book."""
    from tqdm.auto import tqdm

    root_path = find_root(root)
    if device is not None:
        check_device(device, "--device", error=RunnerError)
    profile = load_profile(root_path, profile_name)
    kernel = profile.get("kernel", "python3")
    timeout = profile.get("timeout")
    notebooks = toc_notebooks(root_path)
    params = resolve_parameters(root_path, profile, notebooks, device)
    if only:
        wanted = {Path(o).stem for o in only}
        missing = wanted - {nb.stem for nb in notebooks}
        if missing:
            raise RunnerError(
                f"--only names {sorted(missing)}, not in _toc.yml; notebooks: {[nb.stem for nb in notebooks]}"
            )
        selected = [nb for nb in notebooks if nb.stem in wanted]
    else:
        selected = notebooks
    check_kernel(kernel)

    build_dir = root_path / "_build"
    stage = build_dir / "stage"
    logs = build_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stage_sources(root_path, stage)
    # notebooks not executed this run: keep an earlier execution if there is one, else the source
    was_staged = {}
    for nb in notebooks:
        target = stage / nb.relative_to(root_path)
        was_staged[nb.stem] = target.exists()
        if nb not in selected and not target.exists():
            atomic_write_text(target, nb.read_text())

    run = BookRun(profile=profile["name"], device=device or profile.get("device", "cpu"))
    runs_path = build_dir / "runs.json"
    record = read_runs(runs_path)
    for nb in notebooks:
        if not was_staged[nb.stem]:  # a record whose staged copy is gone describes nothing on the page
            if nb.stem in record:
                record[nb.stem]["shown"] = None
        elif not (record.get(nb.stem) or {}).get("shown"):
            unrecorded = _unrecorded_run(stage / nb.relative_to(root_path))
            if unrecorded:
                record.setdefault(nb.stem, {"last": unrecorded})["shown"] = unrecorded
    start = time.perf_counter()

    def report() -> None:
        write_runs(runs_path, record)
        write_status_page(stage, run, time.perf_counter() - start, [nb.stem for nb in notebooks], record)

    bar = tqdm(selected, desc=f"notebooks ({profile['name']})", unit="nb", disable=not progress)
    for nb in bar:
        bar.set_postfix_str(nb.stem)
        t0 = time.perf_counter()
        target = stage / nb.relative_to(root_path)
        try:
            executed = _execute(nb, params[nb.stem], kernel, timeout, logs / f"{nb.stem}.log",
                                build_dir / "failed")
        except BaseException:
            # the status page tells the truth even when the run stops here: this notebook failed, the
            # ones after it did not run, and the pages keep what an earlier run left
            failed = NotebookRun(nb.stem, time.perf_counter() - t0, params[nb.stem], target, outcome="failed")
            run.runs.append(failed)
            entry = record.setdefault(nb.stem, {"shown": None})
            entry["last"] = _attempt(failed, run)
            report()
            raise
        atomic_write_text(target, json.dumps(executed, indent=1, ensure_ascii=False) + "\n")
        injected = executed.get("metadata", {}).get("seleak", {}).get("parameters", params[nb.stem])
        done = NotebookRun(nb.stem, time.perf_counter() - t0, dict(injected), target)
        run.runs.append(done)
        record[nb.stem] = {"last": _attempt(done, run)}
        record[nb.stem]["shown"] = record[nb.stem]["last"]
        write_runs(runs_path, record)
    report()
    if build:
        run.html_index = build_html(root_path, stage, build_dir, logs / "jupyter-book.log")
    return run


def refresh_notebook(path: str | os.PathLike[str], *, kernel: str = "python3", timeout: int | None = 1800) -> Path:
    """Execute a source notebook at its defaults and save it back with only the checked cells' outputs.

    nbval compares the outputs of cells starting with ``# NBVAL_CHECK_OUTPUT``; everything else is
    stored without output, so the committed notebook stays small and free of volatile content.
    """
    src = Path(path).resolve()
    if src.suffix != ".ipynb" or not src.is_file():
        raise RunnerError(f"{path} is not a notebook file (.ipynb)")
    check_kernel(kernel)
    notebook_parameters(src)  # exactly one parameters cell
    original = json.loads(src.read_text())
    failed_dir = Path(tempfile.gettempdir()) / "seleak-failed"
    executed = _execute(src, {}, kernel, timeout, None, failed_dir)
    ran = [c for c in executed["cells"] if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    if len(ran) != len(original["cells"]):
        raise RunnerError(f"{src.name}: executed notebook has {len(ran)} cells, source {len(original['cells'])}")
    for cell, done in zip(original["cells"], ran):
        if cell.get("cell_type") != "code":
            continue
        cell.get("metadata", {}).pop("execution", None)
        cell.get("metadata", {}).pop("papermill", None)
        if is_checked(cell):
            cell["outputs"] = done.get("outputs", [])
            cell["execution_count"] = done.get("execution_count")
        else:
            cell["outputs"] = []
            cell["execution_count"] = None
    original.get("metadata", {}).pop("papermill", None)
    atomic_write_text(src, json.dumps(original, indent=1, ensure_ascii=False) + "\n")
    return src
