"""overlays.json and the overlay masks: written and read back, every bad hand edit one clear line."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image

from podcast_img2vid.errors import UserError
from podcast_img2vid.workdir.layout import OVERLAYS_JSON, overlay_mask_name
from podcast_img2vid.workdir.overlays import (
    MAX_SHARE,
    Overlay,
    OverlaySet,
    overlay_alpha,
    read_overlays,
    write_overlays,
)

WIDTH, HEIGHT = 64, 36


def _band(top: int, bottom: int) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    mask[top:bottom, 8:56] = 255
    return mask


def _written(folder) -> OverlaySet:
    logo = np.zeros((HEIGHT, WIDTH), np.uint8)
    logo[2:8, 2:10] = 255
    overlays = OverlaySet(WIDTH, HEIGHT, (
        Overlay("subtitles", _band(26, 34), ((255, 255, 255), (0, 0, 0)), picture_moves=True),
        Overlay("static", logo),
    ))
    write_overlays(folder, overlays)
    return overlays


def test_round_trip(tmp_path):
    written = _written(tmp_path)
    read = read_overlays(tmp_path, (WIDTH, HEIGHT))
    assert read.kinds == ["subtitles", "static"]
    for a, b in zip(written.overlays, read.overlays, strict=True):
        assert np.array_equal(a.mask, b.mask)
        assert (a.colours, a.picture_moves) == (b.colours, b.picture_moves)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [OVERLAYS_JSON, overlay_mask_name("static"), overlay_mask_name("subtitles")])
    assert not any(p.name.startswith("image_") for p in tmp_path.iterdir())  # step 2 takes none as a picture


def test_no_file_is_no_overlays(tmp_path):
    assert read_overlays(tmp_path) is None
    write_overlays(tmp_path, OverlaySet(WIDTH, HEIGHT, ()))
    assert list(tmp_path.iterdir()) == []


def test_a_mask_painted_in_colour_with_alpha_is_read(tmp_path):
    _written(tmp_path)
    painted = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    painted[20:30, :, :] = (250, 250, 250, 255)
    Image.fromarray(painted, "RGBA").save(tmp_path / overlay_mask_name("subtitles"))
    mask = read_overlays(tmp_path).get("subtitles").mask
    assert mask[20:30].min() == 255 and mask[:20].max() == 0


def _error(folder, size=None) -> str:
    with pytest.raises(UserError) as caught:
        read_overlays(folder, size)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_missing_mask(tmp_path):
    _written(tmp_path)
    (tmp_path / overlay_mask_name("static")).unlink()
    message = _error(tmp_path)
    assert overlay_mask_name("static") in message and "remove the static entry" in message


def test_mask_of_the_wrong_size(tmp_path):
    _written(tmp_path)
    cv2.imwrite(str(tmp_path / overlay_mask_name("subtitles")), np.zeros((HEIGHT * 2, WIDTH * 2), np.uint8))
    message = _error(tmp_path)
    assert overlay_mask_name("subtitles") in message and f"{WIDTH * 2}x{HEIGHT * 2}" in message


def test_pictures_of_another_size(tmp_path):
    _written(tmp_path)
    assert OVERLAYS_JSON in _error(tmp_path, (WIDTH * 2, HEIGHT * 2))


@pytest.mark.parametrize("text", ["{not json", '{"version": 1}', '{"version": 9, "width": 1, "height": 1}',
                                  '{"version": 1, "width": 64, "height": 36, "overlays": '
                                  '[{"kind": "clouds"}]}',
                                  '{"version": 1, "width": 64, "height": 36, "overlays": '
                                  '[{"kind": "static", "mask": "../x.png"}]}'])
def test_unreadable_json(tmp_path, text):
    _written(tmp_path)
    (tmp_path / OVERLAYS_JSON).write_text(text, encoding="utf-8")
    assert OVERLAYS_JSON in _error(tmp_path)


def test_an_overlay_covering_most_of_the_frame(tmp_path):
    _written(tmp_path)
    cv2.imwrite(str(tmp_path / overlay_mask_name("subtitles")), _band(0, HEIGHT))
    message = _error(tmp_path)
    assert overlay_mask_name("subtitles") in message and f"{MAX_SHARE:.0%}" in message


def test_overlays_together_covering_most_of_the_frame(tmp_path):
    _written(tmp_path)
    cv2.imwrite(str(tmp_path / overlay_mask_name("subtitles")), _band(0, 18))
    cv2.imwrite(str(tmp_path / overlay_mask_name("static")), _band(18, HEIGHT))
    assert "together" in _error(tmp_path)


def test_nothing_is_changed_by_reading(tmp_path):
    _written(tmp_path)
    (tmp_path / overlay_mask_name("static")).unlink()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    _error(tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    document = json.loads((tmp_path / OVERLAYS_JSON).read_text(encoding="utf-8"))
    assert document["overlays"][1]["kind"] == "static"


def test_overlay_pixels_are_the_overlay_not_its_box():
    rng = np.random.default_rng(3)
    picture = cv2.resize(rng.integers(0, 256, (4, 6, 3), dtype=np.uint8), (WIDTH, HEIGHT),
                         interpolation=cv2.INTER_CUBIC)
    frame = picture.copy()
    frame[28:31, 12:40] = 255  # a stroke of white text inside the subtitle band
    still = OverlaySet(WIDTH, HEIGHT, (Overlay("subtitles", _band(26, 34)),))
    alpha = overlay_alpha(frame, picture, still)
    assert alpha[28:31, 12:40].min() == 1.0
    assert alpha[:24].max() == 0 and alpha[26:34, 44:56].max() == 0  # the picture around it stays
    moving = OverlaySet(WIDTH, HEIGHT, (Overlay("subtitles", _band(26, 34), ((255, 255, 255),), True),))
    shifted = np.roll(picture, 3, axis=1)  # the picture under it moved: found by colour
    shifted[28:31, 12:40] = 255
    alpha = overlay_alpha(shifted, picture, moving)
    assert alpha[28:31, 12:40].min() == 1.0 and alpha[:24].max() == 0
