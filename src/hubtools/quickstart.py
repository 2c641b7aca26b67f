"""`hubtools quickstart`: the whole loop on this machine, against an embedded Hub.

Start the embedded Hub in the background (free port, temp or --root folder), seed the base model,
train configs/quickstart.yaml, evaluate, render the cards, publish model + dataset + Space, verify,
check every claim of the published card (`hubtools reproduce --evaluate-only`) and print what to open.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hubtools.errors import HubtoolsError
from hubtools.rundir import RunDir

USER = "quickstart"
ORG = "hubtools-demo"
MODEL_REPO = f"{ORG}/minilm-comments"
DATASET_REPO = f"{ORG}/quickstart-comments"
SPACE_REPO = f"{MODEL_REPO}-demo"


def _format_metrics(metrics: dict[str, float]) -> str:
    keys = ("accuracy", "f1_macro", "precision_macro", "recall_macro")
    return "  ".join(f"{key}={metrics[key]:.3f}" for key in keys if key in metrics)


def command(program: str, *arguments: str | Path) -> str:
    """A command line that runs as printed in a fresh shell: `program` from this interpreter's bin folder
    (the venv's), so no `activate` is needed."""
    executable = Path(sys.executable) if program == "python" else Path(sys.executable).parent / program
    return shlex.join([str(executable), *map(str, arguments)])


def baseline_summary(report: dict[str, Any], predictions: Any, majority_accuracy: float) -> str:
    """The card's verdict in one sentence: the model against the TF-IDF baseline (paired test) and the majority class."""
    from hubtools.formatting import format_p
    from hubtools.metrics import metric_name
    from hubtools.metrics.uncertainty import VERDICT_WORDS

    versus = report.get("vs_baseline_binary") or report["vs_baseline"]  # the task's metric first, as the card leads with it
    key = versus["metric"]
    same = int((predictions["predicted"] == predictions["baseline_predicted"]).sum())
    p_value = format_p(versus["p_value"])
    return (
        f"Verdict: the model {VERDICT_WORDS[versus['verdict']]} the TF-IDF baseline on "
        f"{metric_name(key, report.get('positive_label'))} ({report[key]:.3f} vs {report['baseline'][key]:.3f}, "
        f"paired bootstrap p {p_value if p_value.startswith('<') else '= ' + p_value}; "
        f"the two predict the same label on {same} of {len(predictions)} test rows); "
        f"always answering the majority class scores accuracy {majority_accuracy:.3f}."
    )


def what_to_open(endpoint: str, metrics: dict[str, float], verdict: str, space_port: int, example: str) -> str:
    """The closing lines; `example` is a text of the task (the config's first widget example) for the pipeline() line."""
    snippet = f'from transformers import pipeline; print(pipeline("text-classification", model="{MODEL_REPO}")({example!r}))'
    return "\n".join(
        [
            "",
            f"Test metrics: {_format_metrics(metrics)}",
            verdict,
            "",
            "Open:",
            f"  model repo    {endpoint}/{MODEL_REPO}",
            f"  dataset repo  {endpoint}/datasets/{DATASET_REPO}",
            f"  Space repo    {endpoint}/spaces/{SPACE_REPO}",
            f"  run the Space HF_ENDPOINT={endpoint} {command('hubtools', 'space', 'run', SPACE_REPO, '--port', space_port)}   (then http://127.0.0.1:{space_port}/)",
            "  use the model:",
            f"    HF_ENDPOINT={endpoint} {command('python', '-c', snippet)}",
        ]
    )


def run_summary(run: RunDir, endpoint: str) -> tuple[dict[str, float], str]:
    """The run's test metrics and what to open, from the files train and evaluate wrote."""
    import pandas as pd

    from hubtools.config import load_config
    from hubtools.ports import free_port
    from hubtools.evaluation.write import REPORT_FILES, load_report

    metrics = run.read_json(run.metrics)["test"]
    predictions = pd.read_parquet(run.report / REPORT_FILES["predictions"])
    majority = float(pd.read_parquet(run.split("test"), columns=["label"])["label"].value_counts(normalize=True).max())
    example = load_config(run.config).card.widget_examples[0]  # configs/quickstart.yaml: political comments, like its labels
    verdict = baseline_summary(load_report(run.root), predictions, majority)
    return metrics, what_to_open(endpoint, metrics, verdict, free_port(), example)


def run_quickstart(root: Path, port: int | None, serve: bool, overrides: list[str] = (), echo: Callable[[str], None] = print) -> dict[str, float]:
    """The whole loop in `root` (hub/, hf-cache/, run/, reproduction/); returns the run's test metrics.

    Args:
        root: an empty or new folder for everything the quickstart writes.
        port: the embedded Hub's port (None: a free one).
        serve: keep the Hub and the demo Space running until Ctrl+C at the end.
        overrides: config overrides ("training.num_train_epochs=1").
        echo: where progress lines go.

    Raises:
        HubtoolsError: `root` already holds a quickstart run; any step's own error (DataError, VerifyError, ...).
    """
    from hubtools.config import load_config
    from hubtools.hub import issue_token, serve_in_background
    from hubtools.hub.seed import seed_base_models
    from hubtools.publish import PublishOptions, publish
    from hubtools.evaluation import evaluate_run
    from hubtools.reproduce import ReproduceOptions, reproduce
    from hubtools.resources import configs_dir
    from hubtools.downloads import HubDownloads
    from hubtools.fit import run_training

    started = time.monotonic()
    run = RunDir(root / "run")
    if run.root.exists():
        raise HubtoolsError(f"{run.root}: a quickstart run is already there; pass another --root")
    hub = serve_in_background(root / "hub", port=port or 0)  # 0: a free one, bound by the Hub itself
    try:
        downloads = HubDownloads(hub.endpoint, root / "hf-cache")  # training loads the base model by Hub id from this Hub
        echo(f"[1/5] Embedded Hub at {hub.endpoint} (data in {root / 'hub'}); seeding the base model")
        seed_base_models(hub.root)
        token = issue_token(hub.root, USER, [ORG])

        echo("[2/5] Training configs/quickstart.yaml")
        config = load_config(configs_dir() / "quickstart.yaml", [f"data.path={root / 'data' / 'comments.csv'}", *overrides])
        run_training(config, run.root, downloads=downloads)

        echo("[3/5] Evaluating")
        evaluate_run(run.root, slice_by=config.data.extra_columns)

        echo("[4/5] Rendering the cards and publishing model, dataset and Space; [5/5] verifying")
        publish(
            PublishOptions(
                repo_id=MODEL_REPO,
                run_dir=run.root,
                dataset_repo_id=DATASET_REPO,
                space_repo_id=SPACE_REPO,
                endpoint=hub.endpoint,
                token=token,
                render_card=True,
                commit_message="Quickstart: all-MiniLM-L6-v2 fine-tuned on the sample comments",
            ),
            echo=echo,
        )
        echo(f"Checking every claim of the published card: {command('hubtools', 'reproduce', MODEL_REPO, '--evaluate-only')}")
        reproduction = reproduce(ReproduceOptions(MODEL_REPO, root / "reproduction", evaluate_only=True, endpoint=hub.endpoint, token=token))
        echo(reproduction.summary())
        metrics, summary = run_summary(run, hub.endpoint)
        echo(summary)
        echo(f"\nDone in {time.monotonic() - started:.0f} s.")
        if serve:
            keep_serving(hub, root, token, echo)
        else:
            echo(f"The embedded Hub stops now; to open the links and run the commands above again: {serve_again(hub)}")
        return metrics
    finally:
        hub.close()


def serve_again(hub: Any) -> str:
    return command("hubtools", "hub", "serve", "--root", hub.root, "--port", hub.endpoint.rsplit(":", 1)[1])


def keep_serving(hub, root: Path, token: str, echo) -> None:
    """Run the published demo Space next to the embedded Hub until Ctrl+C, so every printed link works."""
    from hubtools.ports import free_port
    from hubtools.space import LocalSpace, download_space, stop_on_sigterm

    stop_on_sigterm()

    space_dir = download_space(SPACE_REPO, root / "space", endpoint=hub.endpoint, token=token)
    with LocalSpace(space_dir, port=free_port(), endpoint=hub.endpoint, token=None).start() as space:
        echo(f"\nThe demo Space runs at {space.url} and the embedded Hub at {hub.endpoint} until Ctrl+C")
        echo(f"(later: {serve_again(hub)})")
        try:
            hub.process.wait()
        except KeyboardInterrupt:
            pass
