"""Step 2's provider interface: what turns one still picture into one short clip.

A provider is small on purpose, so a new back end (a cloud service, another model) plugs in
without touching the rest. It is one class in one module:

    @dataclass(frozen=True)
    class MySettings:
        model: str = setting("my-org/my-model", "Hub id or local folder")
        steps: int = setting(8, "denoising steps", shown=True, at_least=1)

    class MyProvider:
        name = "mine"                      # what --provider calls it
        summary = "my model on the GPU"    # a few words for --help
        settings_class = MySettings
        uses_scene_length = False

        def __init__(self, settings: MySettings) -> None: ...
        def settings(self) -> dict[str, object]: return recorded_settings(self.config)
        def animate(self, request: ClipRequest) -> str | None: ...

plus one line in `providers.BUILT_IN` (or, for a provider in another package, an entry point in
the group `podcast_img2vid.providers` naming the class). Each setting is declared once, as a
field of the settings dataclass: its flag (`--mine-steps` unless `flags` says otherwise), help,
type (from the annotation; `int | None` accepts "None"), default, range check, whether the review
page shows it and under which name the clip's record holds it all come from the field. Adding
a knob is adding a field.

Everything around `animate` is step 2's and shared by every provider: which pictures need a clip,
per-picture seeds, resume and the settings sidecar, atomic writes (`animate` writes to a
temporary path that step 2 renames when it is complete), progress, the summary and the split
across processes.

Contract for `animate(request)`:
  * read `request.image` (any PNG; convert it to RGB yourself), write an H.264 yuv420p MP4 to
    `request.output`, and return a short note for the log (or None);
  * be deterministic for the same picture, settings and `request.seed`;
  * raise `UserError` for a problem with this picture that the user can fix (it is reported
    and the other pictures go on); any other exception also fails only this picture;
  * raise `ProviderUnavailable` when no picture can succeed (the model cannot be loaded, no
    GPU): step 2 stops with that one message instead of failing every picture the same way.

`settings()` returns everything (JSON-able) that shapes a clip besides the picture and the seed;
it is recorded next to each clip, and a clip whose recorded settings differ is made again. The
module is imported for `--help`: import heavy libraries (torch, diffusers, a cloud client) inside
the methods that use them.

This module imports nothing of step 2's, so provider modules and the registry (registry.py)
import it without a cycle.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ...errors import UserError


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
    uses_scene_length: bool
    """Whether `request.seconds` shapes the clip. If so it is recorded with the clip, and a clip
    whose scene length changed is made again."""

    def settings(self) -> dict[str, object]:
        """Everything (JSON-able) that shapes a clip besides the picture and the seed.

        Recorded next to each clip; a clip whose recorded settings differ is made again.
        """
        ...

    def animate(self, request: ClipRequest) -> str | None:
        """Write one clip for `request.image` to `request.output`; return a note or None."""
        ...


@dataclass(frozen=True)
class SettingInfo:
    """What a settings field says about itself, beyond its name, type and default."""

    help: str
    flags: tuple[str, ...] = ()
    """Its command-line names; empty: `--<provider>-<field-name>`. The last one names it in
    messages (and is the argparse dest). Two providers may share a flag (e.g. --device) when
    they give it the same default."""
    shown: bool = False
    """Shown on each card of review.html (the full record is in the clip's .json file)."""
    recorded: bool = True
    """In the clip's record. False for what does not change the clip (e.g. the GPU it ran on)."""
    recorded_as: str | None = None
    """The record's key when it is not the field's name."""
    at_least: float | None = None
    """The smallest value allowed; a smaller one is a one-line error naming the flag."""
    flag_value: Callable[[Any], str] = str
    """The recorded value as the flag's word (review.html spells commands from records)."""


def setting(default: Any, help: str, **info: Any) -> Any:
    """A settings field: `steps: int = setting(25, "denoising steps", at_least=1, shown=True)`."""
    return dataclasses.field(default=default, metadata={"setting": SettingInfo(help, **info)})


def setting_info(field: dataclasses.Field) -> SettingInfo:
    return field.metadata["setting"]


def recorded_settings(settings: object) -> dict[str, object]:
    """The settings as a clip's record holds them: recorded fields under their recorded names."""
    recorded: dict[str, object] = {}
    for field in dataclasses.fields(settings):
        info = setting_info(field)
        if info.recorded:
            recorded[info.recorded_as or field.name] = getattr(settings, field.name)
    return recorded
