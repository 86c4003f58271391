"""GET /api/credit-notes/{id}: one credit note with its lines, invoice and client."""

from __future__ import annotations

from fastapi import APIRouter

from functions.credits import PathId, error_responses
from shared import db
from shared.context import Viewer
from shared.errors import not_found
from shared.models.credits import CreditNote

router = APIRouter(tags=["credit notes"])


@router.get(
    "/api/credit-notes/{id}",
    response_model=CreditNote,
    summary="Get a credit note",
    responses=error_responses(401, 403, 404, 422),
)
async def get_credit_note(ctx: Viewer, credit_note_id: PathId) -> CreditNote:
    document = db.rpc(
        ctx.db,
        "get_credit_note",
        {"organization_id": str(ctx.organization_id), "credit_note_id": str(credit_note_id)},
    )
    if document is None:
        raise not_found("credit note")
    return CreditNote.model_validate(document)
