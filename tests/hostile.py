"""Hostile uploads, generated in memory (nothing binary is committed): images and checkpoints a class might send.

Each case is (file name, bytes, expected): `expected` is a phrase the page must show, or ACCEPT for files that
are odd but valid (the picker then shows the file name with its upright size).
"""

from __future__ import annotations

import functools
import io
import pickle
import struct
import zipfile
import zlib
from dataclasses import dataclass

import torch
from PIL import Image

ACCEPT = "accept"


@dataclass(frozen=True)
class Case:
    name: str  # upload file name
    data: bytes
    expected: str  # text the page must show, or ACCEPT
    size: tuple[int, int] | None = None  # (width, height) shown after an accepted upload

    @property
    def id(self) -> str:
        return self.name.rsplit(".", 1)[0]


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _photo(size: tuple[int, int] = (96, 64), mode: str = "RGB") -> Image.Image:
    # A gradient, so decoders have real content (a flat colour compresses to nothing and hides truncation).
    ramp = Image.linear_gradient("L")  # (256, 256)
    rgb = Image.merge("RGB", (ramp.resize(size), ramp.rotate(90).resize(size), Image.new("L", size, 90)))
    return rgb.convert(mode)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


@functools.cache
def _bomb_png(side: int = 20_000) -> bytes:
    """A real, valid 20000 x 20000 grey PNG of ~0.4 GB pixels in a few hundred KB (zeros compress well).

    Deflating 0.4 GB takes seconds, so one band of rows is deflated after a full flush (no back-reference reaches
    before it) and repeated: the stream stays valid, and the zlib trailer's Adler-32 of n zero bytes is n << 16 | 1.
    """
    band = 500  # rows per deflated band; side is a multiple of it
    row = bytes(side + 1)  # filter byte 0 + a black row
    z = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: the zlib header and trailer are written below
    part = z.compress(row * band) + z.flush(zlib.Z_FULL_FLUSH)
    n = side * len(row)
    idat = b"\x78\xda" + part * (side // band) + zlib.compressobj(9, zlib.DEFLATED, -15).flush() + struct.pack(
        ">I", (n % 65521) << 16 | 1)
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _huge_jpeg(width: int = 30_000, height: int = 30_000) -> bytes:
    """A tiny JPEG whose frame header claims width x height (decoding it would need GBs)."""
    data = bytearray(_save(_photo((64, 64)), "JPEG", quality=50))
    i = data.index(b"\xff\xc0")  # baseline SOF0: marker, length(2), precision(1), height(2), width(2)
    data[i + 5:i + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _exif_rotated() -> bytes:
    """Stored 96 x 64 (landscape) with EXIF orientation 6: shown upright it is 64 x 96."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return _save(_photo((96, 64)), "JPEG", exif=exif.tobytes())


def _corrupt_exif() -> bytes:
    """A JPEG whose APP1 Exif block is garbage after its header."""
    data = _save(_photo((80, 60)), "JPEG")
    junk = b"Exif\x00\x00" + b"MM\x00\x2a\xff\xff\xff\xf0" + bytes(range(256)) * 2
    app1 = b"\xff\xe1" + struct.pack(">H", len(junk) + 2) + junk
    return data[:2] + app1 + data[2:]  # right after SOI


def _palette_transparent() -> bytes:
    img = _photo((64, 64)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return _save(img, "PNG", transparency=0)


def _gray16() -> bytes:
    img = Image.new("I;16", (64, 48))
    img.putdata([(x * 1000) % 65536 for x in range(64 * 48)])
    return _save(img, "PNG")


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (40, 40), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _fake_heic() -> bytes:
    # An ISO-BMFF 'ftyp' box with the HEIC brand, then an empty 'meta' box: what an iPhone photo starts with.
    ftyp = struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic"
    return ftyp + struct.pack(">I", 8) + b"meta" + bytes(512)


def _avif() -> bytes | None:
    try:
        return _save(_photo((64, 64)), "AVIF")
    except (KeyError, OSError, ValueError):  # Pillow built without AVIF: the fake HEIC covers the case
        return None


class _Evil:
    # Unpickling this calls os.system: exactly what weights_only=True must refuse.
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > /tmp/resnet-viz-pwned",))


def image_cases() -> list[Case]:
    """Hostile and odd uploads for the image picker (>= 20)."""
    jpeg = _save(_photo((120, 90)), "JPEG", quality=90)
    png = _save(_photo((120, 90)), "PNG")
    cases = [
        Case("empty.jpg", b"", "empty (0 bytes)"),
        Case("notes.jpg", b"Lecture notes\nResNet-18 has 8 basic blocks.\n" * 20, "text file, not an image"),
        Case("page.png", b"<!DOCTYPE html><html><head><title>cat</title></head><body><img src=cat.jpg></body></html>",
             "web page (HTML)"),
        Case("truncated.jpg", jpeg[: len(jpeg) // 2], "truncated or damaged"),
        Case("truncated.png", png[: len(png) // 2], "truncated or damaged"),
        Case("tiny.png", _save(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG"), "at least 16 pixels"),
        Case("bomb.png", _bomb_png(), "megapixels"),
        Case("huge_tiny_file.jpg", _huge_jpeg(), "megapixels"),
        Case("strip.png", _save(Image.new("RGB", (10_000, 10), (0, 90, 0)), "PNG"), "at least 16 pixels"),
        Case("long_strip.png", _save(Image.new("RGB", (4_000, 40), (0, 90, 0)), "PNG"), "aspect ratio"),
        Case("drawing.svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
             b'<circle cx="32" cy="32" r="20" fill="red"/></svg>', "SVG drawings are not supported"),
        Case("photo.heic", _fake_heic(), "HEIC/HEIF/AVIF"),
        Case("photos.zip", _zip({"a.jpg": jpeg}), "ZIP archive"),
        Case("model.pth", _torch_bytes({"w": torch.zeros(2)}), "PyTorch checkpoint"),
        Case("old_model.pkl", pickle.dumps({"w": [0.0] * 4}, protocol=2), "Python pickle"),
        Case("paper.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n", "PDF document"),
        Case("noise.bin", bytes(range(256)) * 8, "not an image that can be read"),
        # Odd but valid: they must load, upright and in RGB.
        Case("gray16.png", _gray16(), ACCEPT, (64, 48)),
        Case("cmyk.jpg", _save(_photo((72, 56), "CMYK"), "JPEG"), ACCEPT, (72, 56)),
        Case("palette_alpha.png", _palette_transparent(), ACCEPT, (64, 64)),
        Case("animated.gif", _animated_gif(), ACCEPT, (40, 40)),
        Case("rotated.jpg", _exif_rotated(), ACCEPT, (64, 96)),
        Case("corrupt_exif.jpg", _corrupt_exif(), ACCEPT, (80, 60)),
    ]
    avif = _avif()
    if avif is not None:  # Pillow reads AVIF here, but the app only accepts the formats it lists
        cases.append(Case("photo.avif", avif, "AVIF images are not supported"))
    return cases


def _resnet50_state() -> dict[str, torch.Tensor]:
    """A ResNet-50 state dict with the real keys and shapes, every tensor a zero-stride view of one float.

    Real ResNet-50 weights are ~100 MB (over the upload limit); the shapes are what the check must catch.
    """
    from torchvision.models import resnet50

    with torch.device("meta"):
        ref = resnet50(weights=None).state_dict()
    one = torch.zeros(1)
    return {k: one.expand(v.shape) if v.dim() else torch.zeros((), dtype=v.dtype) for k, v in ref.items()}


@functools.cache
def valid_checkpoint(num_classes: int = 7, seed: int = 0) -> bytes:
    """A ResNet-18 state dict with `num_classes` classes, a few KB to upload.

    Every weight is a view into one small shared random storage (torch.save stores it once) whose strides overlap,
    so the values still vary along every axis; BN variances are 1.
    """
    from torchvision.models import resnet18

    with torch.device("meta"):
        ref = resnet18(weights=None, num_classes=num_classes).state_dict()
    gen = torch.Generator().manual_seed(seed)
    pool = torch.randn(8192, generator=gen) * 0.05  # (8192,): more than any view below reaches (4610)
    state = {}
    for k, v in ref.items():
        if k.endswith("running_var"):
            state[k] = torch.ones(v.shape)
        elif k.endswith("num_batches_tracked"):
            state[k] = torch.zeros((), dtype=torch.long)
        else:  # element [i, j, ...] is pool[i * 3 + j * 2 + ...]: distinct neighbours, one storage
            strides = tuple(range(v.dim() + 1, 1, -1))
            state[k] = pool.as_strided(v.shape, strides)
    return _torch_bytes(state)


# A checkpoint whose pickle would run code on an unsafe load (what weights_only=True must refuse).
EVIL = Case("evil.pth", pickle.dumps({"conv1.weight": _Evil()}, protocol=2), "Refused")


def checkpoint_cases() -> list[Case]:
    """Hostile uploads for the sidebar's weights "file" option."""
    good = valid_checkpoint()
    return [
        EVIL,
        Case("evil_zip.pth", _evil_torch_zip(), "Refused"),
        Case("resnet50.pth", _torch_bytes(_resnet50_state()), "ResNet-18 expects"),
        Case("truncated.pth", good[: len(good) // 3], "truncated or damaged"),
        Case("cat.jpg", _save(_photo((64, 64)), "JPEG"), "not a readable PyTorch checkpoint"),
    ]


def _evil_torch_zip() -> bytes:
    """A torch.save zip whose pickle (data.pkl) calls os.system on load."""
    buf = io.BytesIO()
    torch.save({"a": torch.zeros(1)}, buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("data.pkl"):
                data = pickle.dumps(_Evil(), protocol=2)
            dst.writestr(info, data)
    return out.getvalue()
