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

`PROVIDERS` lists every provider by its `--provider` name; both scripts take their choices and
construction from it. A new provider is a module beside `svd_provider.py` and
`kenburns_provider.py` plus one entry here.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
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
class ProviderChoice:
    summary: str
    """What it does, in a few words for --help."""
    build: Callable[[argparse.Namespace], Provider]
    """Makes the provider from the parsed step-2 flags (heavy imports happen inside)."""
    flags: tuple[str, ...]
    """The step-2 flags (argparse dests) only this provider uses; given with another provider,
    the script says they do not apply."""


def _svd(flags: argparse.Namespace) -> Provider:
    from .svd_provider import SVDConfig, SVDProvider

    return SVDProvider(SVDConfig(
        model=flags.model, height=flags.height, width=flags.width, num_frames=flags.num_frames,
        fps=flags.svd_fps, steps=flags.steps, motion_bucket_id=flags.motion_bucket_id,
        noise_aug_strength=flags.noise_aug_strength, guidance_scale=flags.guidance_scale,
        decode_chunk_size=flags.decode_chunk_size, device=flags.device,
    ))


def _kenburns(flags: argparse.Namespace) -> Provider:
    from .kenburns_provider import KenBurnsProvider
    from .media import frame_rate

    return KenBurnsProvider(frame_rate(flags.kenburns_fps))


PROVIDERS: dict[str, ProviderChoice] = {
    "svd": ProviderChoice(
        "Stable Video Diffusion on the GPU", _svd,
        ("model", "height", "width", "num_frames", "svd_fps", "steps", "motion_bucket_id",
         "noise_aug_strength", "guidance_scale", "decode_chunk_size", "device"),
    ),
    "kenburns": ProviderChoice("slow zoom/pan on the CPU, no model", _kenburns, ("kenburns_fps",)),
}


def make_provider(flags: argparse.Namespace) -> Provider:
    """The provider `flags.provider` names, built from the step-2 flags."""
    return PROVIDERS[flags.provider].build(flags)
