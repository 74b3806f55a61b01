"""Expected failures: bad input, missing files, wrong settings.

A `UserError` is reported by the command-line scripts as one line (no traceback) and a
non-zero exit. Its message names the file and says what to do.
"""


class UserError(Exception):
    """A problem the user can fix; the message is shown as is."""
