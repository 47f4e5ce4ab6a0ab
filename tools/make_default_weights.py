"""Write the model weights shipped inside the package (``src/seleak/weights/``).

Run from the project root: ``.venv/bin/python tools/make_default_weights.py``. It trains each model of
``seleak.embedding.SHIPPED_MODELS`` with the project's own training code and prints its held-out
accuracy; commit the files it writes. Retraining on another processor gives slightly different
weights (that is why the files are shipped), and the held-out accuracy that
``tests/test_embedding_shipped.py`` compares against.
"""

from __future__ import annotations

from seleak.embedding import SHIPPED_MODELS, WEIGHTS_DIR, export_trained_weights


def main() -> None:
    for (dataset, seed), name in SHIPPED_MODELS.items():
        info = export_trained_weights(dataset, seed, WEIGHTS_DIR / name)
        print(
            f"{name}: held-out accuracy {info['test_accuracy']:.4f} on {info['n_test']} images, "
            f"trained in {info['train_seconds']:.1f} s"
        )


if __name__ == "__main__":
    main()
