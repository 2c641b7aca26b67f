"""Storage of the embedded Hub: SQLite (`hub.sqlite`) for users, tokens, repos, commits, refs, discussions and Space
settings; blobs on disk by sha256. One module per job; `HubStore` joins them for callers.

- database.py: schema, connections, write transactions     - blobs.py: blob files and who may use them
- identity.py: users, organizations, tokens                 - repos.py: repos, branches, tags, squash
- commits.py: applying commits, files, history              - discussions.py: discussions and pull requests
- space_settings.py: Space secrets and variables            - gc.py: garbage collection
- models.py: the records handed out                         - rows.py: queries shared inside transactions
- trees.py: a commit's files as per-folder trees, unchanged folders shared with the parent

Refusals are the domain errors of `hubtools.hub.errors`; the store carries no HTTP status.
"""

from __future__ import annotations

from hubtools.hub.repo_types import REPO_TYPES
from hubtools.hub.store.blobs import git_blob_id_of_file
from hubtools.hub.store.commits import CommitStore
from hubtools.hub.store.database import default_root
from hubtools.hub.store.discussions import DiscussionStore
from hubtools.hub.store.gc import GarbageCollector, GcReport
from hubtools.hub.store.identity import IdentityStore
from hubtools.hub.store.models import (
    DEFAULT_BRANCH,
    Commit,
    Deletion,
    FileEntry,
    Identity,
    Operation,
    Repo,
    can_read,
    git_blob_id,
    iso,
    lfs_blob_id,
)
from hubtools.hub.store.repos import RepoStore
from hubtools.hub.store.space_settings import SpaceSetting, SpaceSettingStore


class HubStore(IdentityStore, RepoStore, CommitStore, DiscussionStore, SpaceSettingStore, GarbageCollector):
    """All state of one embedded Hub, rooted at a directory."""


__all__ = [
    "DEFAULT_BRANCH", "REPO_TYPES", "Commit", "Deletion", "FileEntry", "GcReport", "HubStore", "Identity",
    "Operation", "Repo", "SpaceSetting", "can_read", "default_root", "git_blob_id", "git_blob_id_of_file", "iso",
    "lfs_blob_id",
]
