"""Typed request bodies: each JSON body (and each NDJSON commit line's value) is validated into a pydantic model, so
a field of the wrong type is a 400 naming it rather than a crash or a silent default.

Bodies are still read by `deps.json_body` (nesting-bounded, parsing.py) and validated here; `documented(Model)`
puts the model in the OpenAPI schema (what the schemathesis run in tests/test_hub_fuzz.py generates bodies from).
Unknown fields are ignored, as huggingface.co does, so newer clients keep working.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr, ValidationError

from hubtools.hub.errors import InvalidRequest

Model = TypeVar("Model", bound="Payload")


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def parse(model: type[Model], data: object, what: str) -> Model:
    """`data` as `model`, or a 400 naming the first field that does not fit."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise InvalidRequest(f"{what}: field '{field}': {first['msg']}", "InvalidRequest") from None


def documented(model: type[Payload], required: bool = True) -> dict[str, Any]:
    """`openapi_extra` declaring `model` as the route's JSON body (`required=False`: the body may be empty)."""
    schema = {"content": {"application/json": {"schema": model.model_json_schema()}}, "required": required}
    return {"requestBody": schema}


# ---------------------------------------------------------------------- commits (NDJSON lines)


class CommitHeader(Payload):
    summary: StrictStr = ""
    description: StrictStr = ""
    parentCommit: StrictStr | None = None  # noqa: N815 (the Hub's field names)


class PathValue(Payload):
    """`deletedFile`, `deletedFolder`, and the common part of every operation."""

    path: StrictStr


class CopyFileValue(Payload):
    path: StrictStr
    srcPath: StrictStr  # noqa: N815
    srcRevision: StrictStr | None = None  # noqa: N815


class LfsFileValue(Payload):
    path: StrictStr
    algo: Literal["sha256"] = "sha256"
    oid: StrictStr
    size: StrictInt | None = None


# ---------------------------------------------------------------------- repos and discussions


class CreateRepo(Payload):
    name: StrictStr
    organization: StrictStr | None = None
    type: Literal["model", "dataset", "space"] = "model"
    private: StrictBool | None = None
    visibility: Literal["private", "public"] | None = None
    sdk: StrictStr | None = None


class DeleteRepo(Payload):
    name: StrictStr
    organization: StrictStr | None = None
    type: Literal["model", "dataset", "space"] = "model"


class MoveRepo(Payload):
    fromRepo: StrictStr  # noqa: N815
    toRepo: StrictStr  # noqa: N815
    type: Literal["model", "dataset", "space"] = "model"


class YamlToValidate(Payload):
    content: StrictStr
    repoType: StrictStr | None = None  # noqa: N815


class RepoSettings(Payload):
    model_config = ConfigDict(extra="allow", frozen=True)  # other settings are answered 501, naming them

    private: StrictBool | None = None
    visibility: Literal["private", "public"] | None = None
    gated: Literal[False, "auto", "manual"] | None = None  # only False (not gated) is supported: 501 otherwise


class NewDiscussion(Payload):
    title: StrictStr
    description: StrictStr = ""
    pullRequest: StrictBool = False  # noqa: N815


class NewComment(Payload):
    comment: StrictStr


class EditedComment(Payload):
    content: StrictStr


class NewTitle(Payload):
    title: StrictStr


class NewStatus(Payload):
    status: Literal["open", "closed"]
    comment: StrictStr | None = None


class Merge(Payload):
    comment: StrictStr | None = None


# ---------------------------------------------------------------------- LFS


class LfsObject(Payload):
    oid: StrictStr
    size: StrictInt


class LfsBatch(Payload):  # documents the body; lfs.batch_response checks it (git-lfs' own error wording)
    operation: Literal["upload"]
    objects: list[LfsObject]
    transfers: list[StrictStr] = ["basic"]


class LfsDeletions(Payload):
    sha: list[StrictStr]
    rewriteHistory: StrictBool = True  # noqa: N815


class LfsFilesDeletion(Payload):
    deletions: LfsDeletions


# ---------------------------------------------------------------------- refs


class NewBranch(Payload):
    startingPoint: StrictStr | None = None  # noqa: N815 (a revision; the default branch when absent)


class NewTag(Payload):
    tag: StrictStr
    message: StrictStr | None = None


class SuperSquash(Payload):
    message: StrictStr | None = None
