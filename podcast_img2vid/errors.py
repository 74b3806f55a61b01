"""Expected failures: bad input, missing files, wrong settings.

A `UserError` is reported by the command-line scripts as one line (no traceback) and a
non-zero exit. Its message names the file and says what to do.
"""

from __future__ import annotations

import errno
from pathlib import Path


class UserError(Exception):
    """A problem the user can fix; the message is shown as is."""


def error_chain(error: BaseException) -> list[BaseException]:
    """`error` and the exceptions it was raised from or while handling, outermost first."""
    chain: list[BaseException] = []
    e: BaseException | None = error
    while e is not None and e not in chain:
        chain.append(e)
        e = e.__cause__ or e.__context__
    return chain


_DISK_ERRORS = {
    errno.ENOSPC: "free some space, or use a folder on another disk (--work-dir / -o)",
    errno.EROFS: "use a writable folder (--work-dir / -o)",
    errno.EACCES: "use a folder you can write to (--work-dir / -o), or close the program that holds the file",
}


def disk_error(error: OSError, folder: Path | None = None) -> UserError | None:
    """One line for a full disk, a read-only folder or a denied write, naming the file (or, when
    the error does not say which, `folder`); None for other errors (bugs keep their traceback)."""
    advice = _DISK_ERRORS.get(error.errno)
    if advice is None and not isinstance(error, PermissionError):
        return None
    where = error.filename or (folder.resolve() if folder is not None else "a file")
    return UserError(f"{where}: {error.strerror or error}; {advice or _DISK_ERRORS[errno.EACCES]}.")
