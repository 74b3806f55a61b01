"""Expected failures: bad input, missing files, wrong settings.

A `UserError` is reported by the command-line scripts as one line (no traceback) and a
non-zero exit. Its message names the file and says what to do.
"""

from __future__ import annotations

import errno


class UserError(Exception):
    """A problem the user can fix; the message is shown as is."""


_DISK_ERRORS = {
    errno.ENOSPC: "the disk is full; free some space (or use another folder with --work-dir / -o)",
    errno.EROFS: "the folder is read-only; use a writable folder (--work-dir / -o)",
    errno.EACCES: "permission denied; use a folder you can write to (--work-dir / -o), or close the "
                  "program that holds the file",
}


def disk_error(error: OSError) -> UserError | None:
    """One line for a full disk, a read-only folder or a denied write, naming the file; None for
    other errors (those are bugs and keep their traceback)."""
    advice = _DISK_ERRORS.get(error.errno)
    if advice is None and not isinstance(error, PermissionError):
        return None
    where = error.filename or "a file"
    return UserError(f"{where}: {error.strerror or error}; {advice or _DISK_ERRORS[errno.EACCES]}.")
