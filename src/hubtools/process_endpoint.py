"""The one place hubtools points a whole process's Hub downloads at another endpoint, and why it must.

`transformers`' `from_pretrained` (and so `hubtools train` loading a base model by Hub id) takes no endpoint:
it downloads through huggingface_hub with `constants.ENDPOINT`, which huggingface_hub reads from HF_ENDPOINT
once, at import. Everything else in hubtools passes the endpoint per call (`HfApi(endpoint=...)`,
`hf_hub_download(endpoint=...)`, `snapshot_download(endpoint=...)`, then loading from the local folder).
Three callers need this: `hubtools quickstart`, which starts an embedded Hub on a free port after huggingface_hub
was imported and then trains in the same process, `hubtools reproduce`, which retrains in-process, and
`hubtools audit`, which loads any model with `pipeline()` and its declared dataset with `load_dataset()` (`datasets` keeps its own copy of HF_ENDPOINT, also read at
import). Both set the constants and drop the HfApi that transformers keeps (made for the endpoint in force when it
was first used; it lists a repo's chat templates). Those are private details of the installed versions;
`tests/test_process_endpoint.py` checks them against what is installed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def point_process_at(endpoint: str, cache: Path | None = None) -> None:
    """This process's downloads (transformers, datasets, hf_hub_download without `endpoint=`) and its children's
    go to `endpoint`; with `cache`, into that Hub cache."""
    from huggingface_hub import constants

    os.environ["HF_ENDPOINT"] = endpoint
    os.environ.pop("HF_HUB_OFFLINE", None)
    _set_library_endpoints(endpoint)
    if cache is not None:
        os.environ["HF_HUB_CACHE"] = str(cache)
        constants.HF_HUB_CACHE = str(cache)


@contextmanager
def process_endpoint(endpoint: str) -> Iterator[None]:
    """`point_process_at(endpoint)` for a block (no cache change), then the endpoint in force before."""
    from huggingface_hub import constants

    previous_env, previous = os.environ.get("HF_ENDPOINT"), constants.ENDPOINT
    _set_library_endpoints(endpoint)
    os.environ["HF_ENDPOINT"] = endpoint
    try:
        yield
    finally:
        _set_library_endpoints(previous)
        if previous_env is None:
            os.environ.pop("HF_ENDPOINT", None)
        else:
            os.environ["HF_ENDPOINT"] = previous_env


def _set_library_endpoints(endpoint: str) -> None:
    from huggingface_hub import constants

    constants.ENDPOINT = endpoint
    constants.HUGGINGFACE_CO_URL_TEMPLATE = endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    datasets_config = sys.modules.get("datasets.config")
    if datasets_config is not None:
        datasets_config.HF_ENDPOINT = endpoint
        datasets_config.HUB_DATASETS_URL = endpoint + "/datasets/{repo_id}/resolve/{revision}/{path}"
    transformers_hub = sys.modules.get("transformers.utils.hub")
    if transformers_hub is not None and hasattr(transformers_hub, "_hf_api"):
        transformers_hub._hf_api = None  # made again, for `endpoint`, on its next use
