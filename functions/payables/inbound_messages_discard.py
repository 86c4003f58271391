"""POST /api/payables/inbound/messages/{id}/discard: throw a quarantined message away."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import call, error_responses
from functions.payables.inbound import MessageId, message_with_attachments
from shared.context import Admin
from shared.models.inbound import InboundMessage

router = APIRouter(tags=["payables"])


@router.post(
    "/api/payables/inbound/messages/{id}/discard",
    response_model=InboundMessage,
    summary="Discard a quarantined message",
    description="Only a `quarantined` message; it becomes `rejected`. Admins and owners.",
    responses=error_responses(400, 401, 403, 404, 422),
)
async def discard_inbound_message(ctx: Admin, message_id: MessageId) -> InboundMessage:
    call(ctx, "discard_inbound_message", {"inbound_message_id": message_id})
    return InboundMessage.model_validate(message_with_attachments(ctx, message_id))
