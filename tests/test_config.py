"""Run config: YAML onto dataclasses, dotted overrides, unknown keys with the closest valid one."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubtools.config import (
    ConfigError,
    RunConfig,
    config_from_dict,
    config_to_dict,
    load_config,
    save_config,
    split_override_args,
)

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
SHARED = REPO.parent / "shared" / "data"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["quickstart", "bertweet-large-self-labeling", "roberta-base-sentiment140", "tweeteval-emotion", "sentiment140-binary", "tweeteval-emotion-mpnet"])
def test_shipped_configs_load(name: str) -> None:
    config = load_config(CONFIGS / f"{name}.yaml")
    assert isinstance(config, RunConfig)
    assert config.training.seed in {42, 734}


def test_reference_configs_carry_the_published_settings() -> None:
    bertweet = load_config(CONFIGS / "bertweet-large-self-labeling.yaml")
    assert (bertweet.model, bertweet.training.learning_rate, bertweet.training.per_device_train_batch_size) == ("vinai/bertweet-large", 2e-5, 32)
    assert (bertweet.training.num_train_epochs, bertweet.training.warmup_steps, bertweet.training.mixed_precision) == (2, 300, "fp16")
    assert bertweet.data.label_names == ["Argumentative", "Opinion", "Informational", "Expressive", "Neutral"]
    roberta = load_config(CONFIGS / "roberta-base-sentiment140.yaml")
    assert roberta.data.split_ratios == (0.7, 0.15, 0.15) and roberta.data.split_seed == 734
    assert roberta.hp_search.enabled and roberta.hp_search.n_trials == 8 and roberta.hp_search.batch_sizes == [16, 32]
    assert roberta.hp_search.objective_metric(roberta.training) == "f1"


def test_quickstart_names_the_hub_model_and_resolves_its_card_prose() -> None:
    config = load_config(CONFIGS / "quickstart.yaml")
    assert config.model == "sentence-transformers/all-MiniLM-L6-v2"
    assert Path(config.card.prose) == (CONFIGS / "quickstart.card.yaml").resolve()
    assert Path(config.card.prose).is_file()


def test_tweeteval_emotion_recipe_is_the_measured_one() -> None:
    config = load_config(CONFIGS / "tweeteval-emotion.yaml")
    assert config.model == load_config(CONFIGS / "quickstart.yaml").model  # the base model the embedded Hub is seeded with
    training = config.training
    assert (training.learning_rate, training.num_train_epochs, training.warmup_steps, training.weight_decay) == (1e-4, 4, 30, 0.01)
    assert (training.per_device_train_batch_size, training.max_length) == (32, 64)
    assert config.data.sample_size is None  # the full train split
    assert config.data.files == {split: f"../shared/data/tweeteval-emotion/{split}.csv" for split in ("train", "validation", "test")}


def test_tweeteval_emotion_mpnet_recipe_is_the_minilm_recipe_with_a_base_size_model() -> None:
    from hubtools.hub.split_zip_model import MPNET_BASE

    def flat(name: str) -> dict[str, object]:
        sections = config_to_dict(load_config(CONFIGS / f"{name}.yaml"))
        return {f"{section}.{key}" if isinstance(values, dict) else section: value
                for section, values in sections.items()
                for key, value in (values.items() if isinstance(values, dict) else [(None, values)])}

    minilm, mpnet = flat("tweeteval-emotion"), flat("tweeteval-emotion-mpnet")
    changed = {key: (minilm[key], mpnet[key]) for key in minilm if minilm[key] != mpnet[key]}
    assert changed == {
        "model": ("sentence-transformers/all-MiniLM-L6-v2", MPNET_BASE.repo_id),  # the id `hub seed-base-models` seeds
        "output_dir": ("runs/tweeteval-emotion", "runs/tweeteval-emotion-mpnet"),
        "training.learning_rate": (1e-4, 3e-5),
        "training.num_train_epochs": (4, 3),
    }


@pytest.mark.skipif(not (SHARED / "tweeteval-emotion").is_dir(), reason="shared tweets not present")
def test_tweeteval_emotion_recipe_reads_the_shared_splits(monkeypatch: pytest.MonkeyPatch) -> None:
    from hubtools.data import prepare_data

    monkeypatch.chdir(REPO)  # data paths are relative to the working directory: the checkout
    prepared = prepare_data(load_config(CONFIGS / "tweeteval-emotion.yaml").data)
    assert prepared.label_names == ["anger", "joy", "optimism", "sadness"]
    assert {name: len(frame) for name, frame in prepared.splits.items()} == {"train": 3257, "validation": 374, "test": 1421}


def test_yaml_scientific_notation_without_dot_is_a_float(tmp_path: Path) -> None:
    # PyYAML reads `3e-5` as a string; the schema says float
    config = load_config(write(tmp_path, "training:\n  learning_rate: 3e-5\n"))
    assert config.training.learning_rate == pytest.approx(3e-5)


def test_overrides_in_all_three_spellings(tmp_path: Path) -> None:
    args = ["--training.learning_rate", "3e-5", "--training.max_length=64", "data.extra_columns=[platform]", "hp_search.enabled=true"]
    config = load_config(write(tmp_path, "model: m\n"), split_override_args(args))
    assert config.training.learning_rate == pytest.approx(3e-5)
    assert config.training.max_length == 64
    assert config.data.extra_columns == ["platform"]
    assert config.hp_search.enabled is True


def test_unknown_key_names_the_closest_valid_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"run.yaml: unknown key 'training.learning_rat'; did you mean 'training.learning_rate'\?"):
        load_config(write(tmp_path, "training:\n  learning_rat: 1.0e-5\n"))
    with pytest.raises(ConfigError, match=r"unknown key 'data.text_colum'; did you mean 'data.text_column'"):
        load_config(write(tmp_path, "model: m\n"), ["data.text_colum=body"])
    with pytest.raises(ConfigError, match=r"unknown key 'modle'; did you mean 'model'"):
        config_from_dict({"modle": "x"})


def test_wrong_types_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'training.max_length' must be int, got 'long'"):
        load_config(write(tmp_path, "training:\n  max_length: long\n"))
    with pytest.raises(ConfigError, match=r"'data.split_ratios' needs 3 values"):
        config_from_dict({"data": {"split_ratios": [0.5, 0.5]}})
    with pytest.raises(ConfigError, match="unexpected argument .training.seed."):
        split_override_args(["training.seed"])
    with pytest.raises(ConfigError, match="missing a value"):
        split_override_args(["--training.seed"])


def test_bare_no_is_read_as_the_string_no(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "training:\n  mixed_precision: no\n")).training.mixed_precision == "no"


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "training: [unclosed\n"))


def test_saved_config_round_trips(tmp_path: Path) -> None:
    config = load_config(CONFIGS / "roberta-base-sentiment140.yaml", ["training.learning_rate=4e-5"])
    save_config(config, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == config
