"""GET /api/payables/inbound/settings: the organization's inbound address and senders."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import error_responses
from functions.payables.inbound import SETTINGS_COLUMNS, settings_out
from shared import db
from shared.context import Viewer
from shared.errors import ApiError
from shared.models.inbound import InboundSettings

router = APIRouter(tags=["payables"])


@router.get(
    "/api/payables/inbound/settings",
    response_model=InboundSettings,
    summary="The inbound email address, allowed senders and limits",
    description=(
        "`address` is where vendors (or members forwarding) send invoices: "
        "`<token>@<the inbound domain>`. Messages from senders not allowed are quarantined."
    ),
    responses=error_responses(400, 401, 403),
)
async def get_inbound_settings(ctx: Viewer) -> InboundSettings:
    rows = db.run(
        ctx.db.from_("inbound_settings")
        .select(SETTINGS_COLUMNS)
        .eq("organization_id", str(ctx.organization_id))
    ).data
    if not rows:
        raise ApiError(404, "not_found", "the organization has no inbound settings")
    return settings_out(rows[0])
