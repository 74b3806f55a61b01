"""Time step 3 against a one-pass ffmpeg filter graph and a bare libx264 encode, in one run.

    python benchmarks/bench_step3.py              # 56 s 720p30, 12 stand-in clips (14 frames @ 7 fps),
                                                  # without and with live overlays (subtitles + a logo)
    python benchmarks/bench_step3.py --minutes 60 # also a long source: sync error and peak memory
    python benchmarks/bench_step3.py --memory     # peak memory: one 60 s scene at 720p, 10 s of 4K,
                                                  # one 10-minute scene at 1080p (about 15 minutes)
    python benchmarks/bench_step3.py --overlay-memory  # peak memory with live overlays (/usr/bin/time -v):
                                                  # one 1- and one 10-minute scene at 720p, 10 s of 4K

The one-pass graph does the same job the way a hand-written ffmpeg command would: every clip
looped, resampled to 30 fps, trimmed to its scene, scaled/padded to 720p, concatenated, encoded
with libx264 veryfast, the source's AAC copied. The bare encode is libx264 veryfast on the same
number of 720p frames of one stand-in clip looped (decoding and scaling a 14-frame clip is cheap):
about the cost of encoding the whole video once.

With live overlays the one-pass graph does the same compositing: the source's difference from
each scene's clean picture, thresholded inside the masks, grown and feathered, is the alpha with
which the source is laid over the concatenated clips (`blend`, `lut`, `dilation`, `gblur`,
`alphamerge`, `overlay`).

Peak memory is measured in a fresh process that runs step 3 alone (its VmHWM, what
`/usr/bin/time -v` reports as maximum resident set size), on single-scene videos whose clip is as
long as the scene, as Ken Burns clips are: the case where memory used to grow with the scene.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from step3_media import PEAK_RSS_CHILD, REPO, step3_peak_rss_mb  # noqa: E402

from podcast_img2vid.media import run_ffmpeg, stream_durations, write_video  # noqa: E402
from podcast_img2vid.step3.run import run_step3  # noqa: E402
from podcast_img2vid.workdir import layout  # noqa: E402
from podcast_img2vid.workdir.overlays import KEY_LEVEL, Overlay, OverlaySet, write_overlays  # noqa: E402

FPS = 30
SIZE = (1280, 720)
CLIPS = 12


def make_clips(work: layout.WorkDir) -> None:
    """Stand-ins for SVD clips: 14 frames at 7 fps, 1024x576, a smooth picture drifting slowly."""
    rng = np.random.default_rng(3)
    for n in range(1, CLIPS + 1):
        small = rng.integers(0, 256, (40, 70, 3), dtype=np.uint8)
        big = cv2.resize(small, (1124, 636), interpolation=cv2.INTER_CUBIC)
        frames = [big[2 * k : 2 * k + 576, 3 * k : 3 * k + 1024] for k in range(14)]
        write_video(frames, work.clips_dir / layout.clip_name(layout.image_name(n)), 7)


def make_case(root: Path, seconds: float) -> tuple[Path, layout.WorkDir, list[layout.Scene]]:
    work = layout.WorkDir(root)
    make_clips(work)
    source = root / "source.mp4"
    run_ffmpeg([
        "-f", "lavfi", "-t", str(seconds), "-i", f"color=c=gray:s={SIZE[0]}x{SIZE[1]}:r={FPS}",
        "-f", "lavfi", "-t", str(seconds), "-i", "sine=frequency=330:sample_rate=44100",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "128k", str(source),
    ])
    rng = np.random.default_rng(5)
    scenes, t = [], 0.0
    mean = seconds / CLIPS if seconds < 120 else 4.7
    while t < seconds - 1e-6:
        end = seconds if seconds - t < 1.5 * mean else round(t + rng.uniform(0.6, 1.4) * mean, 3)
        image = layout.image_name(len(scenes) % CLIPS + 1)
        scenes.append(layout.Scene(len(scenes) + 1, image, t, end, round(t * FPS), round(end * FPS)))
        t = end
    layout.write_scenes(work.csv_path, scenes)
    return source, work, scenes


def one_pass_graph(source: Path, work: layout.WorkDir, scenes: list[layout.Scene], out: Path) -> None:
    inputs, chains = [], []
    w, h = SIZE
    for k, s in enumerate(scenes):
        inputs += ["-stream_loop", "-1", "-i", str(work.clips_dir / layout.clip_name(s.image))]
        chains.append(
            f"[{k}:v]fps={FPS},trim=duration={s.duration:.6f},setpts=PTS-STARTPTS,"
            f"scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,"
            f"setsar=1,format=yuv420p[v{k}]"
        )
    graph = ";".join(chains) + ";" + "".join(f"[v{k}]" for k in range(len(scenes)))
    graph += f"concat=n={len(scenes)}:v=1:a=0[v]"
    run_ffmpeg([
        *inputs, "-i", str(source), "-filter_complex", graph, "-map", "[v]", "-map", f"{len(scenes)}:a",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-c:a", "copy",
        "-movflags", "+faststart", str(out),
    ])


FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
LINES = ("小朋友們大家好", "今天我們來講一個故事", "從前從前，森林裡住著一隻小兔子", "", "Once upon a time",
         "牠每天都在草地上跳來跳去", "有一天，牠遇到了一隻烏龜")


def overlay_masks() -> tuple[np.ndarray, np.ndarray]:
    """(subtitle band, corner logo) masks at 720p: 255 where the overlay may show."""
    w, h = SIZE
    band = np.zeros((h, w), np.uint8)
    band[h - 130 : h - 20, 120 : w - 120] = 255
    logo = np.zeros((h, w), np.uint8)
    logo[20:90, w - 200 : w - 20] = 255
    return band, logo


def make_overlay_case(root: Path, seconds: float) -> tuple[Path, layout.WorkDir, list[layout.Scene]]:
    """`make_case` with a source that shows a still picture per scene (the scene's clean picture)
    under subtitles changing every 1-3 s and a corner logo, and step 1's overlays for it."""
    source, work, scenes = make_case(root, seconds)
    w, h = SIZE
    rng = np.random.default_rng(7)
    for n in range(1, CLIPS + 1):
        small = rng.integers(0, 256, (9, 16, 3), dtype=np.uint8)
        picture = cv2.resize(small, SIZE, interpolation=cv2.INTER_CUBIC)
        work.images_dir.mkdir(exist_ok=True)
        Image.fromarray(picture).save(work.images_dir / layout.image_name(n))
    font = ImageFont.truetype(FONT, 44)
    changes, t = [], 0.0
    while t < seconds:
        changes.append((t, LINES[len(changes) % len(LINES)]))
        t += rng.uniform(1, 3)

    def frames():
        shown = None
        for i in range(round(seconds * FPS)):
            t = i / FPS
            scene = next(s for s in reversed(scenes) if s.start <= t + 1e-9)
            line = next(text for start, text in reversed(changes) if start <= t + 1e-9)
            if shown is None or shown[0] != (scene.image, line):
                frame = Image.open(work.images_dir / scene.image).convert("RGB")
                draw = ImageDraw.Draw(frame)
                if line:
                    draw.text((w // 2, h - 75), line, font=font, anchor="mm", fill=(255, 255, 255),
                              stroke_width=3, stroke_fill=(0, 0, 0))
                draw.rounded_rectangle((w - 190, 30, w - 30, 80), radius=12, fill=(230, 40, 40))
                draw.text((w - 110, 55), "PODCAST", font=ImageFont.truetype(FONT, 28), anchor="mm",
                          fill=(255, 255, 255))
                shown = ((scene.image, line), np.asarray(frame))
            yield shown[1]

    silent = root / "silent.mp4"
    write_video(frames(), silent, FPS)
    run_ffmpeg(["-i", str(silent), "-i", str(source), "-map", "0:v", "-map", "1:a", "-c", "copy",
                str(root / "overlaid.mp4")])
    band, logo = overlay_masks()
    write_overlays(work.images_dir, OverlaySet(w, h, (Overlay("subtitles", band), Overlay("static", logo))))
    return root / "overlaid.mp4", work, scenes


def one_pass_overlay_graph(source: Path, work: layout.WorkDir, scenes: list[layout.Scene], out: Path) -> None:
    """`one_pass_graph` with the same compositing as step 3's live overlays, in one ffmpeg graph."""
    inputs, chains = [], []
    w, h = SIZE
    n = len(scenes)
    for k, s in enumerate(scenes):
        inputs += ["-stream_loop", "-1", "-i", str(work.clips_dir / layout.clip_name(s.image))]
        chains.append(
            f"[{k}:v]fps={FPS},trim=duration={s.duration:.6f},setpts=PTS-STARTPTS,"
            f"scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,"
            f"setsar=1,format=yuv420p[v{k}]"
        )
    for k, s in enumerate(scenes):  # each scene's clean picture, for as long as the scene
        inputs += ["-loop", "1", "-framerate", str(FPS), "-t", f"{s.duration:.6f}",
                   "-i", str(work.images_dir / s.image)]
        chains.append(f"[{n + k}:v]format=yuv420p,setsar=1[p{k}]")
    band, logo = overlay_masks()
    mask = out.with_name("graph_mask.png")
    Image.fromarray(np.maximum(band, logo)).save(mask)
    inputs += ["-i", str(source), "-loop", "1", "-framerate", str(FPS), "-i", str(mask)]
    src, msk = 2 * n, 2 * n + 1
    chains.append("".join(f"[v{k}]" for k in range(n)) + f"concat=n={n}:v=1:a=0[clips]")
    chains.append("".join(f"[p{k}]" for k in range(n)) + f"concat=n={n}:v=1:a=0[clean]")
    chains.append(f"[{src}:v]format=yuv420p,split=2[s1][s2]")
    chains.append(f"[{msk}:v]format=gray[m]")
    grow = "dilation=coordinates=255"
    chains.append(
        f"[s1][clean]blend=all_mode=difference,format=gray,lut=c0='if(gt(val,{KEY_LEVEL}),255,0)'[d];"
        f"[d][m]blend=all_mode=multiply:shortest=1,{grow},gblur=sigma=1[alpha]"
    )
    chains.append("[s2][alpha]alphamerge[fg];[clips][fg]overlay=shortest=1,format=yuv420p[v]")
    run_ffmpeg([
        *inputs, "-filter_complex", ";".join(chains), "-map", "[v]", "-map", f"{src}:a",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-c:a", "copy",
        "-movflags", "+faststart", str(out),
    ])


def bare_encode(clip: Path, frames: int, out: Path) -> None:
    run_ffmpeg([
        "-stream_loop", "-1", "-i", str(clip), "-vf", f"fps={FPS},scale={SIZE[0]}:{SIZE[1]}",
        "-frames:v", str(frames), "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
        "-pix_fmt", "yuv420p", str(out),
    ])


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (0 where unknown)."""
    try:
        import resource
    except ImportError:
        return 0.0
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(job) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of `job`: on a busy machine the CPU time is the steadier one."""
    start, cpu = time.perf_counter(), cpu_seconds()
    with contextlib.redirect_stderr(io.StringIO()):
        job()
    return time.perf_counter() - start, cpu_seconds() - cpu


def sync_ms(path: Path) -> float:
    video, audio = stream_durations(path)
    return abs(video - audio) * 1000


def peak_memory() -> str:
    """Peak resident memory of this process (Linux/macOS only; the benchmark runs there)."""
    try:
        import resource
    except ImportError:
        return "n/a on this platform"
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"


MEMORY_CASES = [(60, (1280, 720)), (10, (3840, 2160)), (600, (1920, 1080))]
"""(seconds, size) of the single-scene videos whose step-3 peak memory `--memory` measures."""


def single_scene_case(root: Path, seconds: float, size: tuple[int, int]) -> tuple[Path, layout.WorkDir]:
    """A source of one scene and a moving clip as long as it (a test pattern, quick to make)."""
    work = layout.WorkDir(root)
    work.clips_dir.mkdir(parents=True)
    w, h = size
    run_ffmpeg([
        "-f", "lavfi", "-t", str(seconds + 1), "-i", f"testsrc2=s={w}x{h}:r={FPS}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        str(work.clips_dir / layout.clip_name(layout.image_name(1))),
    ])
    source = root / "source.mp4"
    run_ffmpeg([
        "-f", "lavfi", "-t", str(seconds), "-i", f"color=c=gray:s={w}x{h}:r={FPS}",
        "-f", "lavfi", "-t", str(seconds), "-i", "sine=frequency=330:sample_rate=48000",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(source),
    ])
    scene = layout.Scene(1, layout.image_name(1), 0.0, float(seconds), 0, seconds * FPS)
    layout.write_scenes(work.csv_path, [scene])
    return source, work


def measure_memory(root: Path) -> None:
    print("peak memory of step 3 (a fresh process), one scene with a clip as long as the scene:")
    for seconds, (w, h) in MEMORY_CASES:
        source, work = single_scene_case(root / f"memory_{seconds}_{h}", seconds, (w, h))
        start = time.perf_counter()
        peak = step3_peak_rss_mb(source, work, work.root / "out.mp4")
        took = time.perf_counter() - start
        print(f"  {seconds:4d} s {w}x{h}: {peak:7.0f} MiB   ({took:.0f} s)")


OVERLAY_MEMORY_CASES = [(60, (1280, 720)), (600, (1280, 720)), (10, (3840, 2160))]
"""(seconds, size) of the single-scene videos with live overlays whose peak memory is measured."""


def measure_overlay_memory(
    root: Path, cases: list[tuple[int, tuple[int, int]]] = OVERLAY_MEMORY_CASES
) -> None:
    """Peak memory of step 3 with live overlays, as `/usr/bin/time -v` reports it (Linux)."""
    print("peak memory of step 3 with live overlays (/usr/bin/time -v, maximum resident set size):")
    for seconds, (w, h) in cases:
        source, work = single_scene_case(root / f"overlays_{seconds}_{h}", seconds, (w, h))
        moving = work.root / "moving.mp4"  # the source's picture moves: the whole mask is keyed
        run_ffmpeg(["-i", str(source), "-f", "lavfi", "-t", str(seconds), "-i", f"testsrc2=s={w}x{h}:r={FPS}",
                    "-map", "1:v", "-map", "0:a", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "copy",
                    str(moving)])
        work.images_dir.mkdir()
        Image.new("RGB", (w, h), (128, 128, 128)).save(work.images_dir / layout.image_name(1))
        band, logo = (cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST) for m in overlay_masks())
        overlays = (Overlay("subtitles", band), Overlay("static", logo))
        write_overlays(work.images_dir, OverlaySet(w, h, overlays))
        start = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-v", sys.executable, "-c", PEAK_RSS_CHILD, str(moving), str(work.root),
             str(work.root / "out.mp4"), "loop"],
            capture_output=True, text=True, encoding="utf-8", cwd=REPO,
        )
        took = time.perf_counter() - start
        assert proc.returncode == 0, proc.stderr[-2000:]
        peak_kb = int(proc.stderr.split("Maximum resident set size (kbytes):")[1].split()[0])
        print(f"  {seconds:4d} s {w}x{h}: {peak_kb / 1024:7.0f} MiB   ({took:.0f} s, "
              f"{seconds * FPS / took:.1f} frames/s)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=None, help="also run a long source of this length")
    parser.add_argument("--memory", action="store_true", help="only measure peak memory (see above)")
    parser.add_argument("--overlay-memory", action="store_true",
                        help="only measure peak memory with live overlays (see above)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_step3_") as tmp_name:
        root = Path(tmp_name)
        if args.memory:
            measure_memory(root)
            return
        if args.overlay_memory:
            measure_overlay_memory(root)
            return
        source, work, scenes = make_case(root / "short", 56.0)
        frames = 56 * FPS
        ours = timed(lambda: run_step3(source, work, root / "ours.mp4"))
        graph = timed(lambda: one_pass_graph(source, work, scenes, root / "graph.mp4"))
        clip = work.clips_dir / layout.clip_name(scenes[0].image)
        bare = timed(lambda: bare_encode(clip, frames, root / "bare.mp4"))
        print(f"56 s 720p30, {len(scenes)} scenes, {CLIPS} clips (14 frames @ 7 fps, 1024x576):  wall / CPU")
        print(f"  our step 3          {ours[0]:6.2f} s / {ours[1]:6.2f} s   "
              f"sync error {sync_ms(root / 'ours.mp4'):.2f} ms")
        print(f"  one-pass ffmpeg     {graph[0]:6.2f} s / {graph[1]:6.2f} s   "
              f"sync error {sync_ms(root / 'graph.mp4'):.2f} ms")
        print(f"  bare libx264 encode {bare[0]:6.2f} s / {bare[1]:6.2f} s   ({frames} frames)")
        print(f"  ratio ours / one-pass = {ours[0] / graph[0]:.2f} wall, {ours[1] / graph[1]:.2f} CPU; "
              f"ours / bare encode = {ours[0] / bare[0]:.2f} wall, {ours[1] / bare[1]:.2f} CPU")

        source, work, scenes = make_overlay_case(root / "overlays", 56.0)
        ours = timed(lambda: run_step3(source, work, root / "ours_live.mp4"))
        graph = timed(lambda: one_pass_overlay_graph(source, work, scenes, root / "graph_live.mp4"))
        print("the same with live overlays (subtitles changing every 1-3 s + a logo):  wall / CPU")
        print(f"  our step 3          {ours[0]:6.2f} s / {ours[1]:6.2f} s   "
              f"sync error {sync_ms(root / 'ours_live.mp4'):.2f} ms")
        print(f"  one-pass ffmpeg     {graph[0]:6.2f} s / {graph[1]:6.2f} s   "
              f"sync error {sync_ms(root / 'graph_live.mp4'):.2f} ms")
        print(f"  ratio ours / one-pass = {ours[0] / graph[0]:.2f} wall, {ours[1] / graph[1]:.2f} CPU")

        if args.minutes:
            seconds = args.minutes * 60
            source, work, scenes = make_case(root / "long", seconds)
            (root / "ours.mp4").unlink()
            long_time, _ = timed(lambda: run_step3(source, work, root / "long.mp4"))
            print(f"{args.minutes:g} min 720p30, {len(scenes)} scenes: our step 3 {long_time:.1f} s, "
                  f"sync error {sync_ms(root / 'long.mp4'):.2f} ms, peak memory {peak_memory()}")


if __name__ == "__main__":
    main()
