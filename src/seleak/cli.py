"""The ``seleak`` command line.

Each sub-command parses its arguments here and calls the package; no study logic lives in this file.
Sub-commands are registered in :data:`COMMANDS`; each module-level ``_cmd_*`` function receives the
parsed arguments and returns an exit code.
"""

from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:  # numpy is imported where it is used: `seleak --help` stays fast
    import numpy as np

EPILOG_BOOK = """examples:
  seleak book --profile quick                 # the main job: every chapter, then the HTML book
  seleak book --profile full --device cuda    # the GPU-sized study
  seleak book --profile quick --only 02_mi_estimators --no-build
"""


def _add_book(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "book",
        help="execute the notebooks with papermill and build the HTML book",
        description="Execute every notebook of _toc.yml with a profile's parameters (papermill), "
        "then build the HTML book with Jupyter Book (warnings are errors).",
        epilog=EPILOG_BOOK,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--profile", default="quick", help="profile name in profiles/ or a YAML path (default: quick)")
    p.add_argument("--device", default=None, help="torch device for notebooks that take one (cpu, cuda)")
    p.add_argument(
        "--only",
        action="append",
        metavar="NOTEBOOK",
        help="execute only this notebook (stem or path); repeatable; the others keep their last run",
    )
    p.add_argument("--no-build", action="store_true", help="execute the notebooks but do not build HTML")
    p.add_argument("--root", default=None, help="the book's root folder (default: found from the current folder)")
    p.set_defaults(func=_cmd_book)


def _cmd_book(args: argparse.Namespace) -> int:
    from seleak.runner import run_book

    run = run_book(args.profile, root=args.root, device=args.device, only=args.only, build=not args.no_build)
    for r in run.runs:
        print(f"{r.name}: {r.seconds:.1f} s")
    if run.html_index:
        print(f"book: {run.html_index}")
    return 0


def _add_refresh(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "refresh-notebooks",
        help="execute source notebooks at their defaults and keep only the nbval-checked outputs",
        description="Execute each notebook at its default parameters and save it back with the outputs of "
        "'# NBVAL_CHECK_OUTPUT' cells only (what nbval compares) and no volatile metadata.",
    )
    p.add_argument("notebooks", nargs="+", help="notebook files (book/NN_name.ipynb)")
    p.set_defaults(func=_cmd_refresh)


def _cmd_refresh(args: argparse.Namespace) -> int:
    from seleak.runner import refresh_notebook

    for path in args.notebooks:
        print(f"refreshed {refresh_notebook(path)}")
    return 0


def _add_handout(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "handout",
        help="the student edition of the exercises: notebooks without solutions and their own HTML book",
        description="Write the exercise notebooks without their solution cells (code and output) to "
        "OUT/notebooks and build them as a small Jupyter Book in OUT/html. OUT is replaced atomically; a "
        "folder not written by this command is refused.",
    )
    p.add_argument("--out", default=None, help="output folder (default: _build/handout)")
    p.add_argument("--no-html", action="store_true", help="write the notebooks and book sources, do not build")
    p.add_argument("--force", action="store_true", help="replace OUT even if this command did not write it")
    p.add_argument(
        "--update-headers",
        action="store_true",
        help="only rewrite each exercise's header cell from its metadata['exercise'] (in the source notebooks)",
    )
    p.add_argument("--root", default=None, help="the book's root folder (default: found from the current folder)")
    p.set_defaults(func=_cmd_handout)


def _cmd_handout(args: argparse.Namespace) -> int:
    from seleak.runner.handout import build_handout, sync_exercise_headers

    if args.update_headers:
        for path in sync_exercise_headers(args.root):
            print(f"header rewritten: {path}")
        return 0
    out = build_handout(args.root, args.out, html=not args.no_html, force=args.force)
    print(f"notebooks: {out / 'notebooks'}")
    if not args.no_html:
        print(f"book: {out / 'html' / 'index.html'}")
    return 0


def _add_pdf(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pdf",
        help="print the built HTML book to one PDF with the system Chromium (headless, offline)",
        description="Print every page of the built book (_build/html, after `seleak book`) with headless "
        "Chromium, in _toc.yml order, and merge them into one PDF with bookmarks and internal links.",
    )
    p.add_argument("--html", default=None, help="the built HTML folder (default: _build/html)")
    p.add_argument("--out", default=None, help="the PDF file (default: _build/pdf/seleak.pdf)")
    p.add_argument("--chromium", default=None, help="Chromium executable (default: /usr/bin/chromium or on PATH)")
    p.add_argument(
        "--folded",
        action="store_true",
        help="print folded content (solutions, dropdowns) folded, as the page shows it; default: unfolded",
    )
    p.add_argument("--root", default=None, help="the book's root folder (default: found from the current folder)")
    p.set_defaults(func=_cmd_pdf)


def _cmd_pdf(args: argparse.Namespace) -> int:
    from seleak.runner.pdf import book_pdf

    result = book_pdf(args.root, html_dir=args.html, out=args.out, chromium=args.chromium, unfold=not args.folded)
    print(
        f"pdf: {result.path} ({result.pages} pages, {result.path.stat().st_size / 1e6:.1f} MB, "
        f"{result.links} internal links)"
    )
    return 0


EPILOG_STUDY = """examples:
  seleak study --profile quick --out results/quick          # the CPU study; rerun to resume
  seleak study --profile full --out results/full --device cuda
  seleak study --profile quick --out results/q --scheduler tcp://127.0.0.1:8786   # on a Dask cluster
The table is written to OUT/results.csv (one row per data set, embedding, scheme, estimator and seed);
cells already computed are read from OUT/cells/ and not computed again.
"""


def _add_study(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "study",
        help="run the leakage study of a profile and write OUT/results.csv",
        description="Run (or resume) the study grid of a profile: encrypt, embed, estimate MI with "
        "intervals and permutation p-values, and write one tidy table.",
        epilog=EPILOG_STUDY,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--profile", default="quick", help="profile name in profiles/ or a YAML path (default: quick)")
    p.add_argument("--out", required=True, help="output folder (results.csv, study.json, cells/)")
    p.add_argument("--device", default=None, help="torch device (overrides the profile's)")
    p.add_argument("--workers", type=int, default=None, help="local processes (overrides the profile's)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://127.0.0.1:8786")
    p.add_argument("--root", default=None, help="folder holding profiles/ (default: found from here)")
    p.set_defaults(func=_cmd_study)


def _cmd_study(args: argparse.Namespace) -> int:
    from seleak.study import load_study, run_study

    config = load_study(args.profile, args.root, device=args.device)
    run = run_study(config, args.out, scheduler=args.scheduler, workers=args.workers)
    print(
        f"{len(run.table)} rows, {run.computed} cells computed, {run.cached} read from cache, "
        f"{run.seconds:.1f} s ({run.executor})"
    )
    print(f"results: {run.out / 'results.csv'}")
    return 0


EPILOG_KEYGEN = """examples:
  seleak keygen secret.key                 # a 128-bit key, file mode 0600
  seleak keygen secret.key --bits 256
A key file is two lines of text: 'seleak-key-v1' and the key as hex digits (32, 48 or 64 for
128, 192 or 256 bits). It is the only format seleak reads: raw key bytes, bare hex and passphrases are
refused. keygen never overwrites a file, and the key itself is never printed.
"""


def _add_keygen(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "keygen",
        help="write a fresh AES key (OS CSPRNG) to a new key file with permissions 0600",
        description="Create a new AES key file from the operating system's CSPRNG. The file is created "
        "with permissions 0600 and an existing file is never overwritten.",
        epilog=EPILOG_KEYGEN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("key_file", metavar="KEY", help="path of the key file to create")
    p.add_argument("--bits", type=int, choices=(128, 192, 256), default=128, help="key length (default: 128)")
    p.set_defaults(func=_cmd_keygen)


def _cmd_keygen(args: argparse.Namespace) -> int:
    from seleak.encryption import generate_key
    from seleak.io_images import write_key_file

    path = write_key_file(args.key_file, generate_key(args.bits // 8))
    print(f"wrote a {args.bits}-bit key to {path} (mode 0600)")
    return 0


EPILOG_ENCRYPT = """examples:
  seleak keygen secret.key
  seleak encrypt photo.png photo.se.png --scheme msb:3 --key-file secret.key
  seleak encrypt face.png face.se.png --scheme region:center:0.25 --key-file secret.key
  seleak encrypt photo.png photo.se.png --scheme lsb:2 --key-file secret.key --force   # replace the output
  seleak decrypt photo.se.png photo.back.png --key-file secret.key
Schemes: full, msb:K, lsb:K, planes:P,P,..., region:box:Y0,X0,Y1,X1[@PLANES], region:center:F[@PLANES]
(see seleak.encryption). The scheme, the nonce, a random salt and a MAC (HMAC-SHA256 under a key
derived from yours and the salt, over the scheme, nonce, mode and size; never the key) are stored in
the output PNG's text chunks, so decrypt needs only the key and detects a wrong key or altered
metadata. Grey (L), grey+alpha (LA), RGB and RGBA 8-bit PNGs are accepted (16-bit, palette and
animated PNGs are refused: convert them first); an alpha channel stays in the clear. The output is a
lossless PNG, written atomically. An existing output is replaced only with --force; the key file and
the input are never written over. KEY is a file made by seleak keygen ('seleak-key-v1' + hex key).
"""


def _add_encrypt(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "encrypt",
        help="selectively encrypt a PNG (AES-CTR); scheme, nonce and a MAC go into the output's metadata",
        description="Selectively encrypt one 8-bit PNG image with AES-CTR under the key in KEY and write a "
        "lossless PNG that carries the scheme, the nonce and an authentication code in its metadata.",
        epilog=EPILOG_ENCRYPT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="IN.png", help="the plain image")
    p.add_argument("output", metavar="OUT.png", help="the encrypted image to write (a new file unless --force)")
    p.add_argument("--scheme", required=True, help="scheme spec, e.g. msb:3, lsb:2, full, region:center:0.25")
    p.add_argument("--key-file", required=True, metavar="KEY", help="key file made by seleak keygen")
    p.add_argument("--force", action="store_true", help="replace OUT.png if it exists (never the key or the input)")
    p.set_defaults(func=_cmd_encrypt)


def _cmd_encrypt(args: argparse.Namespace) -> int:
    from seleak.encryption import encrypt, parse_scheme, parse_scheme_for_shape
    from seleak.io_images import (
        FORMAT_VERSION,
        META_PREFIX,
        check_output_path,
        join_alpha,
        read_key_file,
        read_png,
        seal_png_metadata,
        split_alpha,
        write_png,
    )

    protect = (args.key_file, args.input)
    check_output_path(args.output, force=args.force, inputs=[args.input], keys=[args.key_file])
    key = read_key_file(args.key_file)
    scheme = parse_scheme(args.scheme) if not args.scheme.strip().startswith("region:mask:") else None
    if scheme is not None and not scheme.is_pixel_scheme:
        # a DCT-domain ciphertext needs its coefficients to decrypt exactly; a PNG holds pixels only
        raise ValueError(
            f"scheme {scheme.spec!r} does not encrypt pixel bits; a PNG cannot carry it exactly "
            "(use the Python API and Ciphertext.save for DCT schemes)"
        )
    src = read_png(args.input)
    if src.seleak_meta:
        raise ValueError(
            f"{args.input} is already a seleak-encrypted image (scheme "
            f"{src.seleak_meta.get('scheme', '?')[:40]}); decrypt it first"
        )
    height, width = src.pixels.shape[:2]
    if scheme is None:  # a mask is checked against the image's size before it is decompressed
        scheme = parse_scheme_for_shape(args.scheme.strip(), (height, width))
    colour, alpha = split_alpha(src.pixels, src.mode)
    ct = encrypt(colour, key, scheme)
    meta = {"format": FORMAT_VERSION, "scheme": scheme.spec, "nonce": ct.nonces[0].tobytes().hex(), "mode": src.mode}
    if alpha is not None:
        meta["alpha"] = "clear"
    meta = seal_png_metadata(key, meta, src.mode, width, height)
    write_png(
        args.output,
        join_alpha(ct.images, alpha),
        src.mode,
        {META_PREFIX + k: v for k, v in meta.items()},
        overwrite=args.force,
        protect=protect,
    )
    print(
        f"encrypted {args.input} -> {args.output} ({scheme.spec if len(scheme.spec) <= 60 else 'region:mask'}, "
        f"{src.mode} {width}x{height})"
    )
    return 0


EPILOG_DECRYPT = """examples:
  seleak decrypt photo.se.png photo.png --key-file secret.key
  seleak decrypt photo.se.png photo.png --key-file secret.key --force   # replace photo.png
The scheme and nonce are read from IN.png's metadata (written by seleak encrypt). Its MAC is checked
first: a wrong key, or a scheme, nonce, mode or size altered since encryption, is refused before
anything is written; a PNG without seleak metadata is refused. The output is written atomically; an
existing output is replaced only with --force, and the key file and the input never.
"""


def _add_decrypt(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "decrypt",
        help="decrypt a PNG written by seleak encrypt (exact round trip, metadata authenticated)",
        description="Decrypt a PNG written by 'seleak encrypt' with the key in KEY; the result is exactly "
        "the original image.",
        epilog=EPILOG_DECRYPT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="IN.png", help="an image written by seleak encrypt")
    p.add_argument("output", metavar="OUT.png", help="the decrypted image to write (a new file unless --force)")
    p.add_argument("--key-file", required=True, metavar="KEY", help="key file made by seleak keygen")
    p.add_argument("--force", action="store_true", help="replace OUT.png if it exists (never the key or the input)")
    p.set_defaults(func=_cmd_decrypt)


def _cmd_decrypt(args: argparse.Namespace) -> int:
    import numpy as np

    from seleak.encryption import Ciphertext, decrypt, parse_scheme_for_shape
    from seleak.io_images import (
        FORMAT_VERSION,
        META_FIELDS,
        check_output_path,
        join_alpha,
        read_key_file,
        read_png,
        split_alpha,
        verify_png_metadata,
        write_png,
    )

    check_output_path(args.output, force=args.force, inputs=[args.input], keys=[args.key_file])
    src = read_png(args.input)
    meta = src.seleak_meta
    if not meta:
        raise ValueError(
            f"{args.input} carries no seleak metadata (scheme, nonce); it was not written by "
            "seleak encrypt, or its text chunks were stripped by another program"
        )
    if "format" in meta and meta["format"] != FORMAT_VERSION:
        raise ValueError(
            f"{args.input}: seleak metadata format {meta['format'][:8]!r}, this version reads "
            f"{FORMAT_VERSION!r} (format '1' files, from before authenticated metadata, need the "
            "seleak version that wrote them)"
        )
    missing = [k for k in META_FIELDS if k not in meta]
    if missing:
        raise ValueError(
            f"{args.input}: incomplete seleak metadata, missing {', '.join(missing)}; the file "
            "was altered after encryption"
        )
    if meta["mode"] != src.mode:
        raise ValueError(
            f"{args.input}: the image is {src.mode} but was encrypted as {meta['mode'][:8]}; "
            "it was converted after encryption and cannot be decrypted exactly"
        )
    height, width = src.pixels.shape[:2]
    key = read_key_file(args.key_file)
    # authenticate before the metadata is interpreted: nothing unauthenticated is parsed or written
    verify_png_metadata(key, meta, src.mode, width, height, str(args.input))
    if (meta.get("alpha") == "clear") != (src.mode in ("LA", "RGBA")):
        raise ValueError(f"{args.input}: the alpha flag does not match the mode {src.mode}")
    try:
        nonce = np.frombuffer(bytes.fromhex(meta["nonce"]), dtype=np.uint8)[None]
    except ValueError:
        raise ValueError(f"{args.input}: the nonce in the metadata is not hexadecimal") from None
    scheme = parse_scheme_for_shape(meta["scheme"], (height, width))
    colour, alpha = split_alpha(src.pixels, src.mode)
    # the PNG's own MAC was checked above; this Ciphertext is built here and has no tag of its own
    plain = decrypt(Ciphertext(colour, nonce, scheme), key, verify=False)
    write_png(
        args.output, join_alpha(plain, alpha), src.mode, overwrite=args.force, protect=(args.key_file, args.input)
    )
    print(f"decrypted {args.input} -> {args.output} ({scheme.spec if len(scheme.spec) <= 60 else 'region:mask'})")
    return 0


EPILOG_LEAK = """examples:
  seleak leak plain/ cipher/ --estimator gaussian --estimator ksg:k=5,pca_dim=8
  seleak leak plain.npz cipher.npz --estimator ksg --embedding trained:digits --permutations 200 --out t.csv
  seleak leak plain.npz cipher.npz --estimator gaussian --embedding pixels --pca 16
PLAIN and CIPHER are two folders of images paired by file name, or two .npz files whose array 'images'
(uint8, N x H x W [x C]) is paired by row. --embedding takes a seleak.embedding spec (trained:digits,
torchvision:resnet18, random:small, ...) or 'pixels': the flattened pixel values, no network (fast;
pair it with --pca). An estimator is NAME or NAME:SETTING=VALUE,... (settings of
seleak.estimators.get_estimator). The interval is a bootstrap interval (seleak.stats.interval), the
p-value a permutation test of independence (seleak.stats.permutation_test).
"""


def _add_leak(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "leak",
        help="estimate the MI between plain and encrypted images in an embedding space",
        description="Embed paired plain and encrypted images and estimate their mutual information with "
        "one or more estimators, each with a bootstrap interval and a permutation p-value.",
        epilog=EPILOG_LEAK,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("plain", metavar="PLAIN", help="folder of plain images or .npz file (array 'images')")
    p.add_argument("cipher", metavar="CIPHER", help="folder of encrypted images or .npz file, paired with PLAIN")
    p.add_argument(
        "--estimator",
        action="append",
        required=True,
        metavar="NAME[:K=V,...]",
        help="MI estimator, e.g. gaussian, ksg:k=5 (repeatable)",
    )
    p.add_argument(
        "--embedding",
        default="trained:digits",
        help="embedder spec, or 'pixels' for flattened pixels (default: trained:digits)",
    )
    p.add_argument(
        "--pca",
        type=int,
        default=None,
        metavar="DIM",
        help="project each side separately to its first DIM principal components before estimating",
    )
    p.add_argument("--permutations", type=int, default=200, help="permutations of the independence test (default: 200)")
    p.add_argument(
        "--bootstrap",
        type=int,
        default=100,
        help="bootstrap resamples of the interval (0: no interval; default: 100); neural estimators "
        "use an interval over 5 random data splits (one critic each) instead",
    )
    p.add_argument("--level", type=float, default=0.95, help="confidence level of the interval (default: 0.95)")
    p.add_argument("--seed", type=int, default=0, help="seed of embedder, estimators and resampling (default: 0)")
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    p.add_argument("--out", default=None, metavar="TABLE.csv", help="also write the table as CSV (a new file)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out table")
    p.set_defaults(func=_cmd_leak)


def _parse_estimator(text: str) -> tuple[str, dict[str, Any]]:
    """``"ksg:k=5,pca_dim=8"`` -> ``("ksg", {"k": 5, "pca_dim": 8})``; values read as Python literals."""
    import ast

    name, _, rest = text.partition(":")
    settings: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ValueError(f"estimator setting {item!r} in {text!r} is not KEY=VALUE")
        if key in settings:
            # keeping the last value silently would run another setting than the reader of the command sees
            raise ValueError(
                f"estimator setting {key!r} is given twice in {text!r}; give it once (to compare "
                f"settings, repeat --estimator: --estimator {name.strip()}:{key}=A --estimator "
                f"{name.strip()}:{key}=B)"
            )
        try:
            settings[key] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            settings[key] = value.strip()  # a bare word such as transform=rank
    return name.strip(), settings


def _load_pair(plain: str, cipher: str) -> tuple[np.ndarray, np.ndarray]:
    from seleak.io_images import load_image_set

    names_x, x = load_image_set(plain)
    names_y, y = load_image_set(cipher)
    if Path(plain).is_dir() != Path(cipher).is_dir():
        raise ValueError("PLAIN and CIPHER must both be folders or both be .npz files")
    if Path(plain).is_dir():
        common = sorted(set(names_x) & set(names_y))
        only = sorted(set(names_x) ^ set(names_y))
        if only:
            raise ValueError(
                f"{len(only)} file(s) have no partner in the other folder, e.g. {only[:3]}; "
                "images are paired by file name"
            )
        x = x[[names_x.index(n) for n in common]]
        y = y[[names_y.index(n) for n in common]]
    if x.shape != y.shape:
        raise ValueError(f"plain images {x.shape} and encrypted images {y.shape} must have the same shape")
    return x, y


#: The fewest image pairs ``seleak leak`` measures: below this a bootstrap resample or a permutation
#: has almost nothing to vary, and no MI estimator says anything about the population.
MIN_LEAK_PAIRS = 8
#: Random splits (one critic each) behind a neural estimator's interval in ``seleak leak``, and the
#: initialisations on the first split behind its seed spread.
NEURAL_SPLITS = 5
NEURAL_SEEDS = 2


def _cmd_leak(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from seleak import stats
    from seleak.estimators import get_estimator
    from seleak.io_images import check_output_path, write_new_file
    from seleak.leakage import measure_leakage

    if args.permutations < 1:
        raise ValueError(f"--permutations must be >= 1, got {args.permutations}")
    if args.bootstrap < 0 or args.bootstrap == 1:
        raise ValueError(f"--bootstrap must be 0 (no interval) or at least 2 resamples, got {args.bootstrap}")
    if args.out:  # refused before any work: an existing table (without --force), an input, a folder
        check_output_path(args.out, force=args.force, inputs=[args.plain, args.cipher])
    if not 0.0 < args.level < 1.0:
        raise ValueError(f"--level must be a confidence level between 0 and 1 (e.g. 0.95), got {args.level}")
    specs = [_parse_estimator(e) for e in args.estimator]
    x_img, y_img = _load_pair(args.plain, args.cipher)
    if len(x_img) < MIN_LEAK_PAIRS:
        raise ValueError(
            f"need at least {MIN_LEAK_PAIRS} paired images, got {len(x_img)}; add image pairs "
            "(an estimate from so few says nothing about the scheme)"
        )
    if args.embedding == "pixels":
        # no network: each image is its vector of pixel values (exact, fast, high-dimensional)
        zx = x_img.reshape(len(x_img), -1).astype(np.float32)
        zy = y_img.reshape(len(y_img), -1).astype(np.float32)
    else:
        from seleak.embedding import get_embedder

        emb = get_embedder(args.embedding, seed=args.seed, device=args.device)
        zx = emb.embed(x_img, progress=False)
        zy = emb.embed(y_img, progress=False)
    if args.pca is not None and args.pca < 1:
        raise ValueError(f"--pca must be >= 1, got {args.pca}")
    estimators = []
    for name, settings in specs:
        est = get_estimator(name, **settings).with_context(seed=args.seed, device=args.device)
        need = stats.bootstrap_min_rows(est) if args.bootstrap else 0
        if len(zx) < need:
            raise ValueError(
                f"{name}: a bootstrap interval needs at least {need} image pairs, got {len(zx)}; "
                "add image pairs or pass --bootstrap 0"
            )
        estimators.append((name, est))
    rows = []
    representation = ""
    for name, est in estimators:
        # the one pipeline of the study and the book: informative columns, projection, test, interval
        r = measure_leakage(
            zx,
            zy,
            est,
            pca_dim=args.pca,
            permutations=args.permutations,
            n_boot=args.bootstrap,
            neural_splits=NEURAL_SPLITS if args.bootstrap else 0,
            neural_seeds=NEURAL_SEEDS if args.bootstrap else 1,
            level=args.level,
            seed=args.seed,
            device=args.device,
        )
        representation = r.representation
        rows.append(
            {
                "estimator": name,
                "n": r.n,
                # how a reader may quote it: ">= lower bound" when saturated, else value [interval]
                "reads": r.shown(3),
                "lower_bound_nats": r.lower_bound,
                "mi_nats": r.nats,
                "mi_bits": r.bits,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "p_value": r.p_value,
                "interval": r.interval,
                "ceiling_nats": r.ceiling,
                "saturated": r.saturated,
                "degenerate": r.degenerate,
                "settings": ",".join(f"{k}={v}" for k, v in sorted(r.settings.items())),
            }
        )
    table = pd.DataFrame(rows)
    print(
        f"{len(zx)} image pairs, embedding {args.embedding} ({representation}), "
        f"{args.permutations} permutations, {int(args.level * 100)}% intervals"
    )
    print(table.drop(columns="settings").to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.out:
        write_new_file(args.out, table.to_csv(index=False).encode(), overwrite=args.force)
        print(f"table: {args.out}")
    return 0


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_book,
    _add_study,
    _add_refresh,
    _add_handout,
    _add_pdf,
    _add_keygen,
    _add_encrypt,
    _add_decrypt,
    _add_leak,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seleak",
        description="Measure how much a selectively encrypted image still leaks.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``seleak`` console script."""
    from seleak.runner import RunnerError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (RunnerError, FileNotFoundError, ValueError, TypeError) as err:
        print(f"seleak {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        # a file the user named cannot be read or written (permissions, a folder, a full disk): one line.
        # An OSError that names no file is not the user's to fix and keeps its traceback.
        if err.filename is None and err.errno not in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
            raise
        where = f"{err.filename}: " if err.filename is not None else ""
        print(
            f"seleak {args.command}: error: {where}{err.strerror or err}; check the path and its permissions",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
