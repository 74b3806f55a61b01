"""Where step 3 writes: an output path that never overwrites an input, lands in the work folders,
or is a name Windows cannot create; a writable output folder; the temporary folder inside the work
folder; write errors worded as one line."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from ..errors import UserError
from ..fsutil import is_disk_full, remove_stale_partials, unused_partial_path
from ..workdir import layout

OUTPUT_EXT = ".mp4"
WINDOWS_FORBIDDEN = set('<>:"/\\|?*')
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"{port}{i}" for port in ("COM", "LPT") for i in range(10))}


def windows_trouble(name: str) -> str | None:
    """Why Windows cannot create a file called `name` (None when it can)."""
    bad = sorted({c for c in name if c in WINDOWS_FORBIDDEN or ord(c) < 32})
    if bad:
        return "it has " + " ".join(repr(c) for c in bad)
    if name.split(".")[0].upper() in WINDOWS_RESERVED:
        return f"{name.split('.')[0]} is a reserved device name"
    if name.endswith((".", " ")):
        return "it ends with a dot or a space"
    return None


def check_output_path(video: Path, output: Path, work: layout.WorkDir | None = None) -> None:
    """Refuse, before any work, an output path that would overwrite an input, land inside the
    work folders, be written in another format than its name says, or that Windows cannot
    create."""
    if output.resolve() == video.resolve():
        raise UserError(f"{output}: is the input video; choose another output path (-o)")
    if output.is_dir():
        example = output / layout.output_name(video)
        raise UserError(f"{output}: is a folder; give a file name for -o, e.g. {example}")
    if work is not None:
        inside = [work.images_dir, work.clips_dir, work.root / f"{layout.STEP3_TEMP_PREFIX}{os.getpid()}"]
        if output.resolve() in (work.csv_path.resolve(), work.contact_sheet_path.resolve()) or any(
            output.resolve().is_relative_to(folder.resolve()) for folder in inside
        ):
            raise UserError(
                f"{output}: is one of step 3's inputs or inside the work folders ({layout.EXTRACTED_DIR}, "
                f"{layout.CLIPS_DIR}); choose an output outside them (-o), e.g. {layout.output_name(video)}"
            )
    trouble = windows_trouble(output.name)
    if trouble:
        fixed = "".join("_" if c in WINDOWS_FORBIDDEN or ord(c) < 32 else c for c in output.name).rstrip(". ")
        raise UserError(f"{output}: Windows cannot create a file with this name ({trouble}); choose another "
                        f"name with -o, e.g. -o {output.with_name(fixed or 'output.mp4').name}")
    if output.suffix.lower() != OUTPUT_EXT:
        raise UserError(f"{output}: step 3 writes MP4 (H.264 + AAC); give the output a {OUTPUT_EXT} name, "
                        f"e.g. -o {output.with_suffix(OUTPUT_EXT)}")


def check_writable(output: Path, video: Path) -> None:
    """Fail now, not after the work, if the output's folder cannot take a file; remove what a
    killed earlier run left beside the output (never the input video)."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        probe_file = unused_partial_path(output)
        with probe_file.open("xb"):
            pass
        probe_file.unlink()
    except OSError as e:
        raise UserError(f"{output.parent}: step 3 cannot write its output there ({e.strerror}); make the "
                        "folder writable or choose another with -o") from None
    remove_stale_partials(output, keep=[video])


@contextlib.contextmanager
def temporary_folder(work: layout.WorkDir) -> Iterator[Path]:
    """Step 3's temporary folder, inside the work folder (not the system's, which may be small
    or cleaned by nobody); what an earlier, killed run left there is removed first."""
    for old in work.root.glob(f"{layout.STEP3_TEMP_PREFIX}*"):
        shutil.rmtree(old, ignore_errors=True)
    tmp = work.root / f"{layout.STEP3_TEMP_PREFIX}{os.getpid()}"
    try:
        tmp.mkdir()
    except OSError as e:
        raise UserError(
            f"{work.root}: step 3 cannot write its temporary files in this folder ({e.strerror}); make it "
            "writable, or copy the work folder somewhere writable and use --work-dir"
        ) from None
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_error(error: OSError, output: Path, tmp: Path) -> Exception:
    """A full disk or a folder that refuses writes, as one line; anything else stays a bug."""
    where = error.filename or f"{output.parent} or {tmp.parent}"
    if is_disk_full(error):
        return UserError(f"{where}: the disk is full ({error.strerror}); free some space and run the same "
                         f"command again (step 3 needs room for the output and its temporary files in "
                         f"{tmp.parent}); nothing was replaced")
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return UserError(f"{where}: cannot be written ({error.strerror}); make the folder writable and run "
                         "the same command again; nothing was replaced")
    return error
