"""The run directory: the one place that knows its file names.

Data flows one way: config -> run directory -> cards -> commit. `hubtools train` writes a run
directory; `evaluate`, `card`, `publish` and `verify` only read from it (and add their own outputs
under `report/` and `card/`; `card` also keeps what it gathers before rendering, `model_selection.*` and
`benchmark_tasks.json`, so that rendering only reads the run directory).

    RUN/
      config.yaml               resolved config (every default filled in)
      model/                    best weights (safetensors), config.json with id2label, tokenizer
      model/onnx/               `hubtools export`: model.onnx (fp32) and model_quantized.onnx (int8, dynamic)
      data/{train,validation,test}.parquet   the exact splits used (columns: text, label [+ extras])
      metrics.json              {"validation": {...}, "test": {...}} of the saved weights
      test_predictions.npz      the saved weights' test-split probabilities, reused by `hubtools evaluate` (hubtools.saved_predictions)
      log_history.json          per-epoch rows: epoch, step, training_loss, validation_loss, accuracy, f1_macro, ...
      checkpoint_selection.json which epoch's checkpoint became model/ and why (ties: lower validation loss, then later step)
      model_selection.json      `hubtools card --compare`: this run next to others on the same test split
      model_selection.png       its plot, beside it
      benchmark_tasks.json      `hubtools card --dataset-repo`: the task ids of that dataset repo's eval.yaml, as the Hub answered
      dataset_stats.json        rows per split, label distribution, text lengths, dropped/leaked counts
      environment.json          library versions, hardware, git commit, command line
      hp_search/study.db        Optuna storage (resumable)
      hp_search/trials.json     every trial: params, score per epoch, state, duration
      runs/                     TensorBoard event files
      checkpoints/              Trainer checkpoints (for --resume; never published)
      report/                   `hubtools evaluate`: metrics.json, confusion_matrix.png, misclassified.csv, report.md,
                                label_issues.csv (likely-mislabelled rows: split, row, text, label, suggested, label_quality)
      card/                     `hubtools card`: README.md and its assets, .eval_results/
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubtools.errors import InputFileError

SPLITS = ("train", "validation", "test")
# Top-level files of RUN/model/ that belong on the Hub (publish uploads them, verify downloads them):
# weights as safetensors only, config, tokenizer.
MODEL_FILE_PATTERNS = (
    "*.safetensors",
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "*.model",
    "chat_template.jinja",
)
# The names optimum and Transformers.js look for in a repo's onnx/ folder.
ONNX_FP32 = "model.onnx"
ONNX_INT8 = "model_quantized.onnx"


@dataclass(frozen=True)
class RunDir:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def onnx(self) -> Path:
        return self.model / "onnx"

    @property
    def onnx_fp32(self) -> Path:
        return self.onnx / ONNX_FP32

    @property
    def onnx_int8(self) -> Path:
        return self.onnx / ONNX_INT8

    @property
    def data(self) -> Path:
        return self.root / "data"

    def split(self, name: str) -> Path:
        return self.data / f"{name}.parquet"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.json"

    @property
    def test_predictions(self) -> Path:
        return self.root / "test_predictions.npz"

    @property
    def log_history(self) -> Path:
        return self.root / "log_history.json"

    @property
    def checkpoint_selection(self) -> Path:
        return self.root / "checkpoint_selection.json"

    @property
    def model_selection(self) -> Path:
        return self.root / "model_selection.json"

    @property
    def model_selection_plot(self) -> Path:
        return self.root / "model_selection.png"

    @property
    def benchmark_tasks(self) -> Path:
        return self.root / "benchmark_tasks.json"

    @property
    def dataset_stats(self) -> Path:
        return self.root / "dataset_stats.json"

    @property
    def environment(self) -> Path:
        return self.root / "environment.json"

    @property
    def hp_search(self) -> Path:
        return self.root / "hp_search"

    @property
    def study_db(self) -> Path:
        return self.hp_search / "study.db"

    @property
    def trials(self) -> Path:
        return self.hp_search / "trials.json"

    @property
    def tensorboard(self) -> Path:
        return self.root / "runs"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def label_issues(self) -> Path:
        from hubtools.label_noise import LABEL_ISSUES_FILE

        return self.report / LABEL_ISSUES_FILE

    @property
    def report(self) -> Path:
        return self.root / "report"

    @property
    def card(self) -> Path:
        return self.root / "card"

    def require(self, *paths: Path) -> None:
        """Fail with one line naming the first missing file and what to do."""
        for path in paths:
            if not path.exists():
                raise InputFileError(
                    f"{path}: missing from run directory {self.root}; run `hubtools train` (or the step that writes it) first"
                )

    def read_json(self, path: Path) -> Any:
        self.require(path)
        return json.loads(path.read_text(encoding="utf-8"))


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON through a temp file + rename so a crash never leaves a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, sort_keys=False, default=str)
        handle.write("\n")
    os.replace(tmp, path)
