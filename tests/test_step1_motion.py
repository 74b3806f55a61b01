"""Step 1 on realistic podcast styles where something always moves, against PySceneDetect.

Each family (tests/step1_media.py) draws random variants: photo-like pictures, Ken Burns moves in
the source, presenter boxes, audiograms, blinking logos, dissolves and fades of 0.2-2 s (also
between moving pictures), heavy compression, and slideshows made by ffmpeg alone (zoompan: sharp
drawings magnified from a crop at whole pixels, so their edges jitter). Step 1 must find every
true cut (a hard cut's first frame, a dissolve's middle, a fade's darkest frame; within one frame)
and nothing else, and every true cut that PySceneDetect's ContentDetector (`detect-content -t 30`,
what the original script used) finds.
"""

from __future__ import annotations

import contextlib
import io
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scenedetect import ContentDetector, detect
from step1_media import XFADE_KINDS, Clip, encode, encode_episode, episode, photo, with_object

from podcast_img2vid.media import probe, run_ffmpeg
from podcast_img2vid.step1.extract import run_step1
from podcast_img2vid.workdir import layout


def step1_cuts(video: Path, work: Path, threshold: float = 30.0) -> list[int]:
    with contextlib.redirect_stdout(io.StringIO()):
        scenes = run_step1(video, layout.WorkDir(work), threshold=threshold).scenes
    return [s.start_frame for s in scenes[1:]]


def content_detector_cuts(video: Path) -> list[int]:
    return [start.frame_num for start, _ in detect(str(video), ContentDetector(threshold=30))[1:]]


def near(cut: int, cuts: list[int]) -> bool:
    return any(abs(cut - c) <= 1 for c in cuts)


VARIANTS = [(family, seed) for family in ("kenburns", "presenter", "audiogram", "logo", "dissolve", "fade",
                                          "combined") for seed in (1, 2)]
VARIANTS += [("kenburns_transitions", seed) for seed in (1, 2, 5, 9)]
VARIANTS += [("zoompan", seed) for seed in (1, 2, 4, 6)]
"""Ken Burns sources with transitions. Seeds 1 and 9 need the tracker to start again in a fade;
seed 5 has a zoom fast enough to outrun the tracker's anchor, seed 9 leaves the anchor on a frame
late in a fade (both need motion measured again from the previous frame). On 7211695 zoompan
seed 1 got a false cut from jittering edges, and seeds 2, 4 and 6 lost a dissolve or placed it
10 frames late: the jittering outlines looked animated and, with the margin around them, left a
third of the picture to judge."""


@pytest.mark.parametrize(("family", "seed"), VARIANTS, ids=[f"{f}-{s}" for f, s in VARIANTS])
def test_family_cuts_never_worse_than_content_detector(family, seed, tmp_path):
    ep = episode(family, seed)
    video = encode_episode(ep, tmp_path / "episode.mp4")
    found = step1_cuts(video, tmp_path / "work")
    anchor = content_detector_cuts(video)
    described = f"{family} seed {seed}: truth {ep.cuts}, step 1 {found}, ContentDetector {anchor}"
    assert all(near(cut, found) for cut in ep.cuts), described
    assert all(near(cut, ep.cuts) for cut in found), described
    assert all(near(cut, found) for cut in ep.cuts if near(cut, anchor)), described


@pytest.mark.parametrize("seed", [9, 10, 11, 14])
def test_zoompan_slideshows_never_worse_than_content_detector(seed, tmp_path):
    """Dissolves between zoompan'd drawings are the family's weak spot: here one dissolve comes
    3 frames late (seed 9), one 2 frames late and one is missed (seed 14); ContentDetector misses
    all three. Nothing ContentDetector finds may be lost, and no cut may be invented: each one lies
    inside a true transition."""
    ep = episode("zoompan", seed)
    video = encode_episode(ep, tmp_path / "episode.mp4")
    found = step1_cuts(video, tmp_path / "work")
    anchor = content_detector_cuts(video)
    described = f"zoompan seed {seed}: truth {ep.cuts}, step 1 {found}, ContentDetector {anchor}"
    spans = [(cut, t.frames // 2 + 1) for cut, t in zip(ep.cuts, ep.transitions, strict=True)]
    assert all(any(abs(cut - c) <= reach for c, reach in spans) for cut in found), described
    assert all(near(cut, found) for cut in ep.cuts if near(cut, anchor)), described


TRANSITIONS = [("short_scenes", seed) for seed in (1, 2, 3)]
TRANSITIONS += [(family, seed) for family in ("dark_speckled", "long_dissolve", "grainy_360p")
                for seed in (1, 2)]
"""Issue 20's families (still or moving by the seed, 24-60 fps): short scenes of 1-2 s between
wipes, slides and dissolves of 0.3-1.5 s (before 2 fixes every short scene was merged into its
neighbour, and wipes and slides were lost: a slide was followed as a pan, a wipe's blocks never agree
on one frame); dark speckled pictures dissolving into bright ones under grain; long dissolves;
grainy 360p at CRF 36-40."""


@pytest.mark.parametrize(("family", "seed"), TRANSITIONS, ids=[f"{f}-{s}" for f, s in TRANSITIONS])
def test_no_picture_lost_around_transitions(family, seed, tmp_path):
    """Every true cut, within a frame (anywhere inside a wipe or a slide, where both pictures share
    the screen), nothing else, each picture in its own file, and never worse than ContentDetector.
    A dissolve between moving pictures at 50-60 fps must lie inside the dissolve: it comes 1-3 frames
    late (short_scenes seeds 2 and 3, long_dissolve seed 2), 4-6 under grain at CRF 39 (grainy_360p
    seed 2), as it did before issue 20's changes; ContentDetector misses all of them."""
    ep = episode(family, seed)
    video = encode_episode(ep, tmp_path / "episode.mp4")
    with contextlib.redirect_stdout(io.StringIO()):
        scenes = run_step1(video, layout.WorkDir(tmp_path / "work")).scenes
    found = [s.start_frame for s in scenes[1:]]
    anchor = content_detector_cuts(video)
    weak = ep.fps >= 50 and ep.scenes[0].zoom != (1.0, 1.0)  # the known weak spot, see above
    reach = [t.frames // 2 if t.kind in XFADE_KINDS or (weak and t.kind == "dissolve") else 1
             for t in ep.transitions]
    described = (f"{family} seed {seed} {[t.kind + str(t.frames) for t in ep.transitions]} at {ep.fps} fps: "
                 f"truth {ep.cuts}, step 1 {found}, ContentDetector {anchor}")
    assert len(found) == len(ep.cuts), described
    assert all(abs(f - c) <= r for f, c, r in zip(found, ep.cuts, reach, strict=True)), described
    assert all(near(cut, found) for cut in ep.cuts if near(cut, anchor)), described
    assert len({s.image for s in scenes}) == len(scenes), described  # different pictures, different files


LARGE = [("kenburns_transitions", 4, (960, 540), 50, (1.5, 2.5)),
         ("kenburns_transitions", 5, (960, 540), 50, (1.5, 2.5)),
         ("combined", 2, (960, 540), 60, (3.0, 5.0))]
LARGE += [("zoompan", seed, (1280, 720), 30, (8.0, 12.0)) for seed in (3, 4, 6)]
"""Moving pictures at sizes and rates where fine texture never stands still once aligned: fades
between them must still be decided in time (before the next transition), and 3-5 s of zoom under
an audiogram and a presenter box must not add up to a change; nor 8-12 s of a zoompan'd drawing,
whose edges jitter on the analysed pictures (7211695 cut at 638 and 680, at 928, and at 434)."""


@pytest.mark.parametrize(("family", "seed", "size", "fps", "seconds"), LARGE,
                         ids=[f"{f}-{s}-{z[1]}p{r}" for f, s, z, r, _ in LARGE])
def test_moving_pictures_at_high_resolution_and_rate(family, seed, size, fps, seconds, tmp_path):
    ep = episode(family, seed, size=size, fps=fps, seconds=seconds)
    video = encode_episode(ep, tmp_path / "episode.mp4")
    found = step1_cuts(video, tmp_path / "work")
    anchor = content_detector_cuts(video)
    described = (f"{[t.kind + str(t.frames) for t in ep.transitions]}: truth {ep.cuts}, step 1 {found}, "
                 f"ContentDetector {anchor}")
    assert len(found) == len(ep.cuts) and all(near(cut, found) for cut in ep.cuts), described
    assert all(near(cut, found) for cut in ep.cuts if near(cut, anchor)), described


SWEPT = [("combined", 2601, (640, 360), 25), ("presenter", 1102, (960, 540), 30),
         ("kenburns_transitions", 4703, (1280, 720), 50), ("presenter", 10103, (1280, 720), 30)]
"""Videos of the accuracy sweeps (`benchmarks/accuracy_step1.py`: 5 scenes of 2.5-5 s) that once
went wrong. Combined 2601: the presenter's box ends on a block boundary beside a zooming picture,
and aligning the picture moved the box's edge into the blocks beside it (a false cut at 20 on
121842b). Presenter 1102: at the very end the presenter leans into blocks the activity mask has
not seen move, with no later frames to show it (a false cut at 488 while the first fix was made).
Ken Burns 4703: a white fade between moving pictures was decided while still fading in, and the
rest of the fade made a second cut (551 on 2585bf9); its last dissolve (74 frames at 50 fps) comes
6 frames late, which ContentDetector misses altogether. Presenter 10103: a slow presenter sways
across the box in more time than the activity window sees; 9 blocks inside the box changed at
once and looked like an edit beside it (182 on 3e194e5)."""


@pytest.mark.parametrize(("family", "seed", "size", "fps"), SWEPT, ids=[f"{f}-{s}" for f, s, _, _ in SWEPT])
def test_swept_videos_that_once_went_wrong(family, seed, size, fps, tmp_path):
    ep = episode(family, seed, size=size, fps=fps, scenes=5, seconds=(2.5, 5.0))
    video = encode_episode(ep, tmp_path / "episode.mp4")
    found = step1_cuts(video, tmp_path / "work")
    anchor = content_detector_cuts(video)
    described = f"{family} seed {seed}: truth {ep.cuts}, step 1 {found}, ContentDetector {anchor}"
    spans = [(cut, t.frames // 2 + 1) for cut, t in zip(ep.cuts, ep.transitions, strict=True)]
    assert len(found) == len(ep.cuts), described
    inside = all(any(abs(cut - c) <= reach for c, reach in spans) for cut in found)  # each in a transition
    assert inside, described
    assert all(near(cut, found) for cut in ep.cuts if near(cut, anchor)), described


@pytest.mark.parametrize("seed", [10300])
def test_a_dissolve_decided_while_the_picture_never_stands_still_cuts_on_its_middle(seed, tmp_path):
    """Between pictures that zoom the whole time, a change pending since before a long dissolve is
    decided when its first frame is about to be forgotten, which may fall inside the dissolve: the
    frame then on screen was taken for the new picture (seed 10300, 1280x720 25 fps: the last
    dissolve cut at 534, 7 frames early, and its rest once more at 546). It waits for the end."""
    ep = episode("long_dissolve", seed, size=(1280, 720), fps=25, scenes=5, seconds=(2.5, 5.0))
    found = step1_cuts(encode_episode(ep, tmp_path / "episode.mp4"), tmp_path / "work")
    assert len(found) == len(ep.cuts) and all(abs(f - c) <= 1 for f, c in zip(found, ep.cuts, strict=True)), (
        f"{[t.kind + str(t.frames) for t in ep.transitions]}: truth {ep.cuts}, step 1 {found}")


FIFTY_FPS = [("fade", 21), ("fade", 22), ("dissolve", 25)]


@pytest.mark.parametrize(("family", "seed"), FIFTY_FPS, ids=[f"{f}-{s}" for f, s in FIFTY_FPS])
def test_transitions_at_50_fps_cut_on_their_middle(family, seed, tmp_path):
    """At 50 fps the detector sees every fifth frame; the cut goes to the frame in between that
    is a fade's darkest (brightest), judged against the pictures on both sides, not the mid-fade
    frames next to it; or the middle of a short dissolve that looks like a hard cut between two
    analysed frames (placed against the settled picture, not the mid-dissolve analysed frame)."""
    ep = episode(family, seed, size=(320, 180), fps=50, scenes=4, seconds=(1.0, 1.5))
    found = step1_cuts(encode_episode(ep, tmp_path / "episode.mp4"), tmp_path / "work")
    assert len(found) == len(ep.cuts) and all(abs(f - c) <= 1 for f, c in zip(found, ep.cuts, strict=True)), (
        f"{[t.kind + str(t.frames) for t in ep.transitions]}: truth {ep.cuts}, step 1 {found}")


@pytest.mark.parametrize(("family", "seed"), [("combined", 3), ("dissolve", 4), ("fade", 5),
                                              ("kenburns_transitions", 4), ("zoompan", 3)])
def test_lower_threshold_never_loses_a_true_cut(family, seed, tmp_path):
    ep = episode(family, seed)
    video = encode_episode(ep, tmp_path / "episode.mp4")
    found_before: set[int] = set()
    for threshold in (60, 30, 20, 10, 5):
        found = step1_cuts(video, tmp_path / f"t{threshold}", threshold)
        true_found = {cut for cut in ep.cuts if near(cut, found)}
        assert found_before <= true_found, f"-t {threshold} lost {found_before - true_found} ({found})"
        found_before = true_found
    assert found_before == set(ep.cuts)


def test_dedupe_never_merges_similar_pictures(tmp_path):
    """A picture, the same with a 1 % object, the same 10 levels brighter: three pictures; only
    the exact same picture coming back reuses its file."""
    a = photo(81, (320, 180))
    edit = with_object(a, 0.01, (90, 140, 60))
    brighter = np.clip(a.astype(int) + 16, 0, 255).astype(np.uint8)
    video = encode(Clip([(a, 30), (edit, 30), (a, 30), (brighter, 30), (edit, 30)]), tmp_path / "similar.mp4")
    with contextlib.redirect_stdout(io.StringIO()):
        scenes = run_step1(video, layout.WorkDir(tmp_path / "work")).scenes
    assert [s.start_frame for s in scenes[1:]] == [30, 60, 90, 120]
    assert [s.image for s in scenes] == [layout.image_name(n) for n in (1, 2, 1, 3, 2)]


def test_variable_frame_rate_cuts_on_the_sources_own_frames(tmp_path):
    """Frame intervals alternate 1/30 and 2/30 s: each cut is the exact frame and timestamp."""
    pictures = [photo(90 + i, (320, 180)) for i in range(7)]
    cfr = encode(Clip([(p, 20) for p in pictures]), tmp_path / "cfr.mp4")
    vfr = tmp_path / "vfr.mkv"
    run_ffmpeg(["-i", str(cfr), "-vf", "setpts='(N+floor(N/2))/30/TB'", "-fps_mode", "vfr",
                "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", str(vfr)])
    with contextlib.redirect_stdout(io.StringIO()):
        scenes = run_step1(vfr, layout.WorkDir(tmp_path / "work")).scenes
    expected = [20 * k for k in range(1, 7)]
    assert [s.start_frame for s in scenes[1:]] == expected
    assert [s.start for s in scenes[1:]] == pytest.approx([(k + k // 2) / 30 for k in expected], abs=1e-3)
    assert scenes[-1].end_frame == 140
    assert scenes[-1].end == pytest.approx(probe(vfr).duration, abs=1e-6)


def test_anamorphic_source_gives_square_pixel_pictures(tmp_path):
    """360x288 stored with 64:45 pixels (a 16:9 PAL-style source) shows as 512x288."""
    shown = photo(95, (512, 288))
    stored = np.asarray(Image.fromarray(shown).resize((360, 288), Image.BICUBIC))
    plain = encode(Clip([(stored, 30), (with_object(stored, 0.05), 30)]), tmp_path / "plain.mp4")
    video = tmp_path / "anamorphic.mp4"
    run_ffmpeg(["-i", str(plain), "-vf", "setsar=64/45", "-c:v", "libx264", "-crf", "16", str(video)])
    assert probe(video).sample_aspect == Fraction(64, 45)
    with contextlib.redirect_stdout(io.StringIO()):
        scenes = run_step1(video, layout.WorkDir(tmp_path / "work")).scenes
    saved = np.asarray(Image.open(tmp_path / "work" / layout.EXTRACTED_DIR / scenes[0].image).convert("RGB"))
    assert saved.shape == (288, 512, 3)
    assert np.abs(saved.astype(int) - shown).mean() < 8
    sheet = Image.open(tmp_path / "work" / layout.CONTACT_SHEET)
    assert sheet.height < 2 * (256 * 288 // 512 + 60)  # thumbnails at 16:9, not 5:4


def test_progress_bar_ends_at_the_total_and_shows_no_partial_count(tmp_path, capsys):
    video = encode(Clip([(photo(97, (320, 180)), 37), (photo(98, (320, 180)), 40)]), tmp_path / "v.mp4")
    run_step1(video, layout.WorkDir(tmp_path / "work"))
    err = capsys.readouterr().err
    assert "77/77" in err and "Detected" not in err
