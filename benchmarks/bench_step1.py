"""Step 1 speed against a bare ffmpeg decode of the same file, timed in the same run.

    python benchmarks/bench_step1.py                  # 1-minute 720p30 podcasts, still and moving
    python benchmarks/bench_step1.py --minutes 60     # the bar's length (made once, kept in --cache)
    python benchmarks/bench_step1.py --video 001.mp4  # your own video
    python benchmarks/bench_step1.py --kinds still    # only the still one

The bar (issues 2, 20, 23): step 1 takes at most 1.5x the time of `ffmpeg -i FILE -map 0:v -f null -`,
on a still-picture podcast and on one where every picture zooms and drifts (a Ken Burns move in the
source). Runs alternate (bare, ours, bare, ours, ...) so a busy machine hurts both alike; the best of
each is compared, with the load average when it was taken. Both wall time and CPU time (user + system
of the whole process tree) are compared: on a shared machine the wall time mostly measures the others'
load, the CPU time much less so (it is not available on Windows). "ours" is the whole command,
`animate_podcast_v2.py FILE --step 1`, start-up included (about 0.3 s of Python imports, which
dominates a 1-minute video; the bar is about long ones). "decoded" is the share of the video's frames
step 1 decoded (the packet pre-scan, step1/prescan.py, skips quiet frames of still pictures), as
step 1's own summary says. For a generated video the found cuts are also checked against the true
ones.
Generated videos are encoded with x264 `veryfast` (the ratio compares step 1 with decoding that same
file); make the 60-minute ones with `nice` on a shared machine, they take a while.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

try:
    import resource
except ImportError:  # Windows: wall time only
    resource = None

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from podcast_img2vid.media import ffmpeg_exe, run_ffmpeg  # noqa: E402
from podcast_img2vid.step1.extract import DECODED_LINE  # noqa: E402
from podcast_img2vid.workdir.layout import TIMESTAMPS_CSV  # noqa: E402

WIDTH, HEIGHT, FPS = 1280, 720, 30


def slide(seed: int) -> Image.Image:
    """An illustration-like picture: a smooth colour field with shapes, on a plain margin."""
    rng = np.random.default_rng(seed)
    colours = rng.integers(0, 256, (6, 9, 3), dtype=np.uint8)
    field = Image.fromarray(colours).resize((1040, 640), Image.BICUBIC)
    draw = ImageDraw.Draw(field)
    for _ in range(12):
        x, y, r = int(rng.integers(0, 1040)), int(rng.integers(0, 640)), int(rng.integers(20, 140))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    canvas = Image.new("RGB", (WIDTH, HEIGHT), (246, 226, 196) if seed % 2 else (14, 16, 28))
    canvas.paste(field, (120, 40))
    return canvas


def make_video(path: Path, minutes: float, moving: bool = False) -> list[int]:
    """A static-image podcast: a new picture every 5-25 s (some come back). Returns the cut frames.

    With `moving`, every picture slowly zooms and drifts the whole time (a Ken Burns move already
    in the source), so no two frames are the same."""
    rng = random.Random(1)
    total = round(minutes * 60 * FPS)
    cuts, frame = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lines = []
        seeds = []
        while frame < total:
            length = min(rng.randint(5, 25) * FPS, total - frame)  # whole seconds: exact cut frames
            earlier = [s for s in seeds[:-1] if s != seeds[-1]]
            seed = rng.choice(earlier) if earlier and rng.random() < 0.15 else len(seeds) + 1
            seeds.append(seed)
            image = folder / f"slide_{seed}.png"
            if not image.exists():
                slide(seed).save(image)
            lines += [f"file '{image.as_posix()}'", f"duration {length / FPS:.6f}"]
            frame += length
            cuts.append(frame)
        lines.append(f"file '{image.as_posix()}'")  # the concat demuxer needs the last file twice
        playlist = folder / "slides.txt"
        playlist.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"making {path.name}: {minutes:g} min of 720p30, {len(cuts)} scenes ...", flush=True)
        filters = f"fps={FPS}"
        if moving:  # zoom 1.05-1.20 and drift, one input frame to one output frame: cuts stay exact
            filters += (
                f",zoompan=z='1.125+0.075*sin(2*PI*in/{FPS * 17})'"
                f":x='(iw-iw/zoom)/2*(1+0.8*sin(2*PI*in/{FPS * 23}))'"
                f":y='(ih-ih/zoom)/2*(1+0.8*cos(2*PI*in/{FPS * 29}))'"
                f":d=1:s={WIDTH}x{HEIGHT}:fps={FPS}"
            )
        run_ffmpeg([
            "-f", "concat", "-safe", "0", "-i", str(playlist), "-vf", f"{filters},format=yuv420p",
            "-frames:v", str(total), "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
            "-movflags", "+faststart", str(path),
        ])
    return cuts[:-1]


def children_cpu() -> float | None:
    """CPU seconds (user + system) of the finished child processes and theirs (None on Windows)."""
    if resource is None:
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], cwd: Path) -> tuple[float, float | None, str]:
    """Wall seconds, CPU seconds (None where not measured) and what it printed, of running `cmd`."""
    cpu, start = children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, encoding="utf-8", errors="replace")
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return wall, None if cpu is None else children_cpu() - cpu, proc.stdout


def load() -> str:
    """The 1-minute load average (not available on Windows)."""
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "n/a"


def seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def runs(timings: list[tuple[float, float | None, str]]) -> str:
    """Each run's wall time, CPU time and load."""
    return ", ".join(f"{wall:.2f}s cpu {seconds(cpu)} (load {at})" for wall, cpu, at in timings)


def best_cpu(timings: list[tuple[float, float | None, str]]) -> float | None:
    cpus = [cpu for _, cpu, _ in timings if cpu is not None]
    return min(cpus) if cpus else None


def decoded_share(printed: str) -> str:
    """The share of the video's frames step 1 decoded (the pre-scan's spare decoder included), as
    step 1's summary in `printed` says."""
    for line in printed.splitlines():
        if line.strip().startswith(DECODED_LINE):
            decoded, shown = re.findall(r"[\d,]+", line.split(DECODED_LINE, 1)[1])[:2]
            return f"{int(decoded.replace(',', '')) / int(shown.replace(',', '')):.0%}"
    return "n/a"


def generated(cache: Path, minutes: float, moving: bool) -> tuple[Path, list[int], int]:
    """A generated podcast (made once, kept in `cache`), its true cuts and its frame count."""
    cache.mkdir(parents=True, exist_ok=True)
    video = cache / f"podcast_{minutes:g}min_720p30{'_moving' if moving else ''}.mp4"
    truth_file = video.with_suffix(".cuts.txt")
    if not (video.is_file() and truth_file.is_file()):
        cuts = make_video(video, minutes, moving)
        truth_file.write_text(" ".join(map(str, cuts)), encoding="utf-8")
    truth = [int(x) for x in truth_file.read_text(encoding="utf-8").split()]
    return video, truth, round(minutes * 60 * FPS)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=1.0, help="length of the generated videos")
    parser.add_argument("--kinds", nargs="+", default=["still", "moving"], choices=["still", "moving"],
                        help="which generated videos to time")
    parser.add_argument("--video", type=Path, help="time this video instead of generated ones")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "podcast_img2vid_bench",
                        help="folder that keeps generated videos between runs")
    parser.add_argument("--runs", type=int, default=2, help="timed runs of each")
    args = parser.parse_args()

    if args.video is not None:
        videos = {args.video.name: (args.video.resolve(), None, None)}
    else:
        videos = {f"{args.minutes:g} min {kind}": generated(args.cache, args.minutes, kind == "moving")
                  for kind in args.kinds}

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, (video, truth, _) in videos.items():
            bare_cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
                        "-i", str(video), "-map", "0:v", "-f", "null", "-"]
            ours_cmd = [sys.executable, str(REPO / "animate_podcast_v2.py"), str(video), "--step", "1",
                        "--work-dir", str(work / "work")]
            bare, ours = [], []
            for _ in range(args.runs):
                wall, cpu, _ = timed(bare_cmd, work)
                bare.append((wall, cpu, load()))
                wall, cpu, printed = timed(ours_cmd, work)
                ours.append((wall, cpu, load()))
            with (work / "work" / TIMESTAMPS_CSV).open(encoding="utf-8") as f:
                scenes = list(csv.DictReader(f))
            found = [int(row["start_frame"]) for row in scenes][1:]
            rows.append((name, bare, ours, decoded_share(printed), found, truth))
            print(f"{name}: bare {runs(bare)}; step 1 {runs(ours)}", flush=True)

    print("\n| video | bare decode: wall / CPU | step 1: wall / CPU | ratio: wall / CPU | frames decoded "
          "| cuts found / exact / true |")
    print("|---|---|---|---|---|---|")
    for name, bare, ours, share, found, truth in rows:
        cuts = f"{len(found)} / {len(set(found) & set(truth))} / {len(truth)}" if truth is not None else "n/a"
        (bare_wall, bare_load), bare_cpu = min((w, a) for w, _, a in bare), best_cpu(bare)
        (ours_wall, ours_load), ours_cpu = min((w, a) for w, _, a in ours), best_cpu(ours)
        cpu_ratio = f"{ours_cpu / bare_cpu:.2f}" if bare_cpu and ours_cpu is not None else "n/a"
        print(f"| {name} | {bare_wall:.2f} s (load {bare_load}) / {seconds(bare_cpu)} | "
              f"{ours_wall:.2f} s (load {ours_load}) / {seconds(ours_cpu)} | "
              f"{ours_wall / bare_wall:.2f} / {cpu_ratio} | {share} | {cuts} |")
    print("\nbar: ratio at most 1.5 on a 60-minute video; on a short one, start-up time weighs a lot")


if __name__ == "__main__":
    main()
