"""What a run did: the results of :func:`~seleak.runner.run_book`, the run record kept across runs
(``_build/runs.json``) and the book's status page built from it."""

from __future__ import annotations

import datetime as _dt
import json
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from seleak._io import atomic_write_text


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
    """The result of :func:`~seleak.runner.run_book`."""

    profile: str
    device: str
    runs: list[NotebookRun] = field(default_factory=list)
    html_index: Path | None = None


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
        if isinstance(entry, dict) and all(
            _valid_attempt(entry.get(k)) or (k == "shown" and entry.get(k) is None) for k in ("last", "shown")
        ):
            ok[stem] = entry
    return ok


def _valid_attempt(a: Any) -> bool:
    return (
        isinstance(a, dict)
        and a.get("outcome") in ("ran", "failed")
        and isinstance(a.get("when"), str)
        and (a.get("seconds") is None or isinstance(a.get("seconds"), (int, float)))
        and isinstance(a.get("parameters"), dict)
        and isinstance(a.get("profile"), str)
        and isinstance(a.get("device"), str)
    )


def write_runs(path: Path, runs: dict[str, dict[str, Any]]) -> None:
    atomic_write_text(
        path, json.dumps({"format": RUNS_FORMAT, "notebooks": runs}, indent=1, sort_keys=True, default=str) + "\n"
    )


def unrecorded_run(staged: Path) -> dict[str, Any] | None:
    """A staged notebook executed by an earlier run that the record does not know (it was lost or
    damaged): what the notebook itself says about that run, as a run record entry (profile and time
    unknown), or ``None`` if it was never executed."""
    try:
        meta = json.loads(staged.read_text()).get("metadata", {})
    except (OSError, ValueError, AttributeError):
        return None
    params = meta.get("seleak", {}).get("parameters") if isinstance(meta.get("seleak"), dict) else None
    if not isinstance(params, dict):
        return None
    return {
        "outcome": "ran",
        "when": "",
        "seconds": None,
        "parameters": params,
        "profile": "?",
        "device": str(params.get("device", "?")),
    }


def attempt_record(r: NotebookRun, run: BookRun) -> dict[str, Any]:
    """The run record's entry for one notebook of ``run`` (as :func:`read_runs` checks it), stamped now."""
    return {
        "outcome": r.outcome,
        "when": _now(),
        "seconds": round(r.seconds, 3),
        "parameters": r.parameters,
        "profile": run.profile,
        "device": str(r.parameters.get("device", run.device)),
    }


def _which_run(attempt: dict[str, Any]) -> str:
    return f"the run of {attempt['when']}" if attempt["when"] else "an earlier run missing from the run record"


def _md(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def write_status_page(
    stage: Path,
    run: BookRun,
    total_seconds: float,
    notebooks: Sequence[str] | None = None,
    record: dict[str, dict[str, Any]] | None = None,
) -> None:
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
            info = {
                "when": "this run",
                "seconds": r.seconds,
                "parameters": r.parameters,
                "profile": run.profile,
                "device": str(r.parameters.get("device", run.device)),
            }
            if r.outcome == "ran":
                outcome = "ran"
                counts["ran"] += 1
            else:
                counts["failed"] += 1
                outcome = (
                    "**failed**; the page shows " + _which_run(shown)
                    if shown
                    else "**failed**; the page shows the notebook without outputs"
                )
        elif shown:
            counts["kept"] += 1
            info = shown
            outcome = f"not run this time; kept from {_which_run(shown)}"
        else:
            counts["never"] += 1
            info = None
            last = entry.get("last")
            outcome = (
                f"not run this time; {_which_run(last)} failed; shown without outputs"
                if last
                else "never run; shown without outputs"
            )
        if info is None:
            rows.append(f"| {_md(name)} | {outcome} | | |")
        else:
            # plain text that wraps inside the column: profile, device, then each injected parameter
            params = "; ".join(f"{k} = {json.dumps(v, default=str)}" for k, v in sorted(info["parameters"].items()))
            seconds = "?" if info["seconds"] is None else f"{float(info['seconds']):.1f}"
            rows.append(
                f"| {_md(name)} | {outcome} | {seconds} | profile {_md(info['profile'])}, device "
                f"{_md(info['device'])}{': ' + _md(params) if params else ''} |"
            )
    pkgs = (
        "seleak",
        "torch",
        "torchvision",
        "numpy",
        "scipy",
        "scikit-learn",
        "scikit-image",
        "pycryptodome",
        "papermill",
        "jupyter-book",
    )
    versions = "\n".join(f"| {p} | {version(p)} |" for p in pkgs)
    text = f"""# Build status

This page is written by `seleak book` each time it runs the notebooks; it lists every notebook of the
book, whether it ran this time, and with which settings the output you see was made.

- Profile of this run: **{run.profile}**
- Device requested: **{run.device}**
- Python {platform.python_version()} on {platform.platform()}
- Written {_now()}; notebooks executed this run: {counts["ran"] + counts["failed"]}
  ({counts["ran"]} ran, {counts["failed"]} failed) in {total_seconds:.1f} s; kept from earlier runs:
  {counts["kept"]}; never run: {counts["never"]}

| notebook | outcome | seconds | ran with (profile, device, the parameters papermill injected) |
| --- | --- | --- | --- |
{chr(10).join(rows) or "| (no notebooks) | | | |"}

| package | version |
| --- | --- |
{versions}
"""
    atomic_write_text(stage / "book" / "status.md", text)
