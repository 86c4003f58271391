"""PUT /api/payables/inbound/settings: allowed senders, limits, a new address (admins)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import call, error_responses
from functions.payables.inbound import SETTINGS_COLUMNS, settings_out
from shared import db
from shared.context import Admin
from shared.errors import ApiError
from shared.models.inbound import InboundSettings, InboundSettingsUpdate

router = APIRouter(tags=["payables"])


@router.put(
    "/api/payables/inbound/settings",
    response_model=InboundSettings,
    summary="Change the inbound settings (the fields given)",
    description=(
        "`allowed_senders`: up to 100 addresses (`ap@vendor.example`) or domains "
        "(`@vendor.example`), compared in lower case; `allow_members` (default true): "
        "members' own addresses may send; `max_message_bytes`, `max_attachments`, "
        "`max_attachment_bytes`; `rotate_address: true` replaces the address (the old one "
        "stops at once). Admins and owners."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def update_inbound_settings(ctx: Admin, body: InboundSettingsUpdate) -> InboundSettings:
    changes = body.to_json(exclude_unset=True)
    changes.pop("rotate_address", None)
    org = str(ctx.organization_id)
    if body.rotate_address:
        call(ctx, "rotate_inbound_address", {})
    if changes:
        rows = db.run(
            ctx.db.from_("inbound_settings")
            .update(changes)
            .eq("organization_id", org)
            .select(SETTINGS_COLUMNS)
        ).data
    else:
        rows = db.run(
            ctx.db.from_("inbound_settings").select(SETTINGS_COLUMNS).eq("organization_id", org)
        ).data
    if not rows:
        raise ApiError(404, "not_found", "the organization has no inbound settings")
    return settings_out(rows[0])
