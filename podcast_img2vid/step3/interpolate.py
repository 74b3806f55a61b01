"""Clips at the output frame rate: motion-compensated interpolation, made once and cached.

    smooth = interpolated_clip(Path("2_animated_clips/image_001.mp4"), Fraction(30), frames=14,
                               clip_fps=Fraction(7))

An SVD clip has 14 frames at 7 fps; played at 30 fps each frame is held for about four output
frames (a visible stutter). ffmpeg's `minterpolate` (in the bundled ffmpeg, nothing to download)
estimates the motion between neighbouring frames and draws the frames in between.

The result lives next to the clip, named by a key made of the clip's sha256, the settings and
the output rate (`layout.interpolated_clip_name`). A later run with the same clip and settings
reuses the file as it is; a changed clip gets a new key and the stale file is removed. The file
is written to a partial name and renamed when complete, so an interrupted run leaves nothing
that looks finished.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

from ..fsutil import atomic_output
from ..media import run_ffmpeg
from ..workdir import layout
from ..workdir.clip_record import file_sha256
from .plan import played_once

FILTERS = {
    # Motion-compensated: motion of 8x8 blocks estimated both ways, overlapped-block compensation,
    # no scene-cut guard (a clip is one shot; the guard would fall back to blending on fast motion).
    # 8x8 blocks follow small local motion (SVD's) better than the default 16x16, at about the
    # same CPU time.
    "minterpolate": "minterpolate=fps={fps}:mi_mode=mci:mc_mode=obmc:me_mode=bidir:mb_size=8:scd=none",
    # Plain cross-blending of the two nearest frames (ghosting instead of motion).
    "framerate": "framerate=fps={fps}:interp_start=0:interp_end=255:scene=100",
}


@dataclass(frozen=True)
class Interpolation:
    """How clips are converted; every field is part of the cache key."""

    method: str = "minterpolate"
    crf: int = 16
    preset: str = "veryfast"

    def __post_init__(self) -> None:
        if self.method not in FILTERS:
            raise ValueError(f"unknown interpolation method {self.method!r}; one of {', '.join(FILTERS)}")

    def video_filter(self, fps: Fraction) -> str:
        """The filter chain: start at 0, hold the last frame two clip frames longer (so the output,
        cut to `played_once` frames, covers the clip's whole duration), then convert to `fps`."""
        rate = f"{fps.numerator}/{fps.denominator}"
        return f"setpts=PTS-STARTPTS,tpad=stop_mode=clone:stop=2,{FILTERS[self.method].format(fps=rate)}"


def cache_key(clip: Path, fps: Fraction, settings: Interpolation) -> str:
    """Short hex key of (the clip's content, the settings, the output rate)."""
    record = {"clip_sha256": file_sha256(clip), "fps": str(fps), **asdict(settings)}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def needs_interpolation(clip_fps: Fraction, fps: Fraction) -> bool:
    """Only clips slower than the output are converted; others already have a frame per output frame."""
    return clip_fps < fps


def interpolated_clip(
    clip: Path, fps: Fraction, frames: int, clip_fps: Fraction, settings: Interpolation = Interpolation()
) -> Path:
    """`clip` (`frames` frames at `clip_fps`) converted to `fps`, made once and cached next to it.

    Returns the cached file, which has exactly `played_once(frames, clip_fps, fps)` frames: the
    clip's own duration, as frame repetition plays it.
    """
    final = clip.with_name(layout.interpolated_clip_name(clip.name, cache_key(clip, fps, settings)))
    if final.is_file():
        return final
    with atomic_output(final) as partial:
        run_ffmpeg([
            "-i", str(clip), "-vf", settings.video_filter(fps),
            "-frames:v", str(played_once(frames, clip_fps, fps)),
            "-c:v", "libx264", "-preset", settings.preset, "-crf", str(settings.crf),
            "-pix_fmt", "yuv420p", "-an", str(partial),
        ])
    for stale in clip.parent.glob(layout.interpolated_clip_glob(clip.name)):
        if stale != final:
            stale.unlink(missing_ok=True)
    return final
