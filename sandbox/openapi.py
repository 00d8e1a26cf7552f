"""Build the contract document from the sandbox application.

The endpoints and models are the single source; this adds what FastAPI cannot infer: the
assumptions, the rate-limit and request-id headers on every response, and ``Retry-After`` on 429.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api_client.contract import DEFAULT_BASE_URL
from sandbox.assumptions import ASSUMPTIONS, OPERATION_ASSUMPTIONS

TITLE = "MxGuard public API"
VERSION = "1.0.0"
SUMMARY = (
    "Manage domains, per-domain sender rules, read verdicts, manage quarantine and read stats. "
    "Authenticate every request with `Authorization: Bearer <token>`; 60 requests per minute and "
    "600 per hour per token."
)
HEADER = {"schema": {"type": "integer"}, "required": True}
RESPONSE_HEADERS = {
    "X-RateLimit-Limit": {**HEADER, "description": "Size of the window that binds now."},
    "X-RateLimit-Remaining": {**HEADER, "description": "Requests left in that window."},
    "X-RateLimit-Reset": {**HEADER, "description": "Unix time (s) when it frees a request."},
    "X-Request-Id": {
        "schema": {"type": "string"},
        "required": True,
        "description": "Quote it when reporting a problem.",
    },
}
RETRY_AFTER = {
    "schema": {"type": "integer"},
    "required": True,
    "description": "Seconds to wait before retrying.",
}
DEFAULT_SPEC_PATH = Path("manifests") / "openapi.json"


def description() -> str:
    lines = [SUMMARY, "", "Assumptions beyond the published help page (`x-assumption`):", ""]
    lines += [f"- **{key}**: {text}" for key, text in ASSUMPTIONS.items()]
    return "\n".join(lines)


def build_spec(app: FastAPI) -> dict[str, Any]:
    spec = get_openapi(
        title=TITLE,
        version=VERSION,
        openapi_version="3.1.0",
        description=description(),
        routes=app.routes,
        servers=[{"url": DEFAULT_BASE_URL, "description": "MxGuard"}],
    )
    spec["x-assumptions"] = ASSUMPTIONS
    spec["security"] = [{"HTTPBearer": []}]
    for methods in spec["paths"].values():
        for operation in methods.values():
            for parameter in operation.get("parameters", []):
                _drop_null(parameter)
            notes = OPERATION_ASSUMPTIONS.get(operation["operationId"], [])
            if notes:
                operation["x-assumption"] = [ASSUMPTIONS[key] for key in notes]
            for status, response in operation["responses"].items():
                headers = response.setdefault("headers", {})
                headers.update(RESPONSE_HEADERS)
                if status == "429":
                    headers["Retry-After"] = RETRY_AFTER
    return spec


def _drop_null(parameter: dict[str, Any]) -> None:
    """An absent query parameter is how a client says "none"; ``null`` has no query form."""
    schema = parameter["schema"]
    options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
    if "anyOf" in schema and len(options) == 1:
        del schema["anyOf"]
        schema.update(options[0])


def render(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
