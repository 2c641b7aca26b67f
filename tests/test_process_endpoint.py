"""`hubtools.process_endpoint`, the one place left that reaches into huggingface_hub's constants and transformers'
kept HfApi (audit and reproduce still use it; the quickstart downloads through `hubtools.downloads` instead),
checked against the installed versions. That no other module does is tests/test_layout.py's guard."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ELSEWHERE = "http://127.0.0.1:9"


@pytest.fixture()
def restored(monkeypatch):
    """Whatever the test changes in this process is put back after it."""
    from huggingface_hub import constants
    from transformers.utils import hub as transformers_hub

    import datasets.config

    for name in ("ENDPOINT", "HUGGINGFACE_CO_URL_TEMPLATE", "HF_HUB_CACHE"):
        monkeypatch.setattr(constants, name, getattr(constants, name))
    for name in ("HF_ENDPOINT", "HUB_DATASETS_URL"):
        monkeypatch.setattr(datasets.config, name, getattr(datasets.config, name))
    monkeypatch.setattr(transformers_hub, "_hf_api", transformers_hub.hf_api())
    for variable in ("HF_ENDPOINT", "HF_HUB_CACHE"):
        monkeypatch.setenv(variable, os.environ.get(variable, ""))


def test_point_process_at_moves_every_download_without_an_endpoint(restored, tmp_path: Path) -> None:
    from huggingface_hub import constants, hf_hub_url
    from transformers.utils import hub as transformers_hub

    from hubtools.process_endpoint import point_process_at

    assert transformers_hub.hf_api().endpoint != ELSEWHERE
    point_process_at(ELSEWHERE, tmp_path / "cache")

    assert hf_hub_url("org/name", "config.json") == f"{ELSEWHERE}/org/name/resolve/main/config.json"  # hf_hub_download's URL
    assert transformers_hub.hf_api().endpoint == ELSEWHERE  # the HfApi transformers lists chat templates with
    assert constants.HF_HUB_CACHE == str(tmp_path / "cache")
    assert (os.environ["HF_ENDPOINT"], os.environ["HF_HUB_CACHE"]) == (ELSEWHERE, str(tmp_path / "cache"))  # child processes


def test_process_endpoint_moves_datasets_too_and_puts_everything_back(restored) -> None:
    import datasets.config
    from huggingface_hub import constants, hf_hub_url

    from hubtools.process_endpoint import process_endpoint

    before = constants.ENDPOINT, datasets.config.HF_ENDPOINT, os.environ["HF_ENDPOINT"]
    with process_endpoint(ELSEWHERE):
        assert hf_hub_url("org/name", "config.json").startswith(ELSEWHERE)
        assert datasets.config.HF_ENDPOINT == ELSEWHERE  # load_dataset("org/name") reads its own copy
        assert datasets.config.HUB_DATASETS_URL.startswith(ELSEWHERE)
        assert os.environ["HF_ENDPOINT"] == ELSEWHERE
    assert (constants.ENDPOINT, datasets.config.HF_ENDPOINT, os.environ["HF_ENDPOINT"]) == (before[0], before[0], before[2])
