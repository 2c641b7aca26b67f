"""Which files of a repo hubtools published: a manifest committed into the repo with them.

A repo `publish` writes into may also hold other people's work (a collaborator's notes, an owner's benchmark
declaration). Each publish commits `MANIFEST_FILE` listing every path of its tree; the next publish deletes
only paths of that previous manifest which the run no longer has, and keeps (and names) every other file.
`--mirror` deletes whatever the run lacks. A repo without a readable manifest proves nothing: nothing is deleted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hubtools.hubclient import with_retries

if TYPE_CHECKING:
    from huggingface_hub import HfApi

MANIFEST_FILE = "hubtools_published.json"
MANIFEST_FORMAT = 1

NO_MANIFEST = f"no {MANIFEST_FILE} in the repo, so no proof that hubtools published it (--mirror deletes it)"
NOT_IN_MANIFEST = "added by another commit"


@dataclass(frozen=True)
class PreviousPublish:
    """What the repo's manifest says hubtools published there; `paths` None when the repo has no readable manifest."""

    paths: frozenset[str] | None
    why_unknown: str = NO_MANIFEST

    def why_kept(self, path: str) -> str | None:
        """Why a file the run lacks is left alone (None: hubtools published it, so it may be deleted)."""
        if self.paths is None:
            return self.why_unknown
        return None if path in self.paths else NOT_IN_MANIFEST


def manifest_bytes(paths: list[str]) -> bytes:
    """The manifest of a tree: same paths, same bytes, so an unchanged run leaves it unchanged."""
    document = {"format": MANIFEST_FORMAT, "written_by": "hubtools publish", "paths": sorted({*paths, MANIFEST_FILE})}
    return (json.dumps(document, indent=1) + "\n").encode("utf-8")


def write_manifest(tree: dict[str, Path], folder: Path) -> dict[str, Path]:
    """`tree` with its manifest added (written into `folder`).

    Args:
        tree: path in the repo -> local file.
        folder: where the manifest file is written.

    Returns:
        `tree` and `MANIFEST_FILE`.
    """
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / MANIFEST_FILE
    manifest.write_bytes(manifest_bytes(list(tree)))
    return {**tree, MANIFEST_FILE: manifest}


def parse_manifest(content: bytes, where: str) -> PreviousPublish:
    """A manifest read from a repo, which anyone with write access may have edited: anything odd proves nothing.

    Args:
        content: the manifest's bytes.
        where: the manifest's place (file and commit), named in the reason when it proves nothing.

    Returns:
        the paths it lists, or None paths with the reason.
    """
    try:
        document = json.loads(content.decode("utf-8"))
        paths = document["paths"]
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError, KeyError):
        return PreviousPublish(None, f"{where} does not parse as a hubtools manifest, so nothing it names is deleted (--mirror deletes it)")
    if not isinstance(paths, list) or not all(isinstance(path, str) for path in paths):
        return PreviousPublish(None, f"{where} does not list paths, so nothing it names is deleted (--mirror deletes it)")
    return PreviousPublish(frozenset(paths))


def read_previous_publish(api: HfApi, repo_id: str, repo_type: str, commit: str, remote_paths: set[str]) -> PreviousPublish:
    """The manifest at `commit` (the repo's head the plan is made against).

    Args:
        api: the client of the Hub published to.
        repo_id: the repo.
        repo_type: its type.
        commit: the repo's head commit.
        remote_paths: the repo's files at `commit` (no download when the manifest is not among them).

    Returns:
        what the manifest says hubtools published there (None paths when there is no manifest).

    Raises:
        HubUnreachableError: the Hub did not answer after the retries.
    """
    if MANIFEST_FILE not in remote_paths:
        return PreviousPublish(None)
    local = with_retries(
        lambda: api.hf_hub_download(repo_id, MANIFEST_FILE, repo_type=repo_type, revision=commit),
        f"reading {MANIFEST_FILE} of {repo_type} repo {repo_id}",
        api.endpoint,
    )
    return parse_manifest(Path(local).read_bytes(), f"{MANIFEST_FILE} at {commit[:12]}")
