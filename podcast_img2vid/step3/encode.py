"""A scene's frames: clip frames streamed (`clip_frames`), each clip unit encoded once
(`ClipUnitEncoder`), Ken Burns moves, live overlays composited from the source, slow clips
interpolated."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import av
import numpy as np
from tqdm import tqdm

from ..errors import UserError
from ..kenburns import MOVES, zoom_pan
from ..media import FrameReader, read_picture
from .assemble import VideoSettings, encode_segment, fit_box, fit_frame, to_video_frame
from .composite import Compositor, SourceFrames
from .inputs import ClipSource
from .interpolate import interpolated_clip, needs_interpolation
from .plan import (
    Blend,
    ClipUnits,
    FrameRef,
    Piece,
    SceneSpan,
    clip_units,
    fill,
    played_once,
    scene_indices,
    shown_frame,
)
from .timeline import Timeline

LONG_UNIT_FRAMES = 300
"""A clip unit longer than this gets its own progress bar while it is encoded."""

Item = TypeVar("Item")


def clip_frames(
    source: ClipSource, indices: Sequence[FrameRef], convert: Callable[[np.ndarray], Item]
) -> Iterator[Item]:
    """Clip frames `indices` (in that order, repeats and jumps back allowed; a `Blend` mixes two)
    as `convert(rgb)`.

    Frames are decoded as they are needed and only a bounded window is kept (`FrameReader`),
    so memory does not grow with the clip or the scene. This is the one place step 3 reads a
    clip: another way to make a scene's frames plugs in here.
    """
    if source.still:
        picture = convert(np.asarray(read_picture(source.path)))
        for _ in indices:
            yield picture
        return
    if any(isinstance(ref, Blend) for ref in indices):  # -p seamless: mixes of two frames, made in RGB
        with FrameReader(source.path) as reader:
            for ref, repeats in itertools.groupby(indices):
                item = convert(shown_frame(ref, reader.frame))
                for _ in repeats:
                    yield item
        return
    with FrameReader(source.path, convert) as reader:
        for index in indices:
            yield reader.frame(index)


class ClipUnitEncoder:
    """Encodes each (clip, unit) once, on first use, into the temporary folder.

    Only the part of a unit that some scene plays is encoded (`needed`: frames per unit), so a
    clip as long as its scene is never decoded further than the scene goes.
    """

    def __init__(self, sources: dict[str, ClipSource], settings: VideoSettings, pattern: str, tmp: Path):
        self.sources, self.settings, self.pattern, self.tmp = sources, settings, pattern, tmp
        self.needed: dict[tuple[str, str], int] = {}
        self._segments: dict[tuple[str, str], Path] = {}

    def _clip_fps(self, image: str) -> Fraction:
        source = self.sources[image]
        return self.settings.fps if source.still else source.fps

    def longer_than_clip(self, image: str, count: int) -> bool:
        """Does a scene of `count` frames outlast its clip played once (so the pattern shows)?"""
        return count > played_once(self.sources[image].frame_count, self._clip_fps(image), self.settings.fps)

    def units(self, image: str) -> ClipUnits:
        frames = self.sources[image].frame_count
        return clip_units(frames, self._clip_fps(image), self.settings.fps, self.pattern)

    def pieces(self, image: str, count: int) -> list[Piece]:
        """How a scene of `count` frames showing `image` is filled (and note what that needs)."""
        units = self.units(image)
        pieces = fill(count, len(units.intro), len(units.repeat))
        for piece in pieces:
            key = (image, piece.part)
            self.needed[key] = max(self.needed.get(key, 0), piece.count)
        return pieces

    def _fitted(self, rgb: np.ndarray) -> av.VideoFrame:
        return to_video_frame(fit_frame(rgb, self.settings.width, self.settings.height), self.settings)

    def segment(self, image: str, part: str) -> Path:
        key = (image, part)
        if key not in self._segments:
            indices = getattr(self.units(image), part)[: self.needed[key]]
            path = self.tmp / f"unit_{len(self._segments):05d}.mp4"
            frames = clip_frames(self.sources[image], indices, self._fitted)
            long_unit = len(indices) > LONG_UNIT_FRAMES  # e.g. a Ken Burns clip as long as its scene
            with tqdm(frames, total=len(indices), desc=f"  {image}", unit="frame", leave=False,
                      disable=not long_unit) as shown:
                encode_segment(shown, path, self.settings)
            self._segments[key] = path
        return self._segments[key]


def kenburns_frames(units: ClipUnitEncoder, image: str, count: int, move_index: int) -> Iterator[np.ndarray]:
    """The scene's RGB frames with a zoom/pan over the whole scene (continuous across loop points);
    the same array is refilled for each frame."""
    settings = units.settings
    zoom, pan = MOVES[move_index % len(MOVES)]
    canvas = np.zeros((settings.height, settings.width, 3), np.uint8)
    frames = clip_frames(units.sources[image], scene_indices(units.units(image), count), lambda rgb: rgb)
    for t, frame in enumerate(frames):
        x, y, w, h = fit_box(frame.shape[1], frame.shape[0], settings.width, settings.height)
        canvas[y : y + h, x : x + w] = zoom_pan(frame, t / max(1, count - 1), (w, h), zoom=zoom, pan=pan)
        yield canvas


def scene_frames(
    units: ClipUnitEncoder, span: SceneSpan, kenburns: bool, move_index: int,
) -> Iterator[np.ndarray]:
    """The RGB frames a scene shows before overlays, at the output's size."""
    image = span.scene.image
    if kenburns:
        return kenburns_frames(units, image, span.count, move_index)
    width, height = units.settings.width, units.settings.height
    indices = scene_indices(units.units(image), span.count)
    return clip_frames(units.sources[image], indices, lambda rgb: fit_frame(rgb, width, height))


def live_frames(
    frames: Iterator[np.ndarray], span: SceneSpan, compositor: Compositor, source: SourceFrames,
    picture: Path, timeline: Timeline, settings: VideoSettings,
) -> Iterator[av.VideoFrame]:
    """A scene's frames with the source's overlays on them, each taken from the source frame on
    screen at the same time (output frame i is at source time origin + i / fps)."""
    clean = compositor.picture(picture)
    for i, rgb in enumerate(frames, span.first):
        shown = source.at(timeline.origin + float(Fraction(i) / settings.fps))
        yield to_video_frame(compositor.composite(rgb, shown, clean), settings)


def counted(frames: Iterator[Item], bar: tqdm) -> Iterator[Item]:
    for frame in frames:
        yield frame
        bar.update(1)


def interpolated(sources: dict[str, ClipSource], fps: Fraction) -> dict[str, ClipSource]:
    """Each clip slower than `fps` swapped for its cached motion-interpolated copy at `fps`."""
    slow = [s for s in sources.values() if not s.still and needs_interpolation(s.fps, fps)]
    converted = dict(sources)
    for s in tqdm(slow, unit="clip", desc="interpolating", disable=not slow):
        try:
            path = interpolated_clip(s.path, fps, s.frame_count, s.fps)
        except RuntimeError as e:
            raise UserError(f"{s.path}: cannot be interpolated ({e}); run step 3 without --interpolate, "
                            "or delete the clip and run step 2 again") from None
        converted[s.image] = ClipSource(s.image, path, False, played_once(s.frame_count, s.fps, fps), fps)
    return converted
