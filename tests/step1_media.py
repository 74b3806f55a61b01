"""Builds step-1 inputs with real ffmpeg encodes: still pictures with known cut frames.

Pictures are procedural (smooth colour fields with shapes, like illustrations); `on_dark` puts a
picture on the dark background that several slides share, the case frame-difference detectors
miss. Overlays mimic what podcast videos carry: an audiogram waveform, a progress bar, a blinking
logo, film grain.
"""

from __future__ import annotations

import bisect
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from podcast_img2vid.media import ffmpeg_exe, run_ffmpeg, write_video

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


# Realistic families with seeded random parameters: photo-like pictures that may move (a Ken Burns
# move in the source), with hard cuts, dissolves or fades between them, under animated overlays.

FAMILIES = ("kenburns", "presenter", "audiogram", "logo", "dissolve", "fade", "combined",
            "kenburns_transitions", "zoompan", "short_scenes", "dark_speckled", "long_dissolve",
            "grainy_360p")
MOVING_FAMILIES = ("kenburns", "combined", "kenburns_transitions", "zoompan")
TRANSITION_FAMILIES = ("short_scenes", "dark_speckled", "long_dissolve", "grainy_360p")
"""Pictures lost around transitions (issue 20), still or moving (Ken Burns) by the seed: short scenes
between wipes, slides and dissolves; dark speckled pictures (a deep-sky photograph) dissolving into
and out of bright ones; long dissolves between photographs; grainy 360p at CRF 36-40."""
TRANSITION_KINDS = ("cut", "dissolve", "black", "white")
XFADE_KINDS = ("wipeleft", "wiperight", "wipeup", "wipedown",
               "slideleft", "slideright", "slideup", "slidedown")
"""Wipes and slides, made by ffmpeg's xfade filter (so is a dissolve in an episode that has them)."""


def photo(seed: int, size: tuple[int, int]) -> np.ndarray:
    """A photo-like RGB picture: smooth colour gradients, soft shapes, fine texture and grain."""
    rng = np.random.default_rng(seed)
    width, height = size
    colours = np.zeros((height, width, 3), np.float32)
    for cells, weight in ((3, 0.55), (9, 0.3), (31, 0.1)):  # gradients from coarse to fine
        grid = rng.uniform(0, 255, (cells, max(2, cells * width // height), 3)).astype(np.float32)
        colours += weight * cv2.resize(grid, size, interpolation=cv2.INTER_CUBIC)
    image = Image.fromarray(np.clip(colours, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(4, 9))):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        rx, ry = (int(rng.integers(height // 14, height // 4)) for _ in range(2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=colour)
        else:
            draw.polygon([(x + int(rng.integers(-rx, rx)), y + int(rng.integers(-ry, ry))) for _ in range(4)],
                         fill=colour)
    soft = cv2.GaussianBlur(np.asarray(image, np.float32), (0, 0), max(1.0, height / 300))
    texture = cv2.resize(rng.normal(0, 1, (height // 3, width // 3, 1)).astype(np.float32), size)
    return np.clip(soft + 14 * texture[:, :, None] + rng.normal(0, 3, soft.shape), 0, 255).astype(np.uint8)


def illustration(seed: int, size: tuple[int, int]) -> np.ndarray:
    """A drawing-like RGB picture: flat colours, hard-edged shapes with dark outlines, no texture."""
    rng = np.random.default_rng(seed)
    width, height = size
    backdrop = rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    image = Image.fromarray(cv2.resize(backdrop, size, interpolation=cv2.INTER_CUBIC))
    draw = ImageDraw.Draw(image)
    outline = max(1, height // int(rng.integers(120, 400)))
    for _ in range(int(rng.integers(6, 14))):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        rx, ry = (int(rng.integers(height // 20, height // 5)) for _ in range(2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        box = (x - rx, y - ry, x + rx, y + ry)
        if rng.random() < 0.5:
            draw.ellipse(box, fill=colour, outline=(20, 20, 20), width=outline)
        else:
            draw.rectangle(box, fill=colour, outline=(20, 20, 20), width=outline)
    return np.asarray(image).copy()


def speckled(seed: int, size: tuple[int, int]) -> np.ndarray:
    """A deep-sky photograph: near-black with a faint nebula and hundreds of small bright points."""
    rng = np.random.default_rng(seed)
    width, height = size
    glow = cv2.resize(rng.uniform(0, 1, (3, 5, 3)).astype(np.float32), size, interpolation=cv2.INTER_CUBIC)
    sky = np.clip(glow, 0, 1) ** 3 * rng.uniform(10, 40) + rng.uniform(1, 8)
    stars = np.zeros((height, width), np.float32)
    count = int(rng.integers(300, 900) * width * height / (640 * 360))
    ys, xs = rng.integers(0, height, count), rng.integers(0, width, count)
    stars[ys, xs] = rng.uniform(80, 255, count) * (width / 640)  # the same stars at every size
    stars = cv2.GaussianBlur(stars, (0, 0), max(0.6, width / 900)) * 2
    tint = rng.uniform(0.7, 1.0, 3).astype(np.float32)
    return np.clip(sky + stars[:, :, None] * tint, 0, 255).astype(np.uint8)


@dataclass
class Scene:
    picture: np.ndarray
    """Larger than the frame when it moves: the frame is cut out of it."""
    frames: int
    zoom: tuple[float, float] = (1.0, 1.0)
    """Zoom at the start and the end of the scene (1 shows the whole picture)."""
    pan: tuple[float, float] = (0.0, 0.0)
    """Drift of the centre over the scene, in fractions of the frame (with zoompan: of the room
    the zoom leaves)."""


@dataclass
class Transition:
    kind: str
    """"cut", "dissolve", "black", "white", or a wipe or slide (XFADE_KINDS)."""
    frames: int = 0


@dataclass
class Episode:
    """A generated podcast video: scenes, the transitions between them, overlays, how it is encoded."""

    scenes: list[Scene]
    transitions: list[Transition]
    size: tuple[int, int]
    fps: int
    crf: int
    overlays: list[Callable[[int, np.ndarray], np.ndarray]] = field(default_factory=list)
    family: str = ""
    grain: float = 0.0
    """Film grain (standard deviation in levels), new on every frame, over everything else."""

    @property
    def boundaries(self) -> list[int]:
        return [int(x) for x in np.cumsum([s.frames for s in self.scenes])[:-1]]

    @property
    def cuts(self) -> list[int]:
        """True cut frames: a hard cut's first new frame, a dissolve's midpoint, a fade's darkest frame."""
        return self.boundaries

    @property
    def frame_count(self) -> int:
        return sum(s.frames for s in self.scenes)

    def view(self, index: int, frame: int) -> np.ndarray:
        """Scene `index` as shown at its own frame number `frame` (may run before 0 or past its end)."""
        scene = self.scenes[index]
        width, height = self.size
        big_h, big_w = scene.picture.shape[:2]
        t = min(max(frame / max(1, scene.frames - 1), -0.2), 1.2)
        zoom = scene.zoom[0] + (scene.zoom[1] - scene.zoom[0]) * t
        scale = zoom * max(width / big_w, height / big_h)
        cx = big_w / 2 + scene.pan[0] * t * width / scale
        cy = big_h / 2 + scene.pan[1] * t * height / scale
        matrix = np.float32([[scale, 0, width / 2 - scale * cx], [0, scale, height / 2 - scale * cy]])
        return cv2.warpAffine(scene.picture, matrix, (width, height), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)

    def frames(self):
        starts = [0, *self.boundaries]
        grain = np.random.default_rng(len(starts))
        for f in range(self.frame_count):
            image = np.clip(self._picture(f, starts), 0, 255).astype(np.uint8)
            for overlay in self.overlays:
                image = overlay(f, image)
            yield with_grain(image, self.grain, grain)

    def scene_frames(self, index: int, before: int, after: int):
        """Scene `index` alone (grain on top), from `before` frames before its start to `after`
        frames past its end: what a video editor overlaps in a transition."""
        grain = np.random.default_rng(index)
        for f in range(-before, self.scenes[index].frames + after):
            yield with_grain(self.view(index, f), self.grain, grain)

    def picture(self, f: int) -> np.ndarray:
        """Frame `f` before overlays (RGB uint8)."""
        return np.clip(self._picture(f, [0, *self.boundaries]), 0, 255).astype(np.uint8)

    def _picture(self, f: int, starts: list[int]) -> np.ndarray:
        """Frame `f` before overlays: its scene's view, or a blend inside a dissolve or a fade."""
        index = bisect.bisect_right(starts, f) - 1
        for k in (index, index + 1):  # the transitions into this scene and out of it
            if not 1 <= k < len(starts):
                continue
            transition, boundary = self.transitions[k - 1], starts[k]
            half = transition.frames // 2
            if transition.kind == "cut" or not boundary - half <= f < boundary + half:
                continue
            before = self.view(k - 1, f - starts[k - 1]).astype(np.float32)
            after = self.view(k, f - boundary).astype(np.float32)
            if transition.kind == "dissolve":
                alpha = (f - (boundary - half) + 0.5) / (2 * half)
                return alpha * after + (1 - alpha) * before
            level = abs(f - boundary) / half
            target = 0.0 if transition.kind == "black" else 255.0
            return level * (after if f >= boundary else before) + (1 - level) * target
        return self.view(index, f - starts[index]).astype(np.float32)


def with_grain(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """The picture with gaussian grain of `sigma` levels (a copy), or itself when `sigma` is 0."""
    if not sigma:
        return image
    noise = rng.standard_normal(image.shape[:2] + (1,), np.float32) * sigma  # luma grain, like film
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def presenter_box(rng: np.random.Generator, size: tuple[int, int]):
    """A picture-in-picture presenter (3-15 % of the frame, in a corner) who moves on every frame."""
    width, height = size
    share = rng.uniform(0.03, 0.15)
    box_w = int(round((share * width * height * 16 / 9) ** 0.5)) // 2 * 2
    box_h = int(round(box_w * 9 / 16)) // 2 * 2
    x = int(rng.choice([8, width - box_w - 8]))
    y = int(rng.choice([8, height - box_h - 8]))
    room = photo(int(rng.integers(1 << 30)), (box_w + 40, box_h + 40))
    skin = tuple(int(c) for c in rng.integers(120, 230, 3))
    shirt = tuple(int(c) for c in rng.integers(0, 256, 3))
    speed = rng.uniform(0.5, 2.0)

    def draw(index: int, image: np.ndarray) -> np.ndarray:
        t = index / 30 * speed
        sx, sy = int(20 + 12 * np.sin(0.7 * t)), int(20 + 8 * np.sin(0.5 * t + 1))
        box = Image.fromarray(room[sy : sy + box_h, sx : sx + box_w].copy())
        pen = ImageDraw.Draw(box)
        cx = box_w / 2 + box_w * 0.12 * np.sin(1.3 * t) + box_w * 0.03 * np.sin(7 * t)
        cy = box_h * 0.45 + box_h * 0.05 * np.sin(2.1 * t)
        r = box_h * 0.18
        pen.ellipse((cx - 2.2 * r, cy + 1.2 * r, cx + 2.2 * r, cy + 5 * r), fill=shirt)
        pen.ellipse((cx - r, cy - r * 1.2, cx + r, cy + r * 1.2), fill=skin)
        mouth = r * (0.1 + 0.25 * abs(np.sin(9 * t)))
        pen.ellipse((cx - r * 0.3, cy + r * 0.4, cx + r * 0.3, cy + r * 0.4 + mouth), fill=(60, 20, 20))
        out = image.copy()
        out[y : y + box_h, x : x + box_w] = np.asarray(box)
        return out

    return draw


def audiogram(rng: np.random.Generator, size: tuple[int, int]):
    """An audiogram: bars that move on every frame (random, smooth, centred or over the picture)."""
    width, height = size
    style = str(rng.choice(["random", "smooth", "centred", "over"]))
    bars = int(rng.integers(24, 72))
    left, right = int(width * rng.uniform(0.05, 0.2)), int(width * rng.uniform(0.8, 0.95))
    top = int(height * rng.uniform(0.72, 0.85))
    base = height - int(height * rng.uniform(0.02, 0.08))
    colour = np.array(rng.integers(150, 256, 3), np.float32)
    phases = rng.uniform(0, 2 * np.pi, (bars, 3))
    rates = rng.uniform(0.05, 0.4, (bars, 3))
    xs = np.linspace(left, right, bars + 1).astype(int)

    def draw(index: int, image: np.ndarray) -> np.ndarray:
        if style == "random":
            levels = np.random.default_rng(index).uniform(0.05, 1.0, bars)
        else:
            levels = 0.55 + 0.45 * np.sin(rates * index + phases).mean(axis=1) * 1.6
        levels = np.clip(levels, 0.03, 1.0)
        out = image.astype(np.float32)
        for i, level in enumerate(levels):
            x0, x1 = xs[i], max(xs[i] + 1, xs[i + 1] - 2)
            bar = int(level * (base - top))
            y0, y1 = (base - bar, base) if style != "centred" else ((top + base) // 2 - bar // 2,
                                                                  (top + base) // 2 + bar // 2 + 1)
            alpha = 0.6 if style == "over" else 1.0
            out[y0:y1, x0:x1] = alpha * colour + (1 - alpha) * out[y0:y1, x0:x1]
        return out.astype(np.uint8)

    return draw


def random_logo(rng: np.random.Generator, size: tuple[int, int]):
    """A logo (about 2 % of the frame) that blinks: 0.2-0.7 s on, as long off."""
    width, height = size
    side = int((0.02 * width * height) ** 0.5)
    period = int(rng.integers(6, 19))
    x = int(rng.choice([6, width - side - 6]))
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))

    def draw(index: int, image: np.ndarray) -> np.ndarray:
        if (index // period) % 2:
            return image
        out = image.copy()
        out[6 : 6 + side, x : x + side] = colour
        return out

    return draw


def random_transition(rng: np.random.Generator, fps: int) -> Transition:
    """A hard cut, or a dissolve or a fade through black or white of 0.2-2 s."""
    kind = str(rng.choice(TRANSITION_KINDS))
    return Transition(kind, 0 if kind == "cut" else max(2, int(rng.uniform(0.2, 2.0) * fps) // 2 * 2))


def episode(family: str, seed: int, size: tuple[int, int] = (640, 360), fps: int | None = None,
            scenes: int = 4, seconds: tuple[float, float] = (1.5, 2.5)) -> Episode:
    """A random episode of one family (see FAMILIES); the same seed gives the same episode."""
    if family in TRANSITION_FAMILIES:
        return transition_episode(family, seed, size, fps, scenes, seconds)
    rng = np.random.default_rng(seed)
    fps = fps or int(rng.choice([24, 25, 30]))
    moving = family in MOVING_FAMILIES
    margin = 1.3 if moving else 1.0
    big = (int(size[0] * margin), int(size[1] * margin))
    kind = {"dissolve": "dissolve", "fade": str(rng.choice(["black", "white"]))}.get(family, "cut")
    transitions = [Transition(kind, int(rng.uniform(0.2, 2.0) * fps) // 2 * 2 if kind != "cut" else 0)
                   for _ in range(scenes - 1)]
    if family in ("kenburns_transitions", "zoompan"):  # any mix of cuts, dissolves and fades
        transitions = [random_transition(rng, fps) for _ in range(scenes - 1)]
    lengths = [0, *(t.frames for t in transitions), 0]
    parts = []
    for i in range(scenes):
        zoom = (1.0, 1.0)
        pan = (0.0, 0.0)
        if moving:
            start, end = 1.0, rng.uniform(1.05, 1.25)
            zoom = (start, end) if rng.random() < 0.5 else (end, start)
            pan = tuple(float(v) for v in rng.uniform(-0.08, 0.08, 2))
        still = int(rng.uniform(*seconds) * fps)  # the picture stands (or moves) alone this long
        frames = still + (lengths[i] + lengths[i + 1]) // 2
        if family == "zoompan":
            pan = tuple(float(v) for v in rng.uniform(-1, 1, 2))
            parts.append(Scene(illustration(seed * 100 + i, size), frames, zoom, pan))
        else:
            parts.append(Scene(photo(seed * 100 + i, big), frames, zoom, pan))
    overlays = []
    if family in ("presenter", "combined"):
        overlays.append(presenter_box(rng, size))
    if family in ("audiogram", "combined"):
        overlays.append(audiogram(rng, size))
        total = sum(p.frames for p in parts)
        if rng.random() < 0.7:
            overlays.append(progress_bar(total))
    if family == "logo":
        overlays.append(random_logo(rng, size))
    crf = int(rng.integers(18, 36))
    return Episode(parts, transitions, size, fps, crf, overlays, family)


def transition_episode(family: str, seed: int, size: tuple[int, int], fps: int | None, scenes: int,
                       seconds: tuple[float, float]) -> Episode:
    """A random episode of one of TRANSITION_FAMILIES; every other one moves (a Ken Burns move).

    short_scenes: every other scene lasts 1.0-2.0 s (its picture alone on screen at least 0.5 s),
    between wipes, slides and dissolves of 0.3-1.5 s. dark_speckled: deep-sky pictures and bright
    photographs in turn, dissolves of 0.3-1.5 s, grain. long_dissolve: photographs, dissolves of
    1.2-2.0 s. grainy_360p: 640x360 at CRF 36-40 with heavy grain, any transition."""
    rng = np.random.default_rng(seed)
    fps = fps or int(rng.choice([24, 25, 30, 50, 60]))
    moving = bool(rng.random() < 0.5)
    if family == "grainy_360p":
        size = (640, 360)
    margin = 1.3 if moving else 1.0
    big = (int(size[0] * margin), int(size[1] * margin))

    def frames_of(low: float, high: float) -> int:
        return max(2, int(rng.uniform(low, high) * fps) // 2 * 2)

    transitions = []
    for _ in range(scenes - 1):
        if family == "short_scenes":
            kind = str(rng.choice(["dissolve", *XFADE_KINDS]))
            transitions.append(Transition(kind, frames_of(0.3, 1.5)))
        elif family == "dark_speckled":
            transitions.append(Transition("dissolve", frames_of(0.3, 1.5)))
        elif family == "long_dissolve":
            transitions.append(Transition("dissolve", frames_of(1.2, 2.0)))
        else:
            kind = str(rng.choice(TRANSITION_KINDS))
            transitions.append(Transition(kind, 0 if kind == "cut" else frames_of(0.3, 1.5)))
    lengths = [0, *(t.frames for t in transitions), 0]
    dark_first = bool(rng.random() < 0.5)
    parts = []
    for i in range(scenes):
        overlap = (lengths[i] + lengths[i + 1]) // 2
        alone = int(rng.uniform(*seconds) * fps)
        if family == "short_scenes" and i % 2 == 1:  # 1.0-2.0 s, alone for 0.5 s or more
            alone = max(int(rng.uniform(1.0, 2.0) * fps) - overlap, round(0.5 * fps))
        zoom, pan = (1.0, 1.0), (0.0, 0.0)
        if moving:
            start, end = 1.0, rng.uniform(1.05, 1.25)
            zoom = (start, end) if rng.random() < 0.5 else (end, start)
            pan = tuple(float(v) for v in rng.uniform(-0.08, 0.08, 2))
        dark = family == "dark_speckled" and (i % 2 == 0) == dark_first
        image = speckled(seed * 100 + i, big) if dark else photo(seed * 100 + i, big)
        parts.append(Scene(image, alone + overlap, zoom, pan))
    grain = {"dark_speckled": rng.uniform(3, 8), "grainy_360p": rng.uniform(6, 12)}.get(family, 0.0)
    crf = int(rng.integers(36, 41)) if family == "grainy_360p" else int(rng.integers(18, 34))
    return Episode(parts, transitions, size, fps, crf, [], family, float(grain))


def encode_episode(ep: Episode, path: Path) -> Path:
    if ep.family == "zoompan":
        return encode_zoompan(ep, path)
    if any(t.kind in XFADE_KINDS for t in ep.transitions):
        return encode_xfade(ep, path)
    write_video(ep.frames(), path, ep.fps, crf=ep.crf)
    return path


def encode_xfade(ep: Episode, path: Path) -> Path:
    """The episode as a video editor makes it: each scene rendered alone (with the frames its
    transitions overlap), then joined by ffmpeg's xfade filter (wipes, slides, dissolves) or by
    hard cuts, and encoded once. (xfade's fades through black or white are darkest off their
    middle, so they are not used.)"""
    if ep.overlays or any(t.kind in ("black", "white") for t in ep.transitions):
        raise ValueError("xfade episodes have no overlays and no fades through black or white")
    names = {"dissolve": "fade"}
    overlaps = [0, *(t.frames // 2 for t in ep.transitions), 0]
    with tempfile.TemporaryDirectory() as folder:
        inputs, graph = [], []
        for i in range(len(ep.scenes)):
            clip = Path(folder) / f"scene_{i}.mkv"
            write_lossless(ep.scene_frames(i, overlaps[i], overlaps[i + 1]), clip, ep.size, ep.fps)
            inputs += ["-i", str(clip)]
            graph.append(f"[{i}:v]settb=1/{ep.fps},setpts=N,format=yuv420p[v{i}]")
        joined = "v0"
        for k, (transition, boundary) in enumerate(zip(ep.transitions, ep.boundaries, strict=True), start=1):
            if transition.kind == "cut":
                graph.append(f"[{joined}][v{k}]concat=n=2:v=1:a=0[j{k}]")
            else:
                start = (boundary - transition.frames // 2) / ep.fps
                graph.append(f"[{joined}][v{k}]xfade=transition={names.get(transition.kind, transition.kind)}"
                             f":duration={transition.frames / ep.fps}:offset={start}[j{k}]")
            joined = f"j{k}"
        run_ffmpeg([*inputs, "-filter_complex", ";".join(graph), "-map", f"[{joined}]",
                    "-frames:v", str(ep.frame_count), "-c:v", "libx264", "-crf", str(ep.crf),
                    "-pix_fmt", "yuv420p", str(path)])
    return path


def write_lossless(frames, path: Path, size: tuple[int, int], fps: int) -> None:
    """RGB frames to a lossless FFV1 file (an intermediate: no second generation of compression)."""
    width, height = size
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo",
           "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", str(fps), "-i", "-",
           "-c:v", "ffv1", "-pix_fmt", "yuv444p", str(path)]
    with subprocess.Popen(cmd, stdin=subprocess.PIPE) as proc:
        for frame in frames:
            proc.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
        proc.stdin.close()
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg could not write {path}")


def encode_zoompan(ep: Episode, path: Path) -> Path:
    """The episode made by ffmpeg alone, as slideshow scripts make them: each picture zoomed and
    moved by the zoompan filter (a crop at whole pixels of the picture, magnified to the frame, so
    sharp edges jitter), joined by hard cuts, xfade dissolves or fades out to black (white) and in."""
    if ep.overlays:
        raise ValueError("zoompan episodes have no overlays")
    width, height = ep.size
    overlaps = [0, *(t.frames // 2 if t.kind == "dissolve" else 0 for t in ep.transitions), 0]
    with tempfile.TemporaryDirectory() as folder:
        inputs, graph = [], []
        for i, scene in enumerate(ep.scenes):
            picture = Path(folder) / f"picture_{i}.png"
            Image.fromarray(scene.picture).save(picture)
            inputs += ["-i", str(picture)]
            length = scene.frames + overlaps[i] + overlaps[i + 1]
            t = f"on/{max(1, length - 1)}"
            (z0, z1), (px, py) = scene.zoom, scene.pan
            chain = (f"zoompan=z='{z0}+{z1 - z0}*{t}':x='(iw-iw/zoom)*(0.5+{px / 2}*(2*{t}-1))'"
                     f":y='(ih-ih/zoom)*(0.5+{py / 2}*(2*{t}-1))':d={length}:s={width}x{height}:fps={ep.fps}")
            if i > 0 and ep.transitions[i - 1].kind in ("black", "white"):
                into = ep.transitions[i - 1]
                chain += f",fade=t=in:s=0:n={into.frames // 2}:c={into.kind}"
            if i < len(ep.transitions) and ep.transitions[i].kind in ("black", "white"):
                out = ep.transitions[i]
                chain += f",fade=t=out:s={length - out.frames // 2}:n={out.frames // 2}:c={out.kind}"
            graph.append(f"[{i}:v]{chain},format=yuv420p[v{i}]")
        joined = "v0"
        for k, (transition, boundary) in enumerate(zip(ep.transitions, ep.boundaries, strict=True), start=1):
            if transition.kind == "dissolve":
                start = (boundary - transition.frames // 2) / ep.fps
                graph.append(f"[{joined}][v{k}]xfade=transition=fade:duration={transition.frames / ep.fps}"
                             f":offset={start}[j{k}]")
            else:
                graph.append(f"[{joined}][v{k}]concat=n=2:v=1:a=0,settb=1/{ep.fps}[j{k}]")
            joined = f"j{k}"
        run_ffmpeg([*inputs, "-filter_complex", ";".join(graph), "-map", f"[{joined}]",
                    "-frames:v", str(ep.frame_count), "-c:v", "libx264", "-crf", str(ep.crf),
                    "-pix_fmt", "yuv420p", str(path)])
    return path
