"""The base model a run starts from: where it loads from, and its classification head for the run's labels.

`from_pretrained(model, num_labels=...)` alone would keep a foreign classifier's head when the label count matches
and, with `ignore_mismatched_sizes`, re-initialise any tensor whose shape differs, silently. Here a base that is
a classifier on other labels keeps every encoder tensor and gets exactly a new head, and one log line says so.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubtools.config import RunConfig

if TYPE_CHECKING:
    from hubtools.downloads import HubDownloads

logger = logging.getLogger(__name__)


def base_model_source(model: str, downloads: HubDownloads | None) -> str | None:
    """The snapshot folder of Hub model `model` downloaded from `downloads`' Hub; None when `from_pretrained(model)`
    loads it as it is (a local folder, or no other Hub than the process's HF_ENDPOINT).

    Raises:
        InputError: the repo is missing or cannot be read there (HubUnreachableError when the Hub is down).
    """
    from hubtools.hubclient import model_load_error

    if downloads is None or Path(model).is_dir():
        return None
    try:
        return str(downloads.snapshot(model))
    except (OSError, ValueError) as error:
        raise model_load_error(model, error, downloads.endpoint) from error


def load_model(config: RunConfig, label_names: list[str], source: str | None = None) -> Any:
    """The base model with a classification head for `label_names`, initialised from the training seed.

    A base that is no classifier gets a new head. A classifier on the same labels keeps its head (training
    goes on from it). A classifier on other labels (other names, order or count, e.g. a hubtools run on another
    task) keeps every tensor of its encoder and gets a new head: exactly its head is replaced, said in one log line.

    Args:
        config: the run's config (`model`, the training seed).
        label_names: the task's labels, in class id order.
        source: the folder to load from instead of `config.model` (a snapshot from another Hub).

    Raises:
        InputError: the model cannot be loaded (HubUnreachableError when the Hub is down), or a tensor other than
            the head does not fit.
    """
    from huggingface_hub import constants
    from transformers import AutoConfig, AutoModelForSequenceClassification, set_seed

    from hubtools.hubclient import model_load_error

    location = source or config.model
    labels = {"num_labels": len(label_names), "id2label": dict(enumerate(label_names)), "label2id": {name: index for index, name in enumerate(label_names)}}
    set_seed(config.training.seed)  # the classification head is initialised from the seed
    try:
        base_config = AutoConfig.from_pretrained(location)
        if not is_classifier(base_config) or list(base_config.id2label.values()) == list(label_names):
            return AutoModelForSequenceClassification.from_pretrained(location, **labels)
        base = AutoModelForSequenceClassification.from_pretrained(location)
        return with_new_head(base, AutoConfig.from_pretrained(location, **labels), config.model)
    except (OSError, ValueError) as error:
        raise model_load_error(config.model, error, constants.ENDPOINT) from error


def is_classifier(model_config: Any) -> bool:
    """Whether a model config describes a sequence classifier (it then has labels and a head of its own)."""
    return any(name.endswith("ForSequenceClassification") for name in model_config.architectures or ())


def with_new_head(base: Any, new_config: Any, model: str) -> Any:
    """`base`, a classifier on other labels, with a new (seeded) head for `new_config`'s labels: every tensor under
    the base model's own prefix (the encoder) is copied, and only the tensors outside it (the head) are new."""
    from transformers import AutoModelForSequenceClassification

    model_with_new_head = AutoModelForSequenceClassification.from_config(new_config)
    prefix = f"{base.base_model_prefix}."
    encoder = {key: tensor for key, tensor in base.state_dict().items() if key.startswith(prefix)}
    missing, unexpected = model_with_new_head.load_state_dict(encoder, strict=False)
    head = sorted(key for key in model_with_new_head.state_dict() if not key.startswith(prefix))
    if unexpected or sorted(missing) != head:
        raise ValueError(f"the encoder's tensors do not fit a classifier of {new_config.model_type} ({(unexpected or missing)[0]})")
    logger.warning(
        "base model %s is a classifier on other labels (%s): its classification head (%s) is replaced by a new one for %s",
        model, ", ".join(base.config.id2label.values()), ", ".join(head), ", ".join(new_config.id2label.values()),
    )
    return model_with_new_head
