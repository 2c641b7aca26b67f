"""The plan of one repo: the tree the run wants there, and how it differs from the repo now.

Files are compared by hash without downloading them (sha256 for LFS files, git blob ids otherwise). A remote
file the run lacks is deleted only when hubtools published it there before (its manifest,
`hubtools.publish.manifest`) or with `--mirror`; every other file is kept, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hubtools.cards import BENCHMARK_FILE
from hubtools.formatting import format_size
from hubtools.hubclient import with_retries
from hubtools.publish.manifest import PreviousPublish, read_previous_publish
from hubtools.publish.scan import FileDigest


RepoType = Literal["model", "dataset", "space"]
Status = Literal["added", "changed", "deleted", "unchanged", "kept"]
# Never deleted by a publish, even a mirror, nor listed as kept: .gitattributes is the Hub's own; a benchmark
# declaration (eval.yaml) is the dataset owner's, and models scored on it point their .eval_results at it.
KEPT_REMOTE_FILES = {".gitattributes", BENCHMARK_FILE}
PUBLISH_MARK = "Published with `hubtools publish`."  # commit description: how a later publish knows its own commits


def repo_url(endpoint: str, repo_type: RepoType, repo_id: str) -> str:
    prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[repo_type]
    return f"{endpoint}/{prefix}{repo_id}"


@dataclass(frozen=True)
class FileChange:
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
        return [change for change in self.changes if change.status not in ("unchanged", "kept")]

    def kept(self) -> list[FileChange]:
        return [change for change in self.changes if change.status == "kept"]

    def operations(self) -> list:
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        operations: list = []
        for change in self.pending():
            if change.status == "deleted":
                operations.append(CommitOperationDelete(path_in_repo=change.path))
            else:
                operations.append(CommitOperationAdd(path_in_repo=change.path, path_or_fileobj=str(self.files[change.path])))
        return operations


def _git_blob_id(path: Path) -> str:
    from huggingface_hub.utils.sha import git_hash

    return git_hash(path.read_bytes())


def _same_content(local: Path, digest: FileDigest, remote) -> bool:
    """Compare a local file with a repo sibling without downloading it."""
    if remote.size is not None and remote.size != digest.size:
        return False
    if remote.lfs is not None:
        return digest.sha256 == remote.lfs.sha256
    return remote.blob_id is not None and (digest.git_blob_id or _git_blob_id(local)) == remote.blob_id


def diff_tree(
    files: dict[str, Path], digests: dict[str, FileDigest], remote_siblings: list, previous: PreviousPublish, *, mirror: bool = False
) -> list[FileChange]:
    """File-by-file difference between the local tree (hashed by `scan_and_hash`) and the repo's files. A remote file
    the run lacks is deleted when `previous` (the repo's manifest) says hubtools published it, or with `mirror`;
    otherwise it is kept, with the reason."""
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


def read_remote(api, plan: RepoPlan, revision: str) -> None:
    """Fill in whether the repo exists, its head commit on `revision` (or main) and the diff against it."""
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
