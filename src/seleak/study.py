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
recomputes only the rows it touches. Each cache file carries the hash of the settings it was computed
for and is validated when read (schema, types, finite values, matching hash): a damaged or mismatched
file is named in a warning and recomputed. Values derived from a cached one under settings outside the
key (``significant`` at ``alpha``, ``mi_bits``) are computed when the table is made, never cached. A run
holds ``OUT/.lock``, so a second run on the same folder is refused instead of repeating the work. Cells run in local processes (joblib) or on a Dask cluster
(``scheduler="tcp://HOST:PORT"``) with the same results.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from seleak import __version__
from seleak._io import FolderBusyError, atomic_write_text, folder_lock, hash_config
from seleak.profiles import read_profile
from seleak._validation import check_bool, check_device, check_float, check_int, check_str, is_int

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
CACHE_VERSION = "cell-v4"  # v4: entries carry their key hash; derived columns not cached


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


_RANGE = re.compile(r"(\d+)\.\.(\d+)")


def expand_schemes(specs: Iterable[str], name: str = "study: 'schemes'") -> tuple[str, ...]:
    """``"msb:0..8"`` → ``msb:0 … msb:8``; every spec is checked by ``parse_scheme``.

    A range is ``LOW..HIGH`` with ``LOW <= HIGH`` (both ends included); an empty or descending range is
    refused, never expanded to nothing.
    """
    from seleak.encryption import parse_scheme

    if isinstance(specs, str):
        specs = [specs]
    if not isinstance(specs, (list, tuple)) or not specs:
        raise StudyConfigError(f"{name} must be a non-empty list of scheme specs (e.g. ['msb:0..8', 'full']), "
                               f"got {specs!r}")
    out: list[str] = []
    for spec in specs:
        if not isinstance(spec, str):
            raise StudyConfigError(f"{name}: every scheme is a string such as 'msb:3', got {spec!r}")
        head, _, tail = spec.rpartition(":")
        if ".." in tail and head:
            m = _RANGE.fullmatch(tail.strip())
            if m is None:
                raise StudyConfigError(f"{name}: bad range {spec!r}; write {head}:LOW..HIGH with integers "
                                       f"LOW <= HIGH, e.g. {head}:0..8")
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo:
                raise StudyConfigError(f"{name}: range {spec!r} is empty ({lo} > {hi}); write it ascending, "
                                       f"{head}:{hi}..{lo}")
            candidates = [f"{head}:{k}" for k in range(lo, hi + 1)]
        else:
            candidates = [spec]
        for c in candidates:
            try:
                out.append(parse_scheme(c).spec)
            except (ValueError, TypeError) as err:
                raise StudyConfigError(f"study: bad scheme {c!r}: {err}") from None
    return tuple(dict.fromkeys(out))


def _estimators(raw: Any, name: str = "study: 'estimators'") -> tuple[EstimatorSpec, ...]:
    from seleak.estimators import available_estimators, get_estimator

    if isinstance(raw, (list, tuple)) and all(isinstance(r, str) for r in raw):
        raw = {str(label): {} for label in raw}
    if not isinstance(raw, Mapping) or not raw:
        raise StudyConfigError(f"{name} must be a non-empty mapping label -> settings (e.g. "
                               f"{{gaussian: {{pca_dim: 8}}}}), got {raw!r}")
    specs = []
    for label, settings in raw.items():
        if settings is not None and not isinstance(settings, Mapping):
            raise StudyConfigError(f"{name}: the settings of {label!r} must be a mapping (e.g. {{k: 3}}), "
                                   f"got {settings!r}")
        settings = dict(settings or {})
        est = settings.pop("estimator", label)
        if not isinstance(est, str) or est not in available_estimators():
            raise StudyConfigError(
                f"study: unknown estimator {est!r} (entry {label!r}); valid: {', '.join(available_estimators())}"
            )
        if "pca_dim" in settings and settings["pca_dim"] is not None:
            _check(check_int, settings["pca_dim"], f"{name}: {label!r}: 'pca_dim'", minimum=1)
        try:
            get_estimator(est, **settings)
        except (TypeError, ValueError) as err:
            raise StudyConfigError(f"study: estimator {label!r}: {err}") from None
        specs.append(EstimatorSpec(str(label), est, settings))
    return tuple(specs)


_DATASET_OPTIONS = ("root", "split", "size", "download")


def _datasets(raw: Any, name: str = "study: 'datasets'") -> tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]:
    from seleak.data import available_datasets

    if isinstance(raw, str):
        raw = [raw]
    if isinstance(raw, Mapping):
        items = list(raw.items())
    elif isinstance(raw, (list, tuple)) and all(isinstance(r, str) for r in raw):
        items = [(r, {}) for r in raw]
    else:
        raise StudyConfigError(f"{name} must be a list of data set names or a mapping name -> "
                               f"{{root, split, size, download}}, got {raw!r}")
    if not items:
        raise StudyConfigError(f"{name} is empty; name at least one data set, e.g. [digits]")
    out = []
    known = available_datasets()
    for ds, opts in items:
        if ds not in known:
            raise StudyConfigError(f"study: unknown data set {ds!r}; valid: {', '.join(known)}")
        if opts is not None and not isinstance(opts, Mapping):
            raise StudyConfigError(f"{name}: the options of {ds!r} must be a mapping ({', '.join(_DATASET_OPTIONS)}), "
                                   f"got {opts!r}")
        opts = dict(opts or {})
        bad = set(opts) - set(_DATASET_OPTIONS)
        if bad:
            raise StudyConfigError(f"study: data set {ds!r} has unknown option(s) {sorted(bad)}; "
                                   f"valid: {', '.join(_DATASET_OPTIONS)}")
        where = f"{name}: {ds!r}"
        if "root" in opts:
            _check(check_str, opts["root"], f"{where}: 'root'")
        if "split" in opts:
            _check(check_str, opts["split"], f"{where}: 'split'", choices=("train", "test", "all"))
        if "download" in opts:
            _check(check_bool, opts["download"], f"{where}: 'download'")
        if "size" in opts and opts["size"] is not None:
            size = opts["size"]
            if isinstance(size, (list, tuple)):
                if len(size) != 2:
                    raise StudyConfigError(f"{where}: 'size' must be an integer or [HEIGHT, WIDTH], got {size!r}")
                opts["size"] = tuple(_check(check_int, s, f"{where}: 'size'", minimum=1) for s in size)
            else:
                _check(check_int, size, f"{where}: 'size'", minimum=1)
        out.append((str(ds), tuple(sorted(opts.items()))))
    return tuple(out)


def _check(check: Callable[..., Any], value: Any, name: str, **kwargs: Any) -> Any:
    return check(value, name, error=StudyConfigError, **kwargs)


def _seeds(value: Any, name: str) -> tuple[int, ...]:
    if is_int(value):  # a count: seeds 0 .. count-1
        return tuple(range(_check(check_int, value, f"{name} (a count)", minimum=1)))
    if not isinstance(value, (list, tuple)):
        raise StudyConfigError(f"{name} must be a list of integers >= 0 or a count >= 1, got {value!r} "
                               f"({type(value).__name__})")
    if not value:
        raise StudyConfigError(f"{name} is empty; give a list of integers >= 0 (e.g. [0, 1]) or a count")
    seeds = tuple(_check(check_int, s, f"{name}: every seed", minimum=0) for s in value)
    if len(set(seeds)) != len(seeds):
        raise StudyConfigError(f"{name} repeats a seed: {list(value)!r}; list each seed once")
    return seeds


def _names(value: Any, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise StudyConfigError(f"{name} must be a non-empty list of strings, got {value!r}")
    return tuple(_check(check_str, v, f"{name}: every entry") for v in value)


def _scheduler(value: Any, name: str) -> str | None:
    if value is None:
        return None
    return _check(check_str, value, name)


# key -> its typed check (value, name of the setting for messages) -> the normalised value
_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "datasets": lambda v, n: _datasets(v, n),
    "n": lambda v, n: _check(check_int, v, n, minimum=1),
    "data_seed": lambda v, n: _check(check_int, v, n, minimum=0),
    "embeddings": _names,
    "embedding_seed": lambda v, n: _check(check_int, v, n, minimum=0),
    "schemes": lambda v, n: expand_schemes(v, n),
    "estimators": lambda v, n: _estimators(v, n),
    "seeds": _seeds,
    "permutations": lambda v, n: _check(check_int, v, n, minimum=1),
    "bootstrap": lambda v, n: _check(check_int, v, n, minimum=2),
    "neural_seeds": lambda v, n: _check(check_int, v, n, minimum=2),
    "level": lambda v, n: _check(check_float, v, n, low=0.0, high=1.0),
    "alpha": lambda v, n: _check(check_float, v, n, low=0.0, high=1.0),
    "device": lambda v, n: _check(check_device, v, n),
    "pixel_metrics": lambda v, n: _check(check_bool, v, n),
    "embed_batch_size": lambda v, n: _check(check_int, v, n, minimum=1),
    "threads_per_cell": lambda v, n: _check(check_int, v, n, minimum=1),
    "workers": lambda v, n: _check(check_int, v, n, minimum=1),
    "scheduler": _scheduler,
}
assert set(_CHECKS) == set(STUDY_KEYS) - {"blocks"}


def _checked(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Each key of ``values`` through its typed check; messages say ``where`` the key sits."""
    return {key: _CHECKS[key](value, f"{where}{key!r}") for key, value in values.items()}


def _grid(block: str, merged: Mapping[str, Any]) -> Grid:
    """A grid from checked values (see :func:`_checked`)."""
    return Grid(block=block, **{k: merged[k] for k in Grid.__dataclass_fields__ if k != "block"})


def config_from_mapping(study: Mapping[str, Any], name: str = "study", **overrides: Any) -> StudyConfig:
    """Validate a ``study`` mapping (a profile's section); ``overrides`` replace its top-level keys.

    Every value is checked for its type and range where it is written (the top level or a block), so
    a message names the key, the bad value and what is allowed.
    """
    if not isinstance(study, Mapping):
        raise StudyConfigError(f"study: expected a mapping of settings, got {type(study).__name__}")
    study = {**study, **{k: v for k, v in overrides.items() if v is not None}}
    unknown = sorted(set(study) - set(STUDY_KEYS))
    if unknown:
        raise StudyConfigError(f"study: unknown key(s) {unknown}; valid keys: {', '.join(sorted(STUDY_KEYS))}")
    top = {k: v for k, v in study.items() if k != "blocks"}
    base = {**_checked(DEFAULTS, "study: default "), **_checked(top, "study: ")}
    blocks = study.get("blocks")
    if blocks is None:
        blocks = [{"name": "main"}]
    if not isinstance(blocks, (list, tuple)) or not blocks:
        raise StudyConfigError(f"study: 'blocks' must be a non-empty list of mappings such as "
                               f"[{{name: paper}}, {{name: more, seeds: [0]}}], got {blocks!r}")
    grids = []
    labels: set[str] = set()
    allowed = set(STUDY_KEYS) - {"workers", "scheduler", "blocks"}
    for i, block in enumerate(blocks):
        if not isinstance(block, Mapping):
            raise StudyConfigError(f"study: 'blocks' entry {i} must be a mapping {{name: ..., KEY: value}}, "
                                   f"got {block!r}")
        block = dict(block)
        label = _check(check_str, block.pop("name", f"block{i}"), f"study: 'blocks' entry {i}: 'name'")
        if label in labels:
            raise StudyConfigError(f"study: two blocks are named {label!r}; give each block its own name")
        labels.add(label)
        bad = sorted(set(block) - allowed)
        if bad:
            raise StudyConfigError(f"study: block {label!r} has unknown or misplaced key(s) {bad}; "
                                   f"valid keys in a block: name, {', '.join(sorted(allowed))}")
        grids.append(_grid(label, {**base, **_checked(block, f"study: block {label!r}: ")}))
    return StudyConfig(grids=tuple(grids), workers=base["workers"], scheduler=base["scheduler"], name=name)


def load_study(profile: str, root: str | os.PathLike[str] | None = None, *, seed: int = 0,
               **overrides: Any) -> StudyConfig:
    """The study of ``profiles/PROFILE.yaml`` (its ``study`` section), seeds shifted by ``seed``.

    ``seed`` moves the whole study to other random draws (see :func:`shift_seeds`): the same grid,
    new keys, nonces, samples and permutations. ``overrides`` replace top-level study keys.
    """
    data, path = read_profile(profile, root)
    if "study" not in data:
        raise StudyConfigError(f"profile {path.name} has no 'study' section")
    return shift_seeds(config_from_mapping(data["study"], name=path.stem, **overrides), seed)


def shift_seeds(config: StudyConfig, offset: int) -> StudyConfig:
    """The same study with every block's seeds and data seed moved by ``offset``.

    The seeds name the keys and nonces (:func:`study_key`), the permutations and the resampling of
    each cell, and the data seed the images sampled, so a shifted study is a new set of random draws
    of the same experiment: what a check must survive. The embedders' seed is kept, so the CNN
    (the shipped ``trained:digits`` weights at seed 0) stays the same instrument on every machine.
    """
    offset = _check(check_int, offset, "study: seed offset")
    if offset == 0:
        return config
    if offset < 0:
        raise StudyConfigError(f"study: seed offset must be >= 0, got {offset}")
    grids = tuple(replace(g, seeds=tuple(s + offset for s in g.seeds), data_seed=g.data_seed + offset)
                  for g in config.grids)
    return replace(config, grids=grids)


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

    def estimator_config(self, spec: EstimatorSpec) -> dict[str, Any]:
        """Every setting the cached row of ``spec`` depends on.

        Not in it, on purpose: ``alpha`` (``significant`` is derived from the cached p-value when the
        table is made), the estimator's label (applied when the table is made, so two labels with one
        setting share a row), ``embed_batch_size`` (the embedding cache treats embeddings as independent
        of it), ``pixel_metrics``, ``workers`` and ``scheduler`` (they change what runs where, not a value).
        """
        g = self.grid
        return {**self.base_key(), "estimator": spec.name, "settings": dict(spec.settings),
                "permutations": g.permutations, "bootstrap": g.bootstrap, "level": g.level,
                "neural_seeds": g.neural_seeds}

    def estimator_hash(self, spec: EstimatorSpec) -> str:
        return hash_config(self.estimator_config(spec))

    def estimator_key(self, spec: EstimatorSpec) -> str:
        return self.estimator_hash(spec)[:24]

    def estimator_path(self, spec: EstimatorSpec) -> Path:
        return Path(self.cache) / f"{self.estimator_key(spec)}.json"

    def pixel_config(self) -> dict[str, Any]:
        return {k: v for k, v in self.base_key().items() if k not in ("embedding", "embedding_seed", "threads")}

    def pixel_key(self) -> str:
        return "pixel-" + hash_config(self.pixel_config())[:24]

    def pixel_path(self) -> Path:
        return Path(self.cache) / f"{self.pixel_key()}.json"

    def read_cache(self) -> "CachedCell":
        """This cell's cached rows, each validated (see :func:`_read_entry`)."""
        problems: list[str] = []
        rows: dict[str, dict[str, Any] | None] = {}
        for spec in self.grid.estimators:
            path = self.estimator_path(spec)
            row, problem = _read_entry(path, self.estimator_hash(spec), partial(_check_estimator_row, spec))
            rows[spec.label] = row
            if problem:
                problems.append(f"study: cache file {path} {problem}; recomputing it")
        pixel: dict[str, Any] | None = {}
        if self.grid.pixel_metrics:
            path = self.pixel_path()
            pixel, problem = _read_entry(path, hash_config(self.pixel_config()), _check_pixel_row)
            if problem:
                problems.append(f"study: cache file {path} {problem}; recomputing it")
        return CachedCell(rows, pixel, problems)

    def missing(self) -> list[EstimatorSpec]:
        """The estimators whose cached row is missing or does not pass validation."""
        cached = self.read_cache()
        return [e for e in self.grid.estimators if cached.rows[e.label] is None]


@dataclass
class CachedCell:
    """What the cache holds for one cell: a validated row per estimator label (``None``: recompute), the
    pixel-level row (``None``: recompute; ``{}`` when pixel metrics are off) and what was wrong."""

    rows: dict[str, dict[str, Any] | None]
    pixel: dict[str, Any] | None
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.pixel is not None and all(r is not None for r in self.rows.values())


def study_key(seed: int, nbytes: int = 16) -> bytes:
    """The AES key of a study seed. Reproducible by design: for measuring leakage, never for secrecy."""
    return hashlib.sha256(f"seleak-study-key:{seed}".encode()).digest()[:nbytes]


@lru_cache(maxsize=8)
def _dataset(name: str, opts: tuple[tuple[str, Any], ...], n: int, seed: int):
    from seleak.data import load_dataset

    return load_dataset(name, n=n, seed=seed, **dict(opts))


def grid_dataset(grid: Grid, name: str | None = None):
    """The images a block measures: data set ``name`` (default: its first), sampled as its cells sample it.

    Chapters use it to show and attack the very images whose leakage the study measured.
    """
    sets = dict(grid.datasets)
    name = grid.datasets[0][0] if name is None else name
    if name not in sets:
        raise ValueError(f"block {grid.block!r} measures no data set {name!r}; it measures {sorted(sets)}")
    return _dataset(name, sets[name], grid.n, grid.data_seed)


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


def _estimate_row(cell: Cell, spec: EstimatorSpec, zx: np.ndarray, zy: np.ndarray,
                  degenerate: bool = False) -> dict[str, Any]:
    from seleak.estimators import EstimatorDivergedError
    from seleak.leakage import measure_leakage

    g = cell.grid
    settings = dict(spec.settings)
    pca_dim = settings.pop("pca_dim", None)
    t0 = time.perf_counter()
    try:
        r = measure_leakage(zx, zy, spec.name, settings, pca_dim=pca_dim, permutations=g.permutations,
                            n_boot=g.bootstrap, neural_seeds=g.neural_seeds, level=g.level, seed=cell.seed,
                            device=g.device)
    except (ValueError, EstimatorDivergedError) as err:
        if not degenerate:
            raise
        # f(X) = f(SE(X)): the true MI is infinite; estimators that need a non-singular joint refuse it
        return {
            "estimator_name": spec.name, "mi_nats": math.inf,
            "ci_low": math.inf, "ci_high": math.inf, "p_value": 1.0 / (g.permutations + 1), "bound_nats": math.inf,
            "settings": json.dumps({**settings, "pca_dim": pca_dim} if pca_dim else settings, sort_keys=True,
                                   default=str),
            "flags": f"degenerate: f(X) = f(SE(X)), I is infinite ({err})", "wall_s": time.perf_counter() - t0,
        }
    return {
        "estimator_name": spec.name, "mi_nats": r.nats,
        "ci_low": r.ci_low, "ci_high": r.ci_high, "p_value": r.p_value, "bound_nats": r.ceiling,
        "settings": json.dumps(dict(r.settings), sort_keys=True, default=str),
        "flags": "; ".join(r.flags), "wall_s": r.wall_s,
    }


def compute_cell(cell: Cell) -> list[dict[str, Any]]:
    """Compute (or read from the cache) every row of one cell; write each new row atomically.

    A cached row is used only when it passes validation (:meth:`Cell.read_cache`); anything else is
    recomputed and written over it. The warnings naming damaged files come from :func:`run_study`,
    which reads the cache first in the main process.
    """
    import torch

    from seleak.encryption import encrypt, parse_scheme

    g = cell.grid
    read = cell.read_cache()
    cached = dict(read.rows)
    todo = [e for e in g.estimators if cached[e.label] is None]
    pixel = read.pixel
    scheme = parse_scheme(cell.scheme)
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
                _write_entry(cell.pixel_path(), cell.pixel_config(), pixel)
            if todo:
                emb = _embedder(cell.embedding, g.embedding_seed, g.device)
                zx = emb.embed(ds.images, batch_size=g.embed_batch_size, progress=False)
                zy = emb.embed(ct.images, batch_size=g.embed_batch_size, progress=False)
                degenerate = bool(np.array_equal(zx, zy))
                for spec in todo:
                    row = {k: v for k, v in _estimate_row(cell, spec, zx, zy, degenerate).items()
                           if k not in _DERIVED}
                    row["degenerate"] = degenerate
                    problem = _check_estimator_row(spec, row)
                    if problem:  # a bug, not a cache problem: never write a row that would fail on read
                        raise RuntimeError(f"study: the row computed for {spec.label!r} in {cell.dataset}/"
                                           f"{cell.embedding}/{cell.scheme}/seed {cell.seed} {problem}")
                    _write_entry(cell.estimator_path(spec), cell.estimator_config(spec), row)
                    cached[spec.label] = row
        finally:
            torch.set_num_threads(threads)
            limits.restore_original_limits()
    return _table_rows(cell, scheme, cached, pixel)


def _table_rows(cell: Cell, scheme: Any, cached: Mapping[str, Mapping[str, Any] | None],
                pixel: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The table's rows of one cell from its cached values, with the derived columns computed here
    (``significant`` at this grid's ``alpha``, ``mi_bits``, the estimator's label) so that no derived
    value can go stale in the cache."""
    g = cell.grid
    family, k = _family_and_k(scheme)
    rows = []
    for spec in g.estimators:
        row = dict(cached[spec.label] or {})
        row.update(pixel or {})
        row.update({
            "block": g.block, "dataset": cell.dataset, "embedding": cell.embedding, "scheme": cell.scheme,
            "family": family, "k": k, "estimator": spec.label, "seed": cell.seed, "n": g.n,
            "mi_bits": row["mi_nats"] / math.log(2),
            # f(X) = f(SE(X)) (degenerate) is infinite MI: significant whatever the p-value's floor
            "significant": bool(row["degenerate"] or row["p_value"] < g.alpha),
            "cell_key": cell.estimator_key(spec),
        })
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------------
# cache entries: {"format", "key" (hash of the config), "config", "row"}, validated on every read
# --------------------------------------------------------------------------------------------------

#: Columns computed when the table is made, never cached (they depend on settings outside the key).
_DERIVED = ("estimator", "mi_bits", "significant")

_PIXEL_FINITE = ("pixel_mi_bits", "entropy_bits", "npcr", "uaci")
# undefined in corner cases (a constant image has no correlation; exact MI only for bit-plane schemes)
_PIXEL_MAY_BE_NAN = ("corr_h", "ssim", "pixel_mi_exact_bits")


def _read_entry(path: Path, key_hash: str, check: Callable[[Mapping[str, Any]], str | None]
                ) -> tuple[dict[str, Any] | None, str | None]:
    """The validated row of a cache file, or ``(None, why)``; ``(None, None)`` when it does not exist.

    The file must be a JSON object of this cache format whose ``key`` is the hash of the settings it is
    read for (so a file copied or renamed from another setting is refused) and whose row has every
    column with the right type and range (``check``). A forged file with the right format, hash and
    plausible numbers cannot be told apart from a real one; anything else can.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError) as err:
        return None, f"cannot be read ({err})"
    try:
        obj = json.loads(text)
    except ValueError as err:
        return None, f"is not valid JSON ({err})"
    if not isinstance(obj, dict) or not isinstance(obj.get("row"), dict):
        return None, "is not a study cache entry (expected a JSON object with 'format', 'key' and 'row')"
    if obj.get("format") != CACHE_VERSION:
        return None, f"has cache format {obj.get('format')!r}, not {CACHE_VERSION!r}"
    if obj.get("key") != key_hash:
        return None, (f"was computed for other settings (its key {str(obj.get('key'))[:24]!r} is not "
                      f"{key_hash[:24]!r})")
    problem = check(obj["row"])
    if problem:
        return None, problem
    return obj["row"], None


def _write_entry(path: Path, config: Mapping[str, Any], row: Mapping[str, Any]) -> None:
    entry = {"format": CACHE_VERSION, "key": hash_config(config),
             "config": json.loads(json.dumps(config, default=str)), "row": dict(row)}
    atomic_write_text(path, json.dumps(entry, sort_keys=True, default=_json_default))


def _number(row: Mapping[str, Any], key: str) -> float | None:
    v = row.get(key)
    return float(v) if is_int(v) or isinstance(v, float) else None


def _check_estimator_row(spec: EstimatorSpec, row: Mapping[str, Any]) -> str | None:
    """Why ``row`` is not a valid cached estimate of ``spec`` (``None``: it is)."""
    for key in ("estimator_name", "settings", "flags"):
        if not isinstance(row.get(key), str):
            return f"has no text column {key!r}"
    if row["estimator_name"] != spec.name:
        return f"holds estimator {row['estimator_name']!r}, not {spec.name!r}"
    if not isinstance(row.get("degenerate"), bool):
        return "has no true/false column 'degenerate'"
    values = {}
    for key in ("mi_nats", "ci_low", "ci_high", "p_value", "bound_nats", "wall_s"):
        values[key] = _number(row, key)
        if values[key] is None or math.isnan(values[key]):
            return f"has no number in column {key!r} (got {row.get(key)!r})"
    # only f(X) = f(SE(X)) has an infinite estimate; the saturation bound is infinite for some estimators
    for key in ("mi_nats", "ci_low", "ci_high"):
        if not math.isfinite(values[key]) and not (row["degenerate"] and values[key] == math.inf):
            return f"has a non-finite {key!r} ({values[key]!r}) for a non-degenerate cell"
    if not 0.0 < values["p_value"] <= 1.0:
        return f"has p_value {values['p_value']!r} outside (0, 1]"
    if values["ci_low"] > values["ci_high"]:
        return f"has ci_low {values['ci_low']!r} > ci_high {values['ci_high']!r}"
    if not values["bound_nats"] > 0:
        return f"has bound_nats {values['bound_nats']!r} (must be > 0)"
    if not (math.isfinite(values["wall_s"]) and values["wall_s"] >= 0):
        return f"has wall_s {values['wall_s']!r} (must be a finite number >= 0)"
    return None


def _check_pixel_row(row: Mapping[str, Any]) -> str | None:
    """Why ``row`` is not a valid cached pixel-level row (``None``: it is)."""
    for key in (*_PIXEL_FINITE, *_PIXEL_MAY_BE_NAN, "psnr_db"):
        v = _number(row, key)
        if v is None:
            return f"has no number in column {key!r} (got {row.get(key)!r})"
        if key in _PIXEL_FINITE and not math.isfinite(v):
            return f"has a non-finite {key!r} ({v!r})"
        if key == "psnr_db" and (math.isnan(v) or v == -math.inf):  # +inf: identical images
            return f"has psnr_db {v!r}"
    return None


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
    message = ("another seleak study is running on {folder} (lock held by pid {pid}); wait for it to "
               "finish or use another --out")
    try:
        with folder_lock(out_path, message):
            return _run_locked(config, out_path, scheduler=scheduler, workers=workers, progress=progress)
    except FolderBusyError as err:
        raise StudyBusyError(str(err), err.pid) from None


def _run_locked(config: StudyConfig, out_path: Path, *, scheduler: str | None, workers: int | None,
                progress: bool) -> StudyRun:
    from tqdm import tqdm  # plain bars: tqdm.auto wants ipywidgets inside notebooks

    scheduler = scheduler or config.scheduler
    workers = workers or config.workers
    t0 = time.perf_counter()
    all_cells = cells(config, out_path)
    todo: list[Cell] = []
    rows: list[dict[str, Any]] = []
    n_done = 0
    for cell in all_cells:
        read = cell.read_cache()
        for problem in read.problems:
            warnings.warn(problem, RuntimeWarning, stacklevel=3)
        if read.complete:
            rows.extend(_table_rows(cell, _parse_scheme(cell.scheme), read.rows, read.pixel))
            n_done += 1
        else:
            todo.append(cell)
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
            "cached": n_done, "seconds": time.perf_counter() - t0,
            "executor": f"dask {scheduler}" if scheduler else f"local x{workers}",
            "config": json.loads(json.dumps(asdict(config), default=str))}
    atomic_write_text(out_path / "study.json", json.dumps(meta, indent=1))
    return StudyRun(table, out_path, computed=len(todo), cached=n_done, seconds=meta["seconds"],
                    executor=meta["executor"])


@lru_cache(maxsize=256)
def _parse_scheme(spec: str) -> Any:
    from seleak.encryption import parse_scheme

    return parse_scheme(spec)


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
