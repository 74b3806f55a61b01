"""The packet pre-scan: decode only where the picture may have changed.

Most inter frames of a still picture are near-empty packets (every macroblock skipped). Per GOP
(IDR to IDR), the *quiet tail* is the run of packets at its end that are each at most a few bytes
more than the smallest of their kind (slice type, reference or not) in that GOP. The packets
before it are decoded as usual; then the next IDR, which needs no earlier frame, is decoded by a
second decoder and compared with the last frame decoded. When they show the same picture (within
encoding noise, `same_picture`), the tail's frames are that frame repeated and are not decoded;
otherwise the GOP is decoded in full. A GOP of a moving picture has no quiet tail and is decoded
as usual, so a video that is half still, half moving gains on its still half.

What a tail's packets cost bounds what can have happened there: a new element costs far more
bytes than the margin (a subtitle line several KB, a 48-px logo about 250 B at 720p), so a change
in the tail ends it there. A change that stays is seen in the next IDR. So a skipped frame
differs from the frame shown in its place by encoding noise (a few pixels by a few levels).

Only H.264 is read this way (its NAL units say which keyframes are IDRs and each slice's type);
other codecs, and GOPs with packets that have no timestamp or are marked corrupt or discarded,
are decoded in full.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import av
import numpy as np

from .detect import block_means

MIN_TAIL = 8
"""A quiet tail shorter than this is decoded: skipping it would save less than the check costs."""
MARGIN_BYTES = 16
MARGIN_PER_MACROBLOCK = 1 / 128
"""A tail packet may be this much larger than the smallest of its kind in the GOP (bytes, plus
bytes per macroblock of the frame): the noise of a still picture's packets, well under what a
new element costs."""
QUIET_PER_MACROBLOCK = 0.25
"""A kind whose smallest packet in the GOP costs more than this (bytes per macroblock) is not
quiet: the picture moves."""
SAME_BLOCK_LEVEL = 2.0
"""Two frames show the same picture when no block mean (the detector's grid) differs by more than
this (levels of 255: half the detector's `still_level`) ..."""
SAME_PIXEL_LEVEL = 40
"""... and no pixel of the analysis pictures by more than this (an I-frame's own coding noise)."""
MAX_DECODE_FAILURES = 8
"""Consecutive packets that fail to decode before reading stops (as PySceneDetect's backend)."""
_IDR, _SLICE = 5, 1


@dataclass
class PrescanCount:
    """How many frames were decoded and how many repeated instead, over a scan."""

    decoded: int = 0
    repeated: int = 0
    checked_gops: int = 0
    """GOPs whose next IDR was decoded to check a quiet tail."""
    changed_gops: int = 0
    """Of those, GOPs whose picture had changed (decoded in full)."""


@dataclass
class _Packet:
    packet: av.Packet
    pts: int | None
    kind: tuple[int, bool] | None
    """(slice type 0-4, is a reference), None when unknown."""
    idr: bool = False


@dataclass
class _Gop:
    packets: list[_Packet] = field(default_factory=list)


def _nal_units(data: bytes, length_size: int | None) -> Iterator[bytes]:
    """The NAL units of an H.264 packet: length-prefixed (MP4, MKV) or with start codes (TS)."""
    if length_size is None:
        for part in data.split(b"\x00\x00\x01"):
            if part:
                yield part
        return
    at = 0
    while at + length_size <= len(data):
        size = int.from_bytes(data[at : at + length_size], "big")
        at += length_size
        yield data[at : at + size]
        at += size


def _unsigned_golomb(bits: str, at: int) -> tuple[int, int]:
    zeros = bits.index("1", at) - at
    end = at + 2 * zeros + 1
    return int(bits[at + zeros : end], 2) - 1, end


def _slice_kind(nal: bytes) -> tuple[int, bool] | None:
    """(slice_type mod 5, nal_ref_idc > 0) from a slice NAL unit's header, None if unreadable."""
    head = nal[1:12].replace(b"\x00\x00\x03", b"\x00\x00")
    bits = "".join(f"{byte:08b}" for byte in head)
    try:
        _, at = _unsigned_golomb(bits, 0)  # first_mb_in_slice
        slice_type, _ = _unsigned_golomb(bits, at)
    except ValueError:
        return None
    return slice_type % 5, nal[0] & 0x60 != 0


def _read(packet: av.Packet, length_size: int | None) -> _Packet:
    usable = packet.pts is not None and not packet.is_corrupt and not packet.is_discard
    if not usable:
        return _Packet(packet, None, None)
    kind, idr = None, False
    for nal in _nal_units(bytes(packet), length_size):
        if nal and nal[0] & 0x1F in (_IDR, _SLICE):
            kind, idr = _slice_kind(nal), nal[0] & 0x1F == _IDR
            break
    return _Packet(packet, packet.pts, kind, idr)


def _length_size(extradata: bytes | None) -> int | None:
    """The NAL length field's size from an avcC record; None for start codes (Annex B)."""
    if extradata and len(extradata) > 4 and extradata[0] == 1:
        return (extradata[4] & 3) + 1
    return None


def _gops(packets: Iterator[av.Packet], length_size: int | None) -> Iterator[tuple[_Gop, _Packet | None]]:
    """GOPs in decode order, each with the IDR packet that follows it (None after the last)."""
    gop = _Gop()
    for packet in packets:
        if not packet.size:
            continue
        read = _read(packet, length_size)
        if read.idr and packet.is_keyframe and gop.packets:
            yield gop, read
            gop = _Gop()
        gop.packets.append(read)
    if gop.packets:
        yield gop, None


def quiet_tail(packets: list[_Packet], macroblocks: int) -> int | None:
    """Where the GOP's quiet tail starts (an index into `packets`), None when it has none.

    Every packet from there on is readable and at most the margin larger than the smallest of its
    kind in the GOP, and every frame before it is shown before every frame of it."""
    smallest: dict[tuple[int, bool], int] = {}
    for p in packets[1:]:
        if p.kind is not None:
            smallest[p.kind] = min(smallest.get(p.kind, p.packet.size), p.packet.size)
    margin = MARGIN_BYTES + MARGIN_PER_MACROBLOCK * macroblocks
    quiet_level = QUIET_PER_MACROBLOCK * macroblocks
    start = len(packets)
    while start > 1:
        p = packets[start - 1]
        if p.kind is None or smallest[p.kind] > quiet_level or p.packet.size > smallest[p.kind] + margin:
            break
        start -= 1
    pts = [p.pts for p in packets]
    if not packets[0].idr or None in pts:
        return None
    first_after = pts[:]  # first_after[i]: the earliest frame shown of packets i and later
    for i in range(len(pts) - 2, -1, -1):
        first_after[i] = min(pts[i], first_after[i + 1])
    last_before = max(pts[:start], default=None)
    while start < len(pts) and last_before is not None and last_before >= first_after[start]:
        last_before = max(last_before, pts[start])  # a tail frame would be shown before it
        start += 1
    return start if len(packets) - start >= MIN_TAIL else None


def same_picture(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two analysis pictures (`small_yuv`) show the same picture within encoding noise."""
    if a.shape != b.shape:
        return False
    blocks = np.abs(block_means(a) - block_means(b)).max()
    pixels = np.abs(a.astype(np.int16) - b.astype(np.int16)).max()
    return bool(blocks <= SAME_BLOCK_LEVEL and pixels <= SAME_PIXEL_LEVEL)


class PrescannedFrames:
    """The frames of a video's first video stream in presentation order, as (frame, pts,
    repeated), where a repeated frame is the previous one shown again in place of a frame of a
    quiet tail (see the module's docstring); `count` says how many of each.

    `main` decodes (the stream's own decoder, threads as set on it), `spare` decodes the IDRs
    that are checked (a second decoder of the same stream); `small(frame)` makes the analysis
    picture the two frames are compared on."""

    def __init__(self, container: av.container.InputContainer, spare: av.codec.context.CodecContext,
                 small):
        self.container = container
        self.stream = container.streams.video[0]
        self.main = self.stream.codec_context
        self.spare = spare
        self.small = small
        self.count = PrescanCount()
        self._failures = 0
        width, height = self.main.width, self.main.height
        self.macroblocks = -(-width // 16) * -(-height // 16)

    def __iter__(self) -> Iterator[tuple[av.VideoFrame, int | None, bool]]:
        length_size = _length_size(self.main.extradata) if self.main.name == "h264" else None
        packets = self.container.demux(self.stream)
        if self.main.name != "h264":
            for packet in packets:
                yield from self._decoded(packet)
            yield from self._decoded(None)
            return
        for gop, next_idr in _gops(packets, length_size):
            tail = None if next_idr is None else quiet_tail(gop.packets, self.macroblocks)
            if tail is None:
                for p in gop.packets:
                    yield from self._decoded(p.packet)
                continue
            last = None
            for p in gop.packets[:tail]:
                for item in self._decoded(p.packet):
                    last = item[0]
                    yield item
            for item in self._decoded(None):
                last = item[0]
                yield item
            self.main.flush_buffers()
            if last is not None and self._unchanged(last, next_idr.packet):
                pts = sorted(p.pts for p in gop.packets[tail:])
                self.count.repeated += len(pts)
                for value in pts:
                    yield last, value, True
                continue
            self.count.changed_gops += 1
            shown = last.pts if last is not None else None
            for p in gop.packets:  # the decoder was flushed: the whole GOP again
                for item in self._decoded(p.packet, recount=True):
                    if shown is None or item[1] is None or item[1] > shown:
                        self.count.decoded += 1
                        yield item
        yield from self._decoded(None)

    def _unchanged(self, last: av.VideoFrame, idr: av.Packet) -> bool:
        """Whether the IDR `idr` shows the same picture as `last` (decoded by the spare decoder)."""
        self.count.checked_gops += 1
        try:
            frames = self.spare.decode(idr) + self.spare.decode(None)
        except av.error.FFmpegError:
            frames = []
        self.spare.flush_buffers()
        return len(frames) == 1 and same_picture(self.small(last), self.small(frames[0]))

    def _decoded(self, packet: av.Packet | None,
                 recount: bool = False) -> Iterator[tuple[av.VideoFrame, int | None, bool]]:
        """The frames the main decoder gives for `packet` (None: the rest, at the end); a packet
        that fails is skipped, as PySceneDetect's backend does, up to MAX_DECODE_FAILURES in a row."""
        if self._failures >= MAX_DECODE_FAILURES:
            return
        try:
            frames = self.main.decode(packet)
        except av.error.FFmpegError:
            self._failures += 1
            return
        self._failures = 0
        if not recount:
            self.count.decoded += len(frames)
        for frame in frames:
            if frame.time_base is None:  # frames drained at a flush carry no time base
                frame.time_base = self.stream.time_base
            yield frame, frame.pts, False
