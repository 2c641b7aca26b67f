"""transformers and datasets, unmodified, load what was pushed to the embedded Hub (through HF_ENDPOINT)."""

from __future__ import annotations

import uuid

import pytest

from hubtools.hub.seed import BASE_MODEL_ID, seed_base_models


@pytest.fixture(scope="module")
def writer(hub) -> str:
    return hub.token("carol", ["clients"])


def test_seeded_base_model_loads_with_from_pretrained_and_seeding_is_idempotent(seeded_hub):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    commits_before = len(seeded_hub.api().list_repo_commits(BASE_MODEL_ID))
    assert seed_base_models(seeded_hub.root) == {BASE_MODEL_ID: None}
    assert len(seeded_hub.api().list_repo_commits(BASE_MODEL_ID)) == commits_before
    model = AutoModelForSequenceClassification.from_pretrained(BASE_MODEL_ID, num_labels=3)
    tokenizer = AutoTokenizer.from_pretrained(BASE_MODEL_ID)
    assert model.config.num_labels == 3 and tokenizer("hello world")["input_ids"][0] == tokenizer.cls_token_id


def test_pipeline_on_a_small_bert_pushed_to_the_hub(seeded_hub, writer, tmp_path):
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, pipeline

    tokenizer = AutoTokenizer.from_pretrained(BASE_MODEL_ID)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, id2label={0: "negative", 1: "positive"},
                        label2id={"negative": 0, "positive": 1})
    BertForSequenceClassification(config).save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    repo_id = f"clients/tiny-bert-{uuid.uuid4().hex[:6]}"
    api = seeded_hub.api(writer)
    api.create_repo(repo_id)
    api.upload_folder(repo_id=repo_id, folder_path=tmp_path / "model")
    assert len(api.list_repo_commits(repo_id)) == 2  # initial commit + one upload commit
    classifier = pipeline("text-classification", model=repo_id)
    prediction = classifier("what a lovely day")[0]
    assert prediction["label"] in {"negative", "positive"} and 0 <= prediction["score"] <= 1


@pytest.mark.parametrize("file_name", ["train.csv", "train.parquet"])
def test_load_dataset_on_a_pushed_file(hub, writer, tmp_path, file_name):
    import datasets
    import pandas as pd

    frame = pd.DataFrame({"text": ["good", "bad", "fine"], "label": [1, 0, 1]})
    local = tmp_path / file_name
    frame.to_csv(local, index=False) if file_name.endswith(".csv") else frame.to_parquet(local, index=False)
    repo_id = f"clients/tweets-{uuid.uuid4().hex[:6]}"
    api = hub.api(writer)
    api.create_repo(repo_id, repo_type="dataset")
    api.upload_file(path_or_fileobj=local, path_in_repo=f"data/{file_name}", repo_id=repo_id, repo_type="dataset")
    loaded = datasets.load_dataset(repo_id, cache_dir=str(tmp_path / "cache"))
    assert loaded["train"]["text"] == ["good", "bad", "fine"] and loaded["train"]["label"] == [1, 0, 1]
