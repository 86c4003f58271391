"""Members' routes for client links: make (or rotate) one, list a document's, revoke one.

POST /api/client-links           a new link of a sent invoice or quote (its URL shown once)
GET  /api/client-links           a document's links (document_type, document_id)
POST /api/client-links/{id}/revoke
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query

from functions.portal import error_responses
from shared import db, portal
from shared.context import Member, Viewer
from shared.models.portal import ClientLink, ClientLinkCreate, ClientLinkCreated, ClientLinkList

router = APIRouter(tags=["client links"])


@router.post(
    "/api/client-links",
    response_model=ClientLinkCreated,
    status_code=201,
    summary="A link to the client page of a sent invoice or quote",
    description=(
        "The token is made here and shown once, in `url`; only its SHA-256 is kept. "
        "`rotate` revokes the document's live links first. A draft gets none (422)."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def create_client_link(ctx: Member, body: ClientLinkCreate) -> ClientLinkCreated:
    token, row = portal.create_link(
        ctx.db, str(ctx.organization_id), body.document_type, str(body.document_id), body.rotate
    )
    return ClientLinkCreated.model_validate({**row, "url": portal.link_url(token)})


@router.get(
    "/api/client-links",
    response_model=ClientLinkList,
    summary="The links of an invoice or a quote, newest first",
    responses=error_responses(400, 401, 403, 422),
)
async def list_client_links(
    ctx: Viewer,
    document_type: Annotated[Literal["invoice", "quote"], Query()],
    document_id: Annotated[UUID, Query()],
) -> ClientLinkList:
    rows = db.rpc(
        ctx.db,
        "client_links_of",
        {
            "organization_id": str(ctx.organization_id),
            "document_type": document_type,
            "document_id": str(document_id),
        },
    )
    return ClientLinkList.model_validate({"data": rows or []})


@router.post(
    "/api/client-links/{id}/revoke",
    response_model=ClientLink,
    summary="Revoke a client link (its page answers 404 from now on)",
    responses=error_responses(400, 401, 403, 404, 422),
)
async def revoke_client_link(
    ctx: Member, link_id: Annotated[UUID, Path(alias="id", description="The link's id")]
) -> ClientLink:
    row = db.rpc(
        ctx.db,
        "revoke_client_link",
        {"organization_id": str(ctx.organization_id), "link_id": str(link_id)},
    )
    return ClientLink.model_validate(row)
