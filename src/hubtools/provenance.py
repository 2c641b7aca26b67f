"""`reproduce.json`: what a later `hubtools reproduce` needs beyond training_config.yaml, published with the card.

hubtools and library versions, Python, the command line, the seeds, the base model and the Hub commit it
was loaded at (recorded by training), the dataset repo, and the hardware. The dataset's commit is pinned
in the card's model-index by `publish`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hubtools.config import load_config
from hubtools.rundir import SPLITS, RunDir

PROVENANCE_FILE = "reproduce.json"
PROVENANCE_FORMAT = 1


def provenance(run: RunDir, environment: dict[str, Any], *, base_model_on_hub: bool, config_file: str, dataset_repo_id: str | None) -> dict[str, Any]:
    """The document, from the run's config and its (shareable) environment.json."""
    config = load_config(run.config)
    libraries = environment.get("libraries", {})
    return {
        "format": PROVENANCE_FORMAT,
        "hubtools": libraries.get("hubtools"),
        "python": environment.get("python"),
        "libraries": libraries,
        "command": environment.get("command", []),
        "git_commit": environment.get("git_commit"),
        "training_config": config_file,
        "seeds": {
            "training": config.training.seed,
            "data_split": config.data.split_seed,
            "evaluate_sample": config.evaluate.sample_seed,
            "hp_search": config.hp_search.seed if config.hp_search.enabled else None,
        },
        "base_model": {
            "id": config.model if base_model_on_hub else None,
            "local_folder": None if base_model_on_hub else Path(config.model).name,
            "revision": environment.get("base_model_revision") if base_model_on_hub else None,
        },
        "dataset": {"repo_id": dataset_repo_id, "splits": list(SPLITS)},
        "hardware": {
            "gpus": environment.get("gpus", []),
            "torch_threads": environment.get("torch_threads"),
            "world_size": environment.get("world_size"),
            "mixed_precision": environment.get("mixed_precision"),
        },
    }


def provenance_json(run: RunDir, environment: dict[str, Any], **facts: Any) -> bytes:
    """The document as the card folder's `reproduce.json` holds it."""
    return (json.dumps(provenance(run, environment, **facts), indent=2, default=str) + "\n").encode()
