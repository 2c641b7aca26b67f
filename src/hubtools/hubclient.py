"""hubtools' side of the Hub protocol: which endpoint and token, the HfApi it uses, where in-process downloads point.

Every helper takes the endpoint as an argument; `resolve_endpoint`/`resolve_token` turn the CLI's
--endpoint/--token (or their absence) into explicit values once, in the command.

The embedded Hub speaks Xet like huggingface.co (see docs/hub.md), so uploads take one code path everywhere:
large files go through Xet when hf_xet is installed, through the LFS batch API otherwise.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from huggingface_hub import HfApi, ModelCard, constants, get_token

import hubtools
from hubtools.errors import HubtoolsError, one_line

T = TypeVar("T")

RETRY_ATTEMPTS = 3  # each attempt: huggingface_hub itself retries some requests with backoff
RETRY_BACKOFF_S = 1.0  # doubles after each failed attempt: 1 s then 2 s
TRANSIENT_STATUS = (429, 500, 502, 503, 504)


class HubUnreachableError(HubtoolsError):
    """The Hub cannot be reached, or kept failing, after the retries."""


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
    _forget_transformers_api()
    _point_datasets_at(endpoint)
    return previous


def restore_download_endpoint(previous: tuple[str, str]) -> None:
    constants.ENDPOINT, constants.HUGGINGFACE_CO_URL_TEMPLATE = previous
    _forget_transformers_api()
    _point_datasets_at(previous[0])


def _point_datasets_at(endpoint: str) -> None:
    """`datasets` keeps its own copy of HF_ENDPOINT (read at its import) for `load_dataset("ORG/NAME")`."""
    datasets_config = sys.modules.get("datasets.config")
    if datasets_config is not None:
        datasets_config.HF_ENDPOINT = endpoint
        datasets_config.HUB_DATASETS_URL = endpoint + "/datasets/{repo_id}/resolve/{revision}/{path}"


def _forget_transformers_api() -> None:
    """transformers keeps one HfApi (for listing a repo's chat templates, among others) whose endpoint was fixed
    when it was first made; dropping it makes the next one use the endpoint now in force."""
    transformers_hub = sys.modules.get("transformers.utils.hub")
    if transformers_hub is not None and hasattr(transformers_hub, "_hf_api"):
        transformers_hub._hf_api = None


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


def causes(error: BaseException) -> list[BaseException]:
    """`error` and what it was raised from (`raise ... from`, else the exception being handled), outermost first."""
    chain = [error]
    while len(chain) < 12:
        following = chain[-1].__cause__ or chain[-1].__context__
        if following is None or following in chain:
            break
        chain.append(following)
    return chain


def is_connection_error(error: BaseException) -> bool:
    """A refused or dropped connection, from httpx (any version), requests or the socket itself."""
    names = {cls.__name__ for cls in type(error).__mro__}
    return isinstance(error, ConnectionError) or bool(names & {"ConnectError", "RemoteProtocolError", "ReadError", "NetworkError"})


def is_timeout(error: BaseException) -> bool:
    return isinstance(error, TimeoutError) or "TimeoutException" in {cls.__name__ for cls in type(error).__mro__}


def http_status(error: BaseException) -> int | None:
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None)


def is_transient(error: BaseException) -> bool:
    """Connection faults, timeouts, 429 and 5xx, however wrapped."""
    from huggingface_hub.errors import HfHubHTTPError

    for cause in causes(error):
        if is_connection_error(cause) or is_timeout(cause):
            return True
        if isinstance(cause, HfHubHTTPError):
            return http_status(cause) in TRANSIENT_STATUS
    return False


def unreachable_message(endpoint: str) -> str:
    return f"cannot reach the Hub at {endpoint}: start it with `hubtools hub serve` or check HF_ENDPOINT"


def with_retries(action: Callable[[], T], describe: str, endpoint: str) -> T:
    """Retry network faults with exponential backoff (about 3 s in all), then fail with one line."""
    for attempt in range(1, RETRY_ATTEMPTS + 1):
        try:
            return action()
        except Exception as error:
            if not is_transient(error):
                raise
            if attempt == RETRY_ATTEMPTS:
                status = next((http_status(cause) for cause in causes(error) if http_status(cause)), None)
                if status is None:
                    raise HubUnreachableError(f"{unreachable_message(endpoint)} (tried {attempt} times while {describe})") from error
                raise HubUnreachableError(
                    f"the Hub at {endpoint} kept answering {status} while {describe} (tried {attempt} times); try again later"
                ) from error
            time.sleep(RETRY_BACKOFF_S * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def model_load_error(model: str, error: BaseException, endpoint: str, what: str = "model") -> HubtoolsError:
    """One line for a failed `from_pretrained(model)`: Hub unreachable, repo missing, or the loader's own reason."""
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    chain = causes(error)
    if any(is_connection_error(cause) or is_timeout(cause) for cause in chain):
        return HubUnreachableError(f"{unreachable_message(endpoint)} (loading {what} '{model}')")
    if any(isinstance(cause, GatedRepoError) for cause in chain):
        return HubtoolsError(f"{what} '{model}' is gated on {endpoint}: request access on {endpoint}/{model} and use a token that has it")
    if any(isinstance(cause, RevisionNotFoundError) for cause in chain):
        return HubtoolsError(f"{what} '{model}': revision not found on {endpoint}; check the revision")
    if any(isinstance(cause, RepositoryNotFoundError) for cause in chain):
        return HubtoolsError(
            f"{what} '{model}' not found on {endpoint} and not a local folder; check the id (`model:` in the config) and HF_ENDPOINT, "
            "or pass a token that can read it if it is private"
        )
    return HubtoolsError(f"{what} '{model}': could not be loaded ({one_line(error)}); check the id and HF_ENDPOINT")
