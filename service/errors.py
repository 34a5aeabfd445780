"""Errors the API answers with: JSON bodies `{"detail": <sentence>, "code": <machine code>, ...}`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

_CODE_FOR_STATUS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}


class ServiceError(Exception):
    """A refusal with a status, a stable machine-readable `code` and a human `detail`."""

    def __init__(self, status: int, code: str, detail: str, /, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, "code": self.code, **self.extra}


def not_found(what: str) -> ServiceError:
    return ServiceError(404, "not_found", f"{what} not found")


def forbidden(detail: str) -> ServiceError:
    return ServiceError(403, "forbidden", detail)


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(_request: Request, error: ServiceError) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = _CODE_FOR_STATUS.get(error.status_code, "error")
        detail = error.detail if isinstance(error.detail, str) else str(error.detail)
        return JSONResponse({"detail": detail, "code": code}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [_describe(problem) for problem in error.errors()]
        detail = "; ".join(f"{p['location']}: {p['message']}" for p in problems[:5]) or "invalid request"
        return JSONResponse({"detail": detail, "code": "validation_error", "errors": problems}, status_code=422)


def _describe(problem: dict[str, Any]) -> dict[str, str]:
    location = ".".join(str(part) for part in problem.get("loc", ()))
    return {"location": location, "message": str(problem.get("msg", "")), "type": str(problem.get("type", ""))}
