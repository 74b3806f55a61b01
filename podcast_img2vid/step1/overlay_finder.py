"""Step 1's side of the live overlays (overlays.py says what they are and how they are stored).

* Subtitles (`SubtitleBand`): the detector asks before reporting a change as a cut; a change whose
  blocks all lie in one horizontal band near the bottom (or the top) of the frame, at most
  BAND_SHARE of its height, and that looks like text (`_text_like`: a small edit there is a flat
  patch; once the band is known, any change inside it: a subtitle's box coming and going) is a
  subtitle change, never a picture change; so is a change in the known band's rows (or one row
  past them) that meets the band (a longer line or a wider box than before, a row the band's
  blocks missed: `_along_band`). Blocks beside an animated area, in rows away from the rest of
  the change, are left out (`_without_animated_edges`). The
  band is the box around those changes (a later one must fit in one band with them); the colours
  of the pixels that changed on sharp edges in it, in the full-size frames where the detector
  grabbed them, are the subtitles' colours (text, outline, box). A picture
  change under a constant subtitle changes blocks outside the band, so it is still a cut.
  Over a moving picture few subtitle changes look like cuts; the band also takes in the text
  that stays put on screen while the picture moves (`TextOnScreen`).
* Animated areas: the detector's activity mask finds where they are (`animated_blocks`: the
  boxes around the blocks it left out of judging in a good share of the frames, less its margin);
  their own pixels are those where the frames of a still scene differ from its picture
  (`AnimatedPixels`: the bars an audiogram reaches, a presenter box, a progress bar's growth), in
  the areas that meet those boxes. The mask follows each area's shape, not one box around all.
* Static overlays (`StaticLayer`): pixels identical in the pictures of every scene (at least
  three different pictures), in small detailed patches (a logo, not a shared flat background).
* The clean picture: in the subtitle band, the subtitle's pixels are taken from frames sampled
  across the scene where it is absent or shows other words (`clean_band`), else inpainted; under
  the animated and static overlays each pixel is what the scene's still frames show there when the
  overlay is not on it (`shown_values` per scene, `UnderOverlays` over all: a value shown in most
  scenes at that pixel is the overlay's), else inpainted (`inpaint_overlays`: a static logo, a
  presenter box, an audiogram's always-covered base).
* Masks made from the analysed blocks reach the frame's edges (`blocks_to_pixels`): a thin bar
  along an edge lies in the rows the block grid leaves over.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .detect import DEFAULT_PARAMETERS, LocalChange, block_size, pixel_mask

if TYPE_CHECKING:
    import av

BAND_SHARE = 0.3
"""A subtitle band (two lines and an outline or a box) is at most this share of the frame's height."""
LOWER_START = 0.4
UPPER_END = 0.25
"""A subtitle band lies in the lower 60 % of the frame, or in its top quarter."""
EDGE_LEVEL = 48
TEXT_EDGES = 0.3
TEXT_WIDTH = 1.5
"""Text: a band at least TEXT_WIDTH times wider than tall, where on TEXT_EDGES of the pixels that
changed the luma steps by EDGE_LEVEL to a neighbour."""
BAND_MARGIN = 1 / 20
"""The band's mask reaches this share of the frame's height past the blocks where subtitles changed."""
TEXT_LEVEL = 40
"""Pixels whose luma changes by more than this in a subtitle change are text (their colours are noted)."""
COLOUR_SHARE = 0.05
COLOUR_EVENTS = 0.6
"""The subtitles' colours: the (at most 3) colour bins holding COLOUR_SHARE of the changed pixels
on sharp edges (`sharp_edges`: letters, outlines, a box's edge; a translucent box's flat inside
takes the colours of the picture under it) in COLOUR_EVENTS of the subtitle changes (the pictures
under them differ, the letters do not)."""
ANIMATED_SHARE = 0.5
"""A block is an animated overlay when the activity mask left it out in this share of the judged frames."""
STATIC_WIDTH = 320
STATIC_LEVEL = 28
STATIC_AREA = (0.002, 0.05)
STATIC_DETAIL = 10.0
"""Static overlays are found on pictures STATIC_WIDTH wide: pixels that differ by at most
STATIC_LEVEL across the scenes' pictures (a logo may be a little transparent), in patches of
STATIC_AREA of the frame whose luma varies by STATIC_DETAIL (standard deviation) or more."""
SAME_PICTURE = 3.0
SAME_SHARE = 0.75
"""A sampled frame shows the same picture, not moved, when SAME_SHARE of its pixels outside the
subtitle band differ by at most SAME_PICTURE levels, at a quarter of the size: the rest may be
animated overlays (an audiogram, a presenter box), while a moved picture differs nearly everywhere."""
COLOUR_DRIFT = 16
"""Subtitle colours this close (levels, every channel) are one colour, averaged over more changes."""
COLOUR_TOLERANCE = 64
"""A pixel this close (levels, every channel) to one of the subtitles' colours may be text: the codec
smears the colours of thin letters."""
INPAINT_RADIUS = 3
VARIED_WIDTH = 640
VARIED_BLUR = 1.0
VARIED_LEVEL = 40
VARIED_STILL = 4.0
"""`AnimatedPixels` compares frames at most VARIED_WIDTH wide, blurred by VARIED_BLUR (codec
noise): a sample shows its scene's picture unmoved when the median pixel differs by at most
VARIED_STILL levels (any channel), and its pixels that differ by more than VARIED_LEVEL are an
overlay's."""
VARIED_GAP = 1 / 40
"""Varied pixels this close (share of the width: a block) belong to one area: the gaps between an
audiogram's bars, a presenter's flat background, a progress bar's growth between two samples."""
VARIED_EDGE = 2
"""Pixels the animated mask reaches past the varied ones: an overlay's soft, compressed edge."""
STILL_TEXT_LEVEL = 16
STILL_TEXT_PAIRS = 2
"""Over a moving picture, a pixel on a sharp edge (EDGE_LEVEL) that changes by at most
STILL_TEXT_LEVEL (any channel) between two consecutive samples of a scene while the picture moved
stays put on screen; in STILL_TEXT_PAIRS such pairs or more, it is text (`TextOnScreen`)."""
ANIMATED_EDGE = 1
"""Blocks this close to an animated area (blocks the detector does not judge) are its edge: see
`_without_animated_edges`."""
SHOWN_LEVEL = 12
"""Frames of a still scene whose pixels differ by at most this (levels, every channel) show the same
there: between frames of a still picture the codec's noise stays under it."""
SHOWN_FRAMES = 2
SHOWN_SHARE = 0.9
SHOWN_EDGE = 1
OVERLAY_LEVEL = 32
OVERLAY_SCENES = 0.5
VALUE_SLOTS = 4
"""`UnderOverlays`: a value a pixel shows in OVERLAY_SCENES of the still scenes (at least two), give
or take OVERLAY_LEVEL (the codec renders an overlay that moves on every frame less exactly than a
still picture), is an overlay's; a scene's picture under an overlay is another value shown there on
SHOWN_FRAMES of its frames, where two values explain SHOWN_SHARE of them (a presenter box moving
over a pixel shows many); pixels within SHOWN_EDGE of one left to inpaint are inpainted too (the
codec mixes an overlay's colours into the picture beside it); VALUE_SLOTS values per pixel are
counted."""


class SubtitleBand:
    """The detector's `overlay_change`: vetoes subtitle changes and learns the band (see the module).

    `full_picture(grabbed)` gives a frame the detector grabbed as a full-size YUV picture ((h, w, 3)
    uint8): the colours are learnt from its pixels where the change has them (`LocalChange.full`),
    since on the small analysed pictures thin letters blur into their box or outline."""

    def __init__(self, full_picture: Callable[[av.VideoFrame], np.ndarray] | None = None):
        self.full_picture = full_picture
        self.blocks: np.ndarray | None = None
        """The band: the box around the blocks of every subtitle change so far ((rows, cols) bool),
        None before the first."""
        self.changes = 0
        self.moving = False
        """Some subtitle change happened over a moving picture."""
        self._counts = np.zeros(512, np.float64)
        self._sums = np.zeros((512, 3), np.float64)
        self._events = np.zeros(512, np.int32)

    def __call__(self, change: LocalChange) -> bool:
        change = _without_animated_edges(change)
        rows = np.flatnonzero(change.changed.any(axis=1))
        if not rows.size:
            return False
        top, bottom = int(rows[0]), int(rows[-1])
        if self.blocks is not None:
            known = np.flatnonzero(self.blocks.any(axis=1))
            top, bottom = min(top, int(known[0])), max(bottom, int(known[-1]))
        height = change.changed.shape[0]
        if bottom - top + 1 > BAND_SHARE * height + 1:  # off the block grid, a band meets one row more
            return False
        if not (top >= LOWER_START * height or bottom < UPPER_END * height):
            return False
        if not self._along_band(change.changed) and not _text_like(change):
            return False
        seen = change.changed if self.blocks is None else self.blocks | change.changed
        rows, cols = np.flatnonzero(seen.any(axis=1)), np.flatnonzero(seen.any(axis=0))
        self.blocks = np.zeros_like(seen)
        self.blocks[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] = True
        self.changes += 1
        self.moving |= change.moving
        self._note_colours(change)
        return True

    def _along_band(self, changed: np.ndarray) -> bool:
        """Whether changed blocks meet the known band (overlap or touch it) and lie in its rows or
        one row above or below: its line or box changing, also where a longer line than any before
        reaches past its ends (the box's new part is flat, no text edges). The band is known in
        whole blocks, and a line's or a box's edge across a block boundary changes the next row's
        blocks by more or less than the threshold, as the picture under it allows."""
        if self.blocks is None:
            return False
        near = cv2.dilate(self.blocks.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        if not (changed & near).any():
            return False
        return not (changed & ~near.any(axis=1)[:, None]).any()

    def _note_colours(self, change: LocalChange) -> None:
        before, after = change.before, change.after
        inside = pixel_mask(change.changed, before).astype(bool)
        if change.full is not None and self.full_picture is not None:
            before, after = (self.full_picture(grabbed) for grabbed in change.full)
            inside = blocks_to_pixels(change.changed, change.before.shape[1::-1], before.shape[1::-1]) > 0
        text = inside & (np.abs(after[:, :, 0].astype(np.int16) - before[:, :, 0]) > TEXT_LEVEL)
        counts = np.zeros(512, np.float64)
        for image in (before, after):
            on_edges = text & sharp_edges(image[:, :, 0])
            rgb = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_YUV2RGB)[on_edges].astype(np.int64)
            bins = (rgb[:, 0] // 32) * 64 + (rgb[:, 1] // 32) * 8 + rgb[:, 2] // 32
            counts += np.bincount(bins, minlength=512)
            for channel in range(3):
                self._sums[:, channel] += np.bincount(bins, weights=rgb[:, channel], minlength=512)
        self._counts += counts
        if counts.sum():
            self._events += counts >= COLOUR_SHARE * counts.sum()

    @property
    def colours(self) -> tuple[tuple[int, int, int], ...]:
        """The subtitles' colours (RGB), most common first; one within half COLOUR_TOLERANCE of a
        more common one is left out (its letters' soft edge, within COLOUR_TOLERANCE of that one:
        `colour_distance`)."""
        if not self._counts.sum():
            return ()
        common = np.flatnonzero(self._events >= max(1, COLOUR_EVENTS * self.changes))
        kept: list[tuple[int, int, int]] = []
        for b in common[np.argsort(self._counts[common])[::-1]]:
            colour = tuple(int(round(v)) for v in self._sums[b] / self._counts[b])
            distinct = all(np.abs(np.subtract(colour, k)).max() > COLOUR_TOLERANCE // 2 for k in kept)
            if distinct and len(kept) < 3:
                kept.append(colour)
        return tuple(kept)


def channel_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pixel, the largest channel's |a - b| of two uint8 pictures of one size ((h, w) uint8).
    Runs on every pair of a scene's samples: numpy's max over the short last axis costs ten times
    more than an elementwise maximum of the channels."""
    difference = cv2.absdiff(a, b)
    return np.maximum(np.maximum(difference[:, :, 0], difference[:, :, 1]), difference[:, :, 2])


def sharp_edges(luma: np.ndarray) -> np.ndarray:
    """The pixels of `luma` ((h, w) uint8) on a sharp edge: their 3x3 neighbourhood spans more than
    EDGE_LEVEL levels (a letter's stroke, an outline, a box's edge)."""
    return cv2.morphologyEx(luma, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > EDGE_LEVEL


def _without_animated_edges(change: LocalChange) -> LocalChange:
    """The change without its blocks at the edge of an animated area (within ANIMATED_EDGE blocks)
    that lie in rows away from the rest of it: such an edge changes by itself at any moment (a
    progress bar growing past an audiogram, a presenter's background drifting), also while a
    subtitle changes, and is no part of the picture's change. Unchanged if every block is such an
    edge (the detector has judged those) or no area is animated."""
    animated = (~change.valid).astype(np.uint8)
    if not animated.any():
        return change
    side = 2 * ANIMATED_EDGE + 1
    edge = cv2.dilate(animated, np.ones((side, side), np.uint8)).astype(bool)
    rows = np.flatnonzero((change.changed & ~edge).any(axis=1))
    if not rows.size:
        return change
    kept = np.zeros_like(change.changed)
    kept[rows[0] : rows[-1] + 1] = change.changed[rows[0] : rows[-1] + 1]
    return replace(change, changed=kept)


def _text_like(change: LocalChange) -> bool:
    """Whether a change looks like a line of text changing: its blocks are wider than TEXT_WIDTH
    times their height, and the pixels that changed lie on sharp edges (letters' strokes) before
    or after it, not inside a flat patch."""
    rows = np.flatnonzero(change.changed.any(axis=1))
    cols = np.flatnonzero(change.changed.any(axis=0))
    if cols[-1] - cols[0] + 1 < TEXT_WIDTH * (rows[-1] - rows[0] + 1):
        return False
    before, after = (image[:, :, 0].astype(np.int16) for image in (change.before, change.after))
    changed = pixel_mask(change.changed, change.before).astype(bool) & (np.abs(after - before) > TEXT_LEVEL)
    if not changed.any():
        return False
    shares = []
    for luma in (before, after):
        steps = np.zeros(luma.shape, np.int16)
        steps[:, :-1] = np.abs(np.diff(luma, axis=1))
        np.maximum(steps[:-1], np.abs(np.diff(luma, axis=0)), out=steps[:-1])
        shares.append(float((steps[changed] > EDGE_LEVEL).mean()))
    return max(shares) >= TEXT_EDGES


def animated_blocks(animated_frames: np.ndarray | None, judged_frames: int) -> np.ndarray | None:
    """The animated overlays' blocks, from the detector's counts: each area left out in
    ANIMATED_SHARE of the judged frames, as the box around it (a presenter's box, an audiogram's
    band: their still parts are left out less often), less the margin the activity mask adds
    but one block; None if none."""
    if animated_frames is None or not judged_frames:
        return None
    often = (animated_frames >= ANIMATED_SHARE * judged_frames).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(often, connectivity=8)
    boxes = np.zeros_like(often)
    for x, y, width, height, _ in stats[1:count]:
        boxes[y : y + height, x : x + width] = 1
    side = 2 * DEFAULT_PARAMETERS.activity_margin - 1
    core = cv2.erode(boxes, np.ones((side, side), np.uint8)).astype(bool)
    return core if core.any() else None


def blocks_to_pixels(blocks: np.ndarray, analysed: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """A (rows, cols) block mask of the analysed picture (`analysed` = (w, h)) as a uint8 mask
    (255 = set) of frames of `size` (w, h); the pixels the block grid leaves over at the right and
    bottom edges take the last blocks' value."""
    width, height = analysed
    side = block_size(width, height)
    rows, cols = blocks.shape
    cells = np.kron(blocks.astype(np.uint8), np.ones((side, side), np.uint8)) * 255
    small = cv2.copyMakeBorder(cells, 0, max(0, height - rows * side), 0, max(0, width - cols * side),
                               cv2.BORDER_REPLICATE)[:height, :width]  # the last blocks reach the edges
    return cv2.resize(small, size, interpolation=cv2.INTER_NEAREST)


def median_level(levels: np.ndarray) -> float:
    """`np.median` of a uint8 array, the same float, read from its histogram (several times faster
    than sorting: `AnimatedPixels` takes it of every sampled frame)."""
    below = np.cumsum(np.bincount(levels.ravel(), minlength=256))
    low = int(np.searchsorted(below, (levels.size - 1) // 2, side="right"))
    high = int(np.searchsorted(below, levels.size // 2, side="right"))
    return (low + high) / 2


class AnimatedPixels:
    """The pixels where frames of a still scene differ from its picture, over all scenes (see the
    module): `add` each scene, then `mask`."""

    def __init__(self):
        self.varied: np.ndarray | None = None
        """(h, w) bool at `size`, None before the first scene."""

    @staticmethod
    def size(stored: tuple[int, int]) -> tuple[int, int]:
        """The (w, h) frames are compared at, for frames of `stored` (w, h) size."""
        width, height = stored
        scale = min(1.0, VARIED_WIDTH / width)
        return max(1, round(width * scale)), max(1, round(height * scale))

    def add(self, picture: np.ndarray, samples: list[np.ndarray],
            band: np.ndarray | None) -> tuple[np.ndarray, list[int]]:
        """A scene: its `picture` and the frames sampled across it (BGR at `size`); pixels in the
        subtitle `band` ((h, w) bool or None) are left out. Samples that do not show the picture
        unmoved (a transition, a moving picture) are not used; a sample given twice (the same
        array: with the pre-scan, a still scene's samples are mostly one frame), or the picture
        itself, is looked at once. Returns the scene's varied pixels and which samples (indices,
        each frame once) show its picture unmoved."""
        base = cv2.GaussianBlur(picture, (0, 0), VARIED_BLUR)
        varied = np.zeros(picture.shape[:2], bool)
        still = []
        firsts = {id(sample): index for index, sample in reversed(list(enumerate(samples)))}
        for index, sample in enumerate(samples):
            if firsts[id(sample)] != index or sample is picture:
                continue
            if sample.shape != picture.shape:
                continue
            blurred = cv2.GaussianBlur(sample, (0, 0), VARIED_BLUR)
            difference = np.maximum.reduce(cv2.split(cv2.absdiff(blurred, base)))
            if median_level(difference) <= VARIED_STILL:
                varied |= difference > VARIED_LEVEL
                still.append(index)
        if band is not None:
            varied &= ~band
        if self.varied is None or self.varied.shape != varied.shape:
            self.varied = varied.copy()
        else:
            self.varied |= varied
        return varied, still

    def mask(self, areas: np.ndarray) -> np.ndarray | None:
        """The animated overlays (uint8, 255 = overlay, at `size`): the varied pixels joined over
        gaps of VARIED_GAP, in the connected areas that meet `areas` ((h, w) bool: where the
        detector found animated blocks), holes filled, widened by VARIED_EDGE; None if none."""
        if self.varied is None or not self.varied.any() or areas.shape != self.varied.shape:
            return None
        side = max(3, round(VARIED_GAP * self.varied.shape[1]) | 1)
        square = np.ones((side, side), np.uint8)
        joined = cv2.morphologyEx(self.varied.astype(np.uint8), cv2.MORPH_CLOSE, square)
        count, labels = cv2.connectedComponents(joined, connectivity=8)
        met = np.unique(labels[areas & (joined > 0)])
        kept = np.isin(labels, met[met > 0]).astype(np.uint8)
        if not kept.any():
            return None
        contours, _ = cv2.findContours(kept, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        filled = np.zeros_like(kept)
        cv2.drawContours(filled, contours, -1, 255, cv2.FILLED)
        return cv2.dilate(filled, np.ones((2 * VARIED_EDGE + 1,) * 2, np.uint8))


class TextOnScreen:
    """Where text stays put on screen while the picture under it moves (STILL_TEXT_LEVEL), over all
    scenes: `add` each scene's samples, then `extend` the subtitle band with it. Over a moving
    picture few subtitle changes look like cuts, so the band `SubtitleBand` learns from them may
    miss a longer line or a second one."""

    def __init__(self):
        self.hits: np.ndarray | None = None
        """Per pixel, the sample pairs it stayed put in ((h, w) int32 at the samples' size)."""

    def add(self, samples: list[np.ndarray]) -> None:
        """A scene's samples (BGR, one size); pairs over a picture that did not move are skipped."""
        for before, after in pairwise(samples):
            if before is after or before.shape != after.shape:  # the same array: nothing moved
                continue
            difference = channel_difference(before, after)
            if np.median(difference) <= VARIED_STILL:
                continue
            put = (difference <= STILL_TEXT_LEVEL) & sharp_edges(cv2.cvtColor(before, cv2.COLOR_BGR2GRAY))
            if self.hits is None or self.hits.shape != put.shape:
                self.hits = np.zeros(put.shape, np.int32)
            self.hits += put

    def extend(self, band: np.ndarray) -> np.ndarray:
        """The subtitle `band` ((h, w) uint8 at the samples' size, 255 = band) grown to the box
        around it and the text that stays put beside it, while that box stays one band (the
        rules of `SubtitleBand`: at most BAND_SHARE of the height, low in the frame or at its top).
        Text is joined along its lines over gaps of VARIED_GAP; specks, and patches not TEXT_WIDTH
        times wider than tall, are left out."""
        if self.hits is None or self.hits.shape != band.shape or not band.any():
            return band
        height, width = band.shape
        side = max(3, round(VARIED_GAP * width) | 1)
        text = (self.hits >= STILL_TEXT_PAIRS).astype(np.uint8)
        text = cv2.morphologyEx(text, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))  # specks, not strokes
        joined = cv2.morphologyEx(text, cv2.MORPH_CLOSE, np.ones((3, side), np.uint8))  # along a line
        count, _, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
        ys, xs = np.nonzero(band)
        top, bottom, left, right = ys.min(), ys.max(), xs.min(), xs.max()
        for x, y, w, h, area in sorted(stats[1:count].tolist(), key=lambda stat: -stat[4]):
            low, high = min(top, y), max(bottom, y + h - 1)
            if area < side * side or w < TEXT_WIDTH * h or high - low + 1 > BAND_SHARE * height:
                continue
            if low >= LOWER_START * height or high < UPPER_END * height:
                top, bottom, left, right = low, high, min(left, x), max(right, x + w - 1)
        grown = band.copy()
        grown[top : bottom + 1, left : right + 1] = 255
        return grown


class StaticLayer:
    """Collects each distinct picture (BGR) at STATIC_WIDTH: the lowest and highest level per pixel."""

    def __init__(self):
        self.count = 0
        self._low: np.ndarray | None = None
        self._high: np.ndarray | None = None
        self._last: np.ndarray | None = None

    def add(self, bgr: np.ndarray) -> None:
        height, width = bgr.shape[:2]
        size = (min(width, STATIC_WIDTH), max(1, round(height * min(width, STATIC_WIDTH) / width)))
        small = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        if self._low is None or self._low.shape != small.shape:
            self._low, self._high = small.copy(), small.copy()
        np.minimum(self._low, small, out=self._low)
        np.maximum(self._high, small, out=self._high)
        self._last = small
        self.count += 1

    def mask(self, size: tuple[int, int]) -> np.ndarray | None:
        """The static overlays as a uint8 mask (255 = overlay) of pictures of `size` (w, h), or None."""
        if self.count < 3 or self._low is None:
            return None
        same = ((self._high.astype(np.int16) - self._low).max(axis=2) <= STATIC_LEVEL).astype(np.uint8)
        area = same.size
        count, labels, stats, _ = cv2.connectedComponentsWithStats(same, connectivity=8)
        grey = cv2.cvtColor(self._last, cv2.COLOR_BGR2GRAY)
        keep = np.zeros(same.shape, np.uint8)
        height, width = same.shape
        for label in range(1, count):
            x, y, w, h, pixels = stats[label]
            if not STATIC_AREA[0] * area <= pixels <= STATIC_AREA[1] * area or w >= width or h >= height:
                continue
            patch = labels[y : y + h, x : x + w] == label
            if grey[y : y + h, x : x + w][patch].std() >= STATIC_DETAIL:
                keep[y : y + h, x : x + w][patch] = 255
        if not keep.any():
            return None
        keep = cv2.morphologyEx(keep, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
        keep = cv2.dilate(keep, np.ones((5, 5), np.uint8))  # the logo's soft edge blends with each picture
        return cv2.resize(keep, size, interpolation=cv2.INTER_NEAREST)


def colour_distance(bgr: np.ndarray, colours: tuple[tuple[int, int, int], ...], widen: int) -> np.ndarray:
    """How far (levels, the largest channel) each pixel of `bgr` is from the nearest of the RGB
    `colours`, the nearest pixel within `widen` pixels counting: (h, w) uint8."""
    distance = np.full(bgr.shape[:2], 255, np.uint8)
    for red, green, blue in colours:
        here = np.abs(bgr.astype(np.int16) - np.array([blue, green, red], np.int16)).max(axis=2)
        np.minimum(distance, here.astype(np.uint8), out=distance)
    if widen:
        distance = cv2.erode(distance, np.ones((2 * widen + 1,) * 2, np.uint8))
    return distance


def widen_band(mask: np.ndarray) -> np.ndarray:
    """The subtitle band's mask (uint8) widened by BAND_MARGIN of the height on every side: a
    subtitle's letters reach past the blocks its changes were seen in."""
    margin = max(2, round(BAND_MARGIN * mask.shape[0]))
    return cv2.dilate(mask, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))


def clean_band(picture: np.ndarray, samples: list[np.ndarray], band: np.ndarray,
               colours: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    """`picture` (BGR) with the subtitle taken out inside `band` ((h, w) bool, the picture's size),
    using the frames sampled across its scene (BGR, same size).

    Subtitle pixels are those near the subtitles' `colours` (widened over their soft edges). Each
    is taken from the sampled frames of the same picture (not moved:
    SAME_PICTURE) that show no subtitle colour there (a blank gap, shorter words); what none
    shows is inpainted. Over a moving picture (no sample shows it unmoved) the subtitle pixels
    are those that stay put on screen (`_staying_put`: the picture's own dark or bright parts
    move), by colour only where no sample shows the same words; they are inpainted."""
    ys, xs = np.nonzero(band)
    if not ys.size or not colours:
        return picture
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = picture[y0:y1, x0:x1]
    inside = band[y0:y1, x0:x1]
    widen = max(2, picture.shape[0] // 120)
    same = [s[y0:y1, x0:x1] for s in samples if _same_picture(picture, s, y0, y1)]
    if same:
        crop, text = _fill_from_frames(crop, same, inside, colours, widen)
    else:
        put = _staying_put(picture, samples, (y0, y1, x0, x1))
        if put.any():
            square = np.ones((2 * widen + 1,) * 2, np.uint8)
            text = cv2.dilate(put.astype(np.uint8), square).astype(bool) & inside
        else:
            text = (colour_distance(crop, colours, widen) <= COLOUR_TOLERANCE) & inside
    if text.any():
        crop = cv2.inpaint(np.ascontiguousarray(crop), text.astype(np.uint8), INPAINT_RADIUS,
                           cv2.INPAINT_TELEA)
    clean = picture.copy()
    clean[y0:y1, x0:x1] = crop
    return clean


def _fill_from_frames(crop: np.ndarray, same: list[np.ndarray], inside: np.ndarray,
                      colours: tuple[tuple[int, int, int], ...], widen: int) -> tuple[np.ndarray, np.ndarray]:
    """`clean_band`'s still picture: `crop` (BGR) with each subtitle pixel taken from the frame of
    the same picture (`same`, BGR crops) least like a subtitle there (farthest from its colours
    within `widen` pixels: a blank gap, shorter or other words), and the pixels to inpaint
    ((h, w) bool): those every frame shows near a subtitle colour, in the rows where the subtitle
    changed within the scene, between its first and last change (all, if it never changed:
    a picture's own colours cannot be told from a subtitle's that never goes)."""
    stack = np.stack([crop, *same])
    distance = np.stack([colour_distance(frame, colours, widen) for frame in stack])
    text = (distance[0] <= COLOUR_TOLERANCE) & inside
    best = distance.argmax(axis=0)
    chosen = np.take_along_axis(stack, best[None, :, :, None], axis=0)[0]
    covered = distance.max(axis=0) <= COLOUR_TOLERANCE
    crop = np.where((text & ~covered)[:, :, None], chosen, crop)
    levels = stack.astype(np.int16)
    changed = ((levels.max(axis=0) - levels.min(axis=0)).max(axis=2) > TEXT_LEVEL) & inside
    if np.count_nonzero(changed) >= 8 * widen * widen:
        letters = np.ones((4 * widen + 1,) * 2, np.uint8)
        words = cv2.morphologyEx(changed.astype(np.uint8), cv2.MORPH_CLOSE, letters) > 0
        words = np.maximum.accumulate(words, axis=1) & np.maximum.accumulate(words[:, ::-1], axis=1)[:, ::-1]
        covered &= cv2.dilate(words.astype(np.uint8), np.ones((2 * widen + 1,) * 2, np.uint8)) > 0
    return crop, text & covered


def _staying_put(picture: np.ndarray, samples: list[np.ndarray],
                 box: tuple[int, int, int, int]) -> np.ndarray:
    """The pixels of `picture` inside `box` (top, bottom, left, right) on sharp edges (EDGE_LEVEL)
    that stay put (STILL_TEXT_LEVEL) in some sample where the picture moved (VARIED_STILL): the
    letters of words still shown there."""
    y0, y1, x0, x1 = box
    edges = sharp_edges(cv2.cvtColor(np.ascontiguousarray(picture[y0:y1, x0:x1]), cv2.COLOR_BGR2GRAY))
    put = np.zeros(edges.shape, bool)
    for sample in samples:
        if sample.shape != picture.shape:
            continue
        difference = np.abs(picture.astype(np.int16) - sample).max(axis=2)
        if np.median(difference) > VARIED_STILL:
            put |= difference[y0:y1, x0:x1] <= STILL_TEXT_LEVEL
    return put & edges


def subtitles_known(mask: np.ndarray | None, colours: tuple[tuple[int, int, int], ...],
                    final_mask: np.ndarray, final_colours: tuple[tuple[int, int, int], ...]) -> bool:
    """Whether a picture cleaned with the subtitle band `mask` (uint8, None: none yet) and `colours`
    was cleaned with what is known at the end of the video: its band, widened as it was cleaned
    (`widen_band`), covers `final_mask`, and its colours are the final ones (each within
    COLOUR_DRIFT of one of the others)."""
    if mask is None or ((final_mask > 0) & (widen_band(mask) == 0)).any():
        return False

    def near(colour: tuple[int, int, int], others: tuple[tuple[int, int, int], ...]) -> bool:
        return any(np.abs(np.subtract(colour, other)).max() <= COLOUR_DRIFT for other in others)

    return (len(colours) == len(final_colours) and all(near(c, final_colours) for c in colours)
            and all(near(c, colours) for c in final_colours))


def _same_picture(picture: np.ndarray, sample: np.ndarray, top: int, bottom: int) -> bool:
    """Whether `sample` shows `picture` unmoved above row `top` and below row `bottom` (the rows of
    the subtitle band), compared at a quarter of the size."""
    size = (max(1, picture.shape[1] // 4), max(1, picture.shape[0] // 4))
    a, b = (cv2.resize(v, size, interpolation=cv2.INTER_AREA).astype(np.int16) for v in (picture, sample))
    outside = np.ones(size[1], bool)
    outside[top // 4 : -(-bottom // 4)] = False
    if not outside.any():
        return False
    return float(np.quantile(np.abs(a - b).max(axis=2)[outside], SAME_SHARE)) <= SAME_PICTURE


def inpaint_overlays(picture: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`picture` (BGR) with the pixels of `mask` ((h, w) uint8, 255 = overlay) inpainted."""
    ys, xs = np.nonzero(mask)
    if not ys.size:
        return picture
    pad = 4 * INPAINT_RADIUS
    y0, y1 = max(0, ys.min() - pad), min(mask.shape[0], ys.max() + 1 + pad)
    x0, x1 = max(0, xs.min() - pad), min(mask.shape[1], xs.max() + 1 + pad)
    clean = picture.copy()
    clean[y0:y1, x0:x1] = cv2.inpaint(np.ascontiguousarray(picture[y0:y1, x0:x1]), mask[y0:y1, x0:x1],
                                      INPAINT_RADIUS, cv2.INPAINT_TELEA)
    return clean


@dataclass(frozen=True, eq=False)
class Shown:
    """What the frames of a still scene show at some pixels of its picture (`where`, (h, w) bool):
    per pixel the two values on which the most of them agree (SHOWN_LEVEL), the commonest first
    (`values` (2, n, 3) uint8 BGR, the pixels in `np.nonzero(where)` order), and on how many
    frames each shows (`counts` (2, n), 0 = none), of `frames` frames. Where an audiogram's bar
    reaches a pixel in some frames only, one value is the picture under it, the other the bar's.
    Kept on disk between the scan and the end of step 1 (`save`, `load`)."""

    where: np.ndarray
    values: np.ndarray
    counts: np.ndarray
    frames: int

    def save(self, path: Path) -> None:
        with path.open("wb") as file:
            np.savez_compressed(file, where=self.where, values=self.values, counts=self.counts,
                                frames=self.frames)

    @classmethod
    def load(cls, path: Path) -> Shown:
        with path.open("rb") as file, np.load(file) as stored:
            return cls(stored["where"], stored["values"], stored["counts"], int(stored["frames"]))


def shown_values(frames: list[np.ndarray], where: np.ndarray) -> Shown:
    """`Shown` for `frames` (BGR, one size, showing one picture unmoved) at the pixels `where`."""
    stack = [np.ascontiguousarray(frame[where])[:, None] for frame in frames]  # (n, 1, 3): for cv2
    pixels = int(np.count_nonzero(where))
    values = np.zeros((2, pixels, 3), np.uint8)
    counts = np.zeros((2, pixels), np.uint8)
    left = np.ones((len(stack), pixels), bool)
    """The frames not in a value found so far."""
    for found in range(2):
        agree = np.zeros(left.shape, np.uint8)
        for i, j in itertools.combinations(range(len(stack)), 2):
            near = channel_difference(stack[i], stack[j])[:, 0] <= SHOWN_LEVEL
            agree[i] += near & left[j]
            agree[j] += near & left[i]
        agree += left
        agree[~left] = 0
        best = np.stack(stack)[agree.argmax(axis=0), np.arange(pixels)]
        members = np.stack([channel_difference(frame, best)[:, 0] <= SHOWN_LEVEL for frame in stack]) & left
        total = members.sum(axis=0)
        sums = sum(frame[:, 0].astype(np.float32) * member[:, None]
                   for frame, member in zip(stack, members, strict=True))
        values[found] = np.round(sums / np.maximum(total, 1)[:, None]).astype(np.uint8)
        counts[found] = total
        left &= ~members
    return Shown(where, values, counts, len(stack))


def shown_pixels(varied: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The pixels of pictures of `size` (w, h) where a scene's frames differ (`varied`, at
    `AnimatedPixels.size`), VARIED_EDGE + 1 wider: (h, w) bool."""
    grown = cv2.dilate(varied.astype(np.uint8), np.ones((3, 3), np.uint8))
    full = cv2.resize(grown, size, interpolation=cv2.INTER_NEAREST)
    side = 2 * VARIED_EDGE + 3
    return cv2.dilate(full, np.ones((side, side), np.uint8)) > 0


class UnderOverlays:
    """The pictures under the animated and static overlays, from what each still scene's frames show
    there (`Shown`): per pixel, a value shown in OVERLAY_SCENES of the scenes (at least two) is the
    overlay's own (the pictures differ from scene to scene, the overlay does not); a scene's
    commonest other value, shown on SHOWN_FRAMES frames or more, is its picture there. Pixels
    where no frame of a scene shows its picture are left to inpaint.

    The values shown in many scenes are found in two passes over the scenes (`count` each, then
    `tally` each), in memory that does not grow with their number: the frequent-items counting of
    Misra and Gries keeps VALUE_SLOTS values per pixel, among them every value shown in more than a
    1/(VALUE_SLOTS + 1) share of the (at most two per scene) values; then each is counted exactly.
    """

    def __init__(self, holes: np.ndarray):
        self.holes = holes
        """(h, w) bool: the overlays' pixels."""
        pixels = int(np.count_nonzero(holes))
        self._slots = np.zeros((VALUE_SLOTS, pixels, 3), np.int16)
        self._weights = np.zeros((VALUE_SLOTS, pixels), np.int32)
        self._tallies = np.zeros((VALUE_SLOTS, pixels), np.int32)
        self._scenes = np.zeros(pixels, np.int32)

    def candidates(self, picture: np.ndarray, shown: Shown | None) -> tuple[np.ndarray, np.ndarray, int]:
        """A scene's two values at each overlay pixel ((2, n, 3) int16), their frame counts ((2, n))
        and its frames: what `shown` found where its frames differ; elsewhere the `picture` (every
        frame showed it)."""
        frames = 0 if shown is None else shown.frames
        values = np.zeros((2, *self._scenes.shape, 3), np.int16)
        counts = np.zeros((2, *self._scenes.shape), np.int32)
        values[0] = picture[self.holes]
        counts[0] = frames
        if shown is not None and shown.where.any():
            ours = shown.where[self.holes]
            theirs = self.holes[shown.where]
            values[:, ours] = shown.values[:, theirs]
            counts[:, ours] = shown.counts[:, theirs]
        return values, counts, frames

    def count(self, values: np.ndarray, counts: np.ndarray, frames: int) -> None:
        """Pass 1, a scene's `candidates`: the Misra-Gries update with each value shown."""
        everywhere = np.arange(values.shape[1])
        for value, shown in zip(values, counts, strict=True):
            match = (np.abs(self._slots - value).max(axis=2) <= OVERLAY_LEVEL) & (self._weights > 0)
            hit = match.any(axis=0) & (shown > 0)
            self._weights[match.argmax(axis=0)[hit], everywhere[hit]] += 1
            empty = self._weights == 0
            miss = (shown > 0) & ~match.any(axis=0)
            put = miss & empty.any(axis=0)
            slot = empty.argmax(axis=0)[put]
            self._slots[slot, everywhere[put]] = value[put]
            self._weights[slot, everywhere[put]] = 1
            self._weights[:, miss & ~put] -= 1

    def tally(self, values: np.ndarray, counts: np.ndarray, frames: int) -> None:
        """Pass 2, a scene's `candidates`: in how many scenes each kept value shows."""
        self._tallies += self._matches(values, counts).any(axis=1)
        self._scenes += counts[0] > 0

    def _matches(self, values: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """(slots, 2, n) bool: which of the scene's values are which kept values."""
        near = np.abs(self._slots[:, None] - values[None]).max(axis=3) <= OVERLAY_LEVEL
        return near & (self._weights > 0)[:, None] & (counts > 0)[None]

    def picture(self, values: np.ndarray, counts: np.ndarray, frames: int) -> tuple[np.ndarray, np.ndarray]:
        """A scene's picture under the overlays, from its `candidates` (after both passes): the
        values ((n, 3) uint8) and where one was found ((n,) bool; elsewhere: inpaint). Only where
        the two values explain SHOWN_SHARE of its frames: where a presenter box or the like moves
        over it, a pixel shows many values, none of them the picture."""
        common = self._tallies >= np.maximum(2, np.ceil(OVERLAY_SCENES * self._scenes))
        overlay = (self._matches(values, counts) & common[:, None]).any(axis=0)
        explained = counts.sum(axis=0) >= SHOWN_SHARE * max(frames, 1)
        usable = (counts >= SHOWN_FRAMES) & ~overlay & (self._scenes >= 2) & explained
        first = usable[0] | ~usable[1]
        chosen = np.where(first[:, None], values[0], values[1]).astype(np.uint8)
        found = usable.any(axis=0)
        return chosen, found


def left_around(left: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """The overlay pixels to inpaint (uint8, 255): those `left` (no frame showed the picture there),
    the `holes`' pixels cut off by them from the picture outside the holes (a presenter box's
    inside: the box's edge moves on every frame, while a still stretch inside it is no picture),
    and those beside them (SHOWN_EDGE pixels: next to an overlay the codec mixes its colours into
    the picture's, 4:2:0 chroma, a soft edge)."""
    shown = (left == 0).astype(np.uint8)
    count, labels = cv2.connectedComponents(shown, connectivity=4)
    reached = np.zeros(count, bool)
    reached[labels[holes == 0]] = True
    reached[0] = False
    cut_off = (holes > 0) & ~reached[labels]
    side = 2 * SHOWN_EDGE + 1
    return cv2.dilate(np.where(cut_off, 255, left).astype(np.uint8), np.ones((side, side), np.uint8)) & holes
