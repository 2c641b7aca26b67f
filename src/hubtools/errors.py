"""The one error type users see: one line that names the file, row, column or repo and says what to do."""


class HubtoolsError(Exception):
    """A user-facing error; the CLI prints it as one line and exits with status 2."""


def one_line(text: object, limit: int = 240) -> str:
    """`text` on one line, whitespace collapsed; past `limit`, cut at the last whole word and marked with an ellipsis."""
    flat = " ".join(str(text).split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit + 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + " …"
