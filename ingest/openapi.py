"""GET /openapi.json: the HTTP interface, with bodies described by the pydantic models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from schemas.recording_api import (
    Accepted,
    ErrorBody,
    ProgressBeacon,
    Publication,
    RecordingAccess,
    RecordingAnalytics,
    RecordingDetail,
    RecordingSettingsUpdate,
    RecordingSummary,
)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    answer: type[BaseModel] | None
    errors: tuple[int, ...]
    body: type[BaseModel] | None = None
    status: int = 200
    many: bool = False
    auth: str = "optional"  # optional, required, none


OPERATIONS = (
    Operation(
        "get",
        "/api/events/{uuid}/recordings/",
        "Published recordings of an event",
        RecordingSummary,
        (401, 404),
        many=True,
    ),
    Operation(
        "get",
        "/api/recordings/{uuid}/",
        "A recording and its files (no URLs)",
        RecordingDetail,
        (401, 403, 404),
    ),
    Operation(
        "get",
        "/api/recordings/{uuid}/access/",
        "The links that work now, each with the token it needs (expired ones refreshed through"
        " Zoom's API, or listed in `unavailable` with the reason); records a view. Password in"
        " X-Recording-Password; 429 after too many wrong ones (Retry-After); 410 once the"
        " recording expired or Zoom no longer has it; 503 with Retry-After when Zoom failed and"
        " no link is left",
        RecordingAccess,
        (401, 403, 404, 410, 429, 503),
    ),
    Operation(
        "post",
        "/api/recordings/{uuid}/progress/",
        "A player's progress beacon; 202 once in Kafka",
        Accepted,
        (400, 401, 403, 404, 413, 422, 503),
        ProgressBeacon,
        202,
    ),
    Operation(
        "get",
        "/api/organizer/events/{uuid}/recordings/",
        "All recordings of an event with analytics (organizer)",
        RecordingAnalytics,
        (401, 403, 404, 429, 503),
        many=True,
        auth="required",
    ),
    Operation(
        "put",
        "/api/recordings/{uuid}/",
        "Update a recording's settings (organizer)",
        RecordingDetail,
        (400, 401, 403, 404, 413, 422, 503),
        RecordingSettingsUpdate,
        auth="required",
    ),
    Operation(
        "post",
        "/api/recordings/{uuid}/publish/",
        "Publish (organizer)",
        Publication,
        (401, 403, 404, 503),
        auth="required",
    ),
    Operation(
        "post",
        "/api/recordings/{uuid}/unpublish/",
        "Unpublish (organizer)",
        Publication,
        (401, 403, 404, 503),
        auth="required",
    ),
    Operation(
        "post",
        "/webhooks/zoom",
        "Zoom webhooks (signed with the app's secret token)",
        None,
        (400, 401, 413, 503),
        auth="none",
    ),
    Operation(
        "post",
        "/webhooks/email/{provider}",
        "Email-provider webhooks: resend, sendgrid, postmark, mailgun",
        None,
        (400, 401, 404, 413, 503),
        auth="none",
    ),
    Operation(
        "get",
        "/api/analytics/{name}/",
        "Dashboard data: webhook-volume, attendance, recordings, email, api-calls (bearer"
        " ANALYTICS_TOKEN)",
        None,
        (400, 401, 404, 429, 503),
        auth="required",
    ),
    Operation(
        "get",
        "/dashboard",
        "The built-in dashboard page (when ANALYTICS_TOKEN is set)",
        None,
        (404,),
        auth="none",
    ),
    Operation("get", "/healthz", "The process is up", None, (), auth="none"),
    Operation("get", "/readyz", "Kafka and PostgreSQL are reachable", None, (503,), auth="none"),
)


def document() -> dict[str, Any]:
    models: dict[str, type[BaseModel]] = {"ErrorBody": ErrorBody, "Publication": Publication}
    for op in OPERATIONS:
        for model in (op.answer, op.body):
            if model is not None:
                models[model.__name__] = model
    ordered = [models[name] for name in sorted(models)]
    _, definitions = models_json_schema(
        [(model, "serialization") for model in ordered],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        responses: dict[str, Any] = {}
        if op.answer is not None:
            ref: dict[str, Any] = {"$ref": f"#/components/schemas/{op.answer.__name__}"}
            schema = {"type": "array", "items": ref} if op.many else ref
            responses[str(op.status)] = {
                "description": "OK",
                "content": {"application/json": {"schema": schema}},
            }
        else:
            responses[str(op.status)] = {"description": "OK"}
        for status in op.errors:
            responses[str(status)] = {
                "description": "Error",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
                },
            }
        operation: dict[str, Any] = {"summary": op.summary, "responses": responses}
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in ("uuid", "provider", "name")
            if "{" + name + "}" in op.path
        ]
        if op.path.endswith("/access/"):
            parameters.append(
                {
                    "name": "X-Recording-Password",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string"},
                }
            )
        if parameters:
            operation["parameters"] = parameters
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}
                    }
                },
            }
        elif op.path.startswith("/webhooks"):
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {}}},
            }
        if op.auth == "required":
            operation["security"] = [{"bearer": []}]
        elif op.auth == "optional":
            operation["security"] = [{"bearer": []}, {}]
        paths.setdefault(op.path, {})[op.method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "zoomstream", "version": "0.1.0"},
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
