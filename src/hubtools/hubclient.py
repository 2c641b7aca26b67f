"""hubtools' side of the Hub protocol: the HfApi it uses, and where in-process downloads point.

The embedded Hub speaks Xet like huggingface.co (see docs/hub.md), so uploads take one code path everywhere:
large files go through Xet when hf_xet is installed, through the LFS batch API otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from huggingface_hub import HfApi, constants

import hubtools


def set_download_endpoint(endpoint: str) -> tuple[str, str]:
    """Point this process's downloads (transformers, datasets, hf_hub_download) at `endpoint`.

    huggingface_hub reads HF_ENDPOINT only at import, so its constants are set too. Returns the previous
    settings for `restore_download_endpoint`.
    """
    previous = constants.ENDPOINT, constants.HUGGINGFACE_CO_URL_TEMPLATE
    constants.ENDPOINT = endpoint
    constants.HUGGINGFACE_CO_URL_TEMPLATE = endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    return previous


def restore_download_endpoint(previous: tuple[str, str]) -> None:
    constants.ENDPOINT, constants.HUGGINGFACE_CO_URL_TEMPLATE = previous


@contextmanager
def download_endpoint(endpoint: str) -> Iterator[None]:
    """`set_download_endpoint` for the duration of a block."""
    previous = set_download_endpoint(endpoint)
    try:
        yield
    finally:
        restore_download_endpoint(previous)


def hub_api(endpoint: str | None = None, token: str | None = None) -> HfApi:
    """The HfApi hubtools uses everywhere: `endpoint` defaults to HF_ENDPOINT, `token` to the logged-in one."""
    return HfApi(
        endpoint=endpoint or constants.ENDPOINT,
        token=token,
        library_name="hubtools",
        library_version=hubtools.__version__,
    )
