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

from seleak._io import atomic_write_text, find_project_root, read_profile

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
    profile.setdefault("notebooks", {})
    profile["name"] = path.stem
    return profile


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
        resolved[stem] = params
    return resolved


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
    if pm and pm.get("parameters"):
        meta["seleak"] = {"parameters": pm["parameters"]}
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


def write_status_page(stage: Path, run: BookRun, total_seconds: float) -> None:
    """The book's status page: profile, device, versions and how long each notebook took."""
    import importlib.metadata as md

    def version(pkg: str) -> str:
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return "not installed"

    rows = "\n".join(f"| {r.name} | {r.seconds:.1f} | `{json.dumps(r.parameters)}` |" for r in run.runs)
    pkgs = ("seleak", "torch", "torchvision", "numpy", "scipy", "scikit-learn", "scikit-image",
            "pycryptodome", "papermill", "jupyter-book")
    versions = "\n".join(f"| {p} | {version(p)} |" for p in pkgs)
    text = f"""# Build status

This page is written by `seleak book` each time it runs the notebooks.

- Profile: **{run.profile}**
- Device requested: **{run.device}**
- Python {platform.python_version()} on {platform.platform()}
- Notebooks executed this run: {len(run.runs)}, in {total_seconds:.1f} s

| notebook | seconds | parameters |
| --- | --- | --- |
{rows or '| (none executed this run) | | |'}

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
    for nb in notebooks:
        target = stage / nb.relative_to(root_path)
        if nb not in selected and not target.exists():
            atomic_write_text(target, nb.read_text())

    run = BookRun(profile=profile["name"], device=device or profile.get("device", "cpu"))
    start = time.perf_counter()
    bar = tqdm(selected, desc=f"notebooks ({profile['name']})", unit="nb", disable=not progress)
    for nb in bar:
        bar.set_postfix_str(nb.stem)
        t0 = time.perf_counter()
        target = stage / nb.relative_to(root_path)
        executed = _execute(nb, params[nb.stem], kernel, timeout, logs / f"{nb.stem}.log", build_dir / "failed")
        atomic_write_text(target, json.dumps(executed, indent=1, ensure_ascii=False) + "\n")
        run.runs.append(NotebookRun(nb.stem, time.perf_counter() - t0, params[nb.stem], target))
    write_status_page(stage, run, time.perf_counter() - start)
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
