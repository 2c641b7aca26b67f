"""The demo Space: render `spaces/text-classification/` for one model, and run a Space locally.

`hubtools space run ORG/NAME-demo` does what the Hub does with a Gradio Space: fetch the repo,
read `app_file` from its README front matter and run it with `python`, here on 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
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

    from hubtools.cards import render_card_template

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

    from hubtools.report import REPORT_FILES

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

    from hubtools.cards import load_prose
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


def download_space(space_repo_id: str, local_dir: Path, *, endpoint: str, token: str | None, revision: str | None = None) -> Path:
    """Fetch the Space repo's files into `local_dir`."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    try:
        snapshot_download(
            space_repo_id, repo_type="space", revision=revision, local_dir=local_dir, endpoint=endpoint, token=token or False
        )
    except (RepositoryNotFoundError, RevisionNotFoundError) as error:
        raise HubtoolsError(
            f"Space {space_repo_id} (revision {revision or 'main'}) not found on {endpoint}; publish it with `hubtools publish --space {space_repo_id}`"
        ) from error
    return local_dir


def gradio_app_file(space_dir: Path) -> Path:
    """The file the Hub would run, from the README front matter; only Gradio Spaces are runnable here."""
    from huggingface_hub import SpaceCard

    readme = space_dir / "README.md"
    if not readme.is_file():
        raise HubtoolsError(f"{space_dir}: the Space has no README.md, so its sdk and app_file are unknown")
    data = SpaceCard.load(readme).data
    if data.sdk != "gradio":
        raise HubtoolsError(f"{readme}: sdk is {data.sdk!r}; `hubtools space run` runs Gradio Spaces only")
    app_file = space_dir / (data.app_file or "app.py")
    if not app_file.resolve().is_relative_to(space_dir.resolve()):
        raise HubtoolsError(f"{readme}: app_file {data.app_file!r} points outside the Space; name a file of the Space")
    if not app_file.is_file():
        raise HubtoolsError(f"{readme}: app_file {data.app_file or 'app.py'} is missing from the Space")
    return app_file


class LocalSpace:
    """A Gradio Space running as a child process on 127.0.0.1, quiet and offline except for `endpoint`.

    `hubtools space run` and the embedded Hub's Spaces runtime both launch apps through this class; `environment`
    holds what the Hub gives a Space besides (its secrets and variables), `token` becomes HF_TOKEN.
    """

    def __init__(
        self,
        space_dir: Path,
        *,
        port: int,
        endpoint: str,
        token: str | None,
        log_path: Path | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.space_dir = space_dir
        self.port = port
        self.endpoint = endpoint
        self.token = token
        self.log_path = log_path or space_dir.parent / f"{space_dir.name}.log"
        self.extra_environment = dict(environment or {})
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _environment(self) -> dict[str, str]:
        environment = {key: value for key, value in os.environ.items() if key not in ("HF_HUB_OFFLINE", "HF_TOKEN")}
        environment.update(self.extra_environment)
        environment.update(self.app_settings())
        if self.token:  # like a Space secret: only in the child's environment, never on disk
            environment["HF_TOKEN"] = self.token
        return environment

    def app_settings(self) -> dict[str, str]:
        """What every Space app is told: the Hub it talks to and where Gradio serves, quietly."""
        return {
            "HF_ENDPOINT": self.endpoint,
            "GRADIO_SERVER_NAME": "127.0.0.1",
            "GRADIO_SERVER_PORT": str(self.port),
            "GRADIO_ANALYTICS_ENABLED": "False",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "PYTHONUNBUFFERED": "1",
        }

    def start(self, timeout: float = 120) -> LocalSpace:
        self._process = self._spawn(gradio_app_file(self.space_dir))
        self._wait_until_serving(timeout)
        return self

    def _spawn(self, app_file: Path) -> subprocess.Popen[bytes]:
        """`python APP_FILE` from the Space's root, as the Hub runs it (`app_file: src/app.py` runs src/app.py)."""
        with self.log_path.open("wb") as log:
            return subprocess.Popen(
                [sys.executable, str(app_file.relative_to(self.space_dir))], cwd=self.space_dir, env=self._environment(),
                stdout=log, stderr=subprocess.STDOUT,
            )

    def _wait_until_serving(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise HubtoolsError(f"the Space exited with status {self._process.returncode}; its log: {self.log_path}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        self.stop()
        raise HubtoolsError(f"the Space did not answer on {self.url} within {timeout:.0f} s; its log: {self.log_path}")

    def wait(self) -> int:
        assert self._process is not None
        return self._process.wait()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def __enter__(self) -> LocalSpace:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """`kill` (SIGTERM) then stops a long-running command as cleanly as Ctrl+C, child processes included."""
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)


def run_space(
    space_repo_id: str, *, port: int, endpoint: str, token: str | None, revision: str | None = None, echo: Callable[[str], None] = print
) -> None:
    """Download `space_repo_id` into a temp folder and serve it on 127.0.0.1:`port` until Ctrl+C, SIGINT or SIGTERM.

    SIGINT is handled even when this process was started with it ignored (a background job of a script),
    and the app process is stopped whenever this one stops, also during start-up.
    """
    work_dir = Path(tempfile.mkdtemp(prefix="hubtools-space-"))
    space_dir = download_space(space_repo_id, work_dir / "space", endpoint=endpoint, token=token, revision=revision)
    space = LocalSpace(space_dir, port=port, endpoint=endpoint, token=token)
    echo(f"Starting {space_repo_id} from {space_dir} (log: {space.log_path}) ...")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stop_on_sigterm()
    with space:
        try:
            space.start()
            echo(f"Running on {space.url} (Ctrl+C to stop)")
            status = space.wait()
        except KeyboardInterrupt:
            status = 0
    if status:
        raise HubtoolsError(f"the Space exited with status {status}; its log: {space.log_path}")
