"""The study's configuration: one table of settings, their checks, and the validated grids.

Every key of a profile's ``study`` section is one entry of :data:`SETTINGS` — its documentation, its
default, the typed check that normalises it, and whether a block may set it. The list of keys
(:data:`STUDY_KEYS`), the defaults (:data:`DEFAULTS`), the keys a block accepts and the fields of
:class:`Grid` are all read from that table, so a new setting is written in one place.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, make_dataclass, replace
from typing import Any, Callable, Iterable, Mapping

from seleak._validation import (
    check_bool,
    check_device,
    check_float,
    check_int,
    check_str,
    is_int,
)
from seleak.profiles import read_profile


class StudyConfigError(ValueError):
    """A study profile that cannot run; the message names the key and the valid choices."""


@dataclass(frozen=True)
class EstimatorSpec:
    label: str
    name: str
    settings: Mapping[str, Any]


# --------------------------------------------------------------------------------------------------
# typed checks: (value, name of the setting for messages) -> the normalised value
# --------------------------------------------------------------------------------------------------


def _check(check: Callable[..., Any], value: Any, name: str, **kwargs: Any) -> Any:
    return check(value, name, error=StudyConfigError, **kwargs)


def _int_at_least(minimum: int) -> Callable[[Any, str], int]:
    return lambda v, n: _check(check_int, v, n, minimum=minimum)


def _fraction(value: Any, name: str) -> float:
    return _check(check_float, value, name, low=0.0, high=1.0)


def _device(value: Any, name: str) -> str:
    return _check(check_device, value, name)


def _flag(value: Any, name: str) -> bool:
    return _check(check_bool, value, name)


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
        raise StudyConfigError(
            f"{name} must be a non-empty list of scheme specs (e.g. ['msb:0..8', 'full']), got {specs!r}"
        )
    out: list[str] = []
    for spec in specs:
        if not isinstance(spec, str):
            raise StudyConfigError(f"{name}: every scheme is a string such as 'msb:3', got {spec!r}")
        head, _, tail = spec.rpartition(":")
        if ".." in tail and head:
            m = _RANGE.fullmatch(tail.strip())
            if m is None:
                raise StudyConfigError(
                    f"{name}: bad range {spec!r}; write {head}:LOW..HIGH with integers LOW <= HIGH, e.g. {head}:0..8"
                )
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo:
                raise StudyConfigError(
                    f"{name}: range {spec!r} is empty ({lo} > {hi}); write it ascending, {head}:{hi}..{lo}"
                )
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
        raise StudyConfigError(
            f"{name} must be a non-empty mapping label -> settings (e.g. {{gaussian: {{pca_dim: 8}}}}), got {raw!r}"
        )
    specs = []
    for label, settings in raw.items():
        if settings is not None and not isinstance(settings, Mapping):
            raise StudyConfigError(
                f"{name}: the settings of {label!r} must be a mapping (e.g. {{k: 3}}), got {settings!r}"
            )
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
        raise StudyConfigError(
            f"{name} must be a list of data set names or a mapping name -> {{root, split, size, download}}, got {raw!r}"
        )
    if not items:
        raise StudyConfigError(f"{name} is empty; name at least one data set, e.g. [digits]")
    out = []
    known = available_datasets()
    for ds, opts in items:
        if ds not in known:
            raise StudyConfigError(f"study: unknown data set {ds!r}; valid: {', '.join(known)}")
        if opts is not None and not isinstance(opts, Mapping):
            raise StudyConfigError(
                f"{name}: the options of {ds!r} must be a mapping ({', '.join(_DATASET_OPTIONS)}), got {opts!r}"
            )
        opts = dict(opts or {})
        bad = set(opts) - set(_DATASET_OPTIONS)
        if bad:
            raise StudyConfigError(
                f"study: data set {ds!r} has unknown option(s) {sorted(bad)}; valid: {', '.join(_DATASET_OPTIONS)}"
            )
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


def _seeds(value: Any, name: str) -> tuple[int, ...]:
    if is_int(value):  # a count: seeds 0 .. count-1
        return tuple(range(_check(check_int, value, f"{name} (a count)", minimum=1)))
    if not isinstance(value, (list, tuple)):
        raise StudyConfigError(
            f"{name} must be a list of integers >= 0 or a count >= 1, got {value!r} ({type(value).__name__})"
        )
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


def _representation(value: Any, name: str) -> tuple[tuple[str, Any], ...]:
    """``{projection: pca|cca|pls|none, dim: D, fit_fraction: F}`` -> sorted items (hashable, cacheable)."""
    from seleak.representation import PROJECTIONS

    if value is None or value == "none":
        return ()
    if not isinstance(value, Mapping):
        raise StudyConfigError(f"{name} must be a mapping such as {{projection: cca, dim: 2}} (or none), got {value!r}")
    bad = sorted(set(value) - {"projection", "dim", "fit_fraction"})
    if bad:
        raise StudyConfigError(f"{name} has unknown key(s) {bad}; valid: projection, dim, fit_fraction")
    out = dict(value)
    proj = out.get("projection")
    if proj in (None, "none"):
        if set(out) - {"projection"}:
            raise StudyConfigError(f"{name}: dim and fit_fraction need a projection ({', '.join(PROJECTIONS)})")
        return ()
    _check(check_str, proj, f"{name}: 'projection'", choices=PROJECTIONS)
    _check(check_int, out.get("dim"), f"{name}: 'dim'", minimum=1)
    if "fit_fraction" in out:
        if proj == "pca":
            raise StudyConfigError(f"{name}: fit_fraction applies to cca and pls (PCA per side uses every row)")
        _check(check_float, out["fit_fraction"], f"{name}: 'fit_fraction'", low=0.0, high=1.0)
    return tuple(sorted(out.items()))


def _cleanups(value: Any, name: str) -> tuple[str, ...]:
    """``[none, replace]`` -> ``("none", "replace")``: each one of ``seleak.attacks.CLEANUP_METHODS``, once."""
    from seleak.attacks.cleanup import CLEANUP_METHODS, check_cleanup

    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise StudyConfigError(
            f"{name} must be a non-empty list of clean-ups among {', '.join(CLEANUP_METHODS)} "
            f"(e.g. [none, replace]), got {value!r}"
        )
    out = tuple(check_cleanup(v, f"{name}: every entry", error=StudyConfigError) for v in value)
    if len(set(out)) != len(out):
        raise StudyConfigError(f"{name} repeats a clean-up: {list(value)!r}; list each once")
    return out


def _adjust(value: Any, name: str) -> str:
    return _check(check_str, value, name, choices=("holm", "bh"))


def _scheduler(value: Any, name: str) -> str | None:
    if value is None:
        return None
    return _check(check_str, value, name)


# --------------------------------------------------------------------------------------------------
# the one table of settings
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One key of a profile's ``study`` section.

    ``per_block`` keys may be set at the top level and overridden by a block; each becomes a field of
    :class:`Grid` of type ``type``. The others say how the study runs and are read from the top level
    only. ``check`` normalises a value (``None``: the key is structural and parsed on its own).
    """

    doc: str
    default: Any = None
    check: Callable[[Any, str], Any] | None = None
    per_block: bool = True
    type: Any = Any


SETTINGS: dict[str, Setting] = {
    "datasets": Setting(
        "data set names for seleak.data.load_dataset, or a mapping name -> {root, split, size}",
        ["digits"],
        _datasets,
        type=tuple[tuple[str, tuple[tuple[str, Any], ...]], ...],
    ),
    "n": Setting("images per data set", 500, _int_at_least(1), type=int),
    "data_seed": Setting("seed of the image sample (the same images for every cell)", 0, _int_at_least(0), type=int),
    "embeddings": Setting(
        "embedder specs for seleak.embedding.get_embedder", ["trained:digits"], _names, type=tuple[str, ...]
    ),
    "embedding_seed": Setting("seed of the embedders (training / random weights)", 0, _int_at_least(0), type=int),
    "schemes": Setting(
        "scheme specs for seleak.encryption.parse_scheme; 'msb:0..8' expands to a range",
        ["msb:0..8"],
        expand_schemes,
        type=tuple[str, ...],
    ),
    "estimators": Setting(
        "mapping label -> settings (key 'estimator' names the registry entry, default: label)",
        {"gaussian": {}},
        _estimators,
        type=tuple[EstimatorSpec, ...],
    ),
    "cleanup": Setting(
        "what the adversary does to the encrypted bits before embedding, one row each: 'none' (the SE images), "
        "'replace' (the blind best constant) or 'reconstruct' (predicted from the clear bits); pixel schemes only",
        ["none"],
        _cleanups,
        type=tuple[str, ...],
    ),
    "seeds": Setting(
        "list of seeds, or a count (0..count-1): each seed is a fresh key and estimator seed",
        1,
        _seeds,
        type=tuple[int, ...],
    ),
    "representation": Setting(
        "what every estimator of a block measures: {projection: pca|cca|pls, dim: D, fit_fraction: F} "
        "(cca/pls are fitted on fit_fraction of the images and measured on the others), or none",
        None,
        _representation,
        type=tuple[tuple[str, Any], ...],
    ),
    "split": Setting(
        "which images are measured: 'test' (never seen by a trained embedder), 'train' or 'all'; a data "
        "set's own 'split' option wins",
        "test",
        lambda v, n: _check(check_str, v, n, choices=("train", "test", "all")),
        type=str,
    ),
    "permutations": Setting("permutations of the significance test", 199, _int_at_least(1), type=int),
    "bootstrap": Setting("subsamples for the intervals of the non-neural estimators", 100, _int_at_least(2), type=int),
    "neural_splits": Setting(
        "random train / test splits of a neural estimator, one critic each (outer resampling): their held-out "
        "values give the estimate (their mean) and its corrected resampled t interval",
        5,
        _int_at_least(2),
        type=int,
    ),
    "neural_seeds": Setting(
        "initialisations of a neural estimator on its first split (trained with the splits' critics): their "
        "spread is the seed_sd column, reported apart from the interval",
        2,
        _int_at_least(1),
        type=int,
    ),
    "level": Setting("confidence level of the intervals", 0.95, _fraction, type=float),
    "alpha": Setting(
        "level of the 'significant' column, applied to p_adjusted (error control over each block)",
        0.05,
        _fraction,
        type=float,
    ),
    "adjust": Setting(
        "multiple-testing adjustment of the p-values of each block: 'holm' (family-wise error) or 'bh' "
        "(Benjamini-Hochberg false discovery rate)",
        "holm",
        _adjust,
        type=str,
    ),
    "device": Setting("torch device for embedders and neural estimators", "cpu", _device, type=str),
    "pixel_metrics": Setting("compute pixel-level MI and the classic SE metrics", True, _flag, type=bool),
    "embed_batch_size": Setting("images per embedding batch", 256, _int_at_least(1), type=int),
    "threads_per_cell": Setting(
        "torch threads inside a cell (fixed, so results do not depend on the scheduler)", 1, _int_at_least(1), type=int
    ),
    "workers": Setting("local processes (1 = in this process)", 1, _int_at_least(1), per_block=False),
    "scheduler": Setting(
        "Dask scheduler address (tcp://HOST:PORT) to run cells on a cluster", None, _scheduler, per_block=False
    ),
    "blocks": Setting("list of partial grids, each {name, ...keys} overriding the keys above", per_block=False),
}

#: Every key of a ``study`` section and what it means.
STUDY_KEYS: dict[str, str] = {key: s.doc for key, s in SETTINGS.items()}

#: The value of every key a profile leaves out.
DEFAULTS: dict[str, Any] = {key: s.default for key, s in SETTINGS.items() if s.check is not None}

#: The keys a block may set (besides its ``name``).
BLOCK_KEYS: tuple[str, ...] = tuple(key for key, s in SETTINGS.items() if s.per_block)

# The grid's fields come from the table; the module is set so that grids pickle to worker processes.
Grid = make_dataclass(
    "Grid",
    [("block", str)] + [(key, SETTINGS[key].type) for key in BLOCK_KEYS],
    frozen=True,
    namespace={
        "__module__": __name__,
        "__doc__": "One product grid of the study (a *block*): its name and a value for every per-block "
        "key of :data:`SETTINGS`.",
    },
)


@dataclass(frozen=True)
class StudyConfig:
    """A validated study: its grids and how to execute them."""

    grids: tuple[Grid, ...]
    workers: int = 1
    scheduler: str | None = None
    name: str = "study"

    @property
    def n_cells(self) -> int:
        return sum(
            len(g.datasets) * len(g.embeddings) * len(g.schemes) * len(g.cleanup) * len(g.seeds) for g in self.grids
        )


def _checked(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Each key of ``values`` through its typed check; messages say ``where`` the key sits."""
    return {key: SETTINGS[key].check(value, f"{where}{key!r}") for key, value in values.items()}


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
        raise StudyConfigError(
            f"study: 'blocks' must be a non-empty list of mappings such as "
            f"[{{name: paper}}, {{name: more, seeds: [0]}}], got {blocks!r}"
        )
    grids = []
    labels: set[str] = set()
    for i, block in enumerate(blocks):
        if not isinstance(block, Mapping):
            raise StudyConfigError(
                f"study: 'blocks' entry {i} must be a mapping {{name: ..., KEY: value}}, got {block!r}"
            )
        block = dict(block)
        label = _check(check_str, block.pop("name", f"block{i}"), f"study: 'blocks' entry {i}: 'name'")
        if label in labels:
            raise StudyConfigError(f"study: two blocks are named {label!r}; give each block its own name")
        labels.add(label)
        bad = sorted(set(block) - set(BLOCK_KEYS))
        if bad:
            raise StudyConfigError(
                f"study: block {label!r} has unknown or misplaced key(s) {bad}; "
                f"valid keys in a block: name, {', '.join(sorted(BLOCK_KEYS))}"
            )
        merged = {**base, **_checked(block, f"study: block {label!r}: ")}
        mixed = [e.label for e in merged["estimators"] if e.settings.get("pca_dim") is not None]
        if merged["representation"] and mixed:
            raise StudyConfigError(
                f"study: block {label!r} sets a representation and pca_dim for {mixed}; every estimator of a "
                "block measures the block's representation: remove pca_dim from the estimators"
            )
        _check_cleanup_schemes(label, merged["cleanup"], merged["schemes"])
        grids.append(Grid(block=label, **{key: merged[key] for key in BLOCK_KEYS}))
    return StudyConfig(grids=tuple(grids), workers=base["workers"], scheduler=base["scheduler"], name=name)


def _check_cleanup_schemes(label: str, cleanups: tuple[str, ...], schemes: tuple[str, ...]) -> None:
    """A clean-up other than 'none' needs pixel schemes: a DCT-domain scheme has no pixel bits to clean."""
    if cleanups == ("none",):
        return
    from seleak.attacks.cleanup import cleanup_supported

    bad = [s for s in schemes if not cleanup_supported(s)]
    if bad:
        raise StudyConfigError(
            f"study: block {label!r} cleans up {[c for c in cleanups if c != 'none']} but scheme(s) {bad} do not "
            "encrypt pixel bits: move them to a block with cleanup [none]"
        )


def load_study(
    profile: str, root: str | os.PathLike[str] | None = None, *, seed: int = 0, **overrides: Any
) -> StudyConfig:
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

    The seeds name the keys and nonces (:func:`seleak.study.study_key`), the permutations and the
    resampling of each cell, and the data seed the images sampled, so a shifted study is a new set of
    random draws of the same experiment: what a check must survive. The embedders' seed is kept, so the
    CNN (the shipped ``trained:digits`` weights at seed 0) stays the same instrument on every machine.
    """
    offset = _check(check_int, offset, "study: seed offset")
    if offset == 0:
        return config
    if offset < 0:
        raise StudyConfigError(f"study: seed offset must be >= 0, got {offset}")
    grids = tuple(
        replace(g, seeds=tuple(s + offset for s in g.seeds), data_seed=g.data_seed + offset) for g in config.grids
    )
    return replace(config, grids=grids)
