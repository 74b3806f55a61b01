"""Find picture changes in a podcast video whose pictures may move: a PySceneDetect detector.

The built-in detectors compare each frame with the previous one, so a dissolve (a little change on
every frame) or a small edit (a big change on 1 % of the frame) stays under any sane threshold. Here
each frame is also compared with the scene's *reference* picture, block by block, once the global
motion between them (a slow zoom, a pan, a shake) has been taken out:

* A frame is cut into about 40 blocks across; a block's value is its mean colour, which averages
  away most grain and compression noise. A block is *changed* when its mean moves by more than
  `threshold / 3` levels (of 255) in a channel, or by more than 8 times the typical frame-to-frame
  change in a grainy video. Two changed blocks (about 0.25 % of the frame) can make a cut.
* `track_motion`: the zoom/shift between a frame and a recent anchor frame (ECC on a small grey
  picture); every frame gets a *pose*, so any two nearby frames can be aligned (`align`).
* `activity_mask`: blocks that go back and forth over `activity_seconds` before and after a frame
  (an audiogram, a presenter box, a blinking logo) are ignored; a cut or a dissolve moves a block
  one way only, so it is never masked.
* Hard cuts (`hard_cut`): most blocks change between two analysed frames, far more than around
  them, and the new picture stays (not a flash). Found at once, even if nothing is ever still.
* Dissolves, fades and small edits: once the reference differs and the picture has stopped
  changing (no block moves for `settle_seconds`, nor much over `settle_long_seconds`), or, in a
  picture that never stops moving, before the change's first frame is forgotten, the reference
  is aligned with the frame directly (`refine_motion`: the tracked poses are chained, so they
  drift; in a moving picture on area-averaged `detail` pictures, where sharp edges do not
  flicker, and with still layers over it, such as a presenter's box, taken out pixel by pixel:
  `layered_change`) and the blocks still changed decide; while a change is pending, the
  reference's blocks stay as they were. At the end of the video no later frames show which
  blocks are animated: a change there near an animated area is no cut. The transition is
  located (`locate_transition`): per changed block, the frame where it gets half way; the cut
  is their median (they agree, or sweep the whole picture within a transition's time: a wipe),
  and a fade through black or white goes to its darkest/brightest frame (once the fade is over,
  so that the next picture's reference does not lie in it).
  Changes that creep across the frame (a progress bar) never agree on a frame.

`threshold` only decides which blocks count as changed: what moves, what is animated and what is a
hard cut do not depend on it, so a lower threshold finds every change a higher one finds.

The detector sees each frame `activity_seconds` late, so it can look ahead; cuts are reported late,
which `SceneManager` allows (`event_buffer_length`). Input frames are small YUV pictures (luma first).
Every tuning value is a field of `DetectorParameters`, given to the constructor (the policy functions
below take it too); with a `StatsManager` the detector records per-frame metrics (`METRIC_KEYS`), so
a wrong cut can be traced.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import cv2
import numpy as np
from scenedetect import FrameTimecode, SceneDetector

if TYPE_CHECKING:
    import av

BLOCKS_ACROSS = 40
"""The analysis grid: a frame is cut into about this many blocks across. Not a tuning knob: the
overlay finder maps the detector's blocks to pixels with the same grid (`block_size`)."""

IDENTITY = np.eye(3)


@dataclass(frozen=True)
class DetectorParameters:
    """How `PictureChangeDetector` decides, with the values every test and benchmark was measured
    with (like the arguments of PySceneDetect's ContentDetector and its `Components` weights).
    Levels are in 8-bit levels (of 255) of a block's mean colour; durations in seconds of video,
    turned into frames at the detector's frame rate. `threshold` is the constructor's own argument.
    """

    # What counts as a change, and as still.
    min_blocks: int = 2
    """Two changed blocks (about 0.25 % of the frame) can make a cut."""
    still_level: float = 4.0
    """A block moves when it changes by more than this many levels (or 6 times the noise)."""
    settle_seconds: float = 0.3
    settle_long_seconds: float = 0.6
    """The picture is still when nothing moved over `settle_seconds`, nor twice as much over this."""
    noise_frames: int = 63
    """The noise level (grain) is the median block step over this many recent frames."""

    # Animated overlays (`activity_mask`).
    activity_seconds: float = 1.5
    """The activity window before and after a frame; the detector sees each frame this late."""
    activity_level: float = 8.0
    activity_noise: float = 2.5
    activity_starts: int = 3
    activity_turns: int = 2
    activity_share: float = 0.25
    """What makes a block animated: see `activity_mask`."""
    activity_margin: int = 2
    """Blocks within this many blocks of an animated area (at least 2x2 animated blocks) are not
    judged either: an overlay moves only now and then at its edges (a presenter leaning into a corner
    of the box)."""
    global_share: float = 0.5
    """A frame where this share of the blocks moves is a cut, a dissolve or a fade: no animation."""
    settling: float = 0.25
    """After a change, a block may wobble by this share of it (the codec settling) and not be animated."""
    min_valid_share: float = 0.3
    """When more of the frame looks animated, the least active 30 % of the blocks are still judged."""

    # Transitions.
    lookback_seconds: float = 2.5
    """How far before a change's first clearly changed frame its transition may start (2 s dissolves)."""
    longest_transition_seconds: float = 1.5
    """Most of a transition (a fifth to four fifths of the way) takes at most this long: 2 s dissolves."""
    min_alone_seconds: float = 0.4
    """A picture that stays still this long between two transitions is a scene of its own (a short
    scene between two dissolves may not settle for `settle_long_seconds` before the next one starts)."""
    slide_coverage: float = 0.5
    """A motion that leaves less than this share of the picture in the frame within
    `longest_transition_seconds` is a slide transition, not a move of the picture: it is not followed."""
    hard_level: float = 10.0
    hard_share: float = 0.3
    hard_ratio: float = 3.0
    hard_window: int = 2
    """A hard cut changes `hard_share` of the judged blocks, and `hard_ratio` times more blocks (by
    `hard_level`, whatever the threshold) than the `hard_window` frames on each side of it do."""
    settled_progress: float = 0.9
    """A change is over when, `settle_seconds` before the frame it is decided on, its blocks were this
    share of the way there (see `_still_transitioning`)."""
    ramp_frames: int = 3
    """A transition seen half way on this many analysed frames is placed by a line fitted to them."""
    fade_depth: float = 24.0
    """A transition is a fade when its darkest (brightest) frame is this much darker (brighter)
    than both pictures."""
    fade_floor: float = 2.0
    """Frames within this many levels of the darkest (brightest) one are the fade's floor (black
    or white clipped by the codec); the cut is the floor's middle, weighted by depth."""

    # The reference picture.
    refresh_seconds: float = 2.5
    """An unchanged reference is renewed after this long (so slow drifts never add up to a change)."""
    refresh_moving_seconds: float = 0.5
    moving_pixels: float = 1.0
    """When the picture moved by more than this (analysis pixels) since the reference, it is renewed
    after `refresh_moving_seconds`: a dissolve still changes by a quarter within that time."""

    # Whole-picture motion.
    track_width: int = 80
    """Motion is estimated on a grey picture about this wide."""
    anchor_seconds: float = 1.0
    """The tracker's anchor frame is renewed after this long."""
    min_track_correlation: float = 0.9
    """Two pictures whose aligned correlation (ECC) is lower do not show the same picture."""
    motion_slack: float = 1.0
    """Once the picture moved, a block may change by this many times its texture (`block_texture`)
    without counting: the analysed picture keeps every few pixels, so fine texture does not move
    with the picture."""
    motion_gain: float = 0.7
    """A measured motion is used when aligning with it leaves at most 70 % of the change."""
    detail_scale: int = 2
    """A change in a moving picture is checked on pictures this many times the analysed size,
    area-averaged (`detail`): the analysed picture keeps every few pixels, so a sharp edge that moves
    flickers there."""
    refine_share: float = 0.1
    """A direct alignment of two analysed pictures may correct the tracked motion by this share of the
    width (the tracked motion is measured on smaller pictures and chained: it may be a few pixels off)."""
    still_pixels: float = 0.25
    """A picture whose direct alignment moves it by less than this (analysis pixels) did not move: its
    plain comparison stands (no slack for texture, so a subtle edit in a textured picture counts)."""

    # Changes near animated overlays.
    near_activity_blocks: int = 5
    sudden_seconds: float = 0.1
    near_activity_share: float = 0.005
    """A change whose blocks all lie within `near_activity_blocks` of an animated block (the still
    part of a presenter box, whose background drifts a pixel at a time) must be a step: most of its
    blocks go from a fifth to four fifths of the way within `sudden_seconds` (at least 2 frames),
    and it must cover `near_activity_share` of the judged blocks (the box's edge, where the presenter
    leans in now and then, changes a few blocks; a 1 % edit covers twice as many)."""
    animated_memory_seconds: float = 5.0
    """Nor is it a cut when every block of it was animated (or next to animation) within this long: a
    slow presenter sways across the box in more time than the activity window sees."""

    # The scene's picture.
    run_samples: int = 6
    """A run of frames keeps 6 to 11 of them as picture candidates: one within a twelfth of its length
    from its middle."""
    min_still_seconds: float = 1.0
    """A scene's picture comes from its longest still part when it lasts this long (see `CalmestPart`)."""
    still_part_share: float = 0.5
    """In a still part no judged block differs from its first frame by half the level of a move."""


DEFAULT_PARAMETERS = DetectorParameters()

METRIC_KEYS = ("judged_blocks", "moved_blocks", "noise_level", "change_level", "changed_blocks",
               "reference_frame", "pending_since", "cut_frames")
"""What the detector records per judged frame in a `StatsManager` (PySceneDetect's), to trace a
wrong or missed cut: the blocks judged (not animated) and moved against the previous frame, the
noise level and the change level a block must exceed, the judged blocks changed from the
reference (blank where not measured), the reference's frame number, the first frame of a pending
change, and the cuts reported when the frame was judged (frame numbers; often earlier frames)."""


@dataclass(frozen=True)
class Candidate:
    """A frame that may become its scene's picture."""

    index: int
    """The frame's number among those the detector was given."""
    frame: FrameTimecode
    blocks: np.ndarray
    """Mean colour per block, (channels, rows, cols) float32."""
    valid: np.ndarray
    """Blocks that were not animated at that frame."""
    full: av.VideoFrame | None
    """What `grab` gave for the frame (the full-size frame), or None."""


@dataclass(frozen=True)
class Still:
    """Where a scene's picture is taken: frames from the middle of its calmest part, outside any
    transition, nearest that middle first (any of them is a good picture; the sharpest is best)."""

    candidates: tuple[Candidate, ...]
    end: FrameTimecode | None = None
    """The next scene's first frame (None for the last scene)."""

    @property
    def frame(self) -> FrameTimecode:
        return self.candidates[0].frame


@dataclass(frozen=True)
class LocalChange:
    """A change about to be reported as a cut, for `overlay_change` to veto: the `changed` blocks
    ((rows, cols) bool), the reference's and the frame's analysed pictures, whether the picture moved,
    the blocks judged (`valid`: animated areas and their margin are not), and what `grab` gave for
    the reference and the frame (`full`: the full-size frames), None unless both were grabbed."""

    changed: np.ndarray
    before: np.ndarray
    after: np.ndarray
    moving: bool
    valid: np.ndarray
    full: tuple[av.VideoFrame, av.VideoFrame] | None = None


def block_means(image: np.ndarray) -> np.ndarray:
    """Mean colour of each block of a small frame: (channels, rows, cols) float32."""
    if image.ndim == 2:
        image = image[:, :, None]
    height, width = image.shape[:2]
    size = block_size(width, height)
    rows, cols = max(1, height // size), max(1, width // size)
    cropped = np.ascontiguousarray(image[: rows * size, : cols * size])
    means = cv2.resize(cropped, (cols, rows), interpolation=cv2.INTER_AREA).reshape(rows, cols, -1)
    return np.ascontiguousarray(means.transpose(2, 0, 1), dtype=np.float32)


def block_size(width: int, height: int) -> int:
    return max(1, round(max(height, width) / BLOCKS_ACROSS))


def pixel_mask(blocks: np.ndarray, image: np.ndarray) -> np.ndarray:
    """A (rows, cols) mask of blocks as a uint8 mask of the pixels of `image` (0 outside the blocks)."""
    height, width = image.shape[:2]
    size = block_size(width, height)
    rows, cols = blocks.shape
    mask = np.zeros((height, width), np.uint8)
    mask[: rows * size, : cols * size] = np.kron(blocks.astype(np.uint8), np.ones((size, size), np.uint8))
    return mask


def block_change(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Largest per-channel difference of two block-mean images: (rows, cols)."""
    return np.abs(a - b).max(axis=0)


# Global motion. A pose is a 3x3 affine matrix from a shared reference to a frame's pixels; the
# motion from frame a to frame b is pose_b @ inv(pose_a) (IDENTITY: no motion).


def track_motion(
    anchor: np.ndarray, grey: np.ndarray, guess: np.ndarray,
    parameters: DetectorParameters = DEFAULT_PARAMETERS,
) -> np.ndarray | None:
    """Affine motion (3x3) mapping `anchor` onto `grey` (float32 pictures of one size), by ECC
    from `guess`; None when the two do not show the same picture (a cut)."""
    warp = np.ascontiguousarray(guess[:2], dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 1e-3)
    try:
        correlation, warp = cv2.findTransformECC(anchor, grey, warp, cv2.MOTION_AFFINE, criteria, None, 1)
    except cv2.error:  # no convergence: different pictures
        return None
    if correlation < parameters.min_track_correlation:
        return None
    return np.vstack([warp.astype(np.float64), [0, 0, 1]])


def refine_motion(
    template: np.ndarray, image: np.ndarray, guess: np.ndarray, mask: np.ndarray | None = None,
    parameters: DetectorParameters = DEFAULT_PARAMETERS,
) -> np.ndarray | None:
    """Affine motion (3x3) mapping `template` onto `image` (grey pictures of one size), by ECC from
    `guess` on the pixels of `image` where `mask` is set (uint8), on pictures half the size first,
    then on the pictures themselves; None when they do not show the same picture, or the motion
    strays from `guess` by more than `refine_share` of the width (it then matched something else)."""
    height, width = image.shape[:2]
    half = (max(8, width // 2), max(8, height // 2))
    motion = guess
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 1e-4)
    for size in (half, (width, height)):
        factor = width / size[0]
        warp = np.ascontiguousarray(rescale(motion, 1 / factor)[:2], dtype=np.float32)
        try:
            correlation, warp = cv2.findTransformECC(
                cv2.resize(template, size, interpolation=cv2.INTER_AREA).astype(np.float32),
                cv2.resize(image, size, interpolation=cv2.INTER_AREA).astype(np.float32),
                warp, cv2.MOTION_AFFINE, criteria,
                None if mask is None else cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST), 3)
        except cv2.error:
            return None
        motion = rescale(np.vstack([warp.astype(np.float64), [0, 0, 1]]), factor)
    strays = displacement(motion - guess, width, height) > parameters.refine_share * width
    return None if correlation < parameters.min_track_correlation or strays else motion


def displacement(change: np.ndarray, width: int, height: int) -> float:
    """How far (pixels) the difference `change` of two motions moves a corner of the picture."""
    corners = np.array([[0, width, 0, width], [0, 0, height, height], [1, 1, 1, 1]])
    return float(np.abs(change @ corners).max())


def rescale(motion: np.ndarray, factor: float) -> np.ndarray:
    """The same motion in pixels `factor` times larger."""
    scale = np.diag([factor, factor, 1.0])
    return scale @ motion @ np.linalg.inv(scale)


def is_still(motion: np.ndarray) -> bool:
    """Whether a motion moves no pixel of a small picture by more than a hundredth of a pixel."""
    return bool(np.abs(motion - IDENTITY).max() < 1e-4)


def align(image: np.ndarray, motion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Block means of `image` moved by `motion` (into another frame's pixels), and which blocks
    it covers completely."""
    height, width = image.shape[:2]
    if is_still(motion):
        blocks = block_means(image)
        return blocks, np.ones(blocks.shape[1:], bool)
    moved = cv2.warpAffine(image, motion[:2], (width, height), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    blocks = block_means(moved)
    return blocks, coverage(motion, width, height)


def coverage(motion: np.ndarray, width: int, height: int) -> np.ndarray:
    """Which blocks of a `width` x `height` picture moved by `motion` are covered completely."""
    corners = block_corners(width, height)
    rows, cols = corners.shape[1] - 1, corners.shape[2] - 1
    source = (np.linalg.inv(motion) @ corners.reshape(3, -1))[:2].reshape(2, rows + 1, cols + 1)
    inside = (source[0] >= 0) & (source[0] <= width) & (source[1] >= 0) & (source[1] <= height)
    return inside[:-1, :-1] & inside[1:, :-1] & inside[:-1, 1:] & inside[1:, 1:]


@functools.lru_cache(maxsize=8)
def block_corners(width: int, height: int) -> np.ndarray:
    """The corners of the blocks of a `width` x `height` picture, (x, y, 1) by (rows + 1, cols + 1);
    made once per size (every moving frame asks), read-only."""
    size = block_size(width, height)
    rows, cols = max(1, height // size), max(1, width // size)
    ys, xs = np.meshgrid(np.arange(rows + 1) * size, np.arange(cols + 1) * size, indexing="ij")
    corners = np.stack([xs, ys, np.ones(xs.shape)]).astype(np.float64)
    corners.flags.writeable = False
    return corners


def layered_change(
    old: np.ndarray, new: np.ndarray, motion: np.ndarray, size: tuple[int, int], still_level: float,
) -> np.ndarray:
    """Block change (as `block_change`, blocks of a picture of `size`) from `old` to `new` (pictures
    of one size, uint8) where `motion` maps `old` onto `new`, with still layers over the moving
    picture (a presenter's box, a caption, a logo) taken out pixel by pixel.

    Aligning `new` moves such a layer, so a block beside its edge holds part layer, part picture.
    Per pixel, the smaller of the change after alignment and the change in place counts; and none
    where the aligned pixel comes from the still layer (no channel changed by more than
    `still_level` in place): it tells nothing about the picture it covers. A new picture changes
    both ways."""
    height, width = new.shape[:2]
    inverse = np.linalg.inv(motion)[:2]
    moved = cv2.warpAffine(new, inverse, (width, height), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    aligned = moved.astype(np.float32) - old
    in_place = new.astype(np.float32) - old
    change = np.where(np.abs(aligned) <= np.abs(in_place), aligned, in_place)
    still = (np.abs(in_place).max(axis=2) <= still_level).astype(np.uint8)
    from_still = cv2.warpAffine(still, inverse, (width, height), flags=cv2.INTER_NEAREST,
                                borderMode=cv2.BORDER_REPLICATE).astype(bool)
    change[from_still] = 0
    return np.abs(block_means(cv2.resize(change, size, interpolation=cv2.INTER_AREA))).max(axis=0)


def block_texture(image: np.ndarray) -> np.ndarray:
    """Mean absolute difference between neighbouring pixels in each block (largest channel):
    how much a block's mean changes when the picture moves by one pixel."""
    texture = np.zeros(image.shape, np.uint8)
    texture[:, :-1] = cv2.absdiff(image[:, 1:], image[:, :-1])
    np.maximum(texture[:-1], cv2.absdiff(image[1:], image[:-1]), out=texture[:-1])
    return block_means(texture.astype(np.float32)).max(axis=0)


def _typical(step: np.ndarray, where: np.ndarray) -> float:
    """The typical size of a block step (mean of the largest channel change) over `where`."""
    return float(np.abs(step).max(axis=0)[where].mean()) if where.any() else 0.0


# Policies, each a small function of arrays.

def activity_mask(
    sum_abs: np.ndarray, sum_signed: np.ndarray, moves: np.ndarray, starts: np.ndarray, turns: np.ndarray,
    local: int, frames: int, parameters: DetectorParameters = DEFAULT_PARAMETERS,
) -> np.ndarray:
    """The blocks that are *valid* (not animated) over a window; at least `min_valid_share` of them.

    Over the `local` frames of a window of `frames` frames that changed locally (frames where
    most of the picture changed, cuts and dissolves, are left out), per channel and block:
    `sum_abs` and `sum_signed` sum |step| and step (a block's change against the aligned previous
    frame); per block, `moves` counts the frames where it moved, `starts` the separate runs and
    `turns` the moves against its previous one (in a channel).

    An animated block (a waveform bar, a presenter, a blinking logo) goes back and forth far
    more than its net change, by more than the codec noise of every frame (`activity_level` plus
    `activity_noise` a frame), and does so often: in `activity_starts` separate runs or on
    `activity_share` of the frames, turning back `activity_turns` times or more. A small edit goes one
    way, with only the codec settling after it; a picture that shows up and leaves again (a short
    scene between two dissolves, whose slow frames count as local) turns back once. The blocks next
    to an animated one are left out too, and `activity_margin` blocks around an animated area (the
    edge of an overlay moves less); a thin line of animated blocks (the outline of a moving drawing,
    which flickers on the analysed picture) is no overlay, and a margin around it would leave little
    to judge.
    """
    if not (turns >= parameters.activity_turns).any():  # the usual case; the mask below would be all valid
        return np.ones(turns.shape, bool)
    net = np.abs(sum_signed)
    rest = (sum_abs - net - parameters.settling * net).max(axis=0)
    often = (starts >= parameters.activity_starts) | (moves >= parameters.activity_share * max(frames, 1))
    often &= turns >= parameters.activity_turns
    animated = (rest > parameters.activity_level + parameters.activity_noise * local) & often
    cells = animated.astype(np.uint8)
    squares = cv2.erode(cells, np.ones((2, 2), np.uint8), anchor=(0, 0), borderType=cv2.BORDER_CONSTANT,
                        borderValue=0).astype(bool)  # the top left corners of 2x2 animated blocks
    _, groups = cv2.connectedComponents(cells, connectivity=8)
    overlays = np.isin(groups, groups[squares]).astype(np.uint8)  # label 0 (still blocks) is never in squares
    margin = np.ones((2 * parameters.activity_margin + 1, 2 * parameters.activity_margin + 1), np.uint8)
    valid = ~(cv2.dilate(overlays, margin) | cv2.dilate(cells, np.ones((3, 3), np.uint8))).astype(bool)
    least = int(np.ceil(parameters.min_valid_share * valid.size))
    if np.count_nonzero(valid) < least:
        valid = rest <= np.partition(rest.ravel(), least - 1)[least - 1]
    return valid


def hard_cut(
    shares: np.ndarray, middle: int, share_at_threshold: float,
    parameters: DetectorParameters = DEFAULT_PARAMETERS,
) -> bool:
    """Whether frame `middle` is a hard cut, from the share of blocks that changed by `hard_level`
    at each frame of a window (`shares`) and the share that changed by the threshold there.

    Like PySceneDetect's AdaptiveDetector: the change must stand far out of its neighbours' on
    either side (the last frame of a fade in stands out of the still frames after it only).
    """
    before, after = shares[:middle], shares[middle + 1 :]
    level = max(float(side.mean()) for side in (before, after) if side.size) if shares.size > 1 else 0.0
    least = max(parameters.hard_ratio * level, parameters.hard_share / 2)
    return share_at_threshold >= parameters.hard_share and shares[middle] >= least


def locate_transition(
    seen: np.ndarray, old: np.ndarray, new: np.ndarray, longest: int, judged: int,
    parameters: DetectorParameters = DEFAULT_PARAMETERS,
) -> int | None:
    """Index in `seen` (blocks of consecutive frames, (frames, channels, n)) where the change from
    `old` to `new` ((channels, n) each) happens, or None when it is no transition.

    Per block: the frame after the last one still less than half way. Blocks that take longer than
    `longest` frames to go from a fifth to four fifths of the way are drifting, not transitioning
    (a presenter walking, a slow pan). The cut is the median of the other blocks' frames; it needs
    `min_blocks` of them, and half of them within a frame of it (a change that creeps across the
    frame, like a progress bar, never agrees), unless they are most (`global_share`) of the `judged`
    blocks and all but a tenth at each end get half way within `longest` frames: a wipe or a slide,
    which reaches each part of the picture at its own frame.
    """
    progress = _progress(seen, old, new)
    middle = _last_below(progress, 0.5) + 1
    frames = middle[_rise(progress) <= longest]
    if frames.size < parameters.min_blocks:
        return None
    cut = int(np.median(frames))
    agree = np.count_nonzero(np.abs(frames - cut) <= 1)
    if agree >= parameters.min_blocks and 2 * agree >= frames.size:
        return cut
    first, last = np.percentile(frames, [10, 90])
    return cut if frames.size >= parameters.global_share * judged and last - first <= longest else None


def ramp_middle(
    frames: np.ndarray, progress: np.ndarray, found: int, parameters: DetectorParameters = DEFAULT_PARAMETERS,
) -> float | None:
    """The frame number where a slow transition is half way, from its median `progress` (0 to 1) at
    the analysed `frames` and the index where it first gets half way (`found`): a straight line
    fitted to the ramp, from the last frame below a tenth of the way before `found` to the first
    above nine tenths after it, where it is half way between the levels before and after the ramp
    (the lowest before it, the highest after it: the reference may have been taken in the first
    frames of the dissolve, and the frames before it are then below 0). A codec holds a slow
    dissolve still for a few frames now and then, so the first frame past half way may come late.
    None when the ramp has fewer than `ramp_frames` analysed frames (a step: the frames in between
    tell more). Only for still pictures: between moving pictures the new one is aligned by its own
    later motion, so its share is measured low early in the dissolve and the whole ramp would lean
    late."""
    low = found - 1
    while low >= 0 and progress[low] > 0.1:
        low -= 1
    high = found
    while high < len(progress) and progress[high] < 0.9:
        high += 1
    if high - low - 1 < parameters.ramp_frames:
        return None
    slope, offset = np.polyfit(frames[low + 1 : high], progress[low + 1 : high], 1)
    before = min(0.0, float(progress[: low + 1].min())) if low >= 0 else 0.0
    after = max(1.0, float(progress[high:].max())) if high < len(progress) else 1.0
    return float(((before + after) / 2 - offset) / slope) if slope > 0 else None


def is_sudden(seen: np.ndarray, old: np.ndarray, new: np.ndarray, frames: int) -> bool:
    """Whether most blocks of a change (arrays as in `locate_transition`) go from a fifth to four
    fifths of the way within `frames` frames: a step (an edit), not a drift made of small steps."""
    rise = _rise(_progress(seen, old, new))
    return 2 * np.count_nonzero(rise <= frames) > rise.size


def near_activity(
    changed: np.ndarray, valid: np.ndarray, reach: int = DEFAULT_PARAMETERS.near_activity_blocks,
) -> bool:
    """Whether every `changed` block lies within `reach` blocks of one that is not `valid` (animated)."""
    if valid.all():
        return False
    near = cv2.dilate((~valid).astype(np.uint8), np.ones((2 * reach + 1, 2 * reach + 1), np.uint8))
    return bool(near.astype(bool)[changed].all())


def change_parts(changed: np.ndarray) -> list[np.ndarray]:
    """The separate parts of a change: its blocks joined over gaps of up to two blocks ((rows, cols) bool
    each)."""
    joined = cv2.dilate(changed.astype(np.uint8), np.ones((3, 3), np.uint8))
    count, labels = cv2.connectedComponents(joined, connectivity=8)
    return [changed & (labels == label) for label in range(1, count)]


def _progress(seen: np.ndarray, old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Per frame and block, how far from `old` to `new` the block is (0 to 1)."""
    delta = new - old
    return ((seen - old) * delta).sum(axis=1) / np.maximum((delta * delta).sum(axis=0), 1e-6)


def _rise(progress: np.ndarray) -> np.ndarray:
    """Per block, the frames it takes to go from a fifth to four fifths of the way."""
    return _last_below(progress, 0.8) - _last_below(progress, 0.2)


def _last_below(progress: np.ndarray, level: float) -> np.ndarray:
    """Per column, the last row where `progress` is below `level` (-1 if none)."""
    below = progress < level
    return np.where(below.any(axis=0), below.shape[0] - 1 - np.argmax(below[::-1], axis=0), -1)


def fade_extreme(
    brightness: np.ndarray, old: float, new: float, parameters: DetectorParameters = DEFAULT_PARAMETERS,
) -> int | None:
    """Index of the darkest (or brightest) frame of a fade through black (white), given the mean
    brightness of each frame of a transition and of the pictures on both sides; None if no fade."""
    darkest, brightest = int(np.argmin(brightness)), int(np.argmax(brightness))
    if brightness[darkest] < min(old, new) - parameters.fade_depth:
        depth = brightness[darkest] + parameters.fade_floor - brightness
    elif brightness[brightest] > max(old, new) + parameters.fade_depth:
        depth = brightness - (brightness[brightest] - parameters.fade_floor)
    else:
        return None
    frames = np.flatnonzero(depth > 0)
    return int(np.round(np.average(frames, weights=depth[frames])))


class Run:
    """Consecutive frames (`start` to `end`) and candidates among them: every frame a cut may still
    split the run at, and of the frames before, between `samples` and twice as many, evenly
    spread: those whose number is a multiple of `stride`, the stride doubling as the run grows
    (so runs that overlap share the frames they keep)."""

    def __init__(self, start: int):
        self.start = start
        self.end = start - 1
        self.stride = 1
        self.samples: list[Candidate] = []

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def add(self, candidate: Candidate) -> None:
        """The next frame."""
        self.end = candidate.index
        self.samples.append(candidate)

    def split(self, cut: int) -> tuple[Run | None, Run | None]:
        """The parts of this run before frame `cut` and from it on (None where empty)."""
        if cut <= self.start:
            return None, self
        if cut > self.end:
            return self, None
        after = Run(cut)
        after.end = self.end
        after.samples = [c for c in self.samples if c.index >= cut]
        self.end = cut - 1
        self.samples = [c for c in self.samples if c.index < cut]
        return self, after

    def middle_candidates(self) -> list[Candidate]:
        """The kept candidates within an eighth of the run's length from its middle, nearest the
        middle first, else the one nearest the middle."""
        middle = (self.start + self.end) / 2
        nearest = sorted(self.samples, key=lambda c: abs(c.index - middle))
        return [c for c in nearest if abs(c.index - middle) <= self.length / 8] or nearest[:1]

    def thin(self, final_before: int, samples: int) -> None:
        """Keep every frame from `final_before` on (a cut may still come there), and `samples` to
        twice as many before."""
        kept = [c for c in self.samples if c.index < final_before and c.index % self.stride == 0]
        while len(kept) >= 2 * samples:
            self.stride *= 2
            kept = [c for c in kept if c.index % self.stride == 0]
        self.samples = kept + [c for c in self.samples if c.index >= final_before]


class CalmestPart:
    """Chooses each scene's picture while the video is read: a frame from the middle of the
    scene's longest still part (no judged block moves and the picture does not move as a whole)
    if one lasts `min_still` frames; else (the picture keeps moving: a zoom) a frame near the
    middle of the scene, as far from the transitions at both ends as can be.

    Frames come in order with `add`; a cut may come later than the frames after it (`cut`), but
    never before `final_before`: still parts that ended earlier are reduced to the longest, and
    the frames before it to a few evenly spread ones (`Run`).
    """

    def __init__(self, min_still: int, samples: int = DEFAULT_PARAMETERS.run_samples):
        self.min_still = min_still
        self.samples = samples
        """How many frames a run keeps before `final_before`: `samples` to twice as many (`Run.thin`)."""
        self.scene = Run(0)
        self.still_runs: list[Run] = []
        """The scene's still parts: the longest that can no longer be split by a cut, and the later
        ones; the last goes on while the frames added are still."""

    def add(self, candidate: Candidate, still: bool, final_before: int) -> None:
        """The next frame, and whether it is still."""
        self.scene.add(candidate)
        if still:
            if not (self.still_runs and self.still_runs[-1].end == candidate.index - 1):
                self.still_runs.append(Run(candidate.index))
            self.still_runs[-1].add(candidate)
        closed = [run for run in self.still_runs if run.end < final_before]
        if len(closed) > 1:
            longest = max(closed, key=lambda run: run.length)
            self.still_runs = [run for run in self.still_runs if run is longest or run not in closed]
        for run in [self.scene, *self.still_runs]:
            run.thin(final_before, self.samples)

    def cut(self, cut: int) -> list[Candidate]:
        """The scene ending before frame `cut` is done: its picture's candidates (see `Still`)."""
        ending, self.scene = self.scene.split(cut)
        before, after = [], []
        for run in self.still_runs:
            head, tail = run.split(cut)
            before += [head] if head else []
            after += [tail] if tail else []
        self.still_runs = after
        if self.scene is None:
            self.scene = Run(cut)
        return self._choose(ending, before)

    def finish(self) -> list[Candidate]:
        """The last scene's candidates."""
        return self._choose(self.scene, self.still_runs)

    def _choose(self, scene: Run | None, still_runs: list[Run]) -> list[Candidate]:
        longest = max(still_runs, key=lambda run: run.length, default=None)
        if longest is not None and longest.length >= self.min_still:
            chosen = longest.middle_candidates()
            if chosen:
                return chosen
        return scene.middle_candidates() if scene is not None else []


ALIGNED_KEPT = 64
"""How many alignments into one frame are kept with it (`PictureChangeDetector._aligned`): the
frames of a transition's lookback into the reference, with room to spare."""


@dataclass
class _Frame:
    index: int
    """The frame's number among those the detector was given."""
    timecode: FrameTimecode
    image: np.ndarray
    """The small YUV picture."""
    blocks: np.ndarray
    pose: np.ndarray
    step: np.ndarray
    """Signed change of each block against the previous frame, aligned: (channels, rows, cols)."""
    moving: bool
    """Some block moved against the previous frame."""
    local: bool = False
    """It moved, but not most of the picture: the move counts for the activity mask."""
    moved: np.ndarray | None = None
    """Blocks that moved against the previous frame."""
    started: np.ndarray | None = None
    """Blocks that moved and had not moved at the previous frame."""
    turned: np.ndarray | None = None
    """Blocks that moved against the way they last moved (in some channel)."""
    grey: np.ndarray | None = None
    """The luma the tracker measures motion on (`_Tracker.grey`), once it was needed."""
    _inverse: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    """(pose, inv(pose)) once `inverse_pose` was asked for."""
    aligned: dict[int, tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]] = field(
        default_factory=dict, repr=False)
    """Other frames' block means moved into this frame's pixels, by frame index: (their pose, this
    frame's pose, what `align` gave), the newest `ALIGNED_KEPT`."""

    @cached_property
    def abs_step(self) -> np.ndarray:
        """|step| (asked for once the step is final)."""
        return np.abs(self.step)

    @cached_property
    def step_size(self) -> np.ndarray:
        """Per block, the largest channel's |step|."""
        return self.abs_step.max(axis=0)

    @cached_property
    def texture(self) -> np.ndarray:
        """`block_texture` of the picture (needed once the picture moves)."""
        return block_texture(self.image)

    @property
    def inverse_pose(self) -> np.ndarray:
        """inv(pose), worked out once per pose (the detector asks for it about 12 times a frame)."""
        if self._inverse is None or self._inverse[0] is not self.pose:
            self._inverse = (self.pose, np.linalg.inv(self.pose))
        return self._inverse[1]


@dataclass
class _Reference:
    """The picture a scene is compared with: frame `index` itself (a picture that keeps moving may
    hold it longer than the window of recent frames does), its block means (updated where
    blocks were animated or changed a little) and what `grab` gave for it (or None)."""

    index: int
    frame: _Frame
    blocks: np.ndarray
    full: av.VideoFrame | None = None


class ActivityWindow:
    """What `activity_mask` needs, summed over the frames of the activity window that moved
    locally (`_Frame.local`): per channel and block |step| and step; per block the frames it moved
    in (`moves`), the separate runs of them (`starts`) and the moves that turned back (`turns`); and
    how many such frames there are."""

    def __init__(self, shape: tuple[int, ...], parameters: DetectorParameters):
        self.parameters = parameters
        self.sum_abs = np.zeros(shape, np.float32)
        self.sum_signed = np.zeros(shape, np.float32)
        self.moves = np.zeros(shape[1:], np.int32)
        self.starts = np.zeros(shape[1:], np.int32)
        self.turns = np.zeros(shape[1:], np.int32)
        self.local_frames = 0
        self.start = 0
        """The window's first frame."""

    def add(self, frame: _Frame) -> None:
        """The newest frame, if it moved locally."""
        self._count(frame, 1)

    def remove(self, index: int, frame: _Frame) -> None:
        """Frame `index`, the window's first, leaves it."""
        self.start = index + 1
        self._count(frame, -1)

    def mask(self, end: int) -> np.ndarray:
        """`activity_mask` over the window up to frame `end` (excluded)."""
        return activity_mask(self.sum_abs, self.sum_signed, self.moves, self.starts, self.turns,
                             self.local_frames, end - self.start, self.parameters)

    def _count(self, frame: _Frame, sign: int) -> None:
        if frame.local:
            self.sum_abs += sign * frame.abs_step
            self.sum_signed += sign * frame.step
            self.moves += sign * frame.moved
            self.starts += sign * frame.started
            self.turns += sign * frame.turned
            self.local_frames += sign


class RecentFrames:
    """The frames the detector still holds, by index (the count of frames seen before them): from
    `first` to `end` (excluded)."""

    def __init__(self):
        self._frames: deque[_Frame] = deque()
        self.first = 0

    @property
    def end(self) -> int:
        return self.first + len(self._frames)

    @property
    def newest(self) -> _Frame | None:
        return self._frames[-1] if self._frames else None

    def __getitem__(self, index: int) -> _Frame:
        return self._frames[index - self.first]

    def append(self, frame: _Frame) -> None:
        self._frames.append(frame)

    def drop_before(self, index: int) -> None:
        while self.first < index:
            self._frames.popleft()
            self.first += 1


class NoiseLevel:
    """The typical block step of recent frames (grain, compression noise): the median over the last
    `frames` frames (`noise_frames`), renewed every 8 frames (and at each of the first 16)."""

    def __init__(self, frames: int):
        self._steps: deque[float] = deque(maxlen=frames)
        self._seen = 0
        self.level = 0.0

    def add(self, step: float | None) -> None:
        """The next frame's typical block step against the previous frame (None for the first)."""
        if step is not None:
            self._steps.append(step)
        if self._seen % 8 == 0 or self._seen < 16:
            self.level = float(np.median(self._steps)) if self._steps else 0.0
        self._seen += 1


class _Tracker:
    """Measures motion against an anchor frame (renewed every `anchor_seconds` of tracking, when
    it no longer explains the motion, and in a transition or after a cut), by ECC on grey
    pictures about `track_width` wide."""

    def __init__(self, rate: float, parameters: DetectorParameters):
        self.parameters = parameters
        self.anchor_life = max(2, round(parameters.anchor_seconds * rate))
        self.anchor: _Frame | None = None
        self.anchor_age = 0
        self.guess = IDENTITY
        """Motion from the anchor to the last tracked frame, in tracking pixels (the next guess)."""

    def motion(self, frame: _Frame, start: _Frame | None = None) -> np.ndarray | None:
        """Motion from the anchor (or from the frame `start`) to `frame` in its pixels, or None
        when none explains the change."""
        origin, guess = (self.anchor, self.guess) if start is None else (start, IDENTITY)
        self._motion = track_motion(self.grey(origin), self.grey(frame), guess, self.parameters)
        factor = frame.image.shape[1] / frame.grey.shape[1]
        return None if self._motion is None else rescale(self._motion, factor)

    def grey(self, frame: _Frame) -> np.ndarray:
        """The frame's luma about `track_width` wide, float32 (made once per frame)."""
        if frame.grey is None:
            height, width = frame.image.shape[:2]
            factor = max(1.0, width / self.parameters.track_width)
            size = (max(8, round(width / factor)), max(8, round(height / factor)))
            luma = cv2.resize(frame.image[:, :, 0], size, interpolation=cv2.INTER_AREA)
            frame.grey = luma.astype(np.float32)
        return frame.grey

    @property
    def lost(self) -> bool:
        """Whether the last `motion` found no motion at all (ECC did not match)."""
        return self._motion is None

    def accept(self, frame: _Frame) -> None:
        """The last frame given to `motion` is `frame`, posed by the motion returned."""
        self.anchor_age += 1
        self.guess = self._motion
        if self.anchor_age >= self.anchor_life:
            self.restart(frame)

    def restart(self, frame: _Frame) -> None:
        """Make `frame` the anchor (the first frame, after a cut, or when it explains the motion
        better)."""
        self.anchor, self.anchor_age, self.guess = frame, 0, IDENTITY


@dataclass(frozen=True)
class _Transition:
    """The frames a pending change may have happened over, as `_decide` weighs them: frames `since`
    to `index`, the `changed` blocks' means of each in the reference's pixels (`aligned`); the
    change may start at frame `start` (`seen`: from there); the `changed` blocks' means in the
    reference (`old`) and at frame `index` (`new`); whether the picture is `still` (not moved since
    the reference)."""

    since: int
    start: int
    index: int
    changed: np.ndarray
    aligned: np.ndarray
    old: np.ndarray
    new: np.ndarray
    still: bool

    @property
    def seen(self) -> np.ndarray:
        return self.aligned[self.start - self.since :]


class PictureChangeDetector(SceneDetector):
    """Cuts between pictures that may move: hard cuts, dissolves and fades (at their middle), small
    edits; animated overlays and whole-picture motion are ignored.

    `threshold` is the sensitivity (30 by default; lower finds smaller changes): a block changes
    when its mean colour moves by more than threshold / 3 levels. `fps` is the rate of the frames
    the detector is given and `min_scene_len` counts those frames. `on_still(still)` is called once
    per scene, in order, once the scene has ended, with where to take its picture (`CalmestPart`);
    `grab(timecode)` is called for each frame that may become a picture, while it is at most
    `picture_reach` frames older than the newest one, and what it returns is kept with it.

    When SceneManager skips frames (`frame_skip`), `frames_between(a, b)` must give the skipped
    frames between two given ones, as (timecode, small picture): the cut is then placed on the
    exact frame among them.

    `detail(grabbed, size)` gives a frame `grab` returned as a YUV picture of `size` (width, height),
    area-averaged, (height, width, 3) uint8: a change in a moving picture is checked on it.

    `overlay_change(change)` may veto a change that is no cut (a `LocalChange`): True when it lies
    only inside an overlay, such as a subtitle band. `animated_frames` counts, per block, the judged
    frames where it was animated (or next to animation), of `judged_frames`.

    `parameters` tunes every decision (`DetectorParameters`; the defaults are what the tests and
    benchmarks measure). With a `stats_manager` (PySceneDetect's), each judged frame's `METRIC_KEYS`
    are recorded under its timecode.
    """

    def __init__(
        self,
        fps: float,
        threshold: float = 30.0,
        min_scene_len: int = 15,
        on_still: Callable[[Still], None] | None = None,
        grab: Callable[[FrameTimecode], av.VideoFrame | None] | None = None,
        frames_between: Callable[[FrameTimecode, FrameTimecode], list[tuple[FrameTimecode, np.ndarray]]]
        | None = None,
        detail: Callable[[av.VideoFrame, tuple[int, int]], np.ndarray] | None = None,
        overlay_change: Callable[[LocalChange], bool] | None = None,
        parameters: DetectorParameters = DEFAULT_PARAMETERS,
    ):
        super().__init__()
        if threshold <= 0:
            raise ValueError("threshold must be positive")
        self.parameters = parameters
        self.level = threshold / 3
        self.min_scene_len = max(1, min_scene_len)
        self.on_still = on_still
        self.grab = grab
        self.frames_between = frames_between
        self.detail = detail
        self.overlay_change = overlay_change
        self.animated_frames: np.ndarray | None = None
        self.judged_frames = 0
        self.settle = max(2, round(parameters.settle_seconds * fps))
        self.settle_long = max(self.settle + 1, round(parameters.settle_long_seconds * fps))
        self.ahead = max(2, round(parameters.activity_seconds * fps))
        self.lookback = max(self.settle_long + 2, round(parameters.lookback_seconds * fps))
        self.refresh = max(self.lookback, round(parameters.refresh_seconds * fps))
        self.refresh_moving = max(self.settle + 1, round(parameters.refresh_moving_seconds * fps))
        self.longest = max(2, round(parameters.longest_transition_seconds * fps))
        self.sudden = max(2, round(parameters.sudden_seconds * fps))
        self.alone = max(self.settle + 1, round(parameters.min_alone_seconds * fps))
        self.animated_memory = round(parameters.animated_memory_seconds * fps)
        self.still_wait = self.settle_long + self.lookback
        """How long after a cut the reference is taken even if the picture never stands still."""
        self._calmest = CalmestPart(max(self.settle_long, round(parameters.min_still_seconds * fps)),
                                    parameters.run_samples)
        self._tracker = _Tracker(fps, parameters)
        self._recent = RecentFrames()
        self._activity: ActivityWindow | None = None
        self._last_valid: np.ndarray | None = None
        """The latest activity mask (for frames read ahead of the judged one)."""
        self._animated_at: np.ndarray | None = None
        """Per block, the last time (frames read) it was not valid."""
        self._last_direction: np.ndarray | None = None
        """Per channel and block, the sign of its last move (0 before any)."""
        self._noise = NoiseLevel(parameters.noise_frames)
        self._ref: _Reference | None = None
        self._pending: int | None = None
        """First frame that differed from the reference, while waiting for the picture to settle."""
        self._last_cut = 0
        self._still_start: _Frame | None = None
        """The first frame of the still part the last frame judged belongs to."""
        self._grabbed: tuple[int, av.VideoFrame | None] = (-1, None)
        """The last frame judged and what `grab` gave for it."""
        self._metrics: dict[str, int] = {}
        """What the stages measured on the frame being judged (see `METRIC_KEYS`)."""

    @property
    def reach(self) -> int:
        """How many frames back from the newest one a cut may be."""
        return self.ahead + self.lookback + self.settle_long + 1

    @property
    def event_buffer_length(self) -> int:
        """PySceneDetect's contract: how many frames (of those given) before the newest one a cut
        may be reported (`reach`)."""
        return self.reach

    @property
    def picture_reach(self) -> int:
        """How many frames back from the newest one `grab` may be asked for."""
        return self.ahead + 1

    def get_metrics(self) -> list[str]:
        return list(METRIC_KEYS)

    def process_frame(self, timecode: FrameTimecode, frame_img: np.ndarray) -> list[FrameTimecode]:
        self._add(timecode, frame_img)
        judged = self._recent.end - 1 - self.ahead
        cuts = self._judge(judged) if judged >= 0 else []
        self._trim(judged)
        return cuts

    def post_process(self, timecode: FrameTimecode) -> list[FrameTimecode]:
        cuts = []
        end = self._recent.end
        for index in range(max(0, end - self.ahead), end):  # the activity window keeps its past
            cuts += self._judge(index)
        if self._pending is not None and end > 1:  # the last picture came less than a second ago
            final = self._settled(end - 1, final=True)
            if self.stats_manager is not None and final:
                self._record_metrics(end - 1, self._last_valid, final)
            cuts += final
        if end:
            self._still(self._calmest.finish())
        return cuts

    # Reading frames: blocks, pose, aligned step, activity sums.

    def _add(self, timecode: FrameTimecode, image: np.ndarray) -> None:
        previous = self._recent.newest
        if previous is None:
            blocks = block_means(image)
            frame = _Frame(0, timecode, image, blocks, IDENTITY, np.zeros_like(blocks), False)
            self._tracker.restart(frame)
            self._activity = ActivityWindow(blocks.shape, self.parameters)
            self._last_valid = np.ones(blocks.shape[1:], bool)
            self._animated_at = np.full(blocks.shape[1:], -(1 << 30))
            self._last_direction = np.zeros(blocks.shape, np.int8)
            self.animated_frames = np.zeros(blocks.shape[1:], np.int32)
            step = None
        elif np.array_equal(image, previous.image):  # common in still videos: skip the maths
            frame = _Frame(self._recent.end, timecode, previous.image, previous.blocks, previous.pose,
                           np.zeros_like(previous.blocks), False)
            step = 0.0
        else:
            blocks = block_means(image)
            unmoved = _Frame(self._recent.end, timecode, image, blocks, previous.pose,
                             blocks - previous.blocks, False)
            frame = self._follow(unmoved, previous)
            step = float(np.median(frame.step_size))
            frame.moved = frame.step_size > self._still_level
            frame.moving = bool(frame.moved.any())
            frame.local = frame.moving and (
                np.count_nonzero(frame.moved) < self.parameters.global_share * frame.moved.size)
            stepped = frame.abs_step > self._still_level
            direction = np.sign(frame.step).astype(np.int8) * stepped
            frame.turned = (direction * self._last_direction < 0).any(axis=0)
            np.copyto(self._last_direction, direction, where=stepped)
            if frame.local:
                frame.started = frame.moved if previous.moved is None else frame.moved & ~previous.moved
                self._activity.add(frame)
        self._noise.add(step)
        self._recent.append(frame)

    def _follow(self, frame: _Frame, previous: _Frame) -> _Frame:
        """`frame` (posed like `previous`) with its pose and aligned step, if the picture moved.

        Motion is measured once some judged block drifted from the tracker's anchor frame, and is
        used when it explains that drift (`_explained_motion`). When it does not, it is measured
        again from the previous frame, which then becomes the anchor (the anchor may be a frame of
        a fade, or a fast move outran it). When neither explains it and ECC found no motion from
        the anchor or most of the picture drifted, a transition or a cut is under way: tracking
        starts again on this frame, to follow the picture it leads to; so it does when the motion
        slides the picture out of the frame (`_slides_away`). Otherwise the anchor stays (a motion
        too small to measure yet, against the noise)."""
        judged = self._last_valid
        anchor = self._tracker.anchor
        drift = np.count_nonzero((block_change(frame.blocks, anchor.blocks) > self._still_level) & judged)
        if drift < self.parameters.min_blocks:
            return frame
        motion = self._explained_motion(frame, anchor, judged)
        most = self.parameters.global_share * np.count_nonzero(judged)
        lost = motion is None and (self._tracker.lost or drift >= most)
        if motion is None and anchor is not previous:
            motion = self._explained_motion(frame, previous, judged)
            if motion is not None:
                anchor = previous
                self._tracker.restart(previous)
        if motion is not None and self._slides_away(motion @ anchor.pose, frame):
            motion, lost = None, True
        if motion is None:
            if lost:
                self._tracker.restart(frame)
            return frame
        frame.pose = motion @ anchor.pose
        before, covered = self._aligned(previous, frame)
        frame.step = np.where(covered, frame.blocks - before, 0)
        self._tracker.accept(frame)
        return frame

    def _slides_away(self, pose: np.ndarray, frame: _Frame) -> bool:
        """Whether `pose` would move the picture so that less than `slide_coverage` of it stays in the
        frame within `longest` frames: no Ken Burns move is that fast; a slide transition is (the old
        picture and the new one move out and in together, so motion explains every frame of it, and
        the new picture would only ever be compared with where the old one went, out of sight)."""
        earlier = self._at(max(self._recent.first, self._recent.end - self.longest))
        height, width = frame.image.shape[:2]
        kept = coverage(pose @ earlier.inverse_pose, width, height).mean()
        return kept < self.parameters.slide_coverage

    def _explained_motion(self, frame: _Frame, start: _Frame, judged: np.ndarray) -> np.ndarray | None:
        """The motion from `start` (the tracker's anchor or another frame) to `frame`, if aligning
        `start` with it leaves at most `motion_gain` of the change on the judged blocks (an overlay
        or a cut can fool ECC)."""
        motion = self._tracker.motion(frame, None if start is self._tracker.anchor else start)
        if motion is None:
            return None
        moved, covered = align(start.image, motion)
        where = covered & judged
        left = _typical(frame.blocks - moved, where)
        before = _typical(frame.blocks - start.blocks, where)
        return motion if left < self.parameters.motion_gain * before else None

    def _trim(self, judged: int) -> None:
        leaving = judged - self.ahead  # it left every activity window still to be judged
        if leaving >= self._recent.first:
            self._activity.remove(leaving, self._at(leaving))
        keep_from = judged + 1 - self.reach + self.ahead
        self._recent.drop_before(min(keep_from, judged - self.ahead + 1))

    def _at(self, index: int) -> _Frame:
        return self._recent[index]

    @property
    def _change_level(self) -> float:
        """A block change must exceed the threshold and stand well out of the noise (grain)."""
        return max(self.level, 8 * self._noise.level)

    @property
    def _still_level(self) -> float:
        return max(self.parameters.still_level, 6 * self._noise.level)

    def _valid(self) -> np.ndarray:
        """Blocks that are not animated around the judged frame."""
        self._last_valid = self._activity.mask(self._recent.end)
        self._animated_at[~self._last_valid] = self._recent.end
        return self._last_valid

    def _aligned(self, source: int | _Frame, into: int | _Frame) -> tuple[np.ndarray, np.ndarray]:
        """Block means of frame `source` moved into frame `into`'s pixels, and the blocks covered
        (read-only: the stages ask for the same two frames again, so the answer is kept with `into`)."""
        frame = source if isinstance(source, _Frame) else self._at(source)
        target = into if isinstance(into, _Frame) else self._at(into)
        if frame.pose is target.pose:
            return frame.blocks, np.ones(frame.blocks.shape[1:], bool)
        kept = target.aligned.get(frame.index)
        if kept is not None and kept[0] is frame.pose and kept[1] is target.pose:
            return kept[2]
        motion = target.pose @ frame.inverse_pose
        if is_still(motion):
            aligned = frame.blocks, np.ones(frame.blocks.shape[1:], bool)
        else:
            aligned = align(frame.image, motion)
        target.aligned[frame.index] = (frame.pose, target.pose, aligned)
        if len(target.aligned) > ALIGNED_KEPT:
            del target.aligned[next(iter(target.aligned))]
        return aligned

    # Judging frame `index` (all frames up to `index + ahead` have been read).

    def _judge(self, index: int) -> list[FrameTimecode]:
        """Judge frame `index`, in the first stage that applies: no reference yet
        (`_first_reference`), a hard cut (`_hard_cut_at`), the reference still shown
        (`_watch_reference`), or a change pending since an earlier frame (`_settled`)."""
        self._metrics = {}
        valid = self._valid()
        self.animated_frames += ~valid
        self.judged_frames += 1
        self._note_calm(index, valid)
        if self._ref is None:
            cuts = self._first_reference(index, valid)
        elif index > 0 and self._is_hard_cut(index, valid):
            cuts = self._hard_cut_at(index, valid)
        elif self._pending is None:
            cuts = self._watch_reference(index, valid)
        else:
            cuts = self._settled(index)
        if self.stats_manager is not None:
            self._record_metrics(index, valid, cuts)
        return cuts

    def _record_metrics(self, index: int, valid: np.ndarray, cuts: list[FrameTimecode]) -> None:
        """Give the stats manager what was measured on frame `index` (`METRIC_KEYS`); the last frame
        is judged again at the end of the video, and keeps the cuts reported the first time."""
        frame = self._at(index)
        pending = self._pending
        earlier = self.stats_manager.get_metrics(frame.timecode, ["cut_frames"])[0]
        cut_frames = [earlier] if earlier else []
        self.stats_manager.set_metrics(frame.timecode, {
            "judged_blocks": int(np.count_nonzero(valid)),
            "moved_blocks": int(np.count_nonzero(frame.moved)) if frame.moved is not None else 0,
            "noise_level": round(self._noise.level, 3),
            "change_level": round(self._change_level, 3),
            "changed_blocks": self._metrics.get("changed_blocks", ""),
            "reference_frame": self._ref.frame.timecode.frame_num if self._ref is not None else "",
            "pending_since": self._at(pending).timecode.frame_num if pending is not None
            and pending >= self._recent.first else "",
            "cut_frames": " ".join(cut_frames + [str(cut.frame_num) for cut in cuts]),
        })

    def _first_reference(self, index: int, valid: np.ndarray) -> list[FrameTimecode]:
        """The video's first reference: the first still frame, or frame `still_wait` if none is."""
        if self._steady(index, valid) or index >= self.still_wait:
            self._set_reference(index)
        return []

    def _hard_cut_at(self, index: int, valid: np.ndarray) -> list[FrameTimecode]:
        """A hard cut at frame `index`, placed against the picture that settles after it (a short
        dissolve may span two analysed frames)."""
        before = self._at(index - 1)
        changed = (block_change(self._at(index).blocks, before.blocks) > self._change_level) & valid
        settled = min(self._recent.end - 1, index + self.settle)
        after = self._aligned(settled, before)[0]
        return self._cut(index, index, valid, before, before.blocks, after, changed)

    def _watch_reference(self, index: int, valid: np.ndarray) -> list[FrameTimecode]:
        """Whether frame `index` starts a change (it is then pending), or the reference is renewed:
        after a small change or when it is old, once the picture is still; when it never is, only
        when nothing changed (aligning errors must not add up)."""
        blocks, changed = self._against_reference(index, valid)
        count = np.count_nonzero(changed)
        if count >= self.parameters.min_blocks:
            self._pending = index
        elif self._steady(index, valid):
            if count or index - self._ref.index >= self._refresh_after(index):
                self._set_reference(index)
        elif not count and index - self._ref.index >= self.refresh:
            self._set_reference(index)
        return []

    def _against_reference(self, index: int, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame `index`'s block means in the reference's pixels, and the judged blocks that changed.

        Animated and uncovered blocks take the frame's values in the reference (so they never
        count once judged again); not while a change is pending, so a dissolve is never measured
        against its own frames (where the judged blocks change as it goes). When the picture moved,
        a block must change by `motion_slack` times its texture more.
        """
        blocks, covered = self._aligned(index, self._ref.frame)
        if self._pending is None:
            np.copyto(self._ref.blocks, blocks, where=~(valid & covered))
        level = self._change_level
        if blocks is not self._at(index).blocks:
            level = level + self.parameters.motion_slack * self._ref.frame.texture
        changed = (block_change(blocks, self._ref.blocks) > level) & valid & covered
        self._metrics["changed_blocks"] = int(np.count_nonzero(changed))
        return blocks, changed

    def _changed_once_realigned(self, index: int, valid: np.ndarray) -> np.ndarray:
        """The judged blocks of frame `index` that differ from the reference once the reference is
        aligned with it directly (ECC from the tracked motion): the tracked poses are measured on
        smaller pictures and chained, so over a long motion they may be a pixel off, which sharp
        edges turn into a change. Where both frames were grabbed, this is measured on their
        `detail` pictures (`detail_scale` times larger, area-averaged), compared at the analysed size;
        still layers over the moving picture are taken out (`layered_change`)."""
        frame = self._at(index)
        old, new = self._ref.frame.image, frame.image
        height, width = new.shape[:2]
        scale = 1
        grabbed, full = self._grabbed
        if self.detail is not None and self._ref.full is not None and grabbed == index and full is not None:
            scale = self.parameters.detail_scale
            size = (scale * width, scale * height)
            old, new = self.detail(self._ref.full, size), self.detail(full, size)
        guess = rescale(frame.pose @ self._ref.frame.inverse_pose, scale)
        mask = cv2.resize(pixel_mask(valid, frame.image), new.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        motion = refine_motion(old[:, :, 0], new[:, :, 0], guess, mask, self.parameters)
        if motion is None:  # no alignment on the judged blocks (too flat, or changed): the whole picture
            motion = refine_motion(old[:, :, 0], new[:, :, 0], guess, parameters=self.parameters)
        unmoved = self.parameters.still_pixels * scale
        if motion is None or displacement(motion - IDENTITY, *new.shape[1::-1]) < unmoved:
            return np.ones(valid.shape, bool)  # no picture to align, or nothing moved
        change = layered_change(old, new, motion, (width, height), self._still_level)
        covered = coverage(np.linalg.inv(rescale(motion, 1 / scale)), width, height)
        texture = block_texture(cv2.resize(old, (width, height), interpolation=cv2.INTER_AREA))
        level = self._change_level + self.parameters.motion_slack * texture
        return (change > level) & valid & covered

    def _refresh_after(self, index: int) -> int:
        """Age at which an unchanged reference is renewed: sooner when the picture moves, as
        aligning over a large motion leaves more error than a change of the threshold's size."""
        motion = self._at(index).pose @ self._ref.frame.inverse_pose
        height, width = self._at(index).image.shape[:2]
        moved = displacement(motion - IDENTITY, width, height) > self.parameters.moving_pixels
        return self.refresh_moving if moved else self.refresh

    def _is_hard_cut(self, index: int, valid: np.ndarray) -> bool:
        frame = self._at(index)
        if not frame.moving:
            return False
        step = frame.step_size[valid]
        share = np.count_nonzero(step > self._change_level) / max(1, step.size)
        if share < self.parameters.hard_share:
            return False
        hard_level = max(self.parameters.hard_level, 8 * self._noise.level)
        start, end = max(self._recent.first, index - self.parameters.hard_window), self._recent.end
        shares = np.array([
            np.count_nonzero(self._at(i).step_size[valid] > hard_level) / max(1, step.size)
            for i in range(start, min(end, index + self.parameters.hard_window + 1))
        ])
        if not hard_cut(shares, index - start, share, self.parameters):
            return False
        later = min(end - 1, index + self.settle)  # not a flash: the new picture stays
        blocks, covered = self._aligned(later, index - 1)
        stays = (block_change(blocks, self._at(index - 1).blocks) > self._change_level) & valid & covered
        return np.count_nonzero(stays) >= self.parameters.hard_share / 2 * np.count_nonzero(valid)

    def _steady(self, index: int, valid: np.ndarray, short: bool = False, slack: bool = False) -> bool:
        """Whether no judged block moved over the last `settle` frames, nor (unless `short`) twice
        as much over `settle_long` (a slow dissolve). With `slack`, a block of a moving picture may
        change by `motion_slack` times its texture more (the analysed picture keeps every few pixels,
        so fine texture does not move with the picture): enough to decide a pending change, not to
        renew the reference (the first frames of a dissolve between moving pictures pass it)."""
        backs = [*range(1, min(self.settle, index - self._recent.first) + 1)]
        if index - self._recent.first >= self.settle_long and not short:
            backs.append(self.settle_long)
        if not backs and index > 0:
            return False
        frame = self._at(index)
        for back in backs:
            blocks, covered = self._aligned(index - back, index)
            level = self._still_level * (2 if back > self.settle else 1)
            if slack and blocks is not self._at(index - back).blocks:
                level = level + self.parameters.motion_slack * frame.texture
            moved = (block_change(blocks, frame.blocks) > level) & valid & covered
            if np.count_nonzero(moved) >= self.parameters.min_blocks:
                return False
        return True

    def _settled(self, index: int, final: bool = False) -> list[FrameTimecode]:
        """While a change is pending: once it can be decided (`_ready_to_decide`), whether it
        lasted (`_lasting_change`; else it was a flash), and whether a picture was shown alone
        before the one now on screen (`_picture_between`: the first change is decided on its own,
        the second stays pending); then `_decide`. At the end of the video (`final`) it is decided
        as it is."""
        valid = self._valid()
        span = index - max(self._pending, self._recent.first)
        if span < self.settle:
            return []
        blocks, changed = self._against_reference(index, valid)
        if not final and not self._ready_to_decide(index, valid, changed):
            return []
        pending, self._pending = self._pending, None
        changed = self._lasting_change(index, valid, changed)
        if changed is None:
            self._set_reference(index)
            return []
        origin = index - span
        between = self._picture_between(origin, index, valid)
        if between is None:
            return self._decide(pending, origin, index, blocks, changed, valid, final)
        shown, shown_blocks, shown_changed = between
        cuts = self._decide(pending, origin, shown, shown_blocks, shown_changed, valid, final)
        if self._pending is None:
            self._pending = shown + 1
        return cuts

    def _ready_to_decide(self, index: int, valid: np.ndarray, changed: np.ndarray) -> bool:
        """Whether the pending change can be decided at frame `index`: the picture is still again,
        or it never stands still (a zoom) and the change's first frame is about to be forgotten. A
        change that went away again while the picture moves is dropped."""
        if self._pending <= self._recent.first or self._steady(index, valid, slack=True):
            return True
        if np.count_nonzero(changed) < self.parameters.min_blocks:
            self._pending = None
        return False

    def _lasting_change(self, index: int, valid: np.ndarray, changed: np.ndarray) -> np.ndarray | None:
        """The `changed` blocks that stay changed once the reference is aligned with frame `index`
        directly (`_changed_once_realigned`); None when too few do: back to the old picture (a
        flash), or the tracked motion had drifted."""
        if np.count_nonzero(changed) >= self.parameters.min_blocks:
            changed &= self._changed_once_realigned(index, valid)
        return changed if np.count_nonzero(changed) >= self.parameters.min_blocks else None

    def _picture_between(
        self, first: int, last: int, valid: np.ndarray,
    ) -> tuple[int, np.ndarray, np.ndarray] | None:
        """A picture shown alone between two transitions while a change was pending: the first part
        of frames `first` to `last` that stays still for `alone` frames (no judged block moves, as
        in `_steady`) and then changes again, showing a picture that differs from the reference and
        from frame `last` (`_shown_alone`); None if there is none. (A dissolve, however slow, never
        holds still a picture that differs from both of its ends by the threshold.)"""
        run = first
        for index in range(first + 1, last + 1):
            if self._holds(run, index, valid):
                continue
            if index - run >= self.alone:
                found = self._shown_alone(index - 1, last, valid)
                if found is not None:
                    return found
            run = index
        return None

    def _holds(self, start: int, index: int, valid: np.ndarray) -> bool:
        """Whether frame `index` still shows frame `start`'s picture: no judged block moved (as in
        `_steady`: twice the level after `settle` frames, and the texture slack of a moving picture)."""
        blocks, covered = self._aligned(index, start)
        level = self._still_level * (2 if index - start > self.settle else 1)
        if blocks is not self._at(index).blocks:
            level = level + self.parameters.motion_slack * self._at(start).texture
        moved = (block_change(blocks, self._at(start).blocks) > level) & valid & covered
        return np.count_nonzero(moved) < self.parameters.min_blocks

    def _shown_alone(
        self, shown: int, last: int, valid: np.ndarray,
    ) -> tuple[int, np.ndarray, np.ndarray] | None:
        """Frame `shown`, its block means in the reference's pixels and the judged blocks changed
        from the reference, if it differs both from the reference and from frame `last` (as
        `_against_reference` judges: `min_blocks` blocks by the threshold); else None."""
        blocks, covered = self._aligned(shown, self._ref.frame)
        level = self._change_level
        if blocks is not self._at(shown).blocks:
            level = level + self.parameters.motion_slack * self._ref.frame.texture
        changed = (block_change(blocks, self._ref.blocks) > level) & valid & covered
        if np.count_nonzero(changed) >= self.parameters.min_blocks:
            changed &= self._changed_once_realigned(shown, valid)
        if np.count_nonzero(changed) < self.parameters.min_blocks:
            return None
        later, covered = self._aligned(last, shown)
        level = self._change_level
        if later is not self._at(last).blocks:
            level = level + self.parameters.motion_slack * self._at(shown).texture
        again = (block_change(later, self._at(shown).blocks) > level) & valid & covered
        return (shown, blocks, changed) if np.count_nonzero(again) >= self.parameters.min_blocks else None

    def _decide(
        self, pending: int, origin: int, index: int, blocks: np.ndarray, changed: np.ndarray,
        valid: np.ndarray, final: bool,
    ) -> list[FrameTimecode]:
        """Decide the change pending since frame `pending` (seen from frame `origin` on) up to frame
        `index` (its block means `blocks` in the reference's pixels, the judged blocks `changed`):
        over the transition's frames (`_transition`), a fade through black or white (decided once
        it is over: `_still_fading`) or where the changed blocks get half way
        (`locate_transition`); no cut when it is beside animation or inside an overlay
        (`_no_picture_change`); a still picture's slow dissolve is placed by its ramp
        (`_ramp_placed`). The reference becomes frame `index`."""
        transition = self._transition(origin, index, blocks, changed)
        seen = transition.seen
        brightness = seen[:, 0].mean(axis=1)
        fade = fade_extreme(brightness, float(transition.old[0].mean()), float(transition.new[0].mean()),
                            self.parameters)
        if fade is not None and not final and self._still_fading(brightness):
            self._pending = pending  # the next picture's reference would lie in the fade
            return []
        if fade is None and not final and self._still_transitioning(transition):
            self._pending = pending  # the frame now on screen is inside the transition, not its end
            return []
        if fade is None:
            found = locate_transition(seen, transition.old, transition.new, self.longest,
                                      np.count_nonzero(valid), self.parameters)
            if found is not None and self._no_picture_change(transition, valid, final):
                found = None
        else:
            found = fade
        if found is None:
            self._set_reference(index)
            return []
        cut, middle = transition.start + found, None
        if fade is None and transition.still:
            cut, middle = self._ramp_placed(transition, cut)
        return self._cut(cut, index, valid, self._ref.frame, self._ref.blocks, blocks, changed,
                         fade is not None, middle)

    def _transition(self, origin: int, index: int, blocks: np.ndarray, changed: np.ndarray) -> _Transition:
        """The frames a change seen from frame `origin` to frame `index` may have happened over: from
        `lookback` frames before `origin` (not before the reference), and for a still picture also
        this scene's frames before the reference (`ramp_middle`: the reference may lie inside the
        dissolve; aligning them is free)."""
        start = max(self._recent.first + 1, self._ref.index + 1, origin - self.lookback)
        still = blocks is self._at(index).blocks
        since = start
        if still:
            since = max(self._recent.first + 1, self._last_cut + 1, origin - self.lookback)
        kept = range(since, index + 1)
        aligned = np.stack([self._aligned(i, self._ref.frame)[0][:, changed] for i in kept])
        return _Transition(since, start, index, changed, aligned, self._ref.blocks[:, changed],
                           blocks[:, changed], still)

    def _still_transitioning(self, transition: _Transition) -> bool:
        """Whether a change decided before the picture stood still (it never does: a slow zoom) is
        still under way at its last frame: the changed blocks' median progress `settle` frames
        earlier is short of `settled_progress`, and it was below a fifth of the way less than
        `longest` frames before (a transition). Its last frame would then be a frame of the
        dissolve, not the new picture, and the cut would go early; a drift that never ends (a move
        the tracking misses) takes longer, and is decided as it is."""
        progress = np.median(_progress(transition.seen, transition.old, transition.new), axis=1)
        if len(progress) <= self.settle:
            return False
        began = int(_last_below(progress[:, None], 0.2)[0])
        return bool(progress[-1 - self.settle] < self.parameters.settled_progress
                    and len(progress) - 1 - began <= self.longest)

    def _still_fading(self, brightness: np.ndarray) -> bool:
        """Whether a fade's brightness (per frame of the transition) still changes at its last frames."""
        return len(brightness) > self.settle and (
            abs(brightness[-1] - brightness[-1 - self.settle]) > self._still_level)

    def _no_picture_change(self, transition: _Transition, valid: np.ndarray, final: bool) -> bool:
        """Whether a located change is no picture change: beside an animated area (`_beside_activity`),
        or only inside an overlay, as `overlay_change` says (a subtitle's band). A change made of
        separate parts (`change_parts`) is asked about without the parts that alone are beside an
        animated area: a subtitle changing while a presenter box's background drifts is still
        only a subtitle change. When every part alone is beside one, so is the change: a subtitle
        that comes and goes often is animated itself, and its change shows only in a few blocks at
        its edge, with specks at a presenter box's edge in other rows."""
        changed = transition.changed
        if self._beside_activity(transition, changed, valid, final):
            return True
        rest = np.zeros_like(changed)
        for part in change_parts(changed):
            if not self._beside_activity(transition, part, valid, final):
                rest |= part
        if not rest.any():
            return True
        if self.overlay_change is None:
            return False
        grabbed, full = self._grabbed
        both = self._ref.full is not None and grabbed == transition.index and full is not None
        return self.overlay_change(LocalChange(
            rest, self._ref.frame.image, self._at(transition.index).image,
            not transition.still, valid, (self._ref.full, full) if both else None))

    def _beside_activity(self, transition: _Transition, blocks: np.ndarray, valid: np.ndarray,
                         final: bool) -> bool:
        """Whether the changed `blocks` (of `transition.changed`) alone would be no picture change
        beside an animated area: the edge of an animated box or its drifting background (too small,
        its blocks animated lately, or not a step), or at the end of the video (no frames after it
        show which blocks are animated: the box reaching new blocks)."""
        if not near_activity(blocks, valid, self.parameters.near_activity_blocks):
            return False
        if final or np.count_nonzero(blocks) < self.parameters.near_activity_share * np.count_nonzero(valid):
            return True
        if (self._recent.end - self._animated_at[blocks] <= self.animated_memory).all():
            return True
        part = blocks[transition.changed]
        return not is_sudden(transition.seen[:, :, part], transition.old[:, part], transition.new[:, part],
                             self.sudden)

    def _ramp_placed(self, transition: _Transition, cut: int) -> tuple[int, float | None]:
        """A still picture's change located at frame `cut`, moved to the middle of its ramp when it
        is a slow dissolve (`ramp_middle`): the frame and that middle (a frame number), else (`cut`, None)."""
        since = transition.since
        frames = np.array([self._at(i).timecode.frame_num for i in range(since, transition.index + 1)])
        progress = np.median(_progress(transition.aligned, transition.old, transition.new), axis=1)
        middle = ramp_middle(frames, progress, cut - since, self.parameters)
        if middle is None:
            return cut, None
        return since + int(np.clip(np.searchsorted(frames, middle), 1, len(frames) - 1)), middle

    def _cut(
        self, cut: int, new: int, valid: np.ndarray, space: _Frame, old: np.ndarray, settled: np.ndarray,
        changed: np.ndarray, fade: bool = False, middle: float | None = None,
    ) -> list[FrameTimecode]:
        """Report a cut at frame `cut` from the picture `old` to the `settled` one (block means in
        the pixels of frame `space`), judged on the `changed` blocks, unless it comes too soon after
        the last one; the reference becomes frame `new`. A slow dissolve's `middle` (a frame
        number, see `ramp_middle`) places it exactly."""
        if cut - self._last_cut < self.min_scene_len:
            self._set_reference(max(cut, new))
            return []
        timecode = self._exact(cut, space, old, settled, changed, fade, middle)
        self._still(self._calmest.cut(cut), timecode)
        self._last_cut = cut
        self._pending = None
        self._set_reference(max(cut, new))
        return [timecode]

    def _exact(
        self, cut: int, space: _Frame, old: np.ndarray, new: np.ndarray, changed: np.ndarray, fade: bool,
        middle: float | None,
    ) -> FrameTimecode:
        """The cut's timecode; with skipped frames, the first of them at or after a slow dissolve's
        `middle`, else the first already half way from `old` to `new` (the pictures' block means
        in frame `space`'s pixels) on the `changed` blocks, or in a fade the darkest/brightest of
        them. A skipped frame is posed between its analysed neighbours' poses."""
        frame = self._at(cut)
        if self.frames_between is None or cut - 1 < self._recent.first:
            return frame.timecode
        before = self._at(cut - 1)
        skipped = self.frames_between(before.timecode, frame.timecode)
        if middle is not None:
            return next((timecode for timecode, _ in skipped if timecode.frame_num >= middle), frame.timecode)
        if fade:
            after = self._at(cut + 1) if cut + 1 < self._recent.end else frame
            skipped += [(frame.timecode, frame.image)] + self.frames_between(frame.timecode, after.timecode)
            levels = [float(image[:, :, 0].mean()) for _, image in skipped]
            # compared with the pictures on both sides (the analysed neighbours are mid-fade)
            extreme = fade_extreme(np.array(levels), float(old[0].mean()), float(new[0].mean()))
            return skipped[extreme][0] if extreme is not None else frame.timecode
        if np.count_nonzero(changed) < self.parameters.min_blocks:
            return frame.timecode
        old, delta = old[:, changed], new[:, changed] - old[:, changed]
        half = 0.5 * (delta * delta).sum(axis=0)
        for timecode, image in skipped:
            share = (timecode.frame_num - before.timecode.frame_num) / (frame.timecode.frame_num
                                                                       - before.timecode.frame_num)
            pose = before.pose + share * (frame.pose - before.pose)
            blocks = align(image, space.pose @ np.linalg.inv(pose))[0]
            past = ((blocks[:, changed] - old) * delta).sum(axis=0) >= half
            if 2 * np.count_nonzero(past) >= past.size:
                return timecode
        return frame.timecode

    def _set_reference(self, index: int) -> None:
        grabbed, full = self._grabbed
        self._ref = _Reference(index, self._at(index), self._at(index).blocks.copy(),
                               full if grabbed == index else None)

    # The scene's picture.

    def _note_calm(self, index: int, valid: np.ndarray) -> None:
        """Give `CalmestPart` frame `index` and whether it is still: no judged block differs from
        the first frame of the still part (unaligned: a slow drift ends it)."""
        frame = self._at(index)
        start = self._still_start
        level = self.parameters.still_part_share * self._still_level
        still = start is not None and np.count_nonzero(
            (block_change(frame.blocks, start.blocks) > level) & valid) < self.parameters.min_blocks
        self._still_start = start if still else frame
        full = self.grab(frame.timecode) if self.grab is not None else None
        self._grabbed = (index, full)
        candidate = Candidate(index, frame.timecode, frame.blocks, valid, full)
        self._calmest.add(candidate, still, final_before=self._recent.first)

    def _still(self, candidates: list[Candidate], end: FrameTimecode | None = None) -> None:
        if candidates and self.on_still is not None:
            self.on_still(Still(tuple(candidates), end))
