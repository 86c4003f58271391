"""GET /api/audit: the organization's audit entries, newest first, filtered."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from functions.audit import AUDIT_COLUMNS, entry, error_responses
from shared.context import Admin
from shared.errors import validation
from shared.listing import PageParams, fetch_page, one_of, page_params
from shared.models.common import Day, Page, Pagination
from shared.models.organizations import AuditEntry

router = APIRouter(tags=["audit"])

TABLE = re.compile(r"^(public\.)?[a-z][a-z0-9_]{0,62}$")
ACTIONS = ("insert", "update", "delete")


@router.get(
    "/api/audit",
    response_model=Page[AuditEntry],
    summary="List the organization's audit entries",
    description=(
        "Admins and owners. Every insert, update and delete of an audited table (invoices, "
        "items, payments, clients, quotes, credit notes, memberships, invitations, the "
        "organization...), with the row before and after and who made it (`changed_by`, a "
        "user id; `changed_by_role`: authenticated, service_role...). Newest first. Filters: "
        "`table` (invoices or public.invoices), `record_id`, `actor`, `action` "
        "(insert,update,delete), `changed_from` / `changed_to` (days, inclusive, UTC)."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def list_audit(
    *,
    ctx: Admin,
    page: Annotated[PageParams, Depends(page_params)],
    table: Annotated[
        str | None, Query(max_length=70, description="The table, e.g. invoices")
    ] = None,
    record_id: Annotated[UUID | None, Query(description="The record's id")] = None,
    actor: Annotated[UUID | None, Query(description="The user id who made the change")] = None,
    action: Annotated[
        str | None, Query(max_length=30, description="insert, update, delete (comma-separated)")
    ] = None,
    changed_from: Annotated[Day | None, Query(description="From this day (UTC)")] = None,
    changed_to: Annotated[Day | None, Query(description="Through this day (UTC)")] = None,
) -> Page[AuditEntry]:
    query = (
        ctx.db.from_("audit_log")
        .select(AUDIT_COLUMNS, count="exact")
        .eq("organization_id", str(ctx.organization_id))
    )
    if table is not None:
        if not TABLE.match(table):
            raise validation("table", "give a table name such as invoices")
        query = query.eq("table_name", table if table.startswith("public.") else f"public.{table}")
    if record_id is not None:
        query = query.eq("record_id", str(record_id))
    if actor is not None:
        query = query.eq("changed_by", str(actor))
    actions = one_of("action", action, ACTIONS)
    if actions:
        query = query.in_("operation", [a.upper() for a in actions])
    if changed_from and changed_to and changed_from > changed_to:
        raise validation("changed_to", "must be on or after changed_from")
    if changed_from is not None:
        query = query.gte("changed_at", f"{changed_from.isoformat()}T00:00:00+00:00")
    if changed_to is not None:
        end = changed_to + dt.timedelta(days=1)
        query = query.lt("changed_at", f"{end.isoformat()}T00:00:00+00:00")
    query = query.order("changed_at", desc=True).order("id", desc=True)
    rows, pagination = fetch_page(query, page)
    return Page[AuditEntry](
        data=[AuditEntry.model_validate(entry(row)) for row in rows],
        pagination=Pagination(**pagination),
    )
