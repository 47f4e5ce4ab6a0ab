"""Hostile and broken inputs to `seleak keygen/encrypt/decrypt/leak` and to the Ciphertext API.

Every refusal is one line on stderr, exit status 2, and leaves no output (and no temporary file)
behind. The PNG files are built chunk by chunk here (zlib + struct), so each test controls exactly the
bytes a hostile file holds.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from seleak import cli
from seleak.encryption import BitPlanes, Ciphertext, Full, Region, decrypt, encrypt, generate_key
from seleak.io_images import read_key_file, read_png, seal_png_metadata

# --- helpers -------------------------------------------------------------------------------------


def chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def png_file(path: Path, width: int, height: int, depth: int, colour: int, extra: list[bytes] = ()) -> Path:
    """A valid PNG of random samples (bit depth 8 or 16, any colour type but palette), with ``extra``
    chunks between the header and the pixel data."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    row_bytes = width * channels * depth // 8
    rng = np.random.default_rng(0)
    raw = b"".join(b"\0" + rng.integers(0, 256, row_bytes, dtype=np.uint8).tobytes() for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + b"".join(extra)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    path.write_bytes(data)
    return path


def compressed_repeat(prefix: bytes, filler: bytes, total: int) -> bytes:
    """zlib data of ``prefix`` followed by ``total`` bytes of ``filler``, built in pieces so the test
    itself never holds the expanded text."""
    c = zlib.compressobj(9)
    parts = [c.compress(prefix)]
    block = filler * (1 << 20 // len(filler))
    for _ in range(total // len(block)):
        parts.append(c.compress(block))
    parts.append(c.flush())
    return b"".join(parts)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("seleak "), err
    return err


def leak_npz(folder: Path, estimator: str = "gaussian", *extra: str) -> int:
    """``seleak leak folder/a.npz folder/b.npz`` on the pixel embedding (no network): the exit code."""
    return cli.main(
        [
            "leak",
            str(folder / "a.npz"),
            str(folder / "b.npz"),
            "--estimator",
            estimator,
            "--embedding",
            "pixels",
            *extra,
        ]
    )


def no_leftovers(folder: Path, *outputs: Path) -> bool:
    return not any(p.exists() for p in outputs) and not list(folder.glob(".*.tmp"))


def write_image(path, mode: str, shape=(12, 10), seed: int = 0) -> np.ndarray:
    channels = {"L": (), "LA": (2,), "RGB": (3,), "RGBA": (4,)}[mode]
    a = np.random.default_rng(seed).integers(0, 256, shape + channels, dtype=np.uint8)
    Image.fromarray(a).save(path)
    return a


def rewrite_text(src: Path, dst: Path, change) -> None:
    """Copy a PNG with its text chunks passed through ``change(dict) -> dict``: what any image
    tool can do to the metadata."""
    with Image.open(src) as im:
        text = change(dict(im.text))
        info = PngInfo()
        for k, v in text.items():
            info.add_text(k, v)
        im.save(dst, pnginfo=info)


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "secret.key"
    assert cli.main(["keygen", str(path)]) == 0
    return path


@pytest.fixture
def encrypted(tmp_path, key_file):
    src, enc = tmp_path / "in.png", tmp_path / "enc.png"
    original = write_image(src, "RGB")
    assert cli.main(["encrypt", str(src), str(enc), "--scheme", "msb:3", "--key-file", str(key_file)]) == 0
    return src, enc, original


# --- 1. bit depth: 16-bit (and sub-8-bit) PNGs are refused, never reduced to 8 bits ------------


@pytest.mark.parametrize("colour, kind", [(0, "grey"), (2, "RGB"), (4, "LA"), (6, "RGBA")])
def test_16_bit_pngs_are_refused_naming_the_depth_and_the_fix(tmp_path, key_file, capsys, colour, kind):
    src = png_file(tmp_path / "deep.png", 9, 7, 16, colour)
    out = tmp_path / "out.png"
    assert cli.main(["encrypt", str(src), str(out), "--scheme", "msb:1", "--key-file", str(key_file)]) == 2
    err = one_error_line(capsys)
    assert "16-bit" in err and kind in err and "Convert it to 8-bit" in err
    assert no_leftovers(tmp_path, out)


def test_pillow_i16_grey_and_4_bit_grey_are_refused(tmp_path, key_file, capsys):
    Image.fromarray(np.arange(80, dtype=np.uint16).reshape(8, 10) * 800).save(tmp_path / "i16.png")
    png_file(tmp_path / "g4.png", 8, 8, 4, 0)
    for name, depth in (("i16.png", "16-bit"), ("g4.png", "4-bit")):
        out = tmp_path / f"{name}.out.png"
        assert (
            cli.main(["encrypt", str(tmp_path / name), str(out), "--scheme", "full", "--key-file", str(key_file)]) == 2
        )
        assert depth in one_error_line(capsys) and not out.exists()


def test_16_bit_png_in_a_leak_folder_is_refused(tmp_path, capsys):
    for side in ("p", "c"):
        (tmp_path / side).mkdir()
        for i in range(8):
            png_file(tmp_path / side / f"{i}.png", 8, 8, 16 if (side, i) == ("c", 3) else 8, 2)
    assert (
        cli.main(["leak", str(tmp_path / "p"), str(tmp_path / "c"), "--estimator", "gaussian", "--embedding", "pixels"])
        == 2
    )
    err = one_error_line(capsys)
    assert "3.png" in err and "16-bit" in err


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_8_bit_modes_are_kept_through_the_round_trip(tmp_path, key_file, mode):
    src, enc, back = tmp_path / "in.png", tmp_path / "enc.png", tmp_path / "back.png"
    original = write_image(src, mode)
    assert cli.main(["encrypt", str(src), str(enc), "--scheme", "lsb:4", "--key-file", str(key_file)]) == 0
    assert cli.main(["decrypt", str(enc), str(back), "--key-file", str(key_file)]) == 0
    for path in (enc, back):
        with Image.open(path) as im:
            assert im.mode == mode
    assert read_png(back).mode == mode
    np.testing.assert_array_equal(read_png(back).pixels, original)


# --- 2. outputs: never over an existing file unless --force, never over the key or the input ------


def test_existing_output_needs_force(tmp_path, key_file, encrypted, capsys):
    src, enc, _ = encrypted
    before = enc.read_bytes()
    assert cli.main(["encrypt", str(src), str(enc), "--scheme", "lsb:1", "--key-file", str(key_file)]) == 2
    err = one_error_line(capsys)
    assert "already exists" in err and "--force" in err
    assert enc.read_bytes() == before
    assert cli.main(["encrypt", str(src), str(enc), "--scheme", "lsb:1", "--key-file", str(key_file), "--force"]) == 0
    assert enc.read_bytes() != before
    back = tmp_path / "back.png"
    back.write_bytes(b"keep me")
    assert cli.main(["decrypt", str(enc), str(back), "--key-file", str(key_file)]) == 2
    assert "already exists" in one_error_line(capsys) and back.read_bytes() == b"keep me"
    assert cli.main(["decrypt", str(enc), str(back), "--key-file", str(key_file), "--force"]) == 0
    assert back.read_bytes() != b"keep me"
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("command", ["encrypt", "decrypt"])
@pytest.mark.parametrize("force", [[], ["--force"]])
@pytest.mark.parametrize("alias", ["same", "relative", "symlink", "hardlink"])
def test_key_file_is_never_written_over(tmp_path, key_file, encrypted, capsys, monkeypatch, command, force, alias):
    src, enc, _ = encrypted
    key_before = key_file.read_bytes()
    if alias == "same":
        out = key_file
    elif alias == "relative":
        monkeypatch.chdir(tmp_path)
        out = Path("sub") / ".." / key_file.name
        (tmp_path / "sub").mkdir()
    elif alias == "symlink":
        out = tmp_path / "link.png"
        out.symlink_to(key_file)
    else:
        out = tmp_path / "hard.png"
        os.link(key_file, out)
    inp = src if command == "encrypt" else enc
    extra = ["--scheme", "msb:2"] if command == "encrypt" else []
    assert cli.main([command, str(inp), str(out), *extra, "--key-file", str(key_file), *force]) == 2
    assert "key file" in one_error_line(capsys)
    assert key_file.read_bytes() == key_before and read_key_file(key_file)
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("command", ["encrypt", "decrypt"])
def test_output_equal_to_input_is_refused_even_with_force(tmp_path, key_file, encrypted, capsys, command):
    src, enc, _ = encrypted
    inp = src if command == "encrypt" else enc
    before = inp.read_bytes()
    extra = ["--scheme", "msb:2"] if command == "encrypt" else []
    assert cli.main([command, str(inp), str(inp), *extra, "--key-file", str(key_file), "--force"]) == 2
    assert "input file" in one_error_line(capsys) and inp.read_bytes() == before


def test_protected_files_are_checked_again_right_before_the_write(tmp_path, key_file):
    # the last line of defence, independent of the early check: a key never gets replaced
    from seleak.io_images import write_png

    before = key_file.read_bytes()
    with pytest.raises(ValueError, match="refusing to write over"):
        write_png(key_file, np.zeros((4, 4), np.uint8), "L", overwrite=True, protect=[key_file])
    assert key_file.read_bytes() == before and not list(tmp_path.glob(".*.tmp"))


# --- 3. metadata bombs: every decoded size is bounded by the image's size -------------------------


def _peak_mb(fn) -> tuple[object, float]:
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("ctype", [b"zTXt", b"iTXt"])
@pytest.mark.parametrize("command", ["encrypt", "decrypt"])
def test_compressed_text_bomb_is_refused_without_expanding_it(tmp_path, key_file, capsys, ctype, command):
    # 64 MB of mask-spec text in a chunk of ~64 KB; Pillow alone would expand up to 1 MB per chunk
    # and 64 MB in all, and the mask's own zlib layer without any limit
    body = compressed_repeat(b"region:mask:8x8:", b"A", 64 << 20)
    head = b"seleak:scheme\0" + (b"\0" if ctype == b"zTXt" else b"\1\0\0\0")
    src = png_file(tmp_path / "bomb.png", 8, 8, 8, 0, [chunk(ctype, head + body)])
    assert src.stat().st_size < 100_000
    out = tmp_path / "out.png"
    extra = ["--scheme", "msb:1"] if command == "encrypt" else []
    code, peak = _peak_mb(lambda: cli.main([command, str(src), str(out), *extra, "--key-file", str(key_file)]))
    assert code == 2 and peak < 50, peak
    err = one_error_line(capsys)
    assert "seleak:scheme" in err and "more than" in err and "crafted" in err
    assert no_leftovers(tmp_path, out)


def test_long_uncompressed_metadata_is_refused_before_it_is_read(tmp_path, key_file, capsys):
    value = b"region:mask:8x8:" + b"A" * 2_000_000
    src = png_file(tmp_path / "long.png", 8, 8, 8, 0, [chunk(b"tEXt", b"seleak:scheme\0" + value)])
    code, peak = _peak_mb(lambda: cli.main(["decrypt", str(src), str(tmp_path / "o.png"), "--key-file", str(key_file)]))
    assert code == 2 and peak < 1, peak  # the 2 MB chunk is skipped, not read
    assert "more than" in one_error_line(capsys)


def test_mask_bomb_inside_an_authenticated_spec_is_refused(tmp_path, key_file, capsys):
    # even a file whose MAC is valid (made with the key) cannot make decrypt expand a mask beyond
    # the H*W/8 bytes a mask of the image's size needs
    import base64

    h = w = 512
    packed = compressed_repeat(b"", b"\xff", 30 << 20)  # 30 MB of mask bits in ~30 KB
    spec = f"region:mask:{h}x{w}:" + base64.urlsafe_b64encode(packed).decode().rstrip("=")
    # short enough for every length bound (a 512x512 mask is 32 KB of bits, ~44 K base64 characters):
    # only the bounded decompression can catch it
    assert len(spec) < 4 * (h * w // 8) // 3
    key = read_key_file(key_file)
    meta = {"format": "2", "scheme": spec, "nonce": "00" * 16, "mode": "L"}
    meta = seal_png_metadata(key, meta, "L", w, h)
    info = PngInfo()
    for k, v in meta.items():
        info.add_text("seleak:" + k, v)
    src = tmp_path / "masked.png"
    Image.fromarray(np.zeros((h, w), np.uint8)).save(src, pnginfo=info)
    out = tmp_path / "out.png"
    code, peak = _peak_mb(lambda: cli.main(["decrypt", str(src), str(out), "--key-file", str(key_file)]))
    assert code == 2 and peak < 50, peak
    assert "longer than HxW" in one_error_line(capsys) and no_leftovers(tmp_path, out)


def test_ciphertext_load_bounds_the_scheme_spec(tmp_path):
    import base64

    packed = compressed_repeat(b"", b"\xff", 40 << 20)
    spec = "region:mask:8x8:" + base64.urlsafe_b64encode(packed).decode().rstrip("=")
    np.savez(
        tmp_path / "ct.npz",
        images=np.zeros((1, 8, 8), np.uint8),
        nonces=np.zeros((1, 16), np.uint8),
        scheme=np.array(spec),
    )
    with pytest.raises(ValueError, match="crafted"):
        Ciphertext.load(tmp_path / "ct.npz")
    # a legitimate mask region goes through save and load
    mask = np.random.default_rng(0).integers(0, 2, (8, 8)).astype(bool)
    x = np.random.default_rng(1).integers(0, 256, (2, 8, 8), dtype=np.uint8)
    ct = encrypt(x, bytes(16), Region(mask=mask))
    back = Ciphertext.load(ct.save(tmp_path / "ok.npz"))
    assert (decrypt(back, bytes(16)) == x).all()


def test_mask_region_round_trip_through_png(tmp_path, key_file):
    mask = np.zeros((12, 10), bool)
    mask[2:7, 3:9] = True
    spec = Region(mask=mask, planes=BitPlanes.msb(4)).spec
    src, enc, back = tmp_path / "in.png", tmp_path / "enc.png", tmp_path / "back.png"
    original = write_image(src, "L")
    assert cli.main(["encrypt", str(src), str(enc), "--scheme", spec, "--key-file", str(key_file)]) == 0
    assert cli.main(["decrypt", str(enc), str(back), "--key-file", str(key_file)]) == 0
    np.testing.assert_array_equal(read_png(back).pixels, original)
    wrong = Region(mask=np.ones((5, 5), bool)).spec
    assert cli.main(["encrypt", str(src), str(tmp_path / "x.png"), "--scheme", wrong, "--key-file", str(key_file)]) == 2


# --- 4. integrity: a MAC under a per-ciphertext derived key ---------------------------------------

KEY = bytes(range(16))


def batch(shape=(3, 8, 8)) -> np.ndarray:
    return np.random.default_rng(5).integers(0, 256, shape, dtype=np.uint8)


def test_encrypt_returns_salt_and_tag_and_the_binding_api_holds():
    x = batch()
    ct = encrypt(x, KEY, BitPlanes.msb(3))
    assert isinstance(ct.salt, bytes) and len(ct.salt) == 16
    assert isinstance(ct.tag, bytes) and len(ct.tag) == 32
    assert ct.images.shape == x.shape and ct.nonces.shape == (3, 16)
    assert (decrypt(ct, KEY, BitPlanes.msb(3)) == x).all()
    assert (decrypt(ct, KEY) == x).all()


def test_tags_do_not_link_ciphertexts_under_one_key():
    x = batch()
    a, b = (encrypt(x, KEY, BitPlanes.msb(3), seed=1) for _ in range(2))
    assert (a.images == b.images).all() and (a.nonces == b.nonces).all()  # the seeded study mode
    assert a.salt != b.salt and a.tag != b.tag


@pytest.mark.parametrize(
    "change",
    [
        lambda ct: {"scheme": BitPlanes.msb(2)},
        lambda ct: {"scheme": Full()},
        lambda ct: {"nonces": ct.nonces[::-1].copy()},
        lambda ct: {"nonces": (ct.nonces + np.eye(3, 16, 15, dtype=np.uint8) * 16).astype(np.uint8)},
        lambda ct: {"images": ct.images.reshape(3, 4, 16)},
        lambda ct: {"salt": bytes(16)},
        lambda ct: {"tag": bytes(32)},
    ],
    ids=["scheme", "full", "nonce-order", "nonce", "shape", "salt", "tag"],
)
def test_altered_ciphertext_fails_authentication(change):
    ct = encrypt(batch(), KEY, BitPlanes.msb(3))
    bad = dataclasses.replace(ct, **change(ct))
    with pytest.raises(ValueError, match="authentication failed"):
        decrypt(bad, KEY)


def test_wrong_key_fails_authentication_and_verify_false_gives_garbage():
    x = batch()
    ct = encrypt(x, KEY, BitPlanes.msb(8))
    other = generate_key()
    with pytest.raises(ValueError, match="authentication failed: wrong key"):
        decrypt(ct, other)
    assert (decrypt(ct, other, verify=False) != x).any()


def test_hand_built_ciphertext_needs_verify_false():
    x = batch()
    ct = encrypt(x, KEY, BitPlanes.lsb(2))
    bare = Ciphertext(ct.images, ct.nonces, ct.scheme)  # positional construction still works
    assert bare.salt is None and bare.tag is None
    with pytest.raises(ValueError, match="verify=False"):
        decrypt(bare, KEY)
    assert (decrypt(bare, KEY, verify=False) == x).all()
    coef = Ciphertext(ct.images, ct.nonces, ct.scheme, None)
    assert coef.coefficients is None


def test_save_and_load_keep_salt_and_tag_and_detect_changes(tmp_path):
    x = batch((2, 9, 10, 3))
    ct = encrypt(x, KEY, BitPlanes.msb(2))
    back = Ciphertext.load(ct.save(tmp_path / "ct.npz"))
    assert back.salt == ct.salt and back.tag == ct.tag
    assert (decrypt(back, KEY) == x).all()
    with np.load(tmp_path / "ct.npz") as f:
        arrays = {k: f[k] for k in f.files}
    arrays["scheme"] = np.array("msb:3")
    np.savez(tmp_path / "edited.npz", **arrays)
    with pytest.raises(ValueError, match="authentication failed"):
        decrypt(Ciphertext.load(tmp_path / "edited.npz"), KEY)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda a: a.update(nonces=a["nonces"][:, :8]), "nonces"),
        (lambda a: a.update(nonces=a["nonces"].astype(np.int64)), "nonces"),
        (lambda a: a.update(images=a["images"].astype(np.float32)), "images"),
        (lambda a: a.pop("scheme"), "no scheme"),
        (lambda a: a.pop("tag"), "salt without"),
        (lambda a: a.update(salt=a["salt"][:4]), "salt"),
        (lambda a: a.update(scheme=np.array([1, 2])), "scheme"),
    ],
)
def test_load_validates_every_array(tmp_path, edit, message):
    ct = encrypt(batch(), KEY, BitPlanes.msb(2))
    with np.load(ct.save(tmp_path / "ct.npz")) as f:
        arrays = {k: f[k] for k in f.files}
    edit(arrays)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=message):
        Ciphertext.load(tmp_path / "bad.npz")


def test_load_of_a_file_that_is_not_a_ciphertext(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a ciphertext"):
        Ciphertext.load(tmp_path / "junk.npz")


@pytest.mark.parametrize(
    "change",
    [
        lambda t: {**t, "seleak:scheme": "msb:2"},
        lambda t: {**t, "seleak:scheme": "full"},
        lambda t: {**t, "seleak:nonce": "%032x" % (int(t["seleak:nonce"], 16) ^ 1)},
        lambda t: {**t, "seleak:salt": "00" * 16},
        lambda t: {**t, "seleak:mac": "00" * 32},
    ],
    ids=["scheme", "full", "nonce", "salt", "mac"],
)
def test_altered_png_metadata_is_refused_before_writing(tmp_path, key_file, encrypted, capsys, change):
    _, enc, _ = encrypted
    edited, out = tmp_path / "edited.png", tmp_path / "out.png"
    rewrite_text(enc, edited, change)
    capsys.readouterr()
    assert cli.main(["decrypt", str(edited), str(out), "--key-file", str(key_file)]) == 2
    assert "authentication failed" in one_error_line(capsys) and no_leftovers(tmp_path, out)


def test_cropped_or_alpha_stripped_png_is_refused(tmp_path, key_file, capsys):
    src, enc = tmp_path / "in.png", tmp_path / "enc.png"
    write_image(src, "RGBA")
    assert cli.main(["encrypt", str(src), str(enc), "--scheme", "msb:3", "--key-file", str(key_file)]) == 0
    with Image.open(enc) as im:
        text = dict(im.text)
        info = PngInfo()
        for k, v in text.items():
            info.add_text(k, v)
        im.crop((0, 0, 9, 11)).save(tmp_path / "crop.png", pnginfo=info)
    rewrite_text(enc, tmp_path / "noalpha.png", lambda t: {k: v for k, v in t.items() if k != "seleak:alpha"})
    capsys.readouterr()
    for name in ("crop.png", "noalpha.png"):
        assert cli.main(["decrypt", str(tmp_path / name), str(tmp_path / "o.png"), "--key-file", str(key_file)]) == 2
        assert "authentication failed" in one_error_line(capsys)
    assert not (tmp_path / "o.png").exists()


def test_two_files_under_one_key_cannot_be_linked(tmp_path, key_file):
    src = tmp_path / "in.png"
    write_image(src, "L")
    texts = []
    for name in ("a.png", "b.png"):
        assert (
            cli.main(["encrypt", str(src), str(tmp_path / name), "--scheme", "msb:1", "--key-file", str(key_file)]) == 0
        )
        with Image.open(tmp_path / name) as im:
            texts.append(dict(im.text))
    a, b = texts
    assert a["seleak:salt"] != b["seleak:salt"] and a["seleak:mac"] != b["seleak:mac"]
    assert not set(a.values()) & {b["seleak:salt"], b["seleak:mac"], b["seleak:nonce"]}


def test_duplicate_metadata_field_is_refused(tmp_path, key_file, encrypted, capsys):
    _, enc, _ = encrypted
    data = enc.read_bytes()
    at = data.index(b"IEND") - 4
    twice = data[:at] + chunk(b"tEXt", b"seleak:scheme\0full") + data[at:]
    (tmp_path / "twice.png").write_bytes(twice)
    capsys.readouterr()
    assert cli.main(["decrypt", str(tmp_path / "twice.png"), str(tmp_path / "o.png"), "--key-file", str(key_file)]) == 2
    assert "twice" in one_error_line(capsys)


def test_format_1_file_gets_a_clear_message(tmp_path, key_file, encrypted, capsys):
    _, enc, _ = encrypted
    rewrite_text(enc, tmp_path / "v1.png", lambda t: {**t, "seleak:format": "1"})
    capsys.readouterr()
    assert cli.main(["decrypt", str(tmp_path / "v1.png"), str(tmp_path / "o.png"), "--key-file", str(key_file)]) == 2
    assert "format '1'" in one_error_line(capsys)


# --- 5. animated PNGs ------------------------------------------------------------------------------


def test_animated_png_is_refused(tmp_path, key_file, capsys):
    frames = [Image.fromarray(np.full((8, 8), v, np.uint8)) for v in (10, 200, 90)]
    src, out = tmp_path / "anim.png", tmp_path / "out.png"
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100)
    with Image.open(src) as im:
        assert im.is_animated
    assert cli.main(["encrypt", str(src), str(out), "--scheme", "msb:1", "--key-file", str(key_file)]) == 2
    err = one_error_line(capsys)
    assert "animated" in err and "3 frames" in err and no_leftovers(tmp_path, out)


# --- 6. key files ------------------------------------------------------------------------------------


def test_big_key_file_is_refused_without_reading_it(tmp_path, capsys):
    big = tmp_path / "big.key"
    with open(big, "wb") as fh:
        fh.truncate(200 << 20)  # sparse: 200 MB long, nothing on disk
    _, peak = _peak_mb(lambda: pytest.raises(ValueError, read_key_file, big))
    assert peak < 1, peak
    with pytest.raises(ValueError, match="209715200 bytes"):
        read_key_file(big)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"seleak-key-v1\n" + b"ab" * 15 + b"\n", "30 characters"),
        (b"seleak-key-v1\n" + b"zz" * 16 + b"\n", "hexadecimal"),
        (b"seleak-key-v1\n", "not a seleak key file"),
        (b"seleak-key-v2\n" + b"ab" * 16 + b"\n", "not a seleak key file"),
        (b"ab" * 16 + b"\n", "older seleak"),
        (bytes(24), "raw key bytes"),
        (b"", "not a seleak key file"),
    ],
)
def test_malformed_key_files_are_refused_without_showing_them(tmp_path, capsys, content, message):
    path = tmp_path / "k.key"
    path.write_bytes(content)
    src = tmp_path / "in.png"
    write_image(src, "L")
    assert cli.main(["encrypt", str(src), str(tmp_path / "o.png"), "--scheme", "full", "--key-file", str(path)]) == 2
    err = one_error_line(capsys)
    assert message in err and "seleak keygen" in err
    secret = content.decode("latin-1").strip().splitlines()[-1:] or [""]
    if len(secret[0]) > 8 and secret[0] != "seleak-key-v1":
        assert secret[0] not in err


def test_key_file_formats_that_are_accepted(tmp_path):
    path = tmp_path / "k.key"
    path.write_bytes(b"seleak-key-v1\r\n" + b"AB" * 24 + b"\r\n")
    assert read_key_file(path) == b"\xab" * 24
    with pytest.raises(ValueError, match="not a regular file"):
        read_key_file(tmp_path)


def test_keygen_refuses_an_existing_file_and_a_missing_folder(tmp_path, capsys):
    existing = tmp_path / "taken"
    existing.write_bytes(b"someone's data")
    assert cli.main(["keygen", str(existing)]) == 2
    assert "already exists" in one_error_line(capsys) and existing.read_bytes() == b"someone's data"
    assert cli.main(["keygen", str(tmp_path / "nowhere" / "k.key")]) == 2
    assert "does not exist" in one_error_line(capsys)


# --- 7. one line, not a traceback ------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "bad-idat", "bad-ihdr", "empty", "text"])
def test_damaged_png_is_one_line(tmp_path, key_file, capsys, damage):
    good = tmp_path / "good.png"
    write_image(good, "RGB", shape=(40, 40))
    data = good.read_bytes()
    idat = data.index(b"IDAT")
    if damage == "truncated":
        data = data[: idat + 60]
    elif damage == "bad-idat":
        data = data[: idat + 10] + bytes(50) + data[idat + 60 :]
    elif damage == "bad-ihdr":
        data = data[:18] + b"\xff" + data[19:]
    elif damage == "empty":
        data = b""
    else:
        data = b"hello, not an image"
    src, out = tmp_path / "damaged.png", tmp_path / "out.png"
    src.write_bytes(data)
    assert cli.main(["encrypt", str(src), str(out), "--scheme", "msb:1", "--key-file", str(key_file)]) == 2
    err = one_error_line(capsys)
    assert "damaged.png" in err and no_leftovers(tmp_path, out)


def test_decompression_bomb_image_is_one_line(tmp_path, key_file, capsys, monkeypatch):
    src = tmp_path / "big.png"
    write_image(src, "L", shape=(40, 40))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # 1600 pixels: more than twice the limit
    assert (
        cli.main(["encrypt", str(src), str(tmp_path / "o.png"), "--scheme", "msb:1", "--key-file", str(key_file)]) == 2
    )
    assert "decompression-bomb" in one_error_line(capsys)


def test_output_that_is_a_folder_or_in_a_missing_folder_is_one_line(tmp_path, key_file, encrypted, capsys):
    src, enc, _ = encrypted
    (tmp_path / "dir.png").mkdir()
    (tmp_path / "afile").write_bytes(b"x")
    cases = [
        (tmp_path / "dir.png", "folder"),
        (tmp_path / "missing" / "o.png", "does not exist"),
        (tmp_path / "afile" / "o.png", "not a folder"),
    ]
    for out, message in cases:
        for force in ([], ["--force"]):
            assert cli.main(["decrypt", str(enc), str(out), "--key-file", str(key_file), *force]) == 2
            assert message in one_error_line(capsys)
    assert (tmp_path / "afile").read_bytes() == b"x" and not list(tmp_path.glob(".*.tmp"))


def test_unwritable_output_folder_is_one_line(tmp_path, key_file, encrypted, capsys, monkeypatch):
    # simulated (tests may run as root, which may write anywhere): the write itself is denied
    import tempfile as tempfile_module

    src, _, _ = encrypted

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr(tempfile_module, "mkstemp", denied)
    out = tmp_path / "o.png"
    assert cli.main(["encrypt", str(src), str(out), "--scheme", "msb:1", "--key-file", str(key_file)]) == 2
    assert "permission denied" in one_error_line(capsys) and not out.exists()


def test_failed_write_leaves_nothing_behind(tmp_path, key_file, encrypted, capsys, monkeypatch):
    src, _, _ = encrypted

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    out = tmp_path / "o.png"
    assert cli.main(["encrypt", str(src), str(out), "--scheme", "msb:1", "--key-file", str(key_file)]) == 2
    assert "no space left" in one_error_line(capsys) and no_leftovers(tmp_path, out)


def test_unreadable_image_in_a_leak_folder_is_one_line(tmp_path, capsys):
    for side in ("p", "c"):
        (tmp_path / side).mkdir()
        for i in range(10):
            write_image(tmp_path / side / f"{i:02d}.png", "L", shape=(8, 8), seed=i)
    (tmp_path / "c" / "04.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    assert (
        cli.main(["leak", str(tmp_path / "p"), str(tmp_path / "c"), "--estimator", "gaussian", "--embedding", "pixels"])
        == 2
    )
    assert "04.png" in one_error_line(capsys)
    (tmp_path / "c" / "04.png").write_bytes(b"not an image at all")
    (tmp_path / "c" / "04.bmp").write_bytes(b"BM broken bitmap")
    assert (
        cli.main(["leak", str(tmp_path / "p"), str(tmp_path / "c"), "--estimator", "gaussian", "--embedding", "pixels"])
        == 2
    )
    assert "04." in one_error_line(capsys)


def test_corrupt_npz_in_leak_is_one_line(tmp_path, capsys):
    (tmp_path / "a.npz").write_bytes(b"PK\x03\x04 truncated")
    np.savez(tmp_path / "b.npz", images=np.zeros((10, 8, 8), np.uint8))
    assert leak_npz(tmp_path, "gaussian") == 2
    assert "a.npz" in one_error_line(capsys)


def test_a_genuine_bug_keeps_its_traceback(tmp_path, key_file, monkeypatch):
    import seleak.io_images

    src = tmp_path / "in.png"
    write_image(src, "L")

    def broken(path):
        raise AttributeError("a bug, not a user error")

    monkeypatch.setattr(seleak.io_images, "read_png", broken)
    with pytest.raises(AttributeError):
        cli.main(["encrypt", str(src), str(tmp_path / "o.png"), "--scheme", "msb:1", "--key-file", str(key_file)])

    def os_bug(path):
        raise OSError("an OSError that names no file")

    monkeypatch.setattr(seleak.io_images, "read_png", os_bug)
    with pytest.raises(OSError):
        cli.main(["encrypt", str(src), str(tmp_path / "o.png"), "--scheme", "msb:1", "--key-file", str(key_file)])


# --- 8. seleak leak: settings given twice, too few pairs ---------------------------------------------


def test_estimator_setting_given_twice_is_refused(tmp_path, capsys):
    x = np.random.default_rng(0).integers(0, 256, (20, 6, 6), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", images=x)
    np.savez(tmp_path / "b.npz", images=x)
    assert leak_npz(tmp_path, "ksg:k=3,k=5") == 2
    err = one_error_line(capsys)
    assert "'k'" in err and "twice" in err


@pytest.mark.parametrize("n", [1, 3, 7])
def test_leak_refuses_too_few_pairs(tmp_path, capsys, n):
    x = np.random.default_rng(0).integers(0, 256, (n, 6, 6), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", images=x)
    np.savez(tmp_path / "b.npz", images=x)
    assert leak_npz(tmp_path, "gaussian") == 2
    assert f"need at least 8 paired images, got {n}" in one_error_line(capsys)


def test_leak_refuses_a_bad_level(tmp_path, capsys):
    x = np.random.default_rng(0).integers(0, 256, (10, 6, 6), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", images=x)
    np.savez(tmp_path / "b.npz", images=x)
    assert leak_npz(tmp_path, "gaussian", "--level", "95") == 2
    assert "--level" in one_error_line(capsys)
