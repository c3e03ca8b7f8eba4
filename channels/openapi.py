"""The OpenAPI document says what the routes really answer: every error a `{code, message}`
body under the status it comes with (400 for bad input, never FastAPI's 422), and /metrics as
Prometheus text. The statuses per route are listed here, beside the codes that raise them
(channels.errors.HTTP_STATUS, the app's own map), and a test calls every route to check them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

WHY = {
    400: "bad input: a `bad_request`, `bad_query`, `bad_record` … (the code says which)",
    401: "`unauthorized` or `token_revoked`: no valid agent token (`bad_credentials` on login)",
    403: "`forbidden`: a wrong resume token, or a conversation or inbox the agent does not handle",
    404: "`conversation_not_found`, `attachment_not_found`, `lesson_not_found` or `not_found`",
    413: "`body_too_large`: refused from its headers, before the body is read",
    415: "`unsupported_type`: not an image or audio file this service reads",
    429: "`rate_limited`: too many attempts from this address",
    503: "`not_ready`, `shutting_down`, or the model or knowledge base is unavailable",
}
# The error statuses each route answers with, besides 200.
ROUTES: dict[tuple[str, str], tuple[int, ...]] = {
    ("post", "/api/uploads"): (400, 401, 403, 404, 413, 415),
    ("get", "/api/uploads/{attachment_id}"): (401, 403, 404),
    ("get", "/api/conversations/{conversation_id}/events"): (400, 401, 403, 404),
    ("get", "/api/kb/search"): (400, 401, 503),
    ("post", "/api/kb/records"): (400, 401, 403, 404, 413, 503),
    ("get", "/api/kb/intents"): (401, 503),
    ("get", "/api/kb/learned"): (401, 503),
    ("post", "/api/kb/learn"): (400, 401, 413, 503),
    ("delete", "/api/kb/learned/{record_id}"): (400, 401, 403, 404, 503),
    ("post", "/api/agents/login"): (400, 401, 413, 429),
    ("get", "/api/agents/me"): (401,),
    ("get", "/api/reports"): (400, 401, 403),
    ("get", "/readyz"): (503,),
}
ERROR_SCHEMA = {"type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string", "description": "stable, for programs"},
                               "message": {"type": "string", "description": "for people"}}}


def document_errors(app: FastAPI) -> None:
    """Make app.openapi() list each route's real error statuses with the {code, message} body."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = build()
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas["Error"] = ERROR_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        body = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for path, operations in doc.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                for status in ROUTES.get((method, path), ()):
                    responses[str(status)] = {"description": WHY[status], "content": body}
        metrics = doc.get("paths", {}).get("/metrics", {}).get("get")
        if metrics is not None:
            metrics["responses"]["200"] = {"description": "Prometheus text exposition format",
                                           "content": {"text/plain": {"schema": {"type": "string"}}}}
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
