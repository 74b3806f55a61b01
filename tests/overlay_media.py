"""Podcast videos with live overlays, made with real ffmpeg encodes, and their ground truth.

Each family (`OVERLAY_FAMILIES`) is seeded: the same seed gives the same video. The pictures
come from step1_media (illustrations and photos, still or moved by a Ken Burns zoom and pan);
each overlay is a layer (`Layer`: colour and alpha per frame) composited over them, so the truth
is exact: the true cut frames (`cuts`), every frame without overlays (`picture`), and per frame
the pixels each kind of overlay covers (`overlay_alpha`, `overlay_mask`).

* subtitles_cjk: Chinese subtitles, white or yellow with a dark outline, one or two lines, with
  blank gaps between some cues, changing every 1-3 s independently of the pictures;
* subtitles_latin: Latin subtitles, white on a dark box;
* subtitles_kenburns: Chinese subtitles over pictures that zoom and pan;
* audiogram: an audiogram (step1_media's styles) and, mostly, a progress bar;
* presenter: a picture-in-picture presenter box;
* logo: a static corner logo, identical in every scene;
* combined: subtitles, audiogram, progress bar, presenter box and logo together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from step1_media import (
    Episode,
    Scene,
    Transition,
    audiogram,
    episode,
    illustration,
    photo,
    presenter_box,
    progress_bar,
)

from podcast_img2vid.media import write_video

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
"""Debian's fonts-wqy-microhei (.ci/run installs it): Chinese and Latin glyphs."""
OVERLAY_FAMILIES = ("subtitles_cjk", "subtitles_latin", "subtitles_kenburns", "audiogram", "presenter",
                    "logo", "combined")
SUBTITLE_FAMILIES = ("subtitles_cjk", "subtitles_latin", "subtitles_kenburns", "combined")
FRAME_RATES = (24, 25, 30, Fraction(30000, 1001))
NTSC = Fraction(30000, 1001)
"""29.97 fps."""
SIZES = ((640, 360), (480, 270), (854, 480))

_HANZI = ("我們今天來講一個關於小熊和森林的故事大家準備好了嗎天空中有很多星星小朋友要記得早點睡覺"
          "媽媽說明天要去公園玩兔子跑得很快烏龜慢慢地走到了終點老師問同學們為什麼會下雨呢")
_WORDS = ("the little bear walked into a quiet forest and found a shiny stone under an old tree "
          "every night the stars tell stories to children who listen carefully").split()


@dataclass
class Layer:
    """One overlay: its kind (as in overlays.json) and, per frame, its colour (h, w, 3) float32 and
    alpha (h, w) float32 0-1, or None where it shows nothing."""

    kind: str
    render: Callable[[int], tuple[np.ndarray, np.ndarray] | None]


@dataclass(frozen=True)
class Cue:
    """A subtitle shown on frames [start, end)."""

    start: int
    end: int
    lines: tuple[str, ...]


@dataclass
class OverlayEpisode:
    """A podcast video with overlays: `base` holds the pictures, transitions and encoding."""

    base: Episode
    layers: list[Layer]
    family: str
    cues: list[Cue] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        return self.base.size

    @property
    def fps(self) -> int | Fraction:
        return self.base.fps

    @property
    def cuts(self) -> list[int]:
        return self.base.cuts

    @property
    def frame_count(self) -> int:
        return self.base.frame_count

    @property
    def kinds(self) -> list[str]:
        return list(dict.fromkeys(layer.kind for layer in self.layers))

    def picture(self, f: int) -> np.ndarray:
        """Frame `f` without overlays (RGB uint8)."""
        return self.base.picture(f)

    def scene_picture(self, scene: int) -> np.ndarray:
        """The picture of scene `scene` (0-based) without overlays, at the scene's middle frame."""
        starts = [0, *self.cuts, self.frame_count]
        return self.picture((starts[scene] + starts[scene + 1]) // 2)

    def frame(self, f: int) -> np.ndarray:
        """Frame `f` as encoded (before compression), RGB uint8."""
        image = self.picture(f).astype(np.float32)
        for layer in self.layers:
            drawn = layer.render(f)
            if drawn is not None:
                colour, alpha = drawn
                image = alpha[:, :, None] * colour + (1 - alpha[:, :, None]) * image
        return np.clip(np.round(image), 0, 255).astype(np.uint8)

    def frames(self):
        for f in range(self.frame_count):
            yield self.frame(f)

    def overlay_alpha(self, f: int, kinds: tuple[str, ...] | None = None) -> np.ndarray:
        """How much of each pixel of frame `f` the overlays (of `kinds`, default all) cover: (h, w) 0-1."""
        width, height = self.size
        covered = np.zeros((height, width), np.float32)
        for layer in self.layers:
            drawn = layer.render(f) if kinds is None or layer.kind in kinds else None
            if drawn is not None:
                covered = 1 - (1 - covered) * (1 - drawn[1])
        return covered

    def overlay_mask(self, f: int, kinds: tuple[str, ...] | None = None) -> np.ndarray:
        """The pixels of frame `f` an overlay (of `kinds`) visibly covers: (h, w) bool."""
        return self.overlay_alpha(f, kinds) > 0.05

    def region(self, kind: str, every: int = 1) -> np.ndarray:
        """Where overlays of `kind` show on any frame (every `every`-th frame looked at): (h, w) bool."""
        width, height = self.size
        shown = np.zeros((height, width), bool)
        for f in range(0, self.frame_count, every):
            shown |= self.overlay_mask(f, (kind,))
        return shown

    def cue_at(self, f: int) -> Cue | None:
        return next((cue for cue in self.cues if cue.start <= f < cue.end), None)


def encode(ep: OverlayEpisode, path: Path) -> Path:
    """Encode the episode (H.264, no audio) at its frame rate and quality."""
    write_video(ep.frames(), path, ep.fps, crf=ep.base.crf)
    return path


# Layers.

def drawn_layer(kind: str, draw: Callable[[int, np.ndarray], np.ndarray], size: tuple[int, int]) -> Layer:
    """A step1_media overlay (`draw(index, image)`) as a layer: drawn over black and over white, the
    two results give its colour and alpha exactly."""
    width, height = size
    black = np.zeros((height, width, 3), np.uint8)
    white = np.full((height, width, 3), 255, np.uint8)

    def render(index: int) -> tuple[np.ndarray, np.ndarray] | None:
        on_black = draw(index, black).astype(np.float32)
        on_white = draw(index, white).astype(np.float32)
        alpha = np.clip(1 - (on_white - on_black).mean(axis=2) / 255, 0, 1)
        if not alpha.any():
            return None
        colour = on_black / np.maximum(alpha, 1e-3)[:, :, None]
        return np.clip(colour, 0, 255), alpha

    return Layer(kind, render)


def subtitle_cues(rng: np.random.Generator, frames: int, fps: float, latin: bool) -> list[Cue]:
    """Cues of 1-3 s, one or two lines, with a blank gap of 0.3-1 s after a third of them."""
    cues = []
    f = int(rng.uniform(0.2, 1.0) * fps)
    while f < frames:
        length = int(rng.uniform(1.0, 3.0) * fps)
        lines = tuple(_line(rng, latin) for _ in range(2 if rng.random() < 0.35 else 1))
        cues.append(Cue(f, min(frames, f + length), lines))
        f += length + (int(rng.uniform(0.3, 1.0) * fps) if rng.random() < 0.35 else 0)
    return cues


def _line(rng: np.random.Generator, latin: bool) -> str:
    if latin:
        return " ".join(str(w) for w in rng.choice(_WORDS, int(rng.integers(3, 8))))
    return "".join(str(c) for c in rng.choice(list(_HANZI), int(rng.integers(5, 14))))


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(CJK_FONT), size)


def subtitles(rng: np.random.Generator, size: tuple[int, int], cues: list[Cue], style: str,
              bottom: float = 0.06) -> Layer:
    """Subtitles centred near the bottom (`bottom`: the margin under them, a share of the height).
    `style` "outline": white or yellow text with a dark outline; "box": white text on a dark box."""
    width, height = size
    font_size = max(12, int(height * rng.uniform(0.055, 0.075)))
    fill = (255, 255, 255) if style == "box" or rng.random() < 0.5 else (255, 224, 32)
    outline = max(1, font_size // 10)
    box_alpha = int(rng.uniform(0.6, 0.85) * 255)

    @lru_cache(maxsize=4)
    def cue_layer(cue: Cue) -> tuple[np.ndarray, np.ndarray]:
        canvas = Image.new("RGBA", size, (0, 0, 0, 0))
        pen = ImageDraw.Draw(canvas)
        font = _font(font_size)
        line_height = int(font_size * 1.3)
        y = height - int(bottom * height) - line_height * len(cue.lines)
        for line in cue.lines:
            left, top, right, low = pen.textbbox((0, 0), line, font=font, stroke_width=outline)
            x = (width - (right - left)) // 2
            if style == "box":
                pad = font_size // 4
                box = (x - pad, y - pad // 2, x + right - left + pad, y + line_height)
                pen.rectangle(box, fill=(16, 16, 16, box_alpha))
                pen.text((x - left, y - top), line, font=font, fill=(*fill, 255))
            else:
                pen.text((x - left, y - top), line, font=font, fill=(*fill, 255), stroke_width=outline,
                         stroke_fill=(20, 20, 20, 255))
            y += line_height
        rgba = np.asarray(canvas).astype(np.float32)
        return rgba[:, :, :3], rgba[:, :, 3] / 255

    def render(index: int) -> tuple[np.ndarray, np.ndarray] | None:
        cue = next((c for c in cues if c.start <= index < c.end), None)
        return cue_layer(cue) if cue is not None else None

    return Layer("subtitles", render)


def corner_logo(rng: np.random.Generator, size: tuple[int, int]) -> Layer:
    """A static logo in a top corner (a disc with two letters, 6-9 % of the width), the same on
    every frame."""
    width, height = size
    side = int(width * rng.uniform(0.06, 0.09))
    margin = int(width * 0.02)
    x = margin if rng.random() < 0.5 else width - side - margin
    canvas = Image.new("RGBA", size, (0, 0, 0, 0))
    pen = ImageDraw.Draw(canvas)
    colour = tuple(int(c) for c in rng.integers(40, 220, 3))
    pen.ellipse((x, margin, x + side, margin + side), fill=(*colour, 230), outline=(255, 255, 255, 255),
                width=max(1, side // 16))
    font = _font(max(8, side // 3))
    pen.text((x + side // 2, margin + side // 2), "KP", font=font, fill=(255, 255, 255, 255), anchor="mm")
    rgba = np.asarray(canvas).astype(np.float32)
    drawn = (rgba[:, :, :3], rgba[:, :, 3] / 255)
    return Layer("static", lambda index: drawn)


# Episodes.

def still_episode(rng: np.random.Generator, seed: int, size: tuple[int, int], fps: int | Fraction,
                  scenes: int, seconds: tuple[float, float]) -> Episode:
    """Still pictures (illustrations or photos) joined by hard cuts, a few by a short dissolve."""
    parts = []
    for i in range(scenes):
        make = illustration if rng.random() < 0.6 else photo
        parts.append(Scene(make(seed * 100 + i, size), int(rng.uniform(*seconds) * fps)))
    transitions = [Transition("dissolve", max(2, int(rng.uniform(0.2, 0.6) * fps) // 2 * 2))
                   if rng.random() < 0.25 else Transition("cut") for _ in range(scenes - 1)]
    return Episode(parts, transitions, size, fps, int(rng.integers(18, 30)), [], "stills")


def overlay_episode(family: str, seed: int, size: tuple[int, int] = (640, 360),
                    fps: int | Fraction | None = None, scenes: int = 5,
                    seconds: tuple[float, float] = (3.0, 5.0)) -> OverlayEpisode:
    """A random episode of one family (see OVERLAY_FAMILIES); the same seed gives the same episode."""
    if family not in OVERLAY_FAMILIES:
        raise ValueError(f"unknown family {family!r}")
    rng = np.random.default_rng(seed)
    fps = fps or FRAME_RATES[int(rng.integers(len(FRAME_RATES)))]
    if family == "subtitles_kenburns":
        base = episode("kenburns", seed, size, fps, scenes, seconds)
    else:
        base = still_episode(rng, seed, size, fps, scenes, seconds)
    layers: list[Layer] = []
    cues: list[Cue] = []
    if family in ("audiogram", "combined"):
        layers.append(drawn_layer("animated", audiogram(rng, size), size))
        if family == "combined" or rng.random() < 0.7:
            layers.append(drawn_layer("animated", progress_bar(base.frame_count), size))
    if family in ("presenter", "combined"):
        layers.append(drawn_layer("animated", presenter_box(rng, size), size))
    if family in ("logo", "combined"):
        layers.append(corner_logo(rng, size))
    if family in SUBTITLE_FAMILIES:
        latin = family == "subtitles_latin"
        cues = subtitle_cues(rng, base.frame_count, float(fps), latin)
        bottom = 0.3 if family == "combined" else float(rng.uniform(0.04, 0.1))  # above an audiogram
        layers.append(subtitles(rng, size, cues, "box" if latin else "outline", bottom))
    return OverlayEpisode(base, layers, family, cues)
