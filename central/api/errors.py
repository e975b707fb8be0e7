"""Turning central's and the posting engine's errors into HTTP answers: not found 404,
conflicts 409, rule breaks 422."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from central.domain.accounting import (
    AccountingError,
    DocumentReversed,
    IdempotencyConflict,
    QuantityExceedsDocument,
    ReferenceNotFound,
    ReversalNotAllowed,
    StaleRevaluation,
)
from central.domain.errors import CentralError, Conflict, Forbidden, NotFound, RuleViolation

# The posting engine's errors: a reference that is not there is 404; one that clashes with
# what was posted since is 409; everything else (bad movement, negative stock, no cost) 422.
_ACCOUNTING_NOT_FOUND = (ReferenceNotFound,)
_ACCOUNTING_CONFLICT = (
    IdempotencyConflict,
    DocumentReversed,
    ReversalNotAllowed,
    QuantityExceedsDocument,
    StaleRevaluation,
)


def _status(err: CentralError) -> int:
    if isinstance(err, NotFound):
        return 404
    if isinstance(err, Forbidden):
        return 403
    if isinstance(err, Conflict):
        return 409
    if isinstance(err, RuleViolation):
        return 422
    return 400


async def _central_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CentralError)
    return JSONResponse(status_code=_status(exc), content={"detail": str(exc)})


def _accounting_status(err: AccountingError) -> int:
    if isinstance(err, _ACCOUNTING_NOT_FOUND):
        return 404
    if isinstance(err, _ACCOUNTING_CONFLICT):
        return 409
    return 422


async def _accounting_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AccountingError)
    return JSONResponse(status_code=_accounting_status(exc), content={"detail": str(exc)})


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that map CentralError and AccountingError subclasses to 4xx."""
    app.add_exception_handler(CentralError, _central_error)
    app.add_exception_handler(AccountingError, _accounting_error)
