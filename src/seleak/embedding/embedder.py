"""CNN embeddings of 8-bit images: pretrained torchvision models, a small CNN trained here, random controls.

An embedder maps a ``uint8 (N, H, W[, C])`` batch to a ``float32 (N, D)`` array, row i for image i.
Leakage is measured there rather than on pixels because an embedding keeps what a vision model finds
meaningful (shapes, textures, classes) and drops most pixel-level noise, so "how much of the picture
survives encryption" becomes a question about a few hundred well-behaved coordinates.

Specs accepted by :func:`get_embedder`:

``"trained:<dataset>"``
    the offline default: :class:`SmallCNN` trained on the labels of ``load_dataset(<dataset>,
    split="train")``. ``trained:digits`` (seed 0) loads the weights shipped in ``seleak/weights/`` so
    that every machine gives the same embeddings; other data sets and seeds are trained here (seconds
    on a CPU) and cached on disk by a hash of data + config.
``"torchvision:<arch>[:<WEIGHTS>]"``
    an ImageNet-pretrained torchvision model (``resnet18``, ``resnet50``, ``vgg16``, ...), with its
    weights' own preprocessing; the weights are read from the torch hub cache (``$TORCH_HOME``) and
    downloaded only with ``download=True``.
``"random:<arch>"`` / ``"random:small"``
    the same architecture with seeded random weights: the control that shows what training adds.

Embeddings go through :func:`torchvision.models.feature_extraction.create_feature_extractor` so any
graph node can be the ``layer``; spatial outputs are average-pooled (``pool="avg"``) or flattened.
``embed`` runs under :func:`torch.inference_mode`, in batches, and caches its result on disk under a
content hash of the images and the embedder (atomic writes; a damaged file is recomputed).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

import numpy as np
import torch
import torch.nn as nn

from seleak._io import atomic_save_npz, cache_dir, hash_array, hash_config, load_npz
from seleak._runtime import seeded
from seleak._validation import is_int
from seleak.data import load_dataset
from seleak.embedding.images import adapt_channels, check_images, to_tensor
from seleak.embedding.models import (
    TRAIN_THREADS,
    SmallCNN,
    TrainConfig,
    small_cnn_preprocess,
    train_small_cnn,
)

__all__ = [
    "Embedder",
    "SHIPPED_MODELS",
    "WEIGHTS_DIR",
    "available_specs",
    "export_trained_weights",
    "get_embedder",
]

#: Bumped whenever a change alters embedding values, so stale cache files are not reused.
_CACHE_VERSION = 1


def _default_layer(model: nn.Module) -> str:
    """The input of the classification head: the graph node just before the last ``nn.Linear``.

    That is the usual "penultimate layer" embedding: ``flatten`` for ResNets, the fc7 activation
    (``classifier.5``) for VGG, the class token for ViT, ``flatten`` for :class:`SmallCNN`.
    """
    from torchvision.models.feature_extraction import get_graph_node_names

    last_linear = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    _, nodes = get_graph_node_names(model)
    if last_linear and last_linear[-1] in nodes:
        i = nodes.index(last_linear[-1])
        if i > 0:
            return nodes[i - 1]
    return nodes[-1]


@dataclass
class Embedder:
    """Maps ``uint8`` image batches to ``float32 (N, D)`` embeddings. Build it with :func:`get_embedder`.

    Attributes:
        spec: the spec it was built from (``"trained:digits"``, ``"torchvision:resnet18"``, ...).
        name: a short label for tables: the spec, plus ``@layer`` when the layer is not the default.
        layer: the graph node whose output is the embedding.
        seed: the seed of random weights / training.
        device: the torch device the model runs on.
        info: provenance (weights file, training time and accuracies, ...).
    """

    spec: str
    name: str
    layer: str
    seed: int
    device: torch.device
    model: nn.Module = field(repr=False)
    preprocess: Callable[[torch.Tensor], torch.Tensor] = field(repr=False)
    identity: dict[str, Any] = field(repr=False)
    pool: str = "avg"
    default_batch_size: int = 256
    info: dict[str, Any] = field(default_factory=dict, repr=False)
    full_model: nn.Module | None = field(default=None, repr=False)
    _dim: int | None = field(default=None, repr=False)

    @property
    def dim(self) -> int:
        """Embedding dimension D (found with one tiny forward pass the first time it is asked)."""
        if self._dim is None:
            probe = np.zeros((1, 32, 32, 3), dtype=np.uint8)
            self._dim = int(self._forward(probe).shape[1])
        return self._dim

    def cache_key(self, images: np.ndarray) -> str:
        """Content hash naming the cache file of ``embed(images)``."""
        return hash_config(
            {
                "v": _CACHE_VERSION,
                "embedder": self.identity,
                "layer": self.layer,
                "pool": self.pool,
                "images": hash_array(images),
                "device": self.device.type,
                "torch": torch.__version__,
            }
        )

    def _reduce(self, out: torch.Tensor) -> torch.Tensor:
        if out.ndim == 2:
            return out
        if self.pool == "flatten":
            return out.flatten(1)
        # average over every axis but the batch and the feature axis: spatial maps (N, C, H, W) and
        # token sequences (N, T, D) both become (N, features)
        return out.mean(dim=tuple(range(2, out.ndim))) if out.ndim == 4 else out.mean(dim=1)

    @torch.inference_mode()
    def _forward(self, batch: np.ndarray) -> torch.Tensor:
        out = self.model(self.preprocess(to_tensor(batch, self.device)))[self.layer]
        return self._reduce(out).float()

    def embed(
        self, images: np.ndarray, batch_size: int | None = None, progress: bool = True, cache: bool = True
    ) -> np.ndarray:
        """Embed a ``uint8`` batch: ``(N, H, W)`` or ``(N, H, W, C)`` with C in {1, 3} → ``float32 (N, D)``.

        Grey images are repeated over three channels for RGB models (and RGB turned to luma for a
        grey model). Runs in batches of ``batch_size`` (default: the model's) under inference mode.
        With ``cache``, the result is stored under ``<seleak cache>/embeddings`` keyed by the images'
        content and this embedder; a later call with the same images returns the stored array, and a
        damaged file is silently recomputed.
        """
        images = check_images(images)
        if batch_size is None:
            bs = self.default_batch_size
        elif not is_int(batch_size) or batch_size < 1:
            raise ValueError(
                f"batch_size must be a positive integer (or None for {self.default_batch_size}), got {batch_size!r}"
            )
        else:
            bs = int(batch_size)
        path = None
        if cache:
            path = cache_dir("embeddings") / f"{self.cache_key(images)}.npz"
            hit = self._valid_cache(load_npz(path), images)
            if hit is not None:
                return hit
        from tqdm.auto import tqdm

        n = images.shape[0]
        out: np.ndarray | None = None
        with tqdm(total=n, desc=self.name, unit="img", disable=not progress, leave=False) as bar:
            for s in range(0, n, bs):
                z = self._forward(images[s : s + bs]).cpu().numpy()
                if out is None:
                    out = np.empty((n, z.shape[1]), dtype=np.float32)
                out[s : s + z.shape[0]] = z
                bar.update(z.shape[0])
        assert out is not None
        if not np.isfinite(out).all():
            raise FloatingPointError(f"{self.name}: non-finite values in the embedding")
        self._dim = int(out.shape[1])
        if path is not None:
            atomic_save_npz(path, z=out)
        return out

    def _valid_cache(self, hit: dict[str, np.ndarray] | None, images: np.ndarray) -> np.ndarray | None:
        """The cached embedding if it has the shape ``embed`` would return, else ``None`` (recompute).

        A file of the wrong width, length or dtype, or with non-finite values, is damaged or foreign:
        trusting it once gave MI = inf downstream. The width is that of one image's forward pass (with
        ``pool="flatten"`` it depends on the image size), a millisecond against the embedding itself.
        """
        if hit is None or set(hit) != {"z"}:
            return None
        z = hit["z"]
        width = int(self._forward(images[:1]).shape[1])
        if z.dtype != np.float32 or z.shape != (images.shape[0], width) or not np.isfinite(z).all():
            return None
        self._dim = width
        return z

    def available_layers(self) -> list[str]:
        """Names of the graph nodes that can be passed as ``layer`` (eval-mode graph)."""
        from torchvision.models.feature_extraction import get_graph_node_names

        return get_graph_node_names(self.full_model)[1] if self.full_model is not None else [self.layer]


def _build(
    spec: str,
    full: nn.Module,
    layer: str | None,
    seed: int,
    device: torch.device,
    pool: str,
    preprocess: Callable[[torch.Tensor], torch.Tensor],
    identity: dict[str, Any],
    info: dict[str, Any],
    batch_size: int,
) -> Embedder:
    from torchvision.models.feature_extraction import (
        create_feature_extractor,
        get_graph_node_names,
    )

    full = full.eval().to(device)
    default = _default_layer(full)
    chosen = layer or default
    nodes = get_graph_node_names(full)[1]
    if chosen not in nodes:
        raise ValueError(f"layer {chosen!r} is not a node of {spec}; choose one of: {', '.join(nodes)}")
    extractor = create_feature_extractor(full, return_nodes=[chosen]).eval()
    name = spec if chosen == default else f"{spec}@{chosen}"
    info = {**info, "default_layer": default}
    return Embedder(
        spec=spec,
        name=name,
        layer=chosen,
        seed=seed,
        device=device,
        model=extractor,
        preprocess=preprocess,
        identity=identity,
        pool=pool,
        default_batch_size=batch_size,
        info=info,
        full_model=full,
    )


def _torchvision_preprocess(weights: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """The weights' own transforms (resize, centre crop, ImageNet normalisation), applied to a batch."""
    tf = weights.transforms()

    def prep(x: torch.Tensor) -> torch.Tensor:
        return tf(adapt_channels(x, 3).contiguous())

    return prep


def _state_hash(model: nn.Module) -> str:
    return hash_config({k: hash_array(v.detach().cpu().numpy()) for k, v in model.state_dict().items()})


def _torchvision_weights(arch: str, weights_name: str | None) -> Any:
    import torchvision.models as tvm
    from torchvision.models import get_model_weights, list_models

    if arch not in list_models(module=tvm):
        raise ValueError(
            f"unknown torchvision classification model {arch!r}; choose one of {', '.join(list_models(module=tvm))}"
        )
    enum = get_model_weights(arch)
    if weights_name is None:
        return enum.DEFAULT
    try:
        return enum[weights_name]
    except KeyError:
        raise ValueError(
            f"{arch} has no weights {weights_name!r}; choose one of {', '.join(w.name for w in enum)}"
        ) from None


def _weights_path(weights: Any) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights.url).path)


def _pretrained(arch: str, weights_name: str | None, download: bool) -> tuple[nn.Module, Any, Path]:
    from torchvision.models import get_model

    weights = _torchvision_weights(arch, weights_name)
    path = _weights_path(weights)
    if not path.exists() and not download:
        raise FileNotFoundError(
            f"pretrained weights {arch}:{weights.name} are not in the torch cache: looked for {path} "
            f"(torch hub dir {torch.hub.get_dir()}, set by $TORCH_HOME). Fetch them once with "
            f"get_embedder('torchvision:{arch}', download=True), or "
            f"python -c \"import torchvision; torchvision.models.get_model('{arch}', weights='{weights.name}')\", "
            f"or copy {weights.url} to that path on an offline machine"
        )
    # with the file present, torchvision loads it from the hub cache without touching the network
    model = get_model(arch, weights=weights, progress=download)
    return model, weights, path


def available_specs() -> dict[str, str]:
    """Spec patterns → what they mean (for help texts and notebooks)."""
    return {
        "trained:<dataset>": "SmallCNN trained here on load_dataset(<dataset>, split='train') labels (offline)",
        "random:small": "SmallCNN with seeded random weights (control for trained:*)",
        "torchvision:<arch>[:<WEIGHTS>]": "ImageNet-pretrained torchvision model, weights from $TORCH_HOME",
        "random:<arch>": "torchvision architecture with seeded random weights (control)",
    }


#: Models shipped inside the package, so that every reader of the book sees the same numbers. Training
#: is deterministic on one machine (fixed seed, data order and thread count) but not across machines:
#: torch's CPU kernels differ between processors (AVX-512 vs the portable kernels sum in another
#: order), and a model trained from the same seed elsewhere had weights that moved every number
#: downstream. Each file was written by :func:`export_trained_weights` (``tools/make_default_weights.py``)
#: with the project's own training code; ``retrain=True`` trains instead, and a test checks that
#: retraining reaches the shipped model's held-out accuracy.
SHIPPED_MODELS: dict[tuple[str, int], str] = {
    ("digits", 0): "smallcnn-digits-seed0.npz",
    ("photos", 0): "smallcnn-photos-seed0.npz",
}
WEIGHTS_DIR = Path(__file__).parent.parent / "weights"


def _training_data(dataset: str, seed: int, data_root: str | os.PathLike[str] | None, config: TrainConfig):
    ds = load_dataset(dataset, root=data_root, split="train", n=config.n_train, size=config.size, seed=seed)
    if ds.labels is None:
        raise ValueError(f"trained:{dataset} needs a labelled data set")
    return ds


def _weights_digest(state: dict[str, np.ndarray]) -> str:
    return hash_config({k: hash_array(v) for k, v in sorted(state.items())})


def _provenance(dataset: str, seed: int, config: TrainConfig, ds: Any) -> dict[str, Any]:
    """What a weights file was trained from: enough to refuse a file that does not match the request."""
    return {
        "dataset": dataset,
        "seed": seed,
        "config": asdict(config),
        "images": hash_array(ds.images),
        "labels": hash_array(ds.labels),
    }


def _save_weights(path: Path, model: SmallCNN, info: dict[str, Any], provenance: dict[str, Any]) -> Path:
    state = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    meta = {
        **info,
        "provenance": provenance,
        "weights_sha256": _weights_digest(state),
        "torch_trained_with": torch.__version__,
    }
    return atomic_save_npz(path, meta=np.array(json.dumps(meta)), **{f"w/{k}": v for k, v in state.items()})


def _load_weights(
    path: Path, config: TrainConfig, provenance: dict[str, Any] | None
) -> tuple[SmallCNN, dict[str, Any]]:
    """Read a weights file written by :func:`_save_weights`, checking digest and provenance.

    Raises:
        ValueError: missing, damaged, altered, or trained from other data / settings than asked.
    """
    stored = load_npz(path)
    if stored is None or "meta" not in stored:
        raise ValueError(f"{path} is missing or not a readable weights file")
    try:
        meta = json.loads(str(stored["meta"]))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: damaged metadata ({err})") from None
    state = {k[2:]: v for k, v in stored.items() if k.startswith("w/")}
    if _weights_digest(state) != meta.get("weights_sha256"):
        raise ValueError(f"{path}: the weights do not match their recorded digest (damaged or altered file)")
    if provenance is not None and meta.get("provenance") != json.loads(json.dumps(provenance)):
        raise ValueError(
            f"{path} was trained from other data or settings than asked "
            f"(recorded {meta.get('provenance', {}).get('images', '?')[:12]}...)"
        )
    try:
        model = SmallCNN(meta["in_channels"], meta["n_classes"], config.widths)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    except (KeyError, TypeError, RuntimeError) as err:  # metadata or shapes of another model
        raise ValueError(f"{path}: the weights do not fit the model ({err})") from None
    return model.eval(), meta


def _held_out(dataset: str, data_root: str | os.PathLike[str] | None, config: TrainConfig):
    try:
        test = load_dataset(dataset, root=data_root, split="test", size=config.size)
    except (ValueError, FileNotFoundError):  # a data set without a test split: no held-out accuracy
        return None, None
    return test.images, test.labels


def export_trained_weights(
    dataset: str,
    seed: int,
    path: str | os.PathLike[str],
    *,
    config: TrainConfig = TrainConfig(),
    data_root: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Train ``trained:<dataset>`` with the project's code and write its weights file (atomically).

    This is how the files in ``seleak/weights/`` (:data:`SHIPPED_MODELS`) are made; returns the info
    (held-out accuracy, provenance) stored with them.
    """
    ds = _training_data(dataset, seed, data_root, config)
    eval_x, eval_y = _held_out(dataset, data_root, config)
    model, info = train_small_cnn(
        ds.images, ds.labels, config=config, seed=seed, eval_images=eval_x, eval_labels=eval_y
    )
    info["dataset"] = ds.name
    _save_weights(Path(path), model, info, _provenance(dataset, seed, config, ds))
    return _load_weights(Path(path), config, None)[1]


def _trained_small(
    dataset: str,
    seed: int,
    device: torch.device,
    data_root: str | os.PathLike[str] | None,
    config: TrainConfig,
    progress: bool,
    retrain: bool = False,
) -> tuple[SmallCNN, dict[str, Any]]:
    ds = _training_data(dataset, seed, data_root, config)
    provenance = _provenance(dataset, seed, config, ds)
    shipped = SHIPPED_MODELS.get((dataset, seed))
    if shipped is not None and not retrain and config == TrainConfig():
        path = WEIGHTS_DIR / shipped
        try:
            model, meta = _load_weights(path, config, provenance)
            return model.to(device), {**meta, "weights_source": "shipped", "weights_file": str(path)}
        except ValueError as err:
            # e.g. another scikit-learn release changed the digits: train, and say the numbers will differ
            import warnings

            warnings.warn(
                f"trained:{dataset}: not using the shipped model ({err}); training one here, so "
                "numbers will differ slightly from the book's",
                RuntimeWarning,
                stacklevel=3,
            )
    key = hash_config(
        {
            "v": _CACHE_VERSION,
            "arch": "SmallCNN",
            "provenance": provenance,
            "threads": TRAIN_THREADS,
            "device": device.type,
            "torch": torch.__version__,
        }
    )
    path = cache_dir("models") / f"small-{ds.name}-{key[:24]}.npz"
    if not retrain and path.exists():
        try:
            model, meta = _load_weights(path, config, provenance)
            return model.to(device), {**meta, "weights_source": "cache", "weights_file": str(path)}
        except ValueError:  # a damaged or stale weights file is retrained, never fatal
            pass
    eval_x, eval_y = _held_out(dataset, data_root, config)
    model, info = train_small_cnn(
        ds.images,
        ds.labels,
        config=config,
        seed=seed,
        device=device,
        eval_images=eval_x,
        eval_labels=eval_y,
        progress=progress,
    )
    info["dataset"] = ds.name
    _save_weights(path, model, info, provenance)
    return model, {**info, "weights_source": "trained", "weights_file": str(path)}


def get_embedder(
    spec: str,
    layer: str | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    *,
    pool: str = "avg",
    download: bool = False,
    data_root: str | os.PathLike[str] | None = None,
    train_config: TrainConfig | None = None,
    progress: bool = False,
    retrain: bool = False,
) -> Embedder:
    """Build an embedder from a spec (see the module docstring).

    Args:
        spec: ``"trained:<dataset>"``, ``"random:small"``, ``"torchvision:<arch>[:<WEIGHTS>]"`` or
            ``"random:<arch>"``.
        layer: graph node to read (``Embedder.available_layers()`` lists them); default: the input of
            the classification head (penultimate layer).
        seed: seed of the random weights or of the training run (ignored by pretrained weights).
        device: ``"cpu"`` or ``"cuda"``; never required to be a GPU.
        pool: how a spatial (or token) output becomes a vector: ``"avg"`` (global mean) or ``"flatten"``.
        download: let ``torchvision:*`` download missing weights into the torch cache.
        data_root: root for ``trained:<torchvision data set>`` (see :func:`seleak.data.load_dataset`).
        train_config: training settings for ``trained:*`` (default :class:`TrainConfig`).
        progress: show a training progress bar.
        retrain: for ``trained:*`` models shipped with the package (:data:`SHIPPED_MODELS`, e.g.
            ``trained:digits`` at seed 0), train here instead of loading the shipped weights.

    Raises:
        ValueError: malformed spec, unknown architecture, weights or layer.
        FileNotFoundError: pretrained weights absent from the torch cache and ``download`` is false.
    """
    if not isinstance(spec, str) or ":" not in spec:
        raise ValueError(
            f"spec must look like 'kind:arg' with kind in trained/torchvision/random, got {spec!r}; "
            f"see available_specs()"
        )
    if pool not in ("avg", "flatten"):
        raise ValueError(f"pool must be 'avg' or 'flatten', got {pool!r}")
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was asked for but torch sees no CUDA device; use device='cpu'")

    if kind == "trained":
        config = train_config or TrainConfig()
        model, info = _trained_small(arg, seed, dev, data_root, config, progress, retrain)
        prep = small_cnn_preprocess(config.size, info["mean"], info["std"], info["in_channels"], dev)
        identity = {
            "kind": "trained",
            "dataset": arg,
            "seed": seed,
            "weights": _state_hash(model),
            "mean": info["mean"],
            "std": info["std"],
            "size": config.size,
        }
        return _build(spec, model, layer, seed, dev, pool, prep, identity, info, 512)

    if kind == "random" and arg.lower() == "small":
        with seeded(seed):
            model = SmallCNN(3, 10)
        # fixed mid-grey standardisation: no training data to estimate statistics from
        prep = small_cnn_preprocess(32, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), 3, dev)
        identity = {"kind": "random", "arch": "small", "seed": seed, "weights": _state_hash(model)}
        return _build(spec, model, layer, seed, dev, pool, prep, identity, {"weights": "random"}, 512)

    if kind in ("torchvision", "random"):
        arch, _, wname = arg.partition(":")
        if kind == "torchvision":
            model, weights, path = _pretrained(arch, wname or None, download)
            identity = {"kind": "torchvision", "arch": arch, "weights": weights.name, "file": path.name}
            info = {"weights": weights.name, "weights_file": str(path)}
        else:
            from torchvision.models import get_model

            weights = _torchvision_weights(arch, wname or None)  # for its preprocessing only; no download
            with seeded(seed):
                model = get_model(arch, weights=None)
            identity = {"kind": "random", "arch": arch, "seed": seed, "transforms": weights.name}
            info = {"weights": "random", "transforms_from": weights.name}
        return _build(spec, model, layer, seed, dev, pool, _torchvision_preprocess(weights), identity, info, 64)

    raise ValueError(f"unknown embedder kind {kind!r} in {spec!r}; use trained:, torchvision: or random:")
