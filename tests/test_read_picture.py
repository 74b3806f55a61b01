"""`media.read_picture` reads every kind of picture a user may drop in as the pixels they see."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from podcast_img2vid.errors import UserError
from podcast_img2vid.media import read_picture

WHITE = 255.0


def png_bytes(pixels: np.ndarray, color_type: int) -> bytes:
    """A PNG written byte by byte (Pillow cannot write 16-bit grey + alpha): `pixels` is
    (H, W, channels) uint8 or uint16, stored big-endian as the PNG format wants."""
    height, width = pixels.shape[:2]
    depth = 16 if pixels.dtype == np.uint16 else 8
    raw = pixels.astype(">u2" if depth == 16 else "u1").reshape(height, -1).tobytes()
    stride = len(raw) // height
    scanlines = b"".join(b"\0" + raw[y * stride:(y + 1) * stride] for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(scanlines))
            + chunk(b"IEND", b""))


def over_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha[..., None] / 255.0
    return rgb * a + WHITE * (1 - a)


def grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., None], 3, axis=2).astype(np.float64)


def case(kind: str, rng: np.random.Generator, folder: Path) -> tuple[Path, np.ndarray, float]:
    """Write one picture of `kind`; return its path, the RGB a viewer shows, and the tolerance."""
    h, w = int(rng.integers(9, 40)), int(rng.integers(9, 40))
    path = folder / "image_001.png"
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    grey = rng.integers(0, 256, (h, w), dtype=np.uint8)
    alpha = rng.integers(0, 256, (h, w), dtype=np.uint8)
    if kind == "grey 8-bit":
        Image.fromarray(grey, "L").save(path)
        return path, grey_to_rgb(grey), 0
    if kind == "grey 16-bit":
        grey16 = rng.integers(0, 65536, (h, w), dtype=np.uint16)
        Image.fromarray(grey16).save(path)
        return path, grey_to_rgb(grey16 / 257), 0.5
    if kind == "grey + alpha 8-bit":
        Image.fromarray(np.dstack([grey, alpha]), "LA").save(path)
        return path, over_white(grey_to_rgb(grey), alpha), 1
    if kind == "grey + alpha 16-bit":
        pixels = rng.integers(0, 65536, (h, w, 2), dtype=np.uint16)
        path.write_bytes(png_bytes(pixels, color_type=4))
        return path, over_white(grey_to_rgb(pixels[..., 0] / 257), pixels[..., 1] / 257), 2
    if kind == "RGB 16-bit":
        rgb16 = rng.integers(0, 65536, (h, w, 3), dtype=np.uint16)
        path.write_bytes(png_bytes(rgb16, color_type=2))
        return path, rgb16 / 257, 1  # Pillow keeps the high byte: within one 8-bit level
    if kind == "RGBA 16-bit":
        rgba16 = rng.integers(0, 65536, (h, w, 4), dtype=np.uint16)
        path.write_bytes(png_bytes(rgba16, color_type=6))
        return path, over_white(rgba16[..., :3] / 257, rgba16[..., 3] / 257), 2
    if kind == "palette":
        palette = rng.integers(0, 256, (16, 3), dtype=np.uint8)
        index = rng.integers(0, 16, (h, w), dtype=np.uint8)
        picture = Image.fromarray(index, "P")
        picture.putpalette(palette.flatten().tolist())
        picture.save(path)
        return path, palette[index].astype(np.float64), 0
    if kind == "palette with a transparent entry":
        palette = rng.integers(0, 256, (16, 3), dtype=np.uint8)
        index = rng.integers(0, 16, (h, w), dtype=np.uint8)
        picture = Image.fromarray(index, "P")
        picture.putpalette(palette.flatten().tolist())
        picture.save(path, transparency=3)
        expected = palette[index].astype(np.float64)
        expected[index == 3] = WHITE
        return path, expected, 0
    if kind == "1-bit":
        bits = grey > 127
        Image.fromarray(bits).save(path)
        return path, grey_to_rgb(bits.astype(np.uint8) * 255), 0
    if kind == "CMYK JPEG renamed .png":
        cmyk = Image.fromarray(np.dstack([rgb, alpha]), "CMYK")
        cmyk.save(path, format="JPEG", quality=100, subsampling=0)
        return path, np.asarray(cmyk.convert("RGB"), dtype=np.float64), 12
    raise AssertionError(kind)


KINDS = ["grey 8-bit", "grey 16-bit", "grey + alpha 8-bit", "grey + alpha 16-bit", "RGB 16-bit",
         "RGBA 16-bit", "palette", "palette with a transparent entry", "1-bit", "CMYK JPEG renamed .png"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_picture_kind_reads_as_the_pixels_a_viewer_shows(tmp_path, kind):
    for variant in range(3):
        folder = tmp_path / str(variant)
        folder.mkdir()
        path, expected, tolerance = case(kind, np.random.default_rng([KINDS.index(kind), variant]), folder)
        picture = read_picture(path)
        assert picture.mode == "RGB" and picture.size == (expected.shape[1], expected.shape[0])
        error = np.abs(np.asarray(picture, dtype=np.float64) - expected)
        # JPEG is lossy: its tolerance bounds the mean error; every lossless kind is exact per pixel
        assert (error.mean() if kind.startswith("CMYK") else error.max()) <= tolerance, kind


def test_a_picture_turned_by_its_exif_tag_is_read_upright(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :10] = 255  # a white band on the left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: viewers rotate it 90 degrees clockwise
    Image.fromarray(pixels).save(tmp_path / "image_001.png", exif=exif)
    upright = np.asarray(read_picture(tmp_path / "image_001.png"))
    assert upright.shape == (40, 20, 3) and upright[:10].min() == 255 and upright[10:].max() == 0


def test_a_file_that_is_no_picture_is_one_clear_error(tmp_path):
    (tmp_path / "image_001.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(UserError, match="image_001.png: cannot be read as a picture"):
        read_picture(tmp_path / "image_001.png")
