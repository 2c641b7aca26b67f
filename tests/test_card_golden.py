"""Golden test: the model card of a committed fixture run directory (no training) is exactly tests/golden/README.md.

The fixture (tests/fixtures/run-minimal/) holds what `hubtools card` reads: metrics.json, log_history.json,
checkpoint_selection.json, config.yaml, dataset_stats.json, environment.json, tiny Parquet splits, the model's
config.json (no weights) and report/. After an intended change to the card, regenerate and review the diff:

    HUBTOOLS_UPDATE_GOLDEN=1 python -m pytest tests/test_card_golden.py
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from hubtools.cards import render_model_card

FIXTURE = Path(__file__).parent / "fixtures" / "run-minimal"
GOLDEN = Path(__file__).parent / "golden" / "README.md"


@pytest.fixture()
def fixture_run(tmp_path: Path) -> Path:
    run = tmp_path / "run-minimal"
    shutil.copytree(FIXTURE, run)
    return run


def test_model_card_matches_the_golden_file(fixture_run: Path, tmp_path: Path) -> None:
    readme = render_model_card(
        fixture_run, tmp_path / "card", model_repo_id="acme/minilm-comments", dataset_repo_id=None,
        space_repo_id="acme/minilm-comments-demo", endpoint="http://127.0.0.1:9",
    )
    rendered = readme.read_text(encoding="utf-8")
    if os.environ.get("HUBTOOLS_UPDATE_GOLDEN"):
        GOLDEN.write_text(rendered, encoding="utf-8")
    assert rendered == GOLDEN.read_text(encoding="utf-8"), "card changed: review, then regenerate with HUBTOOLS_UPDATE_GOLDEN=1"


def test_a_name_missing_from_the_context_fails_the_render(fixture_run: Path, tmp_path: Path, monkeypatch) -> None:
    import jinja2

    import hubtools.cards as cards

    template = tmp_path / "templates"
    shutil.copytree(cards.cards_dir(), template)
    (template / "model_card.md.j2").write_text("---\n{{ card_data }}\n---\n{{ no_such_variable }}\n", encoding="utf-8")
    monkeypatch.setattr(cards, "cards_dir", lambda: template)
    with pytest.raises(jinja2.UndefinedError, match="no_such_variable"):
        render_model_card(fixture_run, tmp_path / "card")
