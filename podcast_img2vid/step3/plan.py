"""Step 3's frame plan: which clip frame is on screen in every output frame. Pure arithmetic, no I/O.

All times live on ONE global grid: output frame i covers [i/fps, (i+1)/fps). A scene's first
frame is `round(start * fps)` of its cumulative CSV start time, so rounding never accumulates
(per-scene rounded durations would drift by up to half a frame per scene).

Each scene is filled from at most two encoded *units* of its clip:

- an `intro` played once (freeze: the clip itself), then
- a `repeat` looped until the scene ends (loop: the clip; pingpong: forward + backward;
  freeze: the last frame held; seamless: the clip with its end crossfaded into its start, see
  `seamless_cycle`). The last repetition, or a clip longer than its scene, is cut.

A unit is a tuple of clip frame indices (or `Blend`s of two clip frames), one per output frame,
so the same clip at another frame rate plays at its own speed. Repeats shorter than
`MIN_REPEAT_SECONDS` are unrolled (each unit starts with a keyframe; a one-frame unit looped
would be all keyframes).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..workdir.layout import Scene

PATTERNS = ("loop", "freeze", "pingpong", "seamless")
MIN_REPEAT_SECONDS = 2
SEAMLESS_CROSSFADE = 3
"""The seamless pattern crossfades the last 1/SEAMLESS_CROSSFADE of a clip into its start."""


def frames_for(seconds: float, fps: Fraction) -> int:
    """Whole frames for `seconds`: the nearest count, so the last frame, stretched or trimmed to
    end exactly at `seconds`, lasts between half a frame and one and a half frames."""
    return max(1, round(Fraction(seconds) * fps))


@dataclass(frozen=True)
class SceneSpan:
    """Output frames [first, first + count) show `scene`."""

    scene: Scene
    first: int
    count: int


def scene_spans(scenes: list[Scene], fps: Fraction, total_frames: int, lead: float = 0.0) -> list[SceneSpan]:
    """Place every scene on the global grid; the last scene runs to `total_frames`.

    `lead`: seconds of output before the source's first picture (its sound starts earlier);
    the first scene covers them and every later scene starts that much later.

    Scenes that start after the end (audio shorter than the pictures) or that are shorter
    than half a frame (no frame starts inside them) get no span.
    """
    starts = [min(total_frames, round((Fraction(s.start) + Fraction(lead)) * fps)) for s in scenes]
    starts.append(total_frames)
    starts[0] = 0
    return [
        SceneSpan(scene, first, end - first)
        for scene, first, end in zip(scenes, starts, starts[1:], strict=False)
        if end > first
    ]


def played_once(clip_frames: int, clip_fps: Fraction, fps: Fraction) -> int:
    """Output frames that `clip_frames` frames at `clip_fps` last at `fps` (at least one)."""
    return max(1, round(clip_frames * fps / clip_fps))


def resample(indices: list[FrameRef], clip_fps: Fraction, fps: Fraction) -> tuple[FrameRef, ...]:
    """Play `indices` (one per clip frame at `clip_fps`) at output rate `fps`.

    Output frame j shows the clip frame on screen at time j / fps; the length is the
    sequence's own duration rounded to whole output frames (at least one).
    """
    count = played_once(len(indices), clip_fps, fps)
    return tuple(indices[min(len(indices) - 1, math.floor(j * clip_fps / fps))] for j in range(count))


@dataclass(frozen=True)
class Blend:
    """An output picture mixing two clip frames: (1 - weight) * frame `a` + weight * frame `b`."""

    a: int
    b: int
    weight: float


FrameRef = int | Blend
"""What one output frame shows: a clip frame index, or a `Blend` of two."""


def shown_frame(ref: FrameRef, frame: Callable[[int], np.ndarray]) -> np.ndarray:
    """The RGB uint8 frame shown for `ref`, given `frame(index)` -> the clip's RGB frame."""
    if isinstance(ref, int):
        return frame(ref)
    mixed = (1 - ref.weight) * frame(ref.a).astype(np.float32) + ref.weight * frame(ref.b)
    return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class ClipUnits:
    intro: tuple[FrameRef, ...]
    repeat: tuple[FrameRef, ...]


def crossfade_frames(clip_frames: int) -> int:
    """Clip frames the seamless pattern crossfades at each loop point (0: too short to crossfade)."""
    return min(clip_frames // SEAMLESS_CROSSFADE, (clip_frames - 1) // 2)


def seamless_cycle(clip_frames: int) -> tuple[list[FrameRef], list[FrameRef]]:
    """(intro, cycle) in clip frames for a loop without a jump.

    With F = `crossfade_frames` and P = clip_frames - F, the intro is frames 0..F-1 and the cycle
    is frames F..P-1 followed by F frames that fade the clip's end (frames P..) into its start
    (frames 0..F-1) with rising weights 1/(F+1) .. F/(F+1). So frame P-1 is followed by a picture
    that is mostly frame P, and the last fade, mostly frame F-1, by frame F: every step, the loop
    point included, is about one frame of motion. A scene starts on the clip's clean first frame.
    """
    fade = crossfade_frames(clip_frames)
    if fade == 0:
        return [], list(range(clip_frames))
    body = clip_frames - fade
    cycle: list[FrameRef] = list(range(fade, body))
    cycle += [Blend(body + j, j, (j + 1) / (fade + 1)) for j in range(fade)]
    return list(range(fade)), cycle


def clip_units(clip_frames: int, clip_fps: Fraction, fps: Fraction, pattern: str) -> ClipUnits:
    """The intro and repeat units of a clip of `clip_frames` frames for `pattern`."""
    if pattern not in PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r}")
    forward = list(range(clip_frames))
    if pattern == "seamless":
        head, cycle = seamless_cycle(clip_frames)
        intro = resample(head, clip_fps, fps) if head else ()
        repeat = resample(cycle, clip_fps, fps)
    elif pattern == "freeze":
        intro = resample(forward, clip_fps, fps)
        repeat: tuple[FrameRef, ...] = (clip_frames - 1,)
    else:
        intro = ()
        cycle = forward + forward[-2:0:-1] if pattern == "pingpong" else forward
        repeat = resample(cycle, clip_fps, fps)
    times = math.ceil(MIN_REPEAT_SECONDS * fps / len(repeat))
    return ClipUnits(intro, repeat * times)


@dataclass(frozen=True)
class Piece:
    """Take the first `count` frames of unit `part` ("intro" or "repeat")."""

    part: str
    count: int


def fill(frames: int, intro_len: int, repeat_len: int) -> list[Piece]:
    """Pieces that fill `frames` output frames: the intro once, then whole repeats, then a prefix."""
    pieces = []
    if intro_len:
        take = min(frames, intro_len)
        pieces.append(Piece("intro", take))
        frames -= take
    whole, rest = divmod(frames, repeat_len)
    pieces += [Piece("repeat", repeat_len)] * whole
    if rest:
        pieces.append(Piece("repeat", rest))
    return pieces


def scene_indices(units: ClipUnits, frames: int) -> list[FrameRef]:
    """Clip frame (or blend) of each of the scene's `frames` output frames (what `fill` plays)."""
    out: list[FrameRef] = []
    for piece in fill(frames, len(units.intro), len(units.repeat)):
        unit = units.intro if piece.part == "intro" else units.repeat
        out.extend(unit[: piece.count])
    return out
