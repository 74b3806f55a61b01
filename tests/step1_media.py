"""Builds step-1 inputs with real ffmpeg encodes: still pictures with known cut frames.

Pictures are procedural (smooth colour fields with shapes, like illustrations); `on_dark` puts a
picture on the dark background that several slides share, the case frame-difference detectors
miss. Overlays mimic what podcast videos carry: an audiogram waveform, a progress bar, a blinking
logo, film grain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from podcast_img2vid.media import write_video

SIZE = (320, 180)
DARK = (14, 16, 28)


def picture(seed: int, size: tuple[int, int] = SIZE) -> np.ndarray:
    """A textured RGB picture: a smooth random colour field with a few shapes on it."""
    rng = np.random.default_rng(seed)
    width, height = size
    coarse = Image.fromarray(rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)).resize(size, Image.BICUBIC)
    fine = Image.fromarray(rng.integers(0, 256, (height // 10, width // 10, 3), dtype=np.uint8))
    image = Image.blend(coarse, fine.resize(size, Image.BILINEAR), 0.3)
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = rng.integers(0, width), rng.integers(0, height)
        r = int(rng.integers(height // 12, height // 4))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    return np.asarray(image).copy()


def on_dark(seed: int, size: tuple[int, int] = SIZE) -> np.ndarray:
    """A dim picture in the middle 55 % of the frame, on the shared dark background."""
    width, height = size
    inner = (round(width * 0.55), round(height * 0.55))
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = DARK
    x, y = (width - inner[0]) // 2, (height - inner[1]) // 2
    canvas[y : y + inner[1], x : x + inner[0]] = (picture(seed, inner) * 0.45).astype(np.uint8)
    return canvas


def with_object(image: np.ndarray, share: float = 0.015, colour=(250, 210, 40)) -> np.ndarray:
    """The same picture with a small square object added (covering `share` of the frame)."""
    height, width = image.shape[:2]
    side = round((share * width * height) ** 0.5)
    edited = image.copy()
    y, x = height // 3, width // 2 + width // 8
    edited[y : y + side, x : x + side] = colour
    return edited


# Overlays: (frame index, picture) -> picture with the overlay drawn on a copy.

def waveform(index: int, image: np.ndarray) -> np.ndarray:
    """An audiogram bar along the bottom: bars of random height, new on every frame."""
    out = image.copy()
    height, width = out.shape[:2]
    rng = np.random.default_rng(index)
    base = height - 4
    for x in range(width // 8, width - width // 8, 4):
        bar = int(rng.integers(1, height // 7))
        out[base - bar : base, x : x + 3] = (255, 255, 255)
    return out


def blinking_logo(index: int, image: np.ndarray) -> np.ndarray:
    """A logo in the corner (about 2 % of the frame) that blinks: 10 frames on, 10 off."""
    out = image.copy()
    height, width = out.shape[:2]
    if (index // 10) % 2 == 0:
        side = round((0.02 * width * height) ** 0.5)
        out[6 : 6 + side, 6 : 6 + side] = (220, 30, 30)
    return out


def progress_bar(total_frames: int) -> Callable[[int, np.ndarray], np.ndarray]:
    """A 3-pixel bar at the very bottom that grows with the episode."""

    def draw(index: int, image: np.ndarray) -> np.ndarray:
        out = image.copy()
        width = out.shape[1]
        out[-3:, : max(1, round(width * (index + 1) / total_frames))] = (255, 80, 0)
        return out

    return draw


@dataclass
class Clip:
    """Slides and how they change. `dissolves[i]` = length in frames of the dissolve into slide i."""

    slides: list[tuple[np.ndarray, int]]
    dissolves: dict[int, int] = field(default_factory=dict)

    @property
    def cuts(self) -> list[int]:
        """True cut frames: a hard cut's first new frame, a dissolve's midpoint."""
        return [int(x) for x in np.cumsum([n for _, n in self.slides])[:-1]]

    @property
    def frame_count(self) -> int:
        return sum(n for _, n in self.slides)

    def frames(self):
        starts = [0, *self.cuts, self.frame_count]
        for i, (image, _) in enumerate(self.slides):
            for f in range(starts[i], starts[i + 1]):
                yield self._blend(i, f - starts[i], starts[i + 1] - f, image)

    def _blend(self, i: int, since: int, until: int, image: np.ndarray) -> np.ndarray:
        """The picture of slide i, blended with a neighbour inside a dissolve centred on the cut."""
        into = self.dissolves.get(i, 0)
        out_of = self.dissolves.get(i + 1, 0)
        if into and since < into // 2:
            alpha = 0.5 + (since + 0.5) / into
            return (alpha * image + (1 - alpha) * self.slides[i - 1][0]).astype(np.uint8)
        if out_of and until <= out_of // 2:
            alpha = 0.5 - (until - 0.5) / out_of
            return (alpha * self.slides[i + 1][0] + (1 - alpha) * image).astype(np.uint8)
        return image


def encode(
    clip: Clip,
    path: Path,
    fps: Fraction | int = 30,
    overlays: tuple[Callable[[int, np.ndarray], np.ndarray], ...] = (),
    grain: float = 0.0,
) -> Path:
    """Encode the clip (H.264, no audio) with overlays and per-frame grain drawn on every frame."""
    rng = np.random.default_rng(7)

    def frames():
        for index, image in enumerate(clip.frames()):
            for overlay in overlays:
                image = overlay(index, image)
            if grain:
                noisy = image + rng.normal(0, grain, image.shape)
                image = np.clip(noisy, 0, 255).astype(np.uint8)
            yield image

    write_video(frames(), path, fps, crf=20)
    return path
