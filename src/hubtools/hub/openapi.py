"""The Hub's OpenAPI schema, served at `/openapi.json` (what tests/test_hub_fuzz.py fuzzes with schemathesis).

FastAPI builds it from the routes and the typed bodies (payloads.py). Some path segments are read through
dependencies or the raw path (`{plural}`, `{rest}`), so FastAPI does not list them; each is declared here as a
string (`plural` as the three repo types), which makes the schema valid for any OpenAPI client.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from hubtools.hub.repo_types import TABLE

SCHEMA_PATH = "/openapi.json"
PLURALS = [kind.plural for kind in TABLE]


def declare_path_parameters(spec: dict[str, Any]) -> dict[str, Any]:
    """`spec` with every `{name}` of each path template declared as a required path parameter."""
    for template, operations in spec["paths"].items():
        names = re.findall(r"{(\w+)(?::path)?}", template)
        for operation in operations.values():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            for name in (n for n in names if n not in declared):
                schema = {"enum": PLURALS} if name == "plural" else {"type": "string", "minLength": 1}
                operation.setdefault("parameters", []).append({"name": name, "in": "path", "required": True, "schema": schema})
    return spec


def hub_schema(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """A replacement for `app.openapi`: FastAPI's schema with the path parameters declared, built once."""
    build = app.openapi

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_path_parameters(build())
        return app.openapi_schema

    return schema
