"""How the chat API answers failures: a status code and a JSON body, never a 200 carrying an error.

Operation outcomes map to statuses by kind (`status_of`); `ApiError` carries a status and a body
`{"error": {"type", "message", …}}`; FastAPI's own validation errors stay 422 with pydantic's field
errors. Bodies pass through the redactor when one is configured, so no secret value leaves.

Example:
    raise ApiError(404, "unknown_interrupt", "No interrupt abc (expired or never existed).")
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from meta_mcp.operations import outcomes

STATUS_BY_KIND = {
    "unknown_server": 404, "not_active": 404, "invalid_spec": 400, "invalid_config": 400, "needs_config": 400,
    "needs_secrets": 400, "declined": 400, "refused": 403, "cannot_run": 409, "not_configurable": 409,
    "did_not_start": 502, "catalog_unavailable": 503, "not_saved": 503,
}


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    message: str


class ErrorBody(BaseModel):
    """Every error answer: `{"error": {"type", "message", …details}}`."""

    error: ErrorDetail


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of the error statuses a route may answer."""
    return {status: {"model": ErrorBody} for status in statuses}


class ApiError(Exception):
    """An HTTP error with a JSON body: `{"error": {"type": kind, "message": message, **detail}}`."""

    def __init__(self, status: int, kind: str, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": kind, "message": message, **detail}}


def status_of(outcome: Any) -> int:
    """The HTTP status of an operation outcome: 200 when it did what was asked."""
    return 200 if outcome.ok else STATUS_BY_KIND.get(outcomes.kind(outcome), 400)


def raise_for(outcome: Any) -> None:
    """Raise `ApiError` for an outcome that did not do what was asked, carrying its data."""
    if not outcome.ok:
        data = outcomes.data(outcome)
        message = data.pop("message")
        kind = data.pop("outcome")
        raise ApiError(status_of(outcome), kind, message, **data)
