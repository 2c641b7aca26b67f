"""What a repo page shows beside its card besides the evaluation box: the inference widget, model size and tensor
types, the repos that cite this one, and the dataset viewer's first rows (see widget.py, model_size.py,
related.py and viewer.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hubtools.hub import model_size, related, viewer, widget
from hubtools.hub.store import FileEntry, HubStore, Identity, Repo

RELATED_TITLES = {"model": "Spaces using this model", "dataset": "Models trained on this dataset"}


@dataclass(frozen=True)
class WidgetBox:
    action: str
    examples: list[str]
    run: widget.WidgetRun | None
    max_chars: int = widget.MAX_INPUT_CHARS


@dataclass(frozen=True)
class RepoExtras:
    related_title: str = ""
    related: list[dict] = field(default_factory=list)
    model_size: str | None = None
    tensor_types: list[str] = field(default_factory=list)
    widget: WidgetBox | None = None
    previews: list[viewer.SplitPreview] = field(default_factory=list)
    viewer_href: str = ""


def repo_extras(
    store: HubStore, identity: Identity | None, repo: Repo, files: dict[str, FileEntry], card: dict,
    run: widget.WidgetRun | None = None,
) -> RepoExtras:
    url = f"/{repo.url_prefix}{repo.repo_id}"
    citing = [{"id": r.repo_id, "href": f"/{r.url_prefix}{r.repo_id}"} for r in related.repos_citing(store, identity, repo)]
    if repo.type == "dataset":
        return RepoExtras(RELATED_TITLES["dataset"], citing, previews=viewer.first_rows(store, files, viewer.PREVIEW_ROWS),
                          viewer_href=f"{url}/viewer")
    if repo.type != "model":
        return RepoExtras()
    counts = model_size.parameter_counts(store, files)
    box = WidgetBox(url, widget.examples(card), run) if widget.can_run(card, files) else None
    return RepoExtras(
        RELATED_TITLES["model"], citing,
        model_size=model_size.format_parameters(sum(counts.values())) if counts else None,
        tensor_types=sorted(counts), widget=box,
    )
