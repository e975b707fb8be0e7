"""Turning central's errors into HTTP answers: not found 404, conflicts 409, rule breaks 422."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from central.domain.errors import CentralError, Conflict, NotFound, RuleViolation


def _status(err: CentralError) -> int:
    if isinstance(err, NotFound):
        return 404
    if isinstance(err, Conflict):
        return 409
    if isinstance(err, RuleViolation):
        return 422
    return 400


async def _central_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CentralError)
    return JSONResponse(status_code=_status(exc), content={"detail": str(exc)})


def install_error_handlers(app: FastAPI) -> None:
    """Register the handler that maps CentralError subclasses to 4xx with the message."""
    app.add_exception_handler(CentralError, _central_error)
