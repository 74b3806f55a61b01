"""The packet pre-scan: decode only where the picture may have changed.

Most inter frames of a still picture are near-empty packets (every macroblock skipped). A packet
is *quiet* when it is at most a few bytes larger than the smallest nearby packet of its kind
(slice type, referred to or not), itself small for the frame's size (`quiet_packets`). Read from
the packets alone (H.264 NAL headers: which keyframes are IDRs, each slice's type), per GOP:

* a quiet frame that no other frame refers to, where the frames it may be predicted from are quiet
  too (`in_quiet_stretch`), is not decoded: nothing needs it to decode the rest;
* the GOP's *quiet tail* (its last packets, all quiet, shown after all the others: `quiet_tail`)
  is not decoded at all, references included, when the next IDR shows the same picture as the
  GOP's own IDR (both decoded by a second, spare decoder; an IDR needs no earlier frame). After
  the next IDR nothing refers to the tail.

A skipped frame is then given as the frame shown before it, but only once the decoded frame shown
after it turned out to show the same picture (within coding noise, `same_picture`); otherwise the
skipped frames are decoded after all by the spare decoder, from their GOP's IDR, and the rest of
that GOP is decoded in full (a lost bet: it costs time, never a different frame; the next GOPs then
skip nothing for a while). So a skipped frame differs from the frame given in its place by coding
noise at most (a few pixels by a few levels): a new element costs far more bytes than the margin
(a subtitle line several KB, a 48-px logo about 250 B at 720p), and a picture that changes and
stays is seen in the frame after. A moving picture has no quiet packets and is decoded as usual,
so a video that is half still, half moving gains on its still half.

Other codecs, GOPs that do not start with an IDR and GOPs with packets that have no timestamp or
are marked corrupt or discarded are decoded in full.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import av
import numpy as np

from .detect import block_means

MIN_TAIL = 8
"""A quiet tail shorter than this is decoded: skipping it would save less than the check costs."""
MARGIN_BYTES = 16
MARGIN_PER_MACROBLOCK = 1 / 128
"""A quiet packet is at most this much larger than the smallest nearby one of its kind (bytes,
plus bytes per macroblock of the frame): the noise of a still picture's packets, well under what
a new element costs."""
NEARBY = 8
"""Nearby: this many packets of the same kind on either side, in the same GOP."""
QUIET_PER_MACROBLOCK = 0.12
"""Where the smallest nearby packet of a kind costs more than this (bytes per macroblock), none is
quiet: the picture moves (a still picture's B-frames cost 0.01-0.02, its P-frames that refine the
picture up to 0.1)."""
SAME_BLOCK_LEVEL = 2.0
"""Two frames show the same picture when no block mean (the detector's grid) differs by more than
this (levels of 255: half the detector's `still_level`) ..."""
SAME_PIXEL_LEVEL = 40
"""... and no pixel of the analysis pictures by more than this (an I-frame's own coding noise)."""
MAX_GOP_BYTES = 32 * 2**20
"""Packets kept per GOP at most (bytes): they are decoded again when a bet on skipping is lost."""
MAX_DECODE_FAILURES = 8
"""Consecutive packets that fail to decode before reading stops (as PySceneDetect's backend)."""
_IDR, _SLICE = 5, 1


@dataclass
class PrescanCount:
    """How many frames were decoded and how many repeated instead, over a scan."""

    decoded: int = 0
    repeated: int = 0
    checked_gops: int = 0
    """GOPs whose next IDR was decoded to choose what to skip."""
    changed_runs: int = 0
    """Runs of skipped frames whose picture had changed after all (decoded by the spare decoder)."""


@dataclass
class _Packet:
    packet: av.Packet
    pts: int | None
    kind: tuple[int, bool] | None
    """(slice type 0-4, is a reference), None when unknown."""
    idr: bool = False


@dataclass(eq=False)
class _Gop:
    packets: list[_Packet] = field(default_factory=list)
    passed: set[int] = field(default_factory=set)
    """The pts of its skipped packets passed so far (the main decoder can no longer decode them)."""
    changed: bool = False
    """Its picture changed where frames were skipped: the rest of it is decoded."""


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
    """GOPs in decode order, each with the IDR packet that follows it (None after the last). A GOP
    longer than MAX_GOP_BYTES (a stream with few IDRs) comes in parts, the later ones not starting
    with an IDR (so decoded in full): the packets kept stay few."""
    gop, kept = _Gop(), 0
    for packet in packets:
        if not packet.size:
            continue
        read = _read(packet, length_size)
        if read.idr and packet.is_keyframe and gop.packets:
            yield gop, read
            gop, kept = _Gop(), 0
        elif kept > MAX_GOP_BYTES:
            yield gop, None
            gop, kept = _Gop(), 0
        gop.packets.append(read)
        kept += packet.size
    if gop.packets:
        yield gop, None


def quiet_packets(packets: list[_Packet], macroblocks: int) -> list[bool]:
    """Which packets of a GOP are quiet: readable, and at most the margin larger than the smallest
    of the nearby packets of their kind (`NEARBY` on either side), itself small
    (QUIET_PER_MACROBLOCK). Nearby, not the GOP's smallest: a long GOP may hold several pictures,
    and a still picture's packets cost more or less depending on the picture."""
    margin = MARGIN_BYTES + MARGIN_PER_MACROBLOCK * macroblocks
    quiet_level = QUIET_PER_MACROBLOCK * macroblocks
    by_kind: dict[tuple[int, bool], list[int]] = {}
    for i, p in enumerate(packets[1:], start=1):
        if p.kind is not None:
            by_kind.setdefault(p.kind, []).append(i)
    quiet = [False] * len(packets)
    for indices in by_kind.values():
        sizes = [packets[i].packet.size for i in indices]
        for at, i in enumerate(indices):
            smallest = min(sizes[max(0, at - NEARBY) : at + NEARBY + 1])
            quiet[i] = smallest <= quiet_level and sizes[at] <= smallest + margin
    return quiet


def quiet_tail(packets: list[_Packet], quiet: list[bool]) -> int | None:
    """Where the GOP's quiet tail starts (an index into `packets`), None when it has none: every
    packet from there on is quiet, and every frame before it is shown before every frame of it."""
    start = len(packets)
    while start > 1 and quiet[start - 1]:
        start -= 1
    pts = [p.pts for p in packets]
    first_after = pts[:]  # first_after[i]: the earliest frame shown of packets i and later
    for i in range(len(pts) - 2, -1, -1):
        first_after[i] = min(pts[i], first_after[i + 1])
    last_before = max(pts[:start])
    while start < len(pts) and last_before >= first_after[start]:
        last_before = max(last_before, pts[start])  # a tail frame would be shown before it
        start += 1
    return start if len(packets) - start >= MIN_TAIL else None


def in_quiet_stretch(packets: list[_Packet], quiet: list[bool]) -> list[bool]:
    """Per packet, whether the frames it may be predicted from are quiet: the P- or I-frames shown
    just before and just after it, and every B-frame between them that others refer to. (A B-frame
    may copy from the P-frame shown after it: where that one is a new picture, such as a cut on a
    P-frame, the small B-frames before it may show the new picture, the old one, or a blend.)"""
    anchors = sorted((p.pts, quiet[i]) for i, p in enumerate(packets) if p.kind is None or p.kind[0] != 1)
    shown = [pts for pts, _ in anchors]
    calm = [True] * (len(anchors) + 1)
    """Per stretch between two anchors, whether its B-frames others refer to are quiet."""
    for i, p in enumerate(packets):
        if p.kind == (1, True):
            at = bisect.bisect_left(shown, p.pts)
            calm[at] = calm[at] and quiet[i]
    between = []
    for p in packets:
        at = bisect.bisect_left(shown, p.pts)
        between.append(0 < at < len(shown) and anchors[at - 1][1] and anchors[at][1] and calm[at])
    return between


def same_picture(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two analysis pictures (`small_yuv`) show the same picture within encoding noise."""
    if a.shape != b.shape:
        return False
    blocks = np.abs(block_means(a) - block_means(b)).max()
    pixels = np.abs(a.astype(np.int16) - b.astype(np.int16)).max()
    return bool(blocks <= SAME_BLOCK_LEVEL and pixels <= SAME_PIXEL_LEVEL)


class PrescannedFrames:
    """The frames of a video's first video stream in presentation order, as (frame, pts,
    repeated); a repeated frame stands in for a frame that was not decoded: it is the frame shown
    before it, given again (see the module's docstring; `count` says how many).

    Per GOP, the frames skipped are its quiet frames that no other frame refers to, and its whole
    quiet tail when the next IDR (decoded by the spare decoder) shows the same picture as the
    GOP's own. A run of skipped frames lies between two decoded frames; it is filled with the
    first of them only when the second shows the same picture (`same_picture`); otherwise the run
    is decoded after all, by the spare decoder from its GOP's IDR, and the rest of that GOP is
    decoded in full. So a skip is a bet that costs time when lost, never a different frame.

    `main` decodes (the stream's own decoder, threads as set on it), `spare` is a second decoder
    of the same stream; `small(frame)` makes the analysis picture frames are compared on."""

    def __init__(self, container: av.container.InputContainer, spare: av.codec.context.CodecContext,
                 small: Callable[[av.VideoFrame], np.ndarray]):
        self.container = container
        self.stream = container.streams.video[0]
        self.main = self.stream.codec_context
        self.spare = spare
        self.small = small
        self.count = PrescanCount()
        self._failures = 0
        self._previous: av.VideoFrame | None = None
        """The last frame given out (decoded or repeated)."""
        self._given: int | None = None
        """The pts of the last frame given out."""
        self._skipped: list[tuple[int, _Gop]] = []
        """Frames not decoded and not given out yet (pts, their GOP), in presentation order."""
        self._recovered: dict[int, av.VideoFrame] = {}
        """Skipped frames the spare decoder decoded ahead of their turn, by pts."""
        self._rest = 0
        self._backoff = 1
        """After a run that changed, the next `_rest` GOPs skip nothing (doubled at each such run:
        a moving picture whose packets look quiet costs a spare decode now and then only)."""
        self._idr: tuple[int, av.VideoFrame] | None = None
        """The last IDR the spare decoder decoded (pts, frame): the next GOP's own."""
        self._smalls: list[tuple[av.VideoFrame, np.ndarray]] = []
        width, height = self.main.width, self.main.height
        self.macroblocks = -(-width // 16) * -(-height // 16)

    def __iter__(self) -> Iterator[tuple[av.VideoFrame, int | None, bool]]:
        packets = self.container.demux(self.stream)
        if self.main.name != "h264":
            for packet in packets:
                yield from self._decoded(packet)
            yield from self._decoded(None)
            return
        for gop, next_idr in _gops(packets, _length_size(self.main.extradata)):
            skips = self._plan(gop, next_idr)
            for pts in sorted(p.pts for p, skip in zip(gop.packets, skips, strict=True) if skip):
                self._skipped.append((pts, gop))
            self._skipped.sort(key=lambda item: item[0])
            for p, skip in zip(gop.packets, skips, strict=True):
                if skip and not gop.changed:
                    gop.passed.add(p.pts)
                    continue
                if skip:  # the GOP changed after all: skip nothing more in it
                    self._skipped = [(pts, g) for pts, g in self._skipped if pts != p.pts]
                yield from self._decoded(p.packet)
        yield from self._decoded(None)

    def _plan(self, gop: _Gop, next_idr: _Packet | None) -> list[bool]:
        """Which of the GOP's packets are skipped (see the class's docstring)."""
        packets = gop.packets
        if self._rest:
            self._rest -= 1
            return [False] * len(packets)
        if not packets[0].idr or any(p.pts is None for p in packets):
            return [False] * len(packets)
        quiet = quiet_packets(packets, self.macroblocks)
        tail = quiet_tail(packets, quiet) if next_idr is not None else None
        whole = tail is not None and self._same_idrs(packets[0], next_idr)
        between = in_quiet_stretch(packets, quiet)
        return [quiet[i] and ((whole and i >= tail) or (not p.kind[1] and between[i]))
                for i, p in enumerate(packets)]

    def _same_idrs(self, first: _Packet, following: _Packet) -> bool:
        """Whether a GOP's IDR and the next one show the same picture (both by the spare decoder)."""
        self.count.checked_gops += 1
        pictures = []
        for idr in (first, following):
            if self._idr is not None and self._idr[0] == idr.pts:
                pictures.append(self._idr[1])
                continue
            frames = list(self._spare_decode([idr.packet]))
            if len(frames) != 1:
                return False
            self._idr = (idr.pts, frames[0])
            pictures.append(frames[0])
        return same_picture(self.picture(pictures[0]), self.picture(pictures[1]))

    def picture(self, frame: av.VideoFrame) -> np.ndarray:
        """`small(frame)`, kept for the last few frames: a frame is compared with its two neighbours,
        and the reader that takes the frames asks for the same pictures (made once)."""
        for seen, small in self._smalls:
            if seen is frame:
                return small
        small = self.small(frame)
        self._smalls = [*self._smalls[-2:], (frame, small)]
        return small

    def _spare_decode(self, packets: list[av.Packet]) -> Iterator[av.VideoFrame]:
        """The frames the spare decoder gives for `packets` (from an IDR on), until the caller
        stops; it is then reset."""
        try:
            for packet in [*packets, None]:
                try:
                    frames = self.spare.decode(packet)
                except av.error.FFmpegError:
                    continue
                self.count.decoded += len(frames)
                for frame in frames:
                    if frame.time_base is None:  # frames drained at a flush carry no time base
                        frame.time_base = self.stream.time_base
                    yield frame
        finally:
            self.spare.flush_buffers()

    def _decoded(self, packet: av.Packet | None) -> Iterator[tuple[av.VideoFrame, int | None, bool]]:
        """The frames the main decoder gives for `packet` (None: the rest, at the end), each after
        the skipped frames shown before it; a packet that fails is skipped, as PySceneDetect's
        backend does, up to MAX_DECODE_FAILURES in a row."""
        if self._failures >= MAX_DECODE_FAILURES:
            return
        try:
            frames = self.main.decode(packet)
        except av.error.FFmpegError:
            self._failures += 1
            return
        self._failures = 0
        self.count.decoded += len(frames)
        for frame in frames:
            if frame.time_base is None:
                frame.time_base = self.stream.time_base
            if frame.pts is not None and self._given is not None and frame.pts <= self._given:
                continue  # given out already, decoded by the spare decoder
            if frame.pts is not None and self._skipped and self._skipped[0][0] < frame.pts:
                yield from self._fill(frame)
            yield self._give(frame, frame.pts, False)

    def _give(self, frame: av.VideoFrame, pts: int | None,
              repeated: bool) -> tuple[av.VideoFrame, int | None, bool]:
        self._previous, self._given = frame, pts if pts is not None else self._given
        return frame, pts, repeated

    def _fill(self, after: av.VideoFrame) -> Iterator[tuple[av.VideoFrame, int | None, bool]]:
        """The skipped frames shown before `after`: the frame before them repeated, when `after`
        shows the same picture; else decoded by the spare decoder."""
        run = [(pts, gop) for pts, gop in self._skipped if pts < after.pts]
        self._skipped = self._skipped[len(run):]
        if all(pts in self._recovered for pts, _ in run):
            for pts, _ in run:
                yield self._give(self._recovered.pop(pts), pts, False)
            return
        if self._previous is not None and same_picture(self.picture(self._previous), self.picture(after)):
            self.count.repeated += len(run)
            for pts, _ in run:
                yield self._give(self._previous, pts, True)
            return
        self.count.changed_runs += 1
        self._rest, self._backoff = self._backoff, 2 * self._backoff
        for gop in dict.fromkeys(gop for _, gop in run):
            gop.changed = True
            wanted = {pts for pts, g in run if g is gop}
            later = {pts for pts, g in self._skipped if g is gop and pts in gop.passed}
            frames = self._spare_decode([p.packet for p in gop.packets])
            for frame in frames:
                if frame.pts in wanted:
                    yield self._give(frame, frame.pts, False)
                    wanted.discard(frame.pts)
                elif frame.pts in later:
                    self._recovered[frame.pts] = frame
                    later.discard(frame.pts)
                if not wanted and not later:
                    frames.close()
                    break
