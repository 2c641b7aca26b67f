"""What a reader must know before trusting a card's headline, each with its threshold (docs/reporting.md, the
front page's Warnings): the majority-class floor, validation vs test, calibration, a class mostly predicted as
another, texts shared by train and test, a class-balance shift between splits, validation loss rising while the
selection metric is flat, a checkpoint chosen by another metric than the headline, training on fewer threads than
the machine's cores. Each check reads what the run directory holds; none evaluates or fetches anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from hubtools.card.facts import MajorityVerdict
from hubtools.formatting import format_p_clause
from hubtools.metrics import METRIC_NAMES, metric_name
from hubtools.rundir import RunDir

CONFUSED_WARNING = 0.5  # a class with more than this share predicted as one other class is a warning
ECE_WARNING = 0.15  # calibration error above this: the top score is not a usable probability (docs/reporting.md)
BALANCE_SHIFT = 0.05  # a label's share of test this far from its share of train (and beyond chance, p < BALANCE_SHIFT_P) is a warning
BALANCE_SHIFT_P = 0.01
LOSS_RISE = 0.10  # validation loss this far above its lowest at the last epoch, with the selection metric flat, is a warning
FLAT_METRIC = 0.01


@dataclass(frozen=True)
class RunRecord:
    """What training recorded beside the metrics, as the card shows it: dataset statistics, the checkpoint choice,
    the per-epoch evaluations and the environment (None / [] when the run has none)."""

    stats: dict[str, Any]
    checkpoint: dict[str, Any] | None
    log_history: list[dict[str, Any]]
    environment: dict[str, Any]


def shared_test_texts(run: RunDir) -> tuple[int, int]:
    """(test rows whose text is also in train, how many of those carry a label train never gives that text)."""
    from hubtools.data import text_key

    train = pd.read_parquet(run.split("train"), columns=["text", "label"])
    test = pd.read_parquet(run.split("test"), columns=["text", "label"])
    train_labels = train.groupby(train["text"].map(text_key))["label"].agg(lambda labels: set(labels.astype(str)))
    keys = test["text"].map(text_key)
    shared = test[keys.isin(train_labels.index)]
    disagreeing = sum(str(label) not in train_labels[text_key(text)] for text, label in zip(shared["text"], shared["label"]))
    return len(shared), disagreeing


def validation_test_gap(metrics: dict[str, Any], key: str, positive_label: str | None) -> str | None:
    """A warning when the validation score of `key` lies outside the test 95% interval (or, when validation has
    intervals too, the two intervals do not overlap)."""
    test, validation = metrics["test"], metrics.get("validation", {})
    interval = test.get("intervals", {}).get(key)
    if interval is None or key not in validation:
        return None
    own = validation.get("intervals", {}).get(key, {"low": validation[key], "high": validation[key]})
    if own["high"] >= interval["low"] and own["low"] <= interval["high"]:
        return None
    return (
        f"Validation and test disagree: validation {metric_name(key, positive_label)} {validation[key]:.4f} is outside the test "
        f"95% interval {interval['low']:.4f} – {interval['high']:.4f} (test {test[key]:.4f}). The validation split chose the "
        "checkpoint, so its score is optimistic; expect the test score, and check whether the splits differ."
    )


def balance_shift(stats: dict[str, Any]) -> str | None:
    """A warning when a label's share of test differs from its share of train by more than BALANCE_SHIFT and by more
    than chance allows for the split sizes (chi-square test of the label counts, p < BALANCE_SHIFT_P)."""
    from scipy.stats import chi2_contingency

    train, test = stats["splits"].get("train"), stats["splits"].get("test")
    if not train or not test or not train["rows"] or not test["rows"]:
        return None
    labels = [label for label in stats["label_names"] if train["labels"].get(label, 0) + test["labels"].get(label, 0)]
    shares = {label: (train["labels"].get(label, 0) / train["rows"], test["labels"].get(label, 0) / test["rows"]) for label in labels}
    label, (in_train, in_test) = max(shares.items(), key=lambda item: abs(item[1][0] - item[1][1]))
    if abs(in_train - in_test) <= BALANCE_SHIFT or len(labels) < 2:
        return None
    p_value = chi2_contingency([[train["labels"].get(name, 0) for name in labels], [test["labels"].get(name, 0) for name in labels]]).pvalue
    if p_value >= BALANCE_SHIFT_P:
        return None
    return (
        f"The class balance shifts between splits: {label} is {in_train:.1%} of train but {in_test:.1%} of test (more than "
        f"{BALANCE_SHIFT * 100:.0f} percentage points apart, chi-square {format_p_clause(p_value)}): scores such as F1 depend on a class's "
        "share, so expect different numbers on data mixed like train."
    )


def rising_validation_loss(log_history: list[dict[str, Any]], metric: str, positive_label: str | None) -> str | None:
    """A warning when validation loss at the last epoch is LOSS_RISE above its lowest while the selection metric moved
    by at most FLAT_METRIC: more epochs made the model more confident in its errors, not better."""
    rows = [row for row in log_history if all(isinstance(row.get(key), (int, float)) for key in ("validation_loss", metric))]
    if len(rows) < 2:
        return None
    lowest, last = min(rows, key=lambda row: row["validation_loss"]), rows[-1]
    if last["validation_loss"] <= lowest["validation_loss"] * (1 + LOSS_RISE) or abs(last[metric] - lowest[metric]) > FLAT_METRIC:
        return None
    return (
        f"Validation loss rises from {lowest['validation_loss']:.4f} (epoch {lowest['epoch']:g}) to {last['validation_loss']:.4f} "
        f"(epoch {last['epoch']:g}) while validation {shown_metric(metric, positive_label)} stays flat ({lowest[metric]:.4f} → "
        f"{last[metric]:.4f}): the extra epochs made the model more confident in its errors, not better; fewer epochs would likely score the same."
    )


def selection_differs(checkpoint: dict[str, Any] | None, task_key: str, positive_label: str | None) -> str | None:
    """A warning when the checkpoint was chosen by another metric than the one the card leads with."""
    if not checkpoint or checkpoint["metric"] == task_key:
        return None
    return (
        f"The checkpoint was chosen by validation {shown_metric(checkpoint['metric'], positive_label)}, but this card leads with "
        f"{shown_metric(task_key, positive_label)}, the task's metric: another epoch may score higher on it. Leave "
        f"`training.metric_for_best_model` unset (or set it to `{task_key}`) to choose by it."
    )


def fewer_threads(environment: dict[str, Any]) -> str | None:
    """A warning when CPU training used fewer threads than the machine has cores: the training time is not the machine's."""
    threads, cores = environment.get("torch_threads"), environment.get("cpu_count")
    if environment.get("gpus") or not threads or not cores or threads >= cores:
        return None
    reason = environment.get("torch_threads_reason")
    return (
        f"Training used {threads} of the machine's {cores} CPU cores{f' ({reason})' if reason else ''}: the training time "
        "below is for that many threads, not for the whole machine."
    )


def shown_metric(key: str, positive_label: str | None) -> str:
    """A selection or metrics.json key for people: `validation_loss` -> "loss", `f1` -> "F1 (irony)"."""
    return metric_name(key, positive_label) if key in METRIC_NAMES else key.replace("validation_", "").replace("_", " ")


def card_warnings(run: RunDir, metrics: dict[str, Any], report: dict[str, Any], majority: MajorityVerdict, key: str, trained: RunRecord) -> list[str]:
    """What a reader must know before trusting the headline: each check and threshold is in docs/reporting.md.
    `key` is the task's metric; `trained`, what training recorded beside the metrics."""
    warnings = []
    if majority.verdict == "worse":
        warnings.append(
            f"Accuracy {majority.accuracy:.4f} is at or below the majority class rate {majority.rate:.4f} (always predicting "
            f"{majority.label}): the model does not beat the simplest guess."
        )
    gap = validation_test_gap(metrics, key, report.get("positive_label"))
    if gap:
        warnings.append(gap)
    if report.get("ece") is not None and report["ece"] > ECE_WARNING:
        warnings.append(
            f"Calibration error (ECE) is {report['ece']:.4f}, above {ECE_WARNING}: the scores are not probabilities of being right; "
            "do not threshold on them without recalibrating."
        )
    names, matrix = report["label_names"], report["confusion_matrix"]
    for row, true_label in enumerate(names):
        total = sum(matrix[row])
        for column, predicted in enumerate(names):
            if column != row and total and matrix[row][column] / total > CONFUSED_WARNING:
                warnings.append(
                    f"{matrix[row][column] / total:.0%} of {true_label} test texts ({matrix[row][column]} of {total}) are predicted "
                    f"{predicted}: the model mostly fails to recognise {true_label}."
                )
    leakage = trained.stats.get("leakage") or {}
    if leakage.get("test") and not leakage.get("removed"):
        shared, disagreeing = shared_test_texts(run)
        if shared:
            warnings.append(
                f"{shared} test texts also appear in train ({disagreeing} of them with a different label there): the test scores "
                "partly measure memorised texts; set `data.remove_leakage: true` to drop them."
            )
    positive_label = report.get("positive_label")
    selection_metric = trained.checkpoint["metric"] if trained.checkpoint else key
    found = (
        balance_shift(trained.stats),
        rising_validation_loss(trained.log_history, selection_metric, positive_label),
        selection_differs(trained.checkpoint, key, positive_label),
        fewer_threads(trained.environment),
    )
    return warnings + [warning for warning in found if warning]
