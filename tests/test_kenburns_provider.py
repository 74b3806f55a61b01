"""The Ken Burns provider on its own: clip length, size, determinism and smooth, steady motion."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import dot_centre
from PIL import Image

from podcast_img2vid.errors import UserError
from podcast_img2vid.kenburns import MOVES
from podcast_img2vid.media import probe, read_frames
from podcast_img2vid.step2.providers.base import ClipRequest
from podcast_img2vid.step2.providers.kenburns import (
    SPARE_SECONDS,
    KenBurnsProvider,
    KenBurnsSettings,
    capped_size,
)


def textured_picture(path: Path, width: int, height: int) -> Path:
    """A dim smooth random texture with a soft bright blob off-centre (something to track)."""
    rng = np.random.default_rng(7)
    noise = rng.random((height // 8, width // 8, 3)).astype(np.float32)
    image = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC) * 100
    blob = np.zeros((height, width), np.float32)
    cv2.circle(blob, (width * 3 // 10, height * 3 // 10), max(3, width // 40), 1.0, -1)
    sigma = max(2.0, width / 80)
    image += cv2.GaussianBlur(blob, (0, 0), sigma)[..., None] * 400
    Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(path)
    return path


def animate(tmp_path: Path, picture: Path, seed: int, seconds: float, fps: float = 25) -> Path:
    out = tmp_path / f"clip_{seed}.mp4"
    KenBurnsProvider(KenBurnsSettings(fps)).animate(ClipRequest(picture, out, seed, seconds))
    return out


@pytest.mark.parametrize("seed", range(len(MOVES)))
def test_every_move_is_slow_steady_and_spans_the_scene(tmp_path, seed):
    picture = textured_picture(tmp_path / "image_001.png", 320, 180)
    clip = animate(tmp_path, picture, seed, seconds=2.0)
    info = probe(clip)
    frames = read_frames(clip)
    assert (info.width, info.height, info.fps) == (320, 180, 25)
    assert len(frames) == round((2.0 + SPARE_SECONDS) * 25)  # a spare second beyond the scene

    path = np.array([dot_centre(f) for f in frames])
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    assert np.linalg.norm(path[-1] - path[0]) > 5  # it really moves over the clip
    assert steps.max() < 1.0  # slow: under a pixel a frame at this size
    assert np.abs(np.diff(steps)).max() < 0.4  # steady: no whole-pixel jumps (codec noise ~0.25)

    # Consecutive frames differ by a small, steady amount (mean absolute pixel difference).
    diffs = np.abs(np.diff(np.stack(frames).astype(np.int16), axis=0)).mean(axis=(1, 2, 3))
    assert diffs.max() < 2.0
    assert diffs.max() < 2 * np.median(diffs)


def test_same_seed_same_clip_other_seed_other_move(tmp_path):
    picture = textured_picture(tmp_path / "image_001.png", 160, 90)
    a = read_frames(animate(tmp_path, picture, 0, 1.0))
    (tmp_path / "again").mkdir()
    b = read_frames(animate(tmp_path / "again", picture, 0, 1.0))
    c = read_frames(animate(tmp_path, picture, 2, 1.0))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert np.abs(a[-1].astype(int) - c[-1].astype(int)).mean() > 2


def test_portrait_stays_portrait_and_large_pictures_are_capped(tmp_path):
    picture = textured_picture(tmp_path / "image_001.png", 181, 321)
    info = probe(animate(tmp_path, picture, 1, 0.5))
    assert (info.width, info.height) == (180, 320)
    assert capped_size(3840, 2160) == (1920, 1080)
    assert capped_size(1081, 1921) == (1080, 1920)


def test_unreadable_picture_is_a_user_error(tmp_path):
    bad = tmp_path / "image_001.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(UserError, match="image_001.png"):
        animate(tmp_path, bad, 0, 1.0)


def test_transparent_picture_is_flattened_onto_white_as_for_svd(tmp_path):
    rgba = np.zeros((90, 160, 4), np.uint8)  # fully transparent black
    rgba[30:60, 60:100] = (200, 30, 30, 255)  # an opaque red block in the middle
    Image.fromarray(rgba, "RGBA").save(tmp_path / "image_001.png")
    first = read_frames(animate(tmp_path, tmp_path / "image_001.png", 0, 1.0))[0]
    assert first[5, 5].min() > 240  # the transparent corner is white
    assert first[45, 80, 0] > 170 and first[45, 80, 1] < 70  # the opaque block stays red
