"""Smooth motion: interpolation quality against known motion, loop seams, and what it costs.

    python benchmarks/bench_motion.py            # quality, seams, per-clip cost, step 3 with/without
    python benchmarks/bench_motion.py --quick    # quality, seams and per-clip cost only

Truth: a photograph (a frame of samples/sample_podcast.mp4) moving smoothly (a sub-pixel zoom and
pan) rendered at 30 fps, 1024x576; every 4th frame of it is the "SVD-like" 14-frame 7.5 fps clip.
Each method rebuilds the 30 fps frames from the clip: frame repetition (step 3 without the
option), ffmpeg `framerate` (blending) and `minterpolate` (motion-compensated, `--interpolate`).
PSNR and SSIM are against the truth, averaged over the frames between the clip's frames (the
clip's own frames are the same for every method) and over all frames.

Seams: the largest and the loop-point steps between consecutive frames as played, divided by the
median step between consecutive frames inside the clip (1 = an ordinary frame of motion), for
-p loop and -p seamless, on the 7.5 fps clip itself and on its 30 fps interpolation.

Cost: seconds per clip, and step 3 on bench_step3's 56-s 12-scene case (12 stand-in clips,
14 frames at 7 fps, 1024x576) without and with --interpolate: first run and cached re-run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from bench_step3 import make_case, timed  # noqa: E402
from motion_media import mean_abs_diff, psnr, ssim  # noqa: E402

from podcast_img2vid.kenburns import zoom_pan  # noqa: E402
from podcast_img2vid.media import read_frames, write_video  # noqa: E402
from podcast_img2vid.step3.interpolate import Interpolation, interpolated_clip  # noqa: E402
from podcast_img2vid.step3.plan import Blend, clip_units, resample, scene_indices, shown_frame  # noqa: E402
from podcast_img2vid.step3.run import run_step3  # noqa: E402
from podcast_img2vid.workdir import layout  # noqa: E402

FPS = Fraction(30)
EVERY = 4
CLIP_FRAMES = 14
SIZE = (1024, 576)
# (zoom start, zoom end), (pan centre start, pan centre end): three moves of SVD-like strength.
MOVES = (
    ((1.05, 1.20), ((0.30, 0.40), (0.70, 0.60))),
    ((1.20, 1.08), ((0.60, 0.50), (0.45, 0.50))),
    ((1.10, 1.10), ((0.50, 0.35), (0.50, 0.65))),
)
SAMPLE_FRAMES = (100, 300, 720)
"""Frames of the sample video used as photographs: the astronaut, the rocket, the cat (mid-scene)."""


def photographs() -> list[np.ndarray]:
    wanted, found = set(SAMPLE_FRAMES), []
    with av.open(str(ROOT / "samples" / "sample_podcast.mp4")) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                found.append(frame.to_ndarray(format="rgb24"))
            if len(found) == len(wanted):
                break
    return found


def truth_frames(photo: np.ndarray, move) -> list[np.ndarray]:
    count = (CLIP_FRAMES - 1) * EVERY + 1
    zoom, pan = move
    return [zoom_pan(photo, k / (count - 1), SIZE, zoom=zoom, pan=pan) for k in range(count)]


def cpu_seconds(children_only: bool = True) -> float:
    """CPU time used so far by finished child processes (ffmpeg), and by this process too unless
    `children_only`; 0 where not measurable. On a busy machine it is steadier than wall time."""
    try:
        import resource
    except ImportError:
        return 0.0
    who = [resource.RUSAGE_CHILDREN] + ([] if children_only else [resource.RUSAGE_SELF])
    return sum(resource.getrusage(w).ru_utime + resource.getrusage(w).ru_stime for w in who)


def rebuilt(method: str, clip_path: Path, clip: list[np.ndarray]) -> tuple[list[np.ndarray], float, float]:
    """The 30 fps frames `method` makes from the clip, and the wall and CPU seconds it took."""
    if method == "repetition":
        return [clip[i] for i in resample(list(range(len(clip))), FPS / EVERY, FPS)], 0.0, 0.0
    start, cpu = time.perf_counter(), cpu_seconds()
    path = interpolated_clip(clip_path, FPS, len(clip), FPS / EVERY, Interpolation(method=method))
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    frames = read_frames(path)
    path.unlink()
    return frames, seconds, cpu


def seam_steps(clip: list[np.ndarray], pattern: str) -> tuple[float, float]:
    """(mean step at the loop points, largest step anywhere) over three loops, in ordinary steps."""
    rate = Fraction(1)
    refs = scene_indices(clip_units(len(clip), rate, rate, pattern), 3 * len(clip))
    played = [shown_frame(ref, clip.__getitem__) for ref in refs]
    inside = float(np.median([mean_abs_diff(a, b) for a, b in zip(clip, clip[1:], strict=False)]))

    def onward(a, b) -> bool:  # the clip simply moves on by one frame (or one fade step)
        if isinstance(a, Blend) and isinstance(b, Blend):
            return b.a == a.a + 1
        return isinstance(a, int) and isinstance(b, int) and b == a + 1

    steps = [mean_abs_diff(a, b) / inside for a, b in zip(played, played[1:], strict=False)]
    seams = [s for s, a, b in zip(steps, refs, refs[1:], strict=False) if not onward(a, b)]
    return float(np.mean(seams)), max(steps)


def quality_and_seams() -> None:
    methods = ("repetition", "framerate", "minterpolate")
    measures = ("psnr_between", "ssim_between", "psnr_all", "ssim_all", "seconds", "cpu")
    scores = {m: {measure: [] for measure in measures} for m in methods}
    sources = ("7.5 fps clip", "30 fps minterpolate")
    seams = {(source, p): [] for source in sources for p in ("loop", "seamless")}
    with tempfile.TemporaryDirectory(prefix="bench_motion_") as tmp_name:
        clip_path = Path(tmp_name) / "image_001.mp4"
        for photo in photographs():
            for move in MOVES:
                truth = truth_frames(photo, move)
                write_video(truth[::EVERY], clip_path, FPS / EVERY)
                clip = read_frames(clip_path)
                for method in methods:
                    frames, seconds, cpu = rebuilt(method, clip_path, clip)
                    between = [j for j in range(len(truth)) if j % EVERY]
                    s = scores[method]
                    s["psnr_between"].append(np.mean([psnr(frames[j], truth[j]) for j in between]))
                    s["ssim_between"].append(np.mean([ssim(frames[j], truth[j]) for j in between]))
                    s["psnr_all"].append(np.mean([psnr(frames[j], truth[j]) for j in range(len(truth))]))
                    s["ssim_all"].append(np.mean([ssim(frames[j], truth[j]) for j in range(len(truth))]))
                    s["seconds"].append(seconds)
                    s["cpu"].append(cpu)
                    if method == "minterpolate":
                        for pattern in ("loop", "seamless"):
                            seams["30 fps minterpolate", pattern].append(seam_steps(frames, pattern))
                for pattern in ("loop", "seamless"):
                    seams["7.5 fps clip", pattern].append(seam_steps(clip, pattern))

    cases = len(scores["repetition"]["seconds"])
    print(f"Interpolation quality: {cases} cases (3 photographs x 3 moves), 1024x576, "
          f"{CLIP_FRAMES} frames at 7.5 fps -> 30 fps, against the true 30 fps frames")
    print(f"  {'method':<14}{'PSNR between':>14}{'SSIM between':>14}{'PSNR all':>10}{'SSIM all':>10}"
          f"{'s / clip':>10}{'CPU s':>8}")
    for method, s in scores.items():
        cost = (f"{np.mean(s['seconds']):>10.2f}{np.mean(s['cpu']):>8.2f}" if method != "repetition"
                else f"{'-':>10}{'-':>8}")
        print(f"  {method:<14}{np.mean(s['psnr_between']):>11.2f} dB{np.mean(s['ssim_between']):>14.4f}"
              f"{np.mean(s['psnr_all']):>7.2f} dB{np.mean(s['ssim_all']):>10.4f}{cost}")
    print("Loop seams (1 = an ordinary frame of motion; target for seamless <= 2): mean / worst over cases")
    print(f"  {'clip':<22}{'pattern':<10}{'at the loop point':>20}{'largest step anywhere':>24}")
    for (source, pattern), values in seams.items():
        at_seam = np.array([v[0] for v in values])
        worst = np.array([v[1] for v in values])
        print(f"  {source:<22}{pattern:<10}{at_seam.mean():>10.2f} / {at_seam.max():<7.2f}"
              f"{worst.mean():>14.2f} / {worst.max():<7.2f}")


def step3_costs() -> None:
    with tempfile.TemporaryDirectory(prefix="bench_motion_step3_") as tmp_name:
        root = Path(tmp_name)
        source, work, scenes = make_case(root / "case", 56.0)
        out = root / "out.mp4"

        def step3(**options) -> tuple[float, float]:
            cpu = cpu_seconds(children_only=False)
            with contextlib.redirect_stdout(io.StringIO()):
                seconds = timed(lambda: run_step3(source, work, out, **options))
            return seconds, cpu_seconds(children_only=False) - cpu

        rows = [
            ("-p loop (today)", step3()),
            ("-p seamless", step3(pattern="seamless")),
            ("--interpolate, first run", step3(interpolate=True)),
            ("--interpolate, cached re-run", step3(interpolate=True)),
            ("--interpolate -p seamless, cached", step3(pattern="seamless", interpolate=True)),
        ]
        cache = sorted(work.clips_dir.glob(layout.interpolated_clip_glob("*")))
        size = sum(p.stat().st_size for p in cache) / 1e6
        shutil.rmtree(work.clips_dir)
    print(f"Step 3 on the 56 s 720p30 case, {len(scenes)} scenes, 12 clips (14 frames @ 7 fps, 1024x576):")
    base, base_cpu = rows[0][1]
    for name, (seconds, cpu) in rows:
        print(f"  {name:<36}{seconds:7.2f} s ({seconds / base:5.2f}x)"
              f"   CPU {cpu:7.2f} s ({cpu / base_cpu:5.2f}x)")
    print(f"  cache: {len(cache)} files, {size:.1f} MB in {layout.CLIPS_DIR}/")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="skip the step-3 timings")
    args = parser.parse_args()
    quality_and_seams()
    if not args.quick:
        step3_costs()


if __name__ == "__main__":
    main()
