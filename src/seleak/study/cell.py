"""Cells of the study and their cache.

A *cell* is one data set × embedder × scheme × clean-up × seed of a grid. :func:`compute_cell` loads its
images, encrypts them under the key of its seed (:func:`study_key`), cleans the SE images up as a
scheme-aware adversary would (:func:`seleak.attacks.clean_up`; ``"none"``: as they are), embeds both
sides and measures the leakage with :func:`seleak.leakage.measure_leakage` for every estimator, plus the
pixel-level view of the SE images. Every
(cell, estimator) row is cached under ``OUT/cells/`` by a content hash of everything it depends on and
written atomically; each cache file carries the hash of the settings it was computed for and is
validated when read, so a damaged or mismatched file is recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from seleak._io import atomic_write_text, hash_config
from seleak._validation import is_int
from seleak.study.config import EstimatorSpec, Grid, StudyConfig

# Bump when a change to the computation changes cached numbers.
CACHE_VERSION = "cell-v5"  # v5: representation per block, lower bounds, no inf (degenerate = H(f(X)))


@dataclass(frozen=True)
class Cell:
    """One data set × embedder × scheme × clean-up × seed of a grid, with the estimators to run on it."""

    grid: Grid
    dataset: str
    dataset_opts: tuple[tuple[str, Any], ...]
    embedding: str
    scheme: str
    seed: int
    cache: str  # folder of the per-(cell, estimator) result files
    cleanup: str = "none"  # what the adversary does to the encrypted bits before embedding

    def base_key(self) -> dict[str, Any]:
        g = self.grid
        # the clean-up enters the key only when there is one, so the rows of SE images as they are keep
        # the keys (and cache files) they had before clean-ups existed
        cleanup = {} if self.cleanup == "none" else {"cleanup": self.cleanup}
        return {
            **cleanup,
            "version": CACHE_VERSION,
            "dataset": self.dataset,
            "dataset_opts": self.dataset_opts,
            "split": self.split,
            "n": g.n,
            "data_seed": g.data_seed,
            "embedding": self.embedding,
            "embedding_seed": g.embedding_seed,
            "scheme": self.scheme,
            "seed": self.seed,
            "device": g.device,
            "threads": g.threads_per_cell,
        }

    @property
    def split(self) -> str:
        """The split measured: the data set's own ``split`` option, else the grid's."""
        return str(dict(self.dataset_opts).get("split", self.grid.split))

    def load_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`seleak.data.load_dataset` for this cell's images."""
        return {**dict(self.dataset_opts), "split": self.split}

    def estimator_config(self, spec: EstimatorSpec) -> dict[str, Any]:
        """Every setting the cached row of ``spec`` depends on.

        Not in it, on purpose: ``alpha`` (``significant`` is derived from the cached p-value when the
        table is made), the estimator's label (applied when the table is made, so two labels with one
        setting share a row), ``embed_batch_size`` (the embedding cache treats embeddings as independent
        of it), ``pixel_metrics``, ``workers`` and ``scheduler`` (they change what runs where, not a value).
        """
        g = self.grid
        return {
            **self.base_key(),
            "estimator": spec.name,
            "settings": dict(spec.settings),
            "representation": dict(g.representation),
            "permutations": g.permutations,
            "bootstrap": g.bootstrap,
            "level": g.level,
            "neural_seeds": g.neural_seeds,
            "neural_splits": g.neural_splits,
        }

    def estimator_hash(self, spec: EstimatorSpec) -> str:
        return hash_config(self.estimator_config(spec))

    def estimator_key(self, spec: EstimatorSpec) -> str:
        return self.estimator_hash(spec)[:24]

    def estimator_path(self, spec: EstimatorSpec) -> Path:
        return Path(self.cache) / f"{self.estimator_key(spec)}.json"

    def pixel_config(self) -> dict[str, Any]:
        """The pixel view describes the SE images (not their clean-up): shared by every clean-up of a cell."""
        drop = ("embedding", "embedding_seed", "threads", "cleanup")
        return {k: v for k, v in self.base_key().items() if k not in drop}

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


def study_cells(config: StudyConfig, out: str | os.PathLike[str]) -> list[Cell]:
    """Every cell of the study, in a fixed order; their cache is ``OUT/cells``."""
    cache = str(Path(out) / "cells")
    result = []
    for g in config.grids:
        for ds, opts in g.datasets:
            for emb in g.embeddings:
                for scheme in g.schemes:
                    for cleanup in g.cleanup:
                        for seed in g.seeds:
                            result.append(Cell(g, ds, opts, emb, scheme, seed, cache, cleanup))
    return result


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
    opts = dict(sets[name])
    opts.setdefault("split", grid.split)
    return _dataset(name, tuple(sorted(opts.items())), grid.n, grid.data_seed)


@lru_cache(maxsize=16)
def study_embedder(spec: str, seed: int, device: str):
    """The embedder of a study spec: ``"trained:digits"``, or ``"trained:digits@features.1"`` for the
    output of one graph node (``Embedder.available_layers()``) instead of the penultimate layer."""
    from seleak.embedding import get_embedder

    base, _, layer = spec.partition("@")
    return get_embedder(base, layer=layer or None, seed=seed, device=device)


def _attacker_prior(cell: "Cell") -> float:
    """The brightness a reconstructing adversary assumes: the mean pixel of the data set's other split
    (pictures of the kind, never the measured ones; mid-grey when the data set has no other split)."""
    opts = dict(cell.dataset_opts)
    opts["split"] = "train" if cell.split != "train" else "test"
    return _mean_pixel(cell.dataset, tuple(sorted(opts.items())))


@lru_cache(maxsize=8)
def _mean_pixel(name: str, opts: tuple[tuple[str, Any], ...]) -> float:
    from seleak.data import load_dataset

    try:
        return float(load_dataset(name, **dict(opts)).images.mean())
    except (ValueError, FileNotFoundError):
        return 127.5


def cleaned_images_for(se_images: np.ndarray, scheme: Any, cleanup: str, prior_mean: float = 127.5) -> np.ndarray:
    """``se_images`` after ``cleanup`` (:func:`seleak.attacks.clean_up`); ``"none"``: the same array."""
    if cleanup == "none":
        return se_images
    from seleak.attacks.cleanup import clean_up

    return clean_up(se_images, scheme, cleanup, prior_mean=prior_mean)


def cleaned_images(cell: "Cell", se_images: np.ndarray) -> np.ndarray:
    """The SE images of ``cell`` after its clean-up; a reconstruction assumes the brightness of the data
    set's other split (:func:`_attacker_prior`)."""
    prior = _attacker_prior(cell) if cell.cleanup == "reconstruct" else 127.5
    return cleaned_images_for(se_images, _parse_scheme(cell.scheme), cell.cleanup, prior)


def constant_side_result(z_plain: np.ndarray, z_se: np.ndarray, estimator: str, permutations: int):
    """The exact result when every row of one side is the same (e.g. full encryption cleaned up: one
    constant picture): ``I = 0``, interval ``[0, 0]``, p = 1 (every permutation gives the same pairs),
    lower bound 0. ``None`` when both sides vary (then :func:`seleak.leakage.measure_leakage` measures)."""
    from seleak.leakage import LeakageResult

    n = int(z_plain.shape[0])
    const = [name for name, z in (("plain", z_plain), ("SE", z_se)) if n and (z == z[:1]).all()]
    if not const or n < 2:
        return None
    return LeakageResult(
        estimator, 0.0, 0.0, 0.0, 1.0, int(permutations), "exact", math.log(n), False,
        f"{z_se.shape[1]} columns, the {' and '.join(const)} side the same on every row", n, n,
        lower_bound=0.0, lower_bound_method=f"exact: the {const[0]} side is constant, so I = 0",
        flags=(f"constant: f({const[0]}) is the same for all {n} rows; I = 0 exactly",),
    )  # fmt: skip


def prepare_embedders(grids: Iterable[Grid]) -> None:
    """Train/load every embedder once, in this process, before cells fan out (their caches are shared)."""
    for g in grids:
        for emb in g.embeddings:
            study_embedder(emb, g.embedding_seed, g.device)


@lru_cache(maxsize=256)
def _parse_scheme(spec: str) -> Any:
    from seleak.encryption import parse_scheme

    return parse_scheme(spec)


def _family_and_k(scheme: Any) -> tuple[str, float]:
    spec = scheme.spec
    family = spec.split(":", 1)[0]
    amount = getattr(scheme, "amount", None)
    return family, float(amount) if amount is not None else float("nan")


def _pixel_view(plain: np.ndarray, cipher: np.ndarray, scheme: Any) -> dict[str, Any]:
    """Pixel-level MI (plug-in with Miller–Madow correction, and exact where it has a closed form) and
    the classic SE metrics of the encrypted images, with the exact expected NPCR/UACI of these plain
    images against a cipher of this scheme (NaN where the scheme is not a fixed set of pixel bits)."""
    from seleak import metrics

    classic = metrics.classic_metrics(plain, cipher, scheme=scheme)
    row: dict[str, Any] = {}
    for out, key in (
        ("pixel_mi_bits", "mi_plugin_mm_bits"),
        ("entropy_bits", "entropy_cipher"),
        ("corr_h", "corr_h_cipher"),
        ("npcr", "npcr"),
        ("uaci", "uaci"),
        ("npcr_expected", "npcr_expected"),
        ("uaci_expected", "uaci_expected"),
        ("psnr_db", "psnr"),
        ("ssim", "ssim"),
    ):
        row[out] = float(classic[key])
    try:
        row["pixel_mi_exact_bits"] = float(metrics.pixel_mi_exact(plain, scheme))
    except (TypeError, ValueError, NotImplementedError):
        row["pixel_mi_exact_bits"] = float("nan")  # defined for bit-plane schemes only
    return row


def _upper_bound(plain: np.ndarray, scheme: Any) -> dict[str, Any]:
    """The image-level ``I(X; SE(X))`` of the sample (X uniform over its images): by data processing an
    upper bound of ``I(f(X); f(SE(X)))`` for every embedder ``f``."""
    from seleak import metrics

    ub = metrics.image_level_mi(plain, scheme)
    return {"upper_bound_nats": float(ub.nats), "upper_bound_kind": ub.kind}


def _estimate_row(cell: Cell, spec: EstimatorSpec, zx: np.ndarray, zy: np.ndarray) -> dict[str, Any]:
    from seleak.leakage import measure_leakage

    g = cell.grid
    settings = dict(spec.settings)
    rep = dict(g.representation)
    pca_dim = settings.pop("pca_dim", None)
    if pca_dim is not None:  # an estimator-level projection (blocks without a representation)
        rep = {"projection": "pca", "dim": pca_dim}
    r = constant_side_result(zx, zy, spec.name, g.permutations) or measure_leakage(
        zx,
        zy,
        spec.name,
        settings,
        projection=rep.get("projection"),
        dim=rep.get("dim"),
        fit_fraction=rep.get("fit_fraction", 0.5),
        permutations=g.permutations,
        n_boot=g.bootstrap,
        neural_seeds=g.neural_seeds,
        neural_splits=g.neural_splits,
        level=g.level,
        seed=cell.seed,
        device=g.device,
    )
    return {
        "estimator_name": spec.name,
        **r.columns(),
        "settings": json.dumps(dict(r.settings), sort_keys=True, default=str),
    }


def compute_cell(cell: Cell) -> list[dict[str, Any]]:
    """Compute (or read from the cache) every row of one cell; write each new row atomically.

    A cached row is used only when it passes validation (:meth:`Cell.read_cache`); anything else is
    recomputed and written over it. The warnings naming damaged files come from :func:`run_study`,
    which reads the cache first in the main process.
    """

    from seleak.encryption import encrypt

    g = cell.grid
    read = cell.read_cache()
    cached = dict(read.rows)
    todo = [e for e in g.estimators if cached[e.label] is None]
    pixel = read.pixel
    scheme = _parse_scheme(cell.scheme)
    if todo or pixel is None:
        from seleak._runtime import limit_threads

        # BLAS threads beyond the cores spin against each other: a 300x128 SVD took 2.4 s, not 10 ms
        with limit_threads(g.threads_per_cell, openmp=True):
            ds = _dataset(cell.dataset, tuple(sorted(cell.load_options().items())), g.n, g.data_seed)
            ct = encrypt(ds.images, study_key(cell.seed), scheme, seed=cell.seed)
            if pixel is None:
                pixel = _pixel_view(ds.images, ct.images, scheme)
                _write_entry(cell.pixel_path(), cell.pixel_config(), pixel)
            if todo:
                emb = study_embedder(cell.embedding, g.embedding_seed, g.device)
                zx = emb.embed(ds.images, batch_size=g.embed_batch_size, progress=False)
                seen = cleaned_images(cell, ct.images)
                zy = emb.embed(seen, batch_size=g.embed_batch_size, progress=False)
                upper = _upper_bound(ds.images, scheme)
                for spec in todo:
                    row = {k: v for k, v in _estimate_row(cell, spec, zx, zy).items() if k not in _DERIVED}
                    row.update(upper)
                    problem = _check_estimator_row(spec, row)
                    if problem:  # a bug, not a cache problem: never write a row that would fail on read
                        raise RuntimeError(
                            f"study: the row computed for {spec.label!r} in {cell.dataset}/"
                            f"{cell.embedding}/{cell.scheme}/seed {cell.seed} {problem}"
                        )
                    _write_entry(cell.estimator_path(spec), cell.estimator_config(spec), row)
                    cached[spec.label] = row
    return table_rows(cell, cached, pixel)


def table_rows(
    cell: Cell, cached: Mapping[str, Mapping[str, Any] | None], pixel: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """The table's rows of one cell from its cached values, with the derived columns computed here
    (``mi_bits``, the estimator's label, ``split``) so that no derived value can go stale in the cache.
    ``p_adjusted`` and ``significant`` depend on the whole block and are added by
    :func:`seleak.study.run_study`."""
    g = cell.grid
    family, k = _family_and_k(_parse_scheme(cell.scheme))
    rows = []
    for spec in g.estimators:
        row = dict(cached[spec.label] or {})
        row.update(pixel or {})
        if row.get("psnr_db") == math.inf:  # identical images: no finite PSNR, and no inf in the table
            row["psnr_db"] = math.nan
        row.update(
            {
                "block": g.block,
                "dataset": cell.dataset,
                "embedding": cell.embedding,
                "scheme": cell.scheme,
                "cleanup": cell.cleanup,
                "family": family,
                "k": k,
                "estimator": spec.label,
                "seed": cell.seed,
                "n": g.n,
                "split": cell.split,
                "mi_bits": row["mi_nats"] / math.log(2),
                "cell_key": cell.estimator_key(spec),
            }
        )
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------------
# cache entries: {"format", "key" (hash of the config), "config", "row"}, validated on every read
# --------------------------------------------------------------------------------------------------

#: Columns computed when the table is made, never cached (they depend on settings outside the key).
_DERIVED = ("estimator", "mi_bits", "split", "p_adjusted", "significant", "cleanup")

_PIXEL_FINITE = ("pixel_mi_bits", "entropy_bits", "npcr", "uaci")
# undefined in corner cases (a constant image has no correlation; exact MI only for bit-plane schemes)
_PIXEL_MAY_BE_NAN = ("corr_h", "ssim", "pixel_mi_exact_bits", "npcr_expected", "uaci_expected")


def _read_entry(
    path: Path, key_hash: str, check: Callable[[Mapping[str, Any]], str | None]
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
        return None, (
            f"was computed for other settings (its key {str(obj.get('key'))[:24]!r} is not {key_hash[:24]!r})"
        )
    problem = check(obj["row"])
    if problem:
        return None, problem
    return obj["row"], None


def _write_entry(path: Path, config: Mapping[str, Any], row: Mapping[str, Any]) -> None:
    entry = {
        "format": CACHE_VERSION,
        "key": hash_config(config),
        "config": json.loads(json.dumps(config, default=str)),
        "row": dict(row),
    }
    atomic_write_text(path, json.dumps(entry, sort_keys=True, default=_json_default))


def _number(row: Mapping[str, Any], key: str) -> float | None:
    v = row.get(key)
    return float(v) if is_int(v) or isinstance(v, float) else None


def _check_estimator_row(spec: EstimatorSpec, row: Mapping[str, Any]) -> str | None:
    """Why ``row`` is not a valid cached estimate of ``spec`` (``None``: it is)."""
    for key in ("estimator_name", "settings", "flags", "interval", "representation", "lower_bound_method"):
        if not isinstance(row.get(key), str):
            return f"has no text column {key!r}"
    if row["estimator_name"] != spec.name:
        return f"holds estimator {row['estimator_name']!r}, not {spec.name!r}"
    for key in ("degenerate", "saturated", "is_bound"):
        if not isinstance(row.get(key), bool):
            return f"has no true/false column {key!r}"
    values = {}
    for key in (
        "mi_nats", "ci_low", "ci_high", "p_value", "lower_bound_nats", "ceiling_nats", "upper_bound_nats",
        "seed_sd", "n_eval", "wall_s",
    ):  # fmt: skip
        values[key] = _number(row, key)
        if values[key] is None:
            return f"has no number in column {key!r} (got {row.get(key)!r})"
        if math.isinf(values[key]):
            return f"has an infinite {key!r}: no column of the table may hold inf"
    # NaN means "not computed": an interval or a bound the rows could not support, or no seed spread
    for key in ("mi_nats", "p_value", "ceiling_nats", "upper_bound_nats", "n_eval", "wall_s"):
        if math.isnan(values[key]):
            return f"has NaN in column {key!r}"
    if not 0.0 < values["p_value"] <= 1.0:
        return f"has p_value {values['p_value']!r} outside (0, 1]"
    if values["ci_low"] > values["ci_high"]:
        return f"has ci_low {values['ci_low']!r} > ci_high {values['ci_high']!r}"
    if not values["ceiling_nats"] > 0:
        return f"has ceiling_nats {values['ceiling_nats']!r} (must be > 0)"
    if values["lower_bound_nats"] < 0:
        return f"has a negative lower_bound_nats {values['lower_bound_nats']!r}"
    if values["wall_s"] < 0:
        return f"has wall_s {values['wall_s']!r} (must be >= 0)"
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
