"""Step 3's live overlays end to end with real encodes: the source's overlay pixels over Ken Burns clips.

The sources are overlay_media's families; the work folder is what step 1 writes for them (clean
pictures, timestamps.csv, masks and overlays.json), made from their ground truth, so these tests
judge step 3 alone. Clips come from the kenburns provider (CPU), as in the other step-3 tests.
"""

from __future__ import annotations

import contextlib
import io
import math
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from overlay_media import OVERLAY_FAMILIES, SIZES, OverlayEpisode, encode, overlay_episode
from PIL import Image
from step3_media import FRAMES_PER_CLIP, code, identify_frame, make_clip

from podcast_img2vid.errors import UserError
from podcast_img2vid.media import read_frames, run_ffmpeg
from podcast_img2vid.step1.extract import run_step1
from podcast_img2vid.step2.providers.kenburns import KenBurnsProvider, KenBurnsSettings
from podcast_img2vid.step2.run import run_step2
from podcast_img2vid.step3.composite import TIME_TOLERANCE, SourceFrames
from podcast_img2vid.step3.run import run_step3, summary
from podcast_img2vid.workdir import layout
from podcast_img2vid.workdir.overlays import Overlay, OverlaySet, read_overlays, write_overlays

REPO = Path(__file__).resolve().parents[1]
MAX_LEVELS = 25
"""Inside an overlay's pixels the output may differ from the source by this much on average..."""
MIN_SHARE = 0.95
"""...in at least this share of the frames."""
MASK_MARGIN = 3
"""Pixels step 1's masks leave around where an overlay showed."""
RING = (6, 12)
"""The picture around a subtitle line: this many pixels from its letters, outline or box (nearer,
the encoder's ringing around the letters is in both the output and the source)."""


@dataclass
class Case:
    episode: OverlayEpisode
    source: Path
    work: layout.WorkDir
    masks: np.ndarray
    """bool (h, w): every mask together."""


def overlay_colours(ep: OverlayEpisode, kind: str) -> tuple[tuple[int, int, int], ...]:
    """The overlay's commonest opaque colours (text, outline, box), as step 1 records them."""
    seen = [ep.frame(f)[ep.overlay_alpha(f, (kind,)) > 0.95] for f in range(0, ep.frame_count, 7)]
    pixels = np.concatenate(seen) // 16 * 16 + 8
    values, counts = np.unique(pixels, axis=0, return_counts=True)
    return tuple(tuple(int(v) for v in values[i]) for i in np.argsort(-counts)[:2])


def with_sound(ep: OverlayEpisode, root: Path) -> Path:
    """The episode encoded, with a sound track as long as its picture."""
    root.mkdir(parents=True, exist_ok=True)
    silent = encode(ep, root / "silent.mp4")
    source = root / "source.mp4"
    seconds = f"{float(Fraction(ep.frame_count) / Fraction(ep.fps)):.6f}"
    tone = "sine=frequency=440:sample_rate=44100"
    run_ffmpeg(["-i", str(silent), "-f", "lavfi", "-t", seconds, "-i", tone, "-c:v", "copy", "-c:a", "aac",
                str(source)])
    return source


def step1_outputs(ep: OverlayEpisode, root: Path) -> Case:
    """The episode encoded with a sound track, and what step 1 writes for it, from its truth."""
    source = with_sound(ep, root)
    work = layout.WorkDir(root)
    work.images_dir.mkdir()
    bounds = [0, *ep.cuts, ep.frame_count]
    scenes = []
    for k, (first, end) in enumerate(zip(bounds, bounds[1:], strict=False)):
        image = layout.image_name(k + 1)
        Image.fromarray(ep.scene_picture(k)).save(work.images_dir / image)
        start_s, end_s = (float(Fraction(f) / Fraction(ep.fps)) for f in (first, end))
        scenes.append(layout.Scene(k + 1, image, start_s, end_s, first, end))
    layout.write_scenes(work.csv_path, scenes)
    overlays, union = [], np.zeros(ep.size[::-1], bool)
    for kind in ep.kinds:
        region = grown(ep.region(kind, every=2), MASK_MARGIN)
        union |= region
        moves = ep.family == "subtitles_kenburns" and kind == "subtitles"
        overlays.append(Overlay(kind, region.astype(np.uint8) * 255, overlay_colours(ep, kind), moves))
    write_overlays(work.images_dir, OverlaySet(*ep.size, tuple(overlays)))
    return Case(ep, source, work, union)


def grown(where: np.ndarray, pixels: int) -> np.ndarray:
    """`where` grown by `pixels` in every direction."""
    return cv2.dilate(where.astype(np.uint8), np.ones((2 * pixels + 1, 2 * pixels + 1), np.uint8)) > 0


def levels(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    """Mean |a - b| (grey levels, over R, G, B) at the pixels `where`."""
    return float(np.abs(a[where].astype(np.int16) - b[where]).mean())


@pytest.mark.parametrize("family", OVERLAY_FAMILIES)
def test_overlays_stay_live_over_the_animated_clips(tmp_path, family):
    seed = 300 + OVERLAY_FAMILIES.index(family)
    size = SIZES[OVERLAY_FAMILIES.index(family) % len(SIZES)]
    case = step1_outputs(overlay_episode(family, seed, size, scenes=3, seconds=(2.0, 3.0)), tmp_path)
    ep = case.episode
    run_step2(case.work, KenBurnsProvider(KenBurnsSettings(float(ep.fps))), seed=seed)
    live, plain = tmp_path / "live.mp4", tmp_path / "plain.mp4"
    result = run_step3(case.source, case.work, live)
    off = run_step3(case.source, case.work, plain, overlays=False)

    assert list(result.live_overlays) == ep.kinds and off.live_overlays == () and off.overlays_off
    assert f"live overlays from the source: {', '.join(ep.kinds)}" in summary(result)
    assert "--no-overlays" in summary(off)
    assert result.sync_error_ms <= 10 and abs(result.duration - off.duration) < 1e-6
    source, out, clip = read_frames(case.source), read_frames(live), read_frames(plain)
    assert len(out) == len(source) == len(clip) == ep.frame_count

    # Inside each kind's pixels, frame by frame: the source's, at the same time.
    for kind in ep.kinds:
        truth = [ep.overlay_mask(f, (kind,)) for f in range(ep.frame_count)]
        errors = np.array([levels(o, s, t) for o, s, t in zip(out, source, truth, strict=True) if t.any()])
        print(f"{family} {ep.size[0]}x{ep.size[1]} @ {float(ep.fps):.2f}: {kind}: "
              f"{np.mean(errors <= MAX_LEVELS):.1%} of {len(errors)} frames within {MAX_LEVELS} levels "
              f"(mean {errors.mean():.1f}, worst {errors.max():.1f})")
        assert np.mean(errors <= MAX_LEVELS) >= MIN_SHARE, (kind, sorted(errors)[-10:])
    # ... and a new subtitle shows from its first frame (not a frame late).
    for cue in ep.cues[1:]:
        f = cue.start
        changed = ep.overlay_mask(f, ("subtitles",)) ^ ep.overlay_mask(f - 1, ("subtitles",))
        if changed.sum() > 50:
            assert levels(out[f], source[f], changed) < levels(out[f], source[f - 1], changed)
    # The picture, around the masks too, is the animated clip (up to the encoder's noise: the two
    # outputs are encoded apart), which differs from the source.
    picture = ~grown(case.masks, 4)
    assert max(levels(o, c, picture) for o, c in zip(out, clip, strict=True)) < 3
    assert np.mean([levels(c, s, picture) > 8 for c, s in zip(clip, source, strict=True)]) > 0.5
    # Inside the masks, away from the overlay's pixels, it is the clip too: no rectangle of source.
    away = [case.masks & ~grown(ep.overlay_mask(f), 3) for f in range(ep.frame_count)]
    between = [levels(o, c, a) for o, c, a in zip(out, clip, away, strict=True) if a.sum() > 100]
    assert not between or np.median(between) < 4


def test_no_overlays_gives_the_output_of_a_folder_without_overlays(tmp_path):
    ep = overlay_episode("subtitles_cjk", 303, (320, 180), fps=25, scenes=2, seconds=(1.0, 1.5))
    case = step1_outputs(ep, tmp_path / "case")
    run_step2(case.work, KenBurnsProvider(KenBurnsSettings(25)), seed=3)
    run_step3(case.source, case.work, tmp_path / "off.mp4", overlays=False)
    (case.work.images_dir / layout.OVERLAYS_JSON).unlink()
    before = run_step3(case.source, case.work, tmp_path / "before.mp4")
    assert before.live_overlays == () and not before.overlays_off
    off, old = read_frames(tmp_path / "off.mp4"), read_frames(tmp_path / "before.mp4")
    assert len(off) == len(old) and all(np.array_equal(a, b) for a, b in zip(off, old, strict=True))


@pytest.mark.parametrize("damage", ["wrong size", "missing"])
def test_a_bad_mask_is_one_clear_line_before_any_work(tmp_path, damage):
    ep = overlay_episode("combined", 304, (320, 180), fps=25, scenes=2, seconds=(1.0, 1.5))
    case = step1_outputs(ep, tmp_path / "case")
    run_step2(case.work, KenBurnsProvider(KenBurnsSettings(25)), seed=4)
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


@pytest.mark.parametrize("fps", [25, Fraction(30000, 1001)], ids=["25", "29.97"])
def test_the_source_frame_on_screen_at_each_output_time(tmp_path, fps):
    """The source frame taken for an output frame is the one on screen at its time (give or take
    TIME_TOLERANCE), on any grid."""
    path = make_clip(tmp_path / "source.mp4", 0, FRAMES_PER_CLIP, fps)
    with SourceFrames(path, 320, 180) as frames:
        for j in range(12):  # a 30 fps output grid over a 25 or 29.97 fps source, and past its end
            at = Fraction(j, 30) + Fraction(TIME_TOLERANCE)
            shown = min(FRAMES_PER_CLIP - 1, math.floor(at * fps))
            assert identify_frame(frames.at(j / 30)) == code(0, shown)


KENBURNS_RING = pytest.mark.xfail(strict=True, reason=(
    "over a moving picture the subtitles are keyed by colour alone, and picture pixels near their "
    "colours come from the source: 10.5 % of the pixels around the lines (the bar is 10 %)"))


def source_like_around_subtitles(ep: OverlayEpisode, out: list[np.ndarray], clip: list[np.ndarray],
                                 source: list[np.ndarray]) -> np.ndarray:
    """Per frame with subtitles: the share of the picture pixels around its lines (RING pixels from
    the letters, outline or box, away from other overlays) where the output is nearer the source
    than the animated clip, of those where the two differ clearly (a rectangle of frozen source
    picture around the lines gives a large share)."""
    shares = []
    for f in range(ep.frame_count):
        letters = ep.overlay_mask(f, ("subtitles",))
        others = ep.overlay_mask(f, tuple(k for k in ep.kinds if k != "subtitles"))
        ring = grown(letters, RING[1]) & ~grown(letters, RING[0]) & ~grown(others, 4)
        o, c, s = (frames[f][ring].astype(np.int16) for frames in (out, clip, source))
        telling = np.abs(c - s).max(axis=1) > 30
        if np.count_nonzero(telling) >= 50:
            nearer = np.abs(o - s).max(axis=1) < np.abs(o - c).max(axis=1)
            shares.append(float(nearer[telling].mean()))
    return np.array(shares)


def steps_1_to_3(ep: OverlayEpisode, root: Path, seed: int) -> tuple[list[np.ndarray], ...]:
    """The whole way a user goes, checked: step 1 finds the cuts and the overlays itself, step 2
    animates its clean pictures, step 3 puts the source's overlays back over them, inside each
    overlay's pixels the source's (MAX_LEVELS in MIN_SHARE of the frames). Returns the source's,
    the output's and the clips' (step 3 without overlays) frames."""
    source = with_sound(ep, root)
    work = layout.WorkDir(root / "work")
    with contextlib.redirect_stderr(io.StringIO()):
        found = run_step1(source, work)
    assert [s.start_frame for s in found.scenes[1:]] == ep.cuts
    recorded = read_overlays(work.images_dir, ep.size)
    assert recorded is not None and {o.kind for o in recorded.overlays} == set(ep.kinds)

    run_step2(work, KenBurnsProvider(KenBurnsSettings(float(ep.fps))), seed=seed)
    output, plain = root / "out.mp4", root / "plain.mp4"
    result = run_step3(source, work, output)
    run_step3(source, work, plain, overlays=False)
    assert set(result.live_overlays) == set(ep.kinds) and result.sync_error_ms <= 10
    src, out, clip = read_frames(source), read_frames(output), read_frames(plain)
    assert len(out) == len(src) == ep.frame_count
    for kind in ep.kinds:
        truth = [ep.overlay_mask(f, (kind,)) for f in range(ep.frame_count)]
        errors = np.array([levels(o, s, t) for o, s, t in zip(out, src, truth, strict=True) if t.any()])
        assert np.mean(errors <= MAX_LEVELS) >= MIN_SHARE, (kind, sorted(errors)[-10:])
    return src, out, clip


@pytest.mark.parametrize(("family", "seed", "size"), [("subtitles_cjk", 3301, (480, 270)),
                                                      ("combined", 3302, (640, 360)),
                                                      ("subtitles_latin", 3403, (640, 360)),
                                                      pytest.param("subtitles_kenburns", 3405, (640, 360),
                                                                   marks=KENBURNS_RING)])
def test_overlays_step1_finds_come_back_live_after_steps_2_and_3(tmp_path, family, seed, size):
    """The whole way a user goes: step 1 finds the cuts and the overlays itself, step 2 animates
    its clean pictures, step 3 puts the source's overlays back over them: the overlays' pixels
    from the source, the picture around the subtitle lines the animated clip (no rectangle of
    frozen source picture)."""
    ep = overlay_episode(family, seed, size, scenes=3, seconds=(2.0, 3.0))
    src, out, clip = steps_1_to_3(ep, tmp_path, seed)
    picture = ~grown(np.any([ep.overlay_mask(f) for f in range(0, ep.frame_count, 3)], axis=0), 8)
    assert np.mean([levels(o, s, picture) > 8 for o, s in zip(out, src, strict=True)]) > 0.5
    shares = source_like_around_subtitles(ep, out, clip, src)
    print(f"{family} {seed}: around the subtitle lines, source-like in {shares.mean():.1%} of the pixels "
          f"(median frame {np.median(shares):.1%}, {len(shares)} frames)")
    assert len(shares) > ep.frame_count / 3
    assert shares.mean() <= 0.1 and np.median(shares) <= 0.05


FRINGE = (1, 4)
"""The picture just outside an animated area's outline: this many pixels from it (nearer, the
encoder's ringing around the box is in both the output and the source)."""
FRINGE_SHARE = 0.08
"""At most this share of those pixels may come from the source (where the clip and the source
differ clearly); with the clean pictures inpainted under the whole mask, 20-41 %."""


@pytest.mark.parametrize(("family", "seed", "size"), [("presenter", 3311, (640, 360)),
                                                      ("presenter", 3312, (854, 480))])
def test_no_fringe_of_frozen_source_around_a_presenter_box(tmp_path, family, seed, size):
    """Steps 1-3 as a user runs them: around a presenter box the picture is the animated clip
    right up to the box's outline; only the box's own pixels come from the source, not a ragged
    fringe of frozen source picture around it."""
    ep = overlay_episode(family, seed, size, scenes=3, seconds=(2.0, 3.0))
    src, out, clip = steps_1_to_3(ep, tmp_path, seed)
    others = tuple(k for k in ep.kinds if k != "animated")
    shares = []
    for f in range(ep.frame_count):
        covered = ep.overlay_mask(f, ("animated",))
        ring = grown(covered, FRINGE[1]) & ~grown(covered, FRINGE[0])
        if others:
            ring &= ~grown(ep.overlay_mask(f, others), 4)
        o, c, s = (frames[f][ring].astype(np.int16) for frames in (out, clip, src))
        telling = np.abs(c - s).max(axis=1) > 30
        if np.count_nonzero(telling) >= 50:
            nearer = np.abs(o - s).max(axis=1) < np.abs(o - c).max(axis=1)
            shares.append(float(nearer[telling].mean()))
    print(f"{family} {seed}: around the animated area, source-like in {np.mean(shares):.1%} of the pixels "
          f"({len(shares)} frames)")
    assert len(shares) > ep.frame_count / 3
    assert np.mean(shares) <= FRINGE_SHARE
