"""Media helpers shared by all steps: the bundled ffmpeg, probing with PyAV, writing clips.

No system ffmpeg/ffprobe is needed: ffmpeg comes from `imageio-ffmpeg`, probing and exact
packet timing come from PyAV. Subprocesses always get argument lists, never shell strings.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path

import av
import imageio_ffmpeg
import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import UserError
from .fsutil import atomic_output


@cache
def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str]) -> None:
    """Run the bundled ffmpeg with `args`; raise RuntimeError with its message on failure."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    width: int
    height: int
    """Size as players show it: a phone video stored landscape with a 90-degree rotation tag is
    reported portrait (see `upright`)."""
    fps: Fraction
    duration: float
    """Length of the video stream in seconds."""
    frame_count: int
    """Frames on the constant-rate grid that covers `duration` at `fps`."""
    audio_codec: str | None
    audio_duration: float | None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise UserError(f"{path}: file not found. Check the path (quote it if it has spaces).")
    if not path.is_file():
        raise UserError(f"{path}: is not a file. Give the path of a video file.")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as e:
        raise UserError(
            f"{path}: cannot be read as a video ({e.__class__.__name__}). "
            "Is it a complete MP4/MKV/MOV file? Re-export or re-download it."
        ) from None


def _stream_seconds(stream: av.stream.Stream, container: av.container.InputContainer) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def upright(image: np.ndarray, rotation: float) -> np.ndarray:
    """Turn a decoded frame (H, W, C) the way players do for its display-matrix `rotation`
    (`VideoFrame.rotation`: degrees counter-clockwise, as phones tag portrait recordings)."""
    turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(image, k=turns)) if turns else image


def _rotation(container: av.container.InputContainer, stream: av.stream.Stream) -> float:
    """The display rotation, read off the first frame (0 when it cannot be decoded)."""
    try:
        return next(container.decode(stream)).rotation
    except (av.error.FFmpegError, StopIteration, ValueError):
        return 0


def probe(path: Path) -> MediaInfo:
    """Describe a video file, or raise UserError naming what is wrong with it."""
    with _open(path) as container:
        cover_art = av.stream.Disposition.attached_pic  # a still in an audio file is no video
        video = next((s for s in container.streams.video if not s.disposition & cover_art), None)
        if video is None:
            kind = "an audio-only file" if container.streams.audio else "not a video"
            raise UserError(f"{path}: has no video stream ({kind}). Give the podcast's video file.")
        rate = video.average_rate or video.guessed_rate or video.base_rate
        if not rate or rate <= 0 or not video.width or not video.height:
            raise UserError(f"{path}: the video stream has no usable frame rate or size. Re-export it.")
        fps = Fraction(rate).limit_denominator(1001)
        duration = _stream_seconds(video, container)
        if not duration or duration <= 0:
            raise UserError(f"{path}: the video has zero length. Re-export or re-download it.")
        audio = container.streams.audio[0] if container.streams.audio else None
        width, height = video.width, video.height
        if round(_rotation(container, video) / 90) % 2:
            width, height = height, width
        return MediaInfo(
            path=path,
            width=width,
            height=height,
            fps=fps,
            duration=duration,
            frame_count=max(1, round(duration * fps)),
            audio_codec=audio.codec_context.name if audio else None,
            audio_duration=_stream_seconds(audio, container) if audio else None,
        )


def stream_durations(path: Path) -> tuple[float, float | None]:
    """Exact (video, audio) stream durations in seconds, from packet timestamps.

    Each is the end of the last packet (pts + duration) minus the start of the first, which
    is what a player shows; this is how step 3 measures its sync error.
    """
    with _open(path) as container:
        ends: dict[int, float] = {}
        starts: dict[int, float] = {}
        streams = [s for s in (container.streams.video[:1] + container.streams.audio[:1])]
        for packet in container.demux(streams):
            if packet.pts is None:
                continue
            tb = packet.time_base
            start = float(packet.pts * tb)
            end = float((packet.pts + (packet.duration or 0)) * tb)
            i = packet.stream.index
            starts[i] = min(starts.get(i, start), start)
            ends[i] = max(ends.get(i, end), end)
        v = container.streams.video[0].index
        a = container.streams.audio[0].index if container.streams.audio else None
        video_seconds = ends[v] - starts[v]
        audio_seconds = ends[a] - starts[a] if a is not None and a in ends else None
        return video_seconds, audio_seconds


def write_video(frames: Iterable[np.ndarray], path: Path, fps: Fraction | float, crf: int = 18) -> int:
    """Encode RGB uint8 frames (H, W, 3) to an H.264 yuv420p MP4, atomically. Returns frame count.

    Width and height must be even (yuv420p). The file appears under `path` only when complete.
    """
    fps = Fraction(fps).limit_denominator(1001)
    iterator = iter(frames)
    first = next(iterator)
    height, width = first.shape[:2]
    count = 0
    with atomic_output(path) as tmp:
        cmd = [
            ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
            "-framerate", f"{fps.numerator}/{fps.denominator}", "-i", "-",
            "-c:v", "libx264", "-preset", "medium", "-crf", str(crf), "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", str(tmp),
        ]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            for frame in (first, *iterator):
                if frame.shape[:2] != (height, width):
                    raise ValueError(f"frame {count} is {frame.shape[:2]}, expected {(height, width)}")
                proc.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
                count += 1
            proc.stdin.close()
            stderr = proc.stderr.read().decode("utf-8", "replace")
            if proc.wait() != 0:
                raise RuntimeError(f"ffmpeg could not write {path}: {stderr.strip()[-2000:]}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return count


def read_picture(path: Path) -> Image.Image:
    """The picture as RGB (transparency flattened onto white), or UserError if it is unreadable."""
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("RGBA", "LA", "P"):
                img = img.convert("RGBA")
                flat = Image.new("RGB", img.size, (255, 255, 255))
                flat.paste(img, mask=img.getchannel("A"))
                return flat
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise UserError(
            f"{path}: cannot be read as a picture ({e}). Re-export it or run step 1 again."
        ) from None


def read_frames(path: Path) -> list[np.ndarray]:
    """Decode every frame of a (short) video as RGB uint8 arrays."""
    with _open(path) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
