"""What every command-line script shares: expected failures become one line and an exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from .errors import UserError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def run_cli(job: Callable[[], int | None]) -> int:
    """Run `job`; a UserError prints `error: <message>` (no traceback) and exits 2.

    Ctrl-C exits 130 with one line; finished files stay, half files were never renamed into place.
    `job` may return an exit code (e.g. 1 when some pictures failed); None means 0.
    """
    try:
        return job() or 0
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted: finished files are kept; run the same command again to continue.",
              file=sys.stderr)
        return EXIT_INTERRUPTED


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default in --help, except empty ones (None, False) that say nothing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)
