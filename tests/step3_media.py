"""Builds small step-3 inputs with real ffmpeg encodes: a source video with audio, a CSV, clips.

Every clip frame is a flat colour from `CODEBOOK`, so a decoded output frame tells which clip
and which of its frames is on screen (`identify`), with a frame-number bar drawn on top.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from podcast_img2vid.media import read_frames, run_ffmpeg, write_video
from podcast_img2vid.workdir import layout

LEVELS = (30, 100, 170, 240)
REPO = Path(__file__).resolve().parents[1]
CODEBOOK = np.array(list(itertools.product(LEVELS, repeat=3)), dtype=np.float64)
"""64 colours at least 70 levels apart; clip c frame k is CODEBOOK[code(c, k)]."""
FRAMES_PER_CLIP = 8


def code(clip: int, frame: int) -> int:
    return clip * FRAMES_PER_CLIP + frame


def make_source(
    path: Path,
    seconds: float,
    fps: Fraction | int = 25,
    size: tuple[int, int] = (320, 180),
    audio: str | None = "aac",
    audio_seconds: float | None = None,
    sample_rate: int = 44100,
) -> Path:
    """A still-looking source video; audio is a tone: "aac" (MP4) or "pcm" (MKV), or None."""
    fps = Fraction(fps)
    rate = f"{fps.numerator}/{fps.denominator}"
    args = ["-f", "lavfi", "-t", f"{seconds}", "-i", f"color=c=gray:s={size[0]}x{size[1]}:r={rate}"]
    if audio is not None:
        tone = f"sine=frequency=440:sample_rate={sample_rate}"
        args += ["-f", "lavfi", "-t", f"{audio_seconds or seconds}", "-i", tone]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio == "aac":
        args += ["-c:a", "aac", "-b:a", "96k"]
    elif audio == "pcm":
        args += ["-c:a", "pcm_s16le"]
    run_ffmpeg([*args, str(path)])
    return path


def make_clip(path: Path, clip: int, frames: int, fps: Fraction | int = 25, size=(320, 180)) -> Path:
    """A clip whose frame k is flat CODEBOOK[code(clip, k)] with a k-wide white bar at the top."""
    images = []
    for k in range(frames):
        image = np.empty((size[1], size[0], 3), np.uint8)
        image[:] = CODEBOOK[code(clip, k)].astype(np.uint8)
        image[:6, : 8 * (k + 1)] = 255
        images.append(image)
    write_video(images, path, fps)
    return path


def make_still(path: Path, clip: int, size=(320, 180)) -> Path:
    from PIL import Image

    image = np.empty((size[1], size[0], 3), np.uint8)
    image[:] = CODEBOOK[code(clip, 0)].astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)
    return path


def write_csv(work: layout.WorkDir, scenes: list[tuple[str, float, float]], fps: float = 25) -> None:
    rows = [
        layout.Scene(i + 1, image, start, end, round(start * fps), round(end * fps))
        for i, (image, start, end) in enumerate(scenes)
    ]
    work.root.mkdir(parents=True, exist_ok=True)
    layout.write_scenes(work.csv_path, rows)


def identify_frame(frame: np.ndarray) -> int:
    """Codebook entry nearest to the mean of the frame's centre (bars and marks excluded)."""
    h, w = frame.shape[:2]
    mean = frame[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3].reshape(-1, 3).mean(axis=0)
    return int(np.argmin(((CODEBOOK - mean) ** 2).sum(axis=1)))


def identify(path: Path) -> list[int]:
    return [identify_frame(f) for f in read_frames(path)]


def audio_packet_bytes(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]


def make_long_clip(path: Path, seconds: float, fps: int = 25, size=(320, 180)) -> Path:
    """A clip as long as a scene (as Ken Burns makes them): a gradient drifting one pixel a frame."""
    ramp = np.tile(np.arange(size[0] * 2, dtype=np.uint8), (size[1], 1))
    frames = (np.repeat(ramp[:, k % size[0] : k % size[0] + size[0], None], 3, axis=2)
              for k in range(round(seconds * fps)))
    write_video(frames, path, fps)
    return path


PEAK_RSS_CHILD = """
import sys
from pathlib import Path
from podcast_img2vid.workdir import layout
from podcast_img2vid.step3.run import run_step3
video, work, output, pattern = sys.argv[1:]
run_step3(Path(video), layout.WorkDir(Path(work)), Path(output), pattern=pattern)
# VmHWM, not ru_maxrss: on Linux ru_maxrss also counts the parent's memory at fork time.
status = Path("/proc/self/status").read_text(encoding="utf-8")
print(int(status.split("VmHWM:")[1].split()[0]) / 1024)
"""


def step3_peak_rss_mb(video: Path, work: layout.WorkDir, output: Path, pattern: str = "loop") -> float:
    """Peak resident memory (MiB) of a fresh process that runs step 3 and nothing else."""
    proc = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_CHILD, str(video), str(work.root), str(output), pattern],
        capture_output=True, text=True, encoding="utf-8", cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    return float(proc.stdout.strip().splitlines()[-1])


def presented(path: Path) -> dict[str, tuple[float, float] | None]:
    """(start, end) in seconds of the video and the first audio track as a player presents them.

    Measured by decoding, apart from step 3's own packet reading: the decoder drops what an
    edit list or a start offset hides (AAC priming, pictures before a stream-copy cut) and each
    frame carries its packet's duration. An edit list that ends inside the last audio packet
    (a stream-copy cut) ends the sound there, as ffprobe's stream duration says.
    """
    spans: dict[str, tuple[float, float] | None] = {"video": None, "audio": None}
    with av.open(str(path)) as container:
        for kind in spans:
            streams = getattr(container.streams, kind)
            if not streams:
                continue
            container.seek(0)
            start = end = None
            for frame in container.decode(streams[0]):
                t0 = float(frame.pts * frame.time_base)
                length = float(frame.duration * frame.time_base) if frame.duration else 0.0
                if kind == "audio":
                    heard = frame.samples / frame.sample_rate
                    length = min(length, heard) if length else heard
                start = t0 if start is None else min(start, t0)
                end = t0 + length if end is None else max(end, t0 + length)
            stream = streams[0]
            if start is not None and stream.duration:
                end = min(end, float(((stream.start_time or 0) + stream.duration) * stream.time_base))
            spans[kind] = (start, end) if start is not None else None
    return spans


def presented_sync_ms(path: Path) -> float:
    """|end of the picture - end of the sound| as presented, in ms."""
    spans = presented(path)
    return abs(spans["video"][1] - spans["audio"][1]) * 1000
