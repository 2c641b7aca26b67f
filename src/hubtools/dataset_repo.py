"""The dataset as the Hub serves it: Parquet splits whose `label` is a `datasets.ClassLabel`.

The splits are written with the datasets features in the Parquet schema, and the same features (with
split sizes) go into the card's `dataset_info`, so `load_dataset("ORG/NAME")` returns the ClassLabel
whether it reads the files or the card first. Label names follow the model's `id2label` order.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from hubtools.rundir import SPLITS, RunDir

if TYPE_CHECKING:
    from datasets import DatasetInfo

LABEL = "label"


def label_order(source: RunDir, label_names: list[str]) -> list[str]:
    """The model's id2label order when the folder holds a trained model, else `label_names` as given."""
    config_path = source.model / "config.json"
    if not config_path.is_file():
        return list(label_names)
    id2label = source.read_json(config_path).get("id2label") or {}
    ordered = [id2label[key] for key in sorted(id2label, key=int)]
    return ordered if sorted(ordered) == sorted(label_names) else list(label_names)


def split_features(frame: pd.DataFrame, label_names: list[str]):
    """Features of one split: `label` a ClassLabel, every other column as the datasets library infers it
    (pandas' large_string as plain `string`, the type the Hub's viewer and most datasets use)."""
    from datasets import ClassLabel, Features, Value

    inferred = Features.from_arrow_schema(_arrow_schema(frame.drop(columns=[LABEL])))
    plain = {name: Value("string") if feature == Value("large_string") else feature for name, feature in inferred.items()}
    return Features({name: (ClassLabel(names=label_names) if name == LABEL else plain[name]) for name in frame.columns})


def _arrow_schema(frame: pd.DataFrame):
    import pyarrow as pa

    return pa.Schema.from_pandas(frame, preserve_index=False)


def write_hub_splits(splits: dict[str, pd.DataFrame], label_names: list[str], data_dir: Path) -> DatasetInfo:
    """Write data/{split}.parquet with ClassLabel labels; return the DatasetInfo (features, split sizes) for the card.

    Args:
        splits: train, validation and test frames, `label` holding label names.
        label_names: the ClassLabel's names, in the model's id order (`label_order`).
        data_dir: the folder the Parquet files go into (created).
    """
    from datasets import Dataset, DatasetInfo, SplitDict, SplitInfo

    data_dir.mkdir(parents=True, exist_ok=True)
    features = split_features(splits["train"], label_names)
    split_dict, download_size = SplitDict(), 0
    for name in SPLITS:
        dataset = Dataset.from_pandas(splits[name], features=features, preserve_index=False)
        path = data_dir / f"{name}.parquet"
        dataset.to_parquet(str(path))
        download_size += path.stat().st_size
        split_dict.add(SplitInfo(name=name, num_bytes=dataset.data.nbytes, num_examples=len(dataset)))
    return DatasetInfo(
        features=features, splits=split_dict, download_size=download_size, dataset_size=sum(split.num_bytes for split in split_dict.values())
    )


def dataset_info_yaml(info: DatasetInfo) -> dict[str, Any]:
    """The card's `dataset_info:` block, as `datasets` itself writes it into a card (`push_to_hub`).

    Args:
        info: the features and split sizes `write_hub_splits` returned (one config, "default").
    """
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCardData

    card_data = DatasetCardData()
    DatasetInfosDict({"default": info}).to_dataset_card_data(card_data)
    return card_data["dataset_info"]


def read_named_split(path: Path) -> pd.DataFrame:
    """A Parquet split with ClassLabel columns turned back into label names (pandas alone would give the ids)."""
    import pyarrow.parquet as pq
    from datasets import Dataset

    from hubtools.data import named_frame

    return named_frame(Dataset(pq.read_table(path)))


def read_named_splits(folder: RunDir) -> dict[str, pd.DataFrame]:
    folder.require(*(folder.split(name) for name in SPLITS))
    return {name: read_named_split(folder.split(name)) for name in SPLITS}

