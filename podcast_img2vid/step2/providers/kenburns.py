"""The CPU provider: animate a picture with a slow Ken Burns zoom and pan (no GPU, no model).

Each clip lasts as long as the longest scene that shows its picture (plus a spare second), so
step 3 never has to loop it (a loop would jump from the end of the move back to its start). The move is chosen
from `MOVES` by the picture's seed, so neighbouring pictures move differently and a rerun
makes the same clip. Frames come from `kenburns.zoom_pan`, a sub-pixel affine warp: the
motion is linear and steady, with no integer-crop wobble.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .base import ClipRequest, setting

SPARE_SECONDS = 1.0
"""Added to each clip, so a scene that step 3 makes a little longer (audio longer than the
pictures, a hand-edited CSV) does not loop back to the start of the move at its end."""
MAX_SIDE = 1920
"""Pictures larger than this (long side) are animated at this size; step 3 scales to the output."""


def capped_size(width: int, height: int, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """The picture's size, shrunk to fit `max_side` and rounded to even numbers (yuv420p)."""
    scale = min(1.0, max_side / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def _rate_flag(recorded: str) -> str:
    """A recorded rate ("30000/1001") as --kenburns-fps spells it (29.97002997002997)."""
    rate = Fraction(recorded)
    return str(rate.numerator if rate.denominator == 1 else float(rate))


@dataclass(frozen=True)
class KenBurnsSettings:
    fps: float = setting(30.0, "clip frame rate (best: the source video's)", shown=True,
                         flag_value=_rate_flag)


class KenBurnsProvider:
    """Ken Burns clips at `fps` (give it the source video's rate for a 1:1 frame match in step 3)."""

    name = "kenburns"
    summary = "slow zoom/pan on the CPU, no model"
    settings_class = KenBurnsSettings
    uses_scene_length = True

    def __init__(self, settings: KenBurnsSettings, crf: int = 18):
        from ...cli import check_frame_rate
        from ...media import frame_rate

        check_frame_rate("--kenburns-fps", settings.fps)
        self.fps = frame_rate(settings.fps).limit_denominator(1001)
        self.crf = crf

    def settings(self) -> dict[str, object]:
        from ...kenburns import MOVES

        return {"fps": str(self.fps), "crf": self.crf, "moves": MOVES, "max_side": MAX_SIDE,
                "spare_seconds": SPARE_SECONDS}

    def animate(self, request: ClipRequest) -> str:
        import numpy as np

        from ...kenburns import MOVES, zoom_pan
        from ...media import read_picture, write_video

        picture = np.asarray(read_picture(request.image))
        size = capped_size(picture.shape[1], picture.shape[0])
        frames = max(2, round(Fraction(request.seconds + SPARE_SECONDS) * self.fps))
        zoom, pan = MOVES[request.seed % len(MOVES)]
        write_video(
            (zoom_pan(picture, t / (frames - 1), size, zoom=zoom, pan=pan) for t in range(frames)),
            request.output, self.fps, crf=self.crf,
        )
        return f"{frames} frames, {size[0]}x{size[1]}"
