"""Writing a rendered card folder (CardFiles) into place: validated offline, staged beside the destination and
renamed in file by file, README.md last; and pinning a written card's results to the dataset commit."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import ModelCard, eval_result_entries_to_yaml, parse_eval_result_entries

from hubtools.atomic_folder import staging_folder
from hubtools.card.facts import CardError
from hubtools.card.model_index import EVAL_RESULTS_FILE
from hubtools.card.render import CardFiles
from hubtools.errors import one_line


HUB_MODEL_KEYS = frozenset(
    {"language", "license", "license_name", "license_link", "library_name", "tags", "datasets", "metrics", "base_model",
     "pipeline_tag", "widget", "model-index", "inference", "thumbnail"}
)
HUB_DATASET_KEYS = frozenset(
    {"language", "license", "pretty_name", "size_categories", "task_categories", "task_ids", "annotations_creators",
     "language_creators", "multilinguality", "source_datasets", "paperswithcode_id", "configs", "dataset_info", "tags",
     "train-eval-index"}
)


def validate_card(readme: Path, card_class: Any) -> None:
    """Offline check: the front matter parses back (model-index included) and uses only keys the Hub knows."""
    try:
        card = card_class.load(readme)
    except ValueError as error:
        raise CardError(f"{readme}: metadata does not parse back ({one_line(error)})") from error
    accepted = HUB_MODEL_KEYS if card.repo_type == "model" else HUB_DATASET_KEYS
    unknown = sorted(set(card.data.to_dict()) - accepted)
    if unknown:
        raise CardError(f"{readme}: metadata key '{unknown[0]}' is not one the Hub reads; remove it from the template")


def write_card_files(card: CardFiles, out_dir: Path, overwrite: bool) -> Path:
    """Write the rendered card's README.md (validated offline) and files into `out_dir`; return the README's path.

    Everything is written and validated in a folder beside `out_dir` first, then renamed into place file by
    file, README.md last: a failed or interrupted render leaves the previous card as it was. Other files in
    `out_dir` (the folder may be a dataset's source folder, or hold the author's additions) are left alone."""
    readme = out_dir / "README.md"
    if readme.exists() and not overwrite:
        raise CardError(f"{readme}: a card already exists; pass --overwrite to replace it or --out to write elsewhere")
    staged = staging_folder(out_dir)
    try:
        card.card_class(card.readme).save(staged / "README.md")
        try:
            validate_card(staged / "README.md", card.card_class)
        except CardError as error:
            raise CardError(f"{readme}: not replaced, the new render is invalid ({one_line(error)})") from error
        for path, content in card.files.items():
            (staged / path).parent.mkdir(parents=True, exist_ok=True)
            (staged / path).write_bytes(content)
        for path in [*card.files, "README.md"]:  # the README last: it never links a file not yet in place
            (out_dir / path).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged / path, out_dir / path)
        for path in card.absent:
            (out_dir / path).unlink(missing_ok=True)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return readme


def set_dataset_revision(card_dir: Path, revision: str) -> list[Path]:
    """Pin the card's results to the dataset commit they were scored on (publish: after the dataset commit).
    Returns the files it rewrote (their hashes are stale)."""
    readme = card_dir / "README.md"
    card = ModelCard.load(readme)
    for result in card.data.eval_results or []:
        result.dataset_revision = revision
    card.save(readme)
    rewritten = [readme]
    entries_file = card_dir / EVAL_RESULTS_FILE
    if entries_file.is_file():
        entries = parse_eval_result_entries(yaml.safe_load(entries_file.read_text(encoding="utf-8")))
        for entry in entries:
            entry.dataset_revision = revision
        entries_file.write_text(yaml.safe_dump(eval_result_entries_to_yaml(entries), sort_keys=False), encoding="utf-8")
        rewritten.append(entries_file)
    return rewritten
