"""GET /api/dashboard/recent-activities: the latest client activities (clients created,
contacted, invoiced, paid), newest first, with their client's name."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from functions.dashboard import STATUSES, error_responses
from shared import db
from shared.context import Viewer
from shared.models.reports import RecentActivities

router = APIRouter(tags=["dashboard"])


@router.get(
    "/api/dashboard/recent-activities",
    response_model=RecentActivities,
    summary="The latest client activities",
    responses=error_responses(*STATUSES),
)
async def recent_activities(
    ctx: Viewer,
    limit: Annotated[int, Query(ge=1, le=50, description="how many (at most 50)")] = 10,
) -> RecentActivities:
    data = db.rpc(
        ctx.db,
        "dashboard_recent_activities",
        {"organization_id": str(ctx.organization_id), "row_limit": limit},
    )
    return RecentActivities.model_validate(data)
