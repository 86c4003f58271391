"""POST /api/payables/inbound/drafts/{id}/discard: the PDF was not an invoice to pay."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import call, error_responses
from functions.payables.inbound import DRAFT_COLUMNS, DraftId, one
from shared.context import Member
from shared.models.inbound import InboundDraft

router = APIRouter(tags=["payables"])


@router.post(
    "/api/payables/inbound/drafts/{id}/discard",
    response_model=InboundDraft,
    summary="Discard a draft",
    description="Only a draft that `needs_confirmation` (422 otherwise). Members and above.",
    responses=error_responses(400, 401, 403, 404, 422),
)
async def discard_inbound_draft(ctx: Member, draft_id: DraftId) -> InboundDraft:
    call(ctx, "discard_inbound_draft", {"draft_id": draft_id})
    return InboundDraft.model_validate(one(ctx, "inbound_drafts", DRAFT_COLUMNS, draft_id, "draft"))
