"""Step 3's live overlays end to end with real encodes: the source's overlay pixels over Ken Burns clips."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from podcast_img2vid import layout
from podcast_img2vid.errors import UserError
from podcast_img2vid.kenburns_provider import KenBurnsProvider
from podcast_img2vid.media import read_frames, run_ffmpeg, write_video
from podcast_img2vid.overlays import Overlay, OverlaySet, write_overlays
from podcast_img2vid.step2 import run_step2
from podcast_img2vid.step3 import run_step3, summary

REPO = Path(__file__).resolve().parents[1]
FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
MAX_LEVELS = 25
"""Inside an overlay's pixels the output may differ from the source by this much on average..."""
MIN_SHARE = 0.95
"""...in at least this share of the frames."""


@dataclass
class Case:
    source: Path
    work: layout.WorkDir
    overlay_pixels: list[np.ndarray]
    """Per source frame: bool (h, w), where an overlay's own pixels are."""
    masks: np.ndarray
    """bool (h, w): every mask together."""


def make_case(root: Path, family: str, seed: int, size: tuple[int, int], fps: int, seconds: int = 4) -> Case:
    """A source of two still pictures with overlays over them, and what step 1 would write for it."""
    rng = np.random.default_rng(seed)
    w, h = size
    pictures = [np.asarray(Image.fromarray(rng.integers(0, 256, (9, 16, 3), dtype=np.uint8)).resize(
        (w, h), Image.BICUBIC)) for _ in range(2)]
    font = ImageFont.truetype(FONT, max(12, h // 12))
    lines = ["小朋友們大家好", "今天來講故事", "", "Once upon a time", "從前有一隻小兔子", "The end"]
    band = np.zeros((h, w), np.uint8)
    band[h - h // 5 : h - h // 40, w // 10 : w - w // 10] = 255
    logo = np.zeros((h, w), np.uint8)
    logo[h // 40 : h // 8, w - w // 6 : w - w // 40] = 255
    frames, truth = [], []
    for i in range(seconds * fps):
        ink = Image.new("L", (w, h))
        frame = Image.fromarray(pictures[0 if i < seconds * fps // 2 else 1])
        for canvas, fill in ((frame, None), (ink, 255)):
            draw = ImageDraw.Draw(canvas)
            text = lines[(i * len(lines)) // (seconds * fps)]
            if text and family == "subtitles":
                draw.text((w // 2, h - h // 9), text, font=font, anchor="mm", fill=fill or (255, 255, 255),
                          stroke_width=2, stroke_fill=fill or (0, 0, 0))
            elif text:  # Latin and CJK on a box, and a corner logo
                x0, y0, x1, y1 = draw.textbbox((w // 2, h - h // 9), text, font=font, anchor="mm")
                draw.rectangle((x0 - 4, y0 - 3, x1 + 4, y1 + 3), fill=fill or (20, 20, 60))
                draw.text((w // 2, h - h // 9), text, font=font, anchor="mm", fill=fill or (255, 230, 0))
            if family == "box and logo":
                ys, xs = np.nonzero(logo)
                draw.ellipse((xs.min() + 2, ys.min() + 2, xs.max() - 2, ys.max() - 2),
                             fill=fill or (230, 40, 40))
        frames.append(np.asarray(frame))
        truth.append(np.asarray(ink) > 0)
    work = layout.WorkDir(root)
    silent = root / "silent.mp4"
    write_video(frames, silent, fps)
    source = root / "source.mp4"
    tone = "sine=frequency=440:sample_rate=44100"
    run_ffmpeg(["-i", str(silent), "-f", "lavfi", "-t", str(seconds), "-i", tone,
                "-c:v", "copy", "-c:a", "aac", str(source)])
    work.images_dir.mkdir(parents=True)
    for n, picture in enumerate(pictures, 1):
        Image.fromarray(picture).save(work.images_dir / layout.image_name(n))
    half = seconds / 2
    layout.write_scenes(work.csv_path, [
        layout.Scene(1, layout.image_name(1), 0.0, half, 0, round(half * fps)),
        layout.Scene(2, layout.image_name(2), half, float(seconds), round(half * fps), seconds * fps)])
    overlays = [Overlay("subtitles", band)] + ([Overlay("static", logo)] if family == "box and logo" else [])
    write_overlays(work.images_dir, OverlaySet(w, h, tuple(overlays)))
    masks = (band > 0) | (logo > 0) if family == "box and logo" else band > 0
    return Case(source, work, truth, masks)


def grown(where: np.ndarray, pixels: int) -> np.ndarray:
    """`where` grown by `pixels` in every direction."""
    return cv2.dilate(where.astype(np.uint8), np.ones((2 * pixels + 1, 2 * pixels + 1), np.uint8)) > 0


def levels(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    """Mean |a - b| (grey levels, over R, G, B) at the pixels `where`."""
    return float(np.abs(a[where].astype(np.int16) - b[where]).mean())


@pytest.mark.parametrize(
    ("family", "seed", "size", "fps"),
    [("subtitles", 1, (640, 360), 25), ("box and logo", 2, (480, 270), 30)],
    ids=["cjk-outline-640x360-25", "box-logo-480x270-30"],
)
def test_overlays_stay_live_over_the_animated_clips(tmp_path, family, seed, size, fps):
    case = make_case(tmp_path, family, seed, size, fps)
    run_step2(case.work, KenBurnsProvider(fps), seed=seed)
    live, plain = tmp_path / "live.mp4", tmp_path / "plain.mp4"
    result = run_step3(case.source, case.work, live)
    off = run_step3(case.source, case.work, plain, overlays=False)

    kinds = ["subtitles", "static"] if family == "box and logo" else ["subtitles"]
    assert list(result.live_overlays) == kinds and off.live_overlays == () and off.overlays_off
    assert f"live overlays from the source: {', '.join(kinds)}" in summary(result)
    assert "--no-overlays" in summary(off)
    assert result.sync_error_ms <= 10 and abs(result.duration - off.duration) < 1e-6
    source, out, clip = read_frames(case.source), read_frames(live), read_frames(plain)
    assert len(out) == len(source) == len(clip)

    # Inside each frame's overlay pixels: the source's, at the same time.
    errors = [levels(o, s, t) for o, s, t in zip(out, source, case.overlay_pixels, strict=True) if t.any()]
    assert np.mean(np.array(errors) <= MAX_LEVELS) >= MIN_SHARE, sorted(errors)[-10:]
    # ... and at each subtitle change the new line shows from its first frame (not one frame late).
    for i in range(1, len(source)):
        changed = case.overlay_pixels[i] ^ case.overlay_pixels[i - 1]
        if changed.sum() > 50:
            assert levels(out[i], source[i], changed) < levels(out[i], source[i - 1], changed)
    # The picture, around the masks too, is the animated clip (which differs from the source), up
    # to the encoder's noise (the two outputs are encoded apart).
    picture = ~grown(case.masks, 4)
    assert max(levels(o, c, picture) for o, c in zip(out, clip, strict=True)) < 3
    assert np.mean([levels(c, s, picture) > 8 for c, s in zip(clip, source, strict=True)]) > 0.8
    # Between the letters, inside the band, the output is the clip too (no rectangle of source).
    between = [case.masks & ~grown(t, 3) for t in case.overlay_pixels]
    assert np.mean([levels(o, c, b) for o, c, b in zip(out, clip, between, strict=True)]) < 4


def test_no_overlays_gives_the_output_of_a_folder_without_overlays(tmp_path):
    case = make_case(tmp_path / "case", "subtitles", 3, (320, 180), 25, seconds=2)
    run_step2(case.work, KenBurnsProvider(25), seed=3)
    run_step3(case.source, case.work, tmp_path / "off.mp4", overlays=False)
    (case.work.images_dir / layout.OVERLAYS_JSON).unlink()
    before = run_step3(case.source, case.work, tmp_path / "before.mp4")
    assert before.live_overlays == () and not before.overlays_off
    off, old = read_frames(tmp_path / "off.mp4"), read_frames(tmp_path / "before.mp4")
    assert len(off) == len(old) and all(np.array_equal(a, b) for a, b in zip(off, old, strict=True))


@pytest.mark.parametrize("damage", ["wrong size", "missing"])
def test_a_bad_mask_is_one_clear_line_before_any_work(tmp_path, damage):
    case = make_case(tmp_path / "case", "subtitles", 4, (320, 180), 25, seconds=2)
    run_step2(case.work, KenBurnsProvider(25), seed=4)
    mask = case.work.images_dir / layout.overlay_mask_name("subtitles")
    if damage == "missing":
        mask.unlink()
    else:
        Image.open(mask).resize((300, 180)).save(mask)
    kept = {p: p.read_bytes() for p in case.work.root.rglob("*") if p.is_file()}
    out = tmp_path / "out.mp4"
    with pytest.raises(UserError) as raised:
        run_step3(case.source, case.work, out)
    message = str(raised.value)
    assert "\n" not in message and str(mask) in message and "nothing was written" in message
    proc = subprocess.run(
        [sys.executable, str(REPO / "animate_podcast_v2.py"), str(case.source), "--step", "3",
         "--work-dir", str(case.work.root), "-o", str(out)],
        capture_output=True, text=True, encoding="utf-8", cwd=tmp_path,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and mask.name in proc.stderr
    assert not out.exists() and not list(tmp_path.glob("*.mp4"))
    assert {p: p.read_bytes() for p in case.work.root.rglob("*") if p.is_file()} == kept
    # --no-overlays still works with the bad mask: the overlays are not read.
    proc = subprocess.run(
        [sys.executable, str(REPO / "animate_podcast_v2.py"), str(case.source), "--step", "3",
         "--work-dir", str(case.work.root), "-o", str(out), "--no-overlays"],
        capture_output=True, text=True, encoding="utf-8", cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--no-overlays" in proc.stdout and out.exists()
