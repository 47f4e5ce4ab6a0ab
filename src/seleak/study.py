"""The leakage study: a grid of experiments turned into one tidy table.

A study is a grid — data sets × embedders × schemes × estimators × seeds — described by the ``study``
section of a profile (``profiles/NAME.yaml``); the notebooks and ``seleak study`` read the same
profiles. For every *cell* (one data set, embedder, scheme and seed) the study

1. loads the images (the same sample for every cell of a data set),
2. encrypts them with the cell's scheme under a key derived from the seed (each seed is a fresh key;
   nonces come from the seed too: the reproducible, study-only mode of :func:`seleak.encryption.encrypt`),
3. embeds plain and encrypted images,
4. estimates ``I(f(X); f(SE(X)))`` with every estimator, with an interval and a permutation p-value,
5. adds the pixel-level view (plug-in and exact pixel MI) and the classic SE metrics.

Every (cell, estimator) result is cached under ``OUT/cells/`` by a content hash of everything it depends
on and written atomically, so an interrupted run resumes where it stopped and a changed setting
recomputes only the rows it touches. Cells run in local processes (joblib) or on a Dask cluster
(``scheduler="tcp://HOST:PORT"``) with the same results.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from seleak import __version__
from seleak._io import atomic_write_text, hash_config, read_profile

#: Columns every results table has, in this order (more may follow).
COLUMNS = [
    "block", "dataset", "embedding", "scheme", "family", "k", "estimator", "estimator_name", "seed", "n",
    "mi_nats", "mi_bits", "ci_low", "ci_high", "p_value", "significant", "bound_nats", "degenerate",
    "pixel_mi_bits", "pixel_mi_exact_bits", "entropy_bits", "corr_h", "npcr", "uaci", "psnr_db", "ssim",
    "settings", "flags", "wall_s", "cell_key",
]

STUDY_KEYS = {
    "datasets": "data set names for seleak.data.load_dataset, or a mapping name -> {root, split, size}",
    "n": "images per data set",
    "data_seed": "seed of the image sample (the same images for every cell)",
    "embeddings": "embedder specs for seleak.embedding.get_embedder",
    "embedding_seed": "seed of the embedders (training / random weights)",
    "schemes": "scheme specs for seleak.encryption.parse_scheme; 'msb:0..8' expands to a range",
    "estimators": "mapping label -> settings (key 'estimator' names the registry entry, default: label)",
    "seeds": "list of seeds, or a count (0..count-1): each seed is a fresh key and estimator seed",
    "permutations": "permutations of the significance test",
    "bootstrap": "subsamples for the intervals of the non-neural estimators",
    "neural_seeds": "critics (seeds, trained together) behind the interval of a neural estimate",
    "level": "confidence level of the intervals",
    "alpha": "significance level for the 'significant' column",
    "device": "torch device for embedders and neural estimators",
    "pixel_metrics": "compute pixel-level MI and the classic SE metrics",
    "embed_batch_size": "images per embedding batch",
    "threads_per_cell": "torch threads inside a cell (fixed, so results do not depend on the scheduler)",
    "workers": "local processes (1 = in this process)",
    "scheduler": "Dask scheduler address (tcp://HOST:PORT) to run cells on a cluster",
    "blocks": "list of partial grids, each {name, ...keys} overriding the keys above",
}

DEFAULTS: dict[str, Any] = {
    "datasets": ["digits"],
    "n": 500,
    "data_seed": 0,
    "embeddings": ["trained:digits"],
    "embedding_seed": 0,
    "schemes": ["msb:0..8"],
    "estimators": {"gaussian": {}},
    "seeds": 1,
    "permutations": 199,
    "bootstrap": 100,
    "neural_seeds": 3,
    "level": 0.95,
    "alpha": 0.01,
    "device": "cpu",
    "pixel_metrics": True,
    "embed_batch_size": 256,
    "threads_per_cell": 1,
    "workers": 1,
    "scheduler": None,
}

# Bump when a change to the computation changes cached numbers.
CACHE_VERSION = "cell-v3"


class StudyConfigError(ValueError):
    """A study profile that cannot run; the message names the key and the valid choices."""


# --------------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EstimatorSpec:
    label: str
    name: str
    settings: Mapping[str, Any]


@dataclass(frozen=True)
class Grid:
    """One product grid of the study (a *block*)."""

    block: str
    datasets: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]
    n: int
    data_seed: int
    embeddings: tuple[str, ...]
    embedding_seed: int
    schemes: tuple[str, ...]
    estimators: tuple[EstimatorSpec, ...]
    seeds: tuple[int, ...]
    permutations: int
    bootstrap: int
    neural_seeds: int
    level: float
    alpha: float
    device: str
    pixel_metrics: bool
    embed_batch_size: int
    threads_per_cell: int


@dataclass(frozen=True)
class StudyConfig:
    """A validated study: its grids and how to execute them."""

    grids: tuple[Grid, ...]
    workers: int = 1
    scheduler: str | None = None
    name: str = "study"

    @property
    def n_cells(self) -> int:
        return sum(len(g.datasets) * len(g.embeddings) * len(g.schemes) * len(g.seeds) for g in self.grids)


def expand_schemes(specs: Iterable[str]) -> tuple[str, ...]:
    """``"msb:0..8"`` → ``msb:0 … msb:8``; every spec is checked by ``parse_scheme``."""
    from seleak.encryption import parse_scheme

    out: list[str] = []
    for spec in specs:
        spec = str(spec)
        head, _, tail = spec.rpartition(":")
        if ".." in tail and head:
            lo, hi = (int(v) for v in tail.split(".."))
            candidates = [f"{head}:{k}" for k in range(lo, hi + 1)]
        else:
            candidates = [spec]
        for c in candidates:
            try:
                out.append(parse_scheme(c).spec)
            except (ValueError, TypeError) as err:
                raise StudyConfigError(f"study: bad scheme {c!r}: {err}") from None
    return tuple(dict.fromkeys(out))


def _estimators(raw: Any) -> tuple[EstimatorSpec, ...]:
    from seleak.estimators import available_estimators, get_estimator

    if isinstance(raw, (list, tuple)):
        raw = {str(name): {} for name in raw}
    if not isinstance(raw, Mapping) or not raw:
        raise StudyConfigError("study: 'estimators' must be a non-empty mapping label -> settings")
    specs = []
    for label, settings in raw.items():
        settings = dict(settings or {})
        name = str(settings.pop("estimator", label))
        if name not in available_estimators():
            raise StudyConfigError(
                f"study: unknown estimator {name!r} (entry {label!r}); valid: {', '.join(available_estimators())}"
            )
        try:
            get_estimator(name, **settings)
        except (TypeError, ValueError) as err:
            raise StudyConfigError(f"study: estimator {label!r}: {err}") from None
        specs.append(EstimatorSpec(str(label), name, settings))
    return tuple(specs)


def _datasets(raw: Any) -> tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]:
    from seleak.data import available_datasets

    if isinstance(raw, str):
        raw = [raw]
    items = raw.items() if isinstance(raw, Mapping) else ((name, {}) for name in raw)
    out = []
    known = available_datasets()
    for name, opts in items:
        if name not in known:
            raise StudyConfigError(f"study: unknown data set {name!r}; valid: {', '.join(known)}")
        opts = dict(opts or {})
        bad = set(opts) - {"root", "split", "size", "download"}
        if bad:
            raise StudyConfigError(f"study: data set {name!r} has unknown option(s) {sorted(bad)}; "
                                   "valid: root, split, size, download")
        out.append((str(name), tuple(sorted(opts.items()))))
    return tuple(out)


def _grid(block: str, merged: Mapping[str, Any]) -> Grid:
    seeds = merged["seeds"]
    seeds_t = tuple(range(int(seeds))) if isinstance(seeds, int) else tuple(int(s) for s in seeds)
    if not seeds_t:
        raise StudyConfigError("study: 'seeds' is empty")
    for key in ("n", "permutations", "bootstrap", "neural_seeds", "embed_batch_size", "threads_per_cell"):
        if not isinstance(merged[key], int) or merged[key] < (2 if key in ("bootstrap", "neural_seeds") else 1):
            raise StudyConfigError(f"study: {key!r} must be a positive integer, got {merged[key]!r}")
    if not 0 < float(merged["level"]) < 1 or not 0 < float(merged["alpha"]) < 1:
        raise StudyConfigError("study: 'level' and 'alpha' must lie strictly between 0 and 1")
    embeddings = tuple(str(e) for e in merged["embeddings"])
    if not embeddings:
        raise StudyConfigError("study: 'embeddings' is empty")
    return Grid(
        block=block,
        datasets=_datasets(merged["datasets"]),
        n=int(merged["n"]),
        data_seed=int(merged["data_seed"]),
        embeddings=embeddings,
        embedding_seed=int(merged["embedding_seed"]),
        schemes=expand_schemes(merged["schemes"]),
        estimators=_estimators(merged["estimators"]),
        seeds=seeds_t,
        permutations=int(merged["permutations"]),
        bootstrap=int(merged["bootstrap"]),
        neural_seeds=int(merged["neural_seeds"]),
        level=float(merged["level"]),
        alpha=float(merged["alpha"]),
        device=str(merged["device"]),
        pixel_metrics=bool(merged["pixel_metrics"]),
        embed_batch_size=int(merged["embed_batch_size"]),
        threads_per_cell=int(merged["threads_per_cell"]),
    )


def config_from_mapping(study: Mapping[str, Any], name: str = "study", **overrides: Any) -> StudyConfig:
    """Validate a ``study`` mapping (a profile's section); ``overrides`` replace its top-level keys."""
    if not isinstance(study, Mapping):
        raise StudyConfigError(f"study: expected a mapping, got {type(study).__name__}")
    study = {**study, **{k: v for k, v in overrides.items() if v is not None}}
    unknown = sorted(set(study) - set(STUDY_KEYS))
    if unknown:
        raise StudyConfigError(f"study: unknown key(s) {unknown}; valid keys: {', '.join(sorted(STUDY_KEYS))}")
    base = {**DEFAULTS, **{k: v for k, v in study.items() if k != "blocks"}}
    blocks = study.get("blocks") or [{"name": "main"}]
    grids = []
    for i, block in enumerate(blocks):
        block = dict(block)
        label = str(block.pop("name", f"block{i}"))
        allowed = set(STUDY_KEYS) - {"workers", "scheduler", "blocks"}
        bad = sorted(set(block) - allowed)
        if bad:
            raise StudyConfigError(f"study: block {label!r} has unknown or misplaced key(s) {bad}; "
                                   f"valid keys in a block: name, {', '.join(sorted(allowed))}")
        grids.append(_grid(label, {**base, **block}))
    workers = base["workers"]
    if not isinstance(workers, int) or workers < 1:
        raise StudyConfigError(f"study: 'workers' must be a positive integer, got {workers!r}")
    return StudyConfig(grids=tuple(grids), workers=workers, scheduler=base["scheduler"], name=name)


def load_study(profile: str, root: str | os.PathLike[str] | None = None, **overrides: Any) -> StudyConfig:
    """The study of ``profiles/PROFILE.yaml`` (its ``study`` section)."""
    data, path = read_profile(profile, root)
    if "study" not in data:
        raise StudyConfigError(f"profile {path.name} has no 'study' section")
    return config_from_mapping(data["study"], name=path.stem, **overrides)


# --------------------------------------------------------------------------------------------------
# one cell
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One data set × embedder × scheme × seed of a grid, with the estimators to run on it."""

    grid: Grid
    dataset: str
    dataset_opts: tuple[tuple[str, Any], ...]
    embedding: str
    scheme: str
    seed: int
    cache: str  # folder of the per-(cell, estimator) result files

    def base_key(self) -> dict[str, Any]:
        g = self.grid
        return {
            "version": CACHE_VERSION, "dataset": self.dataset, "dataset_opts": self.dataset_opts, "n": g.n,
            "data_seed": g.data_seed, "embedding": self.embedding, "embedding_seed": g.embedding_seed,
            "scheme": self.scheme, "seed": self.seed, "device": g.device, "threads": g.threads_per_cell,
        }

    def estimator_key(self, spec: EstimatorSpec) -> str:
        g = self.grid
        return hash_config({**self.base_key(), "estimator": spec.name, "settings": dict(spec.settings),
                            "permutations": g.permutations, "bootstrap": g.bootstrap, "level": g.level,
                            "neural_seeds": g.neural_seeds})[:24]

    def pixel_key(self) -> str:
        key = {k: v for k, v in self.base_key().items() if k not in ("embedding", "embedding_seed", "threads")}
        return "pixel-" + hash_config(key)[:24]

    def missing(self) -> list[EstimatorSpec]:
        return [e for e in self.grid.estimators if not (Path(self.cache) / f"{self.estimator_key(e)}.json").is_file()]


def study_key(seed: int, nbytes: int = 16) -> bytes:
    """The AES key of a study seed. Reproducible by design: for measuring leakage, never for secrecy."""
    return hashlib.sha256(f"seleak-study-key:{seed}".encode()).digest()[:nbytes]


@lru_cache(maxsize=8)
def _dataset(name: str, opts: tuple[tuple[str, Any], ...], n: int, seed: int):
    from seleak.data import load_dataset

    return load_dataset(name, n=n, seed=seed, **dict(opts))


@lru_cache(maxsize=8)
def _embedder(spec: str, seed: int, device: str):
    from seleak.embedding import get_embedder

    return get_embedder(spec, seed=seed, device=device)


def _family_and_k(scheme: Any) -> tuple[str, float]:
    spec = scheme.spec
    family = spec.split(":", 1)[0]
    amount = getattr(scheme, "amount", None)
    return family, float(amount) if amount is not None else float("nan")


def _pixel_view(plain: np.ndarray, cipher: np.ndarray, scheme: Any) -> dict[str, Any]:
    """Pixel-level MI (plug-in with Miller–Madow correction, and exact where it has a closed form) and
    the classic SE metrics of the encrypted images."""
    from seleak import metrics

    classic = metrics.classic_metrics(plain, cipher)
    row: dict[str, Any] = {}
    for out, key in (("pixel_mi_bits", "mi_plugin_mm_bits"), ("entropy_bits", "entropy_cipher"),
                     ("corr_h", "corr_h_cipher"), ("npcr", "npcr"), ("uaci", "uaci"), ("psnr_db", "psnr"),
                     ("ssim", "ssim")):
        row[out] = float(classic[key])
    try:
        row["pixel_mi_exact_bits"] = float(metrics.pixel_mi_exact(plain, scheme))
    except (TypeError, ValueError, NotImplementedError):
        row["pixel_mi_exact_bits"] = float("nan")  # defined for bit-plane schemes only
    return row


def _saturation_bound(spec: EstimatorSpec, n_eval: int, settings: Mapping[str, Any]) -> float:
    """The largest value the estimator can report (nats), where it has one."""
    if spec.name == "infonce":
        return math.log(int(settings.get("batch_size", 64)))
    if spec.name in ("ksg", "plugin"):
        return math.log(n_eval)  # finite-sample estimates of a deterministic relation stop near log N
    return float("inf")


def informative_columns(z: np.ndarray, min_fraction: float = 0.02) -> np.ndarray:
    """``z`` without the columns that (almost) never vary: dead ReLU units carry no information, the
    estimators refuse constant columns, and a unit that fires on a handful of images becomes constant in
    a resample. A column is kept when at least ``min_fraction`` of the rows differ from its median."""
    varied = (z != np.median(z, axis=0)).mean(axis=0) >= min_fraction
    if not varied.any():
        varied[:1] = True  # an all-constant embedding stays one column; the estimator then says why
    return z[:, varied]


def _estimate_row(cell: Cell, spec: EstimatorSpec, zx: np.ndarray, zy: np.ndarray,
                  degenerate: bool = False) -> dict[str, Any]:
    from seleak import stats
    from seleak.estimators import EstimatorDivergedError, get_estimator, project

    g = cell.grid
    settings = dict(spec.settings)
    pca_dim = settings.pop("pca_dim", None)
    if pca_dim:
        # project once per cell; each side's PCA is fitted on its own rows, so it does not depend on the
        # pairing and the permutation test stays valid (and no permutation pays for an SVD)
        zx, zy = project(zx, zy, int(pca_dim))
    probe = get_estimator(spec.name)
    if "seed" in probe.settings:
        settings.setdefault("seed", cell.seed)
    if "device" in probe.settings:
        settings.setdefault("device", g.device)
    est = get_estimator(spec.name, **settings)
    t0 = time.perf_counter()
    neural = bool(getattr(est, "fixed_critic_null", False))
    try:
        if neural:  # estimate, permutation null and seed interval from one batched training
            test, (low, high) = stats.neural_test(est, zx, zy, n_permutations=g.permutations, level=g.level,
                                                  seeds=range(cell.seed, cell.seed + g.neural_seeds))
        else:
            test = stats.permutation_test(est, zx, zy, n_permutations=g.permutations, seed=cell.seed)
    except (ValueError, EstimatorDivergedError) as err:
        if not degenerate:
            raise
        # f(X) = f(SE(X)): the true MI is infinite; estimators that need a non-singular joint refuse it
        return {
            "estimator": spec.label, "estimator_name": spec.name, "mi_nats": math.inf, "mi_bits": math.inf,
            "ci_low": math.inf, "ci_high": math.inf, "p_value": 1.0 / (g.permutations + 1),
            "significant": True, "bound_nats": math.inf,
            "settings": json.dumps(est.settings, sort_keys=True, default=str),
            "flags": f"degenerate: f(X) = f(SE(X)), I is infinite ({err})", "wall_s": time.perf_counter() - t0,
        }
    if not neural:
        # centred half-sample subsampling: resampling with replacement duplicates rows, which inflates
        # MI estimates, so percentile bootstrap intervals can miss the estimate altogether
        low, high = stats.bootstrap_interval(est, zx, zy, n_boot=g.bootstrap, level=g.level, seed=cell.seed,
                                             scheme="subsample", estimate=test.estimate)
    r = test.estimate
    settings_out = {**dict(r.settings), "pca_dim": pca_dim} if pca_dim else dict(r.settings)
    return {
        "estimator": spec.label, "estimator_name": spec.name, "mi_nats": r.nats, "mi_bits": r.bits,
        "ci_low": float(low), "ci_high": float(high), "p_value": float(test.p_value),
        "significant": bool(test.p_value < g.alpha),
        "bound_nats": _saturation_bound(spec, r.n_eval, r.settings),
        "settings": json.dumps(settings_out, sort_keys=True, default=str),
        "flags": "; ".join(r.flags), "wall_s": time.perf_counter() - t0,
    }


def compute_cell(cell: Cell) -> list[dict[str, Any]]:
    """Compute (or read from the cache) every row of one cell; write each new row atomically."""
    import torch

    from seleak.encryption import encrypt, parse_scheme

    g = cell.grid
    cache = Path(cell.cache)
    cached = {e.label: _read_json(cache / f"{cell.estimator_key(e)}.json") for e in g.estimators}
    todo = [e for e in g.estimators if cached[e.label] is None]
    pixel = _read_json(cache / f"{cell.pixel_key()}.json") if g.pixel_metrics else {}
    scheme = parse_scheme(cell.scheme)
    family, k = _family_and_k(scheme)
    if todo or pixel is None:
        from threadpoolctl import threadpool_limits

        threads = torch.get_num_threads()
        torch.set_num_threads(g.threads_per_cell)
        # BLAS threads beyond the cores spin against each other: a 300x128 SVD took 2.4 s, not 10 ms
        limits = threadpool_limits(g.threads_per_cell)
        try:
            ds = _dataset(cell.dataset, cell.dataset_opts, g.n, g.data_seed)
            ct = encrypt(ds.images, study_key(cell.seed), scheme, seed=cell.seed)
            if pixel is None:
                pixel = _pixel_view(ds.images, ct.images, scheme)
                _write_json(cache / f"{cell.pixel_key()}.json", pixel)
            if todo:
                emb = _embedder(cell.embedding, g.embedding_seed, g.device)
                zx = emb.embed(ds.images, batch_size=g.embed_batch_size, progress=False)
                zy = emb.embed(ct.images, batch_size=g.embed_batch_size, progress=False)
                degenerate = bool(np.array_equal(zx, zy))
                zx, zy = informative_columns(zx), informative_columns(zy)
                for spec in todo:
                    row = _estimate_row(cell, spec, zx, zy, degenerate)
                    row["degenerate"] = degenerate
                    _write_json(cache / f"{cell.estimator_key(spec)}.json", row)
                    cached[spec.label] = row
        finally:
            torch.set_num_threads(threads)
            limits.restore_original_limits()
    rows = []
    for spec in g.estimators:
        row = dict(cached[spec.label])
        row.update(pixel or {})
        row.update({
            "block": g.block, "dataset": cell.dataset, "embedding": cell.embedding, "scheme": cell.scheme,
            "family": family, "k": k, "seed": cell.seed, "n": g.n, "cell_key": cell.estimator_key(spec),
        })
        rows.append(row)
    return rows


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None  # missing or damaged: recompute


def _write_json(path: Path, obj: Mapping[str, Any]) -> None:
    atomic_write_text(path, json.dumps(obj, sort_keys=True, default=_json_default))


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return o.item()
    return str(o)


# --------------------------------------------------------------------------------------------------
# the grid
# --------------------------------------------------------------------------------------------------


def cells(config: StudyConfig, out: str | os.PathLike[str]) -> list[Cell]:
    """Every cell of the study, in a fixed order."""
    cache = str(Path(out) / "cells")
    result = []
    for g in config.grids:
        for ds, opts in g.datasets:
            for emb in g.embeddings:
                for scheme in g.schemes:
                    for seed in g.seeds:
                        result.append(Cell(g, ds, opts, emb, scheme, seed, cache))
    return result


@dataclass
class StudyRun:
    """What :func:`run_study` did."""

    table: pd.DataFrame
    out: Path
    computed: int = 0
    cached: int = 0
    seconds: float = 0.0
    executor: str = "local"


def _prepare(config: StudyConfig) -> None:
    """Train/load every embedder once, in this process, before cells fan out (their caches are shared)."""
    for g in config.grids:
        for emb in g.embeddings:
            _embedder(emb, g.embedding_seed, g.device)


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


def run_study(
    config: StudyConfig,
    out: str | os.PathLike[str],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> StudyRun:
    """Run (or resume) a study and write ``OUT/results.csv``; return the tidy table."""
    from tqdm import tqdm  # plain bars: tqdm.auto wants ipywidgets inside notebooks

    out_path = Path(out)
    out_path.mkdir(parents=True, exist_ok=True)
    scheduler = scheduler or config.scheduler
    workers = workers or config.workers
    t0 = time.perf_counter()
    all_cells = cells(config, out_path)
    todo = [c for c in all_cells if c.missing() or (c.grid.pixel_metrics and
                                                    not (Path(c.cache) / f"{c.pixel_key()}.json").is_file())]
    done = [c for c in all_cells if c not in todo]
    rows: list[dict[str, Any]] = []
    for cell in done:
        rows.extend(compute_cell(cell))  # all cached: reads files only
    if todo:
        _prepare(config)
        runner = _run_dask(todo, scheduler) if scheduler else _run_local(todo, workers)
        bar = tqdm(total=len(todo), desc=f"study {config.name}", unit="cell", disable=not progress)
        for cell_rows in runner:
            rows.extend(cell_rows)
            bar.update(1)
        bar.close()
    table = tidy(rows)
    atomic_write_text(out_path / "results.csv", table.to_csv(index=False))
    meta = {"name": config.name, "version": __version__, "cells": len(all_cells), "computed": len(todo),
            "cached": len(done), "seconds": time.perf_counter() - t0,
            "executor": f"dask {scheduler}" if scheduler else f"local x{workers}",
            "config": json.loads(json.dumps(asdict(config), default=str))}
    atomic_write_text(out_path / "study.json", json.dumps(meta, indent=1))
    return StudyRun(table, out_path, computed=len(todo), cached=len(done), seconds=meta["seconds"],
                    executor=meta["executor"])


def tidy(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows → the study's table: the known columns first, sorted so that equal studies give equal files."""
    table = pd.DataFrame(list(rows))
    for col in COLUMNS:
        if col not in table:
            table[col] = np.nan
    table = table[COLUMNS + [c for c in table.columns if c not in COLUMNS]]
    if len(table):
        table = table.sort_values(["block", "dataset", "embedding", "family", "k", "scheme", "estimator", "seed"],
                                  kind="stable").reset_index(drop=True)
    return table


def read_results(out: str | os.PathLike[str]) -> pd.DataFrame:
    """Read ``OUT/results.csv`` written by :func:`run_study`."""
    path = Path(out) / "results.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run `seleak study --profile NAME --out {out}` first")
    return pd.read_csv(path)


# --------------------------------------------------------------------------------------------------
# reading the table
# --------------------------------------------------------------------------------------------------

KEYS = ["block", "dataset", "embedding", "scheme", "family", "k", "estimator"]


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """One row per setting, aggregated over seeds.

    ``mi_nats`` is the mean over seeds; ``ci_low``/``ci_high`` the widest of the per-seed intervals and
    the seed spread (min/max of the seeds' estimates), so the interval covers both the sampling error and
    the key/initialisation randomness; ``p_value`` the largest over seeds (conservative: a setting is
    called significant only if every seed is).
    """
    grouped = table.groupby(KEYS, dropna=False, sort=False)
    out = grouped.agg(
        estimator_name=("estimator_name", "first"), mi_nats=("mi_nats", "mean"), mi_sd=("mi_nats", "std"), mi_min=("mi_nats", "min"),
        mi_max=("mi_nats", "max"), ci_low=("ci_low", "min"), ci_high=("ci_high", "max"),
        p_value=("p_value", "max"), bound_nats=("bound_nats", "first"), degenerate=("degenerate", "all"),
        pixel_mi_bits=("pixel_mi_bits", "mean"), pixel_mi_exact_bits=("pixel_mi_exact_bits", "mean"),
        entropy_bits=("entropy_bits", "mean"), corr_h=("corr_h", "mean"), npcr=("npcr", "mean"),
        uaci=("uaci", "mean"), psnr_db=("psnr_db", "mean"), ssim=("ssim", "mean"),
        seeds=("seed", "nunique"), n=("n", "first"), wall_s=("wall_s", "sum"),
    ).reset_index()
    out["ci_low"] = np.minimum(out["ci_low"], out["mi_min"])
    out["ci_high"] = np.maximum(out["ci_high"], out["mi_max"])
    out["mi_bits"] = out["mi_nats"] / math.log(2)
    out["saturated"] = out["mi_nats"] >= 0.9 * out["bound_nats"]
    return out


def findings(table: pd.DataFrame, *, family: str = "msb", strong: float = 0.01, weak: float = 0.05,
             block: str | None = None) -> pd.DataFrame:
    """The study's expected findings, checked per (data set, embedding, estimator).

    1. leakage is significant (p < ``strong``) at k = 1 and 2 of ``family`` for every estimator that
       is not saturated there;
    2. there is no evidence of leakage (p > ``weak``) under full encryption;
    3. the estimates do not increase with k, within their intervals (the mean at k+1 is at most the upper
       end of the interval at k).

    Returns one row per check with ``passed`` and a ``detail`` that quotes the numbers.
    """
    s = summarize(table if block is None else table[table["block"] == block])
    checks = []
    for (blk, ds, emb, est), g in s.groupby(["block", "dataset", "embedding", "estimator"], sort=True):
        fam = g[g["family"] == family].sort_values("k")
        for k in (1, 2):
            row = fam[fam["k"] == k]
            if row.empty:
                continue
            r = row.iloc[0]
            if bool(r["saturated"]):
                checks.append((blk, ds, emb, est, f"significant at {family}:{k}", True,
                               f"skipped: saturated ({r['mi_nats']:.2f} of {r['bound_nats']:.2f} nats)"))
                continue
            checks.append((blk, ds, emb, est, f"significant at {family}:{k}", bool(r["p_value"] < strong),
                           f"p = {r['p_value']:.4f}, I = {r['mi_nats']:.3f} nats"))
        full = g[g["family"] == "full"]
        if not full.empty:
            r = full.iloc[0]
            checks.append((blk, ds, emb, est, "no evidence under full", bool(r["p_value"] > weak),
                           f"p = {r['p_value']:.3f}, I = {r['mi_nats']:.3f} nats"))
        fam = fam[fam["k"] >= 1]  # k = 0 is degenerate: f(X) = f(SE(X))
        if len(fam) >= 2:
            mean, high, ks = fam["mi_nats"].to_numpy(), fam["ci_high"].to_numpy(), fam["k"].to_numpy()
            bad = [f"k={int(ks[i])}->{int(ks[i + 1])}: {mean[i + 1]:.3f} > {high[i]:.3f}"
                   for i in range(len(ks) - 1) if mean[i + 1] > high[i] + 1e-9]
            checks.append((blk, ds, emb, est, f"non-increasing in k ({family})", not bad,
                           "; ".join(bad) or f"{len(ks)} values, k={int(ks[0])}..{int(ks[-1])}"))
    return pd.DataFrame(checks, columns=["block", "dataset", "embedding", "estimator", "check", "passed", "detail"])
