"""The model and dataset cards, split by job (docs/reporting.md, The card's modules):

    facts.py        the card's verdicts as typed values read from the run's metrics, Links, CardError
    warnings.py     what a reader must know before trusting the headline, each with its threshold
    context.py      everything the model card's template may use, collected from the run directory (ModelCardContext)
    prose.py        the text only a person can write (the prose YAML) and the lists of what a card still lacks
    dataset.py      what the dataset card shows beyond the statistics: sources, dates, label distribution plot
    model_index.py  model-index and `.eval_results` entries
    render.py       pure rendering in one StrictUndefined Jinja environment: reads the run, returns CardFiles
    benchmark.py    a dataset repo's eval.yaml: written by `dataset build --benchmark`, read from the Hub
    write.py        the card folder written into place (validated, staged, renamed), and re-pinned to a dataset commit

Data flows one way. `write_model_card` (here: the one entry of `hubtools card` and `publish`) first gathers into the
run directory what rendering needs (the report, the model selection, the benchmark's tasks), then renders, which
only reads, then writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hubtools.card.benchmark import save_benchmark_tasks
from hubtools.card.facts import DEFAULT_ENDPOINT, CardError, Links
from hubtools.card.render import render_dataset_card, render_model_card
from hubtools.card.write import write_card_files
from hubtools.compare import compare_runs, comparison_from_dict, plot_comparison
from hubtools.config import load_config
from hubtools.dataset_repo import label_order, read_named_splits, write_hub_splits
from hubtools.evaluation import ensure_report
from hubtools.rundir import RunDir, write_json_atomic


def gather_card_inputs(run: RunDir, links: Links, compare: list[str | Path], token: str | None) -> None:
    """What rendering reads, each into its place in the run directory: report/ (`hubtools evaluate` when missing or
    written by an older hubtools), model_selection.json and .png (`compare`: other runs on the same test split, kept
    so later renders such as `publish`'s keep the section), benchmark_tasks.json (the dataset repo's eval.yaml)."""
    ensure_report(run, load_config(run.config))
    if compare:
        write_json_atomic(run.model_selection, compare_runs([run.root, *compare]).as_dict())
    if run.model_selection.is_file():
        plot_comparison(comparison_from_dict(run.read_json(run.model_selection)), run.model_selection_plot)
    save_benchmark_tasks(run, links, token)


def write_model_card(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    *,
    overwrite: bool = True,
    compare: list[str | Path] | None = None,
    token: str | None = None,
    **links: Any,
) -> Path:
    """Gather the card's inputs into the run directory (`gather_card_inputs`), render the model card
    (`render_model_card(run_dir, **links)`) and write it into `out_dir` (default RUN/card). Returns README.md's path.

    `token`: reads a private dataset repo's eval.yaml; it is never written anywhere."""
    run = RunDir(Path(run_dir))
    run.require(run.config)
    hub = Links(
        links.get("model_repo_id"), links.get("dataset_repo_id"), links.get("space_repo_id"),
        links.get("endpoint") or DEFAULT_ENDPOINT, links.get("dataset_revision"),
    )
    gather_card_inputs(run, hub, list(compare or []), token)
    return write_card_files(render_model_card(run.root, **links), Path(out_dir) if out_dir else run.card, overwrite)


def write_dataset_repo(source_dir: str | Path, out_dir: str | Path | None = None, *, overwrite: bool = True, **card: Any) -> Path:
    """The dataset repo's tree in `out_dir` (default: the source folder): data/{split}.parquet (label a ClassLabel in
    the model's id2label order), then `render_dataset_card(source_dir, info, **card)`. Returns README.md's path."""
    source = RunDir(Path(source_dir))
    out = Path(out_dir) if out_dir else source.root
    if (out / "README.md").exists() and not overwrite:
        raise CardError(f"{out / 'README.md'}: a card already exists; pass --overwrite to replace it or --out to write elsewhere")
    label_names = label_order(source, source.read_json(source.dataset_stats)["label_names"])
    info = write_hub_splits(read_named_splits(source), label_names, out / "data")
    files = render_dataset_card(source.root, info, **card)
    if out.resolve() == source.root.resolve():  # a built dataset folder keeps its own statistics
        files.files.pop(source.dataset_stats.name)
    return write_card_files(files, out, overwrite=True)
