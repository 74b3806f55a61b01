"""Step 1 speed against a bare ffmpeg decode of the same file, timed in the same run.

    python benchmarks/bench_step1.py                  # makes a 1-minute 720p30 podcast-like video
    python benchmarks/bench_step1.py --minutes 20     # a longer one (made once, kept in --cache)
    python benchmarks/bench_step1.py --video 001.mp4  # your own video
    python benchmarks/bench_step1.py --minutes 60 --moving   # every picture zooms and drifts

The bar (issue 2): step 1 takes at most 1.5x the time of `ffmpeg -i FILE -map 0:v -f null -`.
Runs alternate (bare, ours, bare, ours, ...) so a busy machine hurts both alike; the best of each
is compared. "ours" is the whole command, `animate_podcast_v2.py FILE --step 1`, start-up included
(about 0.3 s of Python imports, which dominates a 1-minute video; the bar is about long ones).
For a generated video the found cuts are also checked against the true ones. Generated videos are
encoded with x264 `veryfast` (the ratio compares step 1 with decoding that same file).
"""

from __future__ import annotations

import argparse
import csv
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from podcast_img2vid.media import ffmpeg_exe, run_ffmpeg  # noqa: E402
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


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, encoding="utf-8", errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=1.0, help="length of the generated video")
    parser.add_argument("--video", type=Path, help="time this video instead of a generated one")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "podcast_img2vid_bench",
                        help="folder that keeps generated videos between runs")
    parser.add_argument("--runs", type=int, default=2, help="timed runs of each")
    parser.add_argument("--moving", action="store_true",
                        help="every picture zooms and drifts (a Ken Burns move in the source)")
    args = parser.parse_args()

    truth = None
    if args.video is None:
        args.cache.mkdir(parents=True, exist_ok=True)
        kind = "_moving" if args.moving else ""
        video = args.cache / f"podcast_{args.minutes:g}min_720p30{kind}.mp4"
        truth_file = video.with_suffix(".cuts.txt")
        if not (video.is_file() and truth_file.is_file()):
            cuts = make_video(video, args.minutes, args.moving)
            truth_file.write_text(" ".join(map(str, cuts)), encoding="utf-8")
        truth = [int(x) for x in truth_file.read_text(encoding="utf-8").split()]
    else:
        video = args.video.resolve()

    bare_cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
                "-i", str(video), "-map", "0:v", "-f", "null", "-"]
    bare, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ours_cmd = [sys.executable, str(REPO / "animate_podcast_v2.py"), str(video), "--step", "1",
                    "--work-dir", str(work / "work")]
        for _ in range(args.runs):
            bare.append(timed(bare_cmd, work))
            ours.append(timed(ours_cmd, work))
        with (work / "work" / TIMESTAMPS_CSV).open(encoding="utf-8") as f:
            found = [int(row["start_frame"]) for row in csv.DictReader(f)][1:]

    print(f"video: {video}")
    print(f"bare ffmpeg decode: best {min(bare):.2f}s  (runs: {', '.join(f'{t:.2f}' for t in bare)})")
    print(f"step 1:             best {min(ours):.2f}s  (runs: {', '.join(f'{t:.2f}' for t in ours)})")
    print(f"ratio step 1 / bare decode: {min(ours) / min(bare):.2f}  (bar: 1.5 for a long video)")
    if min(bare) < 5:
        print("note: on a video this short, start-up time weighs a lot; try --minutes 10 or more")
    if truth is not None:
        exact = len(set(found) & set(truth))
        print(f"cuts: {len(truth)} true, {len(found)} found, {exact} exact to the frame")


if __name__ == "__main__":
    main()
