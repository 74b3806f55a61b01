"""Encode short segments once, then assemble the final video by copying their packets.

Every segment is H.264 from libx264 with the SAME settings and size and no B-frames, starting
with a keyframe. So every segment shares one SPS/PPS (checked), and any prefix of a segment's
packets decodes on its own: the final stream is segments (or their prefixes) back to back, with
timestamps rewritten onto one fine time base. The audio is muxed once, interleaved as we go, so
memory does not grow with the video's length.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

# (swscale matrix, H.264 colour tag) per family: BT.709 for HD sizes, BT.601 (SMPTE 170M) below.
_BT709 = ("itu709", 1)
_BT601 = ("smpte170m", 6)
_MPEG_RANGE = 1
AUDIO_LEAD_SECONDS = 0.5
"""Audio is written up to this far ahead of the video, so neither waits in the muxer's queue."""


@dataclass(frozen=True)
class VideoSettings:
    """The encoder settings every segment shares (so their packets can be joined)."""

    width: int
    height: int
    fps: Fraction
    crf: int = 20
    preset: str = "veryfast"

    @property
    def hd(self) -> bool:
        return self.width >= 1280 or self.height >= 720

    @property
    def time_base(self) -> Fraction:
        """A fine time base (90 kHz or finer) in which one frame is a whole number of ticks."""
        return Fraction(1, math.lcm(90000, self.fps.numerator))

    @property
    def frame_ticks(self) -> int:
        ticks = 1 / (self.fps * self.time_base)
        assert ticks.denominator == 1
        return int(ticks)


def even_size(width: int, height: int) -> tuple[int, int]:
    """yuv420p needs even dimensions: drop an odd last row/column."""
    return max(2, width - width % 2), max(2, height - height % 2)


def fit_box(src_w: int, src_h: int, width: int, height: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of a src_w x src_h picture fitted into width x height, aspect kept, centred.

    When the aspects match within 1 % the picture fills the frame (no one-pixel bars).
    """
    if abs(src_w * height - src_h * width) <= 0.01 * src_h * width:
        return 0, 0, width, height
    scale = min(width / src_w, height / src_h)
    w, h = min(width, round(src_w * scale)), min(height, round(src_h * scale))
    return (width - w) // 2, (height - h) // 2, w, h


def fit_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale an RGB frame into width x height, aspect kept, padded with black."""
    src_h, src_w = frame.shape[:2]
    x, y, w, h = fit_box(src_w, src_h, width, height)
    if (w, h) != (src_w, src_h):
        shrink = w < src_w or h < src_h
        frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    if (w, h) == (width, height):
        return frame
    canvas = np.zeros((height, width, 3), np.uint8)
    canvas[y : y + h, x : x + w] = frame
    return canvas


def to_video_frame(rgb: np.ndarray, settings: VideoSettings) -> av.VideoFrame:
    """RGB -> yuv420p with the matrix that matches the tag the encoder writes."""
    matrix, _ = _BT709 if settings.hd else _BT601
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    return frame.reformat(format="yuv420p", dst_colorspace=matrix, dst_color_range="MPEG")


def encode_segment(frames: Iterable[av.VideoFrame], path: Path, settings: VideoSettings) -> int:
    """Encode yuv420p frames (from `to_video_frame`) into an MP4 segment; returns the frame count.

    Step 3's own H.264 writer, beside `media.write_video` (the clips' writer) on purpose: its
    segments are joined packet by packet, so it needs what a pipe to ffmpeg cannot promise:
    frames already converted with the matrix its colour tags name, no B-frames, and one
    encoder configuration whose headers are compared segment to segment.
    """
    _, tag = _BT709 if settings.hd else _BT601
    count = 0
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=settings.fps)
        stream.width, stream.height, stream.pix_fmt = settings.width, settings.height, "yuv420p"
        ctx = stream.codec_context
        ctx.colorspace = ctx.color_primaries = ctx.color_trc = tag
        ctx.color_range = _MPEG_RANGE
        stream.options = {"preset": settings.preset, "crf": str(settings.crf), "bf": "0", "threads": "0"}
        for frame in frames:
            frame.pts = count
            container.mux(stream.encode(frame))
            count += 1
        container.mux(stream.encode(None))
    return count


@dataclass(frozen=True)
class AudioTrack:
    path: Path
    copied: bool
    """True: the source's AAC packets, bit-exact. False: encoded to AAC from another codec."""
    shift: float
    """Seconds added to its packets' timestamps to place them on the output's timeline."""


class Assembler:
    """Writes the final MP4: segment packets on one timeline, the audio muxed once, `+faststart`.

    `add(segment, count)` appends the first `count` frames of a segment. `close()` gives the
    last frame the duration that makes the video end exactly at `total_seconds`, where the
    audio ends too (its last packet's duration says where, as the source's edit list did).
    """

    def __init__(self, path: Path, settings: VideoSettings, audio: AudioTrack | None, total_seconds: float):
        self.path = path
        self.settings = settings
        self.audio = audio
        self.total_seconds = total_seconds
        self.end_ticks = round(Fraction(total_seconds) / settings.time_base)
        self.frames = 0
        self._out: av.container.OutputContainer | None = None
        self._video: av.VideoStream | None = None
        self._extradata: bytes | None = None
        self._pending: av.Packet | None = None
        self._audio_in: av.container.InputContainer | None = None
        self._audio_out: av.AudioStream | None = None
        self._audio_packets: Iterator[av.Packet] | None = None
        self._audio_next: av.Packet | None = None
        self._audio_shift = 0
        self._audio_end = 0

    def _open(self, template: av.VideoStream) -> None:
        self._out = av.open(str(self.path), "w", format="mp4", options={"movflags": "+faststart"})
        self._video = self._out.add_stream_from_template(template)
        self._video.time_base = self.settings.time_base
        self._extradata = template.codec_context.extradata
        if self.audio is not None:
            self._audio_in = av.open(str(self.audio.path))
            audio_in = self._audio_in.streams.audio[0]
            self._audio_out = self._out.add_stream_from_template(audio_in)
            self._audio_shift = round(Fraction(self.audio.shift) / audio_in.time_base)
            self._audio_end = round(Fraction(self.total_seconds) / audio_in.time_base)
            self._audio_packets = (p for p in self._audio_in.demux(audio_in) if p.size and p.pts is not None)
            self._audio_next = next(self._audio_packets, None)

    def add(self, segment: Path, count: int) -> None:
        with av.open(str(segment)) as container:
            stream = container.streams.video[0]
            if self._out is None:
                self._open(stream)
            if stream.codec_context.extradata != self._extradata:
                raise RuntimeError(f"{segment}: encoder headers differ from the first segment's")
            taken = 0
            for packet in container.demux(stream):
                if taken == count:
                    break
                if not packet.size:
                    continue
                self._push(packet)
                taken += 1
        if taken != count:
            raise RuntimeError(f"{segment}: has {taken} frames, {count} needed")

    def _push(self, packet: av.Packet) -> None:
        if self._pending is not None:
            self._mux_video(self._pending, self.settings.frame_ticks)
        pts = self.frames * self.settings.frame_ticks
        packet.stream = self._video
        packet.time_base = self.settings.time_base
        packet.pts = packet.dts = pts
        self._pending = packet
        self.frames += 1

    def _mux_video(self, packet: av.Packet, duration: int) -> None:
        packet.duration = duration
        self._out.mux(packet)
        self._mux_audio_until(float((packet.pts + duration) * self.settings.time_base) + AUDIO_LEAD_SECONDS)

    def _mux_audio_until(self, seconds: float) -> None:
        while self._audio_next is not None:
            packet = self._audio_next
            if float((packet.pts + self._audio_shift) * packet.time_base) >= seconds:
                return
            packet.pts += self._audio_shift
            if packet.dts is not None:
                packet.dts += self._audio_shift
            if packet.pts >= self._audio_end:  # hidden by the source's edit list
                self._audio_next = None
                return
            if packet.duration and packet.pts + packet.duration > self._audio_end:
                packet.duration = self._audio_end - packet.pts  # played only up to the end
            packet.stream = self._audio_out
            self._out.mux(packet)
            self._audio_next = next(self._audio_packets, None)

    def close(self) -> None:
        """Finish the file: the last frame lasts until the end; the rest of the audio follows."""
        if self._pending is None:
            raise RuntimeError("no video frames were added")
        last = self._pending
        self._pending = None
        duration = self.end_ticks - last.pts
        if duration <= 0:
            raise RuntimeError(f"{self.frames} frames overrun the end at {self.end_ticks} ticks")
        self._mux_video(last, duration)
        self._mux_audio_until(math.inf)
        self.abort()

    def abort(self) -> None:
        """Close the files (the output may be incomplete; the caller discards it)."""
        if self._out is not None:
            self._out.close()
            self._out = None
        if self._audio_in is not None:
            self._audio_in.close()
            self._audio_in = None
