"""Which frame becomes a scene's picture: a sharp one from the middle of the scene's calmest part;
when the picture never stands still (a zoom), one near the middle of the scene; never a frame of a
transition. The chooser alone (`CalmestPart`, `sharpest`), then step 1 on generated videos with
seeded random pictures, moves and transitions, the saved picture compared with the frames it could be."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image
from scenedetect import FrameTimecode
from step1_media import Episode, Scene, Transition, encode_episode, episode, photo

from podcast_img2vid.media import write_video
from podcast_img2vid.step1 import scan
from podcast_img2vid.step1.detect import DEFAULT_PARAMETERS, CalmestPart, Candidate
from podcast_img2vid.step1.extract import run_step1
from podcast_img2vid.step1.scan import sharpest
from podcast_img2vid.step1.scan import sharpness as real_sharpness
from podcast_img2vid.workdir import layout

# The chooser alone: frames are numbers, "still" or not, every candidate settled.


def candidate(index: int, full: object = None) -> Candidate:
    blocks, valid = np.zeros((3, 1, 1), np.float32), np.ones((1, 1), bool)
    return Candidate(index, FrameTimecode(index, 10.0), blocks, valid, full)


def feed(chooser: CalmestPart, frames: range, still, late: int = 0) -> None:
    """Frames `frames` to `chooser`; `still(i)` says which are still; cuts may come `late` frames late."""
    for i in frames:
        chooser.add(candidate(i), still(i), final_before=i - late)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_picture_is_the_middle_of_the_longest_still_part(seed):
    rng = np.random.default_rng(seed)
    bounds = np.sort(rng.choice(np.arange(20, 2000), 6, replace=False))
    parts = list(zip(bounds[::2], bounds[1::2], strict=True))  # three still parts, moving between
    end = int(bounds[-1]) + int(rng.integers(10, 300))
    chooser = CalmestPart(min_still=10)
    feed(chooser, range(end), lambda i: any(a <= i < b for a, b in parts), late=int(rng.integers(0, 60)))
    a, b = max(parts, key=lambda p: p[1] - p[0])
    chosen = chooser.finish()
    assert chosen and all(a <= c.index < b for c in chosen)
    assert abs(chosen[0].index - (a + b - 1) / 2) <= (b - a) / 12 + 1


def test_picture_of_a_scene_that_never_stands_still_is_its_middle():
    chooser = CalmestPart(min_still=10)
    still_now_and_then = [*range(100, 105), *range(700, 708)]  # too short to count
    feed(chooser, range(1000), lambda i: i in still_now_and_then)
    chosen = chooser.finish()
    assert chosen and all(abs(c.index - 499.5) <= 1000 / 8 for c in chosen)
    assert abs(chosen[0].index - 499.5) <= 1000 / 12


def test_a_late_cut_splits_the_scenes_and_memory_stays_small():
    """Cuts reported 40 frames after they happen; 50,000 frames of still parts of random lengths."""
    rng = np.random.default_rng(5)
    switches = set(np.cumsum(rng.integers(1, 40, 3000)).tolist())
    state = {"still": True}

    def still(i: int) -> bool:
        if i in switches:
            state["still"] = not state["still"]
        return state["still"]

    chooser = CalmestPart(min_still=10)
    cuts, kept = [12_000, 30_000], 0
    for i in range(50_000):
        chooser.add(candidate(i), still(i), final_before=i - 40)
        for cut in cuts:
            if i == cut + 40:
                chosen = chooser.cut(cut)
                assert chosen and all(c.index < cut for c in chosen)
        held = {c.index for run in [chooser.scene, *chooser.still_runs] for c in run.samples}
        kept = max(kept, len(held))
    assert all(c.index >= 30_000 for c in chooser.finish())
    # the scene, the longest still part and those of the last 40 frames
    assert kept <= 2 * DEFAULT_PARAMETERS.run_samples * 8


@pytest.mark.parametrize("short", [1, 3, 12, 40])
def test_a_short_moving_scene_after_a_long_one_gets_its_own_middle(short):
    """The long scene keeps every 512th frame or so, but every frame a late cut may come before."""
    chooser = CalmestPart(min_still=10)
    feed(chooser, range(6000 + 30), lambda i: False, late=30)
    assert {c.index for c in chooser.cut(6000)} <= set(range(2625, 3376))
    feed(chooser, range(6030, 6000 + short + 30), lambda i: False, late=30)
    ending = chooser.cut(6000 + short)
    assert ending and all(abs(c.index - (6000 + (short - 1) / 2)) <= max(0.5, short / 8) for c in ending)


def test_sharpest_prefers_the_sharp_frame_and_the_middle_on_a_tie():
    sharp = photo(3, (320, 180))
    blurred = cv2.GaussianBlur(sharp, (0, 0), 2.0)

    def frame(rgb: np.ndarray) -> av.VideoFrame:
        return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")

    blurry, clear = frame(blurred), frame(sharp)
    choices = [candidate(5, full=blurry), candidate(6, full=clear), candidate(4, full=blurry)]
    assert sharpest(choices).index == 6
    assert sharpest([candidate(5, full=frame(sharp)), candidate(6, full=frame(sharp))]).index == 5


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sharpest_measures_each_distinct_frame_once_and_chooses_as_measuring_all(seed, monkeypatch):
    """Candidates that decode to the same pixels share one measure: the choice is the one measuring
    every candidate gives (ties: the first), and the Laplacian runs once per distinct frame."""
    rng = np.random.default_rng(seed)
    pictures = [cv2.GaussianBlur(photo(seed, (320, 180)), (0, 0), float(b)) for b in rng.uniform(0.3, 3, 4)]
    frames = [av.VideoFrame.from_ndarray(p, format="rgb24").reformat(format="yuv420p") for p in pictures]
    choices = [candidate(i, full=frames[int(rng.integers(len(frames)))]) for i in range(12)]
    def laplacian_variance(c: Candidate) -> float:
        return float(cv2.Laplacian(c.full.to_ndarray(format="gray"), cv2.CV_32F).var())

    by_all = max(choices, key=laplacian_variance)
    measured = []
    monkeypatch.setattr(scan, "sharpness", lambda luma: measured.append(luma) or real_sharpness(luma))
    assert sharpest(choices) is by_all
    assert len(measured) == len({id(c.full) for c in choices})


# Step 1 end to end: which frame of the scene the saved picture is.


def saved_pictures(video: Path, work: Path) -> list[np.ndarray]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        scenes = run_step1(video, layout.WorkDir(work), dedupe=False).scenes
    folder = layout.WorkDir(work).images_dir
    return [np.asarray(Image.open(folder / s.image).convert("RGB")) for s in scenes]


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def best_match(saved: np.ndarray, views: list[np.ndarray]) -> tuple[int, float]:
    """Index of the view the saved picture is closest to, and how close."""
    gaps = [distance(saved, view) for view in views]
    return int(np.argmin(gaps)), min(gaps)


@pytest.mark.parametrize("seed", [11, 12])
def test_moving_scene_picture_is_from_its_middle(seed, tmp_path):
    """Three pictures that zoom and drift for 10-14 s each."""
    rng = np.random.default_rng(seed)
    size, fps = (320, 180), int(rng.choice([24, 25, 30]))
    scenes = []
    for i in range(3):
        start, end = 1.0, rng.uniform(1.1, 1.3)
        zoom = (start, end) if rng.random() < 0.5 else (end, start)
        pan = tuple(float(v) for v in rng.uniform(-0.1, 0.1, 2))
        scenes.append(Scene(photo(seed * 10 + i, (416, 234)), int(rng.uniform(10, 14) * fps), zoom, pan))
    ep = Episode(scenes, [Transition("cut")] * 2, size, fps, crf=int(rng.integers(18, 30)))
    saved = saved_pictures(encode_episode(ep, tmp_path / "zoom.mp4"), tmp_path / "work")
    assert len(saved) == 3
    for i, scene in enumerate(ep.scenes):
        views = [ep.view(i, f) for f in range(scene.frames)]
        frame, gap = best_match(saved[i], views)
        assert abs(frame - scene.frames / 2) <= 0.15 * scene.frames, (i, frame, scene.frames)
        assert gap < 8, (i, gap)  # one frame of the move, nothing of another picture


def test_a_short_moving_scene_after_a_long_one_has_its_own_picture(tmp_path):
    """40 s of zoom, then a 1 s zoom, then 3 s: each scene's picture is its own, near its middle."""
    size, fps = (160, 90), 25
    scenes = [Scene(photo(60 + i, (208, 117)), seconds * fps, (1.0, 1.2), (0.05, -0.05))
              for i, seconds in enumerate((40, 1, 3))]
    ep = Episode(scenes, [Transition("cut")] * 2, size, fps, crf=20)
    saved = saved_pictures(encode_episode(ep, tmp_path / "long_short.mp4"), tmp_path / "work")
    assert len(saved) == 3
    for i, scene in enumerate(ep.scenes):
        frame, gap = best_match(saved[i], [ep.view(i, f) for f in range(scene.frames)])
        assert abs(frame - scene.frames / 2) <= max(3, 0.15 * scene.frames) and gap < 8, (i, frame, gap)


@pytest.mark.parametrize("seed", [21, 22])
def test_picture_comes_from_the_longest_still_part(seed, tmp_path):
    """A picture stands for 1.2 s, zooms for 2 s, then stands for 4 s: the picture saved is the
    one that stands longest (zoomed), not the first steady frame."""
    rng = np.random.default_rng(seed)
    size, fps = (320, 180), 25
    pan = tuple(float(v) for v in rng.uniform(-0.1, 0.1, 2))
    zoom = Scene(photo(seed, (416, 234)), 50, (1.0, rng.uniform(1.15, 1.3)), pan)
    ep = Episode([zoom], [], size, fps, crf=22)
    held = ep.view(0, 49)
    frames = [ep.view(0, 0)] * 30 + [ep.view(0, f) for f in range(50)] + [held] * 100
    following = photo(seed + 50, size)
    write_video(iter(frames + [following] * 75), tmp_path / "hold.mp4", fps, crf=20)
    saved = saved_pictures(tmp_path / "hold.mp4", tmp_path / "work")
    assert len(saved) == 2
    assert distance(saved[0], held) < 4 < distance(saved[0], ep.view(0, 0))


@pytest.mark.parametrize(("family", "seed"), [("dissolve", 31), ("fade", 32), ("dissolve", 33)])
def test_pictures_after_long_transitions_show_only_their_own_scene(family, seed, tmp_path):
    """1.8 s dissolves and fades between 2.5-4 s scenes: each saved picture is its own scene's,
    far from the pictures before and after it."""
    ep = episode(family, seed, scenes=4, seconds=(2.5, 4.0))
    for transition in ep.transitions:
        transition.frames = int(ep.fps * 1.8) // 2 * 2
    saved = saved_pictures(encode_episode(ep, tmp_path / "episode.mp4"), tmp_path / "work")
    assert len(saved) == len(ep.scenes)
    for i in range(len(ep.scenes)):
        own = distance(saved[i], ep.view(i, 0))
        for j in (i - 1, i + 1):
            if 0 <= j < len(ep.scenes):
                assert own < 8 and own < 0.2 * distance(saved[i], ep.view(j, 0)), (i, j, own)
