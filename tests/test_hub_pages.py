"""Repo pages of the embedded Hub, as a browser gets them: sanitized cards, chips, files, history, pull requests."""

from __future__ import annotations

import uuid
from html.parser import HTMLParser

import httpx
import pytest
from huggingface_hub import CommitOperationAdd

from hubtools.hub.markdown import render_card
from hub_support import write_tiny_bert

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
                 f"/{model}/discussions", f"/{model}/discussions/new"):
        headers = page(hub, path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
        policy = {part.split()[0]: part.split()[1:] for part in headers["content-security-policy"].split("; ")}
        assert policy["script-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"], path
        assert policy["frame-src"] == ["http://127.0.0.1:*"], path  # the Space page frames its app on loopback
        assert policy["form-action"] == ["'self'"], path  # the widget and new-discussion forms post to the Hub only
WIDGET_CARD = """---
license: apache-2.0
pipeline_tag: text-classification
datasets: [{dataset}]
widget:
- text: what a lovely day
- text: this is <b>awful</b>
model-index:
- name: tiny-bert
  results:
  - task: {{type: text-classification}}
    dataset: {{name: Comments, type: {dataset}, split: test}}
    metrics:
    - {{type: f1, name: Macro F1, value: 0.5}}
---
# Tiny BERT
"""


@pytest.fixture(scope="module")
def dataset_repo(hub, writer, tmp_path_factory) -> str:
    """A dataset repo with train and test Parquet splits (ClassLabel labels, one text that looks like HTML)."""
    import datasets

    repo_id = f"{ORG}/comments-{uuid.uuid4().hex[:6]}"
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})
    folder = tmp_path_factory.mktemp("dataset")
    for split, texts in (("train", [f"train row {i}" for i in range(30)]), ("test", ["<script>alert(1)</script>", "fine"])):
        rows = {"text": texts, "label": [i % 2 for i in range(len(texts))]}
        datasets.Dataset.from_dict(rows, features=features).to_parquet(str(folder / f"{split}.parquet"))
    api = hub.api(writer)
    api.create_repo(repo_id, repo_type="dataset")
    api.create_commit(repo_id, [
        CommitOperationAdd("README.md", b"---\nlicense: cc-by-4.0\n---\n# Comments\n"),
        CommitOperationAdd("data/train.parquet", str(folder / "train.parquet")),
        CommitOperationAdd("data/test-00000-of-00001.parquet", str(folder / "test.parquet")),
    ], repo_type="dataset", commit_message="Add splits")
    return repo_id


@pytest.fixture(scope="module")
def tiny_bert(hub, writer, dataset_repo, tmp_path_factory) -> tuple[str, int]:
    """A text-classification model repo (random 1-layer BERT, safetensors) whose card has widget examples;
    returns its id and its parameter count."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    parameters = write_tiny_bert(folder)
    (folder / "README.md").write_text(WIDGET_CARD.format(dataset=dataset_repo), encoding="utf-8")
    repo_id = f"{ORG}/tiny-bert-{uuid.uuid4().hex[:6]}"
    api = hub.api(writer)
    api.create_repo(repo_id)
    api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message="Add the model")
    return repo_id, parameters


def post_form(hub, path: str, fields: dict[str, str], token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(hub.endpoint + path, data=fields, headers=headers, timeout=300)


def test_widget_runs_the_model_on_the_hub_and_is_bounded(hub, tiny_bert) -> None:
    from hubtools.hub.widget import MAX_INPUT_CHARS

    repo_id, _ = tiny_bert
    html = page(hub, f"/{repo_id}").text
    widget = html[html.index('id="widget"'):]
    assert f'action="/{repo_id}#widget"' in widget and 'name="text"' in widget
    assert 'value="what a lovely day"' in widget and "this is &lt;b&gt;awful&lt;/b&gt;" in widget  # examples, escaped
    answer = post_form(hub, f"/{repo_id}", {"text": "what a lovely day"})
    assert answer.status_code == 200
    scores = answer.text[answer.text.index('class="scores"'):]
    assert "negative" in scores and "positive" in scores and "%" in scores
    assert post_form(hub, f"/{repo_id}", {"text": "x" * (MAX_INPUT_CHARS + 1)}).status_code == 400
    assert post_form(hub, f"/{repo_id}", {"text": "  "}).status_code == 400
    assert post_form(hub, "/pages/no-such-model", {"text": "hi"}).status_code == 404


def test_widget_refuses_a_model_without_weights_and_never_loads_pickles(hub, model) -> None:
    assert 'id="widget"' not in page(hub, f"/{model}").text  # card says text-classification, but no weights
    assert post_form(hub, f"/{model}", {"text": "hi"}).status_code == 404


def test_model_info_and_page_show_size_widget_data_and_model_index(hub, tiny_bert) -> None:
    repo_id, parameters = tiny_bert
    info = hub.api().model_info(repo_id)
    assert info.safetensors is not None and info.safetensors.total == parameters
    assert info.safetensors.parameters == {"F32": parameters}
    assert info.widget_data == [{"text": "what a lovely day"}, {"text": "this is <b>awful</b>"}]
    assert info.model_index and info.model_index[0]["name"] == "tiny-bert" and info.card_data["pipeline_tag"] == "text-classification"
    html = page(hub, f"/{repo_id}").text
    size = html[html.index('class="box model-size"'):]
    assert f"{parameters / 1e6:.3g}M params" in size and "F32" in size


def test_spaces_using_a_model_and_models_trained_on_a_dataset(hub, writer, tiny_bert, dataset_repo) -> None:
    repo_id, _ = tiny_bert
    api = hub.api(writer)
    space, hidden = (f"{ORG}/{name}-{uuid.uuid4().hex[:6]}" for name in ("demo", "hidden-demo"))
    for space_id, private in ((space, False), (hidden, True)):
        api.create_repo(space_id, repo_type="space", space_sdk="static", private=private)
        api.upload_file(path_or_fileobj=f"---\nsdk: static\nmodels: [{repo_id}]\n---\n".encode(), path_in_repo="README.md",
                        repo_id=space_id, repo_type="space")
    related = page(hub, f"/{repo_id}").text
    related = related[related.index('class="box related"'):]
    assert "Spaces using this model" in related and f'href="/spaces/{space}"' in related
    assert hidden not in related  # private to strangers
    assert hidden in page(hub, f"/{repo_id}", writer).text
    dataset_page = page(hub, f"/datasets/{dataset_repo}").text
    models = dataset_page[dataset_page.index('class="box related"'):]
    assert "Models trained on this dataset" in models and f'href="/{repo_id}"' in models


def test_dataset_viewer_shows_the_first_rows_of_each_split_escaped(hub, dataset_repo) -> None:
    from hubtools.hub.viewer import PREVIEW_ROWS, VIEWER_ROWS

    viewer = page(hub, f"/datasets/{dataset_repo}/viewer")
    assert viewer.status_code == 200
    html = viewer.text
    assert html.index('data-split="train"') < html.index('data-split="test"')
    train = html[html.index('data-split="train"'):html.index('data-split="test"')]
    assert train.count("train row ") == VIEWER_ROWS and "30 rows" in train and "neg (0)" in train and "pos (1)" in train
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    card_page = page(hub, f"/datasets/{dataset_repo}").text
    assert f'href="/datasets/{dataset_repo}/viewer"' in card_page and card_page.count("train row ") == PREVIEW_ROWS
    assert page(hub, "/datasets/pages/no-such-data/viewer").status_code == 404


def test_new_discussion_and_pull_request_from_the_browser(hub, writer, model) -> None:
    form = page(hub, f"/{model}/discussions/new")
    assert form.status_code == 200 and 'name="title"' in form.text and 'type="password"' in form.text
    assert 'href="/' + model + '/discussions/new?pull_request=1"' in page(hub, f"/{model}/discussions").text
    path = f"/{model}/discussions/new"
    anonymous = post_form(hub, path, {"title": "Anonymous question", "description": "hi"})
    assert anonymous.status_code == 401 and "Anonymous question" in anonymous.text  # what was typed comes back
    wrong = post_form(hub, path, {"title": "Wrong token", "token": "hf_not-a-real-token-123"})
    assert wrong.status_code == 401 and "hf_not-a-real-token-123" not in wrong.text
    short = post_form(hub, path, {"title": "ab", "token": writer})
    assert short.status_code == 400 and writer not in short.text
    reader = hub.token("reader", [ORG], read_only=True)
    created = post_form(hub, path, {"title": "Is the seed fixed?", "description": "Asking **politely**", "token": writer})
    assert created.status_code == 303 and created.headers["location"].startswith(f"/{model}/discussions#discussion-")
    pull = post_form(hub, path, {"title": "Better seed", "pull_request": "1", "token": writer})
    assert pull.status_code == 303
    api = hub.api()
    found = {d.title: d for d in api.get_repo_discussions(model)}
    assert not found["Is the seed fixed?"].is_pull_request and found["Is the seed fixed?"].author == "paige"
    assert found["Better seed"].is_pull_request
    assert f"refs/pr/{found['Better seed'].num}" in {ref.ref for ref in api.list_repo_refs(model, include_pull_requests=True).pull_requests}
    refused = post_form(hub, path, {"title": "Reader's PR", "pull_request": "1", "token": reader})
    assert refused.status_code == 403 and reader not in refused.text


def test_blob_line_numbers_history_and_tree_last_commit(hub, model) -> None:
    blob = page(hub, f"/{model}/blob/main/training_config.yaml").text
    assert 'id="L1"' in blob and 'href="#L2"' in blob and 'id="L3"' not in blob
    assert f'href="/{model}/resolve/main/training_config.yaml">raw</a>' in blob
    assert f'href="/{model}/commits/main/training_config.yaml"' in blob
    history = page(hub, f"/{model}/commits/main/training_config.yaml").text
    assert "Change the seed" in history and "Add card" in history and "initial commit" not in history
    head = hub.api().model_info(model).sha
    tree = page(hub, f"/{model}/tree/main").text
    header = tree[tree.index('class="last-commit'):tree.index('<table class="files">')]
    assert "Change the seed" in header and head[:7] in header and "UTC" in header
    plots = page(hub, f"/{model}/tree/main/plots").text
    assert "Add card" in plots[plots.index('class="last-commit'):plots.index('<table class="files">')]


def test_commit_descriptions_render_as_markdown(hub, writer) -> None:
    api = hub.api(writer)
    repo_id = f"{ORG}/notes-{uuid.uuid4().hex[:6]}"
    api.create_repo(repo_id)
    info = api.create_commit(repo_id, [CommitOperationAdd("notes.md", b"notes")], commit_message="Add notes",
                             commit_description="Published with `hubtools publish`.")
    html = page(hub, f"/{repo_id}/commit/{info.oid}").text
    message = html[html.index('class="card commit-message"'):]
    assert "<code>hubtools publish</code>" in message and "`" not in message.split("</div>")[0]


def test_each_published_repo_gets_its_own_commit_message(tmp_path) -> None:
    from hubtools.publish import PublishOptions
    from hubtools.publish.commit import commit_message

    options = PublishOptions(repo_id="acme/model", run_dir=tmp_path / "my-run", commit_message="Retrain with seed 2")
    messages = {kind: commit_message(kind, options) for kind in ("model", "dataset", "space")}
    assert messages["model"] == "Retrain with seed 2"
    assert len(set(messages.values())) == 3 and all("acme/model" in messages[kind] for kind in ("dataset", "space"))
