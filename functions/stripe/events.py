"""The Stripe events received: GET /api/stripe/events (status=needs_attention lists the
payments a person must look at), POST /api/stripe/events/{id}/resolve."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query

from functions.stripe import error_responses
from shared import db
from shared.context import Member, Viewer
from shared.models.portal import StripeEvent, StripeEventList, StripeEventStatus

router = APIRouter(tags=["stripe"])

_COLUMNS = (
    "id,event_id,type,livemode,status,reason,invoice_id,payment_id,payment_intent_id,"
    "stripe_created_at,received_at,resolved_at"
)


@router.get(
    "/api/stripe/events",
    response_model=StripeEventList,
    summary="Stripe events received, newest first",
    responses=error_responses(400, 401, 403, 422),
)
async def list_stripe_events(
    ctx: Viewer,
    status: Annotated[StripeEventStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> StripeEventList:
    query = (
        ctx.db.table("stripe_events")
        .select(_COLUMNS)
        .eq("organization_id", str(ctx.organization_id))
        .order("received_at", desc=True)
        .order("id", desc=True)
        .limit(limit)
    )
    if status is not None:
        query = query.eq("status", status)
    rows = db.run(query).data
    return StripeEventList.model_validate({"data": rows or []})


@router.post(
    "/api/stripe/events/{id}/resolve",
    response_model=StripeEvent,
    summary="Mark an event that needed attention as dealt with",
    responses=error_responses(400, 401, 403, 404, 422),
)
async def resolve_stripe_event(
    ctx: Member, event_id: Annotated[UUID, Path(alias="id", description="The event's id")]
) -> StripeEvent:
    row = db.rpc(
        ctx.db,
        "resolve_stripe_event",
        {"organization_id": str(ctx.organization_id), "event_id": str(event_id)},
    )
    return StripeEvent.model_validate(row)
