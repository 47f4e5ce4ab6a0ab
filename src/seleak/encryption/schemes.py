"""The selective-encryption schemes and their spec strings.

A scheme says what :func:`~seleak.encryption.encrypt` hides: bit-planes (:class:`BitPlanes`),
every bit (:class:`Full`), a region (:class:`Region`) or quantised JPEG-style DCT coefficients
(:class:`DCT`). :func:`parse_scheme` reads the spec grammar given in the :mod:`seleak.encryption`
docstring.
"""

from __future__ import annotations

import abc
import base64
import math
import operator
import zlib
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from seleak._validation import is_int
from seleak.encryption.images import check_images
from seleak.encryption.jpeg import ZIGZAG, forward_dct, quant_tables, render_dct

__all__ = [
    "Scheme",
    "BitPlanes",
    "Full",
    "Region",
    "DCT",
    "parse_scheme",
    "as_scheme",
    "parse_scheme_for_shape",
]

_SPEC_FORMS = (
    "full | msb:K | lsb:K (K = 0..8) | planes:P,P,... (0 = LSB .. 7 = MSB) | "
    "region:box:Y0,X0,Y1,X1[+...][@PLANES] | region:center:F[@PLANES] | "
    "region:mask:HxW:B64[@PLANES] | dct:qQ:none|dc|acN|ac=I,J|dc+acN|dc+ac=I,J"
)


class Scheme(abc.ABC):
    """Base class of the selective-encryption schemes."""

    @property
    @abc.abstractmethod
    def spec(self) -> str:
        """A string that :func:`parse_scheme` turns back into an equal scheme."""

    @property
    @abc.abstractmethod
    def label(self) -> str:
        """A short human label for legends and tables."""

    @property
    def amount(self) -> float | None:
        """A number for the x-axis of plots (planes, area fraction, AC coefficients), or ``None``."""
        return None

    @property
    def is_pixel_scheme(self) -> bool:
        """True when the scheme XORs keystream into pixel bits (exact pixel round trip)."""
        return True

    def keystream_nbytes(self, image_shape: tuple[int, ...]) -> int:
        """Keystream bytes one image of shape ``(H, W)`` or ``(H, W, C)`` consumes."""
        return int(np.prod(image_shape))

    def bit_mask(self, image_shape: tuple[int, ...]) -> np.ndarray:
        """The encrypted bits of one image, as a uint8 array broadcastable to ``image_shape``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"parse_scheme({self.spec!r})"


def _check_plane(p: Any) -> int:
    if not is_int(p):
        raise TypeError(f"bit-planes must be ints in 0..7 (0 = LSB, 7 = MSB); got {p!r}")
    if not 0 <= int(p) <= 7:
        raise ValueError(f"bit-planes must be in 0..7 (0 = least, 7 = most significant); got {p}")
    return int(p)


def _check_k(k: Any) -> int:
    if not is_int(k):
        raise TypeError(f"k must be an int in 0..8; got {type(k).__name__}")
    if not 0 <= int(k) <= 8:
        raise ValueError(f"k must be in 0..8 (number of bit-planes); got {k}")
    return int(k)


class BitPlanes(Scheme):
    """Encrypt a set of bit-planes of every pixel (plane 0 = least, 7 = most significant).

    ``BitPlanes.msb(3)`` is planes (7, 6, 5); ``BitPlanes.lsb(2)`` is planes (1, 0);
    ``BitPlanes((7, 0))`` any set. Schemes with the same set of planes are equal.
    """

    __slots__ = ("_planes",)

    def __init__(self, planes: Iterable[int] | int = ()):
        if is_int(planes):
            planes = (planes,)
        if isinstance(planes, (str, bytes)) or not isinstance(planes, Iterable):
            raise TypeError(f"planes must be an iterable of ints in 0..7; got {type(planes).__name__}")
        checked = [_check_plane(p) for p in planes]
        if len(set(checked)) != len(checked):
            dup = sorted({p for p in checked if checked.count(p) > 1})
            raise ValueError(f"bit-planes must not repeat; plane(s) {dup} given more than once")
        self._planes = tuple(sorted(checked, reverse=True))

    @classmethod
    def msb(cls, k: int) -> "BitPlanes":
        """The ``k`` most significant planes, ``k`` = 0..8."""
        k = _check_k(k)
        return cls(range(7, 7 - k, -1))

    @classmethod
    def lsb(cls, k: int) -> "BitPlanes":
        """The ``k`` least significant planes, ``k`` = 0..8."""
        k = _check_k(k)
        return cls(range(k))

    @property
    def planes(self) -> tuple[int, ...]:
        """The encrypted planes, most significant first."""
        return self._planes

    @property
    def mask(self) -> int:
        """The encrypted bits of one pixel value as an int (e.g. 0b11100000 for msb(3))."""
        return sum(1 << p for p in self._planes)

    @property
    def spec(self) -> str:
        k = len(self._planes)
        if self._planes == tuple(range(7, 7 - k, -1)):
            return f"msb:{k}"
        if self._planes == tuple(range(k - 1, -1, -1)):
            return f"lsb:{k}"
        return "planes:" + ",".join(map(str, self._planes))

    @property
    def label(self) -> str:
        k = len(self._planes)
        if k == 0:
            return "clear (0 planes)"
        if k == 8:
            return "all 8 planes"
        s = self.spec
        if s.startswith("msb"):
            return f"{k} MSB"
        if s.startswith("lsb"):
            return f"{k} LSB"
        return "planes " + ",".join(map(str, self._planes))

    @property
    def amount(self) -> float:
        return float(len(self._planes))

    def bit_mask(self, image_shape: tuple[int, ...]) -> np.ndarray:
        return np.full((1,) * len(image_shape), self.mask, dtype=np.uint8)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BitPlanes) and other._planes == self._planes

    def __hash__(self) -> int:
        return hash(("BitPlanes", self._planes))


class Full(Scheme):
    """Full encryption: every bit of every pixel. The reference for "no leakage"."""

    @property
    def spec(self) -> str:
        return "full"

    @property
    def label(self) -> str:
        return "full encryption"

    @property
    def amount(self) -> float:
        return 8.0

    @property
    def mask(self) -> int:
        return 0xFF

    def bit_mask(self, image_shape: tuple[int, ...]) -> np.ndarray:
        return np.full((1,) * len(image_shape), 0xFF, dtype=np.uint8)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Full)

    def __hash__(self) -> int:
        return hash("Full")


def _as_planes(planes: Any) -> BitPlanes:
    if planes is None:
        return BitPlanes.msb(8)
    if isinstance(planes, BitPlanes):
        return planes
    if isinstance(planes, Full):
        return BitPlanes.msb(8)
    if isinstance(planes, str):
        parsed = parse_scheme(planes)
        if not isinstance(parsed, BitPlanes):
            raise ValueError(f"planes must be a bit-plane spec (msb:K, lsb:K, planes:...); got {planes!r}")
        return parsed
    return BitPlanes(planes)


class Region(Scheme):
    """Encrypt the chosen bit-planes (default: all 8) only inside a region of every image.

    Give exactly one of ``mask`` (boolean ``(H, W)`` array, True = encrypt), ``boxes``
    (half-open pixel boxes ``(y0, x0, y1, x1)``) or ``center`` (a centred box covering that
    fraction of the image area, resolved for each image size; also :meth:`Region.centered`).
    The same region applies to every image and every channel.
    """

    __slots__ = ("_mask", "_boxes", "_center", "_planes")

    def __init__(
        self,
        mask: np.ndarray | None = None,
        boxes: Sequence[Sequence[int]] | None = None,
        planes: BitPlanes | Iterable[int] | str | None = None,
        *,
        center: float | None = None,
    ):
        given = sum(x is not None for x in (mask, boxes, center))
        if given != 1:
            raise ValueError("Region needs exactly one of mask=, boxes= or center=")
        self._mask: np.ndarray | None = None
        self._boxes: tuple[tuple[int, int, int, int], ...] | None = None
        self._center: float | None = None
        if mask is not None:
            m = np.asarray(mask)
            if m.ndim != 2 or m.size == 0:
                raise ValueError(f"a region mask must be a non-empty 2-D (H, W) array; got shape {m.shape}")
            if m.dtype != bool:
                if not np.issubdtype(m.dtype, np.integer) or not np.isin(m, (0, 1)).all():
                    raise TypeError(f"a region mask must be boolean (or 0/1 integers); got dtype {m.dtype}")
                m = m.astype(bool)
            m = m.copy()
            m.setflags(write=False)
            self._mask = m
        elif boxes is not None:
            if isinstance(boxes, np.ndarray):
                boxes = boxes.tolist()
            if len(boxes) and isinstance(boxes[0], (int, np.integer)):
                boxes = [boxes]  # one box given flat
            out = []
            for b in boxes:
                if len(b) != 4:
                    raise ValueError(f"a box is (y0, x0, y1, x1); got {tuple(b)}")
                y0, x0, y1, x1 = (operator.index(v) for v in b)
                if not (0 <= y0 < y1 and 0 <= x0 < x1):
                    raise ValueError(
                        f"a box (y0, x0, y1, x1) needs 0 <= y0 < y1 and 0 <= x0 < x1 (half-open); got {tuple(b)}"
                    )
                out.append((y0, x0, y1, x1))
            if not out:
                raise ValueError("boxes must hold at least one (y0, x0, y1, x1) box")
            self._boxes = tuple(out)
        else:
            f = float(center)  # type: ignore[arg-type]
            if not 0.0 < f <= 1.0:
                raise ValueError(f"center must be an area fraction in (0, 1]; got {center}")
            self._center = f
        self._planes = _as_planes(planes)

    @classmethod
    def centered(cls, fraction: float, planes: Any = None) -> "Region":
        """A centred box covering ``fraction`` of the image area (same aspect ratio as the image)."""
        return cls(center=fraction, planes=planes)

    @property
    def planes(self) -> BitPlanes:
        return self._planes

    def region_mask(self, height: int, width: int) -> np.ndarray:
        """The boolean ``(height, width)`` region; raises ``ValueError`` if it leaves the image."""
        if self._mask is not None:
            if self._mask.shape != (height, width):
                raise ValueError(f"the region mask has shape {self._mask.shape} but the images are {height}x{width}")
            return self._mask
        m = np.zeros((height, width), dtype=bool)
        if self._boxes is not None:
            for y0, x0, y1, x1 in self._boxes:
                if y1 > height or x1 > width:
                    raise ValueError(
                        f"box (y0, x0, y1, x1) = {(y0, x0, y1, x1)} lies outside the {height}x{width} "
                        f"image: need y1 <= {height} and x1 <= {width}"
                    )
                m[y0:y1, x0:x1] = True
            return m
        side = math.sqrt(self._center)  # type: ignore[arg-type]
        bh = min(height, max(1, round(side * height)))
        bw = min(width, max(1, round(side * width)))
        y0, x0 = (height - bh) // 2, (width - bw) // 2
        m[y0 : y0 + bh, x0 : x0 + bw] = True
        return m

    def bit_mask(self, image_shape: tuple[int, ...]) -> np.ndarray:
        region = self.region_mask(image_shape[0], image_shape[1])
        m = np.where(region, np.uint8(self._planes.mask), np.uint8(0)).astype(np.uint8)
        return m if len(image_shape) == 2 else m[:, :, None]

    @property
    def spec(self) -> str:
        if self._boxes is not None:
            where = "box:" + "+".join(",".join(map(str, b)) for b in self._boxes)
        elif self._center is not None:
            where = f"center:{self._center!r}"
        else:
            m = self._mask
            assert m is not None
            packed = zlib.compress(np.packbits(m).tobytes(), 9)
            where = f"mask:{m.shape[0]}x{m.shape[1]}:" + base64.urlsafe_b64encode(packed).decode().rstrip("=")
        suffix = "" if len(self._planes.planes) == 8 else f"@{self._planes.spec}"
        return f"region:{where}{suffix}"

    @property
    def label(self) -> str:
        planes = "" if len(self._planes.planes) == 8 else f", {self._planes.label}"
        if self._center is not None:
            return f"centre {self._center:.0%}{planes}"
        if self._boxes is not None:
            return f"{len(self._boxes)} box{'es' if len(self._boxes) > 1 else ''}{planes}"
        return f"mask {self.amount:.0%}{planes}"

    @property
    def amount(self) -> float | None:
        """Fraction of the image area encrypted (``None`` for boxes: it depends on the image size)."""
        if self._center is not None:
            return self._center
        if self._mask is not None:
            return float(self._mask.mean())
        return None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Region) or other._planes != self._planes:
            return False
        if self._mask is not None or other._mask is not None:
            return (
                self._mask is not None
                and other._mask is not None
                and self._mask.shape == other._mask.shape
                and bool((self._mask == other._mask).all())
            )
        return self._boxes == other._boxes and self._center == other._center

    def __hash__(self) -> int:
        key = self._mask.tobytes() if self._mask is not None else (self._boxes, self._center)
        return hash(("Region", key, self._planes))


@dataclass(frozen=True, init=False, repr=False)
class DCT(Scheme):
    """JPEG-style selective encryption of quantised 8x8 block-DCT coefficients.

    Each image is level-shifted, split into 8x8 blocks (edges padded by replication, as JPEG
    encoders do), transformed with the orthonormal 2-D DCT-II and quantised with the JPEG Annex K
    table scaled to ``quality`` (IJG scaling). Three-channel images are first converted to JFIF
    YCbCr (luminance table for Y, chrominance table for Cb and Cr, no subsampling); any other
    channel count uses the luminance table on every channel.

    * ``dc=True``: each DC coefficient ``q`` in its valid range ``[-m, m]`` (``m = ceil(1024 /
      Q[0,0])``) becomes ``-m + ((q + m + s) mod (2m+1))`` with ``s`` a 32-bit keystream word (the
      modulo bias, below ``(2m+1) / 2**32``, is negligible). The result stays a valid DC value.
    * ``ac_signs=n`` flips, with one keystream bit each, the signs of the first ``n`` AC
      coefficients in zigzag order (or of the zigzag positions listed, e.g. ``(1, 2, 5)``).
      Zero coefficients have no sign and stay zero, as in JPEG sign encryption.

    Decryption restores the quantised coefficients **exactly**; the pixels of
    :func:`decrypt` are those coefficients rendered (dequantised, inverse DCT, clipped, rounded),
    i.e. exactly ``scheme.compress(images)``: the JPEG-compressed plaintext, not the original.
    """

    quality: int
    dc: bool
    ac_signs: tuple[int, ...]

    def __init__(self, quality: int = 50, dc: bool = True, ac_signs: int | Iterable[int] = 0):
        if not is_int(quality):
            raise TypeError(f"quality must be an int in 1..100; got {type(quality).__name__}")
        if not 1 <= int(quality) <= 100:
            raise ValueError(f"quality must be in 1..100; got {quality}")
        if not isinstance(dc, (bool, np.bool_)):
            raise TypeError(f"dc must be True or False; got {dc!r}")
        if is_int(ac_signs):
            if not 0 <= int(ac_signs) <= 63:
                raise ValueError(f"ac_signs as a count must be in 0..63; got {ac_signs}")
            idx: tuple[int, ...] = tuple(range(1, int(ac_signs) + 1))
        else:
            try:
                idx = tuple(sorted(operator.index(i) for i in ac_signs))  # type: ignore[union-attr]
            except TypeError:
                raise TypeError(
                    f"ac_signs must be a count 0..63 or zigzag positions in 1..63; got {ac_signs!r}"
                ) from None
            if any(not 1 <= i <= 63 for i in idx) or len(set(idx)) != len(idx):
                raise ValueError(f"ac_signs positions must be distinct zigzag indices in 1..63; got {ac_signs!r}")
        object.__setattr__(self, "quality", int(quality))
        object.__setattr__(self, "dc", bool(dc))
        object.__setattr__(self, "ac_signs", idx)

    # -- naming
    @property
    def spec(self) -> str:
        parts = ["dc"] if self.dc else []
        n = len(self.ac_signs)
        if n:
            parts.append(
                f"ac{n}" if self.ac_signs == tuple(range(1, n + 1)) else "ac=" + ",".join(map(str, self.ac_signs))
            )
        return f"dct:q{self.quality}:" + ("+".join(parts) if parts else "none")

    @property
    def label(self) -> str:
        parts = (["DC"] if self.dc else []) + ([f"{len(self.ac_signs)} AC signs"] if self.ac_signs else [])
        return f"DCT q{self.quality}: " + (" + ".join(parts) if parts else "nothing")

    @property
    def amount(self) -> float:
        """Number of AC sign positions encrypted per block."""
        return float(len(self.ac_signs))

    @property
    def is_pixel_scheme(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"DCT(quality={self.quality}, dc={self.dc}, ac_signs={self.ac_signs})"

    # -- transform
    def dc_limit(self, channels: int) -> np.ndarray:
        """``m`` per channel: quantised DC values lie in ``[-m, m]``."""
        return np.ceil(1024.0 / quant_tables(self.quality, channels)[:, 0, 0]).astype(np.int64)

    def forward(self, images: np.ndarray) -> np.ndarray:
        """Quantised coefficients, int16 of shape ``(N, C, H8, W8, 8, 8)`` (C = 1 for (N, H, W))."""
        return forward_dct(images, self.quality)

    def render(self, coefficients: np.ndarray, image_shape: tuple[int, ...]) -> np.ndarray:
        """Pixels (uint8, ``(N,) + image_shape``) of quantised coefficients: dequantise, inverse DCT,
        back to RGB for 3 channels, crop the padding, round and clip to 0..255."""
        return render_dct(coefficients, image_shape, self.quality)

    def compress(self, images: np.ndarray) -> np.ndarray:
        """The JPEG-style round trip of the plaintext: what :func:`decrypt` returns for this scheme."""
        images = check_images(images)
        return self.render(self.forward(images), images.shape[1:])

    # -- keystream use
    def _layout(self, image_shape: tuple[int, ...]) -> tuple[int, int, int]:
        h, w = image_shape[0], image_shape[1]
        c = image_shape[2] if len(image_shape) == 3 else 1
        nblk = c * (-(-h // 8)) * (-(-w // 8))
        dc_bytes = 4 * nblk if self.dc else 0
        ac_bytes = -(-(nblk * len(self.ac_signs)) // 8)
        return nblk, dc_bytes, ac_bytes

    def keystream_nbytes(self, image_shape: tuple[int, ...]) -> int:
        _, dc_bytes, ac_bytes = self._layout(image_shape)
        return dc_bytes + ac_bytes

    def apply_keystream(self, q: np.ndarray, ks: np.ndarray, image_shape: tuple[int, ...], inverse: bool) -> np.ndarray:
        """Encrypt (or, with ``inverse``, decrypt) coefficients ``q`` (n, C, Hb, Wb, 8, 8) in place.

        ``ks`` holds one row of :meth:`keystream_nbytes` keystream bytes per image: 32-bit words for
        the DC values first, then one bit per encrypted AC sign.
        """
        nblk, dc_bytes, ac_bytes = self._layout(image_shape)
        n, c = q.shape[:2]
        grid = q.shape[:4]
        if self.dc:
            words = np.ascontiguousarray(ks[:, :dc_bytes]).view("<u4").astype(np.int64).reshape(grid)
            m = self.dc_limit(c)[None, :, None, None]
            span = 2 * m + 1
            dc = q[..., 0, 0].astype(np.int64) + m
            dc = (dc - words) % span if inverse else (dc + words) % span
            q[..., 0, 0] = (dc - m).astype(np.int16)
        if self.ac_signs:
            bits = np.unpackbits(ks[:, dc_bytes : dc_bytes + ac_bytes], axis=1)[:, : nblk * len(self.ac_signs)]
            flip = bits.reshape(grid + (len(self.ac_signs),)).astype(bool)
            rows = [ZIGZAG[i][0] for i in self.ac_signs]
            cols = [ZIGZAG[i][1] for i in self.ac_signs]
            sel = q[..., rows, cols]
            q[..., rows, cols] = np.where(flip, -sel, sel)
        return q

    def bit_mask(self, image_shape: tuple[int, ...]) -> np.ndarray:
        raise TypeError("the DCT scheme changes coefficients, not a fixed set of pixel bits")


#: The largest explicit region mask a spec may carry (2^28 pixels, 32 MiB packed).
_MAX_MASK_PIXELS = 1 << 28


def parse_scheme(spec: str) -> Scheme:
    """The scheme a spec string names (the grammar is in the :mod:`seleak.encryption` docstring)."""
    if isinstance(spec, Scheme):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"a scheme spec must be a str; got {type(spec).__name__}")
    s = spec.strip()

    def bad(why: str) -> ValueError:
        return ValueError(f"bad scheme spec {spec!r}: {why}. Forms: {_SPEC_FORMS}")

    try:
        if s == "full":
            return Full()
        head, _, rest = s.partition(":")
        if head in ("msb", "lsb"):
            if not rest.isdigit():
                raise bad("K must be an integer 0..8")
            return BitPlanes.msb(int(rest)) if head == "msb" else BitPlanes.lsb(int(rest))
        if head == "planes":
            items = [p for p in rest.split(",") if p != ""] if rest else []
            if not all(p.strip().isdigit() for p in items):
                raise bad("planes are comma-separated integers 0..7")
            return BitPlanes(int(p) for p in items)
        if head == "region":
            where, at, planes = rest.partition("@")
            plane_scheme = _as_planes(planes) if at else None
            kind, _, arg = where.partition(":")
            if kind == "box":
                boxes = []
                for part in arg.split("+"):
                    nums = part.split(",")
                    if len(nums) != 4 or not all(v.strip().isdigit() for v in nums):
                        raise bad("a box is Y0,X0,Y1,X1 (non-negative integers)")
                    boxes.append(tuple(int(v) for v in nums))
                return Region(boxes=boxes, planes=plane_scheme)
            if kind == "center":
                try:
                    f = float(arg)
                except ValueError:
                    raise bad("the centre fraction must be a number in (0, 1]") from None
                return Region(center=f, planes=plane_scheme)
            if kind == "mask":
                size, _, b64 = arg.partition(":")
                hw = size.split("x")
                if len(hw) != 2 or not all(v.isdigit() for v in hw) or not b64:
                    raise bad("a mask region is mask:HxW:BASE64")
                h, w = int(hw[0]), int(hw[1])
                if not 0 < h * w <= _MAX_MASK_PIXELS:
                    raise bad(f"a mask has 1 to {_MAX_MASK_PIXELS} pixels, got {h}x{w}")
                # the packed mask needs ceil(H*W/8) bytes: decode no more than that, so a small spec
                # cannot expand into gigabytes (a zlib bomb)
                need = -(-h * w // 8)
                try:
                    inflater = zlib.decompressobj()
                    raw = inflater.decompress(base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)), need)
                except (zlib.error, ValueError) as err:
                    raise bad(f"the mask data is not zlib + base64url ({err})") from None
                if inflater.unconsumed_tail or not inflater.eof:
                    raise bad("the mask data is longer than HxW")
                bits = np.unpackbits(np.frombuffer(raw, np.uint8))
                if bits.size < h * w:
                    raise bad("the mask data is shorter than HxW")
                return Region(mask=bits[: h * w].reshape(h, w).astype(bool), planes=plane_scheme)
            raise bad(f"unknown region kind {kind!r}")
        if head == "dct":
            qpart, _, parts = rest.partition(":")
            if not (qpart.startswith("q") and qpart[1:].isdigit()):
                raise bad("the quality is qQ with Q in 1..100")
            dc = False
            ac: Any = 0
            for part in parts.split("+") if parts else []:
                if part == "dc":
                    dc = True
                elif part == "none":
                    pass
                elif part.startswith("ac="):
                    ac = [int(v) for v in part[3:].split(",")]
                elif part.startswith("ac") and part[2:].isdigit():
                    ac = int(part[2:])
                else:
                    raise bad(f"unknown DCT part {part!r}")
            return DCT(quality=int(qpart[1:]), dc=dc, ac_signs=ac)
    except ValueError as e:
        if str(e).startswith("bad scheme spec"):
            raise
        raise bad(str(e)) from None
    except (TypeError, zlib.error, base64.binascii.Error) as e:  # type: ignore[attr-defined]
        raise bad(str(e)) from None
    raise bad("unknown form")


def as_scheme(scheme: Any) -> Scheme:
    """``scheme`` itself if it is a :class:`Scheme`, the parsed scheme if it is a spec string;
    anything else raises ``TypeError``."""
    if isinstance(scheme, Scheme):
        return scheme
    if isinstance(scheme, str):
        return parse_scheme(scheme)
    raise TypeError(
        f"scheme must be a Scheme (BitPlanes, Region, DCT, Full) or a spec string; got {type(scheme).__name__}"
    )


def _check_mask_spec_size(spec: str, height: int, width: int) -> None:
    """Refuse a ``region:mask`` spec whose mask is not ``height x width`` or whose text is longer than
    such a mask can need (:func:`parse_scheme` bounds its decompression to ``ceil(H*W/8)`` bytes)."""
    s = spec.strip()
    if not s.startswith("region:mask:"):
        return
    body = s[len("region:mask:") :].partition("@")[0]
    size, _, b64 = body.partition(":")
    hw = size.split("x")
    if len(hw) != 2 or not all(v.isdigit() and len(v) <= 9 for v in hw):
        return  # malformed: parse_scheme gives the precise message
    h, w = int(hw[0]), int(hw[1])
    if (h, w) != (int(height), int(width)):
        raise ValueError(f"the scheme's region mask is {h}x{w} but the images are {height}x{width}")
    need = -(-h * w // 8)
    # base64 of zlib data: 4 characters per 3 bytes; zlib adds at most ~0.1 % + a few bytes. The
    # decompression itself is bounded by parse_scheme.
    if len(b64) > 4 * (need + need // 1000 + 64) // 3 + 4:
        raise ValueError(
            f"the scheme's region mask spec is {len(b64)} characters, too long for a "
            f"{h}x{w} mask; the scheme is damaged or was crafted"
        )


def parse_scheme_for_shape(spec: str, image_shape: tuple[int, ...]) -> Scheme:
    """:func:`parse_scheme` for a spec read from a file, with its size bounded by the image size.

    ``image_shape`` is one image's ``(H, W[, C])``. A spec longer than any scheme of that size
    needs, or a mask region of another size, raises ``ValueError`` before anything is decoded, so
    a damaged or crafted file cannot make the parser work out of proportion to the image.
    """
    if not isinstance(spec, str):
        raise TypeError(f"a scheme spec must be a str; got {type(spec).__name__}")
    h, w = int(image_shape[0]), int(image_shape[1])
    limit = 512 + -(-h * w // 4)
    if len(spec) > limit:
        raise ValueError(
            f"the scheme spec is {len(spec)} characters, more than the {limit} any scheme "
            f"of a {h}x{w} image needs; the file is damaged or was crafted"
        )
    _check_mask_spec_size(spec, h, w)
    return parse_scheme(spec)
