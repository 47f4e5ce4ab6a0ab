"""The layer sweep: which depth of the embedder sees what selective encryption leaves in the clear.

The study measures ``I(f(X); f(SE(X)))`` at the embedder's penultimate layer. :func:`layer_sweep` measures
the same quantity, ``I(f_l(X); f_l(SE(X)))``, at the output of every convolution block ``l`` of the
network (early blocks see edges and textures, so they keep the clear planes; the penultimate layer keeps
what the training labels needed), with the study's pipeline (:func:`seleak.leakage.measure_leakage`, one
representation for every layer) and its error control (one family over the sweep). The result is a tidy
table, one row per (scheme, layer); :func:`seleak.figures.layer_sweep_plot` draws it. The same sweep can
run inside a study (a block whose embeddings are ``"SPEC@LAYER"``, cached like every cell):
:func:`layer_table` reads such a block in the same format.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from seleak.study.cell import cleaned_images_for, constant_side_result, study_embedder, study_key

__all__ = ["LAYER_COLUMNS", "layer_sweep", "layer_table", "sweep_layers"]

#: Columns of :func:`layer_sweep`'s table, in order.
LAYER_COLUMNS = [
    "embedding", "layer", "depth", "dim", "scheme", "family", "k", "cleanup", "estimator", "n", "n_eval",
    "representation", "mi_nats", "ci_low", "ci_high", "interval", "p_value", "p_adjusted", "significant",
    "lower_bound_nats", "ceiling_nats", "saturated", "degenerate", "wall_s",
]  # fmt: skip


def sweep_layers(embedder: Any) -> list[str]:
    """The layers a sweep reads by default, shallow to deep: the output (last ReLU) of every block of the
    network's ``features`` stack but the last (:class:`SmallCNN`, VGG), or of every stage but the last
    (ResNets: ``layer1`` .. ``layer3``), then the embedder's default (penultimate) layer, which is the
    last block average-pooled. For other networks pass ``layers`` (``Embedder.available_layers()``)."""
    import torch.nn as nn

    model = embedder.full_model
    features = getattr(model, "features", None)
    default = embedder.info.get("default_layer", embedder.layer)
    ordered = embedder.available_layers()
    stages = [n for n, m in model.named_children() if n.startswith("layer") and isinstance(m, nn.Sequential)]
    if not isinstance(features, nn.Sequential) and stages:  # ResNet: the output of every stage but the last
        outs = [[node for node in ordered if node.startswith(f"{stage}.")][-1] for stage in stages[:-1]]
        return [o for o in outs if o != default] + [default]
    if not isinstance(features, nn.Sequential):
        raise ValueError(
            f"{embedder.spec} has no 'features' stack to sweep by default: pass layers=[...] chosen from "
            f"Embedder.available_layers() ({', '.join(embedder.available_layers()[:8])}, ...)"
        )
    nodes = set(ordered)
    picks = []
    blocks = list(features.named_children())
    for name, block in blocks[:-1]:
        inner = list(block.named_children()) if isinstance(block, nn.Sequential) else [("", block)]
        relus = [f"features.{name}.{j}" if j else f"features.{name}" for j, m in inner if isinstance(m, nn.ReLU)]
        relus = [r for r in relus if r in nodes]
        if relus:
            picks.append(relus[-1])
    return [p for p in picks if p != default] + [default]


def layer_sweep(
    images: np.ndarray,
    schemes: Sequence[str],
    embedder: Any = "trained:digits",
    layers: Sequence[str] | None = None,
    *,
    estimator: str = "gaussian",
    settings: Mapping[str, Any] | None = None,
    representation: Mapping[str, Any] | None = None,
    cleanup: str = "none",
    permutations: int = 199,
    n_boot: int = 100,
    level: float = 0.95,
    alpha: float = 0.05,
    adjust: str = "holm",
    seed: int = 0,
    embedding_seed: int = 0,
    device: str = "cpu",
) -> pd.DataFrame:
    """``I(f_l(X); f_l(SE(X)))`` with its interval, p-value and lower bound for every layer ``l`` and scheme.

    Args:
        images: the plain images, ``uint8 (N, H, W[, C])`` (e.g. ``grid_dataset(grid).images``).
        schemes: scheme specs (``"msb:1"``, ``"full"``, ...); each is encrypted once, under
            :func:`seleak.study.study_key` of ``seed`` (the study's key and nonces for that seed).
        embedder: an embedder spec (``"trained:digits"``) or an :class:`seleak.embedding.Embedder`
            (its spec is used; every layer is built from it with ``embedding_seed``).
        layers: graph nodes to read, shallow to deep; default :func:`sweep_layers` (every block's output,
            then the penultimate layer).
        estimator, settings: the estimator (a :func:`seleak.estimators.get_estimator` name) and its settings.
        representation: what is measured at every layer, as the study's setting:
            ``{projection: cca, dim: 2}`` by default (fitted on half the images, measured on the others),
            ``{}`` for the informative columns.
        cleanup: what the adversary does to the SE images before embedding (:func:`seleak.attacks.clean_up`).
        permutations, n_boot, level: the test's permutations, the interval's subsamples and level.
        alpha, adjust: the sweep is one family: ``p_adjusted`` by ``adjust`` ("holm" or "bh"),
            ``significant`` is ``p_adjusted <= alpha``.

    Returns a tidy table (:data:`LAYER_COLUMNS`), one row per (scheme, layer), schemes in the order given,
    layers shallow to deep (``depth`` 1, 2, ...). Deterministic for a seed.
    """
    from seleak.attacks.cleanup import check_cleanup
    from seleak.encryption import check_images, encrypt, parse_scheme
    from seleak.leakage import measure_leakage
    from seleak.stats import adjust_p_values, significant

    images = check_images(images, "images")
    if isinstance(schemes, str):
        schemes = [schemes]
    if not isinstance(schemes, (list, tuple)) or not schemes:
        raise ValueError(f"schemes must be a non-empty list of scheme specs such as ['msb:1', 'full'], got {schemes!r}")
    check_cleanup(cleanup)
    spec = embedder if isinstance(embedder, str) else getattr(embedder, "spec", None)
    if not isinstance(spec, str):
        raise TypeError(
            f"embedder must be a spec such as 'trained:digits' or an Embedder, got {type(embedder).__name__}"
        )
    spec = spec.partition("@")[0]
    reference = study_embedder(spec, embedding_seed, device)
    chosen = list(layers) if layers is not None else sweep_layers(reference)
    if not chosen:
        raise ValueError("layers is empty: name at least one layer (Embedder.available_layers() lists them)")
    bad = [layer for layer in chosen if layer not in reference.available_layers()]
    if bad:
        raise ValueError(f"{bad} are not layers of {spec}; choose from: {', '.join(reference.available_layers())}")
    rep = dict(representation) if representation is not None else {"projection": "cca", "dim": 2}
    rows: list[dict[str, Any]] = []
    for scheme_spec in schemes:
        scheme = parse_scheme(scheme_spec)
        ct = encrypt(images, study_key(seed), scheme, seed=seed)
        seen = cleaned_images_for(ct.images, scheme, cleanup, prior_mean=127.5)
        family = scheme.spec.split(":", 1)[0]
        amount = getattr(scheme, "amount", None)
        for depth, layer in enumerate(chosen, start=1):
            emb = study_embedder(f"{spec}@{layer}", embedding_seed, device)
            zx = emb.embed(images, progress=False)
            zy = emb.embed(seen, progress=False)
            r = constant_side_result(zx, zy, estimator, permutations) or measure_leakage(
                zx,
                zy,
                estimator,
                settings,
                projection=rep.get("projection"),
                dim=rep.get("dim"),
                fit_fraction=rep.get("fit_fraction", 0.5),
                permutations=permutations,
                n_boot=n_boot,
                level=level,
                seed=seed,
                device=device,
            )
            rows.append(
                {
                    "embedding": spec,
                    "layer": layer,
                    "depth": depth,
                    "dim": int(zx.shape[1]),
                    "scheme": scheme.spec,
                    "family": family,
                    "k": float(amount) if amount is not None else math.nan,
                    "cleanup": cleanup,
                    "estimator": estimator,
                    "n": int(images.shape[0]),
                    **r.columns(),
                }
            )
    table = pd.DataFrame(rows)
    table["p_adjusted"] = adjust_p_values(table["p_value"].to_numpy(dtype=float), method=adjust)
    table["significant"] = [significant(p, alpha) for p in table["p_adjusted"]]
    return table[LAYER_COLUMNS]


def layer_table(table: pd.DataFrame, config: Any, block: str = "layers") -> pd.DataFrame:
    """A study block that reads several layers (embeddings ``"trained:digits@features.0.2"``, ...,
    ``"trained:digits"``) as a layer sweep: the rows of :func:`layer_sweep`'s table (:data:`LAYER_COLUMNS`),
    depth in the order the block lists its embeddings. ``table`` is the study's table (one seed per
    setting is expected; several are summarised, as :func:`seleak.study.summarize` does), ``config``
    the :class:`seleak.study.StudyConfig` it was run from. Empty when the study has no such block.
    """
    from seleak.study.analysis import summarize

    grids = [g for g in config.grids if g.block == block]
    if not grids or table.empty:
        return pd.DataFrame(columns=LAYER_COLUMNS)
    grid = grids[0]
    s = summarize(table[table["block"] == block]) if "mi_sd" not in table.columns else table
    s = s[s["block"] == block]
    rows = []
    for depth, spec in enumerate(grid.embeddings, start=1):
        emb = study_embedder(spec, grid.embedding_seed, grid.device)
        for _, r in s[s["embedding"] == spec].iterrows():
            rows.append(
                {
                    "embedding": spec.partition("@")[0],
                    "layer": emb.layer,
                    "depth": depth,
                    "dim": emb.dim,
                    **{
                        c: r[c]
                        for c in LAYER_COLUMNS
                        if c in r.index and c not in ("embedding", "layer", "depth", "dim")
                    },
                }
            )
    out = pd.DataFrame(rows)
    for c in LAYER_COLUMNS:
        if c not in out.columns:
            out[c] = np.nan
    out = out.assign(_full=out["family"] == "full")
    out = out.sort_values(["_full", "family", "k", "scheme", "cleanup", "depth"], kind="stable")
    return out[LAYER_COLUMNS].reset_index(drop=True)
