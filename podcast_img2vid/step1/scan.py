"""One decoding pass over the video: PySceneDetect's SceneManager drives PictureChangeDetector.

Decoding is the cost to beat, so the stream hands the detector a small picture sampled straight
from the decoded planes (no full-size colour conversion), and keeps the last few full frames so
each scene's picture is saved during the same pass instead of a second decode. It also keeps a few
full frames spread over the current scene (`SceneSamples`): where a subtitle covers the picture,
they show what lies under it (overlay_finder.py).
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from scenedetect import FrameTimecode, SceneManager, StatsManager
from scenedetect.backends.pyav import VideoStreamAv
from tqdm import tqdm

from ..errors import UserError
from ..media import MediaInfo
from .detect import Candidate, PictureChangeDetector, Still
from .overlay_finder import SubtitleBand, animated_blocks, blocks_to_pixels
from .prescan import PrescanCount, PrescannedFrames

ANALYSIS_SIZE = 160
"""The detector sees about this many pixels along the longer side."""
ANALYSIS_FPS = 10
"""The detector sees about this many frames a second; the frames between are looked at only
to put a cut on its exact frame (a third of the work per frame at 30 fps)."""
QUEUE_FRAMES = 8
"""Frames that may sit between the decoder and the detector (SceneManager's queue and more)."""
SAMPLE_SECONDS = 0.4
SCENE_SAMPLES = 8
"""A full frame is kept every SAMPLE_SECONDS of the current scene, thinned to between SCENE_SAMPLES
and twice as many, evenly spread."""
_PLANAR_YUV = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"}


def _plane(plane: av.video.plane.VideoPlane) -> np.ndarray:
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


def small_yuv(frame: av.VideoFrame, step: int) -> np.ndarray:
    """Every `step`-th pixel of the Y, U and V planes as one (h, w, 3) uint8 picture.

    This runs on every decoded frame: the kept rows are copied first (whole rows, read in order),
    then thinned, which costs less than gathering single pixels from all over the frame."""
    if frame.format.name not in _PLANAR_YUV:
        frame = frame.reformat(format="yuv444p")
    width, height = frame.width, frame.height
    planes = []
    for plane in frame.planes[:3]:
        step_x = max(1, step * plane.width // width)
        step_y = max(1, step * plane.height // height)
        rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[::step_y].copy()
        planes.append(rows[:, : plane.width : step_x])
    rows = min(p.shape[0] for p in planes)
    cols = min(p.shape[1] for p in planes)
    picture = np.empty((rows, cols, 3), np.uint8)
    for channel, p in enumerate(planes):
        picture[:, :, channel] = p[:rows, :cols]
    return picture


def detail_yuv(frame: av.VideoFrame, size: tuple[int, int]) -> np.ndarray:
    """The frame area-averaged to `size` (width, height): Y, U and V as one (h, w, 3) uint8 picture."""
    width, height = size
    planes = frame.reformat(width=width, height=height, format="yuv444p", interpolation="AREA").to_ndarray()
    return np.ascontiguousarray(planes.transpose(1, 2, 0))


class SceneSamples:
    """Full frames spread over the frames read since the last scene ended (see SCENE_SAMPLES).

    The decoding thread `offer`s frames as it reads them, ahead of the detector by a varying
    number; they count for a scene only once the detector has reached them (`reached`), so which
    frames a scene gets never depends on how far ahead decoding happened to be."""

    def __init__(self, every: int):
        self.every = max(1, every)
        self.stride = self.every
        self._frames: list[tuple[int, av.VideoFrame]] = []
        self._offered: deque[tuple[int, av.VideoFrame]] = deque()

    def offer(self, index: int, frame: av.VideoFrame) -> None:
        """Frame `index` was read (called by the decoding thread)."""
        if index % self.every == 0:
            self._offered.append((index, frame))

    def reached(self, index: int | None) -> None:
        """The detector reached frame `index` (None: the end of the video)."""
        while self._offered and (index is None or self._offered[0][0] <= index):
            self._add(*self._offered.popleft())

    def _add(self, index: int, frame: av.VideoFrame) -> None:
        if index % self.stride:
            return
        self._frames.append((index, frame))
        if len(self._frames) >= 2 * SCENE_SAMPLES:
            self.stride *= 2
            self._frames = [(i, f) for i, f in self._frames if i % self.stride == 0]

    def take(self, end: int | None) -> list[av.VideoFrame]:
        """The frames kept before frame `end` (all when None), which are then let go."""
        if end is None:
            self.reached(None)
        taken = [f for i, f in self._frames if end is None or i < end]
        self._frames = [(i, f) for i, f in self._frames if end is not None and i >= end]
        self.stride = self.every
        return taken


class AnalysisStream(VideoStreamAv):
    """PySceneDetect's PyAV backend, returning `small_yuv` pictures; it remembers every frame's time
    (for exact frame numbers, also in variable-frame-rate files), the small pictures of the last
    `keep_small` frames and the full frames of the last `keep_full` frames given to the detector
    (the frames SceneManager skips are read with `decode=False`).

    With `prescan`, frames of a still picture's quiet stretches are not decoded: the frame before
    them stands in for them (prescan.py; `prescan_count` says how many)."""

    def __init__(self, path: Path, keep_small: int, keep_full: int, progress: tqdm, samples: SceneSamples,
                 prescan: bool = False):
        super().__init__(str(path), threading_mode="AUTO", suppress_output=True)
        self.samples = samples
        width, height = self._codec_context.width, self._codec_context.height
        self.step = max(2, 2 * round(max(width, height) / (2 * ANALYSIS_SIZE)))
        self._pts: int | None = None
        self._last_small: np.ndarray | None = None
        self._spare: av.container.InputContainer | None = None
        self._source: Iterator[tuple[av.VideoFrame, int | None, bool]] | None = None
        self.prescan_count: PrescanCount | None = None
        self._picture: Callable[[av.VideoFrame], np.ndarray] = lambda frame: small_yuv(frame, self.step)
        if prescan:
            self._spare = av.open(str(path))
            frames = PrescannedFrames(self._container, self._spare.streams.video[0].codec_context,
                                      self._picture)
            self.prescan_count = frames.count
            self._source = iter(frames)
            self._picture = frames.picture  # the pictures it compared are not made again
        self.times: list[float] = []
        """Presentation time of each frame read, in seconds from the start of the stream."""
        self._small: deque[tuple[int, np.ndarray]] = deque(maxlen=keep_small)
        self._full: deque[tuple[int, av.VideoFrame]] = deque(maxlen=keep_full)
        self._progress = progress

    @property
    def stored_size(self) -> tuple[int, int]:
        """(width, height) of the decoded frames."""
        return self._codec_context.width, self._codec_context.height

    @property
    def frame_size(self) -> tuple[int, int]:
        """Size of the pictures `read()` returns (`small_yuv` keeps every `step`-th pixel)."""
        width, height = self._codec_context.width, self._codec_context.height
        return -(-width // self.step), -(-height // self.step)

    def read(self, decode: bool = True) -> np.ndarray | bool:
        repeated = False
        if self._source is None:
            if not super().read(decode=False):
                return False
            self._pts = self._frame.pts
        else:
            item = next(self._source, None)
            if item is None:
                return False
            self._frame, self._pts, repeated = item
        frame = self._frame
        index = len(self.times)
        self.times.append(self._seconds())
        small = self._last_small if repeated else self._picture(frame)
        self._last_small = small
        # deque.append and list.append are atomic: the detector thread may look meanwhile
        self._small.append((index, small))
        if decode:
            self._full.append((index, frame))
        self.samples.offer(index, frame)
        self._progress.update(1)
        return small if decode else True

    def _seconds(self) -> float:
        """`self.position.seconds` of the frame just read, the same float, without making a
        FrameTimecode for every frame (about 50 us each)."""
        frame = self._frame
        if self._pts is None or not isinstance(frame.time_base, Fraction):
            return self.position.seconds
        base = frame.time_base
        return (self._normalized_pts() * base.numerator) / base.denominator  # rounded as float(Fraction)

    def _normalized_pts(self) -> int:
        """The base class's, of the frame being read (a repeated frame keeps its own time)."""
        start_time = self._video_stream.start_time or 0
        if start_time and self._video_stream.time_base != self._frame.time_base:
            base = self._video_stream.time_base
            start_time = int(start_time * Fraction(base.numerator, base.denominator) / self._frame_time_base)
        return self._pts - start_time

    def close_spare(self) -> None:
        """Close the second decoder the pre-scan opened."""
        if self._spare is not None:
            self._spare.close()

    def index_of(self, timecode: FrameTimecode) -> int:
        """Number of the frame (counted from 0 in the file) that `timecode` came from."""
        times = self.times
        index = bisect.bisect_left(times, timecode.seconds - 1e-6)
        return min(index, len(times) - 1)

    def timecode(self, index: int) -> FrameTimecode:
        return FrameTimecode(self.times[index], self.frame_rate)

    def recent_frame(self, timecode: FrameTimecode) -> av.VideoFrame | None:
        """The full frame at `timecode` if it was decoded a moment ago, else None."""
        wanted = self.index_of(timecode)
        return next((frame for index, frame in list(self._full) if index == wanted), None)

    def frames_between(
        self, after: FrameTimecode, before: FrameTimecode
    ) -> list[tuple[FrameTimecode, np.ndarray]]:
        """Recent frames strictly between two timecodes, as (timecode, `small_yuv` picture)."""
        first, last = self.index_of(after), self.index_of(before)
        return [(self.timecode(index), small) for index, small in list(self._small) if first < index < last]


def _luma(frame: av.VideoFrame) -> np.ndarray:
    if frame.format.name in _PLANAR_YUV:
        return _plane(frame.planes[0])
    return frame.to_ndarray(format="gray")


def sharpness(luma: np.ndarray) -> float:
    """Variance of the Laplacian of a frame's luma: higher when the picture is sharper."""
    return float(cv2.Laplacian(luma, cv2.CV_32F).var())


def sharpest(candidates: list[Candidate]) -> Candidate | None:
    """The sharpest of a scene's picture candidates (`Still`), the one nearest the middle on a tie.

    Frames of a still picture often decode to the very same pixels (most candidates of a still
    scene do), so each distinct luma is measured once: comparing two frames' bytes costs far less
    than a Laplacian (and stops at the first difference); candidates that are all one frame (the
    pre-scan gives a frame again in place of those it did not decode) are not measured at all."""
    if len({id(candidate.full) for candidate in candidates}) == 1:
        return candidates[0]
    measured: list[tuple[bytes, float]] = []

    def measure(candidate: Candidate) -> float:
        luma = _luma(candidate.full)
        pixels = luma.tobytes()
        for seen, value in measured:
            if pixels == seen:
                return value
        value = sharpness(luma)
        measured.append((pixels, value))
        return value

    return max(candidates, key=measure, default=None)


@dataclass(frozen=True)
class ScenePicture:
    """A scene's picture as the scan hands it over: the detector's choice and its full frame, frames
    sampled across the scene (`SceneSamples`), and the subtitle band found so far."""

    chosen: Candidate
    frame: av.VideoFrame
    samples: list[av.VideoFrame]
    subtitle_mask: np.ndarray | None
    """The subtitle band in the frame's stored pixels ((h, w) uint8, 255 = band), None before any."""
    subtitle_colours: tuple[tuple[int, int, int], ...]


@dataclass(frozen=True)
class Detected:
    """Scene starts, and where overlays were found."""

    cuts: list[tuple[float, int]]
    """(seconds, frame number in the file) of each scene start after the first."""
    end_seconds: float
    """Where decoding stopped (the end of the last frame read)."""
    frames_read: int
    subtitles: SubtitleBand
    frames_decoded: int | None = None
    """Of `frames_read`, how many were decoded (None without the pre-scan: all of them)."""
    subtitle_mask: np.ndarray | None = None
    animated_mask: np.ndarray | None = None
    """Where subtitles and animated overlays were found, in the stored pixels ((h, w) uint8, 255 =
    overlay), None where none were."""


def scan(
    info: MediaInfo,
    threshold: float,
    min_scene_seconds: float,
    on_picture: Callable[[ScenePicture], None],
    stats: StatsManager | None = None,
    prescan: bool = True,
) -> Detected:
    """Find the cuts and overlays; `on_picture` receives each scene's picture in order; `stats`
    receives the detector's metrics of each analysed frame. With `prescan`, quiet stretches of a
    still picture are not decoded (prescan.py); without, every frame is."""
    fps = float(info.fps)
    skip = max(0, round(fps / ANALYSIS_FPS) - 1)
    stream: AnalysisStream
    subtitles = SubtitleBand(full_picture=lambda frame: detail_yuv(frame, (frame.width, frame.height)))
    samples = SceneSamples(round(SAMPLE_SECONDS * fps))

    def grab(timecode: FrameTimecode) -> av.VideoFrame | None:  # the detector asks once per judged frame
        samples.reached(stream.index_of(timecode))
        return stream.recent_frame(timecode)

    def pixels(blocks: np.ndarray | None) -> np.ndarray | None:
        if blocks is None:
            return None
        return blocks_to_pixels(blocks, stream.frame_size, stream.stored_size)

    def take_picture(still: Still) -> None:
        chosen = sharpest([c for c in still.candidates if c.full is not None])
        if chosen is None:  # never expected: candidates are grabbed within the decode window
            raise RuntimeError(f"no frame kept for the scene picture at {still.frame}")
        end = stream.index_of(still.end) if still.end is not None else None
        on_picture(ScenePicture(chosen, chosen.full, samples.take(end), pixels(subtitles.blocks),
                                subtitles.colours))

    rate = fps / (skip + 1)
    detector = PictureChangeDetector(
        rate, threshold=threshold, min_scene_len=round(min_scene_seconds * rate),
        on_still=take_picture, grab=grab, detail=detail_yuv,
        frames_between=lambda after, before: stream.frames_between(after, before),
        overlay_change=subtitles,
    )
    progress = tqdm(total=info.frame_count, unit="frames", desc="Step 1", dynamic_ncols=True)
    try:
        stream = AnalysisStream(
            info.path, keep_small=(detector.reach + QUEUE_FRAMES) * (skip + 1),
            keep_full=detector.picture_reach + QUEUE_FRAMES, progress=progress, samples=samples,
            prescan=prescan,
        )
    except Exception as e:  # PySceneDetect raises several types for a file it cannot open
        progress.close()
        raise UserError(f"{info.path}: cannot be decoded ({e}). Re-export or re-download it.") from None
    manager = SceneManager()
    manager.auto_downscale = False
    manager.downscale = 1
    manager.add_detector(detector)
    if stats is not None:  # given to the detector alone: SceneManager refuses frame_skip with stats
        detector.stats_manager = stats
        stats.register_metrics(detector.get_metrics())
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # the detector's images are tiny: a thread pool only costs time
    try:
        manager.detect_scenes(stream, frame_skip=skip, show_progress=False)
    except av.error.FFmpegError as e:
        raise UserError(f"{info.path}: decoding failed ({e}). Re-export or re-download it.") from None
    finally:
        stream.close_spare()
        cv2.setNumThreads(threads)
        progress.total = progress.n  # the probed frame count is an estimate: end the bar where reading did
        progress.close()
    scenes = manager.get_scene_list(start_in_scene=True)
    cuts = [stream.index_of(start) for start, _ in scenes[1:]]
    end = stream.times[-1] + 1 / float(stream.frame_rate) if stream.times else 0.0
    return Detected(
        cuts=[(stream.times[i], i) for i in cuts], end_seconds=end,
        frames_read=len(stream.times), subtitles=subtitles,
        subtitle_mask=pixels(subtitles.blocks),
        frames_decoded=None if stream.prescan_count is None else stream.prescan_count.decoded,
        animated_mask=pixels(animated_blocks(detector.animated_frames, detector.judged_frames)),
    )
