"""The demo Space for real: published to the embedded Hub, fetched and run by `hubtools space run`,
then driven in headless Chromium, through gradio_client, and with 50 concurrent requests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from hubtools.rundir import RunDir
from hubtools.hub.server import free_port
from hubtools.space import SpaceSpec, pick_examples, render_space
from browser_support import CHROMIUM_ARGS, chromium  # noqa: F401 (a fixture, used by name)
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
        return [{row["label"]: row["score"] for row in output} for output in classifier(texts, top_k=None)]

    def test_texts(self, count: int) -> list[str]:
        texts = pd.read_parquet(self.run.split("test"))["text"].tolist()
        return (texts * (count // len(texts) + 1))[:count]


def _wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`hubtools space run` exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the Space did not answer on {url}:\n{log.read_text()[-3000:]}")


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
        _wait_for(url, process, log)
        os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # gradio_client only honours the variable
        yield RunningSpace(url, run, hub.endpoint)
    finally:
        process.send_signal(signal.SIGTERM)  # `space run` stops the app it started, as on Ctrl+C
        process.wait(timeout=30)


def test_rendered_space_front_matter(tmp_path: Path) -> None:
    from importlib.metadata import version

    from huggingface_hub import SpaceCard

    folder = render_space(SpaceSpec(model_repo_id="ADS509/model", space_repo_id="ADS509/model-demo", examples=["it's \"fine\""]), tmp_path)
    data = SpaceCard.load(folder / "README.md").data
    assert (data.sdk, data.sdk_version, data.app_file, data.models) == ("gradio", version("gradio"), "app.py", ["ADS509/model"])
    assert data.title and data.emoji and data.colorFrom and data.colorTo
    app = (folder / "app.py").read_text(encoding="utf-8")
    compile(app, "app.py", "exec")
    assert "MODEL_ID = 'ADS509/model'" in app and "EXAMPLES = ['it\\'s \"fine\"']" in app
    assert (folder / "requirements.txt").read_text(encoding="utf-8").startswith(f"transformers=={version('transformers')}")


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
            example = pick_examples(space.run.split("test"))[0]  # examples are comments of the test split
            page.get_by_text(example[:30]).first.click()  # long examples are shown shortened
            expect(page.get_by_label("Comment", exact=True)).to_have_value(example)
            page.get_by_label("Comment", exact=True).fill(comment)
            page.get_by_role("button", name="Submit").click()
            top = page.get_by_test_id("label-output-value")
            expect(top).to_be_visible(timeout=60000)
            assert top.inner_text() == max(expected, key=expected.get)
            for label, score in expected.items():
                meter = page.get_by_test_id(f"{label}-confidence-set").locator("meter")
                assert abs(float(meter.get_attribute("aria-valuenow")) - 100 * score) <= 1

            page.get_by_role("tab", name="Several comments").click()
            page.get_by_label("Comments, one per line").fill("\n".join(space.test_texts(3)))
            page.get_by_role("button", name="Classify all").click()
            expect(page.get_by_role("row")).to_have_count(4, timeout=60000)  # header + one row per line
            page.screenshot(path=str(tmp_path / "space.png"), full_page=True)
            assert not errors, errors
        finally:
            context.close()


def test_space_answers_gradio_client(space: RunningSpace) -> None:
    from gradio_client import Client

    client = Client(space.url, verbose=False)
    texts = space.test_texts(3)
    expected = space.local_scores(texts)
    answer = client.predict(texts[0], api_name="/classify")
    assert answer["label"] == max(expected[0], key=expected[0].get)
    assert {row["label"]: row["confidence"] for row in answer["confidences"]} == pytest.approx(expected[0], abs=1e-5)

    table = client.predict("\n".join(texts), api_name="/classify_lines")
    assert [row[:2] for row in table["data"]] == [[text, max(scores, key=scores.get)] for text, scores in zip(texts, expected)]


def test_space_answers_50_concurrent_requests(space: RunningSpace) -> None:
    from gradio_client import Client

    client = Client(space.url, verbose=False)
    texts = space.test_texts(50)
    expected = [max(scores, key=scores.get) for scores in space.local_scores(texts)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda text: client.predict(text, api_name="/classify"), texts))
    assert [answer["label"] for answer in answers] == expected


def test_space_run_of_a_missing_space_is_one_line(hub, tmp_path: Path) -> None:
    from hubtools.errors import HubtoolsError
    from hubtools.space import download_space

    with pytest.raises(HubtoolsError, match=f"Space {ORG}/nothing-here .* not found on {hub.endpoint}") as raised:
        download_space(f"{ORG}/nothing-here", tmp_path, endpoint=hub.endpoint, token=None)
    assert "\n" not in str(raised.value)
