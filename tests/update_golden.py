"""Render the model card of the committed fixture run (tests/fixtures/run-minimal/, no training) into
tests/golden/README.md: the only thing that writes the golden file. Tests compare against it and never write it.

After an intended change to the card, regenerate it and review the diff before committing:

    PYTHONPATH=src python tests/update_golden.py && git diff tests/golden/
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "run-minimal"
GOLDEN = Path(__file__).resolve().parent / "golden" / "README.md"


def render_fixture_card(work: Path) -> str:
    """The model card of a copy of the fixture run under WORK, as `hubtools card` renders it."""
    from hubtools.card import write_model_card

    run = work / "run-minimal"
    shutil.copytree(FIXTURE, run)
    readme = write_model_card(
        run, work / "card", model_repo_id="acme/minilm-comments", dataset_repo_id=None,
        space_repo_id="acme/minilm-comments-demo", endpoint="http://127.0.0.1:9",
    )
    return readme.read_text(encoding="utf-8")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="golden-card-") as work:
        GOLDEN.write_text(render_fixture_card(Path(work)), encoding="utf-8")
    print(f"wrote {GOLDEN}: review it with git diff {GOLDEN.relative_to(Path.cwd()) if GOLDEN.is_relative_to(Path.cwd()) else GOLDEN}")


if __name__ == "__main__":
    main()
