"""The whole pipeline in one command (`--step all`) on the bundled sample, as a new user runs it."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from conftest import REPO, on_small_filesystem

from podcast_img2vid.media import probe, stream_durations
from podcast_img2vid.step3.assemble import fit_frame
from podcast_img2vid.workdir import layout
from podcast_img2vid.workdir.clip_record import file_sha256

SAMPLE = REPO / "samples" / "sample_podcast.mp4"
SAMPLE_CUTS = REPO / "samples" / "sample_podcast_cuts.csv"
THUMB = (160, 90)


def animate(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "animate_podcast_v2.py"), str(SAMPLE), "--step", "all", *args],
        cwd=cwd, capture_output=True, text=True, encoding="utf-8",
    )


def thumbs_at(path: Path, frame_numbers: list[int], size: tuple[int, int]) -> dict[int, np.ndarray]:
    """Small float thumbnails of the given frames, each first fitted into `size` as step 3 does."""
    wanted, out = set(frame_numbers), {}
    with av.open(str(path)) as container:
        for n, frame in enumerate(container.decode(video=0)):
            if n in wanted:
                fitted = fit_frame(frame.to_ndarray(format="rgb24"), *size)
                out[n] = cv2.resize(fitted, THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)
            if n >= max(wanted):
                break
    return out


def clip_on_screen(output: Path, clips: Path) -> list[str]:
    """For each true scene of the sample, which clip's picture is on screen mid-scene."""
    with SAMPLE_CUTS.open(encoding="utf-8") as f:
        truth = list(csv.DictReader(f))
    middles = [(int(r["start_frame"]) + int(r["end_frame"])) // 2 for r in truth]
    size = (probe(output).width, probe(output).height)
    shown = thumbs_at(output, middles, size)
    candidates = {}
    for clip in sorted(clips.glob("image_*.mp4")):
        if layout.INTERPOLATED_TAG in clip.name:  # step 3's cached interpolation, not a clip
            continue
        count = probe(clip).frame_count
        frames = range(count) if count <= 30 else [0, count // 2, count - 1]
        candidates[clip.name] = list(thumbs_at(clip, list(frames), size).values())
    return [
        min(candidates, key=lambda name: min(np.abs(t - shown[m]).mean() for t in candidates[name]))
        for m in middles
    ]


def expected_clips(work: Path) -> list[str]:
    scenes = layout.read_scenes(work / layout.TIMESTAMPS_CSV)
    return [layout.clip_name(s.image) for s in scenes]


def check_output(cwd: Path) -> Path:
    output = cwd / "sample_podcast_animated_v2.mp4"
    info = probe(output)
    assert (info.width, info.height) == (1280, 720)
    assert abs(info.fps - 30) < 0.01  # the average rate: the last frame ends exactly with the audio
    video_seconds, audio_seconds = stream_durations(output)
    assert abs(video_seconds - audio_seconds) * 1000 <= 10
    assert abs(video_seconds - probe(SAMPLE).duration) < 0.05
    assert clip_on_screen(output, cwd / layout.CLIPS_DIR) == expected_clips(cwd)
    return output


def test_step_all_with_kenburns_on_the_sample_then_a_rerun_reuses_the_clips(tmp_path):
    cwd = tmp_path / "我的 podcast"
    cwd.mkdir()
    sample_hash = file_sha256(SAMPLE)

    first = animate(cwd, "--provider", "kenburns")
    assert first.returncode == 0, first.stderr
    output = check_output(cwd)
    assert len(layout.referenced_images(layout.read_scenes(cwd / layout.TIMESTAMPS_CSV))) == 6
    clips = sorted((cwd / layout.CLIPS_DIR).glob("*.mp4"))
    assert len(clips) == 6  # the recurring picture is animated once
    assert all(probe(c).fps == 30 for c in clips)  # the source's rate: step 3 shows each frame once
    made = {c.name: (c.stat().st_mtime_ns, file_sha256(c)) for c in clips}
    # The last scene moves steadily to the very end: no jump back to the start of its move.
    with av.open(str(output)) as container:
        tail = [f.to_ndarray(format="gray").astype(np.int16) for f in container.decode(video=0)][-20:]
    steps = [np.abs(b - a).mean() for a, b in zip(tail, tail[1:], strict=False)]
    assert max(steps) < 3 * np.median(steps) + 0.5

    again = animate(cwd, "--provider", "kenburns")
    assert again.returncode == 0, again.stderr
    assert "made 0, skipped 6" in again.stdout
    assert not layout.WorkDir(cwd).backup_dirs()  # step 1 found the same: nothing moved
    assert {c.name: (c.stat().st_mtime_ns, file_sha256(c)) for c in clips} == made
    check_output(cwd)
    assert file_sha256(SAMPLE) == sample_hash  # the input is never touched


def test_step_all_with_the_tiny_svd_model_on_cpu(tmp_path, tiny_svd):
    result = animate(
        tmp_path, "--model", str(tiny_svd), "--device", "cpu",
        "--height", "64", "--width", "96", "--steps", "2", "-p", "pingpong", "--interpolate",
    )
    assert result.returncode == 0, result.stderr
    assert "step 2 (svd): made 6" in result.stdout
    check_output(tmp_path)
    cached = sorted((tmp_path / layout.CLIPS_DIR).glob(layout.interpolated_clip_glob("*")))
    assert len(cached) == 6 and all(probe(c).fps == 30 for c in cached)  # 7 fps clips made smooth


def test_step_2_flags_need_step_all(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "animate_podcast_v2.py"), str(SAMPLE), "--step", "3", "--model", "x"],
        cwd=tmp_path, capture_output=True, text=True, encoding="utf-8",
    )
    assert result.returncode == 2 and "step-2 flags need --step all" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--sed", "3"], "unrecognized arguments: --sed 3"), (["-o", str(SAMPLE)], "is the input video")],
)
def test_step_all_checks_its_arguments_before_step_1(tmp_path, args, message):
    result = animate(tmp_path, "--provider", "kenburns", *args)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and message in result.stderr
    assert list(tmp_path.iterdir()) == []  # step 1 never started


def test_step_all_finds_a_wrong_model_before_step_1(tmp_path):
    result = animate(tmp_path, "--model", str(tmp_path / "no such model"), "--device", "cpu")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "no such model" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # step 1 never started


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_step_all_without_a_gpu_says_so_before_step_1(tmp_path):
    result = animate(tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: no CUDA GPU") and "--provider kenburns" in result.stderr
    assert list(tmp_path.iterdir()) == []


STEP2_SCRIPT = (REPO / "step2_local_i2v_svd.py").read_text(encoding="utf-8")


def line_of(text: str) -> int:
    return STEP2_SCRIPT[:STEP2_SCRIPT.index(text)].count("\n") + 1


def edited_scripts(folder: Path, edits: dict[str, str] | None) -> Path:
    """Copies of the two scripts in `folder`, the step-2 one with `edits` (old line start -> new
    text) made as a user makes them (None: no step-2 script); the package is found through PYTHONPATH."""
    folder.mkdir()
    (folder / "animate_podcast_v2.py").write_bytes((REPO / "animate_podcast_v2.py").read_bytes())
    if edits is not None:
        text = STEP2_SCRIPT
        for old, new in edits.items():
            assert text.count(old) == 1
            text = text.replace(old, new)
        (folder / "step2_local_i2v_svd.py").write_text(text, encoding="utf-8")
    return folder / "animate_podcast_v2.py"


def run_copy(script: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script), *args], cwd=cwd, capture_output=True, text=True,
                          encoding="utf-8", env={**os.environ, "PYTHONPATH": str(REPO)})


def test_step_all_takes_the_constants_edited_in_the_step_2_script(tmp_path):
    """--step all reads step 2's defaults from the step-2 script beside it: an edited constant is
    the default in --help and what the checks before step 1 see."""
    work = tmp_path / "work"
    work.mkdir()
    script = edited_scripts(tmp_path / "a", {"HEIGHT = 576": "HEIGHT = 512"})
    help_text = " ".join(run_copy(script, work, "--help").stdout.split())
    assert "--height HEIGHT svd: clip height (multiple of 8) (default: 512)" in help_text

    missing = tmp_path / "edited model"
    script = edited_scripts(tmp_path / "b", {'MODEL_ID = "stabilityai/stable-video-diffusion-img2vid"':
                                             f"MODEL_ID = {str(missing)!r}",
                                             'DEVICE = "cuda"': 'DEVICE = "cpu"'})
    result = run_copy(script, work, str(SAMPLE), "--step", "all")
    assert result.returncode == 2 and str(missing) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and list(work.iterdir()) == []

    script = edited_scripts(tmp_path / "c", {"NUM_INFERENCE_STEPS = 25": "NUM_INFERENCE_STEPS = 0"})
    result = run_copy(script, work, str(SAMPLE), "--step", "all")
    assert result.returncode == 2 and result.stderr == "error: --steps must be at least 1 (got 0).\n"
    assert list(work.iterdir()) == []


@pytest.mark.parametrize(("edits", "message"), [
    ({"HEIGHT = 576": "HEIGHT = 288 * 2"},
     f"line {line_of('HEIGHT = 576')}: HEIGHT = 288 * 2 is not a plain value; write a number"),
    ({"SEED = 42": "SEED = (42"}, "was never closed; undo the last edit there"),
    ({"SEED = 42": ""}, "SEED not found at its top; put the line back"),
    (None, "step2_local_i2v_svd.py not found: step 2's defaults are the constants at its top"),
])
def test_a_step_2_script_animate_cannot_read_is_one_line(tmp_path, edits, message):
    work = tmp_path / "work"
    work.mkdir()
    script = edited_scripts(tmp_path / "scripts", edits)
    result = run_copy(script, work, str(SAMPLE), "--step", "1")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: {script.with_name('step2_local_i2v_svd.py')}")
    assert message in result.stderr and list(work.iterdir()) == []


def test_both_scripts_see_the_same_constants():
    """The step-2 script's own values and what --step all reads from its text are the same."""
    from podcast_img2vid.step2.cli import Constants

    assert Constants.read(REPO / "step2_local_i2v_svd.py") == step2_local_i2v_svd.CONSTANTS
    assert step2_local_i2v_svd.CONSTANTS.height == step2_local_i2v_svd.HEIGHT == 576


sys.path.insert(0, str(REPO))
import animate_podcast_v2  # noqa: E402
import step2_local_i2v_svd  # noqa: E402


@pytest.mark.parametrize(
    ("script", "args", "flag"),
    [
        (animate_podcast_v2, ["--step", "3", "--fps", "inf"], "--fps inf"),
        (animate_podcast_v2, ["--step", "3", "--fps", "1e-9"], "--fps 1e-09"),
        (animate_podcast_v2, ["--step", "all", "--provider", "kenburns", "--kenburns-fps", "-5"],
         "--kenburns-fps -5"),
        (step2_local_i2v_svd, ["--provider", "kenburns", "--kenburns-fps", "0"], "--kenburns-fps 0"),
        (step2_local_i2v_svd, ["--provider", "kenburns", "--kenburns-fps", "inf"], "--kenburns-fps inf"),
    ],
)
def test_unusable_frame_rates_are_one_line(tmp_path, capsys, script, args, flag):
    argv = [str(SAMPLE), *args] if script is animate_podcast_v2 else args
    assert script.main([*argv, "--work-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and err.startswith(f"error: {flag}: give a frame rate from 1 to 240")
    assert list(tmp_path.iterdir()) == []


def test_svd_settings_with_kenburns_are_said_not_to_apply(tmp_path, capsys):
    (tmp_path / layout.EXTRACTED_DIR).mkdir()
    assert step2_local_i2v_svd.main(["--provider", "kenburns", "--steps", "20", "--model", "x",
                                     "--work-dir", str(tmp_path)]) == 2  # (no pictures)
    warning = capsys.readouterr().err.splitlines()[0]
    assert warning == ("warning: --model, --steps only apply to --provider svd; "
                       "ignored with --provider kenburns")


@pytest.mark.parametrize(("step", "kilobytes", "read_only", "message"), [
    ("1", 256, True, "cannot write in the work folder (Read-only file system). Use a folder you can write"),
    ("all", 256, True, "cannot write in the work folder (Read-only file system). Use a folder you can write"),
    ("all", 100, False, "No space left on device; free some space, or use a folder on another disk"),
])
def test_read_only_or_full_work_folder_is_one_line(tmp_path, step, kilobytes, read_only, message):
    """A real read-only or full filesystem as the work folder (steps 1 and all)."""
    (tmp_path / "seed").mkdir()
    proc = on_small_filesystem(
        [sys.executable, str(REPO / "animate_podcast_v2.py"), str(SAMPLE), "--step", step,
         "--provider", "kenburns"] if step == "all" else
        [sys.executable, str(REPO / "animate_podcast_v2.py"), str(SAMPLE), "--step", step],
        tmp_path / "work", kilobytes, tmp_path / "seed", read_only=read_only,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]  # after step 1's progress bar
    assert last.startswith(f"error: {tmp_path / 'work'}") and message in last, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
