"""Tests of `seleak keygen`, `seleak encrypt`, `seleak decrypt` and `seleak leak` through cli.main."""

from __future__ import annotations

import os
import stat

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from seleak import cli
from seleak.encryption import BitPlanes, Full, encrypt
from seleak.io_images import read_key_file

MODES = {"L": (21, 30), "LA": (17, 12, 2), "RGB": (20, 31, 3), "RGBA": (16, 16, 4)}


def write_image(path, mode: str, seed: int = 0) -> np.ndarray:
    a = np.random.default_rng(seed).integers(0, 256, MODES[mode], dtype=np.uint8)
    Image.fromarray(a).save(path)
    return a


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "secret.key"
    assert cli.main(["keygen", str(path)]) == 0
    return path


def key_hex(path) -> str:
    return path.read_text().splitlines()[1]


def test_keygen_writes_a_private_hex_key_and_never_overwrites(tmp_path, capsys):
    path = tmp_path / "k.key"
    assert cli.main(["keygen", str(path), "--bits", "256"]) == 0
    text = path.read_text()
    header, hexkey = text.splitlines()
    assert header == "seleak-key-v1" and len(hexkey) == 64 and bytes.fromhex(hexkey)
    assert read_key_file(path) == bytes.fromhex(hexkey)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert hexkey not in capsys.readouterr().out  # the key is never printed
    assert cli.main(["keygen", str(path)]) == 2
    assert path.read_text() == text
    other = tmp_path / "k192.key"
    assert cli.main(["keygen", str(other), "--bits", "192"]) == 0
    assert len(read_key_file(other)) == 24
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("scheme", ["msb:3", "lsb:2", "full", "region:center:0.5@msb:4"])
def test_round_trip_is_exact_and_metadata_is_present(tmp_path, key_file, mode, scheme, capsys):
    src, enc, back = tmp_path / "in.png", tmp_path / "enc.png", tmp_path / "back.png"
    original = write_image(src, mode)
    assert cli.main(["encrypt", str(src), str(enc), "--scheme", scheme, "--key-file", str(key_file)]) == 0
    with Image.open(enc) as im:
        assert im.mode == mode
        text = dict(im.text)
        cipher = np.array(im)
    assert text["seleak:scheme"] == scheme and len(text["seleak:nonce"]) == 32
    assert len(text["seleak:salt"]) == 32 and len(text["seleak:mac"]) == 64 and text["seleak:format"] == "2"
    assert "seleak:kcv" not in text
    hexkey = key_hex(key_file)
    assert all(hexkey not in v for v in text.values())
    if mode in ("LA", "RGBA"):  # alpha stays in the clear
        np.testing.assert_array_equal(cipher[..., -1], original[..., -1])
        assert text["seleak:alpha"] == "clear"
    assert not np.array_equal(cipher, original)
    assert cli.main(["decrypt", str(enc), str(back), "--key-file", str(key_file)]) == 0
    with Image.open(back) as im:
        assert im.mode == mode and not any(k.startswith("seleak:") for k in im.text)
        np.testing.assert_array_equal(np.array(im), original)
    out = capsys.readouterr()
    assert hexkey not in out.out + out.err


def test_encrypted_pixels_match_the_library(tmp_path, key_file):
    src, enc = tmp_path / "in.png", tmp_path / "enc.png"
    original = write_image(src, "L")
    cli.main(["encrypt", str(src), str(enc), "--scheme", "msb:2", "--key-file", str(key_file)])
    with Image.open(enc) as im:
        cipher, nonce = np.array(im), bytes.fromhex(im.text["seleak:nonce"])
    key = read_key_file(key_file)
    expected = encrypt(original[None], key, BitPlanes.msb(2), nonces=[nonce]).images[0]
    np.testing.assert_array_equal(cipher, expected)
    np.testing.assert_array_equal(cipher & 0x3F, original & 0x3F)


def test_wrong_key_is_detected_and_nothing_is_written(tmp_path, key_file, capsys):
    src, enc, back = tmp_path / "in.png", tmp_path / "enc.png", tmp_path / "back.png"
    write_image(src, "RGB")
    cli.main(["encrypt", str(src), str(enc), "--scheme", "msb:3", "--key-file", str(key_file)])
    other = tmp_path / "other.key"
    cli.main(["keygen", str(other)])
    capsys.readouterr()
    assert cli.main(["decrypt", str(enc), str(back), "--key-file", str(other)]) == 2
    err = capsys.readouterr().err
    assert "wrong key" in err and err.count("\n") == 1
    assert key_hex(other) not in err and not back.exists()


@pytest.mark.parametrize("content", [bytes(range(32)), b"correct horse 16", b"00" * 16 + b"\n"])
def test_raw_bare_hex_and_passphrase_key_files_are_refused(tmp_path, content, capsys):
    # 32 raw bytes, a 16-character passphrase and bare hex used to be read as keys of guessed formats
    key = tmp_path / "raw.key"
    key.write_bytes(content)
    key.chmod(0o600)
    src, enc = tmp_path / "in.png", tmp_path / "enc.png"
    write_image(src, "L")
    assert cli.main(["encrypt", str(src), str(enc), "--scheme", "full", "--key-file", str(key)]) == 2
    err = capsys.readouterr().err
    assert "seleak keygen" in err and err.count("\n") == 1 and not enc.exists()
    assert content.decode("latin-1").strip() not in err  # the content is never shown


def test_file_without_metadata_is_refused(tmp_path, key_file, capsys):
    src = tmp_path / "plain.png"
    write_image(src, "L")
    assert cli.main(["decrypt", str(src), str(tmp_path / "o.png"), "--key-file", str(key_file)]) == 2
    assert "no seleak metadata" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["encrypt", "{src}", "{out}", "--scheme", "msb:9", "--key-file", "{key}"], "msb"),
        (["encrypt", "{src}", "{out}", "--scheme", "dct:q50:dc", "--key-file", "{key}"], "pixel"),
        (["encrypt", "{tmp}/missing.png", "{out}", "--scheme", "msb:1", "--key-file", "{key}"], "no such"),
        (["encrypt", "{src}", "{out}", "--scheme", "msb:1", "--key-file", "{tmp}/nokey"], "no such key file"),
        (["encrypt", "{src}", "{out}", "--scheme", "msb:1", "--key-file", "{badkey}"], "not a seleak key file"),
        (["encrypt", "{jpg}", "{out}", "--scheme", "msb:1", "--key-file", "{key}"], "PNG only"),
        (["encrypt", "{pal}", "{out}", "--scheme", "msb:1", "--key-file", "{key}"], "mode 'P'"),
        (["encrypt", "{enc}", "{out}", "--scheme", "msb:1", "--key-file", "{key}"], "already"),
    ],
)
def test_encrypt_errors_are_one_line_exit_2(tmp_path, key_file, capsys, args, message):
    src, enc = tmp_path / "in.png", tmp_path / "enc.png"
    write_image(src, "L")
    cli.main(["encrypt", str(src), str(enc), "--scheme", "msb:1", "--key-file", str(key_file)])
    (tmp_path / "bad.key").write_bytes(b"12345")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "x.jpg")
    Image.fromarray(np.zeros((8, 8), np.uint8)).convert("P").save(tmp_path / "pal.png")
    capsys.readouterr()
    fill = {
        "src": src,
        "out": tmp_path / "out.png",
        "key": key_file,
        "tmp": tmp_path,
        "enc": enc,
        "badkey": tmp_path / "bad.key",
        "jpg": tmp_path / "x.jpg",
        "pal": tmp_path / "pal.png",
    }
    assert cli.main([a.format(**fill) for a in args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("command", ["keygen", "encrypt", "decrypt", "leak"])
def test_help_has_examples(command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    assert f"seleak {command}" in capsys.readouterr().out.split("examples:")[1]


# --- seleak leak ---------------------------------------------------------------------------------


def smooth_batch(n: int = 80, size: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    f = rng.uniform(0.2, 0.6, (n, 2, 1, 1))
    a = rng.uniform(30, 90, (n, 1, 1))
    img = 128 + a * np.sin(f[:, 0] * xx + rng.uniform(0, 6, (n, 1, 1))) * np.cos(f[:, 1] * yy)
    return np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)


def test_leak_on_npz_files_writes_a_table(tmp_path, capsys):
    plain = smooth_batch()
    key = bytes(16)
    np.savez(tmp_path / "plain.npz", images=plain)
    np.savez(tmp_path / "msb1.npz", images=encrypt(plain, key, BitPlanes.msb(1), seed=0).images)
    np.savez(tmp_path / "full.npz", images=encrypt(plain, key, Full(), seed=0).images)
    out = tmp_path / "t.csv"
    base = ["--embedding", "pixels", "--pca", "3", "--permutations", "19", "--bootstrap", "20"]
    assert (
        cli.main(
            [
                "leak",
                str(tmp_path / "plain.npz"),
                str(tmp_path / "msb1.npz"),
                "--estimator",
                "gaussian",
                "--estimator",
                "ksg:k=4",
                *base,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    table = pd.read_csv(out)
    assert list(table.estimator) == ["gaussian", "ksg"]
    assert {"mi_nats", "mi_bits", "ci_low", "ci_high", "p_value", "n", "reads", "lower_bound_nats"} <= set(
        table.columns
    )
    assert (table.n == 80).all() and (table.ci_low <= table.ci_high).all()
    assert not table.degenerate.any() and table.reads.str.contains(r"\[").all()  # value [interval]
    # one plane encrypted: strong dependence, every permutation falls below the observed value
    assert np.allclose(table.p_value, 1 / 20) and (table.mi_nats > 0.3).all()
    assert "gaussian" in capsys.readouterr().out
    # fully encrypted: no evidence of dependence, and a much smaller estimate
    assert (
        cli.main(
            [
                "leak",
                str(tmp_path / "plain.npz"),
                str(tmp_path / "full.npz"),
                "--estimator",
                "gaussian",
                *base,
                "--out",
                str(out),
            ]
        )
        == 2
    )  # an existing table is not overwritten silently
    assert "already exists" in capsys.readouterr().err
    assert (
        cli.main(
            [
                "leak",
                str(tmp_path / "plain.npz"),
                str(tmp_path / "full.npz"),
                "--estimator",
                "gaussian",
                *base,
                "--out",
                str(out),
                "--force",
            ]
        )
        == 0
    )
    full = pd.read_csv(out)
    assert full.mi_nats[0] < 0.5 * table.mi_nats[0]


def test_leak_pairs_folders_by_file_name(tmp_path):
    plain = smooth_batch(40, seed=1)
    cipher = encrypt(plain, bytes(16), BitPlanes.msb(1), seed=0).images
    (tmp_path / "p").mkdir()
    (tmp_path / "c").mkdir()
    rng = np.random.default_rng(0)
    names = [f"img{i:02d}.png" for i in range(40)]
    for i in rng.permutation(40):  # written in random order: pairing is by name, not by listing order
        Image.fromarray(plain[i]).save(tmp_path / "p" / names[i])
        Image.fromarray(cipher[i]).save(tmp_path / "c" / names[i])
    np.savez(tmp_path / "p.npz", images=plain)
    np.savez(tmp_path / "c.npz", images=cipher)
    common = [
        "--estimator",
        "gaussian",
        "--embedding",
        "pixels",
        "--pca",
        "3",
        "--permutations",
        "9",
        "--bootstrap",
        "0",
    ]
    tables = []
    for a, b in (("p", "c"), ("p.npz", "c.npz")):
        out = tmp_path / f"{a}.csv"
        assert cli.main(["leak", str(tmp_path / a), str(tmp_path / b), *common, "--out", str(out)]) == 0
        tables.append(pd.read_csv(out))
    # the folders give exactly the estimate of the same pairs stored row by row
    assert tables[0].mi_nats[0] == pytest.approx(tables[1].mi_nats[0], rel=1e-9)
    assert tables[0].p_value[0] == pytest.approx(0.1) and np.isnan(tables[0].ci_low[0])
    (tmp_path / "c" / "img00.png").rename(tmp_path / "c" / "other.png")
    assert cli.main(["leak", str(tmp_path / "p"), str(tmp_path / "c"), *common]) == 2


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--estimator", "nope"], "unknown estimator"),
        (["--estimator", "ksg:k"], "KEY=VALUE"),
        (["--estimator", "gaussian", "--permutations", "0"], "--permutations"),
    ],
)
def test_leak_bad_input(tmp_path, capsys, extra, message):
    np.savez(tmp_path / "a.npz", images=smooth_batch(10))
    np.savez(tmp_path / "b.npz", images=smooth_batch(10, seed=2))
    np.savez(tmp_path / "short.npz", images=smooth_batch(5))
    assert cli.main(["leak", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--embedding", "pixels", *extra]) == 2
    assert message in capsys.readouterr().err
    assert (
        cli.main(
            [
                "leak",
                str(tmp_path / "a.npz"),
                str(tmp_path / "short.npz"),
                "--estimator",
                "gaussian",
                "--embedding",
                "pixels",
            ]
        )
        == 2
    )
    np.savez(tmp_path / "noimg.npz", x=smooth_batch(10))
    assert cli.main(["leak", str(tmp_path / "a.npz"), str(tmp_path / "noimg.npz"), "--estimator", "gaussian"]) == 2
