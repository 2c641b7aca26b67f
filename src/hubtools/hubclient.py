"""hubtools' side of the Hub protocol: which endpoint and token, the HfApi it uses, where in-process downloads point.

Every helper takes the endpoint as an argument; `resolve_endpoint`/`resolve_token` turn the CLI's
--endpoint/--token (or their absence) into explicit values once, in the command.

The embedded Hub speaks Xet like huggingface.co (see docs/hub.md), so uploads take one code path everywhere:
large files go through Xet when hf_xet is installed, through the LFS batch API otherwise.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

from huggingface_hub import HfApi, ModelCard, constants, get_token

import hubtools
from hubtools.errors import HubRefusedError, HubtoolsError, HubUnreachableError, InputError, one_line

T = TypeVar("T")

RETRY_ATTEMPTS = 3  # each attempt: huggingface_hub itself retries some requests with backoff
RETRY_BACKOFF_S = 1.0  # doubles after each failed attempt: 1 s then 2 s
TRANSIENT_STATUS = (429, 500, 502, 503, 504)


def resolve_endpoint(endpoint: str | None) -> str:
    """--endpoint, else HF_ENDPOINT, else huggingface.co (the huggingface_hub convention)."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def resolve_token(token: str | None) -> str | None:
    """--token, else HF_TOKEN, else the token stored by `hf auth login`."""
    return token or get_token()


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


def _library_errors(names: tuple[tuple[str, str], ...]) -> tuple[type[BaseException], ...]:
    """The exception classes `module.Class` of the HTTP libraries installed (each is optional)."""
    import importlib

    found = []
    for module_name, class_name in names:
        try:
            found.append(getattr(importlib.import_module(module_name), class_name))
        except ImportError:
            continue
    return tuple(found)


# A refused or dropped connection, as each HTTP client hubtools' dependencies use raises it: httpx2 (huggingface_hub
# 2.x), httpx, requests and urllib3 (transformers, datasets' fsspec), aiohttp (datasets' streaming).
CONNECTION_ERRORS = (
    ("httpx2", "NetworkError"), ("httpx2", "RemoteProtocolError"), ("httpx", "NetworkError"), ("httpx", "RemoteProtocolError"),
    ("requests", "ConnectionError"), ("urllib3.exceptions", "ProtocolError"), ("urllib3.exceptions", "NewConnectionError"),
    ("aiohttp", "ClientConnectionError"),
)
TIMEOUTS = (("httpx2", "TimeoutException"), ("httpx", "TimeoutException"), ("requests", "Timeout"), ("urllib3.exceptions", "TimeoutError"))


def connection_error_types() -> tuple[type[BaseException], ...]:
    """A refused or dropped connection, as the socket and every HTTP client library installed raise it."""
    return (ConnectionError, *_library_errors(CONNECTION_ERRORS))


def timeout_types() -> tuple[type[BaseException], ...]:
    """No answer in time, as the socket and every HTTP client library installed raise it."""
    return (TimeoutError, *_library_errors(TIMEOUTS))


def is_connection_error(error: BaseException) -> bool:
    """A refused or dropped connection (not hubtools' own HubUnreachableError, which comes after the retries)."""
    return isinstance(error, connection_error_types()) and not isinstance(error, HubtoolsError)


def is_timeout(error: BaseException) -> bool:
    return isinstance(error, timeout_types())


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
        return HubRefusedError(f"{what} '{model}' is gated on {endpoint}: request access on {endpoint}/{model} and use a token that has it")
    if any(isinstance(cause, RevisionNotFoundError) for cause in chain):
        return InputError(f"{what} '{model}': revision not found on {endpoint}; check the revision")
    if any(isinstance(cause, RepositoryNotFoundError) for cause in chain):
        return InputError(
            f"{what} '{model}' not found on {endpoint} and not a local folder; check the id (`model:` in the config) and HF_ENDPOINT, "
            "or pass a token that can read it if it is private"
        )
    return InputError(f"{what} '{model}': could not be loaded ({one_line(error)}); check the id and HF_ENDPOINT")
