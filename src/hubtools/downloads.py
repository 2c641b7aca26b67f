"""Hub downloads from an endpoint chosen per call, for the loaders that take none.

transformers' `from_pretrained` and `datasets.load_dataset` reach the Hub at the endpoint huggingface_hub and
datasets read from HF_ENDPOINT when they were imported. A step that must download from another Hub (the
quickstart trains against the embedded Hub it started after those imports) passes a `HubDownloads`: the repo
is fetched with `snapshot_download(endpoint=...)` into its own cache, and the loader reads the local folder.
Without one, the loaders use the process's HF_ENDPOINT as they always do. No library's module state is changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class HubDownloads:
    """Where a step downloads Hub repos from: `endpoint`, into `cache_dir` (None: the process's Hub cache).

    A separate cache keeps another Hub's `main` of a repo id out of the user's cache for huggingface.co.
    """

    endpoint: str
    cache_dir: Path | None = None

    def snapshot(self, repo_id: str, repo_type: str = "model") -> Path:
        """The folder holding `repo_id`'s files at `main`, downloaded from `endpoint` when not cached yet.

        Args:
            repo_id: "org/name" on `endpoint`.
            repo_type: "model" or "dataset".

        Raises:
            huggingface_hub.errors.RepositoryNotFoundError: no such repo (or no access) at `endpoint`.
            OSError: the Hub could not be reached or the download failed (huggingface_hub's HTTP errors are OSErrors).
        """
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, repo_type=repo_type, endpoint=self.endpoint, cache_dir=self.cache_dir))
