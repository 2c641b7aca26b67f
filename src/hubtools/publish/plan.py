"""The plan of one repo: the tree the run wants there, and how it differs from the repo now.

Files are compared by hash without downloading them (sha256 for LFS files, git blob ids otherwise). A remote
file the run lacks is deleted only when hubtools published it there before (its manifest,
`hubtools.publish.manifest`) or with `--mirror`; every other file is kept, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from hubtools.card.model_index import BENCHMARK_FILE
from hubtools.formatting import format_size
from hubtools.hubclient import with_retries
from hubtools.publish.manifest import PreviousPublish, read_previous_publish
from hubtools.publish.scan import FileDigest

if TYPE_CHECKING:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
    from huggingface_hub.hf_api import RepoSibling


RepoType = Literal["model", "dataset", "space"]
Status = Literal["added", "changed", "deleted", "unchanged", "kept"]

# Never deleted by a publish, even a mirror, nor listed as kept: .gitattributes is the Hub's own; a benchmark
# declaration (eval.yaml) is the dataset owner's, and models scored on it point their .eval_results at it.
KEPT_REMOTE_FILES = {".gitattributes", BENCHMARK_FILE}

PUBLISH_MARK = "Published with `hubtools publish`."  # commit description: how a later publish knows its own commits


def repo_url(endpoint: str, repo_type: RepoType, repo_id: str) -> str:
    """The repo's page on `endpoint`, e.g. `https://hub.example/datasets/acme/tweets`."""
    prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[repo_type]
    return f"{endpoint}/{prefix}{repo_id}"


@dataclass(frozen=True)
class FileChange:
    """One file of the plan: what publish does to it, and its sizes."""

    path: str
    status: Status
    size: int | None  # local size (None when deleted or kept)
    remote_size: int | None  # size in the repo now (None when added)
    why_kept: str | None = None  # a remote file the run lacks and publish leaves alone: why


@dataclass
class RepoPlan:
    """One repo: the tree the run wants there, and how it differs from the repo now."""

    repo_id: str
    repo_type: RepoType
    files: dict[str, Path]  # path in repo -> local file
    exists: bool = False
    parent_commit: str | None = None
    changes: list[FileChange] = field(default_factory=list)
    private: bool | None = None
    space_hardware: str | None = None  # asked for when the Space is created
    digests: dict[str, FileDigest] = field(default_factory=dict)  # path in repo -> hashes from the one read
    mirror: bool = False  # delete every file the run lacks, not only those hubtools published

    def pending(self) -> list[FileChange]:
        """The changes the commit makes (added, changed, deleted)."""
        return [change for change in self.changes if change.status not in ("unchanged", "kept")]

    def kept(self) -> list[FileChange]:
        """Remote files the run lacks that publish leaves alone."""
        return [change for change in self.changes if change.status == "kept"]

    def operations(self) -> list[CommitOperationAdd | CommitOperationDelete]:
        """The pending changes as huggingface_hub commit operations."""
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        operations: list[CommitOperationAdd | CommitOperationDelete] = []
        for change in self.pending():
            if change.status == "deleted":
                operations.append(CommitOperationDelete(path_in_repo=change.path))
            else:
                operations.append(CommitOperationAdd(path_in_repo=change.path, path_or_fileobj=str(self.files[change.path])))
        return operations


def _git_blob_id(path: Path) -> str:
    from huggingface_hub.utils.sha import git_hash

    return git_hash(path.read_bytes())


def _same_content(local: Path, digest: FileDigest, remote: RepoSibling) -> bool:
    """Compare a local file with a repo sibling without downloading it."""
    if remote.size is not None and remote.size != digest.size:
        return False
    if remote.lfs is not None:
        return digest.sha256 == remote.lfs.sha256
    return remote.blob_id is not None and (digest.git_blob_id or _git_blob_id(local)) == remote.blob_id


def diff_tree(
    files: dict[str, Path],
    digests: dict[str, FileDigest],
    remote_siblings: list[RepoSibling],
    previous: PreviousPublish,
    *,
    mirror: bool = False,
) -> list[FileChange]:
    """File-by-file difference between the local tree and the repo's files, without downloading them.

    Args:
        files: path in the repo -> local file.
        digests: the local files' hashes (`scan_and_hash`).
        remote_siblings: the repo's files, with their metadata (sizes, LFS sha256, blob ids).
        previous: what the repo's manifest says hubtools published there before.
        mirror: delete every remote file the run lacks, not only those hubtools published.

    Returns:
        one change per path, sorted: the run's files (added, changed, unchanged), then the remote files the run
        lacks (deleted when `previous` or `mirror` allows, otherwise kept with the reason). `KEPT_REMOTE_FILES`
        are never listed.
    """
    remote = {sibling.rfilename: sibling for sibling in remote_siblings}
    changes = []
    for path, local in sorted(files.items()):
        size = digests[path].size
        if path not in remote:
            changes.append(FileChange(path, "added", size, None))
        else:
            status: Status = "unchanged" if _same_content(local, digests[path], remote[path]) else "changed"
            changes.append(FileChange(path, status, size, remote[path].size))
    for path in sorted(set(remote) - set(files) - KEPT_REMOTE_FILES):
        why_kept = None if mirror else previous.why_kept(path)
        changes.append(FileChange(path, "kept" if why_kept else "deleted", None, remote[path].size, why_kept))
    return changes


def format_plan(plan: RepoPlan, endpoint: str, revision: str) -> str:
    """The plan as printed before anything is uploaded: one line per pending or kept file, then the counts."""
    where = f"{revision} at {plan.parent_commit[:12]}" if plan.parent_commit else "new repo"
    lines = [f"{plan.repo_type} {repo_url(endpoint, plan.repo_type, plan.repo_id)} ({where}):"]
    marks = {"added": "+", "changed": "~", "deleted": "-"}
    for change in plan.pending():
        was = f" (was {format_size(change.remote_size)})" if change.status == "changed" else ""
        shown = change.remote_size if change.status == "deleted" else change.size
        lines.append(f"  {marks[change.status]} {change.path}  {format_size(shown)}{was}")
    lines.extend(f"  kept: {change.path}, {change.why_kept}" for change in plan.kept())
    counts = {status: sum(1 for change in plan.changes if change.status == status) for status in ("added", "changed", "deleted", "unchanged", "kept")}
    lines.append("  " + ", ".join(f"{count} {status}" for status, count in counts.items()))
    return "\n".join(lines)


def read_remote(api: HfApi, plan: RepoPlan, revision: str) -> None:
    """Fill in whether the repo exists, its head commit on `revision` (or main) and the diff against it.

    Args:
        api: the client of the Hub published to.
        plan: the repo's plan, its `files` and `digests` set; `exists`, `parent_commit`, `private` and
            `changes` are filled in.
        revision: the branch published to; a branch not there yet is compared with main.

    Raises:
        HubUnreachableError: the Hub did not answer after the retries (`with_retries`).
    """
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    def fetch():
        try:
            return api.repo_info(plan.repo_id, repo_type=plan.repo_type, revision=revision, files_metadata=True)
        except RevisionNotFoundError:  # a new branch starts from main
            return api.repo_info(plan.repo_id, repo_type=plan.repo_type, files_metadata=True)

    try:
        info = with_retries(fetch, f"reading {plan.repo_type} repo {plan.repo_id}", api.endpoint)
    except RepositoryNotFoundError:
        plan.changes = diff_tree(plan.files, plan.digests, [], PreviousPublish(frozenset()))
        return
    plan.exists, plan.parent_commit, plan.private = True, info.sha, bool(info.private)
    siblings = info.siblings or []
    previous = read_previous_publish(api, plan.repo_id, plan.repo_type, info.sha, {sibling.rfilename for sibling in siblings})
    plan.changes = diff_tree(plan.files, plan.digests, siblings, previous, mirror=plan.mirror)
