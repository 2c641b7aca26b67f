"""Card markdown -> safe HTML, as huggingface.co renders it: HTML inside markdown is allowed, then sanitized.

nh3 (ammonia) keeps a whitelist of tags (`<details>`, `<summary>`, `<img>`, tables...) and attributes, drops
`<script>`/`<style>` with their content, every event handler and every URL scheme outside http(s)/mailto-like ones
(so `javascript:` links lose their href). Relative links then point at the repo's files at the page's revision.
"""

from __future__ import annotations

import posixpath
from urllib.parse import quote, unquote, urlsplit

import nh3
from markdown_it import MarkdownIt

ATTRIBUTES = {
    **{tag: set(attributes) for tag, attributes in nh3.ALLOWED_ATTRIBUTES.items()},
    "a": {"href", "hreflang", "title"},
    "img": {"align", "alt", "width", "height", "src", "title"},
    "td": {"style", "align", "colspan", "rowspan"},
    "th": {"style", "align", "colspan", "rowspan"},
    "code": {"class"},
    "details": {"open"},
}
URL_SCHEMES = {"http", "https", "mailto"}


def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def repo_file_path(url: str, card_folder: str = "") -> str | None:
    """The repo path a relative URL in a card names (None for absolute URLs, anchors or paths leaving the repo)."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path or url.startswith(("/", "#")):
        return None
    path = posixpath.normpath(posixpath.join(card_folder, unquote(parts.path)))
    return None if path.startswith("..") or path == "." else path


def render_card(markdown: str, repo_url: str, revision: str) -> str:
    """Markdown (front matter already removed) -> sanitized HTML; relative images resolve, relative links open blobs."""

    def resolve_relative(tag: str, attribute: str, value: str) -> str | None:
        if (tag, attribute) not in (("img", "src"), ("a", "href")):
            return value
        path = repo_file_path(value)
        if path is None:
            return value
        view = "resolve" if tag == "img" else "blob"
        return f"{repo_url}/{view}/{quote(revision, safe='')}/{quote(path)}"

    html = _markdown().render(markdown)
    return nh3.clean(
        html,
        attributes=ATTRIBUTES,
        attribute_filter=resolve_relative,
        url_schemes=URL_SCHEMES,
        filter_style_properties={"text-align"},
        link_rel="noopener noreferrer nofollow",
    )
