"""GET /api/payables/inbound/messages/{id}: a message with its result per attachment."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import error_responses
from functions.payables.inbound import MessageId, message_with_attachments
from shared.context import Viewer
from shared.models.inbound import InboundMessage

router = APIRouter(tags=["payables"])


@router.get(
    "/api/payables/inbound/messages/{id}",
    response_model=InboundMessage,
    summary="An inbound message and what became of each attachment",
    description=(
        "`attachments[]`: `kind` (csv, einvoice, pdf, other), `outcome` (imported, "
        "partly_imported, rejected, duplicate, draft, unsupported, too_large, unreadable), "
        "the vendor invoices it made and its rejected rows; `import_batch_id` is the "
        "message's batch (GET /api/reconciliation/imports/{id})."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def get_inbound_message(ctx: Viewer, message_id: MessageId) -> InboundMessage:
    return InboundMessage.model_validate(message_with_attachments(ctx, message_id))
