"""Every attack over a list of schemes as one tidy table, and that table as one row per setting.

:func:`attack_table` encrypts the images with each scheme and runs the replacement, reconstruction and
recognition attacks on them; :func:`attack_measures` turns its long table into one row per (scheme,
seed) with one column per measure, the form the chapter-5 notebook sets against the leakage estimates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from seleak.attacks.recognition import recognition_attack
from seleak.attacks.replacement import CONSTANT_METHODS, replacement_attack
from seleak.encryption import as_scheme, check_images

if TYPE_CHECKING:  # pandas is imported where used: importing seleak.attacks stays light
    import pandas as pd

__all__ = ["attack_measures", "attack_table"]


def attack_table(
    images: np.ndarray,
    labels: np.ndarray | None,
    key: bytes,
    schemes: Sequence[Any],
    *,
    methods: Iterable[str] = ("mid", "oracle", "auto"),
    recognition: bool = True,
    seed: int = 0,
    epochs: int = 20,
    prior_mean: float = 127.5,
    device: str = "cpu",
    threads: int | None = None,
    sweeps: int = 60,
    recognition_options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Encrypt ``images`` with every scheme and run every attack; one tidy ``pandas.DataFrame``.

    One row per (scheme, attack). Columns: ``scheme, k, attack, method, oracle, psnr_db, ssim,
    exact_fraction, accuracy, chance, cross_entropy_nats, label_entropy_nats, mi_lower_bound_nats,
    mi_lower_bound_raw_nats, seed, wall_time_s`` (NaN where a column does not apply to the attack).
    The encryption nonces are derived from ``seed`` (study mode: reproducible, never for real data).
    Replacement rows are skipped for schemes that do not act on pixel bits; recognition rows need
    ``labels``. ``prior_mean`` and ``sweeps`` go to the reconstructions, ``threads`` to the recognition
    attack; ``recognition_options`` (e.g. ``{"features": "pixels", "lr": 3e-3, "batch_size": 32}``) are
    further keyword arguments of :func:`recognition_attack`.
    """
    import pandas as pd

    from seleak.encryption import encrypt

    imgs = check_images(images)
    methods = tuple(methods)
    rec_opts = dict(recognition_options or {})
    clash = sorted(set(rec_opts) & {"scheme", "seed", "epochs", "device", "threads", "se_images", "labels"})
    if clash:
        raise ValueError(f"recognition_options may not set {clash}: they are arguments of attack_table itself")
    rows: list[dict[str, Any]] = []
    for s in schemes:
        scheme = as_scheme(s)
        ct = encrypt(imgs, key, scheme, seed=seed)
        se = ct.images
        # replacing bits means nothing for schemes that do not XOR pixel bits (DCT)
        pixel = getattr(scheme, "is_pixel_scheme", True)
        reps = (
            replacement_attack(imgs, se, scheme, methods=methods, sweeps=sweeps, prior_mean=prior_mean) if pixel else []
        )
        for r in reps:
            rows.append(
                {
                    "attack": "replacement" if r.method in CONSTANT_METHODS else "reconstruction",
                    **r.to_row(),
                    "seed": seed,
                }
            )
        if recognition and labels is not None:
            rec = recognition_attack(
                se, labels, scheme=scheme, seed=seed, epochs=epochs, device=device, threads=threads, **rec_opts
            )
            row = rec.to_row()
            row.update(attack="recognition", method=f"cnn-{rec.features}", oracle=False)
            rows.append(row)
    cols = [
        "scheme",
        "k",
        "attack",
        "method",
        "oracle",
        "psnr_db",
        "ssim",
        "exact_fraction",
        "accuracy",
        "chance",
        "cross_entropy_nats",
        "label_entropy_nats",
        "mi_lower_bound_nats",
        "mi_lower_bound_raw_nats",
        "seed",
        "wall_time_s",
    ]
    return pd.DataFrame(rows).reindex(columns=cols)


def attack_measures(table: pd.DataFrame) -> pd.DataFrame:
    """The long table of :func:`attack_table` → one row per (scheme, seed), one column per measure.

    Columns: ``scheme, k, seed`` then ``psnr_mid, ssim_mid`` (blind constant replacement),
    ``psnr_oracle, ssim_oracle`` (best constant per image: an upper bound, not an attack),
    ``psnr_rec, ssim_rec, rec_method`` (the reconstruction, ``"unwrap"`` or ``"smooth"``),
    ``accuracy, chance, label_mi_nats`` (the recognition attack and its clipped bound ``H(Y) - CE``)
    and ``label_mi_raw_nats``. A measure an attack did not produce (no replacement for DCT schemes, no
    recognition without labels) is NaN. PSNR is ``inf`` where every image was recovered exactly.
    """

    if table.empty:
        raise ValueError("the attack table is empty")
    keys = ["scheme", "seed"]
    out = table[keys + ["k"]].drop_duplicates(keys).set_index(keys)
    rep = table[table["attack"] == "replacement"]
    for method in ("mid", "oracle"):
        part = rep[rep["method"] == method].set_index(keys)
        out[f"psnr_{method}"] = part["psnr_db"]
        out[f"ssim_{method}"] = part["ssim"]
    part = table[table["attack"] == "reconstruction"].set_index(keys)
    out["psnr_rec"], out["ssim_rec"], out["rec_method"] = part["psnr_db"], part["ssim"], part["method"]
    part = table[table["attack"] == "recognition"].set_index(keys)
    out["accuracy"], out["chance"] = part["accuracy"], part["chance"]
    out["label_mi_nats"] = part["mi_lower_bound_nats"]
    out["label_mi_raw_nats"] = part["mi_lower_bound_raw_nats"]
    out = out.reset_index()
    return out[["scheme", "k", "seed"] + [c for c in out.columns if c not in ("scheme", "k", "seed")]].astype(
        {c: float for c in out.columns if c.startswith(("psnr", "ssim", "accuracy", "chance", "label_mi"))}
    )
