"""Takes: making a clip again never loses the one it replaces.

    2_animated_clips/image_003.mp4 + .json                 the current take: what step 3 uses
    2_animated_clips/takes/image_003/take_01.mp4 + .json   earlier takes, numbered as they are kept

Before step 2 puts a new clip in place, `keep_current` moves the clip that is there (with its
record) to the next take number. `use_take` makes an earlier take current again: the current one
is kept first, then the take is moved into place. Every change is an `os.replace` (a rename on
the same drive), so an interruption at any instant leaves each clip whole under some name; no
clip is ever deleted except by `remove_takes` (`--clean-takes`), which the user asks for.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..fsutil import atomic_output
from .layout import (
    CLIP_EXT,
    IMAGE_EXT,
    SIDECAR_EXT,
    TAKES_DIR,
    clip_name,
    is_image_name,
    sidecar_name,
    take_number,
    take_stem,
)


@dataclass(frozen=True)
class Take:
    """An earlier take of a picture's clip: `clip` and its record `sidecar` (may be missing)."""

    number: int
    clip: Path

    @property
    def sidecar(self) -> Path:
        return self.clip.with_suffix(SIDECAR_EXT)


def picture_name(given: str) -> str:
    """image_003, image_003.png or image_003.mp4 -> image_003.png (UserError for anything else)."""
    name = Path(given).stem + IMAGE_EXT
    if not is_image_name(name):
        raise UserError(f"{given}: not a picture name like image_003 (see review.html for the names).")
    return name


def takes_dir(clips_dir: Path, image: str) -> Path:
    return clips_dir / TAKES_DIR / Path(image).stem


def earlier_takes(clips_dir: Path, image: str) -> list[Take]:
    """The kept takes of `image`, oldest first."""
    folder = takes_dir(clips_dir, image)
    if not folder.is_dir():
        return []
    found = [Take(number, p) for p in folder.iterdir() if (number := take_number(p.name)) is not None]
    return sorted(found, key=lambda take: take.number)


def _replace(source: Path, target: Path) -> None:
    try:
        os.replace(source, target)
    except PermissionError:  # Windows: the file is open, e.g. in a video player
        raise UserError(
            f"{source}: cannot be moved to {target}; is it open in another program (a video player)? "
            "Close it and run the same command again."
        ) from None


def keep_current(clips_dir: Path, image: str) -> Take | None:
    """Move the current clip of `image` and its record to the next take number.

    Returns the new take, or None when there is no current clip. The record is copied first and
    removed last, so an interruption leaves at worst a record without its clip (overwritten by
    the next take of that number), never a clip without its record.
    """
    clip = clips_dir / clip_name(image)
    if not clip.is_file():
        return None
    sidecar = clips_dir / sidecar_name(image)
    folder = takes_dir(clips_dir, image)
    folder.mkdir(parents=True, exist_ok=True)
    kept = earlier_takes(clips_dir, image)
    number = kept[-1].number + 1 if kept else 1
    take = Take(number, folder / f"{take_stem(number)}{CLIP_EXT}")
    if sidecar.is_file():
        with atomic_output(take.sidecar) as tmp:
            shutil.copyfile(sidecar, tmp)
    else:
        take.sidecar.unlink(missing_ok=True)
    _replace(clip, take.clip)
    sidecar.unlink(missing_ok=True)
    return take


def use_take(clips_dir: Path, image: str, number: int) -> Take | None:
    """Make take `number` of `image` the current clip; the current one is kept as a new take (returned)."""
    takes = {take.number: take for take in earlier_takes(clips_dir, image)}
    if number not in takes:
        kept = ", ".join(str(n) for n in takes) or "none"
        raise UserError(f"{image}: there is no take {number} (kept takes: {kept}; see review.html).")
    chosen = takes[number]
    previous = keep_current(clips_dir, image)
    _replace(chosen.clip, clips_dir / clip_name(image))
    if chosen.sidecar.is_file():
        _replace(chosen.sidecar, clips_dir / sidecar_name(image))
    return previous


def takes_disk_use(clips_dir: Path) -> tuple[int, int]:
    """(number of kept takes, bytes of everything in the takes folder)."""
    root = clips_dir / TAKES_DIR
    if not root.is_dir():
        return 0, 0
    files = [p for p in root.rglob("*") if p.is_file()]
    return sum(take_number(p.name) is not None for p in files), sum(p.stat().st_size for p in files)


def takes_summary(clips_dir: Path) -> list[str]:
    """Step 2's summary line about kept takes (none when there are none)."""
    count, size = takes_disk_use(clips_dir)
    if not count:
        return []
    return [f"kept {count} earlier takes, {size / 2**20:.1f} MB in {clips_dir / TAKES_DIR} "
            "(see review.html; --clean-takes deletes the ones that are not current)"]


def remove_takes(clips_dir: Path, images: list[str] | None = None) -> tuple[int, int]:
    """Delete the takes that are not current (of `images`, or of every picture).

    Returns (takes removed, bytes freed). Current clips are never touched.
    """
    root = clips_dir / TAKES_DIR
    if not root.is_dir():
        return 0, 0
    folders = [takes_dir(clips_dir, image) for image in images] if images else [
        p for p in root.iterdir() if p.is_dir()]
    removed = freed = 0
    for folder in folders:
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if p.is_file():
                removed += take_number(p.name) is not None
                freed += p.stat().st_size
                p.unlink()
        if not any(folder.iterdir()):
            folder.rmdir()
    if not any(root.iterdir()):
        root.rmdir()
    return removed, freed
