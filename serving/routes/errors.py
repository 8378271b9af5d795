"""One error type for the HTTP routes, rendered in each front door's own shape.

REST routes answer `{"detail": "<message>"}`; `/v1/…` routes answer OpenAI's envelope
`{"error": {"message", "type", "param", "code"}}` so the official SDKs raise the right exception
with the message. Malformed JSON and schema violations get the same treatment: a 4xx naming the
field, never a stack trace.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "server_overloaded",
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def is_openai_path(request: Request) -> bool:
    return request.url.path.startswith("/v1/")


def error_response(request: Request, error: ApiError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    if is_openai_path(request):
        status = 400 if error.status == 422 else error.status  # OpenAI reports schema errors as 400
        body = {
            "error": {
                "message": error.message,
                "type": OPENAI_TYPES.get(error.status, "server_error"),
                "param": error.param,
                "code": error.code,
            }
        }
        return JSONResponse(body, status, headers=headers)
    return JSONResponse({"detail": error.message}, error.status, headers=headers)


def describe_validation(exc: RequestValidationError) -> tuple[str, str | None]:
    """'field: what is wrong' for every problem; the first field is the `param`."""
    problems, first = [], None
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        field = ".".join(location) or "body"
        first = first or field
        if error.get("type") == "json_invalid":
            problems.append("the body is not valid JSON; send a JSON object with Content-Type application/json")
            first = "body"
            continue
        message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
        problems.append(f"{field}: {message}")
    return "; ".join(dict.fromkeys(problems)), first


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = describe_validation(exc)
        return error_response(request, ApiError(422, message, param, "invalid_value"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(request, ApiError(exc.status_code, str(exc.detail)))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(request, ApiError(500, f"internal error ({type(exc).__name__}); see the node's log"))
