"""The output's timeline against the source's, as players present both."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..media import Span
from .inputs import warn


@dataclass(frozen=True)
class Timeline:
    """The output's timeline (from 0) against the source's, as players present both.

    It starts with whichever of picture and sound starts first, and ends where the sound
    ends (the picture, when silent): source time `origin` is output time 0. The scenes are
    shifted by `lead` (sound before the first picture shows the first picture).
    """

    origin: float
    lead: float
    end: float

    @classmethod
    def of(cls, video: Path, picture: Span, sound: Span | None, frame: float) -> Timeline:
        if sound is None:
            return cls(picture.start, 0.0, picture.end - picture.start)
        origin = min(picture.start, sound.start)
        if sound.start - picture.start > frame:
            warn(f"{video}: the audio starts {sound.start - picture.start:.3f}s after the first picture; "
                  "the output keeps that silence at its start")
        elif picture.start - sound.start > frame:
            warn(f"{video}: the audio starts {picture.start - sound.start:.3f}s before the first picture; "
                  "the first picture is shown from the start of the audio")
        if abs(sound.end - picture.end) > frame:
            warn(
                f"{video}: the audio ends at {sound.end - origin:.3f}s and the pictures at "
                f"{picture.end - origin:.3f}s; "
                + ("the last picture is held until the audio ends" if sound.end > picture.end
                   else "the video ends with the audio")
            )
        return cls(origin, picture.start - origin, sound.end - origin)
