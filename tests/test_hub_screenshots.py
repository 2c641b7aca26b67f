"""A model, its dataset and its demo Space published to a Hub that runs Spaces, looked at in headless Chromium.

Screenshots (model page, dataset page, Space page with the running app, the app itself) are saved under
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
from publishing_support import copy_of_trained_run, publish_run

ORG = "shots"
MODEL = f"{ORG}/tiny-sentiment"
DATASET = f"{ORG}/tiny-sentiment-data"
SPACE = f"{ORG}/tiny-sentiment-demo"
BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def published(hub, spaces_hub, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Publish the tiny run (its base model named by its Hub id, seeded into this Hub) and wait for the Space.

    `hub` answers huggingface_hub's card validation, which always goes to HF_ENDPOINT (RepoCard.validate has no
    endpoint argument); everything else goes to `spaces_hub`.
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

    answer = predict_through_the_hub(spaces_hub.endpoint, "what a wonderful film")
    assert answer["label"] in {row["label"] for row in answer["confidences"]}
    host = spaces_hub.api().space_info(SPACE).host
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            page = context.new_page()
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
            page.screenshot(path=str(screenshots / "model-page.png"), full_page=True)

            page.goto(f"{spaces_hub.endpoint}/datasets/{DATASET}", wait_until="networkidle")
            expect(page.locator('[data-chip="license"]').first).to_be_visible()
            expect(page.locator("article h1, article h2").first).to_be_visible()
            page.screenshot(path=str(screenshots / "dataset-page.png"), full_page=True)

            page.goto(f"{spaces_hub.endpoint}/spaces/{SPACE}", wait_until="networkidle")
            expect(page.locator("#space-stage")).to_have_text("RUNNING")
            app = page.frame_locator("iframe.app")
            expect(app.get_by_role("textbox").first).to_be_visible(timeout=60000)
            page.screenshot(path=str(screenshots / "space-page.png"))

            page.goto(host, wait_until="networkidle")
            page.get_by_role("textbox").first.fill("what a wonderful film")
            page.get_by_role("button", name=re.compile("submit|classify", re.IGNORECASE)).first.click()
            top = page.get_by_test_id("label-output-value")
            expect(top).to_have_text(answer["label"], timeout=60000)  # the browser and gradio_client agree
            page.screenshot(path=str(screenshots / "space-app.png"), full_page=True)
        finally:
            context.close()
    assert all((screenshots / name).stat().st_size > 10_000 for name in
               ("model-page.png", "dataset-page.png", "space-page.png", "space-app.png"))
