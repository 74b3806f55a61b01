"""Step 3's live overlays: the source's own overlay pixels, frame by frame, over the animated clips.

Step 1 records where overlays may show (a mask per kind, see `overlays`). For every output frame the
source frame on screen at the same time is taken (`SourceFrames`: the source is decoded once,
forward) and, inside each mask, only the pixels that are overlay pixels in THAT frame are mixed over
the clip, with soft edges (`overlays.overlay_pixels`: those that differ from the scene's clean
picture, or near the overlay's colours where the picture under it moves). So a subtitle's letters
come from the source and the picture between and around them stays the animated clip: no rectangle
of frozen picture.

The key and the mixing are done inside each mask's bounding box only (the rest of the frame is the
clip as it is), and memory is a few frames whatever the scene's or the video's length.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import av
import cv2
import numpy as np

from ..media import read_picture, upright
from ..workdir.overlays import Overlay, OverlaySet, overlay_pixels

MARGIN = 4
"""Pixels kept around a mask's bounding box (the key's soft edge is computed inside it)."""
TIME_TOLERANCE = 0.001
"""Seconds: a source frame stamped this little after an output frame's time is already on screen
(Matroska rounds timestamps to the millisecond: frame k of a 29.97 fps source may be stamped up
to half a millisecond after k / fps)."""


def fit_picture(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """A picture at the source's size (a source frame, a clean picture) at the output's size."""
    if rgb.shape[:2] == (height, width):
        return rgb
    shrink = rgb.shape[1] > width
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


@dataclass(frozen=True)
class Layer:
    """One overlay cut to its box of the output frame (`overlay.mask` is the box's size)."""

    overlay: Overlay
    rows: slice
    cols: slice


def layers(overlays: OverlaySet, width: int, height: int) -> list[Layer]:
    """Each overlay's mask fitted to the output's size and cut to its bounding box (+ `MARGIN`)."""
    out = []
    for overlay in overlays.overlays:
        mask = overlay.mask
        if mask.shape != (height, width):
            mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
        ys, xs = np.nonzero(mask > 127)
        if not len(ys):
            continue
        rows = slice(max(0, ys.min() - MARGIN), min(height, ys.max() + 1 + MARGIN))
        cols = slice(max(0, xs.min() - MARGIN), min(width, xs.max() + 1 + MARGIN))
        boxed = np.where(mask[rows, cols] > 127, 255, 0).astype(np.uint8)
        out.append(Layer(replace(overlay, mask=boxed), rows, cols))
    return out


class Compositor:
    """Mixes a source frame's overlay pixels over a clip frame, layer by layer (see the module)."""

    def __init__(self, overlays: OverlaySet, width: int, height: int):
        self.width, self.height = width, height
        self.layers = layers(overlays, width, height)
        self._picture_path: Path | None = None
        self._picture: np.ndarray | None = None

    def picture(self, path: Path) -> np.ndarray | None:
        """The scene's clean picture at the output's size (kept for the next frames of the scene)."""
        if path != self._picture_path:
            self._picture_path = path
            self._picture = None
            if path.is_file():
                self._picture = fit_picture(np.asarray(read_picture(path)), self.width, self.height)
        return self._picture

    def composite(self, clip: np.ndarray, source: np.ndarray, picture: np.ndarray | None) -> np.ndarray:
        """`clip` (RGB at the output's size, not changed) with `source`'s overlay pixels over it.

        `picture`: the scene's clean picture (see `picture`); without one the whole mask shows.
        """
        out = clip.copy()
        for layer in self.layers:
            box = (layer.rows, layer.cols)
            if picture is None:
                alpha = (layer.overlay.mask > 0).astype(np.float32)
            else:
                alpha = overlay_pixels(source[box], picture[box], layer.overlay)
            if alpha.any():
                out[box] = cv2.blendLinear(source[box], out[box], alpha, 1 - alpha)
        return out


class SourceFrames:
    """The source's frame on screen at a given time, at the output's size; decoded once, forward.

    Times must not go back. Only the frames asked for are converted to RGB.
    """

    def __init__(self, path: Path, width: int, height: int):
        self.width, self.height = width, height
        self._container = av.open(str(path))
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        self._decoded = self._container.decode(stream)
        self._shown = next(self._decoded)
        self._next = next(self._decoded, None)
        self._rgb: np.ndarray | None = None

    def __enter__(self) -> SourceFrames:
        return self

    def __exit__(self, *exc: object) -> None:
        self._container.close()

    def at(self, seconds: float) -> np.ndarray:
        """The frame on screen at `seconds` on the source's timeline (the first before it starts)."""
        while self._next is not None and self._next.time <= seconds + TIME_TOLERANCE:
            self._shown, self._next = self._next, next(self._decoded, None)
            self._rgb = None
        if self._rgb is None:
            rgb = upright(self._shown.to_ndarray(format="rgb24"), self._shown.rotation)
            self._rgb = fit_picture(rgb, self.width, self.height)
        return self._rgb
