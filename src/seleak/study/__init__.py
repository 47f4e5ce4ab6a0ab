"""The leakage study: a grid of experiments turned into one tidy table.

A study is a grid — data sets × embedders × schemes × estimators × seeds — described by the ``study``
section of a profile (``profiles/NAME.yaml``); the notebooks and ``seleak study`` read the same
profiles. For every *cell* (one data set, embedder, scheme and seed) the study

1. loads the images (the same sample for every cell of a data set),
2. encrypts them with the cell's scheme under a key derived from the seed (each seed is a fresh key;
   nonces come from the seed too: the reproducible, study-only mode of :func:`seleak.encryption.encrypt`),
3. embeds plain and encrypted images,
4. measures ``I(f(X); f(SE(X)))`` with every estimator on the block's one representation, through
   :func:`seleak.leakage.measure_leakage` (estimate, interval, permutation p-value, lower bound, ceiling),
5. adds the image-level upper bound ``I(X; SE(X))`` of the sample, the per-pixel view and the classic
   SE metrics.

Each block is one family of tests: ``p_adjusted`` (Holm by default) is computed over it and
``significant`` is ``p_adjusted <= alpha``.

Every (cell, estimator) result is cached under ``OUT/cells/`` by a content hash of everything it depends
on and written atomically, so an interrupted run resumes where it stopped and a changed setting
recomputes only the rows it touches. Each cache file carries the hash of the settings it was computed
for and is validated when read (schema, types, finite values, matching hash): a damaged or mismatched
file is named in a warning and recomputed. Values derived from a cached one under settings outside the
key (``p_adjusted``, ``significant`` at ``alpha``, ``mi_bits``) are computed when the table is made, never cached. A run
holds ``OUT/.lock``, so a second run on the same folder is refused instead of repeating the work.
Cells run in local processes (joblib) or on a Dask cluster (``scheduler="tcp://HOST:PORT"``) with the
same results.

The subpackage has one module per idea, all of their public names re-exported here:

- :mod:`seleak.study.config`: the settings table, the validated grids, ``load_study``;
- :mod:`seleak.study.cell`: one cell, its computation and its validated cache;
- :mod:`seleak.study.run`: running every cell (locally or on Dask) into the tidy table;
- :mod:`seleak.study.analysis`: summaries, the expected findings, and the views the book draws;
- :mod:`seleak.study.layers`: the layer sweep, ``I(f_l(X); f_l(SE(X)))`` at every depth of the embedder.

A block's ``cleanup`` setting (``[none, replace]``) measures the SE images also as a scheme-aware
adversary cleans them before embedding (:func:`seleak.attacks.clean_up`): one row per clean-up, the
``cleanup`` column says which; :func:`cleanup_table` and :func:`quiet_table` set them side by side. An
embedding spec ``"trained:digits@features.1"`` reads that layer instead of the penultimate one.
"""

from seleak.embedding.features import informative_columns  # the embedding clean-up the cells apply
from seleak.study.analysis import (
    ATTACK_MEASURES,
    CLASSIC_COLUMNS,
    CONTROL_BLOCKS,
    KEYS,
    PIXEL_COLUMNS,
    RECOGNITION_MARGIN,
    REFERENCE_SCHEMES,
    AttackComparison,
    Disagreements,
    adjustment_counts,
    attack_values,
    attacked_dataset,
    attacker_prior,
    block_summary,
    classic_table,
    cleanup_table,
    compared_summary,
    complete_estimators,
    disagreements,
    embedding_comparison,
    estimator_labels,
    findings,
    first_quiet,
    grid_table,
    leakage_values,
    lsb_against_msb,
    main_estimator,
    mi_table,
    other_schemes,
    p_value_table,
    pixel_against_embedding,
    quiet_table,
    rank_gaps,
    rank_table,
    reference_summary,
    sample_size_table,
    sandwich,
    scheme_order,
    scheme_points,
    seed_means,
    select_attack_comparison,
    shared_k,
    shown_estimate,
    summarize,
    value,
    verdict_text,
)
from seleak.study.cell import (
    CACHE_VERSION,
    CachedCell,
    Cell,
    cleaned_images,
    cleaned_images_for,
    compute_cell,
    constant_side_result,
    grid_dataset,
    prepare_embedders,
    study_cells,
    study_embedder,
    study_key,
    table_rows,
)
from seleak.study.config import (
    BLOCK_KEYS,
    DEFAULTS,
    SETTINGS,
    STUDY_KEYS,
    EstimatorSpec,
    Grid,
    Setting,
    StudyConfig,
    StudyConfigError,
    config_from_mapping,
    expand_schemes,
    load_study,
    shift_seeds,
)
from seleak.study.layers import LAYER_COLUMNS, layer_sweep, layer_table, sweep_layers
from seleak.study.run import (
    COLUMNS,
    StudyBusyError,
    StudyRun,
    adjust_block_p_values,
    read_results,
    run_study,
    split_repeats,
    study_folder,
    tidy,
)

#: the grid's cells (the name this function had before the study became a package)
cells = study_cells

__all__ = [
    # config
    "SETTINGS",
    "Setting",
    "STUDY_KEYS",
    "DEFAULTS",
    "BLOCK_KEYS",
    "StudyConfigError",
    "EstimatorSpec",
    "Grid",
    "StudyConfig",
    "expand_schemes",
    "config_from_mapping",
    "load_study",
    "shift_seeds",
    # cells
    "CACHE_VERSION",
    "Cell",
    "CachedCell",
    "study_cells",
    "cells",
    "informative_columns",
    "study_key",
    "grid_dataset",
    "prepare_embedders",
    "compute_cell",
    "table_rows",
    "cleaned_images",
    "cleaned_images_for",
    "constant_side_result",
    "study_embedder",
    # layers
    "LAYER_COLUMNS",
    "layer_sweep",
    "layer_table",
    "sweep_layers",
    # run
    "COLUMNS",
    "StudyRun",
    "StudyBusyError",
    "run_study",
    "split_repeats",
    "study_folder",
    "tidy",
    "read_results",
    # analysis
    "KEYS",
    "summarize",
    "findings",
    "REFERENCE_SCHEMES",
    "block_summary",
    "reference_summary",
    "scheme_order",
    "p_value_table",
    "lsb_against_msb",
    "other_schemes",
    "embedding_comparison",
    "pixel_against_embedding",
    "CLASSIC_COLUMNS",
    "classic_table",
    "first_quiet",
    "grid_table",
    "value",
    "leakage_values",
    "CONTROL_BLOCKS",
    "ATTACK_MEASURES",
    "PIXEL_COLUMNS",
    "RECOGNITION_MARGIN",
    "AttackComparison",
    "select_attack_comparison",
    "attacked_dataset",
    "attacker_prior",
    "compared_summary",
    "estimator_labels",
    "mi_table",
    "seed_means",
    "scheme_points",
    "complete_estimators",
    "main_estimator",
    "rank_table",
    "Disagreements",
    "disagreements",
    "rank_gaps",
    "shared_k",
    "attack_values",
    "verdict_text",
    "shown_estimate",
    "sandwich",
    "sample_size_table",
    "adjustment_counts",
    "adjust_block_p_values",
    "cleanup_table",
    "quiet_table",
]
