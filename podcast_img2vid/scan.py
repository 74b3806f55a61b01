"""One decoding pass over the video: PySceneDetect's SceneManager drives StillPictureDetector.

Decoding is the cost to beat, so the stream hands the detector a small picture sampled straight
from the decoded planes (no full-size colour conversion), and keeps the last few full frames so
each scene's picture is saved during the same pass instead of a second decode.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from scenedetect import FrameTimecode, SceneManager
from scenedetect.backends.pyav import VideoStreamAv

from .detect import Still, StillPictureDetector
from .errors import UserError
from .media import MediaInfo

ANALYSIS_SIZE = 160
"""The detector sees about this many pixels along the longer side."""
ANALYSIS_FPS = 10
"""The detector sees about this many frames a second; the frames between are looked at only
to put a cut on its exact frame (a third of the work per frame at 30 fps)."""
QUEUE_FRAMES = 8
"""Frames that may sit between the decoder and the detector (SceneManager's queue and more)."""
_PLANAR_YUV = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"}


def _plane(plane: av.video.plane.VideoPlane) -> np.ndarray:
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


def small_yuv(frame: av.VideoFrame, step: int) -> np.ndarray:
    """Every `step`-th pixel of the Y, U and V planes as one (h, w, 3) uint8 picture."""
    if frame.format.name not in _PLANAR_YUV:
        frame = frame.reformat(format="yuv444p")
    width, height = frame.width, frame.height
    planes = []
    for plane in frame.planes[:3]:
        step_x = max(1, step * plane.width // width)
        step_y = max(1, step * plane.height // height)
        planes.append(_plane(plane)[::step_y, ::step_x])
    rows = min(p.shape[0] for p in planes)
    cols = min(p.shape[1] for p in planes)
    return np.dstack([p[:rows, :cols] for p in planes])


class AnalysisStream(VideoStreamAv):
    """PySceneDetect's PyAV backend, returning `small_yuv` pictures and keeping recent full frames."""

    def __init__(self, path: Path, keep: int):
        super().__init__(str(path), threading_mode="AUTO", suppress_output=True)
        width, height = self._codec_context.width, self._codec_context.height
        self.step = max(2, 2 * round(max(width, height) / (2 * ANALYSIS_SIZE)))
        self._recent: deque[av.VideoFrame] = deque(maxlen=keep)
        self.frames_read = 0

    @property
    def frame_size(self) -> tuple[int, int]:
        """Size of the pictures `read()` returns (`small_yuv` keeps every `step`-th pixel)."""
        width, height = self._codec_context.width, self._codec_context.height
        return -(-width // self.step), -(-height // self.step)

    def read(self, decode: bool = True) -> np.ndarray | bool:
        if not super().read(decode=False):
            return False
        self.frames_read += 1
        self._recent.append(self._frame)  # deque.append is atomic: the detector thread may look
        return small_yuv(self._frame, self.step) if decode else True

    def _recent_times(self) -> list[tuple[float, av.VideoFrame]]:
        """Recent frames with their times from the start of the stream."""
        stream = self._video_stream
        start = float((stream.start_time or 0) * stream.time_base)
        return [(frame.time - start, frame) for frame in list(self._recent) if frame.time is not None]

    def recent_frame(self, timecode: FrameTimecode) -> av.VideoFrame | None:
        """The full frame at `timecode` if it was decoded a moment ago, else None."""
        for seconds, frame in self._recent_times():
            if abs(seconds - timecode.seconds) < 0.5 / self.frame_rate:
                return frame
        return None

    def frames_between(
        self, after: FrameTimecode, before: FrameTimecode
    ) -> list[tuple[FrameTimecode, np.ndarray]]:
        """Recent frames strictly between two timecodes, as (timecode, `small_yuv` picture)."""
        margin = 0.5 / self.frame_rate
        return [
            (FrameTimecode(seconds, self.frame_rate), small_yuv(frame, self.step))
            for seconds, frame in self._recent_times()
            if after.seconds + margin < seconds < before.seconds - margin
        ]


@dataclass(frozen=True)
class Detected:
    """Scene starts (frame numbers, the first is 0) and the still picture of each scene."""

    cuts: list[FrameTimecode]
    stills: list[Still]
    end_seconds: float
    """Where decoding stopped (the end of the last frame read)."""


def scan(
    info: MediaInfo,
    threshold: float,
    min_scene_seconds: float,
    on_picture: Callable[[Still, av.VideoFrame], None],
) -> Detected:
    """Find the cuts; `on_picture(still, frame)` receives each scene's still frame (full size) in order."""
    fps = float(info.fps)
    skip = max(0, round(fps / ANALYSIS_FPS) - 1)
    stream: AnalysisStream

    def grab(still: Still) -> None:
        frame = stream.recent_frame(still.frame)
        if frame is None:  # never expected: the window covers the detector's reach
            raise RuntimeError(f"frame {still.frame} left the decode window")
        on_picture(still, frame)

    rate = fps / (skip + 1)
    detector = StillPictureDetector(
        rate, threshold=threshold, min_scene_len=round(min_scene_seconds * rate), on_still=grab,
        frames_between=lambda after, before: stream.frames_between(after, before),
    )
    try:
        stream = AnalysisStream(info.path, keep=(detector.reach + QUEUE_FRAMES) * (skip + 1))
    except Exception as e:  # PySceneDetect raises several types for a file it cannot open
        raise UserError(f"{info.path}: cannot be decoded ({e}). Re-export or re-download it.") from None
    manager = SceneManager()
    manager.auto_downscale = False
    manager.downscale = 1
    manager.add_detector(detector)
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # the detector's images are tiny: a thread pool only costs time
    try:
        manager.detect_scenes(stream, frame_skip=skip, show_progress=True)
    except av.error.FFmpegError as e:
        raise UserError(f"{info.path}: decoding failed ({e}). Re-export or re-download it.") from None
    finally:
        cv2.setNumThreads(threads)
    scenes = manager.get_scene_list(start_in_scene=True)
    end = stream.position.seconds + 1 / float(stream.frame_rate) if stream.frames_read else 0.0
    return Detected(cuts=[start for start, _ in scenes[1:]], stills=detector.stills, end_seconds=end)
