"""Pages that take a browser's form or add a view to a repo page: the model page's inference widget
(`POST /{namespace}/{name}`), the dataset viewer (`/datasets/{namespace}/{name}/viewer`) and new discussions and
pull requests (`/{repo}/discussions/new`, GET for the form, POST to create). Forms are plain HTML (no script):
they post urlencoded fields and the answer is a page (or a redirect to the discussions list).

Pages have no login: a discussion form carries an access token field (or the request an Authorization header);
the token is checked and dropped, never echoed back into a page or logged.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from hubtools.hub import pages
from hubtools.hub.auth import require_write
from hubtools.hub.card_page import repo_page_html
from hubtools.hub.cards import read_card_data
from hubtools.hub.deps import Caller, ReadableRepo, State, Store
from hubtools.hub.errors import EntryNotFound, HubError, Unauthorized
from hubtools.hub.limits import MAX_COMMENT_CHARS, MAX_DISCUSSION_TITLE_CHARS, MIN_DISCUSSION_TITLE_CHARS
from hubtools.hub.repo_types import ROUTE_PREFIXES
from hubtools.hub.responses import status_of
from hubtools.hub.store import DEFAULT_BRANCH, HubStore, Identity, Repo
from hubtools.hub.validation import checked_text
from hubtools.hub.viewer import VIEWER_ROWS, first_rows
from hubtools.hub.widget import can_run

router = APIRouter()


async def form_fields(request: Request) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body as {field: first value} (Starlette's parser); uploaded files,
    which these forms never post, are left out."""
    form = await request.form()
    first_values = {key: form.getlist(key)[0] for key in form}
    return {key: value for key, value in first_values.items() if isinstance(value, str)}


def main_view(store: HubStore, repo: Repo) -> tuple[pages.RepoView, str]:
    commit_id = store.resolve(repo, DEFAULT_BRANCH)
    card, _ = read_card_data(store, store.files(commit_id))
    return pages.RepoView(repo, DEFAULT_BRANCH, card or {}), commit_id


async def widget_run(request: Request, repo: ReadableRepo, state: State, identity: Caller) -> HTMLResponse:
    """The model page again, with the widget's scores for the posted `text` (or why it could not run)."""
    text = (await form_fields(request)).get("text", "")
    commit_id = state.store.resolve(repo, DEFAULT_BRANCH)
    files = state.store.files(commit_id)
    card, _ = read_card_data(state.store, files)
    if not can_run(card or {}, files):
        raise EntryNotFound(f"{repo.repo_id} has no inference widget: it needs pipeline_tag: text-classification in"
                            " its card, config.json and *.safetensors weights")
    run = await state.widget.classify(state.store, repo.repo_id, commit_id, files, text)
    html = await run_in_threadpool(repo_page_html, state, identity, repo, run)
    return pages.page_response(html, run.status)


def viewer_page(repo: ReadableRepo, store: Store) -> HTMLResponse:
    view, commit_id = main_view(store, repo)
    previews = first_rows(store, store.files(commit_id), VIEWER_ROWS)
    return pages.page_response(pages.render_viewer(view, commit_id, previews, VIEWER_ROWS))


def space_logs_page(repo: ReadableRepo, state: State) -> HTMLResponse:
    if repo.type != "space":
        raise EntryNotFound(f"{repo.repo_id} is not a Space: only Spaces have logs")
    view, _ = main_view(state.store, repo)
    text, _ = state.spaces.log(repo)
    return pages.page_response(pages.render_space_logs(view, state.spaces.runtime(repo)["stage"], text))


def new_discussion_form(request: Request, repo: ReadableRepo, store: Store) -> HTMLResponse:
    view, _ = main_view(store, repo)
    return pages.page_response(pages.render_new_discussion(view, request.query_params.get("pull_request") == "1"))


def form_identity(store: HubStore, identity: Identity | None, token: str) -> Identity:
    """The form's token identity, else the Authorization header's; 401 when neither names a user."""
    if token.strip():
        found = store.identity(token.strip())
        if found is None:
            raise Unauthorized("This token is not valid on this Hub: paste a token from `hubtools hub token`")
        return found
    if identity is None:
        raise Unauthorized("Paste an access token to write here (pages have no login)")
    return identity


async def create_discussion(request: Request, repo: ReadableRepo, store: Store, identity: Caller) -> Response:
    fields = await form_fields(request)
    pull_request = fields.get("pull_request") == "1"
    title, description = fields.get("title", ""), fields.get("description", "")
    try:
        author = form_identity(store, identity, fields.get("token", ""))
        if pull_request:
            require_write(author, repo.namespace)
        checked_title = checked_text(title, "title", MIN_DISCUSSION_TITLE_CHARS, MAX_DISCUSSION_TITLE_CHARS)
        checked_description = checked_text(description, "description", 0, MAX_COMMENT_CHARS)
    except HubError as exc:
        view, _ = main_view(store, repo)
        html = pages.render_new_discussion(view, pull_request, title, description, str(exc))
        return pages.page_response(html, status_of(exc))
    num = await run_in_threadpool(store.open_discussion, repo, checked_title, checked_description, author.user, pull_request)
    return RedirectResponse(f"/{repo.url_prefix}{repo.repo_id}/discussions#discussion-{num}", status_code=303)


router.add_api_route("/{namespace}/{name}", widget_run, methods=["POST"], response_class=HTMLResponse)
router.add_api_route("/datasets/{namespace}/{name}/viewer", viewer_page, methods=["GET"], response_class=HTMLResponse)
router.add_api_route("/spaces/{namespace}/{name}/logs", space_logs_page, methods=["GET"], response_class=HTMLResponse)
for _prefix in ROUTE_PREFIXES:
    _new = _prefix + "/{namespace}/{name}/discussions/new"
    router.add_api_route(_new, new_discussion_form, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route(_new, create_discussion, methods=["POST"])
