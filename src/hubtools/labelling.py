"""`hubtools dataset build`: several people's labels -> one label per text -> stratified Parquet splits + card.

Per row the label most labellers chose wins; when two or more labels tie for most votes (e.g. a
three-way split between three labellers) the row is set aside and counted, never guessed. Agreement
is reported per labeller pair (raw agreement, Cohen's kappa) and over all (Fleiss' kappa). Texts are
deduplicated (case and whitespace ignored) before the split, so no text is in two splits.

    OUT/data/{train,validation,test}.parquet   text, label (a datasets ClassLabel), and the input's other columns
    OUT/dataset_stats.json                     the statistics of `hubtools.data.describe` + labelling
    OUT/README.md, OUT/label_distribution.png  the dataset card
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from hubtools.errors import InputError
from hubtools.rundir import SPLITS, RunDir, write_json_atomic

class LabellingError(InputError):
    """Labelled input that cannot be turned into a dataset."""


@dataclass
class Vote:
    label: str | None  # None: no votes, or a tie
    tie: bool


# ---- voting and agreement -------------------------------------------------------------------------


def labeller_values(frame: pd.DataFrame, labellers: Sequence[str]) -> pd.DataFrame:
    """Labels as stripped strings, None where a labeller gave none."""
    return frame[list(labellers)].apply(lambda column: column.map(lambda value: None if pd.isna(value) or not str(value).strip() else str(value).strip()))


def majority_vote(votes: Sequence[str | None]) -> Vote:
    """The label with strictly the most votes; missing votes (None/NaN) do not count."""
    counts = Counter(vote for vote in votes if pd.notna(vote)).most_common()
    if not counts:
        return Vote(label=None, tie=False)
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return Vote(label=None, tie=True)
    return Vote(label=counts[0][0], tie=False)


def pairwise_agreement(labels: pd.DataFrame) -> list[dict[str, Any]]:
    """For each labeller pair: rows both labelled, fraction identical, Cohen's kappa (None when undefined)."""
    from sklearn.metrics import cohen_kappa_score

    pairs = []
    columns = list(labels.columns)
    for index, first in enumerate(columns):
        for second in columns[index + 1 :]:
            both = labels[[first, second]].dropna()
            agreement = float((both[first] == both[second]).mean()) if len(both) else None
            kappa = None
            if len(both) and len(set(both[first]) | set(both[second])) > 1:
                kappa = float(cohen_kappa_score(both[first], both[second]))
            pairs.append({"labellers": [first, second], "rows": len(both), "agreement": agreement, "cohen_kappa": kappa})
    return pairs


def fleiss_kappa(labels: pd.DataFrame) -> float | None:
    """Fleiss' kappa over rows labelled by every labeller; None when it is undefined (no rows, one category)."""
    complete = labels.dropna()
    raters = labels.shape[1]
    if complete.empty or raters < 2:
        return None
    categories = sorted(set(complete.to_numpy().ravel()))
    counts = pd.DataFrame([Counter(row) for row in complete.to_numpy()], columns=categories).fillna(0).to_numpy()
    per_row = ((counts**2).sum(axis=1) - raters) / (raters * (raters - 1))
    shares = counts.sum(axis=0) / counts.sum()
    expected = float((shares**2).sum())
    if expected >= 1:
        return None
    return float((per_row.mean() - expected) / (1 - expected))


def vote_labels(frame: pd.DataFrame, labellers: Sequence[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Add the majority `label`; drop rows without one; return them with the labelling statistics."""
    labels = labeller_values(frame, labellers)
    votes = [majority_vote(row) for row in labels.itertuples(index=False)]
    voted = frame.assign(label=[vote.label for vote in votes])
    ties = sum(vote.tie for vote in votes)
    unlabelled = sum(vote.label is None and not vote.tie for vote in votes)
    complete = labels.dropna()
    stats = {
        "labellers": list(labellers),
        "rows_in": len(frame),
        "ties": ties,
        "unlabelled": unlabelled,
        "fully_labelled": len(complete),
        "unanimous": int((complete.nunique(axis=1) == 1).sum()),
        "fleiss_kappa": fleiss_kappa(labels),
        "pairs": pairwise_agreement(labels),
    }
    return voted[voted["label"].notna()].copy(), stats


# ---- building -----------------------------------------------------------------------------------


def read_labelled_input(path: Path, text_column: str, labellers: Sequence[str]) -> pd.DataFrame:
    from hubtools.data import read_table

    if len(labellers) < 2:
        raise LabellingError(f"--labellers {','.join(labellers)}: name at least two labeller columns (comma-separated) to take a majority vote")
    return read_table(path, [("--text-column", text_column)] + [("--labellers", name) for name in labellers])


def build_dataset(
    input_file: str | Path,
    labellers: Sequence[str],
    output_dir: str | Path,
    *,
    text_column: str = "text",
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 42,
    license: str | None = None,
    language: Sequence[str] = ("en",),
    prose: str | Path | None = None,
    dataset_repo_id: str | None = None,
    overwrite: bool = False,
    benchmark: bool = False,
) -> Path:
    """Vote, deduplicate, split (stratified), flag likely-mislabelled rows (label_issues.csv), write the Parquet
    splits, statistics and dataset card; returns OUT.
    With `benchmark`, also eval.yaml: the task ids models scored on its test split publish `.eval_results` for."""
    from hubtools.card import write_dataset_repo
    from hubtools.card.benchmark import write_benchmark_declaration
    from hubtools.card.facts import shareable_stats
    from hubtools.config import DataConfig
    from hubtools.data import ROW, WHOLE, Source, check_classes, describe, find_leakage, split_sources_by_ratio, text_key
    from hubtools.label_noise import LABEL_ISSUES_FILE, find_label_noise

    path, out = Path(input_file), RunDir(Path(output_dir))
    if out.dataset_stats.exists() and not overwrite:
        raise LabellingError(f"{out.root}: already holds a built dataset; pass --overwrite to replace it or choose another --out")
    frame = read_labelled_input(path, text_column, labellers)
    frame = frame.rename(columns={text_column: "text"}).assign(**{ROW: range(1, len(frame) + 1)})
    empty = frame["text"].isna() | (frame["text"].astype(str).str.strip() == "")
    frame = frame[~empty].assign(text=lambda rows: rows["text"].astype(str))
    voted, labelling = vote_labels(frame, labellers)
    keys = voted["text"].map(text_key)
    deduplicated = voted[~keys.duplicated()].drop(columns=list(labellers))
    deduplicated = deduplicated[["text", "label", *(column for column in deduplicated if column not in ("text", "label"))]]
    labelling |= {
        "empty_texts": int(empty.sum()),
        "duplicates_removed": int(keys.duplicated().sum()),
        "rows_out": len(deduplicated),
        "split_ratios": list(split_ratios),
        "split_seed": seed,
    }
    config = DataConfig(path=str(path), split_ratios=tuple(split_ratios), split_seed=seed)
    label_names = sorted(deduplicated["label"].unique())
    splits, split_sources = split_sources_by_ratio({WHOLE: deduplicated}, {WHOLE: Source(str(path), deduplicated)}, config, label_names)
    check_classes(splits, split_sources, label_names, config)
    leakage = find_leakage(splits, remove=False)
    splits = {name: frame.drop(columns=[ROW]).reset_index(drop=True) for name, frame in splits.items()}
    stats = describe(splits, label_names, {WHOLE: int(empty.sum())}, leakage, split_sources)
    stats["labelling"] = labelling
    noise = find_label_noise(splits, label_names, seed)
    stats["label_noise"] = noise.summary
    stats["build"] = {
        "input": path.name, "license": license, "language": list(language),  # file names only: the folder is published
        "prose": Path(prose).name if prose else None,
    }
    out.data.mkdir(parents=True, exist_ok=True)
    for name in SPLITS:
        splits[name].to_parquet(out.split(name), index=False)
    write_json_atomic(out.dataset_stats, shareable_stats(stats))
    noise.flagged.to_csv(out.root / LABEL_ISSUES_FILE, index=False)
    write_dataset_repo(out.root, out.root, dataset_repo_id=dataset_repo_id, prose=prose)
    if benchmark:
        write_benchmark_declaration(out.root)
    return out.root
