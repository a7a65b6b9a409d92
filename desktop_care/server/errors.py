"""Errors the API returns, and the handlers that give every error one body shape:
:class:`desktop_care.schemas.ErrorDetail` (``{"detail": ..., "fields": {...}}``).

Validation errors name the field and say what is wrong in plain words, e.g.
``{"detail": "limit: must be between 1 and 200", "fields": {"limit": "must be between 1 and 200"}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from desktop_care.commands.runner import error_field, kind_message
from desktop_care.schemas import ErrorDetail

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with a status code and a message a person can act on."""

    status_code = 400

    def __init__(self, detail: str, *, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fields = dict(fields or {})

    @property
    def headers(self) -> dict[str, str] | None:
        return None


class Unauthorized(ApiError):
    """401: no valid session; the client should sign in (again)."""

    status_code = 401

    @property
    def headers(self) -> dict[str, str] | None:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(ApiError):
    status_code = 403


class NotFound(ApiError):
    status_code = 404


class TooManyRequests(ApiError):
    """429: a limit was reached; ``retry_after`` seconds until it is possible again."""

    status_code = 429

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


class InvalidInput(ApiError):
    """422 about one field."""

    status_code = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", fields={field: message})


class FieldsInvalid(ApiError):
    """422 naming every offending field (nothing was done)."""

    status_code = 422

    def __init__(self, fields: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in fields.items()), fields=fields)


#: Responses every authenticated route may give, for the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorDetail, "description": "Not signed in, or the session expired"},
    403: {"model": ErrorDetail, "description": "The account may not do this"},
    422: {"model": ErrorDetail, "description": "A field is invalid; `fields` names it"},
}


def error_response(
    status_code: int, detail: str, fields: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = ErrorDetail(detail=detail, fields=dict(fields or {}))
    return JSONResponse(body.model_dump(), status_code=status_code, headers=dict(headers or {}) or None)


def _field_name(loc: Sequence[int | str], error_type: str = "") -> str:
    parts = list(loc)
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return error_field(tuple(parts), error_type) or "request"


def plain_message(error: Mapping[str, Any]) -> str:
    """A pydantic error in plain words, without the field name."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    match kind:
        case "missing":
            return "is required"
        case "int_parsing" | "int_type" | "int_from_float":
            return "must be a whole number"
        case "greater_than_equal":
            return f"must be at least {ctx.get('ge')}"
        case "less_than_equal":
            return f"must be at most {ctx.get('le')}"
        case "string_too_long":
            return f"must be at most {ctx.get('max_length')} characters"
        case "string_too_short":
            minimum = ctx.get("min_length", 1)
            return "must not be empty" if minimum == 1 else f"must be at least {minimum} characters"
        case "string_type":
            return "must be text"
        case "bool_type" | "bool_parsing":
            return "must be true or false"
        case "json_invalid":
            return "is not valid JSON"
        case "model_attributes_type" | "dict_type":
            return "must be a JSON object"
        case "enum" | "literal_error":
            return f"must be one of {ctx.get('expected')}"
    message = str(error.get("msg", "is invalid"))
    return message[:1].lower() + message[1:]


def _validation_failed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields: dict[str, str] = {}
    for error in exc.errors():
        loc = error.get("loc", ())
        name = "body" if error.get("type") == "json_invalid" else _field_name(loc, error.get("type", ""))
        # A command's fields are named as people name them (no kind tag), and a field no
        # command may write (the logon ID) says so.
        fields.setdefault(name, kind_message(error) or plain_message(error).removeprefix("value error, "))
    detail = "; ".join(f"{name}: {message}" for name, message in fields.items()) or "the request is invalid"
    return error_response(422, detail, fields)


def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.detail, exc.fields, exc.headers)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
        # FastAPI's 400 "error parsing the body": bytes that are not UTF-8 are no more
        # JSON than a syntax error is, and get the same documented 422.
        return error_response(422, "body: is not valid JSON", {"body": "is not valid JSON"})
    return error_response(exc.status_code, str(exc.detail), headers=exc.headers)


def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.error("database error on %s %s: %s", request.method, request.url.path, exc)
    return error_response(503, "the database is not available; try again shortly")


def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_failed)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(Exception, _internal_error)
