"""Step 1 end to end on real encodes with known cut frames: cuts, pictures, CSV, dedupe, re-runs,
bad input.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from step1_media import (
    Clip,
    blinking_logo,
    encode,
    on_dark,
    picture,
    progress_bar,
    waveform,
    with_object,
)

from podcast_img2vid.errors import UserError
from podcast_img2vid.media import probe, run_ffmpeg
from podcast_img2vid.step1.detect import METRIC_KEYS
from podcast_img2vid.step1.extract import Step1Result, run_step1, summary
from podcast_img2vid.step1.scan import ANALYSIS_FPS
from podcast_img2vid.workdir import layout

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "sample_podcast.mp4"


def step1_result(video: Path, root: Path, **options) -> Step1Result:
    """Run step 1 and check that timestamps.csv says what it returned."""
    work = layout.WorkDir(root)
    result = run_step1(video, work, **options)
    scenes = result.scenes
    written = layout.read_scenes(work.csv_path)
    assert [(s.image, s.start_frame, s.end_frame) for s in written] == [
        (s.image, s.start_frame, s.end_frame) for s in scenes
    ]
    assert [s.end for s in written] == pytest.approx([s.end for s in scenes], abs=1e-6)
    return result


def step1(video: Path, root: Path, **options) -> list[layout.Scene]:
    return step1_result(video, root, **options).scenes


def starts(scenes: list[layout.Scene]) -> list[int]:
    return [s.start_frame for s in scenes[1:]]


def assert_cuts(scenes: list[layout.Scene], expected: list[int]) -> None:
    found = starts(scenes)
    assert len(found) == len(expected), f"cuts {found}, expected {expected}"
    close = all(abs(a - b) <= 1 for a, b in zip(found, expected, strict=True))
    assert close, f"cuts {found}, expected {expected}"


def assert_tiles(scenes: list[layout.Scene], video: Path) -> None:
    info = probe(video)
    assert scenes[0].start == 0 and scenes[0].start_frame == 0
    for prev, cur in zip(scenes, scenes[1:], strict=False):
        assert cur.start == prev.end and cur.start_frame == prev.end_frame
        assert cur.start == pytest.approx(cur.start_frame / float(info.fps), abs=1e-3)
    assert scenes[-1].end == pytest.approx(info.duration, abs=1e-6)
    assert scenes[-1].end_frame == info.frame_count


def assert_pictures(root: Path, scenes: list[layout.Scene], sources: list[np.ndarray]) -> None:
    """Each scene's saved picture is its own source (up to codec error) at full size, and where
    its source differs from another scene's, it shows its own source (not a dissolve, not a neighbour)."""
    images = layout.WorkDir(root).images_dir
    for scene, source in zip(scenes, sources, strict=True):
        saved = np.asarray(Image.open(images / scene.image).convert("RGB")).astype(np.float64)
        assert saved.shape == source.shape
        assert np.abs(saved - source).mean() < 4.0, scene
        for other in sources:
            region = np.abs(source.astype(np.float64) - other).max(axis=2) > 40
            if region.any():
                own = np.abs(saved - source)[region].mean()
                assert own < 10 and own < 0.3 * np.abs(saved - other)[region].mean(), scene


@pytest.fixture(scope="module")
def main_clip(tmp_path_factory) -> tuple[Path, Clip, list[np.ndarray]]:
    """Hard cut between two pictures on a shared dark background, a 0.8 s dissolve, a 1 % edit,
    then the first picture again."""
    a, b, c = on_dark(1), on_dark(2), picture(3)
    edit = with_object(c, 0.01)
    sources = [a, b, c, edit, a]
    clip = Clip([(a, 40), (b, 45), (c, 50), (edit, 40), (a, 35)], dissolves={2: 24})
    video = encode(clip, tmp_path_factory.mktemp("main") / "main.mp4")
    return video, clip, sources


def test_cuts_dissolve_small_edit_pictures_and_dedupe(main_clip, tmp_path):
    video, clip, sources = main_clip
    result = step1_result(video, tmp_path)
    scenes = result.scenes
    assert_cuts(scenes, clip.cuts)
    assert_tiles(scenes, video)
    assert [s.image for s in scenes] == [layout.image_name(n) for n in (1, 2, 3, 4, 1)]
    assert sorted(p.name for p in layout.WorkDir(tmp_path).images_dir.iterdir()) == [
        layout.image_name(n) for n in (1, 2, 3, 4)
    ]
    assert_pictures(tmp_path, scenes, sources)
    sheet = Image.open(tmp_path / layout.CONTACT_SHEET)
    assert sheet.format == "JPEG" and sheet.width >= 5 * 256
    out = summary(result)
    assert "5 scene(s) found, 4 picture(s) written" in out and layout.CONTACT_SHEET in out


def test_no_dedupe_gives_every_scene_its_picture(main_clip, tmp_path, capsys):
    video, clip, sources = main_clip
    scenes = step1(video, tmp_path, dedupe=False)
    assert [s.image for s in scenes] == [layout.image_name(n) for n in range(1, 6)]
    assert_pictures(tmp_path, scenes, sources)


def test_sample_video_true_cuts(tmp_path, capsys):
    with (REPO / "samples" / "sample_podcast_cuts.csv").open(encoding="utf-8") as f:
        truth = list(csv.DictReader(f))
    scenes = step1(SAMPLE, tmp_path)
    assert [(s.start_frame, s.end_frame) for s in scenes] == [
        (int(t["start_frame"]), int(t["end_frame"])) for t in truth
    ]
    assert_tiles(scenes, SAMPLE)
    photos = [t["photo"] for t in truth]
    first_use = {photo: scenes[photos.index(photo)].image for photo in photos}
    assert [s.image for s in scenes] == [first_use[p] for p in photos]
    assert len(set(first_use.values())) == 6


@pytest.mark.parametrize(
    "overlays",
    [(waveform,), (blinking_logo,), ("progress",), (waveform, blinking_logo, "progress")],
    ids=["waveform", "blinking-logo", "progress-bar", "all-overlays"],
)
def test_overlays_make_no_scenes(overlays, tmp_path, capsys):
    clip = Clip([(picture(11), 70), (picture(12), 60), (with_object(picture(12), 0.02, (30, 60, 240)), 50)])
    drawn = tuple(progress_bar(clip.frame_count) if o == "progress" else o for o in overlays)
    video = encode(clip, tmp_path / "overlay.mp4", overlays=drawn)
    scenes = step1(video, tmp_path / "work")
    assert_cuts(scenes, clip.cuts)


def test_grain_makes_no_scenes(tmp_path, capsys):
    clip = Clip([(on_dark(21), 60), (on_dark(22), 60), (picture(23), 40)], dissolves={2: 20})
    video = encode(clip, tmp_path / "grain.mp4", grain=12.0)
    scenes = step1(video, tmp_path / "work")
    assert_cuts(scenes, clip.cuts)


@pytest.mark.parametrize(
    ("fps", "size"),
    [
        (Fraction(30000, 1001), (320, 180)), (25, (180, 320)), (24, (322, 182)),
        (60, (320, 180)), (12, (320, 180)),
    ],
    ids=["29.97fps", "portrait", "unusual-size", "60fps", "12fps"],
)
def test_frame_rates_and_sizes(fps, size, tmp_path, capsys):
    a, b, c = picture(31, size), on_dark(32, size), on_dark(33, size)
    clip = Clip([(a, 35), (b, 40), (c, 30)], dissolves={2: 16})
    video = encode(clip, tmp_path / "clip.mp4", fps=fps)
    scenes = step1(video, tmp_path / "work")
    assert_cuts(scenes, clip.cuts)
    assert_tiles(scenes, video)
    assert_pictures(tmp_path / "work", scenes, [a, b, c])


def test_one_picture_is_one_scene(tmp_path, capsys):
    video = encode(Clip([(picture(41), 50)]), tmp_path / "still.mp4")
    scenes = step1(video, tmp_path / "work")
    assert len(scenes) == 1 and scenes[0].image == layout.image_name(1)
    assert_tiles(scenes, video)


def test_min_scene_len_and_threshold(main_clip, tmp_path, capsys):
    video, clip, _ = main_clip
    # Scenes are 40-50 frames (1.3-1.7 s): a 1.6 s minimum drops the cuts that come sooner.
    assert len(step1(video, tmp_path / "long", min_scene_seconds=1.6)) < len(clip.slides)
    # A very high threshold no longer sees the small edit or the dim pictures' change.
    assert len(step1(video, tmp_path / "coarse", threshold=250)) < len(clip.slides)


def test_rerun_moves_old_results_to_a_backup(main_clip, tmp_path, capsys):
    video, _, _ = main_clip
    other = encode(Clip([(picture(51), 40), (picture(52), 40)]), tmp_path / "other.mp4")
    work = layout.WorkDir(tmp_path / "work")
    step1(video, work.root)
    old_csv = work.csv_path.read_text(encoding="utf-8")
    out = summary(step1_result(other, work.root))
    backups = list(work.root.glob(f"{layout.EXTRACTED_DIR}.bak-*"))
    assert len(backups) == 1
    backup = backups[0]
    assert str(backup) in out
    assert (backup / layout.TIMESTAMPS_CSV).read_text(encoding="utf-8") == old_csv
    assert len(list((backup / layout.EXTRACTED_DIR).iterdir())) == 4
    assert (backup / layout.CONTACT_SHEET).is_file()
    assert sorted(p.name for p in work.images_dir.iterdir()) == [layout.image_name(1), layout.image_name(2)]
    assert sorted(p.name for p in work.root.iterdir()) == sorted(
        [layout.EXTRACTED_DIR, layout.TIMESTAMPS_CSV, layout.CONTACT_SHEET, backup.name]
    )


def test_rerun_with_the_same_result_leaves_everything_as_it_was(main_clip, tmp_path, capsys):
    video, _, _ = main_clip
    work = layout.WorkDir(tmp_path / "work")
    step1(video, work.root)
    files = sorted(p for p in work.root.rglob("*") if p.is_file())
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    work.contact_sheet_path.unlink()
    assert "left as they were" in summary(step1_result(video, work.root))
    assert not list(work.root.glob(f"{layout.EXTRACTED_DIR}.bak-*"))
    assert sorted(p for p in work.root.rglob("*") if p.is_file()) == files  # the sheet is back
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files if p != work.contact_sheet_path} == {
        p: v for p, v in before.items() if p != work.contact_sheet_path
    }


def test_failed_rerun_keeps_the_previous_results(main_clip, tmp_path, capsys):
    video, _, _ = main_clip
    work = layout.WorkDir(tmp_path / "work")
    step1(video, work.root)
    before = sorted(p.relative_to(work.root) for p in work.root.rglob("*"))
    faststart = tmp_path / "faststart.mp4"  # index first: the scan starts, then the pictures stop
    run_ffmpeg(["-i", str(video), "-c", "copy", "-movflags", "+faststart", str(faststart)])
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(faststart.read_bytes()[: faststart.stat().st_size // 2])
    with pytest.raises(UserError, match="damaged.mp4"):
        run_step1(damaged, work)
    assert sorted(p.relative_to(work.root) for p in work.root.rglob("*")) == before


def test_variable_frame_rate(tmp_path, capsys):
    """Frames 0-29 at 30 fps then 15 fps: the cut lands on the right time."""
    clip = Clip([(picture(61), 45), (picture(62), 45)])
    cfr = encode(clip, tmp_path / "cfr.mp4")
    vfr = tmp_path / "vfr.mkv"
    run_ffmpeg(["-i", str(cfr), "-vf", "setpts='if(lt(N,30),N,30+(N-30)*2)/30/TB'", "-fps_mode", "vfr",
                "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", str(vfr)])
    scenes = step1(vfr, tmp_path / "work")
    assert len(scenes) == 2
    assert scenes[1].start == pytest.approx((30 + 15 * 2) / 30, abs=0.04)
    assert scenes[-1].end == pytest.approx(probe(vfr).duration, abs=1e-6)


def test_phone_video_with_a_rotation_tag_gives_upright_pictures(tmp_path):
    """Stored landscape with a 90-degree display rotation, as phones record portrait video."""
    still = tmp_path / "still.png"
    Image.fromarray(picture(71, (320, 180))).save(still)
    stored = tmp_path / "stored.mp4"
    run_ffmpeg(["-loop", "1", "-framerate", "25", "-t", "2", "-i", str(still), "-c:v", "libx264",
                "-pix_fmt", "yuv420p", str(stored)])
    tagged = tmp_path / "phone.mp4"
    run_ffmpeg(["-display_rotation", "90", "-i", str(stored), "-c", "copy", str(tagged)])
    shown = tmp_path / "shown.png"  # what a player shows: ffmpeg turns the frame by its tag
    run_ffmpeg(["-i", str(tagged), "-frames:v", "1", str(shown)])
    assert (probe(tagged).width, probe(tagged).height) == (180, 320)
    scenes = step1(tagged, tmp_path / "work")
    saved = np.asarray(Image.open(tmp_path / "work" / layout.EXTRACTED_DIR / scenes[0].image).convert("RGB"))
    expected = np.asarray(Image.open(shown).convert("RGB"))
    assert len(scenes) == 1 and saved.shape == expected.shape == (320, 180, 3)
    assert np.abs(saved.astype(int) - expected.astype(int)).mean() < 3


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "animate_podcast_v2.py"), *args],
        cwd=cwd, capture_output=True, text=True, encoding="utf-8",
    )


def test_cli_runs_in_current_folder_with_spaces_and_cjk(main_clip, tmp_path):
    video, clip, _ = main_clip
    folder = tmp_path / "我的 播客"
    folder.mkdir()
    named = folder / "第 1 集.mp4"
    shutil.copy(video, named)
    proc = cli(str(named), "--step", "1", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    scenes = layout.read_scenes(folder / layout.TIMESTAMPS_CSV)
    assert_cuts(scenes, clip.cuts)
    assert "Traceback" not in proc.stderr


def test_stats_file_has_every_analysed_frame_and_changes_no_cut(main_clip, tmp_path):
    """`--stats FILE`: the detector's metrics, one row per analysed frame (the frames SceneManager
    skips are not analysed), the cuts it reported among them, and the same cuts as without it."""
    video, clip, _ = main_clip
    without = step1(video, tmp_path / "without")
    folder = tmp_path / "with"
    folder.mkdir()
    proc = cli(str(video), "--step", "1", "--stats", "stats.csv", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    assert starts(layout.read_scenes(folder / layout.TIMESTAMPS_CSV)) == starts(without)
    with (folder / "stats.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["Frame Number", "Timecode", *sorted(METRIC_KEYS)]
    info = probe(video)
    every = round(float(info.fps) / ANALYSIS_FPS)
    assert [int(row["Frame Number"]) - 1 for row in rows] == list(range(0, info.frame_count, every))
    reported = [int(cut) for row in rows for cut in row["cut_frames"].split()]
    assert reported == starts(without)
    assert all(int(row["judged_blocks"]) > 0 for row in rows)
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == [
        layout.CONTACT_SHEET, "stats.csv", layout.TIMESTAMPS_CSV]


def make_bad_inputs(folder: Path, good: Path) -> dict[str, Path]:
    text = folder / "notes.mp4"
    text.write_text("not a video\n", encoding="utf-8")
    empty = folder / "empty.mp4"
    empty.write_bytes(b"")
    audio = folder / "audio only.m4a"
    run_ffmpeg(["-f", "lavfi", "-t", "2", "-i", "sine=frequency=440", "-c:a", "aac", str(audio)])
    cover = folder / "song with cover.m4a"  # audio plus an attached picture (cover art)
    Image.fromarray(picture(73, (64, 64))).save(folder / "cover.png")
    run_ffmpeg(["-i", str(audio), "-i", str(folder / "cover.png"), "-map", "0", "-map", "1", "-c:a", "copy",
                "-c:v", "png", "-disposition:v", "attached_pic", str(cover)])
    data = good.read_bytes()
    cut_end = folder / "truncated.mp4"  # moov at the end: the index is gone
    cut_end.write_bytes(data[: len(data) // 2])
    faststart = folder / "faststart.mp4"
    run_ffmpeg(["-i", str(good), "-c", "copy", "-movflags", "+faststart", str(faststart)])
    cut_data = folder / "truncated data.mp4"  # index intact, half the pictures missing
    cut_data.write_bytes(faststart.read_bytes()[: faststart.stat().st_size // 2])
    still = folder / "cover.png"  # a picture given as the video
    return {
        "picture": still,
        "missing": folder / "missing.mp4",
        "not-a-video": text,
        "empty": empty,
        "audio-only": audio,
        "audio with cover art": cover,
        "truncated": cut_end,
        "truncated-data": cut_data,
    }


def test_bad_inputs_give_one_line_and_exit_2(main_clip, tmp_path):
    video, _, _ = main_clip
    long_clip = encode(Clip([(picture(71), 90), (picture(72), 90)]), tmp_path / "long.mp4")
    for kind, path in make_bad_inputs(tmp_path, long_clip).items():
        proc = cli(str(path), "--step", "1", "--work-dir", str(tmp_path / "work"), cwd=tmp_path)
        lines = proc.stderr.strip().splitlines()
        error_lines = [line for line in lines if line.startswith("error:")]
        assert proc.returncode == 2, (kind, proc.stderr)
        assert len(error_lines) == 1 and path.name in error_lines[0], (kind, proc.stderr)
        assert "Traceback" not in proc.stderr, kind
        assert not (tmp_path / "work" / layout.TIMESTAMPS_CSV).exists(), kind
        if kind.startswith("audio"):
            assert "audio-only" in error_lines[0], (kind, proc.stderr)
        if kind == "picture":
            assert "is a picture, not a video" in error_lines[0], proc.stderr
    proc = cli(str(video), "--step", "1", "-t", "0", cwd=tmp_path)
    assert proc.returncode == 2 and "threshold" in proc.stderr
