"""`hubtools publish`: a run directory -> model repo (+ dataset repo, + demo Space) on the Hub."""

from __future__ import annotations

from pathlib import Path

import typer

from hubtools.cli.output import FormatOption, OutputFormat, echo_for, emit_json, stdout_reserved_for_json


def publish_command(
    repo: str = typer.Option(..., "--repo", help="Model repo ORG/NAME."),
    run: Path = typer.Option(Path("runs/quickstart"), "--run", help="Run directory written by `hubtools train`."),
    dataset_repo: str | None = typer.Option(None, "--dataset-repo", help="Also push the run's splits (Parquet) + dataset card to ORG/DATASET."),
    space: str | None = typer.Option(None, "--space", help="Demo Space repo (default: REPO-demo)."),
    no_space: bool = typer.Option(False, "--no-space", help="Do not push the demo Space."),
    private: bool = typer.Option(False, "--private", help="Create new repos as private (the Space then needs --space-token)."),
    space_hardware: str = typer.Option("cpu-basic", "--space-hardware", help="Space hardware (cpu-basic, t4-small, ...); GPU hardware gets the CUDA torch build."),
    space_token: str | None = typer.Option(None, "--space-token", envvar="HUBTOOLS_SPACE_TOKEN", help="Read-only token the Space of a --private model loads it with (stored as the Space's HF_TOKEN secret).", show_default=False),
    create_pr: bool = typer.Option(False, "--create-pr", help="Commit to a pull-request ref instead of the branch; prints its URL."),
    revision: str = typer.Option("main", "--revision", help="Branch to commit to (created from main if missing)."),
    commit_message: str | None = typer.Option(None, "--commit-message", help="Commit message (default names the run)."),
    dry_run: Path | None = typer.Option(None, "--dry-run", help="Write the trees that would be uploaded to DIR and print the diff; upload nothing."),
    render_card: bool = typer.Option(False, "--render-card", help="Re-render RUN/card for these repos even if it exists."),
    replace_edited_cards: bool = typer.Option(False, "--replace-edited-cards", help="Overwrite a README.md edited on the Hub since the last publish (refused otherwise)."),
    mirror: bool = typer.Option(False, "--mirror", help="Also delete repo files the run lacks that hubtools did not publish (others' files are kept otherwise)."),
    verify: bool = typer.Option(True, "--verify/--no-verify", help="Round-trip check through pipeline() after publishing."),
    upload_streams: int | None = typer.Option(None, "--upload-streams", help="Large-file (Xet) upload streams in flight, up to 64 MB of memory each (default: HF_XET_CLIENT_AC_MAX_UPLOAD_CONCURRENCY, else 2).", show_default=False),
    endpoint: str | None = typer.Option(None, "--endpoint", help="Hub URL (default: HF_ENDPOINT or https://huggingface.co)."),
    token: str | None = typer.Option(None, "--token", help="Hub token (default: HF_TOKEN or the stored login).", show_default=False),
    output_format: OutputFormat = FormatOption,
) -> None:
    """Publish a run: model (+ card, eval results, config, TensorBoard), dataset and demo Space, one commit per repo."""
    from hubtools.hubclient import resolve_endpoint, resolve_token
    from hubtools.publish import PublishOptions, publish

    hub_endpoint = resolve_endpoint(endpoint)
    with stdout_reserved_for_json(output_format):
        result = publish(
            PublishOptions(
                repo_id=repo,
                run_dir=run,
                dataset_repo_id=dataset_repo,
                space_repo_id=None if no_space else (space or f"{repo}-demo"),
                private=private,
                create_pr=create_pr,
                revision=revision,
                commit_message=commit_message,
                dry_run=dry_run,
                endpoint=hub_endpoint,
                token=resolve_token(token),
                render_card=render_card,
                verify=verify,
                space_hardware=space_hardware,
                space_token=space_token,
                replace_edited_cards=replace_edited_cards,
                mirror=mirror,
                upload_streams=upload_streams,
            ),
            echo=echo_for(output_format),
        )
    if output_format == OutputFormat.json:
        emit_json(publish_document(result, hub_endpoint, revision))


def publish_document(result, endpoint: str, revision: str) -> dict:
    """The plan (each repo's file changes) and the commits (URLs, ids, pull requests) as JSON."""
    from hubtools.cli.verify import verify_document
    from hubtools.publish import repo_url

    return {
        "plan": [
            {
                "repo_type": plan.repo_type,
                "repo_id": plan.repo_id,
                "url": repo_url(endpoint, plan.repo_type, plan.repo_id),
                "revision": revision,
                "parent_commit": plan.parent_commit,
                "changes": [{"path": c.path, "status": c.status, "size": c.size} for c in plan.pending()],
                "kept": [{"path": c.path, "why": c.why_kept} for c in plan.kept()],
                "unchanged": sum(c.status == "unchanged" for c in plan.changes),
            }
            for plan in result.plans
        ],
        "commits": [
            {"repo_type": c.plan.repo_type, "repo_id": c.plan.repo_id, "url": c.url, "commit_id": c.commit_id, "pull_request": c.pr_url}
            for c in result.commits
        ],
        "verify": verify_document(result.verification) if result.verification else None,
    }
