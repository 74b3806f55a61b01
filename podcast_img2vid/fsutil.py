"""Atomic file writes: a run that is interrupted never leaves a half file under a final name."""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Collection, Iterator
from pathlib import Path

from .errors import UserError

PARTIAL_TAG = ".partial"


def partial_path(final: Path) -> Path:
    """Temporary sibling of `final`; keeps the extension so tools pick the right format.

    image_001.mp4 -> image_001.partial.mp4, which never matches a finished-file pattern.
    """
    return final.with_name(f"{final.stem}{PARTIAL_TAG}{final.suffix}")


def unused_partial_path(final: Path) -> Path:
    """A temporary sibling of `final` that no file has yet: out.mp4 -> out.partial.<pid>.mp4.

    Unique per process (a counter is added if even that is taken), so preparing it never
    removes anything, an input that happens to be called `out.partial.mp4` included.
    """
    tmp = final.with_name(f"{final.stem}{PARTIAL_TAG}.{os.getpid()}{final.suffix}")
    n = 1
    while tmp.exists():
        tmp = final.with_name(f"{final.stem}{PARTIAL_TAG}.{os.getpid()}-{n}{final.suffix}")
        n += 1
    return tmp


def remove_stale_partials(final: Path, keep: Collection[Path] = ()) -> None:
    """Delete what an interrupted `atomic_output(final)` left (out.partial.<pid>.mp4), never a
    file in `keep` (the inputs)."""
    leftover = re.compile(rf"{re.escape(final.stem + PARTIAL_TAG)}\.\d+(-\d+)?{re.escape(final.suffix)}")
    kept = {k.resolve() for k in keep}
    if final.parent.is_dir():
        for p in final.parent.iterdir():
            if leftover.fullmatch(p.name) and p.is_file() and p.resolve() not in kept:
                p.unlink(missing_ok=True)


def is_disk_full(error: OSError) -> bool:
    return error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


@contextlib.contextmanager
def atomic_output(final: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is renamed onto `final` (os.replace).

    On any error (Ctrl-C included) the temporary file is removed and `final` is untouched; a
    `final` that cannot be replaced because it is open elsewhere is a UserError.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = unused_partial_path(final)
    try:
        yield tmp
        if not tmp.is_file():
            raise FileNotFoundError(f"{tmp} was not written")
        try:
            os.replace(tmp, final)
        except PermissionError:  # Windows: the old file is open, e.g. in a video player
            raise UserError(
                f"{final}: cannot be replaced; is it open in another program (a video player)? "
                "Close it and run the same command again."
            ) from None
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(final: Path, text: str) -> None:
    with atomic_output(final) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")


def remove_partials(folder: Path) -> None:
    """Delete leftovers of an interrupted run (files carrying the partial tag)."""
    if folder.is_dir():
        for p in folder.glob(f"*{PARTIAL_TAG}.*"):
            p.unlink(missing_ok=True)
