"""Invoices in by email: what the inbound routes share (docs/api.md, "Payables: invoices
in by email"; migration 20261206170600_email_intake.sql). The worker is
functions/jobs/email_intake.py."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Path

from functions.payables import plain
from shared import db
from shared.context import Context
from shared.errors import ApiError
from shared.models.inbound import InboundSettings
from shared.settings import get_settings

MessageId = Annotated[UUID, Path(alias="id", description="The inbound message's id")]
DraftId = Annotated[UUID, Path(alias="id", description="The draft's id")]

SETTINGS_COLUMNS = (
    "organization_id,address_token,allowed_senders,allow_members,max_message_bytes,"
    "max_attachments,max_attachment_bytes,updated_at"
)
MESSAGE_COLUMNS = (
    "id,message_id,from_address,from_name,subject,recipient,received_at,sent_at,size_bytes,"
    "attachment_count,status,reason,import_batch_id,imported_by,released_by,released_at,"
    "authentication"
)
ATTACHMENT_COLUMNS = (
    "position,filename,content_type,size_bytes,sha256,kind,outcome,message,"
    "vendor_invoice_ids,errors,document_kind,import_batch_id,purchase_order_ids,goods_receipt_ids"
)
DRAFT_COLUMNS = (
    "id,inbound_message_id,inbound_attachment_id,status,vendor_name,invoice_number,"
    "invoice_date,due_date,po_number,currency,subtotal::text,tax_amount::text,"
    "total_amount::text,text_excerpt,vendor_invoice_id,decided_by,decided_at,created_at"
)


def settings_out(row: dict[str, Any]) -> InboundSettings:
    domain = get_settings().inbound_email_domain
    return InboundSettings.model_validate(
        {**plain(row), "address": f"{row['address_token']}@{domain}".lower()}
    )


def one(ctx: Context, table: str, columns: str, row_id: UUID, what: str) -> dict[str, Any]:
    rows = db.run(
        ctx.db.from_(table)
        .select(columns)
        .eq("organization_id", str(ctx.organization_id))
        .eq("id", str(row_id))
    ).data
    if not rows:
        raise ApiError(404, "not_found", f"{what} not found")
    found: dict[str, Any] = plain(rows[0])
    return found


def message_with_attachments(ctx: Context, message_id: UUID) -> dict[str, Any]:
    message = one(ctx, "inbound_messages", MESSAGE_COLUMNS, message_id, "inbound message")
    message["attachments"] = plain(
        db.run(
            ctx.db.from_("inbound_attachments")
            .select(ATTACHMENT_COLUMNS)
            .eq("organization_id", str(ctx.organization_id))
            .eq("inbound_message_id", str(message_id))
            .order("position")
        ).data
    )
    return message
