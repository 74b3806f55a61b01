"""The record of how a clip was made: `2_animated_clips/image_NNN.json`, next to `image_NNN.mp4`.

Part of the on-disk contract (see layout.py): step 2 writes it, steps 2 and 3 read it.

A record names the provider and its settings, what this one clip was asked for besides the
picture (`inputs`, e.g. the scene length a Ken Burns clip is made to fill), the seeds, and the
sha256 of the picture and of the clip. It describes exactly one clip file: a clip replaced by
hand, or a picture replaced since, no longer matches its record.

    write(sidecar, record)                      atomically (temporary file, then rename)
    read(sidecar)                               the record, or None when missing or unreadable
    is_current(image, clip, sidecar, ...)       the clip was made from this picture with these settings
    made_from_another_picture(image, clip, sidecar)
    file_sha256(path)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..fsutil import atomic_write_text


@dataclass(frozen=True)
class ClipRecord:
    provider: str
    settings: dict[str, object]
    """Everything the provider says shapes its clips (Provider.settings())."""
    seed: int
    """The run's seed."""
    picture_seed: int
    """This picture's seed, derived from `seed` and the picture's name."""
    picture_sha256: str
    clip_sha256: str
    inputs: dict[str, object] = field(default_factory=dict)
    """What this clip was asked for besides the picture and the settings, when the provider uses
    it (e.g. {"seconds": 4.5}: the longest scene showing the picture)."""
    note: str | None = None
    """What the provider reported (e.g. an out-of-memory retry)."""
    made_seconds: float | None = None
    """Wall time the provider took for this clip (review.html estimates re-roll time from it)."""
    service: dict[str, object] | None = None
    """For a cloud provider: the service's task id, what the clip cost, the seed it was sent."""


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write(sidecar: Path, record: ClipRecord) -> None:
    atomic_write_text(sidecar, json.dumps(dataclasses.asdict(record), indent=2) + "\n")


def read(sidecar: Path) -> ClipRecord | None:
    """The record in `sidecar`, or None when it is missing, unreadable or not a clip record.

    Records written before `inputs` existed read with empty inputs.
    """
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        return ClipRecord(
            provider=data["provider"],
            settings=data["settings"],
            seed=data["seed"],
            picture_seed=data["picture_seed"],
            picture_sha256=data["picture_sha256"],
            clip_sha256=data["clip_sha256"],
            inputs=data.get("inputs", {}),
            note=data.get("note"),
            made_seconds=data.get("made_seconds"),
            service=data.get("service"),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def is_current(
    image: Path, clip: Path, sidecar: Path, provider: str, settings: dict, inputs: dict
) -> bool:
    """True when `clip` is finished: its record matches the provider, settings, inputs, picture and clip.

    `settings` and `inputs` are compared as JSON (what the record holds), so tuples and lists match.
    """
    if not (clip.is_file() and image.is_file()):
        return False
    record = read(sidecar)
    return (
        record is not None
        and record.provider == provider
        and record.settings == _as_json(settings)
        and record.inputs == _as_json(inputs)
        and record.picture_sha256 == file_sha256(image)
        and record.clip_sha256 == file_sha256(clip)
    )


def made_from_another_picture(image: Path, clip: Path, sidecar: Path) -> bool:
    """True when the record shows that `clip` was made from a different `image` than the one on
    disk now (step 1 ran again, or the picture was replaced). Clips without a readable record,
    or replaced by hand since, are not judged."""
    record = read(sidecar)
    try:
        return (
            record is not None
            and record.clip_sha256 == file_sha256(clip)
            and record.picture_sha256 != file_sha256(image)
        )
    except OSError:
        return False


def _as_json(value: dict) -> dict:
    return json.loads(json.dumps(value))
