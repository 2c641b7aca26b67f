"""The card text only a person can write: the prose YAML named by `card.prose` (or `--prose`), and the lists of
what a model or dataset card still lacks, each naming the file to write it in (docs/reporting.md, Card prose)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubtools.card.facts import CardError, shareable_stats
from hubtools.citations import base_model_citation
from hubtools.config import RunConfig, load_config, read_yaml_mapping
from hubtools.rundir import RunDir

PROSE_KEYS = (
    "description", "intended_uses", "limitations", "label_definitions", "data_description", "labelling", "dataset_limitations",
    "citation", "model_out_of_scope_use", "model_card_contact",
)
# Dataset card only: sections of huggingface_hub's datasetcard_template.md, and the dataset's own metadata.
DATASET_PROSE_KEYS = (
    "direct_use", "out_of_scope_use", "curation_rationale", "source_data_producers", "annotators",
    "personal_and_sensitive_information", "dataset_recommendations", "dataset_card_authors", "dataset_card_contact",
    "dataset_license", "dataset_tags", "annotations_creators", "language_creators", "source_datasets",
)
MODEL_PROSE_KEYS = (
    "description", "intended_uses", "model_out_of_scope_use", "limitations", "label_definitions", "data_description", "labelling",
    "citation", "model_card_contact",
)
PROSE_EXAMPLE = "configs/quickstart.card.yaml"  # a complete card prose file to copy the keys from


@dataclass
class Prose:
    """The human-written parts of a card; `missing` tells the reader where to add what is absent."""

    values: dict[str, Any] = field(default_factory=dict)
    source: str = "card.prose"

    def missing(self, key: str) -> str:
        return f"_Not provided: add `{key}` to {self.source}._"


def load_prose(config: RunConfig, run: RunDir, override: str | Path | None = None) -> Prose:
    """Read the prose YAML: `override`, else `card.prose` (as resolved by load_config), else a copy in the run folder."""
    named = override or config.card.prose
    if not named:
        return Prose(source="a card prose YAML (`card.prose` in the config, or `--prose`; see docs/reporting.md)")
    candidates = [Path(named), run.root / named, run.root / Path(named).name]
    path = next((candidate for candidate in candidates if candidate.is_file()), None)
    if path is None:
        raise CardError(f"{named}: card prose file not found (card.prose in {run.config}); create it (see docs/reporting.md) or pass --prose")
    valid_keys = PROSE_KEYS + DATASET_PROSE_KEYS
    values = read_yaml_mapping(path, CardError, f"keys ({', '.join(valid_keys)})")
    unknown = sorted(set(values) - set(valid_keys))
    if unknown:
        raise CardError(f"{path}: unknown key '{unknown[0]}'; valid keys are {', '.join(valid_keys)}")
    return Prose(values=values, source=path.name)


def prose_for_model_card(prose: Prose) -> dict[str, Any]:
    return {key: prose.values.get(key) or None for key in MODEL_PROSE_KEYS}


def card_gaps(run_dir: str | Path, prose: str | Path | None = None) -> list[str]:
    """What only a person can write and the model card of this run lacks, as one line naming the file to write
    (for `hubtools card` and `publish` to print on stderr); [] when nothing is missing."""
    run = RunDir(Path(run_dir))
    config = load_config(run.config)
    loaded = load_prose(config, run, prose)
    values = prose_for_model_card(loaded)
    missing = [key for key in MODEL_PROSE_KEYS if key != "citation" and not values[key]]
    if not (values["citation"] or config.card.citation or base_model_citation(config.model)):
        missing.append("citation")
    if not missing:
        return []
    where = (
        f"add them to {loaded.source}"
        if config.card.prose or prose
        else "write them in a YAML file (e.g. card.yaml beside the config) and set `card.prose: card.yaml` in the config or pass --prose"
    )
    return [
        f"{len(missing)} card section(s) only you can write are missing ({', '.join(missing)}): {where}; "
        f"{PROSE_EXAMPLE} shows every key (docs/reporting.md, Card prose)"
    ]


def dataset_card_settings(source: RunDir) -> tuple[RunConfig | None, dict[str, Any]]:
    """A run directory has config.yaml; a built dataset folder has its build settings in dataset_stats.json."""
    config = load_config(source.config) if source.config.is_file() else None
    return config, source.read_json(source.dataset_stats)


def dataset_card_inputs(
    source: RunDir, prose: str | Path | None, license: str | None
) -> tuple[RunConfig | None, dict[str, Any], Prose, str]:
    """The settings, shareable statistics, prose and license a dataset card is rendered from."""
    config, stats = dataset_card_settings(source)
    built = stats.get("build", {})
    loaded = load_prose(config, source, prose) if config else load_prose(RunConfig(), source, prose or built.get("prose"))
    license = license or loaded.values.get("dataset_license") or built.get("license") or "other"
    return config, shareable_stats(stats), loaded, license


def dataset_card_gaps(source_dir: str | Path, prose: str | Path | None = None, license: str | None = None) -> list[str]:
    """What the dataset card lacks that only a person can add, as one line naming the file to write (for `dataset
    build` and `publish` to print); [] when nothing is missing."""
    _, _, loaded, license = dataset_card_inputs(RunDir(Path(source_dir)), prose, license)
    values = loaded.values
    missing = [
        *(["dataset_license (the card says `other`; or pass --license)"] if license == "other" else []),
        *([] if values.get("direct_use") or values.get("out_of_scope_use") else ["direct_use / out_of_scope_use (no Uses section)"]),
        *([] if values.get("dataset_limitations") else ["dataset_limitations (no Bias, Risks, and Limitations section)"]),
        *([] if values.get("language_creators") else ["language_creators (the metadata says `found`: texts collected as people wrote them)"]),
    ]
    if not missing:
        return []
    return [f"the dataset card lacks {'; '.join(missing)}: add them to {loaded.source}; {PROSE_EXAMPLE} shows every key"]
