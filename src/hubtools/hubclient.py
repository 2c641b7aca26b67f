"""hubtools' side of the Hub protocol: which endpoint and token, an HfApi for them, and calls that take the endpoint.

Every helper takes the endpoint as an argument; `resolve_endpoint`/`resolve_token` turn the CLI's
--endpoint/--token (or their absence) into explicit values once, in the command.

An HfApi that uploads large files through the LFS batch API locally:

huggingface_hub uploads every `lfs` file through Xet when hf_xet is installed, and the embedded Hub does not
speak Xet. The embedded Hub therefore answers `lfs` at preupload only to clients that identify as hubtools
(user agent `hubtools/<version>`, set here through `library_name`); this client, in return, switches Xet off
for the duration of its own upload calls, and only when the endpoint is not huggingface.co. Against
huggingface.co nothing changes: Xet stays on. Stock clients get `regular` (inline) answers and just work.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from huggingface_hub import HfApi, ModelCard, constants, get_token

import hubtools

HUGGINGFACE_HOSTS = ("huggingface.co", "hf.co")


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


def is_local_endpoint(url: str | None) -> bool:
    """True for any endpoint that is not huggingface.co (or a subdomain): the embedded Hub, a mirror..."""
    host = (urlsplit(url or constants.ENDPOINT).hostname or "").lower()
    return not any(host == official or host.endswith("." + official) for official in HUGGINGFACE_HOSTS)


class _XetSwitch:
    """Counts hubtools uploads in flight; Xet is off while any runs and restored when the last one ends."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.saved = False

    @contextmanager
    def off(self) -> Iterator[None]:
        with self.lock:
            if self.active == 0:
                self.saved = constants.HF_HUB_DISABLE_XET
                constants.HF_HUB_DISABLE_XET = True
            self.active += 1
        try:
            yield
        finally:
            with self.lock:
                self.active -= 1
                if self.active == 0:
                    constants.HF_HUB_DISABLE_XET = self.saved


_xet_switch = _XetSwitch()


@contextmanager
def xet_disabled_for(endpoint: str) -> Iterator[None]:
    """Turn Xet off in this process while the block runs, for non-huggingface.co endpoints only.

    `is_xet_available()` re-reads `constants.HF_HUB_DISABLE_XET` on each call, so the switch takes effect at once.
    """
    if not is_local_endpoint(endpoint):
        yield
        return
    with _xet_switch.off():
        yield


class HubtoolsApi(HfApi):
    """HfApi identifying itself as hubtools; uploads to non-huggingface.co endpoints use the LFS batch API."""

    def create_commit(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        with xet_disabled_for(self.endpoint):
            return super().create_commit(*args, **kwargs)

    def upload_folder(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        with xet_disabled_for(self.endpoint):
            return super().upload_folder(*args, **kwargs)

    def upload_file(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        with xet_disabled_for(self.endpoint):
            return super().upload_file(*args, **kwargs)

    def preupload_lfs_files(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        with xet_disabled_for(self.endpoint):
            return super().preupload_lfs_files(*args, **kwargs)


def hub_api(endpoint: str | None = None, token: str | None = None) -> HubtoolsApi:
    """The HfApi hubtools uses everywhere: `endpoint` defaults to HF_ENDPOINT, `token` to the logged-in one."""
    return HubtoolsApi(
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
