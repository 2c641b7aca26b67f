"""The demo Space for real: published to the embedded Hub, fetched and run by `hubtools space run`,
then driven in headless Chromium, through gradio_client, and with 50 concurrent requests."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import regex

from hubtools.rundir import RunDir
from hubtools.ports import free_port
from hubtools.errors import HubtoolsError
from hubtools.space import Example, LocalSpace, SpaceSpec, gradio_app_file, render_space, shorten, spec_for_run
from browser_support import CHROMIUM_ARGS, chromium  # noqa: F401 (a fixture, used by name)
from newcomer_support import sample_style, wait_for
from publishing_support import copy_of_trained_run, publish_run

ORG = "spacetest"
MODEL = f"{ORG}/tiny"
SPACE = f"{ORG}/tiny-demo"


@dataclass
class RunningSpace:
    url: str
    run: RunDir
    endpoint: str

    def local_scores(self, texts: list[str]) -> list[dict[str, float]]:
        """What the run's own model says, to compare with what the Space shows."""
        from transformers import pipeline

        classifier = pipeline("text-classification", model=str(self.run.model), device="cpu")
        return [{row["label"]: row["score"] for row in output} for output in classifier(texts, top_k=None, truncation=True)]

    def test_texts(self, count: int) -> list[str]:
        texts = pd.read_parquet(self.run.split("test"))["text"].tolist()
        return (texts * (count // len(texts) + 1))[:count]


@pytest.fixture(scope="module")
def space(hub, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSpace]:
    run = copy_of_trained_run(tmp_path_factory, "space")
    publish_run(run, MODEL, hub.token("spacer", [ORG]), space_repo_id=SPACE)
    port = free_port()
    log = tmp_path_factory.mktemp("space-log") / "space-run.log"
    environment = {**os.environ, "HF_ENDPOINT": hub.endpoint, "GRADIO_ANALYTICS_ENABLED": "False"}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "hubtools.cli", "space", "run", SPACE, "--port", str(port)],
            env=environment, stdout=sink, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(url, process, log)
        os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # gradio_client only honours the variable
        yield RunningSpace(url, run, hub.endpoint)
    finally:
        process.send_signal(signal.SIGTERM)  # `space run` stops the app it started, as on Ctrl+C
        process.wait(timeout=30)


def test_rendered_space_front_matter_and_pins(tmp_path: Path) -> None:
    from importlib.metadata import version

    from huggingface_hub import SpaceCard

    examples = [Example("it's \"fine\"", "Opinion"), Example("so happy " + "🎉👨‍👩‍👧" * 40, "Expressive")]
    definitions = {"Opinion": "States a view.", "Expressive": "Voices an emotion."}
    spec = SpaceSpec(model_repo_id="ADS509/model-with-a-rather-long-name-for-a-demo", space_repo_id="ADS509/model-demo",
                     examples=examples, label_definitions=definitions, trained_max_length=48, license="apache-2.0",
                     dataset_repo_id="ADS509/data")
    folder = render_space(spec, tmp_path / "cpu")
    data = SpaceCard.load(folder / "README.md").data
    assert (data.sdk, data.sdk_version, data.app_file) == ("gradio", version("gradio"), "app.py")  # the gradio these tests run the Space with
    assert data.python_version == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert (data.license, data.models, data.datasets, data.suggested_hardware) == ("apache-2.0", [spec.model_repo_id], ["ADS509/data"], "cpu-basic")
    assert 0 < len(data.short_description) <= 60 and data.title and data.emoji and data.colorFrom and data.colorTo
    app = (folder / "app.py").read_text(encoding="utf-8")
    compile(app, "app.py", "exec")
    assert "MODEL_ID = 'ADS509/model-with-a-rather-long-name-for-a-demo'" in app and "EXAMPLES = ['it\\'s \"fine\"'," in app
    assert f"LABEL_DEFINITIONS = {definitions!r}" in app and "TRAINED_TOKENS = 48 " in app
    readme = SpaceCard.load(folder / "README.md").text
    assert "- **Opinion**: States a view.\n- **Expressive**: Voices an emotion.\n" in readme and "cut at 48 tokens" in readme
    labels = eval(next(line for line in app.splitlines() if line.startswith("EXAMPLE_LABELS = ")).split(" = ", 1)[1])
    assert labels[0] == "Opinion: it's \"fine\"" and labels[1].startswith("Expressive: so happy") and len(labels[1]) <= 60
    assert labels[1].endswith("…") and regex.fullmatch(r"(?:\X)*", labels[1]) and "🎉👨‍👩‍👧" not in labels[1]  # cut at the word, not in an emoji
    torch_version = version("torch").split("+")[0]
    assert (folder / "requirements.txt").read_text(encoding="utf-8").splitlines() == [
        "--extra-index-url https://download.pytorch.org/whl/cpu", f"torch=={torch_version}+cpu", f"transformers=={version('transformers')}",
        f"onnxruntime=={version('onnxruntime')}",
    ]
    gpu = render_space(dataclasses.replace(spec, hardware="t4-small"), tmp_path / "gpu")
    assert (gpu / "requirements.txt").read_text(encoding="utf-8").splitlines() == [
        f"torch=={torch_version}", f"transformers=={version('transformers')}", f"onnxruntime=={version('onnxruntime')}"
    ]
    with pytest.raises(HubtoolsError, match="--space-hardware t4-tiny: unknown Space hardware"):
        render_space(dataclasses.replace(spec, hardware="t4-tiny"), tmp_path / "bad")


def test_example_labels_never_cut_inside_a_grapheme() -> None:
    family = "👨‍👩‍👧‍👦"
    assert shorten(family * 30, 20) == family * 2 + "…"  # 7 code points each: two fit in 19
    assert shorten("Flags 🇩🇰🇩🇰🇩🇰 and more words here", 12) == "Flags…"
    assert shorten("short", 60) == "short"


def test_space_examples_are_test_rows_with_a_trustworthy_label(tmp_path_factory: pytest.TempPathFactory) -> None:
    import yaml

    run = copy_of_trained_run(tmp_path_factory, "space-spec")
    spec = spec_for_run(run, MODEL, SPACE)
    scored = pd.read_parquet(run.report / "predictions.parquet")
    agreed = {(text, label) for text, label, predicted in zip(scored.text, scored.label, scored.predicted) if label == predicted}
    assert spec.examples and all((example.text, example.label) in agreed for example in spec.examples)
    assert [sample_style(example.text) for example in spec.examples] == [example.label for example in spec.examples]
    assert spec.trained_max_length == 32
    names = json.loads((run.model / "config.json").read_text())["id2label"].values()
    assert list(spec.label_definitions) == list(names)
    assert spec.label_definitions["Opinion"] == "States a personal view or preference without arguing for it."

    flagged = spec.examples[0]
    pd.DataFrame({"text": [flagged.text], "label": [flagged.label]}).to_csv(run.label_issues, index=False)
    assert flagged not in spec_for_run(run, MODEL, SPACE).examples  # the label-noise check's rows are never shown as true

    config = yaml.safe_load(run.config.read_text(encoding="utf-8"))
    config["card"]["prose"] = None
    run.config.write_text(yaml.safe_dump(config), encoding="utf-8")
    train = pd.read_parquet(run.split("train"))
    generic = spec_for_run(run, MODEL, SPACE).label_definitions["Opinion"]
    assert generic == f"no definition in the card; learned from {(train.label == 'Opinion').sum()} of {len(train)} labelled training comments."


@pytest.mark.browser
@pytest.mark.slow
def test_space_in_headless_chromium(space: RunningSpace, chromium: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    comment = space.test_texts(1)[0]
    expected = space.local_scores([comment])[0]
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.goto(space.url, wait_until="networkidle")

            link = page.get_by_role("link", name=MODEL)
            assert link.get_attribute("href") == f"{space.endpoint}/{MODEL}"
            expect(page.locator("#label-definitions")).to_contain_text("Opinion: States a personal view or preference")
            page.get_by_label("Comment", exact=True).fill(comment)
            page.get_by_role("button", name="Submit").click()
            top = page.get_by_test_id("label-output-value")
            expect(top).to_be_visible(timeout=60000)
            shown = max(expected, key=expected.get)
            assert top.inner_text() == shown
            for label, score in expected.items():
                meter = page.get_by_test_id(f"{label}-confidence-set").locator("meter")
                assert abs(float(meter.get_attribute("aria-valuenow")) - 100 * score) <= 1

            # an example of another label, shown as "true label: start of the text": a click classifies it
            example = next(example for example in spec_for_run(space.run, MODEL, SPACE).examples if example.label != shown)
            page.get_by_text(example.display, exact=True).click()
            expect(page.get_by_label("Comment", exact=True)).to_have_value(example.text)
            expect(top).to_have_text(example.label, timeout=60000)  # the model agrees with every example's label

            longer_than_trained = " ".join([comment] * 3)  # beyond the run's max_length of 32 tokens, within the model's 512
            page.get_by_label("Comment", exact=True).fill(longer_than_trained)
            page.get_by_role("button", name="Submit").click()
            expect(page.locator("#truncation-notice")).to_contain_text("trained and scored on texts cut at 32", timeout=60000)
            long_comment = " ".join([comment] * 60)  # beyond the model's 512 tokens
            page.get_by_label("Comment", exact=True).fill(long_comment)
            page.get_by_role("button", name="Submit").click()
            expect(page.locator("#truncation-notice")).to_contain_text("the model read only the first 512", timeout=60000)

            page.get_by_role("tab", name="Several comments").click()
            page.get_by_label("Comments, one per line").fill("\n".join(space.test_texts(3)))
            page.get_by_role("button", name="Classify all").click()
            table_rows = page.locator("#predictions").get_by_role("row")
            expect(table_rows).to_have_count(4, timeout=60000)  # header + one row per line
            assert re.search(r"\s[01]\.\d{1,4}\s*$", table_rows.nth(1).inner_text())  # scores as numbers from 0 to 1

            texts = space.test_texts(4) + [long_comment]
            upload = tmp_path / "comments.csv"
            pd.DataFrame({"id": range(len(texts)), "text": texts}).to_csv(upload, index=False)
            page.locator("input[type=file]").first.set_input_files(str(upload))
            expect(table_rows).to_have_count(len(texts) + 1, timeout=60000)
            expect(page.locator("#batch-truncation-notice")).to_contain_text(f"1 of {len(texts)} texts are longer than 512 tokens (rows {len(texts)})")
            with page.expect_download() as download:
                page.locator("#predictions-csv").get_by_test_id("download-link").click()
            assert re.fullmatch(r"predictions-.*\.csv", download.value.suggested_filename)
            predictions = pd.read_csv(download.value.path())
            labels = [max(scores, key=scores.get) for scores in space.local_scores(texts)]
            assert predictions["text"].tolist() == texts and predictions["label"].tolist() == labels
            assert predictions["score"].between(0, 1).all() and predictions["score"].dtype == float
            page.screenshot(path=str(tmp_path / "space.png"), full_page=True)
            assert not errors, errors
        finally:
            context.close()


def test_space_answers_gradio_client(space: RunningSpace, tmp_path: Path) -> None:
    from importlib.metadata import version

    from gradio_client import Client, handle_file
    from huggingface_hub import SpaceCard, hf_hub_download

    published = SpaceCard.load(hf_hub_download(SPACE, "README.md", repo_type="space", endpoint=space.endpoint)).data
    assert published.sdk_version == version("gradio")  # the gradio this running Space was started with
    client = Client(space.url, verbose=False)
    texts = space.test_texts(3)
    expected = space.local_scores(texts)
    answer, notice = client.predict(texts[0], api_name="/classify")
    assert not notice
    assert answer["label"] == max(expected[0], key=expected[0].get)
    assert {row["label"]: row["confidence"] for row in answer["confidences"]} == pytest.approx(expected[0], abs=1e-5)

    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    outputs = [output["label"] for name in ("/classify", "/classify_lines", "/classify_csv") for output in endpoints[name]["returns"]]
    assert "Length notice" in outputs and all(label and not label.startswith("value_") for label in outputs)  # named, not value_5

    table, _, predictions_csv = client.predict("\n".join(texts), api_name="/classify_lines")
    assert [row[2] for row in table["data"]] == pytest.approx([max(scores.values()) for scores in expected], abs=1e-4)  # numbers, not "80%"
    assert pd.read_csv(predictions_csv)["text"].tolist() == texts
    no_text_column = tmp_path / "comments.csv"
    no_text_column.write_text("comment\nhello\n", encoding="utf-8")
    with pytest.raises(Exception, match="comments.csv: no 'text' column \\(columns: comment\\)"):
        client.predict(handle_file(str(no_text_column)), api_name="/classify_csv")
    assert [row[:2] for row in table["data"]] == [[text, max(scores, key=scores.get)] for text, scores in zip(texts, expected)]


def test_space_answers_50_concurrent_requests(space: RunningSpace) -> None:
    from gradio_client import Client

    client = Client(space.url, verbose=False)
    texts = space.test_texts(50)
    expected = [max(scores, key=scores.get) for scores in space.local_scores(texts)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda text: client.predict(text, api_name="/classify"), texts))
    assert [scores["label"] for scores, _ in answers] == expected


def test_space_run_of_a_missing_space_is_one_line(hub, tmp_path: Path) -> None:
    from hubtools.errors import HubtoolsError
    from hubtools.space import download_space

    with pytest.raises(HubtoolsError, match=f"Space {ORG}/nothing-here .* not found on {hub.endpoint}") as raised:
        download_space(f"{ORG}/nothing-here", tmp_path, endpoint=hub.endpoint, token=None)
    assert "\n" not in str(raised.value)


SUBFOLDER_APP = """import http.server, os

from helper import ANSWER


class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(ANSWER.encode())


http.server.HTTPServer(("127.0.0.1", int(os.environ["GRADIO_SERVER_PORT"])), Answer).serve_forever()
"""


def test_local_space_runs_app_file_in_a_subfolder_and_refuses_one_outside(tmp_path: Path) -> None:
    space_dir = tmp_path / "space"
    (space_dir / "src").mkdir(parents=True)
    (space_dir / "README.md").write_text("---\nsdk: gradio\napp_file: src/app.py\n---\n")
    (space_dir / "app.py").write_text("raise SystemExit('the root app.py ran instead of src/app.py')\n")
    (space_dir / "src" / "app.py").write_text(SUBFOLDER_APP)
    (space_dir / "src" / "helper.py").write_text("ANSWER = 'src/app.py with its helper'\n")
    with LocalSpace(space_dir, port=free_port(), endpoint="http://127.0.0.1:9", token=None) as space:
        space.start(timeout=60)
        with urllib.request.urlopen(space.url, timeout=10) as response:
            assert response.read().decode() == "src/app.py with its helper"

    (tmp_path / "outside.py").write_text("print('not part of the Space')\n")
    (space_dir / "README.md").write_text("---\nsdk: gradio\napp_file: ../outside.py\n---\n")
    with pytest.raises(HubtoolsError, match="points outside the Space"):
        gradio_app_file(space_dir)
