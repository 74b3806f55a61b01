"""Ken Burns motion: a slow, smooth zoom and pan over a picture, one pure function per frame.

The path: at `progress` p in [0, 1] the view is zoomed by z(p) = zoom[0] + (zoom[1] - zoom[0]) * p
relative to "cover" (the smallest scale that fills `out_size` with no border), and the view's
centre sits at c(p) = pan[0] + (pan[1] - pan[0]) * p, given as a fraction of the room the zoom
leaves to move in (0 = left/top edge, 0.5 = centred, 1 = right/bottom edge), so the view never
leaves the picture. Both change linearly, so equal steps of `progress` give equal motion, and
the warp is one float affine transform (sub-pixel, no integer-crop wobble).
"""

from __future__ import annotations

import cv2
import numpy as np

Point = tuple[float, float]

# The moves both Ken Burns effects choose from (the provider by the picture's seed, step 3's
# --kenburns scene after scene): (zoom start, zoom end), (pan centre start, pan centre end).
MOVES: tuple[tuple[Point, tuple[Point, Point]], ...] = (
    ((1.0, 1.12), ((0.5, 0.5), (0.5, 0.5))),  # slow push in
    ((1.12, 1.0), ((0.5, 0.5), (0.5, 0.5))),  # slow pull out
    ((1.06, 1.12), ((0.25, 0.5), (0.75, 0.5))),  # drift right while pushing in
    ((1.12, 1.06), ((0.75, 0.5), (0.25, 0.5))),  # drift left while pulling out
)


def zoom_pan(
    frame: np.ndarray,
    progress: float,
    out_size: tuple[int, int],
    zoom: tuple[float, float] = (1.0, 1.08),
    pan: tuple[Point, Point] = ((0.5, 0.5), (0.5, 0.5)),
) -> np.ndarray:
    """Return the view of `frame` (H, W, 3 uint8, any size) at `progress`, sized `out_size` = (w, h)."""
    out_w, out_h = out_size
    p = min(1.0, max(0.0, float(progress)))
    z = zoom[0] + (zoom[1] - zoom[0]) * p
    if z < 1.0:
        raise ValueError(f"zoom must be >= 1 (1 = cover), got {z}")
    src_h, src_w = frame.shape[:2]
    scale = max(out_w / src_w, out_h / src_h) * z
    if scale < 0.5:
        # Shrink first with area averaging so the bilinear warp below does not alias.
        pre = max(out_w / src_w, out_h / src_h) * 2
        frame = cv2.resize(frame, (round(src_w * pre), round(src_h * pre)), interpolation=cv2.INTER_AREA)
        scale *= src_w / frame.shape[1]
        src_h, src_w = frame.shape[:2]
    fx = pan[0][0] + (pan[1][0] - pan[0][0]) * p
    fy = pan[0][1] + (pan[1][1] - pan[0][1]) * p
    # The view spans out/scale source pixels; its centre may move over the rest of the picture.
    view_w, view_h = out_w / scale, out_h / scale
    cx = view_w / 2 + (src_w - view_w) * fx
    cy = view_h / 2 + (src_h - view_h) * fy
    # Pixel centres: output (x + 0.5) maps to source cx + (x + 0.5 - out_w / 2) / scale (+ 0.5 offset).
    tx = out_w / 2 - 0.5 - scale * (cx - 0.5)
    ty = out_h / 2 - 0.5 - scale * (cy - 0.5)
    matrix = np.array([[scale, 0.0, tx], [0.0, scale, ty]], dtype=np.float64)
    return cv2.warpAffine(
        frame, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
