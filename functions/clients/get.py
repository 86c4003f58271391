"""GET /api/clients/{id}: one client with its latest invoices and activities.

One round trip: PostgREST embeds the client's invoices and activity timeline, each
ordered and limited on the server.
"""

from __future__ import annotations

from fastapi import APIRouter

from functions.clients import CLIENT_COLUMNS, ClientId, error_responses, opened
from shared import db
from shared.context import Viewer
from shared.errors import not_found
from shared.models.clients import ClientDetail

router = APIRouter(tags=["clients"])

RECENT_INVOICES = 10
RECENT_ACTIVITIES = 20
_INVOICE_COLUMNS = (
    "id,invoice_number,status,issue_date,due_date,total:total_amount,balance_due,currency"
)
_ACTIVITY_COLUMNS = "id,activity,timestamp,type,metadata,created_by"


@router.get(
    "/api/clients/{id}",
    response_model=ClientDetail,
    summary="Get a client with its recent invoices and activities",
    description=(
        f"`recent_invoices`: the {RECENT_INVOICES} latest invoices (newest issue date first); "
        f"`recent_activities`: the {RECENT_ACTIVITIES} latest timeline entries (newest first)."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def get_client(ctx: Viewer, client_id: ClientId) -> ClientDetail:
    query = (
        ctx.db.from_("clients")
        .select(
            f"{CLIENT_COLUMNS},"
            f"recent_invoices:invoices({_INVOICE_COLUMNS}),"
            f"recent_activities:client_activities({_ACTIVITY_COLUMNS})"
        )
        .eq("id", str(client_id))
        .eq("organization_id", str(ctx.organization_id))
        .order("issue_date", desc=True, foreign_table="recent_invoices")
        .order("created_at", desc=True, foreign_table="recent_invoices")
        .order("id", desc=True, foreign_table="recent_invoices")
        .limit(RECENT_INVOICES, foreign_table="recent_invoices")
        .order("timestamp", desc=True, foreign_table="recent_activities")
        .order("id", desc=True, foreign_table="recent_activities")
        .limit(RECENT_ACTIVITIES, foreign_table="recent_activities")
        .limit(1)
    )
    rows = db.run(query).data
    if not rows:
        raise not_found("client")
    return ClientDetail.model_validate(opened(rows[0]))
