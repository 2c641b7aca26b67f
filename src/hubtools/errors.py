"""The one error type users see: one line that names the file, row, column or repo and says what to do."""


class HubtoolsError(Exception):
    """A user-facing error; the CLI prints it as one line and exits with status 2."""
