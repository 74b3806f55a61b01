"""Step 3 end to end with real encodes: sync, cuts, patterns, audio, validation, paths, Ken Burns."""

from __future__ import annotations

import errno
import os
import random
import subprocess
import sys
import weakref
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from step3_media import (
    CODEBOOK,
    audio_packet_bytes,
    code,
    identify,
    make_clip,
    make_long_clip,
    make_source,
    make_still,
    presented,
    presented_sync_ms,
    step3_peak_rss_mb,
    write_csv,
)

from podcast_img2vid.errors import UserError
from podcast_img2vid.kenburns import zoom_pan
from podcast_img2vid.media import (
    FrameReader,
    ffmpeg_exe,
    frame_rate,
    probe,
    read_frames,
    run_ffmpeg,
    stream_durations,
    write_video,
)
from podcast_img2vid.step2.providers.kenburns import KenBurnsProvider, KenBurnsSettings
from podcast_img2vid.step2.run import run_step2
from podcast_img2vid.step3.assemble import VideoSettings
from podcast_img2vid.step3.plan import (
    clip_units,
    frames_for,
    resample,
    scene_indices,
    scene_spans,
)
from podcast_img2vid.step3.run import run_step3, summary
from podcast_img2vid.workdir import layout

REPO = Path(__file__).resolve().parents[1]
CUTS = [("image_001.png", 0.0, 1.37), ("image_002.png", 1.37, 2.91), ("image_001.png", 2.91, 4.3)]


def decode_errors(path: Path) -> str:
    proc = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True, text=True, encoding="utf-8", errors="replace",
    )
    return proc.stderr.strip()


def make_work(root: Path, clips: dict[str, tuple[int, int, int]], scenes=CUTS) -> layout.WorkDir:
    """clips: image name -> (clip number, frames, fps)."""
    work = layout.WorkDir(root)
    work.clips_dir.mkdir(parents=True, exist_ok=True)
    for image, (clip, frames, fps) in clips.items():
        make_clip(work.clips_dir / layout.clip_name(image), clip, frames, fps)
    write_csv(work, scenes)
    return work


def expected_codes(scenes, fps: Fraction, total_frames: int, clips, pattern: str) -> list[int]:
    """What should be on screen, from the plan's own rules written out longhand."""
    starts = [round(Fraction(start) * fps) for _, start, _ in scenes] + [total_frames]
    out = []
    for (image, _, _), a, b in zip(scenes, starts, starts[1:], strict=False):
        clip, frames, clip_fps = clips[image]
        units = clip_units(frames, Fraction(clip_fps), fps, pattern)
        out += [code(clip, k) for k in scene_indices(units, max(0, min(b, total_frames) - a))]
    return out


# ---- the plan's arithmetic ---------------------------------------------------------------


def test_frame_rate_from_user_floats():
    assert frame_rate(29.97) == Fraction(30000, 1001)
    assert frame_rate(23.976) == Fraction(24000, 1001)
    assert frame_rate(59.94) == Fraction(60000, 1001)
    assert frame_rate(25.0) == 25
    assert frame_rate(12.5) == Fraction(25, 2)


def test_patterns_as_clip_frame_indices():
    fps = Fraction(25)
    loop = clip_units(4, fps, fps, "loop")
    assert loop.intro == () and loop.repeat[:8] == (0, 1, 2, 3, 0, 1, 2, 3)
    ping = clip_units(4, fps, fps, "pingpong")
    assert ping.repeat[:8] == (0, 1, 2, 3, 2, 1, 0, 1)  # no repeated end frames
    freeze = clip_units(4, fps, fps, "freeze")
    assert scene_indices(freeze, 7) == [0, 1, 2, 3, 3, 3, 3]
    assert scene_indices(loop, 2) == [0, 1]  # a clip longer than its scene is cut
    # A 7 fps clip at 30 fps keeps its speed: frame k is on screen from k/7 s.
    assert resample(list(range(14)), Fraction(7), Fraction(30)) == tuple(j * 7 // 30 for j in range(60))


def test_sixty_minute_plan_at_2997_keeps_every_cut_and_the_end():
    rng = random.Random(4)
    fps = Fraction(30000, 1001)
    scenes, t = [], 0.0
    while t < 3600:
        end = min(3600.0, round(t + rng.uniform(0.6, 15), 6))
        scenes.append(layout.Scene(len(scenes) + 1, "image_001.png", t, end, 0, 0))
        t = end
    audio = 3600.0 + 0.0213
    total = frames_for(audio, fps)
    spans = scene_spans(scenes, fps, total)
    assert sum(s.count for s in spans) == total
    for span in spans:
        assert abs(span.first / fps - Fraction(span.scene.start)) <= 1 / fps / 2
    settings = VideoSettings(1280, 720, fps)
    last_pts = (total - 1) * settings.frame_ticks
    end_ticks = round(Fraction(audio) / settings.time_base)
    assert settings.frame_ticks / 2 <= end_ticks - last_pts <= settings.frame_ticks * 3 / 2
    assert abs(float(end_ticks * settings.time_base) - audio) < 0.010


# ---- end to end ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fps", [Fraction(25), Fraction(30000, 1001), Fraction(30)], ids=["25", "29.97", "30"]
)
def test_sync_and_cuts(tmp_path, fps):
    clips = {"image_001.png": (0, 5, 10), "image_002.png": (1, 7, 25)}
    work = make_work(tmp_path, clips)
    source = make_source(tmp_path / "src.mp4", 4.3, fps)
    out = tmp_path / "out.mp4"
    result = run_step3(source, work, out)

    video_s, audio_s = stream_durations(out)
    assert abs(video_s - audio_s) <= 0.010
    assert result.sync_error_ms <= 10 and result.audio == "copied" and result.scenes == 3
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height, stream.guessed_rate) == (320, 180, fps)
    assert decode_errors(out) == ""
    shown = identify(out)
    assert shown == expected_codes(CUTS, fps, len(shown), clips, "loop")
    # Around every cut: the old picture one frame before, the new one from the cut's frame on.
    for (before, *_), (after, start, _) in zip(CUTS, CUTS[1:], strict=False):
        i = round(start * fps)
        assert abs(i / fps - start) <= 1 / fps
        assert shown[i - 1] // 8 == clips[before][0] and shown[i] // 8 == clips[after][0]
    assert audio_packet_bytes(out) == audio_packet_bytes(source)  # AAC copied bit-exact


@pytest.mark.parametrize("pattern", ["freeze", "pingpong"])
def test_freeze_and_pingpong_frame_order(tmp_path, pattern):
    clips = {"image_001.png": (0, 5, 25), "image_002.png": (1, 4, 25)}
    work = make_work(tmp_path, clips)
    out = tmp_path / "out.mp4"
    run_step3(make_source(tmp_path / "src.mp4", 4.3), work, out, pattern=pattern)
    shown = identify(out)
    assert shown == expected_codes(CUTS, Fraction(25), len(shown), clips, pattern)
    assert decode_errors(out) == ""
    if pattern == "freeze":
        assert shown[:10] == [0, 1, 2, 3, 4, 4, 4, 4, 4, 4]
    else:
        assert shown[:12] == [0, 1, 2, 3, 4, 3, 2, 1, 0, 1, 2, 3]


@pytest.mark.parametrize("stored", ["portrait", "landscape with a 90-degree rotation tag"])
def test_portrait_source_stays_portrait_and_clip_is_fitted(tmp_path, stored):
    work = make_work(tmp_path, {"image_001.png": (0, 3, 25)}, scenes=[("image_001.png", 0.0, 1.0)])
    out = tmp_path / "out.mp4"
    if stored == "portrait":
        source = make_source(tmp_path / "src.mp4", 1.0, size=(180, 320))
    else:  # as phones record portrait video
        source = tmp_path / "phone.mp4"
        run_ffmpeg(["-display_rotation", "90", "-i", str(make_source(tmp_path / "src.mp4", 1.0)),
                    "-c", "copy", str(source)])
    run_step3(source, work, out)
    frame = read_frames(out)[0]
    assert frame.shape == (320, 180, 3)
    # A 16:9 clip fitted into 9:16: full width, black bars above and below, colour in the middle.
    assert frame[:100].max() < 25 and frame[-100:].max() < 25
    assert np.abs(frame[160, 90].astype(float) - CODEBOOK[code(0, 0)]).max() < 12


def test_no_audio_gives_silent_video_of_the_source_length(tmp_path, capsys):
    work = make_work(tmp_path, {"image_001.png": (0, 3, 25)}, scenes=[("image_001.png", 0.0, 2.0)])
    out = tmp_path / "out.mp4"
    result = run_step3(make_source(tmp_path / "src.mp4", 2.0, audio=None), work, out)
    video_s, audio_s = stream_durations(out)
    assert audio_s is None and abs(video_s - 2.0) <= 0.010
    assert result.audio == "none" and result.sync_error_ms is None
    assert "no audio" in capsys.readouterr().err


def test_audio_longer_holds_last_picture(tmp_path, capsys):
    scenes = [("image_001.png", 0.0, 1.0), ("image_002.png", 1.0, 2.0)]
    work = make_work(tmp_path, {"image_001.png": (0, 3, 25), "image_002.png": (1, 3, 25)}, scenes)
    out = tmp_path / "out.mp4"
    run_step3(make_source(tmp_path / "src.mp4", 2.0, audio_seconds=3.2), work, out)
    assert "the last picture is held until the audio ends" in capsys.readouterr().err
    video_s, audio_s = stream_durations(out)
    assert abs(audio_s - 3.2) < 0.001 and abs(video_s - audio_s) <= 0.010
    shown = identify(out)
    assert len(shown) == frames_for(audio_s, Fraction(25))
    assert all(c // 8 == 1 for c in shown[25:])  # the last picture runs to the end of the audio


def test_audio_shorter_ends_the_video_with_the_audio(tmp_path, capsys):
    work = make_work(tmp_path, {"image_001.png": (0, 3, 25), "image_002.png": (1, 3, 25)})
    out = tmp_path / "out.mp4"
    result = run_step3(make_source(tmp_path / "src.mp4", 4.3, audio_seconds=2.0), work, out)
    assert "the video ends with the audio" in capsys.readouterr().err
    video_s, audio_s = stream_durations(out)
    assert audio_s < 2.1 and abs(video_s - audio_s) <= 0.010
    assert result.scenes == 2  # the third scene starts after the audio ends
    assert {c // 8 for c in identify(out)[40:]} == {1}


def test_non_aac_audio_is_encoded_to_aac_in_sync_at_a_chosen_rate(tmp_path):
    work = make_work(tmp_path, {"image_001.png": (0, 5, 10), "image_002.png": (1, 7, 25)})
    out = tmp_path / "out.mp4"
    result = run_step3(make_source(tmp_path / "src.mkv", 4.3, 30, audio="pcm"), work, out, fps=29.97)
    assert result.audio == "encoded" and probe(out).audio_codec == "aac"
    with av.open(str(out)) as container:
        assert container.streams.video[0].guessed_rate == Fraction(30000, 1001)
    video_s, audio_s = stream_durations(out)
    assert abs(video_s - audio_s) <= 0.010 and abs(audio_s - 4.3) < 0.05


# ---- refusing bad input before writing anything --------------------------------------------


def test_missing_clip_and_bad_clip_refused_before_writing(tmp_path):
    work = make_work(tmp_path, {"image_001.png": (0, 3, 25)})
    (work.clips_dir / "image_002.mp4").write_bytes(b"not a video")
    (work.clips_dir / "image_001.mp4").unlink()
    before = sorted(tmp_path.rglob("*"))
    out = tmp_path / "out.mp4"
    source = make_source(tmp_path / "src.mp4", 4.3)
    with pytest.raises(UserError) as e:
        run_step3(source, work, out)
    message = str(e.value)
    assert "image_001.mp4: missing" in message and "image_002.mp4" in message and "2 problem" in message
    assert not out.exists() and sorted(tmp_path.rglob("*")) == sorted([*before, source])


def test_path_escaping_csv_refused(tmp_path):
    work = make_work(tmp_path, {"image_001.png": (0, 3, 25)}, scenes=[("image_001.png", 0.0, 1.0)])
    text = work.csv_path.read_text(encoding="utf-8").replace("image_001.png", "../x.png")
    work.csv_path.write_text(text, encoding="utf-8")
    (tmp_path.parent / "x.mp4").write_bytes(b"")
    out = tmp_path / "out.mp4"
    with pytest.raises(UserError, match=r"\.\./x\.png"):
        run_step3(make_source(tmp_path / "src.mp4", 1.0), work, out)
    assert not out.exists()


def test_output_may_not_be_the_input(tmp_path):
    work = make_work(tmp_path, {"image_001.png": (0, 3, 25)}, scenes=[("image_001.png", 0.0, 1.0)])
    source = make_source(tmp_path / "src.mp4", 1.0)
    data = source.read_bytes()
    with pytest.raises(UserError, match="input video"):
        run_step3(source, work, tmp_path / "." / "src.mp4")
    assert source.read_bytes() == data


def test_output_may_not_be_a_folder(tmp_path):
    work = make_work(tmp_path, {"image_001.png": (0, 3, 25)}, scenes=[("image_001.png", 0.0, 1.0)])
    (tmp_path / "out").mkdir()
    with pytest.raises(UserError, match="is a folder"):
        run_step3(make_source(tmp_path / "src.mp4", 1.0), work, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_output_open_in_a_player_is_a_clear_error_and_stays_as_it_was(tmp_path, monkeypatch):
    work = make_work(tmp_path, {"image_001.png": (0, 3, 25)}, scenes=[("image_001.png", 0.0, 1.0)])
    out = tmp_path / "out.mp4"
    out.write_bytes(b"the previous output")

    def locked(src, dst):  # what Windows does while a player has the file open
        raise PermissionError(13, "The process cannot access the file", str(dst))

    monkeypatch.setattr("podcast_img2vid.fsutil.os.replace", locked)
    with pytest.raises(UserError, match="out.mp4: cannot be replaced; is it open in another program"):
        run_step3(make_source(tmp_path / "src.mp4", 1.0), work, out)
    assert out.read_bytes() == b"the previous output"
    assert not list(tmp_path.glob("*.partial.*"))


def test_csv_made_for_another_video_is_refused(tmp_path):
    work = make_work(tmp_path, {"image_001.png": (0, 3, 25)}, scenes=[("image_001.png", 0.0, 1.0)])
    out = tmp_path / "out.mp4"
    with pytest.raises(UserError, match=r"timestamps.csv ends at 1.000s but .*src.mp4 is 3.000s long"):
        run_step3(make_source(tmp_path / "src.mp4", 3.0), work, out)
    assert not out.exists()


def test_clip_made_from_an_earlier_picture_is_refused(tmp_path):
    work = layout.WorkDir(tmp_path)
    make_still(work.images_dir / "image_001.png", 0)
    write_csv(work, [("image_001.png", 0.0, 1.0)])
    assert run_step2(work, KenBurnsProvider(KenBurnsSettings(25)), seed=1).made == ["image_001.png"]
    source = make_source(tmp_path / "src.mp4", 1.0)
    run_step3(source, work, tmp_path / "fine.mp4")  # the clip matches its picture
    make_still(work.images_dir / "image_001.png", 5)  # step 1 ran again: another picture
    out = tmp_path / "out.mp4"
    with pytest.raises(UserError, match="image_001.mp4: was made from an earlier image_001.png"):
        run_step3(source, work, out)
    assert not out.exists()


def test_cli_reports_one_line_and_exit_2(tmp_path):
    work = make_work(tmp_path, {}, scenes=[("image_001.png", 0.0, 1.0)])
    make_source(tmp_path / "src.mp4", 1.0)
    proc = subprocess.run(
        [sys.executable, str(REPO / "animate_podcast_v2.py"), "src.mp4", "--step", "3"],
        cwd=tmp_path, capture_output=True, text=True, encoding="utf-8",
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error:")
    assert "--fallback still" in proc.stderr
    assert not (tmp_path / layout.output_name(Path("src.mp4"))).exists()
    assert work.csv_path.is_file()


def test_fallback_still_and_cjk_paths(tmp_path, capsys):
    root = tmp_path / "播客 工作"
    work = make_work(root, {"image_002.png": (1, 4, 25)})
    make_still(work.images_dir / "image_001.png", 2)
    out = tmp_path / "輸出 資料夾" / "節目 001_animated_v2.mp4"
    source = make_source(root / "節目 001.mp4", 4.3)
    with pytest.raises(UserError, match="image_001.mp4: missing"):
        run_step3(source, work, out)
    run_step3(source, work, out, fallback="still")
    assert "showing the still" in capsys.readouterr().err
    shown = identify(out)
    assert {c for c in shown[:34]} == {code(2, 0)} and {c // 8 for c in shown[35:72]} == {1}
    assert {c for c in shown[73:]} == {code(2, 0)}
    assert decode_errors(out) == ""


# ---- colour and Ken Burns ------------------------------------------------------------------


def test_hd_output_is_tagged_bt709_and_keeps_the_clip_colour(tmp_path):
    work = layout.WorkDir(tmp_path)
    colour = np.array([200, 60, 30], np.uint8)
    frame = np.empty((720, 1280, 3), np.uint8)
    frame[:] = colour
    write_video([frame] * 3, work.clips_dir / "image_001.mp4", 25)
    write_csv(work, [("image_001.png", 0.0, 0.4)])
    out = tmp_path / "out.mp4"
    run_step3(make_source(tmp_path / "src.mp4", 0.4, size=(1280, 720)), work, out)
    clip_mean = read_frames(work.clips_dir / "image_001.mp4")[0].reshape(-1, 3).mean(axis=0)
    with av.open(str(out)) as container:
        decoded = next(container.decode(video=0))
        tags = (decoded.colorspace, decoded.color_primaries, decoded.color_trc)
        rgb = decoded.to_ndarray(format="rgb24")  # converted with the frame's own (BT.709) matrix
    assert tags == (1, 1, 1)
    assert np.abs(rgb.reshape(-1, 3).mean(axis=0) - clip_mean).max() < 3


def marker_clip(frames: int) -> list[np.ndarray]:
    """A static textured picture with a bright dot, for measuring motion to a fraction of a pixel."""
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.integers(40, 120, (180, 320, 3), dtype=np.uint8), (0, 0), 3)
    ys, xs = np.indices(base.shape[:2])
    dot = 255 * np.exp(-((xs - 60) ** 2 + (ys - 40) ** 2) / (2 * 4.0**2))
    base = np.maximum(base, dot[..., None]).astype(np.uint8)
    return [base] * frames


def dot_centre(frame: np.ndarray) -> np.ndarray:
    weight = np.clip(frame.astype(float).mean(axis=2) - 130, 0, None)
    ys, xs = np.indices(weight.shape)
    return np.array([(xs * weight).sum(), (ys * weight).sum()]) / weight.sum()


def test_zoom_pan_moves_smoothly_in_subpixel_steps():
    frame = marker_clip(1)[0]
    path = np.array([dot_centre(zoom_pan(frame, p, (320, 180))) for p in np.linspace(0, 1, 60)])
    steps = np.diff(path, axis=0)
    assert np.linalg.norm(steps, axis=1).mean() < 1.0  # slow: under a pixel per frame
    assert np.abs(np.diff(steps, axis=0)).max() < 0.1  # steady: no integer-crop jumps
    assert zoom_pan(frame, 0.3, (160, 90)).shape == (90, 160, 3)


def test_kenburns_is_continuous_across_a_loop_point(tmp_path):
    work = layout.WorkDir(tmp_path)
    write_video(marker_clip(10), work.clips_dir / "image_001.mp4", 25)
    write_csv(work, [("image_001.png", 0.0, 3.0)])
    out = tmp_path / "out.mp4"
    run_step3(make_source(tmp_path / "src.mp4", 3.0), work, out, kenburns=True)
    path = np.array([dot_centre(f) for f in read_frames(out)])
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    assert len(path) >= 75 and np.linalg.norm(path[-1] - path[0]) > 5  # it moved over the whole scene
    # The 2-second loop unit restarts at frame 50: no jump there, or anywhere.
    assert steps.max() < 2 * np.median(steps) + 0.3 and steps[49] < 1.0
    assert decode_errors(out) == ""


# ---- memory --------------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="peak memory is read from /proc")
@pytest.mark.parametrize("pattern", ["loop", "pingpong"])
def test_memory_does_not_grow_with_scene_length(tmp_path, pattern):
    """A clip as long as its scene (Ken Burns) is streamed: a 40 s scene needs no more than 10 s."""
    peaks = {}
    for seconds in (10, 40):
        work = layout.WorkDir(tmp_path / f"{seconds}s")
        clip_seconds = seconds if pattern == "loop" else seconds * 0.6  # pingpong plays it backwards too
        make_long_clip(work.clips_dir / "image_001.mp4", clip_seconds)
        write_csv(work, [("image_001.png", 0.0, seconds)])
        source = make_source(work.root / "src.mp4", seconds)
        peaks[seconds] = step3_peak_rss_mb(source, work, work.root / "out.mp4", pattern)
    # Decoding whole clips grew by ~260 MiB here (30 s more at 320x180, RGB + YUV copies).
    assert peaks[40] - peaks[10] < 40, peaks
    assert peaks[40] < 300, peaks  # 108 MiB measured on Linux


def numbered_clip(path: Path, frames: int) -> Path:
    """Frame k shows k in binary: eight 8-pixel-wide columns, white for a 1 bit (exact after encoding)."""
    images = []
    for k in range(frames):
        image = np.zeros((16, 64, 3), np.uint8)
        for bit in range(8):
            if k >> bit & 1:
                image[:, 8 * bit : 8 * bit + 8] = 255
        images.append(image)
    raw = path.with_name("raw.mp4")
    write_video(images, raw, 25)
    # Keyframes every 25 frames and B-frames, as a camera or an editor would write them.
    run_ffmpeg(["-i", str(raw), "-c:v", "libx264", "-g", "25", "-bf", "2", "-pix_fmt", "yuv420p", str(path)])
    return path


def frame_number(image: np.ndarray) -> int:
    return sum(1 << bit for bit in range(8) if image[:, 8 * bit : 8 * bit + 8].mean() > 128)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_frame_reader_gives_the_right_frame_in_any_order_with_a_small_window(tmp_path, seed):
    rng = random.Random(seed)
    frames = rng.randint(120, 200)
    clip = numbered_clip(tmp_path / "clip.mp4", frames)
    backwards = list(range(frames - 1, -1, -1))
    jumps = [rng.randrange(frames) for _ in range(40)]
    order = list(range(frames)) + backwards + jumps
    window = rng.choice([1, 7, 30]) * 64 * 16 * 3
    with FrameReader(clip, window_bytes=window) as reader:
        assert [frame_number(reader.frame(i)) for i in order] == order


# ---- durations as players present them ----------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_picture_and_sound_of_one_length_give_the_sources_own_frame_count(tmp_path, seed, capsys):
    """AAC priming (hidden by the MP4 edit list) is not counted: no extra frame, no false warning."""
    rng = random.Random(seed)
    fps = rng.choice([Fraction(25), Fraction(30), Fraction(30000, 1001)])
    rate = rng.choice([22050, 44100, 48000])
    frames = rng.randint(40, 90)
    seconds = float(frames / fps)
    work = make_work(tmp_path, {"image_001.png": (0, 5, 10)}, scenes=[("image_001.png", 0.0, seconds)])
    source = make_source(tmp_path / "src.mp4", seconds, fps, sample_rate=rate)
    out = tmp_path / "out.mp4"
    result = run_step3(source, work, out)

    assert "warning" not in capsys.readouterr().err
    assert len(read_frames(out)) == frames, (fps, rate)
    spans = presented(out)
    assert abs(spans["audio"][1] - presented(source)["audio"][1]) < 0.001  # every sample kept
    assert presented_sync_ms(out) <= 10
    assert abs(result.sync_error_ms - presented_sync_ms(out)) < 1  # the printed figure is the real one


def test_stream_copied_cut_source_is_not_held_longer(tmp_path, capsys):
    """`ffmpeg -ss 3.1 -c copy` keeps the pictures and audio before the cut, hidden by edit lists."""
    whole = make_source(tmp_path / "whole.mp4", 6.0, 30)
    source = tmp_path / "cut.mp4"
    run_ffmpeg(["-ss", "3.1", "-i", str(whole), "-c", "copy", str(source)])
    seconds = presented(source)["video"][1]
    assert abs(seconds - 2.9) < 0.05
    work = make_work(tmp_path, {"image_001.png": (0, 5, 10)}, scenes=[("image_001.png", 0.0, seconds)])
    out = tmp_path / "out.mp4"
    result = run_step3(source, work, out)
    assert "warning" not in capsys.readouterr().err
    spans = presented(out)
    assert abs(spans["video"][1] - presented(source)["audio"][1]) <= 0.010
    assert presented_sync_ms(out) <= 10 and result.sync_error_ms <= 10


def test_av1_matroska_with_opus_has_no_false_warning(tmp_path, capsys):
    source = tmp_path / "src.mkv"
    run_ffmpeg(["-f", "lavfi", "-t", "2", "-i", "testsrc2=s=160x90:r=24", "-f", "lavfi", "-t", "2",
                "-i", "sine=frequency=440:sample_rate=48000", "-c:v", "libaom-av1", "-cpu-used", "8",
                "-pix_fmt", "yuv420p", "-c:a", "libopus", str(source)])
    work = make_work(tmp_path, {"image_001.png": (0, 5, 10)}, scenes=[("image_001.png", 0.0, 2.0)])
    out = tmp_path / "out.mp4"
    result = run_step3(source, work, out)
    assert "warning" not in capsys.readouterr().err
    assert result.audio == "encoded" and len(read_frames(out)) == 48
    assert presented_sync_ms(out) <= 10 and abs(presented(out)["audio"][1] - 2.0) < 0.005


def test_audio_that_starts_late_is_reported_and_kept_in_place(tmp_path, capsys):
    source = tmp_path / "src.mp4"
    run_ffmpeg(["-f", "lavfi", "-t", "4", "-i", "color=c=gray:s=160x90:r=25", "-itsoffset", "2",
                "-f", "lavfi", "-t", "2", "-i", "sine=frequency=440:sample_rate=44100",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(source)])
    work = make_work(tmp_path, {"image_001.png": (0, 5, 10)}, scenes=[("image_001.png", 0.0, 4.0)])
    out = tmp_path / "out.mp4"
    result = run_step3(source, work, out)
    err = capsys.readouterr().err
    assert "starts 1.97" in err and "after the first picture" in err
    assert result.sync_error_ms > 1900  # reported, not called 0.0 ms
    spans = presented(out)
    assert abs(spans["audio"][0] - presented(source)["audio"][0]) < 0.002  # still 2 s in
    assert abs(spans["video"][1] - spans["audio"][1]) <= 0.010  # the picture lasts as long as the sound


# ---- temporary files and output paths --------------------------------------------------------


@pytest.mark.parametrize("name", ["ep.partial.mp4", "ep.partial.{pid}.mp4", "ep.partial.1.mp4"])
def test_a_source_named_like_a_partial_file_survives(tmp_path, name):
    """`ep.partial.mp4 --step 3 -o ep.mp4` once deleted its own input before writing; so could one
    named like this very process's temporary file (the pid is filled in here, not in the test id,
    which must be the same in every test worker)."""
    name = name.format(pid=os.getpid())
    work = make_work(tmp_path, {"image_001.png": (0, 3, 25)}, scenes=[("image_001.png", 0.0, 1.0)])
    source = make_source(tmp_path / name, 1.0)
    data = source.read_bytes()
    run_step3(source, work, tmp_path / "ep.mp4")
    assert source.read_bytes() == data and (tmp_path / "ep.mp4").is_file()


@pytest.mark.parametrize(
    "target",
    ["timestamps.csv", "2_animated_clips/image_001.mp4", "2_animated_clips/new.mp4",
     "1_extracted_images/x.mp4"],
)
def test_output_may_not_overwrite_an_input_or_go_inside_the_work_folders(tmp_path, target):
    work = make_work(tmp_path, {"image_001.png": (0, 3, 25)}, scenes=[("image_001.png", 0.0, 1.0)])
    source = make_source(tmp_path / "src.mp4", 1.0)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(UserError, match="choose an output outside"):
        run_step3(source, work, tmp_path / target)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("name", ["out.mkv", "out.mov", "out"])
def test_an_output_name_that_is_not_mp4_is_refused(tmp_path, name):
    work = make_work(tmp_path, {"image_001.png": (0, 3, 25)}, scenes=[("image_001.png", 0.0, 1.0)])
    with pytest.raises(UserError, match=r"writes MP4 .*out\.mp4"):
        run_step3(make_source(tmp_path / "src.mp4", 1.0), work, tmp_path / name)
    assert not (tmp_path / name).exists()


@pytest.mark.skipif(sys.platform == "win32", reason="Windows cannot create the input ep:1.mp4 either")
def test_a_colon_in_the_default_output_name_stops_step_all_before_step_1(tmp_path):
    source = make_source(tmp_path / "ep:1.mp4", 1.0)
    proc = subprocess.run(
        [sys.executable, str(REPO / "animate_podcast_v2.py"), str(source), "--step", "all",
         "--provider", "kenburns"],
        cwd=tmp_path, capture_output=True, text=True, encoding="utf-8",
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "Windows" in proc.stderr and "-o" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ep:1.mp4"]  # step 1 never started


def test_leftovers_of_a_killed_run_are_cleaned_and_no_temp_goes_to_the_system_folder(tmp_path, monkeypatch):
    work = make_work(tmp_path, {"image_001.png": (0, 3, 25)}, scenes=[("image_001.png", 0.0, 1.0)])
    source = make_source(tmp_path / "src.mp4", 1.0)
    out = tmp_path / "out.mp4"
    stale_partial = tmp_path / "out.partial.99999.mp4"
    stale_partial.write_bytes(b"half a video")
    stale_temp = work.root / f"{layout.STEP3_TEMP_PREFIX}99999"
    (stale_temp / "unit_00000.mp4").parent.mkdir()
    (stale_temp / "unit_00000.mp4").write_bytes(b"x" * 1000)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "no system temp folder"))
    run_step3(source, work, out)
    assert out.is_file() and not stale_partial.exists() and not stale_temp.exists()
    assert not list(work.root.glob(f"{layout.STEP3_TEMP_PREFIX}*")) and not list(tmp_path.glob("*.partial.*"))


def test_a_full_disk_is_one_clear_error_and_the_previous_output_stays(tmp_path, monkeypatch):
    work = make_work(tmp_path, {"image_001.png": (0, 3, 25)}, scenes=[("image_001.png", 0.0, 1.0)])
    out = tmp_path / "out.mp4"
    out.write_bytes(b"the previous output")

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("podcast_img2vid.step3.encode.encode_segment", disk_full)
    with pytest.raises(UserError, match=r"disk is full .*free some space"):
        run_step3(make_source(tmp_path / "src.mp4", 1.0), work, out)
    assert out.read_bytes() == b"the previous output"
    assert not list(tmp_path.glob("*.partial.*")) and not list(tmp_path.glob(f"{layout.STEP3_TEMP_PREFIX}*"))


def test_a_work_folder_that_cannot_be_written_is_one_clear_error(tmp_path, monkeypatch):
    work = make_work(tmp_path, {"image_001.png": (0, 3, 25)}, scenes=[("image_001.png", 0.0, 1.0)])
    source = make_source(tmp_path / "src.mp4", 1.0)
    real_mkdir = Path.mkdir

    def read_only(self, *args, **kwargs):  # what a read-only folder (or a full one) answers
        if self.name.startswith(layout.STEP3_TEMP_PREFIX):
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    with pytest.raises(UserError, match=r"cannot write .*Permission denied"):
        run_step3(source, work, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in ffmpeg is a shell script")
def test_a_failed_audio_encode_is_one_clear_error(tmp_path, monkeypatch):
    work = make_work(tmp_path, {"image_001.png": (0, 3, 25)}, scenes=[("image_001.png", 0.0, 1.0)])
    source = make_source(tmp_path / "src.mkv", 1.0, audio="pcm")
    failing = tmp_path / "ffmpeg"
    failing.write_text("#!/bin/sh\necho 'Error while decoding stream #0:1: Invalid data' >&2\nexit 1\n")
    failing.chmod(0o755)
    monkeypatch.setattr("podcast_img2vid.media.ffmpeg_exe", lambda: str(failing))
    with pytest.raises(UserError, match=r"src\.mkv: its audio could not be converted to AAC \(Error while"):
        run_step3(source, work, tmp_path / "out.mp4")


# ---- what the summary and the errors say ------------------------------------------------------


def test_several_problems_are_listed_one_per_line_with_the_count_first(tmp_path):
    work = make_work(tmp_path, {}, scenes=CUTS)
    with pytest.raises(UserError) as e:
        run_step3(make_source(tmp_path / "src.mp4", 4.3), work, tmp_path / "out.mp4")
    lines = str(e.value).splitlines()
    assert lines[0].startswith("2 problems") and len(lines) == 3
    assert "image_001.mp4: missing" in lines[1] and "image_002.mp4: missing" in lines[2]


@pytest.mark.parametrize("pattern", ["loop", "freeze", "pingpong"])
def test_summary_says_when_the_pattern_was_not_needed(tmp_path, capsys, pattern):
    scenes = [("image_001.png", 0.0, 1.0), ("image_002.png", 1.0, 2.0)]
    clips = {"image_001.png": (0, 8, 8), "image_002.png": (1, 8, 8)}  # 1 s each, as long as the scenes
    long_enough = make_work(tmp_path / "long", clips, scenes)
    source = make_source(tmp_path / "src.mp4", 2.0)
    result = run_step3(source, long_enough, tmp_path / "a.mp4", pattern=pattern)
    assert f"pattern {pattern} not needed" in summary(result)
    short = make_work(tmp_path / "short", {"image_001.png": (0, 8, 8), "image_002.png": (1, 4, 8)}, scenes)
    result = run_step3(source, short, tmp_path / "b.mp4", pattern=pattern)
    assert f"pattern {pattern}" in summary(result) and "not needed" not in summary(result)


def test_a_second_audio_track_is_mentioned(tmp_path, capsys):
    work = make_work(tmp_path, {"image_001.png": (0, 3, 25)}, scenes=[("image_001.png", 0.0, 1.0)])
    one = make_source(tmp_path / "one.mp4", 1.0)
    source = tmp_path / "two.mp4"
    run_ffmpeg(["-i", str(one), "-i", str(one), "-map", "0:v", "-map", "0:a", "-map", "1:a", "-c", "copy",
                str(source)])
    run_step3(source, work, tmp_path / "out.mp4")
    assert "has 2 audio tracks; the output gets the first one only" in capsys.readouterr().err


def test_anamorphic_source_gives_square_pixels_at_the_display_size(tmp_path):
    """720x576 with SAR 64:45 (here 180x144) is shown 16:9; the output must not be squeezed to 5:4."""
    source = tmp_path / "src.mp4"
    run_ffmpeg(["-f", "lavfi", "-t", "1", "-i", "color=c=gray:s=180x144:r=25", "-f", "lavfi", "-t", "1",
                "-i", "sine=frequency=440", "-vf", "setsar=64/45", "-c:v", "libx264", "-preset", "ultrafast",
                "-pix_fmt", "yuv420p", "-c:a", "aac", str(source)])
    assert probe(source).sample_aspect == Fraction(64, 45)
    work = make_work(tmp_path, {"image_001.png": (0, 3, 25)}, scenes=[("image_001.png", 0.0, 1.0)])
    out = tmp_path / "out.mp4"
    run_step3(source, work, out)
    frame = read_frames(out)[0]
    assert frame.shape[:2] == (144, 256)
    assert probe(out).sample_aspect == 1
    assert frame[:, :8].mean() > 20 and frame[:, -8:].mean() > 20  # the 16:9 clip fills it: no side bars


def test_write_video_keeps_one_frame_at_a_time(tmp_path):
    """A clip is written as it is made (Ken Burns makes 18000 frames for a 10-minute scene)."""
    alive: list[weakref.ref] = []

    def frames():
        for k in range(30):
            assert all(ref() is None for ref in alive[:-2]), f"frame {k}: earlier frames are still held"
            frame = np.full((64, 96, 3), 8 * k, np.uint8)
            alive.append(weakref.ref(frame))
            yield frame

    assert write_video(frames(), tmp_path / "clip.mp4", 25) == 30
    assert len(read_frames(tmp_path / "clip.mp4")) == 30


def test_step_all_refuses_an_output_inside_the_work_folders_before_step_1(tmp_path):
    source = make_source(tmp_path / "ep.mp4", 1.0)
    proc = subprocess.run(
        [sys.executable, str(REPO / "animate_podcast_v2.py"), str(source), "--step", "all", "--provider",
         "kenburns", "-o", str(tmp_path / layout.CLIPS_DIR / "ep.mp4")],
        cwd=tmp_path, capture_output=True, text=True, encoding="utf-8",
    )
    assert proc.returncode == 2 and "choose an output outside" in proc.stderr, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ep.mp4"]  # step 1 never started
