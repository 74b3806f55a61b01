"""Step 3's inputs, all checked before anything is encoded: the source video, timestamps.csv, a clip
(or with `--fallback still` the picture) for every scene, and step 1's overlays."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from ..errors import UserError
from ..media import MediaInfo, count_frames, frame_rate, probe
from ..workdir import layout
from ..workdir.clip_record import made_from_another_picture
from ..workdir.overlays import OverlaySet, read_overlays
from .output_path import check_output_path
from .plan import PATTERNS

FALLBACKS = ("error", "still")
CSV_END_TOLERANCE = 0.5
"""Seconds by which timestamps.csv may end before or after the video (hand edits, rounding)."""


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


@dataclass(frozen=True)
class ClipSource:
    """What a scene shows: an animated clip, or (fallback) the still picture as a one-frame clip."""

    image: str
    path: Path
    still: bool
    frame_count: int
    fps: Fraction


def display_size(info: MediaInfo) -> tuple[int, int]:
    """The source's size as players show it, in square pixels (an anamorphic 720x576 with pixels
    64:45 wide shows as 1024x576): the output's size, so it is never squeezed."""
    if info.sample_aspect == 1:
        return info.width, info.height
    if info.sample_aspect > 1:
        return round(info.width * info.sample_aspect), info.height
    return info.width, round(info.height / info.sample_aspect)


def check_clip(work: layout.WorkDir, image: str, fallback: str, fps: Fraction) -> ClipSource | str:
    """The clip for `image`, or a one-line description of what is wrong with it."""
    path = work.clips_dir / layout.clip_name(image)
    if not path.is_file():
        still = work.images_dir / image
        if fallback == "still" and still.is_file():
            warn(f"{path}: no clip; showing the still {still} instead (--fallback still)")
            return ClipSource(image, still, True, 1, fps)
        if fallback == "still":
            return f"{path}: missing, and so is the still {still}"
        return f"{path}: missing (run step 2 for it, or use --fallback still)"
    if made_from_another_picture(work.images_dir / image, path, work.clips_dir / layout.sidecar_name(image)):
        return (f"{path}: was made from an earlier {image} (step 1 ran again or the picture changed); "
                "run step 2 again to remake it")
    try:
        info = probe(path)
        count = count_frames(path)
    except UserError as e:
        return str(e)
    except (av.error.FFmpegError, ValueError) as e:
        return f"{path}: cannot be decoded ({e.__class__.__name__}); delete it and run step 2 again"
    if count == 0:
        return f"{path}: has no frames; delete it and run step 2 again"
    return ClipSource(image, path, False, count, info.fps)


class Problems(list[str]):
    """Every problem found, one line each, so that one error can list them all."""

    def collect(self, check, *args):
        """`check(*args)`, or None with its UserError kept as a problem."""
        try:
            return check(*args)
        except UserError as e:
            self.append(str(e))
            return None

    def raise_if_any(self) -> None:
        if len(self) == 1:
            raise UserError(f"step 3 cannot start, nothing was written: {self[0]}")
        if self:
            listed = "".join(f"\n  {n}. {problem}" for n, problem in enumerate(self, 1))
            raise UserError(f"{len(self)} problems; step 3 cannot start, nothing was written:{listed}")


def check_options(pattern: str, fallback: str, fps: float | None) -> None:
    if pattern not in PATTERNS:
        raise UserError(f"pattern {pattern!r} is not one of {', '.join(PATTERNS)}")
    if fallback not in FALLBACKS:
        raise UserError(f"fallback {fallback!r} is not one of {', '.join(FALLBACKS)}")
    if fps is not None and not fps > 0:
        raise UserError(f"--fps {fps}: give a positive frame rate such as 30 or 29.97")


def clip_sources(
    work: layout.WorkDir, scenes: list[layout.Scene], fallback: str, fps: Fraction, problems: Problems
) -> dict[str, ClipSource]:
    """The clip (or still) of every picture the scenes show; what is wrong goes to `problems`."""
    sources: dict[str, ClipSource] = {}
    for image in layout.referenced_images(scenes):
        checked = check_clip(work, image, fallback, fps)
        if isinstance(checked, str):
            problems.append(checked)
        else:
            sources[image] = checked
    return sources


def csv_end_problem(video: Path, info: MediaInfo, csv_path: Path, scenes: list[layout.Scene]) -> str | None:
    """What is wrong when timestamps.csv does not end where the video does (None: it does)."""
    if abs(scenes[-1].end - info.duration) <= CSV_END_TOLERANCE:
        return None
    return (f"{csv_path} ends at {scenes[-1].end:.3f}s but {video} is {info.duration:.3f}s long: it was "
            "made for another video or its last scenes were removed; run step 1 for this video, or make "
            f"the last scene end at {info.duration:.3f}")


def validate_inputs(
    video: Path, work: layout.WorkDir, output: Path, pattern: str, fallback: str, fps: float | None,
    overlays: bool,
) -> tuple[MediaInfo, list[layout.Scene], dict[str, ClipSource], OverlaySet | None]:
    """Check every input before any encoding; raise ONE UserError listing every problem.

    `overlays`: also read and check step 1's overlays (None when it found none)."""
    check_options(pattern, fallback, fps)
    check_output_path(video, output, work)
    problems = Problems()
    info = problems.collect(probe, video)
    scenes = problems.collect(layout.read_scenes, work.csv_path)
    live = None
    if overlays and info is not None:
        live = problems.collect(read_overlays, work.images_dir, display_size(info))
    sources: dict[str, ClipSource] = {}
    if scenes is not None:
        out_fps = frame_rate(fps) if fps is not None else (info.fps if info else Fraction(30))
        sources = clip_sources(work, scenes, fallback, out_fps, problems)
        if info is not None and (problem := csv_end_problem(video, info, work.csv_path, scenes)):
            problems.append(problem)
    problems.raise_if_any()
    return info, scenes, sources, live
