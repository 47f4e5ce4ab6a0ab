"""CNN embeddings of 8-bit images: pretrained torchvision models, a small CNN trained here, random controls.

One file per idea:

* :mod:`~seleak.embedding.embedder` — :func:`get_embedder` and :class:`Embedder` (specs, layers,
  batching, the on-disk cache) and the trained weights shipped in ``seleak/weights/``;
* :mod:`~seleak.embedding.models` — :class:`SmallCNN` and the one seeded training loop every small CNN
  of the project goes through (:func:`train_small_cnn` for the embedder; the recognition attack of
  :mod:`seleak.attacks` uses the same model class and loop with its own settings);
* :mod:`~seleak.embedding.images` — input checks and channel adaptation;
* :mod:`~seleak.embedding.features` — :func:`informative_columns`, the embedding coordinates that vary;
* :mod:`~seleak.embedding.retrieval` — nearest-neighbour retrieval scores.

Layering: this subpackage imports :mod:`seleak.data` and :mod:`seleak._io` only.
"""

from seleak.embedding.embedder import (
    SHIPPED_MODELS,
    WEIGHTS_DIR,
    Embedder,
    available_specs,
    export_trained_weights,
    get_embedder,
)
from seleak.embedding.features import informative_columns
from seleak.embedding.images import check_images
from seleak.embedding.models import (
    TRAIN_THREADS,
    SmallCNN,
    TrainConfig,
    train_small_cnn,
)
from seleak.embedding.retrieval import neighbour_label_accuracy, retrieval_accuracy

__all__ = [
    "Embedder",
    "SmallCNN",
    "TrainConfig",
    "SHIPPED_MODELS",
    "TRAIN_THREADS",
    "WEIGHTS_DIR",
    "available_specs",
    "check_images",
    "export_trained_weights",
    "get_embedder",
    "informative_columns",
    "neighbour_label_accuracy",
    "retrieval_accuracy",
    "train_small_cnn",
]
