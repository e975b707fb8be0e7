"""Expected receipts (ASN / purchase order lines)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import Session, col, select

from central.api.deps import SessionDep, WriteSessionDep
from central.master_data import create_expected_receipt
from central.schemas import (
    ExpectedReceiptCreate,
    ExpectedReceiptLinePublic,
    ExpectedReceiptPublic,
)
from central.store import tables as t

router = APIRouter(prefix="/expected-receipts", tags=["expected receipts"])


def _public(
    receipt: t.ExpectedReceipt, lines: list[t.ExpectedReceiptLine]
) -> ExpectedReceiptPublic:
    assert receipt.id is not None
    return ExpectedReceiptPublic(
        id=receipt.id,
        site=receipt.site_code,
        reference=receipt.reference,
        supplier=receipt.supplier,
        status=receipt.status,
        created_at=receipt.created_at,
        lines=[ExpectedReceiptLinePublic.model_validate(line) for line in lines],
    )


def _lines(session: Session, receipt_id: int | None) -> list[t.ExpectedReceiptLine]:
    return list(
        session.exec(
            select(t.ExpectedReceiptLine)
            .where(t.ExpectedReceiptLine.receipt_id == receipt_id)
            .order_by(col(t.ExpectedReceiptLine.line_no))
        ).all()
    )


@router.post("", response_model=ExpectedReceiptPublic, status_code=201)
def post_expected_receipt(
    session: WriteSessionDep, receipt_in: ExpectedReceiptCreate
) -> ExpectedReceiptPublic:
    """Create an expected receipt with its lines."""
    receipt, lines = create_expected_receipt(session=session, receipt_in=receipt_in)
    session.commit()
    return _public(receipt, lines)


@router.get("", response_model=list[ExpectedReceiptPublic])
def list_expected_receipts(
    session: SessionDep,
    site: str | None = None,
    status: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ExpectedReceiptPublic]:
    """Expected receipts with their lines and received quantities."""
    statement = (
        select(t.ExpectedReceipt).order_by(col(t.ExpectedReceipt.id)).offset(offset).limit(limit)
    )
    if site is not None:
        statement = statement.where(t.ExpectedReceipt.site_code == site)
    if status is not None:
        statement = statement.where(t.ExpectedReceipt.status == status)
    return [
        _public(receipt, _lines(session, receipt.id)) for receipt in session.exec(statement).all()
    ]
