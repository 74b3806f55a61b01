"""The packet pre-scan (step1/prescan.py) gives step 1 exactly what decoding every frame gives.

Real x264 encodes of still podcasts (seeded random pictures, sizes, frame rates and scene lengths):
with x264's own keyframes at the cuts, and with `scenecut=0` and a long GOP so that cuts fall on
P-frames in the middle of a GOP; a slow fade and a subtitle appearing inside a GOP; an all-intra
stream and a moving source (nothing to skip: all frames decoded). Each is run through step 1 with
and without the pre-scan: the cuts and every saved picture must be the same, and on still
sources the pre-scan must have decoded fewer frames (it must not silently do nothing).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from step1_media import encode_episode, episode, illustration, photo

from podcast_img2vid.media import ffmpeg_exe
from podcast_img2vid.step1 import prescan
from podcast_img2vid.step1.extract import DECODED_LINE, Step1Result, run_step1, summary
from podcast_img2vid.step1.prescan import same_picture
from podcast_img2vid.workdir.layout import WorkDir

SIZES = [(640, 360), (854, 480), (960, 540), (1280, 720)]
RATES = [24, 25, 30, 50, 60]
LONG_GOP = "scenecut=0:keyint=900:min-keyint=900"


def x264(frames, path: Path, size: tuple[int, int], fps: int, params: str | None = None,
         crf: int = 23, preset: str = "veryfast") -> Path:
    """RGB frames encoded by x264 (`params`: its -x264-params)."""
    width, height = size
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo",
           "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", str(fps), "-i", "-",
           "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p"]
    if params:
        cmd += ["-x264-params", params]
    with subprocess.Popen([*cmd, str(path)], stdin=subprocess.PIPE) as proc:
        for frame in frames:
            proc.stdin.write(np.ascontiguousarray(frame, np.uint8).tobytes())
        proc.stdin.close()
    assert proc.returncode == 0
    return path


def still_podcast(seed: int) -> tuple[list[np.ndarray], list[int], tuple[int, int], int]:
    """Pictures, each scene's length in frames, the frame size and rate (seeded)."""
    rng = np.random.default_rng(seed)
    size = SIZES[int(rng.integers(len(SIZES)))]
    fps = int(rng.choice(RATES))
    scenes = int(rng.integers(3, 5))
    pictures = [(photo if rng.random() < 0.5 else illustration)(seed * 10 + i, size) for i in range(scenes)]
    lengths = [int(rng.uniform(3.0, 9.0) * fps) for _ in range(scenes)]
    return pictures, lengths, size, fps


def frames_of(pictures: list[np.ndarray], lengths: list[int]):
    for picture, length in zip(pictures, lengths, strict=True):
        for _ in range(length):
            yield picture


def both(video: Path, tmp_path: Path) -> tuple[Step1Result, Step1Result]:
    """Step 1 with the pre-scan, then decoding every frame."""
    return tuple(run_step1(video, WorkDir(tmp_path / f"work_{mode}"), prescan=mode) for mode in (True, False))


NOISE_MAX, NOISE_MEAN = 24, 0.1
"""A saved picture may be a frame the pre-scan did not decode (the sharpest of a scene's frames):
the frame shown in its place differs by coding noise only, a few pixels by a few levels."""


def assert_same_results(quick: Step1Result, full: Step1Result) -> None:
    """The same scenes (first frames, times, picture names), and the same saved pictures: identical,
    or within coding noise of each other."""
    assert [(s.start_frame, s.start, s.image) for s in quick.scenes] == \
        [(s.start_frame, s.start, s.image) for s in full.scenes]
    for name in sorted({s.image for s in full.scenes}):
        a, b = (cv2.imread(str(r.work.images_dir / name)).astype(np.int16) for r in (quick, full))
        difference = np.abs(a - b)
        assert difference.max() <= NOISE_MAX and difference.mean() <= NOISE_MEAN, name


def decoded_share(result: Step1Result) -> float:
    return result.frames_decoded / result.scenes[-1].end_frame


@pytest.mark.parametrize("params", [None, LONG_GOP], ids=["cuts-on-keyframes", "cuts-mid-gop"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_still_podcast_same_cuts_and_pictures_with_fewer_frames_decoded(tmp_path, seed, params):
    pictures, lengths, size, fps = still_podcast(seed + (100 if params else 0))
    video = x264(frames_of(pictures, lengths), tmp_path / "still.mp4", size, fps, params)
    quick, full = both(video, tmp_path)
    assert [s.start_frame for s in full.scenes[1:]] == list(np.cumsum(lengths)[:-1])
    assert_same_results(quick, full)
    assert full.frames_decoded is None
    assert decoded_share(quick) < 0.75  # at least the quiet frames no other frame refers to are not decoded


@pytest.mark.parametrize("seed", [7, 8])
def test_long_still_scenes_skip_whole_quiet_tails(tmp_path, seed):
    """Scenes longer than x264's keyframe interval (250 frames): a GOP that ends on a periodic
    keyframe showing the same picture is skipped from its quiet tail on, references included."""
    pictures, _, size, fps = still_podcast(seed)
    lengths = [int(np.random.default_rng(seed).uniform(22, 28) * fps) for _ in pictures[:2]]
    video = x264(frames_of(pictures[:2], lengths), tmp_path / "long.mp4", size, fps)
    quick, full = both(video, tmp_path)
    assert [s.start_frame for s in full.scenes[1:]] == [lengths[0]]
    assert_same_results(quick, full)
    assert decoded_share(quick) < 0.45  # skipping only frames no other refers to would leave 0.5 or more
    share = decoded_share(quick)
    said = f"{DECODED_LINE} {quick.frames_decoded:,} for {sum(lengths):,} in the video ({share:.0%};"
    assert said in summary(quick)  # the user is told what was decoded
    assert DECODED_LINE not in summary(full)


@pytest.mark.parametrize("seed", [4, 5])
def test_slow_fade_and_subtitle_inside_a_gop(tmp_path, seed):
    """A picture fades slowly to another brightness (x264's weighted prediction codes it cheaply),
    a subtitle line appears at the bottom and a small edit in the middle (a cut), all inside
    one long GOP."""
    pictures, lengths, size, fps = still_podcast(seed)
    picture, total = pictures[0], 12 * fps
    fade_from, fade_to = 3 * fps, 6 * fps
    subtitle_at, edit_at = 8 * fps, 10 * fps
    width, height = size

    def frames():
        for i in range(total):
            share = min(1.0, max(0.0, (i - fade_from) / (fade_to - fade_from)))
            image = (picture * (1 - 0.4 * share)).astype(np.uint8)
            if i >= subtitle_at:
                cv2.putText(image, "a subtitle line", (size[0] // 4, height - height // 10),
                            cv2.FONT_HERSHEY_SIMPLEX, height / 400, (255, 255, 255), max(1, height // 200))
            if i >= edit_at:
                image[height // 3 : height // 2, width // 3 : width // 2] = (250, 210, 40)
            yield image

    video = x264(frames(), tmp_path / "fade.mp4", size, fps, LONG_GOP)
    quick, full = both(video, tmp_path)
    assert_same_results(quick, full)
    assert edit_at in [s.start_frame for s in full.scenes]
    assert decoded_share(quick) < 0.9


def test_all_intra_stream_is_decoded_in_full(tmp_path):
    pictures, lengths, size, fps = still_podcast(6)
    video = x264(frames_of(pictures, lengths), tmp_path / "intra.mp4", size, fps, "keyint=1")
    quick, full = both(video, tmp_path)
    assert_same_results(quick, full)
    assert decoded_share(quick) == 1.0


@pytest.mark.parametrize("family", ["kenburns", "combined"])
def test_moving_source_is_decoded_in_full(tmp_path, family):
    rng = np.random.default_rng(7)
    ep = episode(family, 7, size=SIZES[int(rng.integers(2))], fps=int(rng.choice(RATES)), scenes=3,
                 seconds=(2.5, 4.0))
    video = encode_episode(ep, tmp_path / "moving.mp4")
    quick, full = both(video, tmp_path)
    assert_same_results(quick, full)
    assert 0.95 < decoded_share(quick) < 1.25  # nothing to skip, little decoded twice


def test_same_picture_allows_coding_noise_not_a_change():
    rng = np.random.default_rng(8)
    picture = rng.integers(40, 200, (90, 160, 3), np.uint8)
    noisy = np.clip(picture + rng.integers(-3, 4, picture.shape), 0, 255).astype(np.uint8)
    assert same_picture(picture, noisy)
    edited = picture.copy()
    edited[40:52, 60:80] = 255  # a small bright element: a subtitle's letters, a logo
    assert not same_picture(picture, edited)


def test_a_gop_too_long_to_keep_comes_in_parts(tmp_path, monkeypatch):
    """A stream with few IDRs: its GOPs are handled in parts of MAX_GOP_BYTES (here tiny), with
    the same results."""
    pictures, lengths, size, fps = still_podcast(9)
    video = x264(frames_of(pictures, lengths), tmp_path / "parts.mp4", size, fps, LONG_GOP)
    with av.open(str(video)) as container:
        idr = next(container.demux(video=0)).size
    monkeypatch.setattr(prescan, "MAX_GOP_BYTES", idr + 3000)  # the IDR and about 100 small packets
    quick, full = both(video, tmp_path)
    assert_same_results(quick, full)
    assert decoded_share(quick) < 1.0
