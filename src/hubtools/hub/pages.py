"""HTML pages of the embedded Hub, laid out like huggingface.co: a repo's card with chips and evaluation results,
its files (`tree`/`blob`), history (`commits`/`commit`) and pull requests (`discussions`).

Templates live in `templates/` (Jinja, autoescaped); the only unescaped HTML is the card, sanitized by `markdown.py`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from pathlib import PurePosixPath
from urllib.parse import quote

import jinja2
from fastapi.responses import HTMLResponse
import yaml

from hubtools.formatting import format_size
from hubtools.hub.limits import MAX_DISCUSSION_TITLE_CHARS, MIN_DISCUSSION_TITLE_CHARS
from hubtools.hub.markdown import render_card
from hubtools.hub.repo_extras import RepoExtras
from hubtools.hub.store import Commit, FileEntry, Repo

REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg")
MAX_TEXT_BYTES = 512 * 1024
MAX_DIFF_BYTES = 200 * 1024
CARD_TABS = {"model": "Model card", "dataset": "Dataset card", "space": "App"}


@dataclass(frozen=True)
class Chip:
    kind: str
    value: str
    href: str | None = None


@dataclass(frozen=True)
class RepoView:
    """What every page of one repo at one revision shows in its header."""

    repo: Repo
    revision: str
    card: dict

    @property
    def url(self) -> str:
        return f"/{self.repo.url_prefix}{self.repo.repo_id}"

    def context(self, tab: str) -> dict:
        return {
            "repo": self.repo,
            "repo_url": self.url,
            "revision": self.revision,
            "revision_url": quote(self.revision, safe=""),
            "title": self.repo.repo_id,
            "chips": card_chips(self.card),
            "card_tab": CARD_TABS[self.repo.type],
            "tab": tab,
        }

    def file_href(self, view: str, path: str) -> str:
        return f"{self.url}/{view}/{quote(self.revision, safe='')}/{quote(path)}"

    def crumbs(self, path: str) -> list[dict]:
        parts = path.split("/") if path else []
        return [
            {"name": part, "href": self.file_href("tree" if depth < len(parts) - 1 else "blob", "/".join(parts[: depth + 1]))}
            for depth, part in enumerate(parts)
        ]


@cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("hubtools.hub", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


SPACE_LOG_PAGE_LINES = 500
SPACE_RELOAD_S = 3  # a Space page reloads itself this often while its app starts (a meta refresh: pages run no script)

# Every page: no script at all, styles inline only, images from anywhere (cards link them), frames only from a Space
# app on loopback, and never framed itself.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; img-src * data:; frame-src http://127.0.0.1:*;"
    " frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def page_response(html: str, status_code: int = 200) -> HTMLResponse:
    """An HTML page with its security headers (CSP, nosniff, no framing: see `PAGE_HEADERS`)."""
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)


def _render(template: str, **context: object) -> str:
    return _templates().get_template(template).render(**context)


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [str(item) for item in values if item not in (None, "")]


def _repo_link(repo_id: str, prefix: str) -> str | None:
    return f"/{prefix}{repo_id}" if REPO_ID.match(repo_id) else None


def card_chips(card: dict) -> list[Chip]:
    """The header chips huggingface.co shows: task, library, languages, license, base models, datasets, tags."""
    chips = [Chip("task", value) for value in _as_list(card.get("pipeline_tag"))]
    chips += [Chip("task", value) for value in _as_list(card.get("task_categories"))]
    chips += [Chip("library", value) for value in _as_list(card.get("library_name"))]
    chips += [Chip("sdk", value) for value in _as_list(card.get("sdk"))]
    chips += [Chip("language", value) for value in _as_list(card.get("language"))]
    chips += [Chip("size", value) for value in _as_list(card.get("size_categories"))]
    chips += [Chip("license", value) for value in _as_list(card.get("license"))]
    chips += [Chip("base model", value, _repo_link(value, "")) for value in _as_list(card.get("base_model"))]
    chips += [Chip("model", value, _repo_link(value, "")) for value in _as_list(card.get("models"))]
    chips += [Chip("dataset", value, _repo_link(value, "datasets/")) for value in _as_list(card.get("datasets"))]
    shown = {chip.value for chip in chips}
    chips += [Chip("tag", value) for value in _as_list(card.get("tags")) if value not in shown]
    return chips


def _format_metric(value: object) -> str:
    if isinstance(value, float):
        return f"{round(value, 4):g}" if abs(value) < 1e6 else f"{value:.4g}"
    return str(value)


def eval_results(card: dict) -> list[dict]:
    """The card's model-index metrics grouped by dataset and split, as the evaluation box beside a model card."""
    groups: dict[tuple[str, str], dict] = {}
    model_index = card.get("model-index")
    for model in model_index if isinstance(model_index, list) else []:
        results = model.get("results") if isinstance(model, dict) else None
        for result in results if isinstance(results, list) else []:
            if not isinstance(result, dict):
                continue
            dataset = result.get("dataset") if isinstance(result.get("dataset"), dict) else {}
            dataset_id = str(dataset.get("type") or "")
            name, split = str(dataset.get("name") or dataset_id), str(dataset.get("split") or "")
            group = groups.setdefault((name, split), {
                "dataset": name,
                "dataset_href": _repo_link(dataset_id, "datasets/") if "/" in dataset_id else None,
                "split": split,
                "metrics": [],
            })
            for metric in result.get("metrics") or []:
                if isinstance(metric, dict) and "value" in metric:
                    label = str(metric.get("name") or metric.get("type") or "")
                    group["metrics"].append({"name": label, "value": _format_metric(metric["value"])})
    return [group for group in groups.values() if group["metrics"]]


def render_repo_page(
    view: RepoView, commit_id: str, body: str, files: dict[str, FileEntry], space: dict | None = None,
    extras: RepoExtras | None = None,
) -> str:
    return _render(
        "repo.html",
        **view.context("card"),
        commit_id=commit_id,
        card_html=render_card(body, view.url, view.revision) if body.strip() else "",
        eval_results=eval_results(view.card),
        metadata_yaml=yaml.safe_dump(view.card, sort_keys=False, allow_unicode=True) if view.card else "",
        file_count=len(files),
        space=space,
        reload_after=SPACE_RELOAD_S if space and space["stage"] == "BUILDING" else None,
        extras=extras,
    )


def render_tree(
    view: RepoView, folder: str, files: dict[str, FileEntry], last_commits: dict[str, Commit], folder_commit: Commit
) -> str:
    """`folder_commit`: the newest commit that changed the folder, shown above the listing."""
    return _render("tree.html", **view.context("files"), crumbs=view.crumbs(folder) if folder else [],
                   entries=[_tree_row(view, path, files, last_commits[path]) for path in tree_children(files, folder)],
                   last_commit={"id": folder_commit.id, "title": folder_commit.title, "author": folder_commit.author,
                                "date": _date(folder_commit.date)},
                   history_href=view.file_href("commits", folder).rstrip("/"))


def tree_children(files: dict[str, FileEntry], folder: str) -> list[str]:
    """The paths directly inside `folder` (sub-folders first), as the tree page lists them."""
    prefix = f"{folder}/" if folder else ""
    children = {prefix + path[len(prefix):].split("/")[0] for path in files if path.startswith(prefix)}
    return sorted(children, key=lambda path: (path in files, path.lower()))


def _tree_row(view: RepoView, path: str, files: dict[str, FileEntry], commit: Commit) -> dict:
    entry = files.get(path)
    return {
        "name": PurePosixPath(path).name,
        "is_dir": entry is None,
        "href": view.file_href("tree" if entry is None else "blob", path),
        "size": "" if entry is None else format_size(entry.size),
        "lfs": entry is not None and entry.is_lfs,
        "commit_id": commit.id,
        "commit_title": commit.title,
        "date": _date(commit.date),
    }


def render_blob(view: RepoView, entry: FileEntry, content: bytes | None) -> str:
    """`content` is the file's bytes when small enough to show; None for large files."""
    return _render(
        "blob.html",
        **view.context("files"),
        crumbs=view.crumbs(entry.path),
        path=entry.path,
        size=format_size(entry.size),
        lfs=entry.is_lfs,
        sha256=entry.sha256,
        download_href=view.file_href("resolve", entry.path),
        history_href=view.file_href("commits", entry.path),
        image=entry.path.lower().endswith(IMAGE_SUFFIXES),
        text=_text(content),
    )


def _text(content: bytes | None) -> str | None:
    if content is None or b"\0" in content[:8192]:
        return None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


def render_commits(view: RepoView, history: list[Commit], path: str = "") -> str:
    commits = [{"id": c.id, "title": c.title, "author": c.author, "date": _date(c.date)} for c in history]
    return _render("commits.html", **view.context("commits"), commits=commits, path=path)


def render_commit(view: RepoView, commit: Commit, changes: list[dict]) -> str:
    """The commit's description is Markdown, rendered like a card (sanitized, links relative to the commit)."""
    message_html = render_card(commit.message, view.url, commit.id) if commit.message.strip() else ""
    return _render("commit.html", **view.context("commits"), commit=commit, date=_date(commit.date), changes=changes,
                   message_html=message_html)


def file_change(view: RepoView, path: str, before: FileEntry | None, after: FileEntry | None,
                read: Callable[[FileEntry], bytes]) -> dict:
    """One changed file of a commit: its status and, for small text files, a unified diff."""
    status = "added" if before is None else "deleted" if after is None else "modified"
    shown = after or before
    diff = None
    small_text = [e for e in (before, after) if e is not None and not e.is_lfs and e.size <= MAX_DIFF_BYTES]
    if len(small_text) == len([e for e in (before, after) if e is not None]):
        old, new = (_text(read(e)) if e is not None else "" for e in (before, after))
        if old is not None and new is not None:
            diff = _diff_lines(old, new, path)
    return {
        "path": path,
        "status": status,
        "size": format_size(shown.size),
        "href": view.file_href("resolve" if after is None else "blob", path),
        "diff": diff,
    }


def _diff_lines(old: str, new: str, path: str) -> list[dict]:
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), f"a/{path}", f"b/{path}", lineterm="", n=2)
    kinds = {"+": "add", "-": "del", "@": "hunk"}
    return [{"text": line, "kind": kinds.get(line[:1], "")} for line in list(lines)[2:]]


def render_discussions(view: RepoView, discussions: list[dict]) -> str:
    items = [
        {**item, "date": _date(item["created"]), "ref_url": quote(f"refs/pr/{item['num']}", safe="")}
        for item in discussions
    ]
    return _render("discussions.html", **view.context("discussions"), discussions=items)


def render_viewer(view: RepoView, commit_id: str, previews: list, limit: int) -> str:
    return _render("viewer.html", **view.context("card"), commit_id=commit_id, previews=previews, limit=limit)


def render_space_logs(view: RepoView, stage: str, text: str) -> str:
    """The app's output as lines (at most SPACE_LOG_PAGE_LINES, the newest), not the event stream the API serves."""
    return _render("space_logs.html", **view.context("card"), stage=stage, lines=text.splitlines()[-SPACE_LOG_PAGE_LINES:])


def render_new_discussion(view: RepoView, pull_request: bool, title: str = "", description: str = "",
                          error: str | None = None) -> str:
    """The form of `/discussions/new`; what was typed comes back after an error, the token never does."""
    return _render("new_discussion.html", **view.context("discussions"), pull_request=pull_request,
                   form_title=title, form_description=description, error=error,
                   min_title=MIN_DISCUSSION_TITLE_CHARS, max_title=MAX_DISCUSSION_TITLE_CHARS)


def render_index(repos: list[Repo]) -> str:
    groups = []
    for repo_type, title in (("model", "Models"), ("dataset", "Datasets"), ("space", "Spaces")):
        members = [{"id": r.repo_id, "href": f"/{r.url_prefix}{r.repo_id}", "private": r.private}
                   for r in repos if r.type == repo_type]
        if members:
            groups.append({"title": title, "repos": members})
    return _render("index.html", title="Repositories", groups=groups)


def _date(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
