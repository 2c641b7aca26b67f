"""`hubtools verify`: the round trip. What anyone gets from the Hub must be what the run produced.

The published model repo is downloaded (`snapshot_download` at the given endpoint) into a fresh cache and
loaded with `pipeline()`, run on the run's test split, and compared with the local model (same labels, same
scores) and with the card (metrics recomputed from the downloaded model's predictions, for the published
`data.positive_label`, equal the card's model-index values).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hubtools.errors import ClaimsDifferError
from hubtools.rundir import RunDir

SCORE_TOLERANCE = 1e-5  # same weights, same inputs: only float noise
METRIC_TOLERANCE = 0.5 * 10**-4 + 1e-9  # the card's metadata rounds to 4 decimals (cards.CARD_DECIMALS); metrics.json keeps them all
VERIFY_SPLIT = "test"
DEFAULT_SAMPLE = 2000  # rows of a larger test split checked when the card was scored on all of them


class VerifyError(ClaimsDifferError):
    """The published model or card disagrees with the run."""


@dataclass
class MetricCheck:
    name: str
    card_value: float
    recomputed: float

    @property
    def ok(self) -> bool:
        return abs(self.card_value - self.recomputed) <= METRIC_TOLERANCE


@dataclass
class VerifyReport:
    repo_id: str
    rows: int
    label_mismatches: int
    max_score_difference: float
    metrics: list[MetricCheck] = field(default_factory=list)
    metrics_skipped: str | None = None  # why the card's metrics were not checked

    def summary(self) -> str:
        predictions = (
            f"verify {self.repo_id}: {self.rows} {VERIFY_SPLIT} rows through pipeline(): predictions match the run "
            f"(max score difference {self.max_score_difference:.1e})"
        )
        if self.metrics_skipped:
            return f"{predictions}; card metrics NOT checked: {self.metrics_skipped}"
        return f"{predictions}; card metrics match: " + ", ".join(f"{check.name}={check.recomputed:.4f}" for check in self.metrics)


SAMPLE_SKIPS_METRICS = (
    "{rows} random rows are not the rows the card was scored on, so its metrics cannot be compared "
    "(--sample 0 checks every row and the metrics)"
)


def _top_predictions(classifier, texts: list[str], max_length: int) -> list[dict[str, float]]:
    # the tokenizer's own limit is the model's (512 for BERT); the card's numbers cut texts at training.max_length
    outputs = classifier(texts, top_k=None, batch_size=32, truncation=True, max_length=max_length)
    return [{row["label"]: float(row["score"]) for row in output} for output in outputs]


def _compare_predictions(local: list[dict[str, float]], published: list[dict[str, float]]) -> tuple[int, float]:
    """(rows whose top label differs, the largest difference of any label's score on any row); both sides name the same labels."""
    mismatches, largest = 0, 0.0
    for mine, theirs in zip(local, published, strict=True):
        mismatches += max(mine, key=mine.get) != max(theirs, key=theirs.get)
        largest = max(largest, max(abs(mine[label] - theirs[label]) for label in mine))
    return mismatches, largest


def prediction_mismatch(repo_id: str, run: RunDir, rows: int, mismatches: int, largest: float) -> VerifyError:
    """A true account of predictions that differ from the run's model, naming the run they were compared with."""
    labels = f"a different label on {mismatches} of them" if mismatches else "the same label on every one"
    return VerifyError(
        f"{repo_id}: compared with {run.model} on {rows} rows of {run.split(VERIFY_SPLIT)}, pipeline() predicts {labels} and scores "
        f"differ by up to {largest:.2e} (tolerance {SCORE_TOLERANCE:.0e}): if {run.root} is the run published to {repo_id}, "
        "re-publish it; otherwise pass --run with the run that was"
    )


def label_mismatch(repo_id: str, run: RunDir, published: list[str], local: list[str]) -> VerifyError:
    return VerifyError(
        f"{repo_id}: its model's labels ({', '.join(published)}) are not those of {run.model} ({', '.join(local)}): {run.root} is "
        "not the run published there; pass --run with the run that was"
    )


def card_metric_checks(card_path: Path, recomputed: dict[str, float]) -> list[MetricCheck]:
    """Pair the card's model-index values on the test split with the recomputed metrics of the same name."""
    from huggingface_hub import ModelCard

    from hubtools.card.model_index import metric_key

    checks = []
    for result in ModelCard.load(card_path).data.eval_results or []:
        key = metric_key(result)
        if result.dataset_split == VERIFY_SPLIT and key in recomputed:
            checks.append(MetricCheck(key, float(result.metric_value), float(recomputed[key])))
    if not checks:
        raise VerifyError(f"{card_path}: no model-index value on the {VERIFY_SPLIT} split matches a recomputed metric; re-render the card")
    return checks


def rows_to_verify(run: RunDir, total: int, sample: int | None) -> tuple[list[int] | None, bool]:
    """Which test rows go through pipeline() (None: all), and whether the card's metrics can be recomputed on them.

    `sample` N: N random rows, metrics skipped; 0: every row. Unset: the rows the card was scored on
    (all, or the run's `evaluate.sample_size` sample), or DEFAULT_SAMPLE random rows of a larger split.
    """
    import random

    from hubtools.config import load_config

    if sample == 0:
        return None, True
    if sample is None:
        evaluation = load_config(run.config).evaluate if run.config.is_file() else None
        card_rows = evaluation.rows(total) if evaluation else None
        if card_rows is not None or total <= DEFAULT_SAMPLE:
            return card_rows, True
        sample = DEFAULT_SAMPLE
    if sample >= total:
        return None, True
    return sorted(random.Random(0).sample(range(total), sample)), False


def download_model_repo(repo_id: str, cache: Path, *, endpoint: str, token: str | None, revision: str | None) -> Path:
    """The published model repo's files that pipeline() and verify read (weights, config, tokenizer, card,
    training_config.yaml), from `endpoint` into the fresh `cache`; the folder they are in."""
    from huggingface_hub import snapshot_download

    from hubtools.card.context import TRAINING_CONFIG_FILE
    from hubtools.hubclient import model_load_error, with_retries
    from hubtools.rundir import MODEL_FILE_PATTERNS

    try:
        folder = with_retries(
            lambda: snapshot_download(
                repo_id, revision=revision, token=token, cache_dir=cache, endpoint=endpoint,
                allow_patterns=[*MODEL_FILE_PATTERNS, "README.md", TRAINING_CONFIG_FILE],
            ),
            f"downloading model repo {repo_id}",
            endpoint,
        )
    except (OSError, ValueError) as error:
        raise model_load_error(repo_id, error, endpoint) from error
    return Path(folder)


def published_settings(folder: Path, run: RunDir) -> tuple[str | None, int]:
    """`data.positive_label` the card's binary metrics were computed for (None means the second label) and
    `training.max_length` its texts were cut at: from the repo's training_config.yaml (published next to the
    card), else from the run's config.yaml."""
    from hubtools.card.context import TRAINING_CONFIG_FILE
    from hubtools.config import load_config, read_yaml_mapping

    published = folder / TRAINING_CONFIG_FILE
    if published.is_file():
        settings = read_yaml_mapping(published, VerifyError, "the run's config as published by `hubtools card`")
        data, training = settings.get("data") or {}, settings.get("training") or {}
        if "max_length" in training:
            return data.get("positive_label"), int(training["max_length"])
    run.require(run.config)
    config = load_config(run.config)
    return config.data.positive_label, config.training.max_length


def recompute_metrics(classifier, predictions: list[dict[str, float]], labels: list[str], positive_label: str | None) -> dict[str, float]:
    """The card's metrics from the downloaded model's predictions, classes in its id2label order."""
    from hubtools.metrics import compute_classification_metrics

    label2id = classifier.model.config.label2id
    label_names = [classifier.model.config.id2label[index] for index in range(len(label2id))]
    predicted = [label2id[max(scores, key=scores.get)] for scores in predictions]
    references = [label2id[label] for label in labels]
    return compute_classification_metrics(predicted, references, label_names, positive_label=positive_label)


def metric_mismatch(repo_id: str, run: RunDir, check: MetricCheck) -> VerifyError:
    """A true account of a card value the downloaded model does not reproduce, with advice that can fix it."""
    run_value = run.read_json(run.metrics).get(VERIFY_SPLIT, {}).get(check.name)
    if run_value is not None and abs(float(run_value) - check.card_value) > METRIC_TOLERANCE:
        return VerifyError(
            f"{repo_id}: README.md says {check.name}={check.card_value} but the run's {run.metrics.name} says {run_value:.4f} "
            f"and the published model scores {check.recomputed:.4f} on the {VERIFY_SPLIT} split; "
            "re-render the card (`hubtools card`) and re-publish"
        )
    return VerifyError(
        f"{repo_id}: README.md says {check.name}={check.card_value}, as the run's {run.metrics.name} does, but the published "
        f"model scores {check.recomputed:.4f} on {run.split(VERIFY_SPLIT)}, and its predictions match the local model's: "
        f"{run.metrics.name} was not computed from this model on these rows; check that the split and config.yaml are "
        "the ones the run was trained with"
    )


def verify_repo(
    repo_id: str, run: RunDir, *, endpoint: str, token: str | None, revision: str | None = None, sample: int | None = None
) -> VerifyReport:
    """Download `repo_id` into a fresh cache, load it with pipeline() and check it against the run and the card."""
    import pandas as pd
    from transformers import pipeline

    from hubtools.hubclient import hub_api, model_load_error, with_retries

    run.require(run.split(VERIFY_SPLIT), run.model)
    frame = pd.read_parquet(run.split(VERIFY_SPLIT), columns=["text", "label"])
    positions, check_metrics = rows_to_verify(run, len(frame), sample)
    if positions is not None:
        frame = frame.iloc[positions]
    texts = frame["text"].tolist()

    api = hub_api(endpoint, token)
    with_retries(lambda: api.model_info(repo_id, revision=revision), f"reading model repo {repo_id}", endpoint)
    local = pipeline("text-classification", model=str(run.model), device="cpu")
    with tempfile.TemporaryDirectory(prefix="hubtools-verify-") as cache:
        folder = download_model_repo(repo_id, Path(cache), endpoint=endpoint, token=token, revision=revision)
        try:
            published = pipeline("text-classification", model=str(folder), device="cpu")
        except (OSError, ValueError) as error:
            raise model_load_error(repo_id, error, endpoint) from error
        positive_label, max_length = published_settings(folder, run)
        published_labels, local_labels = sorted(published.model.config.label2id), sorted(local.model.config.label2id)
        if published_labels != local_labels:
            raise label_mismatch(repo_id, run, published_labels, local_labels)
        local_predictions, published_predictions = _top_predictions(local, texts, max_length), _top_predictions(published, texts, max_length)
        mismatches, largest = _compare_predictions(local_predictions, published_predictions)
        report = VerifyReport(repo_id, len(texts), mismatches, largest)
        if mismatches or largest > SCORE_TOLERANCE:
            raise prediction_mismatch(repo_id, run, len(texts), mismatches, largest)
        if not check_metrics:
            report.metrics_skipped = SAMPLE_SKIPS_METRICS.format(rows=len(texts))
            return report
        recomputed = recompute_metrics(published, published_predictions, frame["label"].tolist(), positive_label)
        report.metrics = card_metric_checks(folder / "README.md", recomputed)
    wrong = [check for check in report.metrics if not check.ok]
    if wrong:
        raise metric_mismatch(repo_id, run, wrong[0])
    return report
