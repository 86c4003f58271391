"""PUT /api/settings: changes any of profile, business and notifications in one
transaction (one SQL function): a refused section changes nothing.

A write in the organization the caller acts in, so it needs the member role (the
business section, admin); everyone, viewers included, changes their own profile and
notifications through the per-user routes as well."""

from __future__ import annotations

from fastapi import APIRouter

from functions.settings import error_responses, opened, sealed_business
from shared import db
from shared.context import Member
from shared.errors import forbidden
from shared.models.settings import AllSettings, SettingsUpdate, section_json

router = APIRouter(tags=["settings"])


@router.put(
    "/api/settings",
    response_model=AllSettings,
    summary="Change settings (any section, all or nothing)",
    description=(
        "Each section is a partial update, as in its own route. A write in the organization: "
        "it needs the member role, and the business section the admin role (viewers change "
        "their profile and notifications through /api/settings/profile and "
        "/api/settings/notifications). The whole change is applied in one transaction: when "
        "one section is refused, none is written."
    ),
    responses=error_responses(401, 403, 422),
)
async def update_settings(body: SettingsUpdate, ctx: Member) -> AllSettings:
    if body.business is not None and not ctx.at_least("admin"):
        raise forbidden(
            f"your role ({ctx.role}) may not change business settings; it needs admin or above"
        )
    result = db.rpc(
        ctx.db,
        "update_settings",
        {
            "organization_id": str(ctx.organization_id),
            "profile": section_json(body.profile),
            "business": sealed_business(ctx.organization_id, section_json(body.business)),
            "notifications": section_json(body.notifications),
        },
    )
    return AllSettings.model_validate(opened(result))
