"""The records the store hands out: repos, files, commits, identities, and the operations of a commit."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from hubtools.hub import repo_types

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
DEFAULT_BRANCH = "main"
LFS_POINTER_TEMPLATE = "version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n"


@dataclass(frozen=True)
class Repo:
    pk: int
    type: str
    namespace: str
    name: str
    private: bool
    sdk: str | None
    created: float

    @property
    def repo_id(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def url_prefix(self) -> str:
        return repo_types.url_prefix(self.type)


@dataclass(frozen=True)
class FileEntry:
    """A file of a commit, or one a commit adds (`path` is empty while the content is not placed yet)."""

    path: str
    sha256: str
    size: int
    is_lfs: bool
    blob_id: str

    def pointer(self) -> str:
        return LFS_POINTER_TEMPLATE.format(oid=self.sha256, size=self.size)


@dataclass(frozen=True)
class Deletion:
    path: str
    is_folder: bool


Operation = FileEntry | Deletion


@dataclass(frozen=True)
class Commit:
    id: str
    parent: str | None
    author: str
    title: str
    message: str
    date: float
    merge_parent: str | None = None

    @property
    def parents(self) -> list[str]:
        return [p for p in (self.parent, self.merge_parent) if p]


@dataclass(frozen=True)
class Identity:
    user: str
    orgs: tuple[str, ...]
    read_only: bool

    def belongs_to(self, namespace: str) -> bool:
        return namespace == self.user or namespace in self.orgs


def can_read(identity: Identity | None, repo: Repo) -> bool:
    return not repo.private or (identity is not None and identity.belongs_to(repo.namespace))


def git_blob_id(content: bytes) -> str:
    """The id git gives a blob: sha1 of a `blob <size>\\0` header followed by the content."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def lfs_blob_id(sha256: str, size: int) -> str:
    return git_blob_id(LFS_POINTER_TEMPLATE.format(oid=sha256, size=size).encode())


def iso(timestamp: float) -> str:
    """A timestamp as the Hub writes dates: `2024-05-01T12:00:00.000Z`."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
