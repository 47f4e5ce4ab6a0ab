"""Write the model weights shipped inside the package (``src/seleak/weights/``).

Run from the project root: ``.venv/bin/python tools/make_default_weights.py [DATASET ...]``. It trains
each model of ``seleak.embedding.SHIPPED_MODELS`` (or only those of the data sets named, e.g.
``photos``) with the project's own training code and prints its held-out accuracy; commit the files it
writes. Retraining on another processor gives slightly different weights (that is why the files are
shipped), and the held-out accuracy that ``tests/test_embedding_shipped.py`` compares against.

The shipped models and their objective: ``trained:digits`` classifies the ten digits;
``trained:photos`` classifies which of the 16 bundled photographs a 32×32 tile was cut from (the only
labels the set has: it makes the network learn the textures, colours and shapes that tell the scenes
apart). Each is held out like the study's images: the held-out split (``seleak.data`` ``split="test"``,
60 % of the digits and 63 % of the photos' tiles) is the one the study measures, so the network never
saw the images whose leakage is estimated.
"""

from __future__ import annotations

import sys

from seleak.embedding import SHIPPED_MODELS, WEIGHTS_DIR, export_trained_weights


def main(datasets: list[str]) -> None:
    known = sorted({d for d, _ in SHIPPED_MODELS})
    unknown = sorted(set(datasets) - set(known))
    if unknown:
        raise SystemExit(f"no shipped model for {unknown}; shipped: {', '.join(known)}")
    for (dataset, seed), name in SHIPPED_MODELS.items():
        if datasets and dataset not in datasets:
            continue
        info = export_trained_weights(dataset, seed, WEIGHTS_DIR / name)
        print(
            f"{name}: held-out accuracy {info['test_accuracy']:.4f} on {info['n_test']} images "
            f"(train accuracy {info['train_accuracy']:.4f} on {info['n_train']}), trained in "
            f"{info['train_seconds']:.1f} s"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
