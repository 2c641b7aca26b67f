"""Training end to end against the embedded Hub: the run directory, resume after a kill, reference configs, accelerate."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from hubtools.config import load_config
from hubtools.ports import free_port
from hubtools.rundir import RunDir
from hubtools.sample_data import write_sample_dataset
from hubtools.fit import run_training
from hubtools.train.run_dir import RunDirError, check_run_dir
from trained_run import base_model_path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
PYTHON = sys.executable
ACCELERATE = Path(sys.executable).with_name("accelerate")

TINY = ["training.max_length=32", "training.num_train_epochs=1", "training.logging_steps=2", "training.per_device_train_batch_size=16"]


@pytest.fixture(scope="module")
def sample_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample_dataset(tmp_path_factory.mktemp("sample") / "comments.csv", rows_per_label=30)


def train_cli(*args: str, launcher: tuple[str, ...] = (PYTHON, "-m", "hubtools.train"), **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*launcher, *args], capture_output=True, text=True, cwd=REPO, timeout=600, **kwargs)


def assert_complete_run(run: RunDir, label_names: list[str]) -> dict:
    for path in (run.config, run.metrics, run.log_history, run.dataset_stats, run.environment, run.model / "model.safetensors"):
        assert path.exists(), path
    model_config = json.loads((run.model / "config.json").read_text())
    assert list(model_config["id2label"].values()) == label_names
    assert model_config["label2id"] == {name: index for index, name in enumerate(label_names)}
    assert (run.model / "tokenizer.json").exists()
    tokenizer_config = json.loads((run.model / "tokenizer_config.json").read_text())
    base_limit = json.loads((base_model_path() / "tokenizer_config.json").read_text())["model_max_length"]
    assert tokenizer_config["model_max_length"] == base_limit == 512  # the model's limit, not training.max_length
    assert load_config(run.config).training.max_length < base_limit  # what training and the report cut at stays in the config
    for split in ("train", "validation", "test"):
        frame = pd.read_parquet(run.split(split))
        assert {"text", "label"} <= set(frame.columns) and set(frame.label) <= set(label_names)
    history = run.read_json(run.log_history)
    assert history and {"epoch", "step", "training_loss", "validation_loss", "accuracy", "f1_macro", "f1_weighted"} <= set(history[0])
    metrics = run.read_json(run.metrics)
    assert {"accuracy", "f1_macro", "f1_weighted", "loss", "rows"} <= set(metrics["test"]) and "validation" in metrics
    assert list(run.tensorboard.rglob("events.out.tfevents.*"))
    environment = run.read_json(run.environment)
    assert environment["mixed_precision"] == "no"  # CPU: never fp16/bf16
    assert environment["optimizer"] == "adamw_torch_fused"  # the foreach AdamW step took 4x as long on CPU
    return metrics


@pytest.mark.slow
def test_quickstart_config_end_to_end_beats_majority(seeded_hub, tmp_path: Path) -> None:
    data = tmp_path / "data" / "comments.csv"
    result = train_cli("--config", "configs/quickstart.yaml", "--output-dir", str(tmp_path / "run"), f"data.path={data}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert data.exists()  # the sample dataset was written on first use
    run = RunDir(tmp_path / "run")
    label_names = sorted(["Argumentative", "Opinion", "Informational", "Expressive", "Neutral"])
    metrics = assert_complete_run(run, label_names)
    test = metrics["test"]
    assert result.stdout.splitlines()[-1] == f"{run.root}: test F1 (macro) {test['f1_macro']:.4f}, accuracy {test['accuracy']:.4f}"
    assert set(pd.read_parquet(run.split("test")).columns) == {"text", "label", "platform"}
    majority = pd.read_parquet(run.split("test")).label.value_counts(normalize=True).max()
    assert metrics["test"]["accuracy"] > majority + 0.3
    # the reported numbers belong to the saved weights: re-evaluating them reproduces the best epoch's score
    history = run.read_json(run.log_history)
    assert metrics["validation"]["f1_macro"] == pytest.approx(max(row["f1_macro"] for row in history), abs=1e-6)
    # ... and the checkpoint chosen among tied epochs (lowest validation loss, then the later step) is the one saved
    choice = run.read_json(run.checkpoint_selection)
    tied = [row for row in history if row["step"] in choice["tied_steps"]]
    assert choice["validation_loss"] == min(row["validation_loss"] for row in tied)
    assert metrics["validation"]["loss"] == pytest.approx(choice["validation_loss"], abs=1e-4)
    assert run.read_json(run.environment)["training"]["best_checkpoint"] == choice["checkpoint"]
    saved = load_config(run.config)
    assert saved.output_dir == str(run.root) and Path(saved.card.prose).is_file()
    stats = run.read_json(run.dataset_stats)
    assert stats["tokens"]["max_length"] == 48 and "leakage" in stats


@pytest.mark.skipif(not (SHARED / "tweeteval-emotion").is_dir(), reason="shared tweets not present")
def test_tweeteval_emotion_subsample(seeded_hub, tmp_path: Path) -> None:
    sizes = {"train": 300, "validation": 80, "test": 80}  # a stratified-enough subsample keeps it fast
    for split, rows in sizes.items():
        pd.read_csv(SHARED / "tweeteval-emotion" / f"{split}.csv").sample(rows, random_state=0).to_csv(tmp_path / f"{split}.csv", index=False)
    config = load_config(CONFIGS / "quickstart.yaml", [f"data.path={tmp_path}", "data.extra_columns=[]", *TINY])
    run = run_training(config, output_dir=tmp_path / "run")
    metrics = assert_complete_run(run, ["anger", "joy", "optimism", "sadness"])
    assert metrics["test"]["rows"] == 80 and metrics["validation"]["rows"] == 80


def test_existing_run_is_not_overwritten_and_resume_needs_the_same_config(seeded_hub, tmp_path: Path, sample_csv: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "notes.txt").write_text("mine")
    config = load_config(CONFIGS / "quickstart.yaml", [f"data.path={sample_csv}", *TINY])
    with pytest.raises(RunDirError, match="already holds a run; pass --resume"):
        run_training(config, output_dir=run_dir)
    with pytest.raises(RunDirError, match="no run to resume"):
        run_training(config, output_dir=run_dir, resume=True)
    from hubtools.config import save_config
    import dataclasses

    save_config(dataclasses.replace(config, output_dir=str(run_dir)), run_dir / "config.yaml")
    changed = load_config(CONFIGS / "quickstart.yaml", [f"data.path={sample_csv}", *TINY, "training.seed=7"])
    with pytest.raises(RunDirError, match=r"--resume with a different config \(training.seed: saved 42, given 7\)"):
        run_training(changed, output_dir=run_dir, resume=True)
    other_machine = load_config(CONFIGS / "quickstart.yaml", [f"data.path={sample_csv}", *TINY, "training.threads=3", f"output_dir={run_dir}"])
    check_run_dir(RunDir(run_dir), other_machine, resume=True)  # a thread count is the machine's, not the recipe's


def test_cli_reports_bad_overrides_in_one_line(tmp_path: Path) -> None:
    result = train_cli("--config", "configs/quickstart.yaml", "--output-dir", str(tmp_path / "run"), "--training.learning_rat", "1e-4")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: override 'training.learning_rat=1e-4': unknown key 'training.learning_rat'; did you mean 'training.learning_rate'?"
    )
    assert not (tmp_path / "run").exists()


EXEC_COUNTER = """
import atexit, os, sys

executed = []


def count(event, args):
    if event == "exec" and args and getattr(args[0], "co_name", "") == "<module>":
        name = args[0].co_filename.replace(os.sep, "/")
        if name.endswith(("hubtools/train.py", "hubtools/train/__init__.py")):
            executed.append(name)


sys.addaudithook(count)
atexit.register(lambda: open(os.environ["EXEC_LOG"], "w").write(str(len(executed))))
"""


def test_python_m_hubtools_train_runs_one_copy_of_the_module(tmp_path: Path) -> None:
    """`python -m hubtools.train` once ran train.py as __main__ and again as hubtools.train (two RunDirError classes).
    An audit hook (a sitecustomize on PYTHONPATH) counts how often the module's code is executed: once."""
    (tmp_path / "sitecustomize.py").write_text(EXEC_COUNTER, encoding="utf-8")
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    environment = os.environ | {"PYTHONPATH": path, "EXEC_LOG": str(tmp_path / "executed")}
    (tmp_path / "empty").mkdir()
    result = train_cli("--config", "configs/quickstart.yaml", "--output-dir", str(tmp_path / "empty"), "--resume", env=environment)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [f"Error: {tmp_path / 'empty'}: no run to resume (config.yaml missing); start it without --resume"]
    assert (tmp_path / "executed").read_text() == "1"


def test_train_format_json_is_one_document_on_stdout(seeded_hub, tmp_path: Path, sample_csv: Path) -> None:
    """`--format json`: stdout is exactly one JSON document (run_dir, metrics); logs and progress bars go to stderr."""
    result = train_cli("--config", "configs/quickstart.yaml", "--output-dir", str(tmp_path / "run"), "--format", "json",
                       f"data.path={sample_csv}", *TINY, "training.max_steps=2")
    assert result.returncode == 0, result.stderr[-3000:]
    document = json.loads(result.stdout)  # raises on anything else printed to stdout, before or after
    assert set(document) == {"run_dir", "metrics"} and document["run_dir"] == str(tmp_path / "run")
    assert document["metrics"] == json.loads(RunDir(tmp_path / "run").metrics.read_text())
    assert set(document["metrics"]) == {"validation", "test"} and 0 <= document["metrics"]["test"]["accuracy"] <= 1
    assert "test accuracy" not in result.stdout + result.stderr  # the text summary is not printed as well


def test_training_takes_omp_num_threads_threads(seeded_hub, tmp_path: Path, sample_csv: Path) -> None:
    """OMP_NUM_THREADS=1 trains on 1 thread (hubtools used to set one per core over it), and environment.json says why."""
    result = train_cli("--config", "configs/quickstart.yaml", "--output-dir", str(tmp_path / "run"), f"data.path={sample_csv}", *TINY,
                       "training.max_steps=2", env=os.environ | {"OMP_NUM_THREADS": "1"})  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    environment = RunDir(tmp_path / "run").read_json(RunDir(tmp_path / "run").environment)
    assert (environment["torch_threads"], environment["torch_threads_reason"]) == (1, "OMP_NUM_THREADS")


def test_rejected_data_leaves_no_run_directory(seeded_hub, tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("body,label\nhello,a\n")
    result = train_cli("--config", "configs/quickstart.yaml", "--output-dir", str(tmp_path / "run"), f"data.path={tmp_path / 'bad.csv'}")
    assert result.returncode == 2
    assert "bad.csv: column 'text' not found (columns: body, label); set data.text_column" in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "run").exists()  # fix the data and run the same command again


def leaves(tree: dict, prefix: str = "") -> list[tuple[str, object]]:
    """Every value of a nested metrics mapping, keyed by its dotted path (intervals are nested)."""
    found: list[tuple[str, object]] = []
    for key, value in tree.items():
        path = f"{prefix}{key}"
        found.extend(leaves(value, path + ".") if isinstance(value, dict) else [(path, value)])
    return found


@pytest.mark.slow
def test_resume_after_kill_ends_with_the_same_results(seeded_hub, tmp_path: Path, sample_csv: Path) -> None:
    args = ["--config", "configs/quickstart.yaml", f"data.path={sample_csv}", *TINY, "training.num_train_epochs=2"]
    reference = train_cli(*args, "--output-dir", str(tmp_path / "reference"))
    assert reference.returncode == 0, reference.stderr[-3000:]

    killed = tmp_path / "killed"
    process = subprocess.Popen(
        [PYTHON, "-m", "hubtools.train", *args, "--output-dir", str(killed)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=os.environ | {"HUBTOOLS_VERBOSE": "1"},  # the Trainer's loss logs, which a run without a terminal leaves out
    )
    second_epoch = threading.Event()
    threading.Thread(target=watch_for_second_epoch, args=(process, second_epoch), daemon=True).start()
    # Killed on an event, not after a sleep: the first loss logged in epoch 2 comes after epoch 1's checkpoint was saved.
    # A generous bound that holds at load 20 (the event comes after seconds when idle).
    assert second_epoch.wait(600), "training ended, or reached no second epoch in 10 min"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert [path.name for path in (killed / "checkpoints").glob("checkpoint-*")]
    run = RunDir(killed)
    assert not run.metrics.exists() and not run.model.exists()

    resumed = train_cli(*args, "--output-dir", str(killed), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert run.read_json(run.environment)["training"]["resumed_from"].startswith("checkpoint-")
    expected = RunDir(tmp_path / "reference")
    assert sorted(p.name for p in run.root.iterdir()) == sorted(p.name for p in expected.root.iterdir())
    got_metrics, want_metrics = run.read_json(run.metrics), expected.read_json(expected.metrics)
    for name in ("validation", "test"):
        want = dict(leaves(want_metrics[name]))
        assert dict(leaves(got_metrics[name])).keys() == want.keys()
        for key, value in leaves(got_metrics[name]):
            assert value == (pytest.approx(want[key], abs=1e-4) if isinstance(value, float) else want[key]), (name, key)
    got, want = run.read_json(run.log_history), expected.read_json(expected.log_history)
    assert [row["step"] for row in got] == [row["step"] for row in want]
    assert [row["f1_macro"] for row in got] == pytest.approx([row["f1_macro"] for row in want], abs=1e-4)
    for split in ("train", "validation", "test"):
        assert pd.read_parquet(run.split(split)).equals(pd.read_parquet(expected.split(split)))


def encoder_and_head(model) -> tuple[dict, dict]:
    state = model.state_dict()
    return ({key: value for key, value in state.items() if key.startswith("bert.")},
            {key: value for key, value in state.items() if not key.startswith("bert.")})


@pytest.mark.parametrize("labels", [
    ["Argumentative", "Opinion", "Informational", "Expressive", "Neutral"],  # another count: transformers alone refuses the head
    ["Opinion", "Neutral"],  # the same count: transformers alone would keep the foreign head silently
])
def test_a_classifier_on_other_labels_gets_a_new_head_and_keeps_every_encoder_tensor(tmp_path: Path, caplog, labels) -> None:
    """A fine-tuned binary classifier (e.g. an intermediate Sentiment140 run) as the base of another task: exactly its
    head (classifier.weight, classifier.bias) is new, every other tensor is the base's, and one log line says so."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from hubtools.train.base_model import load_model

    binary = AutoModelForSequenceClassification.from_pretrained(base_model_path(), id2label={0: "negative", 1: "positive"})
    binary.save_pretrained(tmp_path / "binary")
    config = load_config(CONFIGS / "quickstart.yaml", overrides=[f"model={tmp_path / 'binary'}"])
    with caplog.at_level("WARNING", logger="hubtools.train"):
        model = load_model(config, labels)
    assert model.config.id2label == dict(enumerate(labels)) and model.classifier.out_features == len(labels)
    encoder, head = encoder_and_head(model)
    base_encoder, base_head = encoder_and_head(binary)
    assert encoder.keys() == base_encoder.keys() and all(torch.equal(encoder[key], base_encoder[key]) for key in encoder)
    assert sorted(head) == ["classifier.bias", "classifier.weight"]
    assert not torch.equal(head["classifier.weight"][:2], base_head["classifier.weight"][: len(labels)][:2])
    assert [record.getMessage() for record in caplog.records if record.name == "hubtools.train.base_model"] == [
        f"base model {tmp_path / 'binary'} is a classifier on other labels (negative, positive): its classification head "
        f"(classifier.bias, classifier.weight) is replaced by a new one for {', '.join(labels)}"
    ]


def test_a_classifier_on_the_same_labels_keeps_its_head(tmp_path: Path, caplog) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    from hubtools.train.base_model import load_model

    binary = AutoModelForSequenceClassification.from_pretrained(base_model_path(), id2label={0: "negative", 1: "positive"})
    binary.save_pretrained(tmp_path / "binary")
    config = load_config(CONFIGS / "quickstart.yaml", overrides=[f"model={tmp_path / 'binary'}"])
    with caplog.at_level("WARNING", logger="hubtools.train"):
        model = load_model(config, ["negative", "positive"])
    assert all(torch.equal(value, binary.state_dict()[key]) for key, value in model.state_dict().items())
    assert [record for record in caplog.records if record.name == "hubtools.train.base_model"] == []


@pytest.mark.slow
def test_reference_configs_start_with_minilm(seeded_hub, tmp_path: Path, sample_csv: Path) -> None:
    minilm = ["model=sentence-transformers/all-MiniLM-L6-v2", "training.max_steps=2", "training.max_length=32", "training.per_device_eval_batch_size=64"]
    bertweet = load_config(CONFIGS / "bertweet-large-self-labeling.yaml", [*minilm, f"data.path={sample_csv}"])
    run = run_training(bertweet, output_dir=tmp_path / "bertweet")
    assert_complete_run(run, ["Argumentative", "Opinion", "Informational", "Expressive", "Neutral"])
    if not (SHARED / "sentiment140-100k").is_dir():
        pytest.skip("shared tweets not present")
    roberta = load_config(
        CONFIGS / "roberta-base-sentiment140.yaml",
        [*minilm, f"data.path={SHARED / 'sentiment140-100k' / 'tweets.csv'}", "data.sample_size=400", "hp_search.n_trials=1"],
    )
    run = run_training(roberta, output_dir=tmp_path / "roberta")
    metrics = assert_complete_run(run, ["negative", "positive"])
    assert {"f1", "precision", "recall"} <= set(metrics["test"])
    assert len(run.read_json(run.trials)) == 1


def accelerate_train(accelerate_config: str, run_dir: Path, sample_csv: Path) -> subprocess.CompletedProcess:
    return train_cli(
        "--config_file", accelerate_config, "--main_process_port", str(free_port()), "-m", "hubtools.train",
        "--config", "configs/quickstart.yaml", "--output-dir", str(run_dir), f"data.path={sample_csv}", *TINY,
        launcher=(str(ACCELERATE), "launch"),
    )  # fmt: skip


@pytest.mark.slow
def test_accelerate_launch_one_and_two_cpu_processes(seeded_hub, tmp_path: Path, sample_csv: Path) -> None:
    labels = sorted(["Argumentative", "Opinion", "Informational", "Expressive", "Neutral"])
    single = accelerate_train("accelerate_config.yaml", tmp_path / "one", sample_csv)
    assert single.returncode == 0, single.stderr[-3000:]
    double = accelerate_train("accelerate_config.multi_cpu.yaml", tmp_path / "two", sample_csv)
    assert double.returncode == 0, double.stderr[-3000:]
    one, two = RunDir(tmp_path / "one"), RunDir(tmp_path / "two")
    one_metrics, two_metrics = assert_complete_run(one, labels), assert_complete_run(two, labels)
    one_env, two_env = one.read_json(one.environment), two.read_json(two.environment)
    assert (one_env["world_size"], two_env["world_size"]) == (1, 2)
    assert (one_env["distributed_backend"], two_env["distributed_backend"]) == (None, "gloo")
    assert two_env["torch_threads"] <= max(1, one_env["cpu_count"] // 2)  # the cores are shared, not oversubscribed
    # accelerate's own OMP_NUM_THREADS is not taken for the user's: hubtools chose, knowing of both processes
    assert two_env["torch_threads_reason"].endswith(", 2 training process(es) here")
    # each of the 2 processes takes its own batch of 16 per optimizer step: half the steps of one process
    train_rows = len(pd.read_parquet(one.split("train")))
    batch = 16
    assert one_env["training"]["global_step"] == math.ceil(train_rows / batch)
    assert two_env["training"]["global_step"] == math.ceil(train_rows / (2 * batch))
    # only the main process writes: one report line, one TensorBoard log, the same files as one process
    assert double.stdout.count(": test F1 (macro) ") == 1
    assert len(list(two.tensorboard.rglob("events.out.tfevents.*"))) == 1
    assert sorted(p.name for p in two.root.iterdir()) == sorted(p.name for p in one.root.iterdir())
    assert not list(two.root.rglob(".*partial*")) and not list(two.root.rglob("*.tmp"))
    for split in ("validation", "test"):
        assert set(two_metrics[split]) == set(one_metrics[split])
        assert two_metrics[split]["rows"] == one_metrics[split]["rows"]


def test_shipped_and_documented_accelerate_configs_load(tmp_path: Path) -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    docs = (REPO / "docs" / "training.md").read_text(encoding="utf-8")
    section = docs[docs.index("## Several processes") : docs.index("## Hyperparameter search")]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    assert len(blocks) == 4  # multi-GPU, multi-node, DeepSpeed, FSDP
    for index, block in enumerate(blocks):
        (tmp_path / f"{index}.yaml").write_text(block, encoding="utf-8")
    loaded = [load_config_from_file(str(tmp_path / f"{index}.yaml")) for index in range(len(blocks))]  # unknown keys raise
    assert [config.distributed_type.value for config in loaded] == ["MULTI_GPU", "MULTI_GPU", "DEEPSPEED", "FSDP"]
    multi_cpu = load_config_from_file(str(REPO / "accelerate_config.multi_cpu.yaml"))
    assert (multi_cpu.num_processes, multi_cpu.use_cpu, multi_cpu.mixed_precision) == (2, True, "no")


def watch_for_second_epoch(process: subprocess.Popen, seen: threading.Event) -> None:
    """Set SEEN once the trainer logs a step past epoch 1 (`{'loss': ..., 'epoch': '1.143'}`); drain the rest."""
    for line in process.stdout:
        if (logged := re.search(r"'epoch': '?([0-9.]+)", line)) and float(logged.group(1)) > 1:
            seen.set()


def test_the_recorded_command_is_the_one_typed():
    """Under `accelerate launch -m hubtools.train` (or `python -m`), Python's argv[0] is the package's __main__.py: the
    run records the launcher's command line instead (environment.json, the card's "The run was started with")."""
    from hubtools.train.run_dir import command_as_typed

    main = "/venv/lib/python3.11/site-packages/hubtools/train/__main__.py"
    accelerate = ["/venv/bin/python", "/venv/bin/accelerate", "launch", "--config_file", "accelerate_config.yaml", "-m", "hubtools.train", "--config", "c.yaml"]
    assert command_as_typed([main, "--config", "c.yaml"], accelerate) == [
        "accelerate", "launch", "--config_file", "accelerate_config.yaml", "-m", "hubtools.train", "--config", "c.yaml",
    ]
    assert command_as_typed([main, "--config", "c.yaml"], ["bash"]) == ["python", "-m", "hubtools.train", "--config", "c.yaml"]
    assert command_as_typed(["/venv/bin/hubtools", "train", "--config", "c.yaml"], accelerate) == ["hubtools", "train", "--config", "c.yaml"]
    cli = "/venv/lib/python3.11/site-packages/hubtools/cli/__main__.py"
    assert command_as_typed([cli, "train", "--config", "c.yaml"], ["bash"]) == ["hubtools", "train", "--config", "c.yaml"]
