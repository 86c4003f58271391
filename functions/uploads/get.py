"""GET /api/uploads/{id}: an upload's status (pending, ready, rejected and why)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path

from functions.uploads.create import COLUMNS
from shared import db
from shared.context import Viewer
from shared.errors import not_found
from shared.models.uploads import ImageUpload

router = APIRouter(tags=["uploads"])


@router.get(
    "/api/uploads/{id}",
    response_model=ImageUpload,
    summary="An upload's status",
    responses={401: {"description": "no or bad token"}, 404: {"description": "unknown upload"}},
)
async def get_upload(ctx: Viewer, upload_id: Annotated[UUID, Path(alias="id")]) -> ImageUpload:
    rows = db.run(
        ctx.db.from_("uploads")
        .select(COLUMNS)
        .eq("id", str(upload_id))
        .eq("organization_id", str(ctx.organization_id))
    ).data
    if not rows:
        raise not_found("upload")
    return ImageUpload.model_validate(rows[0])
