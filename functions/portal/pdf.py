"""GET /p/{token}/pdf: the client page's PDF (no login), a function of its own (fonts,
more memory). The download is recorded on the client's timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from functions.portal import Token, error_responses, html_too
from functions.portal.page import error_page
from shared import portal
from shared.api import make_handler
from shared.documents import content_disposition
from shared.errors import ApiError
from shared.pdf import render_document_pdf
from shared.settings import Settings, get_settings

router = APIRouter(tags=["client page"])


async def _settings() -> Settings:
    return get_settings()


@router.get(
    "/p/{token}/pdf",
    summary="The PDF of the client page's invoice or quote (no login)",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
        **html_too(error_responses(404, 422, 429)),
    },
)
async def client_page_pdf(
    request: Request, token: Token, settings: Annotated[Settings, Depends(_settings)]
) -> Response:
    try:
        answer = portal.open_link(
            settings, token, portal.client_address(request), "client_link_pdf"
        )
    except ApiError as error:
        return error_page(error, request)
    kind = answer["document_type"]
    document = portal.shaped(answer)
    body = render_document_pdf(document, kind)
    number = str(document["invoice_number" if kind == "invoice" else "quote_number"])
    return Response(
        content=body,
        media_type="application/pdf",
        headers={**portal.headers(), "Content-Disposition": content_disposition(number)},
    )


handler = make_handler(router)
