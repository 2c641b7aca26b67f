"""The one place hubtools points a whole process's Hub downloads at another endpoint, and why it must.

`transformers`' `from_pretrained` (and so `hubtools train` loading a base model by Hub id) takes no endpoint:
it downloads through huggingface_hub with `constants.ENDPOINT`, which huggingface_hub reads from HF_ENDPOINT
once, at import. Everything else in hubtools passes the endpoint per call (`HfApi(endpoint=...)`,
`hf_hub_download(endpoint=...)`, `snapshot_download(endpoint=...)`, then loading from the local folder).
Only `hubtools quickstart`, which starts an embedded Hub on a free port after huggingface_hub was imported and
then trains in the same process, needs this: it sets the constants and drops the HfApi that transformers keeps
(made for the endpoint in force when it was first used; it lists a repo's chat templates). Those are private
details of the installed versions; `tests/test_process_endpoint.py` checks them against what is installed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def point_process_at(endpoint: str, cache: Path | None = None) -> None:
    """This process's downloads (transformers, datasets, hf_hub_download without `endpoint=`) and its children's
    go to `endpoint`; with `cache`, into that Hub cache."""
    from huggingface_hub import constants

    os.environ["HF_ENDPOINT"] = endpoint
    os.environ.pop("HF_HUB_OFFLINE", None)
    constants.ENDPOINT = endpoint
    constants.HUGGINGFACE_CO_URL_TEMPLATE = endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    if cache is not None:
        os.environ["HF_HUB_CACHE"] = str(cache)
        constants.HF_HUB_CACHE = str(cache)
    transformers_hub = sys.modules.get("transformers.utils.hub")
    if transformers_hub is not None and hasattr(transformers_hub, "_hf_api"):
        transformers_hub._hf_api = None  # made again, for `endpoint`, on its next use
