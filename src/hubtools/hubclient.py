"""hubtools' side of the Hub protocol: which endpoint and token, the HfApi it uses, where in-process downloads point.

Every helper takes the endpoint as an argument; `resolve_endpoint`/`resolve_token` turn the CLI's
--endpoint/--token (or their absence) into explicit values once, in the command.

The embedded Hub speaks Xet like huggingface.co (see docs/hub.md), so uploads take one code path everywhere:
large files go through Xet when hf_xet is installed, through the LFS batch API otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from huggingface_hub import HfApi, ModelCard, constants, get_token

import hubtools


def resolve_endpoint(endpoint: str | None) -> str:
    """--endpoint, else HF_ENDPOINT, else huggingface.co (the huggingface_hub convention)."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def resolve_token(token: str | None) -> str | None:
    """--token, else HF_TOKEN, else the token stored by `hf auth login`."""
    return token or get_token()


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


def validate_card_metadata(api: HfApi, card: ModelCard) -> None:
    """The Hub's own check of a card's metadata, at `api.endpoint` (ModelCard.validate always asks the global one).

    Raises ValueError with the Hub's reason when it rejects the metadata, HfHubHTTPError for other failures.
    """
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    headers = build_hf_headers(token=api.token, library_name="hubtools", library_version=hubtools.__version__)
    response = get_session().post(
        f"{api.endpoint}/api/validate-yaml",
        json={"repoType": card.repo_type, "content": str(card)},
        headers={**headers, "Accept": "text/plain"},
    )
    if response.status_code == 400:
        raise ValueError(response.text)
    hf_raise_for_status(response)
