"""Data: loaders, stratified splits, statistics, and a one-line error for each kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from hubtools.config import DataConfig
from hubtools.data import DataError, prepare_data
from hubtools.errors import InputError, InputFileError
from hubtools.sample_data import LABELS, PLATFORMS, generate_sample, write_sample_dataset

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def frame(rows: int = 60, labels: tuple[str, ...] = ("a", "b", "c")) -> pd.DataFrame:
    return pd.DataFrame({"text": [f"text number {i}" for i in range(rows)], "label": [labels[i % len(labels)] for i in range(rows)]})


def write_csv(tmp_path: Path, data: pd.DataFrame, name: str = "data.csv") -> Path:
    path = tmp_path / name
    data.to_csv(path, index=False)
    return path


def test_sample_dataset_is_deterministic_and_covers_labels_and_platforms(tmp_path: Path) -> None:
    assert generate_sample(seed=5) == generate_sample(seed=5)
    assert generate_sample(seed=5) != generate_sample(seed=6)
    path = write_sample_dataset(tmp_path / "sub" / "comments.csv")
    data = pd.read_csv(path)
    assert list(data.columns) == ["text", "label", "platform"]
    assert data.label.value_counts().to_dict() == {label: 80 for label in LABELS}
    assert set(data.platform) == set(PLATFORMS)


def test_one_file_is_split_stratified_by_ratio_and_seed(tmp_path: Path) -> None:
    path = write_sample_dataset(tmp_path / "comments.csv")
    config = DataConfig(path=str(path), extra_columns=["platform"], split_ratios=(0.7, 0.15, 0.15), split_seed=3)
    prepared = prepare_data(config)
    sizes = {name: len(split) for name, split in prepared.splits.items()}
    assert sizes == {"train": 280, "validation": 60, "test": 60}
    for split in prepared.splits.values():
        assert list(split.columns) == ["text", "label", "platform"]
        assert set(split.label.value_counts()) == {len(split) // 5}  # stratified: equal classes stay equal
    again = prepare_data(config)
    assert all(again.splits[name].equals(prepared.splits[name]) for name in prepared.splits)
    other = prepare_data(DataConfig(path=str(path), split_ratios=(0.7, 0.15, 0.15), split_seed=4))
    assert not other.splits["test"].text.equals(prepared.splits["test"].text)
    assert prepared.label_names == sorted(LABELS)
    json.dumps(prepared.stats)  # serialisable as dataset_stats.json
    assert prepared.stats["splits"]["train"]["labels"] == {label: 56 for label in sorted(LABELS)}


def test_integer_labels_with_names_jsonl_and_parquet(tmp_path: Path) -> None:
    data = pd.DataFrame({"body": [f"tweet {i}" for i in range(40)], "sentiment": [i % 2 for i in range(40)]})
    data.to_json(tmp_path / "d.jsonl", orient="records", lines=True)
    prepared = prepare_data(DataConfig(path=str(tmp_path / "d.jsonl"), text_column="body", label_column="sentiment", label_names=["negative", "positive"]))
    assert prepared.label_names == ["negative", "positive"]
    assert set(prepared.splits["train"].label) == {"negative", "positive"}
    data.to_parquet(tmp_path / "d.parquet")
    prepared = prepare_data(DataConfig(path=str(tmp_path / "d.parquet"), text_column="body", label_column="sentiment"))
    assert prepared.label_names == ["0", "1"]


def test_given_splits_and_a_carved_validation_split(tmp_path: Path) -> None:
    train, test = write_csv(tmp_path, frame(90), "train.csv"), write_csv(tmp_path, frame(30), "test.csv")
    prepared = prepare_data(DataConfig(files={"train": str(train), "test": str(test)}, split_ratios=(0.8, 0.1, 0.1)))
    assert len(prepared.splits["test"]) == 30
    assert len(prepared.splits["validation"]) + len(prepared.splits["train"]) == 90
    assert "validation split" in prepared.stats["splits"]["validation"]["source"]


@pytest.mark.skipif(not (SHARED / "tweeteval-emotion").is_dir(), reason="shared tweets not present")
def test_tweeteval_folder_with_given_splits() -> None:
    prepared = prepare_data(DataConfig(path=str(SHARED / "tweeteval-emotion")))
    assert prepared.label_names == ["anger", "joy", "optimism", "sadness"]
    assert {name: len(split) for name, split in prepared.splits.items()} == {"train": 3257, "validation": 374, "test": 1421}


def test_missing_column_lists_the_columns_found(tmp_path: Path) -> None:
    path = write_csv(tmp_path, frame())
    with pytest.raises(DataError, match=r"data.csv: column 'tweet' not found \(columns: text, label\); set data.text_column"):
        prepare_data(DataConfig(path=str(path), text_column="tweet"))
    with pytest.raises(DataError, match=r"column 'platform' not found .*set data.extra_columns"):
        prepare_data(DataConfig(path=str(path), extra_columns=["platform"]))


def test_empty_texts_are_dropped_and_counted_below_the_threshold(tmp_path: Path) -> None:
    data = frame(100)
    data.loc[7, "text"] = "   "
    prepared = prepare_data(DataConfig(path=str(write_csv(tmp_path, data)), max_null_fraction=0.05))
    assert prepared.stats["dropped_empty_texts"] == {"all": 1}
    assert sum(len(split) for split in prepared.splits.values()) == 99


def test_empty_texts_above_the_threshold_name_file_column_and_row(tmp_path: Path) -> None:
    data = frame(100)
    data.loc[[4, 9], "text"] = None
    with pytest.raises(DataError, match=r"data.csv: 2 of 100 rows have an empty 'text' \(first at row 5\), above data.max_null_fraction=0.01"):
        prepare_data(DataConfig(path=str(write_csv(tmp_path, data))))


def test_unknown_label_names_file_row_and_column(tmp_path: Path) -> None:
    data = frame(30)
    data.loc[12, "label"] = "zzz"
    with pytest.raises(DataError, match=r"data.csv: row 13, column 'label': unknown label 'zzz' \(known: a, b, c\)"):
        prepare_data(DataConfig(path=str(write_csv(tmp_path, data)), label_names=["a", "b", "c"]))
    train, test = write_csv(tmp_path, frame(30), "train.csv"), write_csv(tmp_path, frame(9, ("a", "b", "d")), "test.csv")
    with pytest.raises(DataError, match=r"test.csv: row 3, column 'label': unknown label 'd'"):
        prepare_data(DataConfig(files={"train": str(train), "validation": str(train), "test": str(test)}))
    ints = pd.DataFrame({"text": [f"t {i}" for i in range(30)], "label": [i % 3 for i in range(30)]})
    with pytest.raises(DataError, match=r"row 3, column 'label': unknown label 2 \(known: 0, 1\)"):
        prepare_data(DataConfig(path=str(write_csv(tmp_path, ints)), label_names=["neg", "pos"]))


def test_empty_label_is_an_error(tmp_path: Path) -> None:
    data = frame(30)
    data.loc[2, "label"] = None
    with pytest.raises(DataError, match=r"data.csv: row 3, column 'label': empty label"):
        prepare_data(DataConfig(path=str(write_csv(tmp_path, data))))


def test_class_missing_from_a_split(tmp_path: Path) -> None:
    train = write_csv(tmp_path, frame(30), "train.csv")
    test = write_csv(tmp_path, frame(10, ("a", "b")), "test.csv")
    with pytest.raises(DataError, match=r"test.csv: column 'label': class 'c' has no rows in the test split"):
        prepare_data(DataConfig(files={"train": str(train), "validation": str(train), "test": str(test)}))
    rare = pd.concat([frame(30, ("a", "b")), pd.DataFrame({"text": ["only one"], "label": ["c"]})])
    with pytest.raises(DataError, match=r"data.csv: class 'c' has only 1 rows; each class needs at least 3"):
        prepare_data(DataConfig(path=str(write_csv(tmp_path, rare))))


def test_a_test_label_missing_from_given_splits_is_advised_without_split_ratios(tmp_path: Path) -> None:
    train = write_csv(tmp_path, frame(30, ("a", "b")), "train.csv")
    test = write_csv(tmp_path, frame(10), "test.csv")
    with pytest.raises(DataError) as given:
        prepare_data(DataConfig(files={"train": str(train), "validation": str(train), "test": str(test)}, label_names=["a", "b", "c"]))
    assert "class 'c' has no rows in the train split" in str(given.value)
    assert "add rows of this class to the train file" in str(given.value) and "split_ratios" not in str(given.value)


def test_malformed_jsonl_names_the_file_and_the_1_based_line_once(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    rows = [json.dumps({"text": f"row {number}", "label": "a"}) for number in range(1, 7)]
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(rows[:5] + ['{"text": "row 6", label: "a"}'] + rows[5:]) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as malformed:
        prepare_data(DataConfig(path=str(path)))
    assert str(malformed.value).startswith(f"{path}: line 6 is not valid JSON (")
    logged = capfd.readouterr()
    assert "row 5" not in logged.out + logged.err and "Failed to load JSON" not in logged.out + logged.err


def test_a_json_document_names_the_line_of_its_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text('[\n  {"text": "one", "label": "a"},\n  {"text": "two" "label": "b"}\n]\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"d.json: line 3 is not valid JSON \(Expecting ',' delimiter\)"):
        prepare_data(DataConfig(path=str(path)))


def test_every_missing_extra_column_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"column 'platform' not found \(columns: text, label\); set data.extra_columns"):
        prepare_data(DataConfig(path=str(write_csv(tmp_path, frame())), extra_columns=["platform", "text"]))


def test_an_empty_file_is_called_empty(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match=r"d.jsonl: the file is empty; pass a .jsonl file with"):
        prepare_data(DataConfig(path=str(path)))


def test_single_class_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data.csv: column 'label' has a single class 'a'; a classifier needs at least two"):
        prepare_data(DataConfig(path=str(write_csv(tmp_path, frame(30, ("a",))))))


def test_leakage_is_counted_and_optionally_removed(tmp_path: Path) -> None:
    train = write_csv(tmp_path, frame(30), "train.csv")
    test_rows = frame(30)
    test_rows["text"] = [f"new text {i}" for i in range(30)]
    test_rows.loc[[0, 1], "text"] = ["TEXT number 0", "  text   number 1 "]  # case and spacing do not hide a leak
    test = write_csv(tmp_path, test_rows, "test.csv")
    files = {"train": str(train), "validation": str(test), "test": str(test)}
    kept = prepare_data(DataConfig(files=files))
    assert kept.stats["leakage"] == {"removed": False, "validation": 2, "test": 2}
    assert len(kept.splits["test"]) == 30
    removed = prepare_data(DataConfig(files=files, remove_leakage=True))
    assert removed.stats["leakage"]["test"] == 2 and len(removed.splits["test"]) == 28


def test_source_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="set exactly one of data.path, data.files or data.hub_id"):
        prepare_data(DataConfig())
    with pytest.raises(InputFileError, match=r"absent.csv: data file not found") as missing:
        prepare_data(DataConfig(path=str(tmp_path / "absent.csv")))
    assert isinstance(missing.value, FileNotFoundError) and isinstance(missing.value, InputError)
    (tmp_path / "d.txt").write_text("x")
    with pytest.raises(DataError, match=r"d.txt: unsupported file type '.txt'"):
        prepare_data(DataConfig(path=str(tmp_path / "d.txt")))
    with pytest.raises(DataError, match=r"data.split_ratios \[0.5, 0.1, 0.1\] must sum to 1"):
        prepare_data(DataConfig(path=str(write_csv(tmp_path, frame())), split_ratios=(0.5, 0.1, 0.1)))


def publish_csv_splits(hub, repo_id: str, folder: Path) -> None:
    """A dataset repo on the embedded Hub with train/validation/test CSVs of 60/15/15 rows."""
    api = hub.api(hub.token("trainer", ["acme"]))
    api.create_repo(repo_id, repo_type="dataset")
    folder.mkdir()
    for split, rows in {"train": 60, "validation": 15, "test": 15}.items():
        frame(rows).to_csv(folder / f"{split}.csv", index=False)
    api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=folder)


def test_hub_dataset_id_through_the_embedded_hub(hub, tmp_path: Path) -> None:
    publish_csv_splits(hub, "acme/comments", tmp_path / "upload")
    prepared = prepare_data(DataConfig(hub_id="acme/comments"))
    assert {name: len(split) for name, split in prepared.splits.items()} == {"train": 60, "validation": 15, "test": 15}
    assert prepared.stats["splits"]["test"]["source"] == "acme/comments[test]"
    with pytest.raises(DataError, match=r"acme/missing: could not load the Hub dataset"):
        prepare_data(DataConfig(hub_id="acme/missing"))


def test_hub_dataset_from_an_endpoint_given_per_call(hub, tmp_path: Path) -> None:
    """`HubDownloads`: the snapshot comes from the endpoint and into the cache given, not the process's."""
    from hubtools.downloads import HubDownloads

    publish_csv_splits(hub, "acme/per-call", tmp_path / "upload")
    prepared = prepare_data(DataConfig(hub_id="acme/per-call"), HubDownloads(hub.endpoint, tmp_path / "cache"))
    assert {name: len(split) for name, split in prepared.splits.items()} == {"train": 60, "validation": 15, "test": 15}
    assert sorted(path.name for path in (tmp_path / "cache").glob("datasets--acme--per-call/snapshots/*/*.csv")) == ["test.csv", "train.csv", "validation.csv"]
    with pytest.raises(DataError, match=r"acme/absent: could not load the Hub dataset"):
        prepare_data(DataConfig(hub_id="acme/absent"), HubDownloads(hub.endpoint, tmp_path / "cache"))


def test_dataset_info_yaml_is_what_datasets_writes_into_a_card(tmp_path: Path) -> None:
    from hubtools.dataset_repo import dataset_info_yaml, write_hub_splits

    data = frame(60, ("neg", "pos"))
    info = write_hub_splits({"train": data, "validation": data, "test": data}, ["pos", "neg"], tmp_path / "data")
    block = dataset_info_yaml(info)
    assert block == info._to_yaml_dict()  # what hubtools wrote before (datasets' private helper), the same YAML
    assert block["features"][-1] == {"name": "label", "dtype": {"class_label": {"names": {"0": "pos", "1": "neg"}}}}
    assert [(split["name"], split["num_examples"]) for split in block["splits"]] == [("train", 60), ("validation", 60), ("test", 60)]
    assert "config_name" not in block


def test_a_published_class_label_dataset_trains_by_label_name(tmp_path: Path) -> None:
    from hubtools.dataset_repo import write_hub_splits

    data = frame(60, ("neg", "pos"))
    write_hub_splits({"train": data, "validation": data, "test": data}, ["pos", "neg"], tmp_path / "data")
    prepared = prepare_data(DataConfig(path=str(tmp_path / "data")))  # the folder a published dataset downloads to
    assert prepared.label_names == ["neg", "pos"]
    assert set(prepared.splits["train"]["label"]) == {"neg", "pos"}
    assert (prepared.splits["train"]["label"] == "pos").sum() == prepared.stats["splits"]["train"]["labels"]["pos"]
