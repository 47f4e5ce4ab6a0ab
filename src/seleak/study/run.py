"""Running a study: every cell of the grid, locally or on a Dask cluster, into one tidy table.

A run holds ``OUT/.lock``, so a second run on the same folder is refused instead of repeating the
work. Cells run in local processes (joblib) or on a Dask cluster (``scheduler="tcp://HOST:PORT"``) with
the same results, because every cell's numbers depend on its settings only.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from seleak import __version__
from seleak._io import FolderBusyError, atomic_write_text, folder_lock
from seleak._validation import check_int, check_str
from seleak.profiles import find_project_root
from seleak.study.cell import (
    Cell,
    compute_cell,
    prepare_embedders,
    study_cells,
    table_rows,
)
from seleak.study.config import StudyConfig, StudyConfigError

#: Columns every results table has, in this order (more may follow). ``k`` keeps its binding name and is
#: the scheme's amount in the unit of its ``family``: encrypted planes for ``msb``/``lsb``/``planes``
#: (0-8), the encrypted area fraction for ``region``, the number of encrypted AC signs for ``dct``
#: (``Scheme.amount``); compare ``k`` only within one family.
COLUMNS = [
    "block",
    "dataset",
    "split",
    "embedding",
    "scheme",
    "cleanup",
    "family",
    "k",
    "estimator",
    "estimator_name",
    "seed",
    "n",
    "n_eval",
    "representation",
    "mi_nats",
    "mi_bits",
    "ci_low",
    "ci_high",
    "interval",
    "p_value",
    "p_adjusted",
    "significant",
    "lower_bound_nats",
    "upper_bound_nats",
    "upper_bound_kind",
    "ceiling_nats",
    "saturated",
    "degenerate",
    "is_bound",
    "seed_sd",
    "lower_bound_method",
    "pixel_mi_bits",
    "pixel_mi_exact_bits",
    "entropy_bits",
    "corr_h",
    "npcr",
    "npcr_expected",
    "uaci",
    "uaci_expected",
    "psnr_db",
    "ssim",
    "settings",
    "flags",
    "wall_s",
    "cell_key",
]


def study_folder(profile: str, seed: int = 0, out_dir: str | os.PathLike[str] = "") -> Path:
    """Where the book keeps the study of ``profile``: ``out_dir`` if given, else
    ``_build/study/PROFILE`` under the project root (``PROFILE-seedN`` for a seed-shifted study), so the
    chapters that read one study share its cache."""
    if out_dir:
        return Path(out_dir)
    root = find_project_root()
    if root is None:
        raise FileNotFoundError(f"no seleak project at or above {Path.cwd()}: pass out_dir, the study folder")
    return root / "_build" / "study" / (profile if seed == 0 else f"{profile}-seed{seed}")


@dataclass
class StudyRun:
    """What :func:`run_study` did."""

    table: pd.DataFrame
    out: Path
    computed: int = 0
    cached: int = 0
    seconds: float = 0.0
    executor: str = "local"


def _run_local(todo: Sequence[Cell], workers: int) -> Iterator[list[dict[str, Any]]]:
    if workers <= 1 or len(todo) <= 1:
        for cell in todo:
            yield compute_cell(cell)
        return
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered")
    yield from parallel(delayed(compute_cell)(cell) for cell in todo)


def _run_dask(todo: Sequence[Cell], scheduler: str) -> Iterator[list[dict[str, Any]]]:
    try:
        from dask.distributed import Client, as_completed
    except ImportError as err:  # pragma: no cover - dask is in requirements.txt
        raise RuntimeError("scheduler= needs dask.distributed: pip install 'dask[distributed]'") from err
    with Client(scheduler, timeout="30s") as client:
        futures = client.map(compute_cell, list(todo), pure=False)
        for future in as_completed(futures):
            yield future.result()


def _needed(cell: Cell) -> set[str]:
    """The cache files ``cell`` still needs (missing or invalid)."""
    read = cell.read_cache()
    need = {str(cell.estimator_path(e)) for e in cell.grid.estimators if read.rows[e.label] is None}
    if read.pixel is None:
        need.add(str(cell.pixel_path()))
    return need


def split_repeats(todo: Sequence[Cell]) -> tuple[list[Cell], list[Cell]]:
    """``todo`` split into the cells to compute and the *repeats*: cells whose every missing row an
    earlier cell of ``todo`` computes (two blocks measuring the same setting share cache files, since
    the block is not part of a row's key). Repeats are read from the cache once the others are done,
    instead of computing the same rows twice in parallel."""
    claimed: set[str] = set()
    first, repeats = [], []
    for cell in todo:
        need = _needed(cell)
        if need and need <= claimed:
            repeats.append(cell)
        else:
            first.append(cell)
            claimed |= need
    return first, repeats


class StudyBusyError(FolderBusyError):
    """Another process is running a study on the same output folder (the message names its pid)."""


def run_study(
    config: StudyConfig,
    out: str | os.PathLike[str],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> StudyRun:
    """Run (or resume) a study and write ``OUT/results.csv``; return the tidy table.

    The run holds ``OUT/.lock`` while it works: a second run on the same folder is refused at once
    (:class:`StudyBusyError`) instead of computing every cell a second time. Cached rows are validated
    as they are read; a damaged or mismatched file is named in a warning and its cell is recomputed.
    ``computed`` counts the cells that needed any computation, ``cached`` those read wholly from cache.
    """
    if scheduler is not None:
        check_str(scheduler, "scheduler", error=StudyConfigError)
    if workers is not None:
        check_int(workers, "workers", minimum=1, error=StudyConfigError)
    out_path = Path(out)
    message = (
        "another seleak study is running on {folder} (lock held by pid {pid}); wait for it to "
        "finish or use another --out"
    )
    try:
        with folder_lock(out_path, message):
            return _run_locked(config, out_path, scheduler=scheduler, workers=workers, progress=progress)
    except FolderBusyError as err:
        raise StudyBusyError(str(err), err.pid) from None


def _run_locked(
    config: StudyConfig, out_path: Path, *, scheduler: str | None, workers: int | None, progress: bool
) -> StudyRun:
    from tqdm import tqdm  # plain bars: tqdm.auto wants ipywidgets inside notebooks

    scheduler = scheduler or config.scheduler
    workers = workers or config.workers
    t0 = time.perf_counter()
    all_cells = study_cells(config, out_path)
    todo: list[Cell] = []
    rows: list[dict[str, Any]] = []
    n_done = 0
    for cell in all_cells:
        read = cell.read_cache()
        for problem in read.problems:
            warnings.warn(problem, RuntimeWarning, stacklevel=3)
        if read.complete:
            rows.extend(table_rows(cell, read.rows, read.pixel))
            n_done += 1
        else:
            todo.append(cell)
    if todo:
        prepare_embedders(config.grids)
        first, repeats = split_repeats(todo)
        runner = _run_dask(first, scheduler) if scheduler else _run_local(first, workers)
        bar = tqdm(total=len(todo), desc=f"study {config.name}", unit="cell", disable=not progress)
        for cell_rows in runner:
            rows.extend(cell_rows)
            bar.update(1)
        for cell in repeats:  # every row was computed by another block's cell: read from the cache
            rows.extend(compute_cell(cell))
            bar.update(1)
        bar.close()
    table = adjust_block_p_values(tidy(rows), config)
    atomic_write_text(out_path / "results.csv", table.to_csv(index=False))
    meta = {
        "name": config.name,
        "version": __version__,
        "cells": len(all_cells),
        "computed": len(todo),
        "cached": n_done,
        "seconds": time.perf_counter() - t0,
        "executor": f"dask {scheduler}" if scheduler else f"local x{workers}",
        "config": json.loads(json.dumps(asdict(config), default=str)),
    }
    atomic_write_text(out_path / "study.json", json.dumps(meta, indent=1))
    return StudyRun(
        table, out_path, computed=len(todo), cached=n_done, seconds=meta["seconds"], executor=meta["executor"]
    )


def tidy(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows → the study's table: the known columns first, sorted so that equal studies give equal files."""
    table = pd.DataFrame(list(rows))
    for col in COLUMNS:
        if col not in table:
            table[col] = "none" if col == "cleanup" else np.nan  # rows without one: the SE images as they are
    table = table[COLUMNS + [c for c in table.columns if c not in COLUMNS]]
    if len(table):
        table = table.sort_values(
            ["block", "dataset", "embedding", "family", "k", "scheme", "cleanup", "estimator", "seed"], kind="stable"
        ).reset_index(drop=True)
    return table


def adjust_block_p_values(table: pd.DataFrame, config: StudyConfig) -> pd.DataFrame:
    """``p_adjusted`` and ``significant`` of every row: each block is one family (the rows a chapter
    table reports together), adjusted by the study's ``adjust`` method (Holm: family-wise error; BH:
    false discovery rate); ``significant`` is ``p_adjusted <= alpha`` of the block."""
    from seleak.stats import adjust_p_values, significant

    table = table.copy()
    table["p_adjusted"] = np.nan
    table["significant"] = False
    for g in config.grids:
        rows = table.index[table["block"] == g.block]
        if len(rows):
            adj = adjust_p_values(table.loc[rows, "p_value"].to_numpy(dtype=float), method=g.adjust)
            table.loc[rows, "p_adjusted"] = adj
            table.loc[rows, "significant"] = [significant(p, g.alpha) for p in adj]
    return table


def read_results(out: str | os.PathLike[str]) -> pd.DataFrame:
    """Read ``OUT/results.csv`` written by :func:`run_study`."""
    path = Path(out) / "results.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run `seleak study --profile NAME --out {out}` first")
    return pd.read_csv(path)
