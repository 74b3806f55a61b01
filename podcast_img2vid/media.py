"""Media helpers shared by all steps: the bundled ffmpeg, probing with PyAV, writing clips.

No system ffmpeg/ffprobe is needed: ffmpeg comes from `imageio-ffmpeg`, probing and exact
packet timing come from PyAV. Subprocesses always get argument lists, never shell strings.
"""

from __future__ import annotations

import bisect
import math
import subprocess
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Generic, TypeVar

import av
import imageio_ffmpeg
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import UserError
from .fsutil import atomic_output

WINDOW_FRAMES = 64
"""Recently decoded frames a `FrameReader` keeps: a whole short clip, so a loop decodes it once."""
WINDOW_BYTES = 96 * 2**20
"""...and at most this much memory for them (a few frames at 4K)."""


@cache
def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


DISK_FULL = "No space left on device"
"""What ffmpeg says when a disk is full."""


def _disk_full(what: object) -> UserError:
    return UserError(f"{what}: the disk is full. Free some space and run the same command again.")


def run_ffmpeg(args: list[str], failure: tuple[str, str] | None = None) -> None:
    """Run the bundled ffmpeg with `args`.

    `failure` = (what went wrong, what to do) for a run the user's input can make fail: it
    becomes a one-line UserError with ffmpeg's own last line (a full disk is named as such).
    Without it a failure is a RuntimeError: a bug, shown with ffmpeg's whole message.
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", errors="replace")
    if proc.returncode == 0:
        return
    lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
    reason = lines[-1] if lines else f"exit code {proc.returncode}"
    if failure is None:
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    what, fix = failure
    if DISK_FULL in proc.stderr:
        raise _disk_full(what)
    raise UserError(f"{what} ({reason}). {fix}")


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    width: int
    height: int
    """Size as players show it: a phone video stored landscape with a 90-degree rotation tag is
    reported portrait (see `upright`)."""
    fps: Fraction
    duration: float
    """Length of the video stream in seconds, as players present it (see `presented_spans`)."""
    frame_count: int
    """Frames on the constant-rate grid that covers `duration` at `fps`."""
    audio_codec: str | None
    audio_duration: float | None
    sample_aspect: Fraction = Fraction(1)
    """Width of a stored pixel over its height as shown (64/45: a 720x576 video shown 16:9);
    `width` and `height` are the stored picture's, turned as players turn it."""

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


@dataclass(frozen=True)
class Span:
    """When a stream is on screen / heard: [start, end) in seconds on its file's timeline."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def _video_stream(container: av.container.InputContainer) -> av.VideoStream | None:
    """The first real video stream (cover art in an audio file is a still, not a video)."""
    cover_art = av.stream.Disposition.attached_pic
    return next((s for s in container.streams.video if not s.disposition & cover_art), None)


def _skipped_at_start(packet: av.Packet, sample_rate: int) -> float:
    """Seconds a decoder drops from the start of this packet (Opus pre-skip, trimmed priming)."""
    if not sample_rate or not packet.has_sidedata("skip_samples"):
        return 0.0
    return int.from_bytes(bytes(packet.get_sidedata("skip_samples"))[:4], "little") / sample_rate


def _presented_spans(
    container: av.container.InputContainer, streams: list[av.stream.Stream]
) -> dict[int, Span]:
    """When each stream starts and ends as players present it, on the file's timeline.

    Edit lists and start offsets are applied: what an MP4 hides (AAC encoder priming, the
    pictures before a stream-copy cut, an audio track that starts late) is not counted. Where
    the container states a stream's presented length (MP4/MOV: its edit list), that is used, as
    ffprobe shows it; otherwise (Matroska, ...) it comes from the packets a decoder keeps.
    """
    spans: dict[int, Span] = {}
    for stream in streams:
        if stream.duration and stream.time_base is not None:
            start = (stream.start_time or 0) * stream.time_base
            spans[stream.index] = Span(float(start), float(start + stream.duration * stream.time_base))
    unstated = [s for s in streams if s.index not in spans]
    if unstated:
        starts: dict[int, float] = {}
        ends: dict[int, float] = {}
        for packet in container.demux(unstated):
            if packet.pts is None or not packet.size or packet.is_discard:
                continue
            stream = packet.stream
            rate = getattr(stream.codec_context, "sample_rate", 0)
            start = float(packet.pts * packet.time_base) + _skipped_at_start(packet, rate)
            length = packet.duration * packet.time_base if packet.duration else 0
            if not length and stream.type == "video" and stream.average_rate:
                length = 1 / stream.average_rate  # a container that stores no frame durations
            end = float(packet.pts * packet.time_base + length)
            starts[stream.index] = min(starts.get(stream.index, start), start)
            ends[stream.index] = max(ends.get(stream.index, end), end)
        spans.update({i: Span(starts[i], ends[i]) for i in starts})
    return spans


def presented_spans(path: Path) -> tuple[Span | None, Span | None]:
    """(video, first audio track) of a file as players present them (see `_presented_spans`);
    None for a stream the file does not have."""
    with _open(path) as container:
        video = _video_stream(container)
        audio = container.streams.audio[0] if container.streams.audio else None
        streams = [s for s in (video, audio) if s is not None]
        spans = _presented_spans(container, streams)
        return tuple(spans.get(s.index) if s is not None else None for s in (video, audio))


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
        video = _video_stream(container)
        if video is None:
            kind = "an audio-only file" if container.streams.audio else "not a video"
            raise UserError(f"{path}: has no video stream ({kind}). Give the podcast's video file.")
        rate = video.average_rate or video.guessed_rate or video.base_rate
        if not rate or rate <= 0 or not video.width or not video.height:
            raise UserError(f"{path}: the video stream has no usable frame rate or size. Re-export it.")
        fps = Fraction(rate).limit_denominator(1001)
        if container.format.name.endswith("_pipe") or container.format.name == "image2":
            raise UserError(f"{path}: is a picture, not a video. Give the podcast's video file.")
        audio = container.streams.audio[0] if container.streams.audio else None
        width, height = video.width, video.height
        if round(_rotation(container, video) / 90) % 2:
            width, height = height, width
        container.seek(0)
        spans = _presented_spans(container, [video] + ([audio] if audio else []))
        duration = spans[video.index].duration if video.index in spans else 0
        if not duration > 0:
            raise UserError(f"{path}: the video has zero length. Re-export or re-download it.")
        return MediaInfo(
            path=path,
            width=width,
            height=height,
            fps=fps,
            duration=duration,
            frame_count=max(1, round(duration * fps)),
            audio_codec=audio.codec_context.name if audio else None,
            audio_duration=spans[audio.index].duration if audio and audio.index in spans else None,
            sample_aspect=Fraction(video.sample_aspect_ratio or 1),
        )


def stream_durations(path: Path) -> tuple[float, float | None]:
    """(video, audio) durations in seconds as players present them (None: no audio)."""
    video, audio = presented_spans(path)
    if video is None:
        raise UserError(f"{path}: has no video frames. Give a video file.")
    return video.duration, audio.duration if audio else None


def write_video(frames: Iterable[np.ndarray], path: Path, fps: Fraction | float, crf: int = 18) -> int:
    """Encode RGB uint8 frames (H, W, 3) to an H.264 yuv420p MP4, atomically. Returns frame count.

    Width and height must be even (yuv420p). The file appears under `path` only when complete.
    This is the writer for finished clips (ffmpeg's defaults, B-frames, `+faststart`); step 3
    writes joinable segments with `assemble.encode_segment` instead (see there why).
    """
    fps = Fraction(fps).limit_denominator(1001)
    rest = iter(frames)
    first = [next(rest)]
    height, width = first[0].shape[:2]

    def one_at_a_time() -> Iterator[np.ndarray]:  # nothing here keeps a frame already written
        yield first.pop()
        yield from rest

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
            try:
                for frame in one_at_a_time():
                    if frame.shape[:2] != (height, width):
                        raise ValueError(f"frame {count} is {frame.shape[:2]}, expected {(height, width)}")
                    proc.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
                    count += 1
                proc.stdin.close()
            except BrokenPipeError:  # ffmpeg stopped early; its message below says why
                pass
            stderr = proc.stderr.read().decode("utf-8", "replace")
            if proc.wait() != 0:
                if DISK_FULL in stderr:
                    raise _disk_full(path)
                raise RuntimeError(f"ffmpeg could not write {path}: {stderr.strip()[-2000:]}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return count


_WIDE_GREY_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
"""Pillow's modes for 16-bit grey (a PNG's 16-bit grey opens as "I;16", older Pillows give "I")."""
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def read_picture(path: Path) -> Image.Image:
    """The picture as 8-bit RGB, or UserError if it is unreadable.

    Whatever it is stored as: transparency (alpha, or a palette's / a colour key's tRNS) is
    flattened onto white; 16-bit grey is scaled to 8 bits (Pillow would clip it to white);
    palette, CMYK (a JPEG renamed .png is read by its content) and 1-bit pictures are converted;
    an EXIF rotation is applied, as picture viewers do.
    """
    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            if img.mode in _WIDE_GREY_MODES:
                grey = np.asarray(img).astype(np.float64) * (255 / 65535)
                return Image.fromarray(np.clip(np.round(grey), 0, 255).astype(np.uint8)).convert("RGB")
            if img.mode in _ALPHA_MODES or "transparency" in img.info:
                img = img.convert("RGBA")
                flat = Image.new("RGB", img.size, (255, 255, 255))
                flat.paste(img, mask=img.getchannel("A"))
                return flat
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise UserError(
            f"{path}: cannot be read as a picture ({e}). Re-export it or run step 1 again."
        ) from None


def frame_rate(value: float | Fraction) -> Fraction:
    """Exact rate for a user-typed rate: 30 -> 30, 29.97 -> 30000/1001, 23.976 -> 24000/1001."""
    if isinstance(value, Fraction):
        return value
    if value <= 0 or not math.isfinite(value):
        raise ValueError(f"frame rate must be positive, got {value}")
    if abs(value - round(value)) < 1e-3:
        return Fraction(round(value))
    ntsc = round(value * 1001 / 1000)
    if abs(value - ntsc * 1000 / 1001) < 5e-3:
        return Fraction(ntsc * 1000, 1001)
    return Fraction(value).limit_denominator(1000)


def _rgb(frame: av.VideoFrame) -> np.ndarray:
    """A decoded frame as RGB, converted the way a player would (honouring the colour tags)."""
    return frame.to_ndarray(format="rgb24")


def iter_frames(path: Path) -> Iterator[np.ndarray]:
    """Decode a video's frames one at a time as RGB uint8 arrays (memory stays flat)."""
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            yield _rgb(frame)


def count_frames(path: Path) -> int:
    """How many frames a video really has (every frame decoded, none kept)."""
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


def frames_at(path: Path, wanted: Iterable[int]) -> dict[int, av.VideoFrame]:
    """The frames of the first video stream with these presentation timestamps, by timestamp:
    decoded forward from the keyframe before the earliest to the latest (a span of the video, not
    all of it). Timestamps no frame has are left out."""
    wanted = set(wanted)
    found: dict[int, av.VideoFrame] = {}
    if not wanted:
        return found
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        container.seek(min(wanted), stream=stream, backward=True)
        for frame in container.decode(stream):
            if frame.pts in wanted:
                found[frame.pts] = frame
            if frame.pts is not None and frame.pts >= max(wanted):
                break
    return found


def read_frames(path: Path) -> list[np.ndarray]:
    """Decode every frame of a short video as RGB uint8 arrays (tests, small clips)."""
    return list(iter_frames(path))


Item = TypeVar("Item")


def _nbytes(item: object) -> int:
    if isinstance(item, av.VideoFrame):
        return sum(plane.buffer_size for plane in item.planes)
    return int(getattr(item, "nbytes", 0)) or 1


class FrameReader(Generic[Item]):
    """A video's frames by number, decoded when asked for; only a bounded window is kept.

    `frame(i)` for rising `i` decodes each frame once. A frame before the window (a loop
    starting again, a clip played backwards) seeks back to the keyframe before it and decodes
    forward, filling the window again, so playing backwards costs a few decodes per frame
    instead of keeping the whole clip in memory. `convert` turns each decoded RGB frame into
    what is kept (e.g. the frame already fitted to the output), and the window's budget,
    `window_bytes`, counts converted frames.
    """

    def __init__(
        self,
        path: Path,
        convert: Callable[[np.ndarray], Item] = lambda rgb: rgb,
        window_bytes: int = WINDOW_BYTES,
    ):
        self.path = path
        self.convert = convert
        self.window_bytes = window_bytes
        self._window: OrderedDict[int, Item] = OrderedDict()
        self._capacity = 1
        self._pts: list[int] | None = None
        self._open()

    def _open(self) -> None:
        self._container = _open(self.path)
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._decoded: Iterator[av.VideoFrame] = self._container.decode(self._stream)
        self._next = 0

    def __enter__(self) -> FrameReader[Item]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def frame(self, index: int) -> Item:
        if index in self._window:
            return self._window[index]
        if index < self._next:
            self._rewind(max(0, index - self._capacity + 1))
        while self._next <= index:
            frame = next(self._decoded, None)
            if frame is None:
                raise UserError(f"{self.path}: has only {self._next} frames, frame {index + 1} was needed; "
                                "it changed while it was read, run the same command again")
            if self._next >= index - self._capacity + 1:
                self._keep(self._next, self.convert(_rgb(frame)))
            self._next += 1
        return self._window[index]

    def _keep(self, index: int, item: Item) -> None:
        if not self._window:
            self._capacity = max(1, min(WINDOW_FRAMES, self.window_bytes // _nbytes(item)))
        self._window[index] = item
        while len(self._window) > self._capacity:
            self._window.popitem(last=False)

    def _rewind(self, target: int) -> None:
        """Make frame `target` the next one decoded: seek to the keyframe before it, or start over."""
        self._window.clear()
        pts = self._presentation_pts()
        if pts is not None and target > 0:
            self._container.seek(pts[target], stream=self._stream, backward=True)
            self._decoded = self._container.decode(self._stream)
            first = next(self._decoded, None)
            start = bisect.bisect_left(pts, first.pts) if first is not None and first.pts is not None else -1
            if 0 <= start <= target and start < len(pts) and pts[start] == first.pts:
                self._next = start + 1
                if start == target:
                    self._keep(start, self.convert(_rgb(first)))
                return
        self._container.close()  # no usable timestamps: decode again from the start
        self._open()

    def _presentation_pts(self) -> list[int] | None:
        """Every frame's timestamp in display order (read once, from packets only); None when
        they cannot number the frames (missing timestamps)."""
        if self._pts is None:
            with av.open(str(self.path)) as container:
                packets = container.demux(container.streams.video[0])
                stamps = [p.pts for p in packets if p.size and not p.is_discard]
            self._pts = sorted(stamps) if None not in stamps else []
        return self._pts or None
