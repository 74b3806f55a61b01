"""What every command-line script shares: expected failures become one line and an exit code."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from .errors import UserError, disk_error

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
MAX_FPS = 240

def run_cli(job: Callable[[], int | None], folder: Path | None = None) -> int:
    """Run `job`; a UserError prints `error: <message>` (no traceback) and exits 2.

    A full disk, read-only folder or denied write is worded the same way (naming `folder`, the
    work folder, when the error does not name a file). Ctrl-C exits 130 with
    one line; finished files stay, half files were never renamed into place. `job` may return an
    exit code (e.g. 1 when some pictures failed); None means 0.
    """
    try:
        return job() or 0
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as e:
        error = disk_error(e, folder)
        if error is None:
            raise
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted: finished files are kept; run the same command again to continue.",
              file=sys.stderr)
        return EXIT_INTERRUPTED


def add_work_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--work-dir", type=Path, default=Path("."),
        help="folder that holds 1_extracted_images/, timestamps.csv and 2_animated_clips/",
    )


def check_frame_rate(flag: str, value: float) -> float:
    """`value` if it is a usable frame rate (1 to MAX_FPS), else a UserError naming `flag`."""
    if not (math.isfinite(value) and 1 <= value <= MAX_FPS):
        raise UserError(f"{flag} {value:g}: give a frame rate from 1 to {MAX_FPS}, such as 30 or 29.97.")
    return value


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default in --help, except empty ones (None, False) that say nothing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are one line, like every other error of the scripts (exit 2)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(formatter_class=HelpFormatter, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"error: {message} (see {self.prog} --help)\n")
