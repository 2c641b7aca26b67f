"""HTML pages of the embedded Hub: an index of repos and a repo page showing the README card."""

from __future__ import annotations

from html import escape
from urllib.parse import quote, urlsplit

import yaml
from markdown_it import MarkdownIt

from hubtools.hub.store import FileEntry, Repo

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2rem auto;padding:0 1rem;color:#1f2328}
header h1{font-size:1.5rem;margin-bottom:.2rem} .meta{color:#57606a;font-size:.9rem}
main{display:flex;gap:2rem;align-items:flex-start} article{flex:1;min-width:0} aside{width:320px}
table{border-collapse:collapse} td,th{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left}
pre{background:#f6f8fa;padding:.8rem;overflow:auto;font-size:.85rem} img{max-width:100%}
.tag{display:inline-block;background:#eef2ff;border-radius:.4rem;padding:.1rem .5rem;margin:.1rem;font-size:.8rem}
aside ul{list-style:none;padding:0;font-size:.85rem} aside li{padding:.15rem 0;border-bottom:1px solid #eee}
"""


def _repo_url(repo: Repo) -> str:
    return f"/{repo.url_prefix}{repo.repo_id}"


def _is_relative(url: str) -> bool:
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc and not url.startswith(("/", "#"))


def render_markdown(body: str, file_base: str) -> str:
    """Markdown -> HTML; relative image and link targets point at the repo's files on main."""
    markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = markdown.parse(body)
    for token in tokens:
        for child in token.children or []:
            for attribute in ("src", "href"):
                value = child.attrGet(attribute)
                if isinstance(value, str) and _is_relative(value):
                    child.attrSet(attribute, f"{file_base}/{value.removeprefix('./')}")
    return markdown.renderer.render(tokens, markdown.options, {})


def _page(title: str, content: str) -> str:
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>{content}</body></html>"
    )


def render_repo_page(repo: Repo, commit_id: str, card_data: dict | None, body: str, files: list[FileEntry]) -> str:
    file_base = f"{_repo_url(repo)}/resolve/main"
    card = card_data or {}
    tags = [str(tag) for tag in card.get("tags", []) if isinstance(card.get("tags"), list)]
    facts = [f"{key}: {card[key]}" for key in ("license", "pipeline_tag", "library_name", "sdk") if card.get(key)]
    tag_html = "".join(f"<span class='tag'>{escape(text)}</span>" for text in facts + tags)
    file_items = "".join(
        f"<li><a href='{file_base}/{quote(f.path)}'>{escape(f.path)}</a> <span class='meta'>{_human_size(f.size)}"
        f"{' · LFS' if f.is_lfs else ''}</span></li>"
        for f in files
    )
    results = _eval_results_table(card)
    metadata = (
        f"<details><summary>Metadata</summary><pre>{escape(yaml.safe_dump(card_data, sort_keys=False))}</pre></details>"
        if card_data else ""
    )
    visibility = "private" if repo.private else "public"
    content = (
        f"<header><h1>{escape(repo.repo_id)}</h1><div class='meta'>{repo.type} · {visibility}"
        f"{' · sdk ' + escape(repo.sdk) if repo.sdk else ''} · commit <code>{commit_id[:10]}</code></div>"
        f"<div>{tag_html}</div></header>"
        f"<main><article class='card'>{render_markdown(body, file_base) if body.strip() else '<p>No model card yet.</p>'}"
        f"</article><aside>{results}{metadata}<h2>Files</h2><ul>{file_items}</ul></aside></main>"
    )
    return _page(repo.repo_id, content)


def _eval_results_table(card: dict) -> str:
    """The model-index metrics of the card's metadata, as the Hub shows them beside the card."""
    rows = []
    model_index = card.get("model-index")
    for model in model_index if isinstance(model_index, list) else []:
        for result in model.get("results", []) if isinstance(model, dict) else []:
            dataset = (result.get("dataset") or {}).get("name", "") if isinstance(result, dict) else ""
            for metric in result.get("metrics", []) if isinstance(result, dict) else []:
                if isinstance(metric, dict):
                    label = metric.get("name") or metric.get("type", "")
                    rows.append(f"<tr><td>{escape(str(label))}</td><td>{escape(str(metric.get('value', '')))}</td>"
                                f"<td>{escape(str(dataset))}</td></tr>")
    if not rows:
        return ""
    return ("<h2>Evaluation results</h2><table class='results'><tr><th>Metric</th><th>Value</th><th>Dataset</th></tr>"
            + "".join(rows) + "</table>")


def render_index(repos: list[Repo]) -> str:
    items = "".join(
        f"<li><a href='{_repo_url(r)}'>{escape(r.repo_id)}</a> <span class='meta'>{r.type}</span></li>" for r in repos
    )
    return _page("hubtools embedded Hub", f"<h1>hubtools embedded Hub</h1><ul>{items or '<li>No repos yet.</li>'}</ul>")


def _human_size(size: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size} B"
