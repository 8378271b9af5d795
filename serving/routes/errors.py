"""One error type for the HTTP routes, rendered in each front door's own shape.

REST routes answer `{"detail": "<message>"}`; `/v1/…` routes answer OpenAI's envelope
`{"error": {"message", "type", "param", "code"}}` so the official SDKs raise the right exception
with the message. Malformed JSON and schema violations get the same treatment: a 4xx naming the
field, never a stack trace. A body that is not UTF-8 or is nested too deeply to parse is malformed
JSON too: same status, same shape, `param` "body".
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving.request import describe_error

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


NOT_JSON = "the body is not valid JSON; send a JSON object with Content-Type application/json"


def unparsable_body(exc: StarletteHTTPException) -> ApiError | None:
    """FastAPI turns a body its JSON parser chokes on (bad UTF-8, too deep) into a bare 400; say why."""
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        problem = f"the body is not valid JSON: it is not UTF-8 text (byte {cause.start}); send it encoded as UTF-8"
    elif isinstance(cause, RecursionError):
        problem = "the body is not valid JSON: it is nested too deeply; send a flat JSON object"
    else:
        return None
    return ApiError(422, problem, "body", "invalid_value")


def describe_validation(exc: RequestValidationError) -> tuple[str, str | None]:
    """'field: what is wrong' for every problem, worded as on the WebSocket; the first field is the `param`."""
    problems, first = [], None
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            problems.append(NOT_JSON)
            first = "body"
            continue
        location = [part for part in error.get("loc", ()) if part != "body"]
        field, message = describe_error({**error, "loc": location})
        field = "body" if field == "request" else field
        first = first or field
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
        return error_response(request, unparsable_body(exc) or ApiError(exc.status_code, str(exc.detail)))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(request, ApiError(500, f"internal error ({type(exc).__name__}); see the node's log"))
