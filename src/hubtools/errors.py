"""hubtools' error families: one line that names the file, row, column or repo and says what to do.

Each family mixes in the standard exception it is a kind of (as huggingface_hub does), so library
callers can catch either, and the CLI (`hubtools.cli.errors`) maps the family, never the message,
to an exit status:

    HubtoolsError              2  anything hubtools foresaw that is not in a narrower family
      InputError (ValueError)  2  a config, data file, option, repo id or token right to fix
        InputFileError (FileNotFoundError)  2  a file or folder the command needs is missing
      HubRefusedError          3  the Hub answered no: a rejected token, a refused commit
      HubUnreachableError (ConnectionError)  4  no answer or repeated failures after the retries
      ClaimsDifferError        6  what a published repo claims does not hold (`verify`; `reproduce`, `audit` say so by status)
"""


class HubtoolsError(Exception):
    """A user-facing error; the CLI prints it as one line and exits with status 2."""


class InputError(HubtoolsError, ValueError):
    """Input the user fixes: the config, a data file, an option, a repo id, a token's rights."""


class InputFileError(InputError, FileNotFoundError):
    """A file or folder the command needs is missing."""


class HubRefusedError(HubtoolsError):
    """The Hub answered and said no (a rejected token, a refused request)."""


class HubUnreachableError(HubtoolsError, ConnectionError):
    """The Hub cannot be reached, or kept failing, after the retries."""


class ClaimsDifferError(HubtoolsError):
    """What a published repo claims does not hold: its model's predictions or its card's numbers differ from the run."""


def one_line(text: object, limit: int = 240) -> str:
    """`text` on one line, whitespace collapsed; past `limit`, cut at the last whole word and marked with an ellipsis."""
    flat = " ".join(str(text).split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit + 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + " …"
