"""Repo pages of the embedded Hub, as a browser gets them: sanitized cards, chips, files, history, pull requests."""

from __future__ import annotations

import uuid
from html.parser import HTMLParser

import httpx
import pytest
from huggingface_hub import CommitOperationAdd

from hubtools.hub.markdown import render_card

ORG = "pages"
CARD = """---
license: apache-2.0
language: [en, fr]
pipeline_tag: text-classification
base_model: sentence-transformers/all-MiniLM-L6-v2
datasets: [pages/comments]
tags: [hubtools]
secret_front_matter_key: should-not-be-inline
model-index:
- name: tiny
  results:
  - task: {type: text-classification}
    dataset: {name: Comments, type: pages/comments, split: test}
    metrics:
    - {type: f1, name: Macro F1, value: 0.87345678}
---
# Tiny classifier

<details><summary>Training details</summary>

| column | a very long header that makes the table wide | another | another | another |
|---|---|---|---|---|
| 1 | 2 | 3 | 4 | 5 |

</details>

![confusion](plots/confusion_matrix.png)
<img src="plots/curve.png" onerror="alert('img')">
<script>alert('script')</script>
<a href="javascript:alert('link')" onclick="alert('click')">click me</a>
<a href="jAvAsCrIpT:alert('mixed')">mixed case</a>
[config](training_config.yaml)
<svg onload="alert('svg')"></svg><iframe src="https://example.com"></iframe><style>body{display:none}</style>
"""


class Elements(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


@pytest.fixture(scope="module")
def writer(hub) -> str:
    return hub.token("paige", [ORG])


@pytest.fixture(scope="module")
def model(hub, writer) -> str:
    repo_id = f"{ORG}/tiny-{uuid.uuid4().hex[:6]}"
    api = hub.api(writer)
    api.create_repo(repo_id)
    api.create_commit(repo_id, [
        CommitOperationAdd("README.md", CARD.encode()),
        CommitOperationAdd("plots/confusion_matrix.png", b"\x89PNG\r\n\x1a\nnot really"),
        CommitOperationAdd("training_config.yaml", b"seed: 1\nlearning_rate: 0.0001\n"),
    ], commit_message="Add card")
    api.create_commit(repo_id, [CommitOperationAdd("training_config.yaml", b"seed: 2\nlearning_rate: 0.0001\n")],
                      commit_message="Change the seed", commit_description="Seed 2 is luckier")
    api.create_commit(repo_id, [CommitOperationAdd("notes.txt", b"draft")], commit_message="Proposal", create_pr=True)
    api.create_discussion(repo_id, title="Which seed is best?")
    return repo_id


def page(hub, path: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(hub.endpoint + path, headers=headers)


def test_card_html_is_sanitized_and_relative_links_resolve() -> None:
    html = render_card(CARD.split("---\n", 2)[2], "/pages/tiny", "main")
    lowered = html.lower()
    assert "<script" not in lowered and "alert('script')" not in html
    assert "onerror" not in lowered and "onclick" not in lowered and "onload" not in lowered
    assert "javascript:" not in lowered and "<iframe" not in lowered and "<style" not in lowered
    elements = Elements(html)
    assert [a.get("href") for a in elements.all("a") if "href" in a] == ["/pages/tiny/blob/main/training_config.yaml"]
    assert [img["src"] for img in elements.all("img")] == [
        "/pages/tiny/resolve/main/plots/confusion_matrix.png", "/pages/tiny/resolve/main/plots/curve.png"]
    assert elements.all("details") and elements.all("summary") and elements.all("table")
    assert "click me" in html  # the link text stays, only its href and handler go


def test_model_page_chips_eval_box_and_hidden_front_matter(hub, model) -> None:
    response = page(hub, f"/{model}")
    assert response.status_code == 200
    html = response.text
    elements = Elements(html)
    chips = {chip["data-chip"] for chip in elements.all("span") if "data-chip" in chip}
    assert chips >= {"license", "language", "task", "base model", "dataset", "tag"}
    links = {a.get("href") for a in elements.all("a")}
    assert "/sentence-transformers/all-MiniLM-L6-v2" in links and "/datasets/pages/comments" in links
    assert "Evaluation results" in html and "Macro F1" in html and "0.8735" in html
    article = html[html.index("<article"):html.index("</article>")]
    assert "secret_front_matter_key" not in article and "model-index" not in article  # front matter only in the box
    assert "<details" in article and "<summary>Training details</summary>" in article
    assert "<script" not in html.lower() and "onerror" not in html and "javascript:" not in html.lower()
    assert f'src="/{model}/resolve/main/plots/confusion_matrix.png"' in article
    assert httpx.get(f"{hub.endpoint}/{model}/resolve/main/plots/confusion_matrix.png").status_code == 200


def test_tree_blob_commits_commit_and_discussions_pages(hub, model) -> None:
    tree = page(hub, f"/{model}/tree/main")
    assert tree.status_code == 200
    assert f'href="/{model}/tree/main/plots"' in tree.text and f'href="/{model}/blob/main/README.md"' in tree.text
    assert "Change the seed" in tree.text  # last commit of training_config.yaml
    folder = page(hub, f"/{model}/tree/main/plots")
    assert folder.status_code == 200 and f'href="/{model}/blob/main/plots/confusion_matrix.png"' in folder.text
    assert page(hub, f"/{model}/tree/main/nothing").status_code == 404

    blob = page(hub, f"/{model}/blob/main/training_config.yaml")
    assert blob.status_code == 200 and "seed: 2" in blob.text and f'href="/{model}/resolve/main/training_config.yaml"' in blob.text
    assert page(hub, f"/{model}/blob/main/missing.txt").status_code == 404

    commits = page(hub, f"/{model}/commits/main")
    titles = [title for title in ("Change the seed", "Add card", "initial commit") if title in commits.text]
    assert titles == ["Change the seed", "Add card", "initial commit"]
    assert commits.text.index("Change the seed") < commits.text.index("Add card")

    head = hub.api().model_info(model).sha
    commit = page(hub, f"/{model}/commit/{head}")
    assert commit.status_code == 200 and "1 file changed" in commit.text and "Seed 2 is luckier" in commit.text
    assert "-seed: 1" in commit.text and "+seed: 2" in commit.text
    first = page(hub, f"/{model}/commit/{head[:7]}")  # short ids resolve too
    assert first.status_code == 200

    discussions = page(hub, f"/{model}/discussions")
    assert discussions.status_code == 200 and "Proposal" in discussions.text and "#1" in discussions.text
    assert "Which seed is best?" in discussions.text and "#2" in discussions.text and "discussion" in discussions.text
    pr_tree = page(hub, f"/{model}/tree/refs%2Fpr%2F1")
    assert pr_tree.status_code == 200 and "notes.txt" in pr_tree.text


def test_dataset_and_space_pages_and_private_repos(hub, writer) -> None:
    api = hub.api(writer)
    dataset, space, private = (f"{ORG}/{name}-{uuid.uuid4().hex[:6]}" for name in ("data", "demo", "secret"))
    api.create_repo(dataset, repo_type="dataset")
    api.upload_file(path_or_fileobj=b"---\nlicense: cc-by-4.0\ntask_categories: [text-classification]\n---\n# Comments\n",
                    path_in_repo="README.md", repo_id=dataset, repo_type="dataset")
    api.create_repo(space, repo_type="space", space_sdk="gradio")
    api.create_repo(private, private=True)
    for path in (f"/datasets/{dataset}", f"/datasets/{dataset}/tree/main", f"/datasets/{dataset}/blob/main/README.md",
                 f"/datasets/{dataset}/commits/main", f"/datasets/{dataset}/discussions",
                 f"/spaces/{space}", f"/spaces/{space}/tree/main", f"/spaces/{space}/commits/main"):
        assert page(hub, path).status_code == 200, path
    dataset_page = page(hub, f"/datasets/{dataset}").text
    assert 'data-chip="license"' in dataset_page and "cc-by-4.0" in dataset_page and "Dataset card" in dataset_page
    assert "NO_APP_FILE" in page(hub, f"/spaces/{space}").text
    for path in (f"/{private}", f"/{private}/tree/main", f"/{private}/commits/main", f"/{private}/discussions"):
        assert page(hub, path).status_code == 404, path
        assert page(hub, path, writer).status_code == 200, path
    assert page(hub, f"/{private}", hub.token("stranger")).status_code == 404
    assert private not in page(hub, "/").text and dataset in page(hub, "/").text


def test_pages_send_csp_nosniff_and_refuse_framing(hub, model) -> None:
    for path in ("/", f"/{model}", f"/{model}/tree/main", f"/{model}/blob/main/README.md", f"/{model}/commits/main",
                 f"/{model}/discussions"):
        headers = page(hub, path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
        policy = {part.split()[0]: part.split()[1:] for part in headers["content-security-policy"].split("; ")}
        assert policy["script-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"], path
        assert policy["frame-src"] == ["http://127.0.0.1:*"], path  # the Space page frames its app on loopback
