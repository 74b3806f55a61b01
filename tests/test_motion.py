"""Smooth motion in step 3: the seamless loop pattern and cached motion-compensated interpolation.

Real encodes of clips with known motion (`motion_media`): a photo-like picture moved smoothly.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from motion_media import moving_frames, photo_like, psnr, step_ratios
from step3_media import make_source, write_csv

from podcast_img2vid.fsutil import PARTIAL_TAG
from podcast_img2vid.media import read_frames, stream_durations, write_video
from podcast_img2vid.step3.interpolate import Interpolation, cache_key, interpolated_clip
from podcast_img2vid.step3.plan import clip_units, crossfade_frames, frames_for, scene_indices, shown_frame
from podcast_img2vid.step3.run import run_step3
from podcast_img2vid.workdir import layout

REPO = Path(__file__).resolve().parents[1]
SEAM_TARGET = 2.0
"""The largest step anywhere in a played loop, in ordinary steps of the clip's own motion."""
TINTS = {"image_001.png": (190, 80, 70), "image_002.png": (70, 90, 190)}


def which_clip(frame: np.ndarray) -> str:
    """The picture whose tint is nearest to the mean colour of the frame's centre."""
    h, w = frame.shape[:2]
    mean = frame[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4].reshape(-1, 3).mean(axis=0)
    return min(TINTS, key=lambda image: float(((np.array(TINTS[image]) - mean) ** 2).sum()))


def tinted_clip(image: str, seed: int, frames: int, size: tuple[int, int], speed: float = 1.0
                ) -> list[np.ndarray]:
    """A clip of `image`'s tint: a photo-like picture (twice the clip's size) moving smoothly."""
    rng = np.random.default_rng(seed)
    photo = photo_like(rng, 2 * size[0], 2 * size[1], TINTS[image])
    return moving_frames(photo, frames, size, rng, speed)


def file_state(path: Path) -> tuple[int, int, str]:
    st = path.stat()
    return st.st_mtime_ns, st.st_ino, hashlib.sha256(path.read_bytes()).hexdigest()


def cached(work: layout.WorkDir) -> list[Path]:
    return sorted(work.clips_dir.glob(layout.interpolated_clip_glob("*")))


# ---- the seamless pattern's plan ------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_seamless_pattern_never_jumps_where_loop_does(seed):
    rng = np.random.default_rng(seed)
    frames = int(rng.integers(6, 60))
    clip = moving_frames(photo_like(rng, 320, 180), frames, (160, 90), rng, speed=rng.uniform(0.3, 1.5))
    fps = Fraction(25)
    worst = {}
    for pattern in ("loop", "seamless"):
        units = clip_units(frames, fps, fps, pattern)
        played = [shown_frame(ref, clip.__getitem__) for ref in scene_indices(units, 3 * frames + 5)]
        worst[pattern] = max(step_ratios(played, clip))
    assert worst["seamless"] <= SEAM_TARGET < 4 < worst["loop"], worst
    # A scene starts on the clip's clean first frame; a clip too short to crossfade loops plainly.
    assert clip_units(frames, fps, fps, "seamless").intro[0] == 0
    assert clip_units(2, fps, fps, "seamless") == clip_units(2, fps, fps, "loop")
    assert crossfade_frames(frames) >= 1


# ---- step 3 end to end ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fps", "size"), [(Fraction(30000, 1001), (320, 180)), (Fraction(25), (180, 320))],
    ids=["29.97", "portrait"],
)
def test_seamless_step3_keeps_cuts_and_sync_and_shows_no_seam(tmp_path, fps, size):
    work = layout.WorkDir(tmp_path)
    clips = {image: tinted_clip(image, n, 20, size, speed=2.5) for n, image in enumerate(TINTS)}
    for image, frames in clips.items():
        write_video(frames, work.clips_dir / layout.clip_name(image), fps)
    scenes = [("image_001.png", 0.0, 2.6), ("image_002.png", 2.6, 3.4), ("image_001.png", 3.4, 4.5)]
    write_csv(work, scenes, float(fps))
    source = make_source(tmp_path / "src.mp4", 4.5, fps, size=size)

    played = {}
    for pattern in ("loop", "seamless"):
        out = tmp_path / f"{pattern}.mp4"
        result = run_step3(source, work, out, pattern=pattern)
        video_s, audio_s = stream_durations(out)
        assert abs(video_s - audio_s) <= 0.010 and result.sync_error_ms <= 10
        played[pattern] = read_frames(out)
        assert len(played[pattern]) == frames_for(audio_s, fps)
        assert played[pattern][0].shape == (size[1], size[0], 3)
    # Every frame shows its scene's picture: cuts on the same global grid as -p loop, ±0 frames.
    starts = [round(Fraction(start) * fps) for _, start, _ in scenes] + [len(played["seamless"])]
    expected = [image for (image, _, _), a, b in zip(scenes, starts, starts[1:], strict=False)
                for _ in range(a, b)]
    assert [which_clip(f) for f in played["seamless"]] == expected
    assert [which_clip(f) for f in played["loop"]] == expected
    # The first scene loops the 20-frame clip several times: -p loop jumps back, seamless does not.
    clip = read_frames(work.clips_dir / "image_001.mp4")
    first_scene = slice(0, starts[1])
    assert max(step_ratios(played["seamless"][first_scene], clip)) <= SEAM_TARGET
    assert max(step_ratios(played["loop"][first_scene], clip)) > 4


def test_interpolation_is_smoother_than_repetition_cached_and_remade_for_a_changed_clip(tmp_path):
    fps, every = Fraction(25), 4
    work = layout.WorkDir(tmp_path)
    truth = {image: tinted_clip(image, 10 + n, 33, (320, 180), speed=3) for n, image in enumerate(TINTS)}
    for image, frames in truth.items():  # 9 frames at 6.25 fps: every 4th frame of the truth
        write_video(frames[::every], work.clips_dir / layout.clip_name(image), fps / every)
    write_csv(work, [("image_001.png", 0.0, 1.7), ("image_002.png", 1.7, 3.0)], 25)
    source = make_source(tmp_path / "src.mp4", 3.0, fps)

    repeated = tmp_path / "repeated.mp4"
    run_step3(source, work, repeated)
    assert cached(work) == []
    smooth = tmp_path / "smooth.mp4"
    result = run_step3(source, work, smooth, interpolate=True)
    assert result.sync_error_ms <= 10
    made = cached(work)
    assert [p.name.split(layout.INTERPOLATED_TAG)[0] for p in made] == ["image_001", "image_002"]
    shown = {"smooth": read_frames(smooth), "repeated": read_frames(repeated)}
    total = frames_for(stream_durations(smooth)[1], fps)
    cut = round(Fraction(1.7) * fps)
    assert len(shown["smooth"]) == len(shown["repeated"]) == total
    # Between the clip's frames, the interpolated pictures are closer to the true motion...
    between = [j for j in range(33) if j % every]
    gain = np.mean([psnr(shown["smooth"][j], truth["image_001.png"][j])
                    - psnr(shown["repeated"][j], truth["image_001.png"][j]) for j in between])
    assert gain > 1.0, gain
    # ...and the picture moves in every frame instead of three frames out of four standing still.
    for name, most in (("smooth", 0.0), ("repeated", 1.0)):
        steps = step_ratios(shown[name][:33], truth["image_001.png"])
        still = np.mean([step < 0.3 for step in steps])
        assert still == most if name == "smooth" else still >= 0.7, (name, steps)

    # A re-run (another pattern too) reuses every cached file as it is.
    before = {p: file_state(p) for p in made}
    seamless = tmp_path / "seamless.mp4"
    run_step3(source, work, seamless, pattern="seamless", interpolate=True)
    assert cached(work) == made and {p: file_state(p) for p in made} == before
    shown = read_frames(seamless)
    assert [which_clip(f) for f in shown] == ["image_001.png"] * cut + ["image_002.png"] * (total - cut)
    assert max(step_ratios(shown[:cut], read_frames(made[0]))) <= SEAM_TARGET

    # A changed clip is interpolated again; the other one's cache stays untouched.
    new_truth = tinted_clip("image_002.png", 99, 33, (320, 180), speed=3)
    write_video(new_truth[::every], work.clips_dir / "image_002.mp4", fps / every)
    run_step3(source, work, smooth, interpolate=True)
    now = cached(work)
    assert now[0] == made[0] and file_state(made[0]) == before[made[0]]
    assert now[1] != made[1] and not made[1].exists() and len(now) == 2
    assert psnr(read_frames(smooth)[cut + 2], new_truth[2]) > 28  # the new clip, interpolated


def test_cache_key_follows_clip_settings_and_rate(tmp_path):
    clip = tmp_path / "image_001.mp4"
    write_video(tinted_clip("image_001.png", 0, 4, (64, 36)), clip, 7)
    key = cache_key(clip, Fraction(30), Interpolation())
    assert key == cache_key(clip, Fraction(30), Interpolation())
    assert key != cache_key(clip, Fraction(30000, 1001), Interpolation())
    assert key != cache_key(clip, Fraction(30), Interpolation(method="framerate"))
    write_video(tinted_clip("image_001.png", 1, 4, (64, 36)), clip, 7)
    assert key != cache_key(clip, Fraction(30), Interpolation())


CLIP_FRAMES, CLIP_FPS, OUT_FPS = 60, 5, 30
"""The clip interrupted below: 360 frames to make, so there is time to interrupt it."""
INTERPOLATE_ONE = (  # Ctrl-C raises KeyboardInterrupt even when this test runs in the background
    "import signal, sys; from fractions import Fraction; from pathlib import Path; "
    "signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from podcast_img2vid.step3.interpolate import interpolated_clip; "
    f"interpolated_clip(Path(sys.argv[1]), Fraction({OUT_FPS}), {CLIP_FRAMES}, Fraction({CLIP_FPS}))"
)


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="kills a process group (POSIX)")
@pytest.mark.parametrize("how", ["ctrl-c", "power loss"])
def test_interrupted_interpolation_leaves_nothing_that_looks_finished(tmp_path, how):
    clip = tmp_path / "image_001.mp4"
    write_video(tinted_clip("image_001.png", 3, CLIP_FRAMES, (320, 180)), clip, CLIP_FPS)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", INTERPOLATE_ONE, str(clip)], env=env,
                            start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(f"*{PARTIAL_TAG}*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the interpolation finished before it could be interrupted"
    if how == "ctrl-c":
        proc.send_signal(signal.SIGINT)
    else:  # everything dies at once: Python and its ffmpeg
        os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) != 0
    leftovers = [p.name for p in tmp_path.iterdir() if p != clip]
    if how == "ctrl-c":
        assert leftovers == []  # cleaned up on the way out
        return
    assert leftovers and all(PARTIAL_TAG in name for name in leftovers), leftovers
    made = interpolated_clip(clip, Fraction(OUT_FPS), CLIP_FRAMES, Fraction(CLIP_FPS))  # the next run
    assert len(read_frames(made)) == CLIP_FRAMES * OUT_FPS // CLIP_FPS
    assert sorted(tmp_path.iterdir()) == sorted([clip, made])  # the half file is gone


def test_cli_seamless_and_interpolate_for_step_3(tmp_path, monkeypatch):
    import animate_podcast_v2

    work = layout.WorkDir(tmp_path)
    write_video(tinted_clip("image_001.png", 5, 6, (160, 90), speed=2)[::2], work.clips_dir / "image_001.mp4",
                Fraction(25, 2))
    write_csv(work, [("image_001.png", 0.0, 1.5)])
    make_source(tmp_path / "src.mp4", 1.5, size=(160, 90))
    monkeypatch.chdir(tmp_path)
    assert animate_podcast_v2.main(["src.mp4", "--step", "3", "-p", "seamless", "--interpolate"]) == 0
    output = tmp_path / layout.output_name(Path("src.mp4"))
    assert len(read_frames(output)) == frames_for(stream_durations(output)[1], Fraction(25))
    assert len(cached(work)) == 1 and len(read_frames(cached(work)[0])) == 6
