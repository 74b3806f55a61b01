"""Overlays: what lies over the pictures and stays live in the output (subtitles, animated areas, logos).

Step 1 finds them and writes, inside `1_extracted_images/` (names in layout.py):

    overlays.json         {"version": 1, "width": W, "height": H, "overlays": [
                             {"kind": "subtitles", "mask": "overlay_subtitles.png",
                              "colours": [[255, 255, 255], [0, 0, 0]], "picture_moves": false}, ...]}
    overlay_<kind>.png    8-bit grey, exactly the pictures' size: 255 where the overlay may show,
                          0 = picture. One per kind found.

Kinds (`OVERLAY_KINDS`): "subtitles" (text that changes in a band while the picture under it
stays), "animated" (audiogram, progress bar, presenter box, blinking logo), "static" (a logo
identical at the same place in every scene). Facts per overlay:

* `colours`: the overlay's own colours (RGB, most common first): a subtitle's text, its outline
  or its box. Used to find its pixels where the picture under it moves.
* `picture_moves`: in some scene the picture under the mask moves (a Ken Burns source), so a
  source frame cannot be compared with the still picture there: its overlay pixels are those
  near `colours` (`overlay_pixels`).

The pictures `image_NNN.png` are clean: the overlays are removed from them. A person corrects a
wrong mask by painting it white/black in any editor; deleting a mask and its entry in
overlays.json turns that kind off (step 3's `--no-overlays` turns them all off).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import UserError
from ..fsutil import atomic_output, atomic_write_text
from .layout import OVERLAY_KINDS, OVERLAYS_JSON, overlay_mask_name

VERSION = 1
MAX_SHARE = 0.5
"""An overlay (or all of them together) may cover at most half of the frame: the rest is the picture."""
KEY_LEVEL = 24
"""A source pixel differing from the clean picture by more than this (levels, any channel) is overlay."""
COLOUR_TOLERANCE = 48
"""A pixel this close (levels, every channel) to an overlay colour has that colour (`colour_key`)."""
EDGE_SLACK = 4
"""Near the clean picture's own edges a source pixel may differ by a 1/EDGE_SLACK of the edge's contrast
more (compression and scaling blur sharp edges): a picture edge inside a mask is not taken for overlay."""
EDGE_PIXELS = 1
"""Overlay pixels are widened by this much (anti-aliased edges) and then feathered as much."""
CHANGED_SHARE = 0.5
"""When more than this share of the pixels around a mask (in its box, outside it) differ from the clean
picture, the picture on screen is not it (a dissolve between scenes): the overlay is found by colour."""


@dataclass(frozen=True, eq=False)
class Overlay:
    """One kind of overlay: where it may show (`mask`, (h, w) uint8, 255 = overlay) and its facts."""

    kind: str
    mask: np.ndarray
    colours: tuple[tuple[int, int, int], ...] = ()
    picture_moves: bool = False

    @property
    def mask_name(self) -> str:
        return overlay_mask_name(self.kind)

    @property
    def share(self) -> float:
        """The share of the frame the mask covers."""
        return float(np.count_nonzero(self.mask)) / max(1, self.mask.size)

    def facts(self) -> dict:
        """The overlay's entry in overlays.json."""
        return {"kind": self.kind, "mask": self.mask_name, "colours": [list(c) for c in self.colours],
                "picture_moves": self.picture_moves}


@dataclass(frozen=True, eq=False)
class OverlaySet:
    """Every overlay of a video, for pictures of `width` x `height`."""

    width: int
    height: int
    overlays: tuple[Overlay, ...] = field(default_factory=tuple)

    @property
    def kinds(self) -> list[str]:
        return [o.kind for o in self.overlays]

    def union(self) -> np.ndarray:
        """Where any overlay may show: (h, w) uint8, 255 = overlay."""
        mask = np.zeros((self.height, self.width), np.uint8)
        for overlay in self.overlays:
            np.maximum(mask, overlay.mask, out=mask)
        return mask

    def get(self, kind: str) -> Overlay | None:
        return next((o for o in self.overlays if o.kind == kind), None)


def write_overlays(folder: Path, overlays: OverlaySet) -> None:
    """Write each overlay's mask, then overlays.json, atomically (a set without overlays writes nothing)."""
    if not overlays.overlays:
        return
    for overlay in overlays.overlays:
        if overlay.mask.shape != (overlays.height, overlays.width):
            raise ValueError(f"the {overlay.kind} mask is not {overlays.width}x{overlays.height}")
        ok, png = cv2.imencode(".png", np.where(overlay.mask > 127, 255, 0).astype(np.uint8))
        if not ok:
            raise RuntimeError(f"could not encode {overlay.mask_name}")
        with atomic_output(folder / overlay.mask_name) as tmp:
            tmp.write_bytes(png.tobytes())
    document = {"version": VERSION, "width": overlays.width, "height": overlays.height,
                "overlays": [o.facts() for o in overlays.overlays]}
    atomic_write_text(folder / OVERLAYS_JSON, json.dumps(document, indent=2) + "\n")


def read_overlays(folder: Path, picture_size: tuple[int, int] | None = None) -> OverlaySet | None:
    """The overlays recorded in `folder` (None when there is no overlays.json), validated: the JSON
    reads, every mask named exists, is the pictures' size (`picture_size` (w, h) when given, else
    the JSON's) and leaves most of the frame to the picture. Any problem is one UserError line."""
    path = folder / OVERLAYS_JSON
    if not path.is_file():
        return None
    redo = "run step 1 again, or delete it to keep no overlay live"
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{path}: cannot be read ({e}); {redo}.") from None
    try:
        if document.get("version") != VERSION:
            raise ValueError(f"version {document.get('version')!r}, expected {VERSION}")
        width, height = int(document["width"]), int(document["height"])
        entries = list(document["overlays"])
        if width <= 0 or height <= 0:
            raise ValueError(f"size {width}x{height}")
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise UserError(f"{path}: not an overlays file ({e}); {redo}.") from None
    if picture_size is not None and picture_size != (width, height):
        raise UserError(f"{path}: is for pictures of {width}x{height}, the pictures are "
                        f"{picture_size[0]}x{picture_size[1]}; run step 1 again.")
    overlays = []
    for entry in entries:
        overlay = _read_entry(folder, path, entry, (width, height))
        if overlay.kind in (o.kind for o in overlays):
            raise UserError(f"{path}: lists {overlay.kind} twice; remove one entry or run step 1 again.")
        overlays.append(overlay)
    result = OverlaySet(width, height, tuple(overlays))
    share = float(np.count_nonzero(result.union())) / (width * height)
    if len(overlays) > 1 and share > MAX_SHARE:
        raise UserError(
            f"{path}: the masks together cover {share:.0%} of the frame (at most {MAX_SHARE:.0%}: the rest "
            "is the picture). Paint the picture black in the masks, or delete a mask and its entry.")
    return result


def _read_entry(folder: Path, path: Path, entry: object, size: tuple[int, int]) -> Overlay:
    """One validated overlay of overlays.json `path`."""
    kind = entry.get("kind") if isinstance(entry, dict) else None
    if kind not in OVERLAY_KINDS:
        raise UserError(f"{path}: an overlay of kind {kind!r} (known: {', '.join(OVERLAY_KINDS)}); "
                        "fix its entry or run step 1 again.")
    name = overlay_mask_name(kind)
    if entry.get("mask") != name:
        raise UserError(f"{path}: the {kind} mask must be named {name} (not {entry.get('mask')!r}); "
                        "fix its entry or run step 1 again.")
    try:
        colours = tuple(tuple(int(v) for v in c) for c in entry.get("colours", []))
        if any(len(c) != 3 or not all(0 <= v <= 255 for v in c) for c in colours):
            raise ValueError("a colour is not three levels 0-255")
        picture_moves = entry.get("picture_moves", False)
        if not isinstance(picture_moves, bool):
            raise ValueError("picture_moves is not true or false")
    except (TypeError, ValueError) as e:
        raise UserError(f"{path}: the {kind} entry: {e}; fix it or run step 1 again.") from None
    mask = read_mask(folder / name, kind, size)
    return Overlay(kind, mask, colours, picture_moves)


def read_mask(path: Path, kind: str, size: tuple[int, int]) -> np.ndarray:
    """A mask as (h, w) uint8, 255 = overlay (any image mode a paint program saves; grey above
    half is overlay), checked: it exists, is `size` (w, h) and covers at most MAX_SHARE."""
    if not path.is_file():
        raise UserError(f"{path}: missing (overlays.json names it). Put it back, run step 1 again, or "
                        f"remove the {kind} entry from overlays.json to turn {kind} off.")
    try:
        with Image.open(path) as image:
            grey = np.asarray(image.convert("RGBA").convert("RGB").convert("L"))
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise UserError(f"{path}: not a readable picture ({e}); save it as PNG, or run step 1 again.") \
            from None
    if grey.shape != (size[1], size[0]):
        raise UserError(f"{path}: is {grey.shape[1]}x{grey.shape[0]}, the pictures are {size[0]}x{size[1]}; "
                        "paint the mask at the pictures' size, or run step 1 again.")
    mask = np.where(grey > 127, 255, 0).astype(np.uint8)
    share = float(np.count_nonzero(mask)) / mask.size
    if share > MAX_SHARE:
        raise UserError(
            f"{path}: covers {share:.0%} of the frame (at most {MAX_SHARE:.0%}: an overlay must leave most "
            f"of the picture). Paint the picture black, or delete the mask and its {kind} entry in "
            f"{OVERLAYS_JSON}.")
    return mask


def overlay_pixels(frame: np.ndarray, picture: np.ndarray, overlay: Overlay) -> np.ndarray:
    """Where `frame` (a source frame, RGB) shows `overlay`'s own pixels, over the clean `picture`
    (RGB, same size): (h, w) float32 alpha 0-1, 0 outside the mask, soft at the overlay's edges.

    Where the picture under the mask stays, overlay pixels differ from the picture by KEY_LEVEL
    (more near the picture's own edges, see EDGE_SLACK); a subtitle's, in the connected parts of
    those that hold one of its `colours` (its letters, their outline, their box: where the clean
    picture was inpainted, the source's own picture differs from it too, and is no overlay).
    Where the picture moves (`picture_moves`), or is not the clean picture in this frame (a
    dissolve: CHANGED_SHARE), they lie near one of the overlay's `colours`."""
    alpha = np.zeros(frame.shape[:2], np.float32)
    ys, xs = np.nonzero(overlay.mask)
    if not ys.size:
        return alpha
    pad = 2 * EDGE_PIXELS + 2
    y0, y1 = max(0, ys.min() - pad), min(frame.shape[0], ys.max() + 1 + pad)
    x0, x1 = max(0, xs.min() - pad), min(frame.shape[1], xs.max() + 1 + pad)
    rgb = np.ascontiguousarray(frame[y0:y1, x0:x1])
    inside = overlay.mask[y0:y1, x0:x1] > 0
    if overlay.picture_moves and overlay.colours:
        keyed = colour_key(rgb, overlay.colours)
    else:
        keyed = _still_key(rgb, np.ascontiguousarray(picture[y0:y1, x0:x1]), inside, overlay)
    size = 2 * EDGE_PIXELS + 1
    wide = cv2.dilate((keyed & inside).astype(np.uint8), np.ones((size, size), np.uint8)).astype(np.float32)
    soft = cv2.GaussianBlur(wide, (size, size), EDGE_PIXELS)
    alpha[y0:y1, x0:x1] = np.maximum(wide, soft) * inside
    return alpha


def _still_key(rgb: np.ndarray, under: np.ndarray, inside: np.ndarray, overlay: Overlay) -> np.ndarray:
    """`overlay_pixels` where the picture under the mask stays: the source pixels `rgb` that differ
    from the clean picture `under`, a subtitle's in the parts that hold its colours; by colour
    where the picture around the mask (`inside` False) is not the clean picture."""
    square = np.ones((3, 3), np.uint8)
    contrast = cv2.dilate(cv2.morphologyEx(under, cv2.MORPH_GRADIENT, square).max(axis=2), square)
    level = KEY_LEVEL + contrast.astype(np.int16) // EDGE_SLACK
    differs = np.abs(rgb.astype(np.int16) - under).max(axis=2) > level
    around = ~inside
    changed = np.count_nonzero(around) >= 16 and differs[around].mean() > CHANGED_SHARE
    if overlay.colours and changed:
        return colour_key(rgb, overlay.colours)
    if overlay.colours and overlay.kind == "subtitles":
        return _touching(differs & inside, colour_key(rgb, overlay.colours))
    return differs


def colour_key(rgb: np.ndarray, colours: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    """The pixels of `rgb` ((h, w, 3) uint8) within COLOUR_TOLERANCE (every channel) of one of
    `colours`: (h, w) bool."""
    keyed = np.zeros(rgb.shape[:2], np.uint8)
    for colour in colours:
        low = tuple(max(0, v - COLOUR_TOLERANCE) for v in colour)
        high = tuple(min(255, v + COLOUR_TOLERANCE) for v in colour)
        keyed |= cv2.inRange(rgb, low, high)
    return keyed > 0


def _touching(areas: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The connected parts of `areas` ((h, w) bool) that hold a pixel of `seeds`."""
    count, labels = cv2.connectedComponents(areas.astype(np.uint8), connectivity=8)
    if count <= 1:
        return areas
    met = np.zeros(count, bool)
    met[labels[seeds & areas]] = True
    met[0] = False
    return met[labels]


def overlay_alpha(frame: np.ndarray, picture: np.ndarray, overlays: OverlaySet) -> np.ndarray:
    """`overlay_pixels` of every overlay together: (h, w) float32 alpha 0-1."""
    alpha = np.zeros(frame.shape[:2], np.float32)
    for overlay in overlays.overlays:
        np.maximum(alpha, overlay_pixels(frame, picture, overlay), out=alpha)
    return alpha
