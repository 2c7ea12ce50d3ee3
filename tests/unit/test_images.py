"""resnet_viz.inputs.images: every accepted format and mode gives the right RGB pixels, every refusal says why."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from resnet_viz.inputs.images import (
    ImageError,
    denormalise,
    describe_preprocessing,
    list_samples,
    load_image,
    load_sample,
    resize_for_model,
    to_tensor,
)
from resnet_viz.model.config import IMAGE_LIMITS, ImageLimits
from resnet_viz.text import i18n

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def quadrants() -> Image.Image:
    """32x32: red top-left, green top-right, blue bottom-left, white bottom-right."""
    img = Image.new("RGB", (32, 32), WHITE)
    img.paste(RED, (0, 0, 16, 16))
    img.paste(GREEN, (16, 0, 32, 16))
    img.paste(BLUE, (0, 16, 16, 32))
    return img


def assert_quadrants(img: Image.Image, atol: int = 0) -> None:
    assert img.mode == "RGB" and img.size == (32, 32)
    for xy, colour in (((4, 4), RED), ((27, 4), GREEN), ((4, 27), BLUE), ((27, 27), WHITE)):
        assert np.abs(np.subtract(img.getpixel(xy), colour)).max() <= atol, (xy, img.getpixel(xy), colour)


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature + IHDR claiming width x height, with an empty IDAT: bytes, not pixels."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("fmt", "kwargs", "atol"),
    [
        ("PNG", {}, 0),
        ("BMP", {}, 0),
        ("TIFF", {}, 0),
        ("WEBP", {"lossless": True}, 0),
        ("JPEG", {"quality": 95}, 8),  # lossy: flat colour blocks come back within a few levels
        ("GIF", {}, 0),
    ],
)
def test_each_format_gives_its_pixels(fmt: str, kwargs: dict, atol: int) -> None:
    assert_quadrants(load_image(encode(quadrants(), fmt, **kwargs)), atol)


def test_gif_uses_first_frame() -> None:
    frames = [Image.new("RGB", (32, 32), RED), Image.new("RGB", (32, 32), BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    assert load_image(data).getpixel((5, 5)) == RED


def test_mpo_style_phone_jpeg_is_accepted() -> None:
    frames = [Image.new("RGB", (32, 32), GREEN), Image.new("RGB", (32, 32), RED)]
    data = encode(frames[0], "MPO", save_all=True, append_images=frames[1:])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    assert np.abs(np.subtract(load_image(data).getpixel((5, 5)), GREEN)).max() <= 8


# ---------------------------------------------------------------- modes


def test_greyscale_l_and_bilevel() -> None:
    grey = Image.new("L", (20, 20), 77)
    assert load_image(encode(grey, "PNG")).getpixel((3, 3)) == (77, 77, 77)
    bilevel = Image.new("1", (20, 20), 0)
    bilevel.paste(1, (10, 0, 20, 20))
    out = load_image(encode(bilevel, "BMP"))
    assert out.getpixel((2, 2)) == (0, 0, 0) and out.getpixel((15, 2)) == WHITE


def test_la_composited_on_white() -> None:
    img = Image.new("LA", (20, 20), (0, 0))  # black, fully transparent -> white
    img.paste((0, 255), (10, 0, 20, 20))  # black, opaque
    out = load_image(encode(img, "PNG"))
    assert out.getpixel((2, 2)) == WHITE and out.getpixel((15, 2)) == (0, 0, 0)


def test_rgba_composited_on_white() -> None:
    img = Image.new("RGBA", (20, 20), (255, 0, 0, 128))  # half-transparent red
    img.paste((0, 0, 255, 0), (10, 0, 20, 20))  # fully transparent blue
    out = load_image(encode(img, "PNG"))
    assert out.getpixel((15, 2)) == WHITE
    # over white: 255 * (1 - a) + 0 * a in G and B, with a = 128/255
    assert np.abs(np.subtract(out.getpixel((2, 2)), (255, 127, 127))).max() <= 1


def test_palette_with_transparency_over_white() -> None:
    img = Image.new("P", (20, 20), 0)
    img.putpalette([0, 0, 255] + [255, 0, 0] + [0, 0, 0] * 254)
    img.paste(1, (10, 0, 20, 20))
    data = encode(img, "PNG", transparency=0)  # palette index 0 (blue) is transparent
    assert Image.open(io.BytesIO(data)).mode == "P"
    out = load_image(data)
    assert out.getpixel((2, 2)) == WHITE and out.getpixel((15, 2)) == RED


def test_palette_without_transparency() -> None:
    img = Image.new("P", (20, 20), 1)
    img.putpalette([0, 0, 0] + [10, 200, 30] + [0, 0, 0] * 254)
    assert load_image(encode(img, "BMP")).getpixel((5, 5)) == (10, 200, 30)


def test_gif_with_transparent_colour_over_white() -> None:
    img = Image.new("P", (20, 20), 0)
    img.putpalette([0, 255, 0] + [255, 0, 0] + [0, 0, 0] * 254)
    img.paste(1, (10, 0, 20, 20))
    out = load_image(encode(img, "GIF", transparency=0))
    assert out.getpixel((2, 2)) == WHITE and out.getpixel((15, 2)) == RED


def test_cmyk() -> None:
    img = Image.new("CMYK", (20, 20), (0, 255, 255, 0))  # no cyan, full magenta+yellow -> red
    img.paste((0, 0, 0, 255), (10, 0, 20, 20))  # full black
    out = load_image(encode(img, "TIFF"))
    assert out.getpixel((2, 2)) == RED and out.getpixel((15, 2)) == (0, 0, 0)
    jpeg = load_image(encode(Image.new("CMYK", (20, 20), (255, 0, 255, 0)), "JPEG", quality=95))  # green
    assert np.abs(np.subtract(jpeg.getpixel((5, 5)), GREEN)).max() <= 8


def test_lab_tiff() -> None:
    from PIL import ImageCms

    # Mid-tone colours: 8-bit L*a*b* cannot hold saturated sRGB primaries; its steps cost a few levels.
    colours = [(200, 80, 60), (60, 140, 90), (70, 90, 180), (128, 128, 128)]
    original = Image.new("RGB", (64, 16))
    for i, colour in enumerate(colours):
        original.paste(colour, (16 * i, 0, 16 * i + 16, 16))
    srgb, lab_profile = ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB")
    lab = ImageCms.applyTransform(original, ImageCms.buildTransform(srgb, lab_profile, "RGB", "LAB"))
    assert lab.mode == "LAB"
    out = load_image(encode(lab, "TIFF"))
    for i, colour in enumerate(colours):
        assert np.abs(np.subtract(out.getpixel((16 * i + 8, 8)), colour)).max() <= 10, (
            colour,
            out.getpixel((16 * i + 8, 8)),
        )


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16_bit_greyscale_is_scaled_not_clipped(fmt: str) -> None:
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16).repeat(16, axis=0).repeat(4, axis=1)
    data = encode(Image.fromarray(values), fmt)
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    out = np.asarray(load_image(data))
    # v * 255 / 65535: 257 -> 1, 32896 -> 128; clipping would have made every value above 255 white
    assert out[0, ::4, 0].tolist() == [0, 1, 128, 255]
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


def test_32_bit_integer_mode_i() -> None:
    values = np.array([[0, 65535]], dtype=np.int32).repeat(16, axis=0).repeat(8, axis=1)
    img = Image.fromarray(values)
    assert np.asarray(load_image(encode(img, "TIFF")))[0, ::8, 0].tolist() == [0, 255]
    wide = np.array([[-1000, 0, 1000]], dtype=np.int32).repeat(16, axis=0).repeat(8, axis=1)
    # outside 16 bits: stretched from min to max
    assert np.asarray(load_image(encode(Image.fromarray(wide), "TIFF")))[0, ::8, 0].tolist() == [
        0,
        128,
        255,
    ]


def test_float_mode_f() -> None:
    values = np.array([[0.0, 0.5, 1.0]], dtype=np.float32).repeat(16, axis=0).repeat(8, axis=1)
    data = encode(Image.fromarray(values), "TIFF")
    assert Image.open(io.BytesIO(data)).mode == "F"
    assert np.asarray(load_image(data))[0, ::8, 0].tolist() == [0, 128, 255]
    hdr = np.array([[-2.0, 0.0, 2.0]], dtype=np.float32).repeat(16, axis=0).repeat(8, axis=1)
    assert np.asarray(load_image(encode(Image.fromarray(hdr), "TIFF")))[0, ::8, 0].tolist() == [
        0,
        128,
        255,
    ]


# ---------------------------------------------------------------- EXIF orientation


def sideways_jpeg(exif_payload: Image.Exif | bytes) -> bytes:
    """Stored as 40 wide x 20 high, red square in the stored top-left corner, rest blue."""
    img = Image.new("RGB", (40, 20), BLUE)
    img.paste(RED, (0, 0, 10, 10))
    return encode(img, "JPEG", quality=95, exif=exif_payload)


def test_exif_orientation_6_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    out = load_image(sideways_jpeg(exif))
    assert out.size == (20, 40)
    # Turning clockwise carries the stored top-left corner to the top-right.
    assert np.abs(np.subtract(out.getpixel((17, 2)), RED)).max() <= 10
    assert np.abs(np.subtract(out.getpixel((2, 2)), BLUE)).max() <= 10


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_corrupt_exif_is_tolerated() -> None:
    out = load_image(sideways_jpeg(b"Exif\x00\x00MM\x00*\xff\xff\xff\xff garbage"))
    assert out.size == (40, 20)
    assert np.abs(np.subtract(out.getpixel((2, 2)), RED)).max() <= 10


def test_exif_transpose_failure_keeps_the_photo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Older Pillows raise on some broken EXIF blocks; the photo is then used as stored."""
    import resnet_viz.inputs.images as images

    def broken(_img: Image.Image) -> Image.Image:
        raise SyntaxError("not a TIFF file")

    monkeypatch.setattr(images.ImageOps, "exif_transpose", broken)
    exif = Image.Exif()
    exif[0x0112] = 6
    assert load_image(sideways_jpeg(exif)).size == (40, 20)


# ---------------------------------------------------------------- refusals


def torch_checkpoint_bytes() -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save({"weight": torch.zeros(2)}, buf)
    return buf.getvalue()


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("photo.txt", "not a photo")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: b"", "empty"),
        (lambda: b"Hello, I am a plain text file.\n", "text file"),
        (lambda: b"<!DOCTYPE html><html><body><img src='cat.jpg'></body></html>", "web page"),
        (lambda: b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
        (zip_bytes, "ZIP archive"),
        (torch_checkpoint_bytes, "PyTorch checkpoint"),
        (lambda: b"%PDF-1.4\n%...", "PDF"),
        (lambda: bytes(range(256)) * 4, "not an image"),
        (lambda: encode(Image.new("RGB", (32, 32)), "ICO"), "ICO images are not supported"),
        (lambda: encode(Image.new("RGB", (32, 32)), "PPM"), "PPM images are not supported"),
        (lambda: encode(quadrants(), "JPEG")[:300], "truncated"),
        (lambda: encode(Image.effect_noise((64, 64), 50).convert("RGB"), "PNG")[:-200], "truncated"),
        (lambda: encode(Image.new("RGB", (15, 40)), "PNG"), "at least 16 pixels"),
        (lambda: encode(Image.new("RGB", (400, 19)), "PNG"), "aspect ratio of 21:1"),
        (lambda: png_header_only(8000, 6000), "8000 × 6000 pixels, 48.0 megapixels; the limit is 40"),
    ],
)
def test_refused_with_a_message(make, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        load_image(make())


def test_aspect_ratio_at_the_limit_is_accepted() -> None:
    assert load_image(encode(Image.new("RGB", (400, 20)), "PNG")).size == (400, 20)


def test_file_over_byte_limit() -> None:
    data = encode(quadrants(), "PNG")
    with pytest.raises(ImageError, match="the limit is 0 MB"):
        load_image(data, ImageLimits(max_bytes=len(data) - 1))
    assert IMAGE_LIMITS.max_bytes == 25 * 1024 * 1024


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(("side", "megapixels"), [(10_000, "100.0"), (20_000, "400.0")])
def test_decompression_bomb_refused_without_allocating(side: int, megapixels: str) -> None:
    data = png_header_only(side, side)  # a few dozen bytes that claim side x side pixels
    tracemalloc.start()
    try:
        with pytest.raises(ImageError, match=f"{megapixels} megapixels; the limit is 40"):
            load_image(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20


def test_bomb_refusal_peak_resident_memory() -> None:
    """tracemalloc misses Pillow's C buffers, so measure the process's peak RSS in a fresh interpreter."""
    script = textwrap.dedent(
        """
        import resource, warnings
        from tests.unit.test_images import png_header_only
        from resnet_viz.inputs.images import ImageError, load_image
        warnings.simplefilter("ignore")
        bombs = [png_header_only(20000, 20000), png_header_only(8000, 6000)]
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for data in bombs:
            try:
                load_image(data)
            except ImageError:
                pass
            else:
                raise SystemExit("accepted a bomb")
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
        """
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )
    grown_kib = int(done.stdout.strip())
    assert grown_kib < 50 * 1024  # decoding 20000 x 20000 RGB would take 1.2 GB


# ---------------------------------------------------------------- to the model


def test_to_tensor_matches_torchvision_weights_transforms() -> None:
    from torchvision.models import ResNet18_Weights

    transforms = ResNet18_Weights.IMAGENET1K_V1.transforms()
    rng = np.random.default_rng(0)
    for img in (load_sample("coffee"), Image.fromarray(rng.integers(0, 256, (181, 300, 3), dtype=np.uint8))):
        ours = to_tensor(img, transforms.mean, transforms.std)
        assert ours.shape == (1, 3, 224, 224)
        assert np.allclose(ours[0].numpy(), transforms(img).numpy(), atol=1e-5)


def test_to_tensor_without_crop_keeps_the_whole_image() -> None:
    img = Image.new("RGB", (600, 400), RED)
    x = to_tensor(img, IMAGENET_MEAN, IMAGENET_STD, center_crop=False)
    assert x.shape == (1, 3, 224, 336)
    # a flat red image stays flat red: (1 - mean) / std in R, (0 - mean) / std in G and B
    expected = (np.array([1.0, 0.0, 0.0]) - IMAGENET_MEAN) / IMAGENET_STD
    assert np.allclose(x[0].mean(dim=(1, 2)).numpy(), expected, atol=1e-5)
    how = describe_preprocessing(img.size, center_crop=False)  # width × height, as the tensor's (W, H)
    assert (how.key, how.params) == ("image.prep.whole", {"width": 600, "height": 400, "new_w": 336, "new_h": 224})


def test_to_tensor_other_size_scales_the_imagenet_recipe() -> None:
    img = Image.new("RGB", (300, 200), BLUE)
    assert resize_for_model(img, 112).size == (112, 112)
    assert to_tensor(img, IMAGENET_MEAN, IMAGENET_STD, size=112).shape == (1, 3, 112, 112)
    assert describe_preprocessing(img.size, 112).params == {"width": 300, "height": 200, "short": 128, "size": 112}


def test_denormalise_recovers_the_pixels_the_model_saw() -> None:
    img = load_sample("cat")
    x = to_tensor(img, IMAGENET_MEAN, IMAGENET_STD)
    shown = denormalise(x, IMAGENET_MEAN, IMAGENET_STD)
    assert shown.dtype == np.uint8 and shown.shape == (224, 224, 3)
    reference = np.asarray(resize_for_model(img), dtype=np.int16)
    assert np.abs(shown.astype(np.int16) - reference).max() <= 1


# ---------------------------------------------------------------- samples


def test_samples_are_real_licensed_photos() -> None:
    samples = [s for s in list_samples() if s.mask is None]  # the generated shapes are tested in test_shapes.py
    assert len(samples) >= 6
    licences = (Path(samples[0].path).parent / "LICENSES.md").read_text(encoding="utf-8")
    for sample in samples:
        assert sample.path.is_file() and sample.path.stat().st_size < 150_000
        assert sample.caption and sample.licence in ("CC0", "Public domain")
        assert f"`{sample.path.name}`" in licences
        img = load_sample(sample.name)
        assert img.mode == "RGB" and max(img.size) <= 640 and min(img.size) >= 224


def test_samples_json_names_are_unique() -> None:
    names = [s.name for s in list_samples()]
    assert len(names) == len(set(names))
    raw = json.loads((list_samples()[0].path.parent / "samples.json").read_text(encoding="utf-8"))
    assert {entry["file"] for entry in raw} == {s.path.name for s in list_samples()}


def test_unknown_sample_is_refused() -> None:
    with pytest.raises(ImageError, match="no sample called 'dog'"):
        load_sample("dog")


def _png_with_chunk(kind: bytes, payload: bytes, after_pixels: bool = False) -> bytes:
    """A real 32 x 32 PNG with one extra chunk before (or after) its pixels."""
    data = encode(quadrants().resize((32, 32)), "PNG")
    chunk = struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    at = data.index(b"IEND") - 4 if after_pixels else data.index(b"IDAT") - 4
    return data[:at] + chunk + data[at:]


@pytest.mark.parametrize(
    ("kind", "payload", "after_pixels"),
    [
        (b"zTXt", b"Comment\x00\x00", False),  # keyword, NUL, method 0, then the deflated text
        (b"iCCP", b"icc\x00\x00", False),  # a colour profile: name, NUL, method 0, deflated profile
        (b"zTXt", b"Comment\x00\x00", True),  # a text chunk after the pixels is read by load(), not open()
    ],
)
def test_metadata_bomb_refused_without_inflating(kind: bytes, payload: bytes, after_pixels: bool) -> None:
    bomb = zlib.compress(bytes(64 << 20), 9)  # 64 MB of zeros in ~64 kB
    data = _png_with_chunk(kind, payload + bomb, after_pixels)
    assert len(data) < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(ImageError) as info:
            load_image(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.key == "image.err.metadata_too_large"
    assert peak < 8 * 2**20  # Pillow inflates at most 1 MB of it (PngImagePlugin.MAX_TEXT_CHUNK)


def test_large_plain_metadata_is_bounded_by_the_byte_limit() -> None:
    # An uncompressed 2 MB EXIF or text chunk costs its own bytes only; the 25 MB upload limit bounds it.
    exif = b"Exif\x00\x00" + bytes(2 << 20)
    img = load_image(_png_with_chunk(b"eXIf", exif[6:]))
    assert img.size == (32, 32)


def test_refusals_are_keys_in_both_languages() -> None:
    for data in (b"", b"%PDF-1.4", png_header_only(8000, 6000), png_header_only(400, 19)):
        with pytest.raises(ImageError) as info:
            load_image(data)
        exc = info.value
        assert exc.key in i18n.texts("en") and exc.key in i18n.texts("zh")
        assert str(exc) == exc.text("en") and exc.text("zh") != exc.text("en")
    assert exc.params == {"width": 400, "height": 19, "aspect": 400 / 19, "limit": 20.0}


def test_the_default_sample_follows_the_live_weights():
    from resnet_viz.inputs import images

    samples = images.list_samples()
    assert images.default_sample("shapes", samples).startswith("shapes")
    assert images.default_sample("imagenet", samples) == "cat"
