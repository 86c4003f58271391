"""GET /api/payables/inbound/messages: the messages received, newest first (the
quarantine is ``status=quarantined``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from functions.payables import error_responses, plain
from functions.payables.inbound import MESSAGE_COLUMNS
from shared.context import Viewer
from shared.listing import PageParams, fetch_page, one_of, page_params
from shared.models.common import Page, Pagination
from shared.models.inbound import MESSAGE_STATUSES, InboundMessageSummary

router = APIRouter(tags=["payables"])


@router.get(
    "/api/payables/inbound/messages",
    response_model=Page[InboundMessageSummary],
    summary="List inbound messages (and the quarantine)",
    description=(
        "Newest first. `status` (received, imported, quarantined, rejected, released; "
        "comma-separated) filters: `status=quarantined` is the quarantine."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def list_inbound_messages(
    *,
    ctx: Viewer,
    page: Annotated[PageParams, Depends(page_params)],
    status: Annotated[str | None, Query(description=", ".join(MESSAGE_STATUSES))] = None,
) -> Page[InboundMessageSummary]:
    statuses = one_of("status", status, MESSAGE_STATUSES)
    query = (
        ctx.db.from_("inbound_messages")
        .select(MESSAGE_COLUMNS, count="exact")
        .eq("organization_id", str(ctx.organization_id))
    )
    if statuses:
        query = query.in_("status", statuses)
    rows, pagination = fetch_page(query.order("received_at", desc=True).order("id"), page)
    return Page[InboundMessageSummary](
        data=[InboundMessageSummary.model_validate(r) for r in plain(rows)],
        pagination=Pagination(**pagination),
    )
