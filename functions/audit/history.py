"""GET /api/invoices/{id}/history and GET /api/clients/{id}/history: one record's audit
trail with what belongs to it, newest first."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path

from functions.audit import error_responses
from shared import db
from shared.context import Admin
from shared.errors import not_found
from shared.listing import PageParams, page_params
from shared.models.common import Page, Pagination
from shared.models.organizations import AuditEntry

router = APIRouter(tags=["audit"])

RecordId = Annotated[UUID, Path(alias="id", description="The record's id")]


def _history(ctx: Admin, entity: str, record_id: UUID, page: PageParams) -> Page[AuditEntry]:
    answer = db.rpc(
        ctx.db,
        "audit_history",
        {
            "organization_id": str(ctx.organization_id),
            "entity": entity,
            "record_id": str(record_id),
            "page_size": page.page_size,
            "page_offset": page.first,
        },
    )
    total = int(answer["total"])
    if total == 0:
        raise not_found(entity)
    return Page[AuditEntry](
        data=[AuditEntry.model_validate(row) for row in answer["data"]],
        pagination=Pagination(
            page=page.page,
            page_size=page.page_size,
            total=total,
            total_pages=(total + page.page_size - 1) // page.page_size,
        ),
    )


@router.get(
    "/api/invoices/{id}/history",
    response_model=Page[AuditEntry],
    summary="An invoice's history",
    description=(
        "Admins and owners. Every audit entry of the invoice and of its items, payments, "
        "credit notes, refunds and late fees, newest first — a deleted invoice's too. "
        "`404` when the organization has no entry of that id."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def invoice_history(
    ctx: Admin, record_id: RecordId, page: Annotated[PageParams, Depends(page_params)]
) -> Page[AuditEntry]:
    return _history(ctx, "invoice", record_id, page)


@router.get(
    "/api/clients/{id}/history",
    response_model=Page[AuditEntry],
    summary="A client's history",
    description=(
        "Admins and owners. Every audit entry of the client and of its invoices, quotes, "
        "credit notes and recurring profiles (the records themselves, not their lines), "
        "newest first. `404` when the organization has no entry of that id."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def client_history(
    ctx: Admin, record_id: RecordId, page: Annotated[PageParams, Depends(page_params)]
) -> Page[AuditEntry]:
    return _history(ctx, "client", record_id, page)
