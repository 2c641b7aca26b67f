"""The demo Space's files: `spaces/text-classification/` rendered for one model (app.py, requirements.txt, README.md).

`spec_for_run` reads what a trained and evaluated run offers (labels, trustworthy test rows); `render_space` writes
the files. Running a Space is `hubtools.space.run`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubtools.errors import HubtoolsError
from hubtools.resources import spaces_dir
from hubtools.rundir import RunDir

if TYPE_CHECKING:
    import pandas as pd

TEMPLATE = "text-classification"
EXAMPLES_PER_LABEL = 2
MAX_EXAMPLE_CHARS = 200  # examples are comments of at most this length, offered whole
MAX_EXAMPLE_LABEL_CHARS = 60  # what the Examples table shows of each: the true label and the text's start
MAX_SHORT_DESCRIPTION = 60  # the Hub's limit for `short_description`
DEFAULT_HARDWARE = "cpu-basic"
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"  # torch's CPU-only wheels (+cpu), so a CPU Space skips CUDA


@dataclass(frozen=True)
class Example:
    text: str
    label: str  # the text's true label in the split it comes from

    @property
    def display(self) -> str:
        return shorten(f"{self.label}: {self.text}", MAX_EXAMPLE_LABEL_CHARS)


@dataclass(frozen=True)
class SpaceSpec:
    """What makes one model's Space: the ids it links, the examples it offers, the hardware it runs on."""

    model_repo_id: str
    space_repo_id: str
    examples: list[Example]
    label_definitions: dict[str, str]  # every label, in the model's order, with what it means
    trained_max_length: int  # tokens training and the card's metrics cut texts at
    endpoint: str = "https://huggingface.co"
    dataset_repo_id: str | None = None
    license: str | None = None
    hardware: str = DEFAULT_HARDWARE
    title: str | None = None
    emoji: str = "💬"
    color_from: str = "indigo"
    color_to: str = "pink"
    tags: list[str] = field(default_factory=lambda: ["text-classification", "hubtools"])

    @property
    def display_title(self) -> str:
        return self.title or f"{self.model_repo_id.split('/')[-1]} demo"

    @property
    def short_description(self) -> str:
        return shorten(f"Classify comments with {self.model_repo_id.split('/')[-1]}", MAX_SHORT_DESCRIPTION)


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary (else a grapheme boundary, so never inside an emoji) with '…'."""
    import regex

    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    kept = ""
    for grapheme in regex.findall(r"\X", text):
        if len(kept) + len(grapheme) > limit - 1:
            break
        kept += grapheme
    at_word = kept.rsplit(" ", 1)[0] if " " in kept else kept
    return at_word.rstrip(" ,;:.-") + "…"


def check_hardware(hardware: str) -> str:
    from huggingface_hub import SpaceHardware

    names = [item.value for item in SpaceHardware]
    if hardware not in names:
        raise HubtoolsError(f"--space-hardware {hardware}: unknown Space hardware; use one of {', '.join(names)}")
    return hardware


def is_cpu_hardware(hardware: str) -> bool:
    return hardware.startswith("cpu")


def run_versions() -> dict[str, str]:
    """The versions this process runs with; the Space pins them (torch without its local `+cpu` tag)."""
    return {
        "gradio": version("gradio"),
        "transformers": version("transformers"),
        "torch": version("torch").split("+")[0],
        "onnxruntime": version("onnxruntime"),
    }


def python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def render_space(spec: SpaceSpec, output_dir: Path) -> Path:
    """Write app.py, requirements.txt and README.md for `spec` into `output_dir` and return it."""
    import jinja2
    from huggingface_hub import SpaceCard, SpaceCardData

    from hubtools.card.render import render_card_template

    check_hardware(spec.hardware)
    template_dir = spaces_dir() / TEMPLATE
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["pyrepr"] = repr
    versions = run_versions()
    values = {
        "model_id": spec.model_repo_id,
        "space_id": spec.space_repo_id,
        "title": spec.display_title,
        "examples": [example.text for example in spec.examples],
        "label_definitions": spec.label_definitions,
        "trained_max_length": spec.trained_max_length,
        "example_labels": [example.display for example in spec.examples],
        "model_url": f"{spec.endpoint.rstrip('/')}/{spec.model_repo_id}",
        "versions": versions,
        "python_version": python_version(),
        "cpu_torch_index": CPU_TORCH_INDEX if is_cpu_hardware(spec.hardware) else None,
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    for name in ("app.py", "requirements.txt"):
        (output_dir / name).write_text(environment.get_template(name).render(**values), encoding="utf-8")
    card_data = SpaceCardData(
        title=spec.display_title,
        short_description=spec.short_description,
        sdk="gradio",
        sdk_version=versions["gradio"],
        python_version=python_version(),
        app_file="app.py",
        suggested_hardware=spec.hardware,
        license=spec.license,
        models=[spec.model_repo_id],
        datasets=[spec.dataset_repo_id] if spec.dataset_repo_id else None,
        tags=spec.tags,
        emoji=spec.emoji,
        colorFrom=spec.color_from,
        colorTo=spec.color_to,
        pinned=False,
    )
    (output_dir / "README.md").write_text(str(SpaceCard(render_card_template(template_dir / "README.md", card_data, **values))), encoding="utf-8")
    return output_dir


def trustworthy_test_rows(run: RunDir) -> pd.DataFrame:
    """Test rows (text, label) whose label the Space can show as true: the model predicts it (`hubtools evaluate`'s
    per-row predictions) and the label-noise check, when the run has its CSV, did not flag the text."""
    import pandas as pd

    from hubtools.evaluation.write import REPORT_FILES

    predictions = run.report / REPORT_FILES["predictions"]
    run.require(predictions)
    frame = pd.read_parquet(predictions, columns=["text", "label", "predicted"])
    frame = frame[frame["predicted"] == frame["label"]]
    if run.label_issues.is_file():
        flagged = pd.read_csv(run.label_issues, usecols=["text"])["text"]
        frame = frame[~frame["text"].isin(flagged)]
    return frame[["text", "label"]]


def pick_examples(rows: pd.DataFrame) -> list[Example]:
    """A few short comments per label, in row order, so the Space shows every class."""
    rows = rows[rows["text"].str.len().between(1, MAX_EXAMPLE_CHARS)]
    examples: list[Example] = []
    for label, group in rows.groupby("label", sort=True):
        examples.extend(Example(text, str(label)) for text in group["text"].head(EXAMPLES_PER_LABEL))
    return examples


def label_definitions(run: RunDir, label_names: list[str]) -> dict[str, str]:
    """Each label's `label_definitions` entry of the card prose; a label without one gets its share of the training data."""
    import pandas as pd

    from hubtools.card.prose import load_prose
    from hubtools.config import load_config

    written = load_prose(load_config(run.config), run).values.get("label_definitions") or {}
    counts = pd.read_parquet(run.split("train"), columns=["label"])["label"].value_counts()
    return {
        label: " ".join(str(written[label]).split()) if label in written
        else f"no definition in the card; learned from {counts.get(label, 0)} of {counts.sum()} labelled training comments."
        for label in label_names
    }


def spec_for_run(run: RunDir, model_repo_id: str, space_repo_id: str, **options: Any) -> SpaceSpec:
    """The Space of a trained and evaluated run: its labels explained, trustworthy test rows as examples."""
    from hubtools.config import load_config

    run.require(run.config, run.split("train"))
    config = load_config(run.config)
    label_names = run.read_json(run.report / "metrics.json")["label_names"]
    return SpaceSpec(
        model_repo_id=model_repo_id,
        space_repo_id=space_repo_id,
        examples=pick_examples(trustworthy_test_rows(run)),
        label_definitions=label_definitions(run, label_names),
        trained_max_length=config.training.max_length,
        license=config.card.license,
        **options,
    )
