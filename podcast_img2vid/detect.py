"""Find picture changes in a static-image video: a PySceneDetect detector built for still pictures.

The built-in detectors compare each frame with the previous one, so a dissolve (a little change
on every frame) or a small edit (a big change on 1 % of the frame) stays under any sane threshold.
Here the picture is still between changes, so each frame is compared with the last *still*
picture instead, block by block:

* A frame is cut into about 40 blocks across; a block's value is its mean colour. Averaging over a
  block removes most grain and compression noise; a block is *changed* when its mean moves by more
  than `threshold / 3` levels (of 255) in any channel, or by more than 8 times the typical
  frame-to-frame change when the video is grainy. Two changed blocks (about 0.25 % of the frame)
  are enough, so an object covering 1 % of the frame is found.
* After a change the detector waits until the picture is still again (no block moves for
  `SETTLE_SECONDS`). If the still picture differs from the old one, each changed block's
  transition is located: the frame after the last one that is less than half way to the new value.
  A hard cut puts every block's transition on one frame, a dissolve on its midpoint. The cut is
  the median of those frames, and at least two blocks must agree on it, which rejects changes that
  creep across the frame (a progress bar).
* Animated overlays (an audiogram waveform, a blinking logo) are blocks that jump again and again.
  A block that jumps on 3 separate occasions, or on a quarter of the frames, within
  `ACTIVITY_SECONDS` of a frame (before or after it) is ignored at that frame. A change that goes
  back to the old picture before it settles (a flash) is ignored.

The detector sees each frame `ACTIVITY_SECONDS` late, so it can look ahead; cuts are reported late,
which `SceneManager` allows. Input frames may be any small image (BGR, YUV or grey).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from scenedetect import FrameTimecode, SceneDetector

BLOCKS_ACROSS = 40
MIN_BLOCKS = 2
SETTLE_SECONDS = 0.3
ACTIVITY_SECONDS = 1.0
LOOKBACK_SECONDS = 1.5
"""How far before a change's first clearly changed frame its transition may start (dissolves)."""
ACTIVITY_EVENTS = 3
ACTIVITY_SHARE = 0.25
NOISE_FRAMES = 63


@dataclass(frozen=True)
class Still:
    """The still picture that starts a scene, as the detector saw it."""

    frame: FrameTimecode
    """A frame where the picture has been still for `SETTLE_SECONDS`: safe to save."""
    blocks: np.ndarray
    """Mean colour per block, (channels, rows, cols) float32."""
    valid: np.ndarray
    """Blocks that were not animated at that frame."""


@dataclass
class _Frame:
    timecode: FrameTimecode
    blocks: np.ndarray
    jump: np.ndarray
    event: np.ndarray
    moving: bool
    """Some block jumped (the activity sums change with this frame)."""


def block_means(image: np.ndarray) -> np.ndarray:
    """Mean colour of each block of a small frame: (channels, rows, cols) float32."""
    if image.ndim == 2:
        image = image[:, :, None]
    height, width = image.shape[:2]
    size = max(1, round(max(height, width) / BLOCKS_ACROSS))
    rows, cols = max(1, height // size), max(1, width // size)
    cropped = np.ascontiguousarray(image[: rows * size, : cols * size])
    means = cv2.resize(cropped, (cols, rows), interpolation=cv2.INTER_AREA).reshape(rows, cols, -1)
    return np.ascontiguousarray(means.transpose(2, 0, 1), dtype=np.float32)


def block_change(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Largest per-channel difference of two block-mean images: (rows, cols)."""
    return np.abs(a - b).max(axis=0)


def same_picture(a: Still, b: Still, threshold: float) -> bool:
    """Whether two stills show the same picture by the detector's own rule (used to dedupe)."""
    if a.blocks.shape != b.blocks.shape:
        return False
    changed = (block_change(a.blocks, b.blocks) > threshold / 3) & a.valid & b.valid
    return np.count_nonzero(changed) < MIN_BLOCKS


class StillPictureDetector(SceneDetector):
    """Cuts between still pictures: hard cuts, dissolves (at the midpoint) and small edits.

    `threshold` is the sensitivity (30 by default; lower finds smaller changes): a block changes
    when its mean colour moves by more than threshold / 3 levels. `fps` is the rate of the frames
    the detector is given and `min_scene_len` counts those frames. `on_still(still)` is called once
    per scene, as soon as its picture is known to be still.

    When SceneManager skips frames (`frame_skip`), `frames_between(a, b)` must give the skipped
    frames between two given ones, as (timecode, small picture): the cut is then placed on the
    exact frame among them.
    """

    def __init__(
        self,
        fps: float,
        threshold: float = 30.0,
        min_scene_len: int = 15,
        on_still: Callable[[Still], None] | None = None,
        frames_between: Callable[[FrameTimecode, FrameTimecode], list[tuple[FrameTimecode, np.ndarray]]]
        | None = None,
    ):
        super().__init__()
        if threshold <= 0:
            raise ValueError("threshold must be positive")
        self.level = threshold / 3
        self.min_scene_len = max(1, min_scene_len)
        self.on_still = on_still
        self.frames_between = frames_between
        self.stills: list[Still] = []
        self.settle = max(2, round(SETTLE_SECONDS * fps))
        self.ahead = max(2, round(ACTIVITY_SECONDS * fps))
        self.window = 2 * self.ahead + 1
        self.lookback = max(self.settle + 2, round(LOOKBACK_SECONDS * fps))
        self._frames: deque[_Frame] = deque()
        self._first = 0
        """Index (count of frames seen) of `_frames[0]`."""
        self._count = 0
        self._jumps: np.ndarray | None = None
        """Per block: frames in the activity window where it jumped (moved by more than the level)."""
        self._events: np.ndarray | None = None
        """Per block: separate runs of jumps in the activity window."""
        self._no_jumps: np.ndarray | None = None
        self._ref: np.ndarray | None = None
        self._pending: int | None = 0
        self._last_cut = 0
        self._steps: deque[float] = deque(maxlen=NOISE_FRAMES)
        """Typical (median) block change of recent frames against the previous frame."""
        self._noise = 0.0
        """Noise level: the median of `_steps`, which cuts and dissolves do not move much."""
        self._last_image: np.ndarray | None = None
        self._valid_now: np.ndarray | None = None
        self._quiet: tuple[np.ndarray, np.ndarray] | None = None
        """(blocks, valid) last judged unchanged: the same again needs no work."""

    @property
    def reach(self) -> int:
        """How many frames back from the newest one a still or a cut may be (a 1 s dissolve's midpoint)."""
        return self.ahead + self.settle + self.lookback // 2

    def process_frame(self, timecode: FrameTimecode, frame_img: np.ndarray) -> list[FrameTimecode]:
        previous = self._frames[-1] if self._frames else None
        if previous is None:
            blocks = block_means(frame_img)
            jump = event = self._no_jumps = np.zeros(blocks.shape[1:], bool)
            self._jumps = np.zeros(jump.shape, np.int32)
            self._events = np.zeros(jump.shape, np.int32)
        elif np.array_equal(frame_img, self._last_image):  # common in still videos: skip the maths
            blocks, jump, event = previous.blocks, self._no_jumps, self._no_jumps
            self._steps.append(0.0)
        else:
            blocks = block_means(frame_img)
            step = block_change(blocks, previous.blocks)
            self._steps.append(float(np.median(step)))
            jump = step > self._change_level
            event = jump & ~previous.jump
        if self._count % 8 == 0 or self._count < 16:
            self._noise = float(np.median(self._steps)) if self._steps else 0.0
        self._last_image = frame_img
        frame = _Frame(timecode, blocks, jump, event, bool(jump.any()))
        self._frames.append(frame)
        self._count += 1
        if frame.moving:
            self._jumps += jump
            self._events += event
            self._valid_now = None
        judged = self._count - 1 - self.ahead
        cuts = self._judge(judged) if judged >= 0 else []
        self._trim(judged)
        return cuts

    def post_process(self, timecode: FrameTimecode) -> list[FrameTimecode]:
        cuts = []
        for index in range(max(0, self._count - self.ahead), self._count):
            cuts += self._judge(index)
            self._trim(index)
        if self._pending is not None and self._count:
            cuts += self._settled(self._count - 1, self._valid(), final=True)
        return cuts

    # Frames are numbered in reading order; the activity window of frame i is [i - ahead, i + ahead].

    @property
    def _change_level(self) -> float:
        """A block change must exceed the threshold and stand well out of the noise (grain)."""
        return max(self.level, 8 * self._noise)

    @property
    def _still_level(self) -> float:
        return max(self.level / 2, 6 * self._noise)

    def _at(self, index: int) -> _Frame:
        return self._frames[index - self._first]

    def _trim(self, judged: int) -> None:
        """Take frame `judged - ahead` out of the activity sums; drop frames no longer needed."""
        leaving = judged - self.ahead
        frame = self._at(leaving) if leaving >= self._first else None
        if frame is not None and frame.moving:
            self._jumps -= frame.jump
            self._events -= frame.event
            self._valid_now = None
        keep_from = judged + 1 - max(self.lookback + self.settle, self.ahead + 1)
        while self._first < keep_from:
            self._frames.popleft()
            self._first += 1

    def _valid(self) -> np.ndarray:
        """Blocks that are not animated around the judged frame."""
        if self._valid_now is None:
            animated = (self._events >= ACTIVITY_EVENTS) | (self._jumps >= ACTIVITY_SHARE * self.window)
            self._valid_now = ~animated
        return self._valid_now

    def _changed(self, blocks: np.ndarray, valid: np.ndarray) -> np.ndarray:
        return (block_change(blocks, self._ref) > self._change_level) & valid

    def _judge(self, index: int) -> list[FrameTimecode]:
        frame = self._at(index)
        valid = self._valid()
        quiet = self._quiet
        if self._pending is None and quiet and quiet[0] is frame.blocks and quiet[1] is valid:
            return []
        if self._ref is not None:
            np.copyto(self._ref, frame.blocks, where=~valid)
        if self._pending is None:
            changed = self._changed(frame.blocks, valid)
            count = np.count_nonzero(changed)
            self._quiet = (frame.blocks, valid) if count == 0 else None
            if count >= MIN_BLOCKS:
                self._pending = index
            elif count:
                # A change too small to be a new picture: follow it once it is still.
                np.copyto(self._ref, frame.blocks, where=changed & ~self._moved(index))
            return []
        return self._settled(index, valid)

    def _moved(self, index: int) -> np.ndarray:
        """Blocks that moved during the `settle` frames before `index`."""
        frame = self._at(index)
        moved = np.zeros(frame.jump.shape, bool)
        for back in range(1, min(self.settle, index - self._first) + 1):
            moved |= block_change(self._at(index - back).blocks, frame.blocks) > self._still_level
        return moved

    def _settled(self, index: int, valid: np.ndarray, final: bool = False) -> list[FrameTimecode]:
        """While a change is pending: once the picture is still again, decide whether it was a cut."""
        span = index - max(self._pending, self._first)
        if span < self.settle and not (final and span >= 1):
            return []
        if np.count_nonzero(self._moved(index) & valid) >= MIN_BLOCKS:
            return []
        frame = self._at(index)
        cuts = []
        if self._ref is None:
            self._record(frame, valid)
        else:
            changed = self._changed(frame.blocks, valid)
            if np.count_nonzero(changed) >= MIN_BLOCKS:
                cut = self._locate(changed, frame.blocks, index)
                if cut is not None and cut - self._last_cut >= self.min_scene_len:
                    self._last_cut = cut
                    cuts.append(self._exact(cut, changed, frame.blocks))
                    self._record(frame, valid)
        self._ref = frame.blocks.copy()
        self._pending = None
        return cuts

    def _locate(self, changed: np.ndarray, new: np.ndarray, index: int) -> int | None:
        """Frame of the change: where the changed blocks get at least half way to `new`.

        Per block, the frame after the last one still less than half way; the cut is their median.
        None when fewer than `MIN_BLOCKS` blocks agree on it (a change that creeps across).
        """
        start = max(self._first, self._pending - self.lookback)
        old = self._ref[:, changed]
        delta = new[:, changed] - old
        half = 0.5 * (delta * delta).sum(axis=0)
        seen = np.stack([self._at(i).blocks[:, changed] for i in range(start, index + 1)])
        below = ((seen - old) * delta).sum(axis=1) < half
        last_below = np.where(below.any(axis=0), below.shape[0] - 1 - np.argmax(below[::-1], axis=0), -1)
        frames = start + last_below + 1
        cut = int(np.median(frames))
        if np.count_nonzero(np.abs(frames - cut) <= 1) < MIN_BLOCKS or cut <= 0:
            return None
        return cut

    def _exact(self, cut: int, changed: np.ndarray, new: np.ndarray) -> FrameTimecode:
        """The cut's timecode; with skipped frames, the first of them already half way to `new`."""
        timecode = self._at(cut).timecode
        if self.frames_between is None or cut - 1 < self._first:
            return timecode
        old = self._ref[:, changed]
        delta = new[:, changed] - old
        half = 0.5 * (delta * delta).sum(axis=0)
        for skipped, image in self.frames_between(self._at(cut - 1).timecode, timecode):
            past = ((block_means(image)[:, changed] - old) * delta).sum(axis=0) >= half
            if 2 * np.count_nonzero(past) >= past.size:
                return skipped
        return timecode

    def _record(self, frame: _Frame, valid: np.ndarray) -> None:
        still = Still(frame.timecode, frame.blocks.copy(), valid.copy())
        self.stills.append(still)
        if self.on_still is not None:
            self.on_still(still)
