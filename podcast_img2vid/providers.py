"""Step 2's provider interface: what turns one still picture into one short clip.

A provider is small on purpose, so a new back end (a cloud service, another model) plugs in
without touching the rest: a name, the settings that shape its clips, and `animate`, which
writes one MP4 for one picture. Everything around it is step 2's and shared by every provider:
which pictures need a clip, per-picture seeds, resume and the settings sidecar, atomic writes
(`animate` writes to a temporary path that step 2 renames when it is complete), progress, the
summary and the split across processes.

Contract for `animate(request)`:
  * read `request.image` (any PNG; convert it to RGB yourself), write an H.264 yuv420p MP4 to
    `request.output`, and return a short note for the log (or None);
  * be deterministic for the same picture, settings and `request.seed`;
  * raise `UserError` for a problem with this picture that the user can fix (it is reported
    and the other pictures go on); any other exception also fails only this picture;
  * raise `ProviderUnavailable` when no picture can succeed (the model cannot be loaded, no
    GPU): step 2 stops with that one message instead of failing every picture the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .errors import UserError


class ProviderUnavailable(UserError):
    """The provider cannot make any clip (e.g. its model cannot be loaded); step 2 stops."""


@dataclass(frozen=True)
class ClipRequest:
    image: Path
    """The still picture (1_extracted_images/image_NNN.png)."""
    output: Path
    """Where to write the MP4: a temporary path, renamed to the final clip name when complete."""
    seed: int
    """This picture's seed, derived from the run's seed and the picture's name."""
    seconds: float
    """How long the longest scene showing this picture lasts; a provider may use it or not."""


class Provider(Protocol):
    name: str
    """What `--provider` calls it, e.g. "svd" or "kenburns"."""

    def settings(self) -> dict[str, object]:
        """Everything (JSON-able) that shapes a clip besides the picture and the seed.

        Recorded next to each clip; a clip whose recorded settings differ is made again.
        """
        ...

    def animate(self, request: ClipRequest) -> str | None:
        """Write one clip for `request.image` to `request.output`; return a note or None."""
        ...
