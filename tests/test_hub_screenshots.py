"""A model, its dataset and its demo Space published to a Hub that runs Spaces, looked at in headless Chromium.

Screenshots (model page, its inference widget's answer, dataset page, dataset viewer, Space page with the running
app, the app itself, a new discussion form and the discussions after submitting it) are saved under
HUBTOOLS_SCREENSHOTS_DIR, or the test's temporary folder; the folder is printed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from browser_support import CHROMIUM_ARGS, chromium  # noqa: F401 (a fixture, used by name)
from hubtools.rundir import RunDir
from publishing_support import copy_of_trained_run, publish_run

ORG = "shots"
MODEL = f"{ORG}/tiny-sentiment"
DATASET = f"{ORG}/tiny-sentiment-data"
SPACE = f"{ORG}/tiny-sentiment-demo"
BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def published(hub, spaces_hub, tmp_path_factory: pytest.TempPathFactory) -> tuple[RunDir, str]:
    """Publish the tiny run (its base model named by its Hub id, seeded into this Hub) and wait for the Space;
    the run and the publishing token.

    `hub` answers huggingface_hub's card validation, which always goes to HF_ENDPOINT (RepoCard.validate has no
    endpoint argument); everything else goes to `spaces_hub`. Returns the publisher's token.
    """
    from hubtools.hub.seed import seed_base_models

    seed_base_models(spaces_hub.root)
    run = copy_of_trained_run(tmp_path_factory, "screenshots")
    config = yaml.safe_load(run.config.read_text(encoding="utf-8"))
    run.config.write_text(yaml.safe_dump({**config, "model": BASE_MODEL}, sort_keys=False), encoding="utf-8")
    token = spaces_hub.token("shooter", [ORG])
    publish_run(run, MODEL, token, endpoint=spaces_hub.endpoint, dataset_repo_id=DATASET, space_repo_id=SPACE,
                render_card=True)
    runtime = spaces_hub.api(token).wait_for_space(SPACE, timeout=600)
    assert runtime.stage == "RUNNING", runtime.raw
    return run, token


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("HUBTOOLS_SCREENSHOTS_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nScreenshots in {folder}")
    return folder


def predict_through_the_hub(endpoint: str, text: str) -> dict:
    """gradio_client.Client("ORG/NAME-demo") as a user runs it against huggingface.co, with HF_ENDPOINT = this Hub."""
    script = ("import json, sys\nfrom gradio_client import Client\n"
              f"print(json.dumps(Client({SPACE!r}, verbose=False).predict(sys.argv[1], api_name='/classify')[0]))")  # [0]: scores; [1] is the truncation notice
    environment = {**os.environ, "HF_ENDPOINT": endpoint, "GRADIO_ANALYTICS_ENABLED": "False"}
    done = subprocess.run([sys.executable, "-c", script, text], env=environment, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.browser
@pytest.mark.slow
def test_model_dataset_and_space_pages_in_chromium(spaces_hub, published, chromium, screenshots, tmp_path) -> None:
    from playwright.sync_api import expect, sync_playwright
    from transformers import pipeline

    answer = predict_through_the_hub(spaces_hub.endpoint, "what a wonderful film")
    expected = pipeline("text-classification", model=str(published[0].model))("what a wonderful film", top_k=None, truncation=True)
    assert answer["label"] == expected[0]["label"]  # the Space runs the published weights, as PyTorch here does
    space_scores = {row["label"]: row["confidence"] for row in answer["confidences"]}
    assert space_scores == pytest.approx({row["label"]: row["score"] for row in expected}, abs=1e-3)
    host = spaces_hub.api().space_info(SPACE).host
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            page = context.new_page()
            refused: list[str] = []  # what the pages' Content-Security-Policy blocked (Chromium logs each refusal)
            page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None)
            page.goto(f"{spaces_hub.endpoint}/{MODEL}", wait_until="networkidle")
            for chip in ("license", "language", "task", "base model", "dataset"):
                expect(page.locator(f'[data-chip="{chip}"]').first).to_be_visible()
            expect(page.locator('[data-chip="base model"] a')).to_have_attribute("href", f"/{BASE_MODEL}")
            expect(page.locator('[data-chip="dataset"] a').first).to_have_attribute("href", f"/datasets/{DATASET}")
            expect(page.locator(".eval-results")).to_contain_text(re.compile(r"\d\.\d+"))
            details = page.locator("article details").first
            details.locator("summary").click()
            expect(details.locator("table").first).to_be_visible()  # the card's first folded section: training examples
            expect(page.locator("article")).not_to_contain_text("model-index")  # front matter stays out of the card
            expect(page.locator(".model-size")).to_contain_text(re.compile(r"[\d.]+M params"))
            expect(page.locator(".related")).to_contain_text(SPACE)  # "Spaces using this model"
            page.screenshot(path=str(screenshots / "model-page.png"), full_page=True)

            page.locator("#widget textarea").fill("what a wonderful film")
            page.locator("#widget button", has_text="Compute").click()
            expect(page.locator("#widget .scores tr").first).to_contain_text(answer["label"], timeout=120000)  # as the Space says
            page.locator("#widget").screenshot(path=str(screenshots / "model-widget.png"))

            page.goto(f"{spaces_hub.endpoint}/datasets/{DATASET}", wait_until="networkidle")
            expect(page.locator('[data-chip="license"]').first).to_be_visible()
            expect(page.locator("article h1, article h2").first).to_be_visible()
            expect(page.locator(".related")).to_contain_text(MODEL)  # "Models trained on this dataset"
            page.screenshot(path=str(screenshots / "dataset-page.png"), full_page=True)

            page.goto(f"{spaces_hub.endpoint}/datasets/{DATASET}/viewer", wait_until="networkidle")
            for split in ("train", "test"):
                expect(page.locator(f'[data-split="{split}"] table.rows tr').nth(1)).to_be_visible()
            page.screenshot(path=str(screenshots / "dataset-viewer.png"), full_page=True)
            model_message = spaces_hub.api().list_repo_commits(MODEL)[0].title
            for repo, repo_type in ((DATASET, "datasets"), (SPACE, "spaces")):  # each repo's own commit message
                page.goto(f"{spaces_hub.endpoint}/{repo_type}/{repo}/commits/main", wait_until="networkidle")
                expect(page.locator(".commit-list li").first).to_contain_text(MODEL)
                expect(page.locator(".commit-list li").first).not_to_contain_text(model_message)
            page.locator(".commit-list li a").first.click()
            expect(page.locator(".commit-message code").first).to_have_text("hubtools publish")  # Markdown, no backticks

            page.goto(f"{spaces_hub.endpoint}/{MODEL}/discussions", wait_until="networkidle")
            page.get_by_role("link", name="New discussion").click()
            page.locator('input[name="title"]').fill("Does it handle sarcasm?")
            page.locator('textarea[name="description"]').fill("Asking for a friend.")
            page.locator('input[name="token"]').fill(published[1])
            page.screenshot(path=str(screenshots / "new-discussion.png"), full_page=True)
            page.get_by_role("button", name="Create discussion").click()
            expect(page.locator(".commit-list")).to_contain_text("Does it handle sarcasm?")
            assert published[1] not in page.content()
            page.screenshot(path=str(screenshots / "discussions.png"), full_page=True)

            page.goto(f"{spaces_hub.endpoint}/spaces/{SPACE}", wait_until="networkidle")
            expect(page.locator("#space-stage")).to_have_text("RUNNING")
            app = page.frame_locator("iframe.app")
            expect(app.get_by_role("textbox").first).to_be_visible(timeout=60000)
            expect(page.locator("article.card")).to_have_count(0)  # the app, not its README (huggingface.co shows the app only)
            page.screenshot(path=str(screenshots / "space-page.png"))
            assert refused == []  # the policy blocks nothing the pages use, the Space's iframe included

            page.get_by_role("link", name="Logs").click()  # lines of the app's output, not the API's event stream
            expect(page.locator("pre.log")).to_contain_text("Running on")
            assert "data: {" not in page.locator("pre.log").inner_text()
            page.screenshot(path=str(screenshots / "space-logs.png"), full_page=True)

            page.goto(host, wait_until="networkidle")
            page.get_by_role("textbox").first.fill("what a wonderful film")
            page.get_by_role("button", name=re.compile("submit|classify", re.IGNORECASE)).first.click()
            top = page.get_by_test_id("label-output-value")
            expect(top).to_have_text(answer["label"], timeout=60000)  # the browser and gradio_client agree
            page.screenshot(path=str(screenshots / "space-app.png"), full_page=True)
        finally:
            context.close()
    assert all((screenshots / name).stat().st_size > 10_000 for name in
               ("model-page.png", "dataset-page.png", "dataset-viewer.png", "space-page.png", "space-logs.png", "space-app.png",
                "new-discussion.png", "discussions.png"))
    assert (screenshots / "model-widget.png").stat().st_size > 2_000
