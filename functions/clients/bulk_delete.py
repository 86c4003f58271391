"""POST /api/clients/bulk-delete: deletes many clients, each on its own merits.

One SQL function (public.bulk_delete_clients, one transaction, RLS applies) deletes
every requested client of the organization that has no invoices and reports the
others: ``not_found`` (no such id in the organization, another tenant's included)
or ``has_invoices``.
"""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter

from functions.clients import error_responses
from shared import db
from shared.context import Member
from shared.models.clients import (
    MAX_BULK_IDS,
    BulkDeleteItem,
    BulkDeleteResult,
    BulkDeleteSummary,
    ClientBulkDelete,
)

router = APIRouter(tags=["clients"])


@router.post(
    "/api/clients/bulk-delete",
    response_model=BulkDeleteResult,
    summary="Delete several clients",
    description=(
        f'Body `{{"ids": [...]}}`: 1 to {MAX_BULK_IDS} distinct client ids. Each client '
        "without invoices is deleted; the others are reported per id (`not_found`, "
        "`has_invoices`) and left as they are. Answers 200 with one result per id."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def bulk_delete_clients(ctx: Member, body: ClientBulkDelete) -> BulkDeleteResult:
    rows = db.rpc(
        ctx.db,
        "bulk_delete_clients",
        {"organization_id": str(ctx.organization_id), "client_ids": [str(i) for i in body.ids]},
    )
    results = [BulkDeleteItem.model_validate(row) for row in rows or []]
    counts = Counter(item.status for item in results)
    return BulkDeleteResult(
        results=results,
        summary=BulkDeleteSummary(
            requested=len(body.ids),
            deleted=counts["deleted"],
            not_found=counts["not_found"],
            has_invoices=counts["has_invoices"],
        ),
    )
