"""A failed or interrupted write never replaces a good card or model with a broken one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from hubtools.card.facts import CardError
from hubtools.card.render import CardFiles
from hubtools.card.write import write_card_files
from trained_run import base_model_path

GOOD_CARD = "---\nlicense: mit\n---\n# A classifier\n\n![confusion](confusion_matrix.png)\n"


@pytest.fixture
def card_dir(tmp_path: Path) -> Path:
    write_card_files(CardFiles(ModelCard, GOOD_CARD, {"confusion_matrix.png": b"png v1"}), tmp_path / "card", overwrite=False)
    return tmp_path / "card"


def test_an_invalid_render_leaves_the_previous_card_byte_identical(card_dir: Path) -> None:
    before = (card_dir / "README.md").read_bytes()
    invalid = CardFiles(ModelCard, "---\nnot_a_hub_key: 1\n---\n# New\n", {"confusion_matrix.png": b"png v2"})

    with pytest.raises(CardError, match=rf"^{card_dir / 'README.md'}: not replaced, the new render is invalid \(.*metadata key 'not_a_hub_key'"):
        write_card_files(invalid, card_dir, overwrite=True)

    assert (card_dir / "README.md").read_bytes() == before
    assert (card_dir / "confusion_matrix.png").read_bytes() == b"png v1"
    assert sorted(path.name for path in card_dir.parent.iterdir()) == ["card"]  # no staging folder left behind


def test_a_write_that_fails_halfway_leaves_the_previous_card_byte_identical(card_dir: Path) -> None:
    before = (card_dir / "README.md").read_bytes()
    unwritable = CardFiles(ModelCard, GOOD_CARD + "\nNew text.\n", {"plots": b"a file", "plots/confusion.png": b"under a file"})

    with pytest.raises(OSError):
        write_card_files(unwritable, card_dir, overwrite=True)

    assert (card_dir / "README.md").read_bytes() == before
    assert not (card_dir / "plots").exists()


def test_a_rewrite_keeps_files_the_author_added_beside_the_card(card_dir: Path) -> None:
    (card_dir / "notes.md").write_text("mine\n", encoding="utf-8")
    write_card_files(CardFiles(ModelCard, GOOD_CARD + "\nNew text.\n", {"confusion_matrix.png": b"png v2"}), card_dir, overwrite=True)
    assert (card_dir / "README.md").read_text(encoding="utf-8").endswith("New text.\n")
    assert (card_dir / "confusion_matrix.png").read_bytes() == b"png v2"
    assert (card_dir / "notes.md").read_text(encoding="utf-8") == "mine\n"


def test_save_best_model_killed_at_any_step_leaves_the_previous_model_or_the_new_one_whole(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("kill_during_save.py")), str(tmp_path), str(base_model_path())],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["killed"] >= 3  # killed while writing the new model, while swapping, while removing the old one
    assert set(report["states"]) <= {"previous", "new"}, report["states"]
    assert report["states"][-1] == "new"


def test_a_card_written_into_the_current_folder_is_staged_beside_it(card_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(card_dir)
    write_card_files(CardFiles(ModelCard, GOOD_CARD + "\nHere.\n", {"confusion_matrix.png": b"png v2"}), Path("."), overwrite=True)
    assert (card_dir / "README.md").read_text(encoding="utf-8").endswith("Here.\n")
    assert sorted(path.name for path in card_dir.parent.iterdir()) == ["card"]
