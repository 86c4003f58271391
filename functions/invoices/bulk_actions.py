"""POST /api/invoices/bulk-actions: one action over 1 to 500 invoices, a result per id.

The flows (the set-based actions, the inline or queued send, the zip download) are in
`shared.bulk_actions`; a send left (wholly or partly) to the queue answers 202.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from functions.invoices import error_responses
from shared import bulk_actions, bulk_send, lambda_context
from shared.api import make_handler
from shared.context import Member
from shared.models.delivery import BulkActionRequest, BulkActionResult

router = APIRouter(tags=["invoices"])


@router.post(
    "/api/invoices/bulk-actions",
    response_model=BulkActionResult,
    summary="One action over many invoices",
    description=(
        "Body `{action, ids, ...}`: `action` one of send, mark_sent, mark_paid, cancel, "
        "delete, download; `ids` 1 to 500 distinct invoice ids. Send takes `cc`, `bcc`, "
        "`subject`, `message`; mark_paid `payment_date`, `payment_method`, "
        "`reference_number`, `notes`. Each id gets a result: `ok` or a reason "
        "(not_found, wrong_status, has_payments, no_email, send_failed). Sends of more "
        f"than {bulk_send.INLINE_SEND_LIMIT} invoices are queued: 202 with `job_id`. A "
        "smaller send is made during the request (200); if the request runs short of time "
        "the items it did not reach stay `pending` and are sent from the queue: 202, "
        "`queued` true, with `job_id`."
    ),
    responses={
        **error_responses(400, 401, 403, 422),
        202: {
            "model": BulkActionResult,
            "description": "A send queued (or, inline, its rest); see job_id",
            "headers": {
                "Location": {
                    "description": "The job: /api/invoices/bulk-actions/{job_id}",
                    "required": True,
                    "schema": {"type": "string"},
                }
            },
        },
    },
)
async def bulk_action(ctx: Member, body: BulkActionRequest, request: Request) -> Any:
    if body.action == "download":
        return bulk_actions.download(ctx, body)
    if body.action != "send":
        return bulk_actions.apply(ctx, body)
    time_left = lambda_context.time_left(request.scope.get("aws.context"))
    result = bulk_actions.send(ctx, body, time_left)
    if not result.queued:
        return result
    return JSONResponse(
        result.model_dump(mode="json"),
        status_code=202,
        headers={"Location": f"/api/invoices/bulk-actions/{result.job_id}"},
    )


handler = make_handler(router)
