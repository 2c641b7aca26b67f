"""The classifier under evaluation, the labelled text it is scored on, and its probabilities."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from hubtools.errors import InputError

DEFAULT_LABEL = re.compile(r"LABEL_\d+")


class ReportError(InputError):
    """Data or a model that cannot be evaluated, or a report that would be overwritten."""


@dataclass
class Classifier:
    model: Any
    tokenizer: Any
    label_names: list[str]
    source: str


@dataclass
class LabelledText:
    frame: pd.DataFrame  # text, label (a name the model knows) and any slice columns
    source: str


def load_classifier(model: str | Path) -> Classifier:
    """Load a sequence classifier from a folder or a Hub id (through HF_ENDPOINT); it must name its labels.

    A Hub id is someone else's repo: its model files are downloaded and checked (`hubtools.untrusted`) first."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from hubtools.hubclient import hub_api, model_load_error, resolve_endpoint
    from hubtools.model_files import UntrustedModelError
    from hubtools.untrusted import download_model

    endpoint = resolve_endpoint(None)
    try:
        folder = model if Path(model).is_dir() else download_model(hub_api(endpoint), str(model), None)
        tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)
        network = AutoModelForSequenceClassification.from_pretrained(str(folder), trust_remote_code=False)
    except UntrustedModelError:  # already one line naming the repo and the file
        raise
    except (OSError, ValueError) as error:
        raise model_load_error(str(model), error, endpoint) from error
    id2label = network.config.id2label or {}
    label_names = [str(id2label[index]) for index in sorted(id2label)]
    if not label_names or all(DEFAULT_LABEL.fullmatch(name) for name in label_names):
        raise ReportError(f"{model}: config.json has no id2label (labels are {label_names or 'missing'}); save the model with id2label/label2id naming its classes")
    network.eval()
    return Classifier(model=network, tokenizer=tokenizer, label_names=label_names, source=str(model))


def read_labelled_file(path: Path, text_column: str = "text", label_column: str = "label", extra_columns: Sequence[str] = ()) -> LabelledText:
    """Read a CSV/JSON(L)/Parquet file of labelled text (`hubtools.data.read_table`: an empty file or a missing column is one line).

    Args:
        path: the file.
        text_column: the column holding the text.
        label_column: the column holding the label (a name or an integer id).
        extra_columns: columns kept as strings for slicing.

    Raises:
        InputFileError: the file does not exist.
        DataError: the file cannot be read, is empty or lacks a column.
    """
    from hubtools.data import read_table

    path = Path(path)
    frame = read_table(path, [("--text-column", text_column), ("--label-column", label_column)] + [("--slice-by", c) for c in extra_columns])
    out = pd.DataFrame({"text": frame[text_column].astype(str), "label": frame[label_column]})
    for column in extra_columns:
        out[column] = frame[column].astype("string").fillna("")
    return LabelledText(frame=out, source=str(path))


def align_labels(data: LabelledText, label_names: list[str], model_source: str, label_column: str = "label") -> pd.Series:
    """Map label names (or integer ids) onto the model's label names.

    Args:
        data: the labelled text.
        label_names: the model's labels, in its id order.
        model_source: the model's folder or Hub id, for the message.
        label_column: the column's name in the user's file, for the message.

    Raises:
        ReportError: a label the model does not know (the message names its row).
    """
    known = {name: name for name in label_names} | {str(index): name for index, name in enumerate(label_names)}
    values = data.frame["label"].astype(str)
    unknown = ~values.isin(list(known))
    if unknown.any():
        row = int(unknown.to_numpy().nonzero()[0][0]) + 1
        raise ReportError(
            f"{data.source}: row {row}, column '{label_column}': label {values[unknown].iloc[0]!r} is not one the model "
            f"{model_source} knows ({', '.join(label_names)}); relabel the row or evaluate a model trained on this label"
        )
    return values.map(known)


def predict(classifier: Classifier, texts: Sequence[str], max_length: int = 128, batch_size: int = 64) -> np.ndarray:
    """Softmax probabilities, one row per text (in input order), one column per label.

    Args:
        classifier: the model and its tokenizer.
        texts: the texts to score.
        max_length: tokens read per text (longer ones are truncated).
        batch_size: texts per forward pass.
    """
    import torch

    batches = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = classifier.tokenizer(
                list(texts[start : start + batch_size]), truncation=True, max_length=max_length, padding=True, return_tensors="pt"
            )
            batches.append(classifier.model(**batch).logits.float().softmax(dim=-1).numpy())
    return np.concatenate(batches) if batches else np.zeros((0, len(classifier.label_names)))
