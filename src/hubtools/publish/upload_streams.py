"""The cap on hf_xet's upload streams while a publish runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from hubtools.errors import HubtoolsError


# hf_xet uploads large files as xorbs of up to 64 MB; its adaptive concurrency lets up to 64 be in flight, which
# held ~1 GB in the publishing process for a 1.4 GB model (benchmarks/publish_large.py). hubtools bounds it, through
# the variable: hf_xet takes a per-session XetConfig, but huggingface_hub opens its one process-wide XetSession itself
# (utils._xet.get_xet_session, from the environment) and takes no session or config per call.
XET_UPLOAD_STREAMS_ENV = "HF_XET_CLIENT_AC_MAX_UPLOAD_CONCURRENCY"
DEFAULT_UPLOAD_STREAMS = 2


@contextmanager
def xet_upload_streams(streams: int | None) -> Iterator[int]:
    """Cap hf_xet's upload streams while the block runs (`streams`, else the variable already set, else 2), yielding
    the cap; the variable is restored afterwards, so nothing is left set for the rest of the process. hf_xet reads it
    when huggingface_hub opens the process's Xet session (its first Xet upload or download) inside the block: a
    process that already used Xet keeps the cap it had.

    Args:
        streams: xorbs in flight per Xet upload (`--upload-streams`), or None for the variable's value, else 2.

    Yields:
        the cap in force.

    Raises:
        HubtoolsError: `streams` is below 1, or the variable is not a positive number.
    """
    if streams is None:
        value = os.environ.get(XET_UPLOAD_STREAMS_ENV, "").strip() or str(DEFAULT_UPLOAD_STREAMS)
        if not value.isdigit() or int(value) < 1:
            raise HubtoolsError(f"{XET_UPLOAD_STREAMS_ENV}={value!r}: not a number of upload streams; set it to 1 or more, or unset it")
        streams = int(value)
    if streams < 1:
        raise HubtoolsError(f"--upload-streams {streams}: at least 1 upload stream is needed (hubtools' default is {DEFAULT_UPLOAD_STREAMS})")
    before = os.environ.get(XET_UPLOAD_STREAMS_ENV)
    os.environ[XET_UPLOAD_STREAMS_ENV] = str(streams)
    try:
        yield streams
    finally:
        if before is None:
            os.environ.pop(XET_UPLOAD_STREAMS_ENV, None)
        else:
            os.environ[XET_UPLOAD_STREAMS_ENV] = before
