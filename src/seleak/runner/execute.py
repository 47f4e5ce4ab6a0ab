"""Executing notebooks with papermill, into the staged book or back into a source notebook, and
building the HTML book from the stage."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from seleak._io import atomic_write_text
from seleak._validation import check_device
from seleak.runner.errors import RunnerError
from seleak.runner.pages import add_run_box, run_box, show_parameters_that_ran, write_headline
from seleak.runner.parameters import notebook_parameters, resolve_parameters
from seleak.runner.profile import load_profile
from seleak.runner.status import (
    BookRun,
    NotebookRun,
    attempt_record,
    read_runs,
    unrecorded_run,
    write_runs,
    write_status_page,
)
from seleak.runner.toc import find_root, toc_notebooks

CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"


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


def build_html(root: Path, stage: Path, build_dir: Path, log: Path) -> Path:
    """``jupyter-book build`` on the stage, warnings as errors; the HTML lands in ``build_dir/html``."""
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [
        str(exe) if exe.exists() else "jupyter-book",
        "build",
        str(stage),
        "--path-output",
        str(build_dir.parent),
        "-W",
        "-n",
        "--keep-going",
    ]
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
            unrecorded = unrecorded_run(stage / nb.relative_to(root_path))
            if unrecorded:
                record.setdefault(nb.stem, {"last": unrecorded})["shown"] = unrecorded
    start = time.perf_counter()

    def report() -> None:
        write_runs(runs_path, record)
        write_headline(stage, [stage / nb.relative_to(root_path) for nb in notebooks])
        write_status_page(stage, run, time.perf_counter() - start, [nb.stem for nb in notebooks], record)

    bar = tqdm(selected, desc=f"notebooks ({profile['name']})", unit="nb", disable=not progress)
    for nb in bar:
        bar.set_postfix_str(nb.stem)
        t0 = time.perf_counter()
        target = stage / nb.relative_to(root_path)
        try:
            executed = _execute(nb, params[nb.stem], kernel, timeout, logs / f"{nb.stem}.log", build_dir / "failed")
        except BaseException:
            # the status page tells the truth even when the run stops here: this notebook failed, the
            # ones after it did not run, and the pages keep what an earlier run left
            failed = NotebookRun(nb.stem, time.perf_counter() - t0, params[nb.stem], target, outcome="failed")
            run.runs.append(failed)
            entry = record.setdefault(nb.stem, {"shown": None})
            entry["last"] = attempt_record(failed, run)
            report()
            raise
        injected = executed.get("metadata", {}).get("seleak", {}).get("parameters", params[nb.stem])
        # the page shows what ran: the parameters cell holds the injected values, a box names the profile
        show_parameters_that_ran(executed, injected)
        add_run_box(executed, run_box(injected, profile, (profile["notebooks"].get(nb.stem) or {}).keys()))
        atomic_write_text(target, json.dumps(executed, indent=1, ensure_ascii=False) + "\n")
        done = NotebookRun(nb.stem, time.perf_counter() - t0, dict(injected), target)
        run.runs.append(done)
        record[nb.stem] = {"last": attempt_record(done, run)}
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
