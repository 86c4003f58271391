"""GET /p/{token}/logo: the organization's uploaded logo for the client page (no login).

Served by the link's own route rather than a presigned S3 URL: the bytes are the inline
copy the uploads worker keeps beside the settings (a PNG or JPEG of at most 256 px a
side, the one the PDFs print), so the public function needs no S3 permission and signs
nothing; the page's CSP allows images from its own origin only; and the link's rules
hold for the image as for the page (a wrong, revoked or expired token, a draft's link
and an organization without an uploaded logo are the same 404; the rate windows count
it). No view is recorded. The browser may keep it a day (private: never a shared cache),
and asks again with If-None-Match (304).
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response

from functions.portal import Token, error_responses, html_too
from functions.portal.page import error_page
from shared import portal
from shared.errors import ApiError
from shared.settings import Settings, get_settings

router = APIRouter(tags=["client page"])

CACHE_SECONDS = 86400


async def _settings() -> Settings:
    return get_settings()


@router.get(
    "/p/{token}/logo",
    summary="The organization's logo on the client page (no login)",
    response_class=Response,
    responses={
        200: {
            "content": {
                "image/png": {"schema": {"type": "string", "format": "binary"}},
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            }
        },
        304: {"description": "Not modified (If-None-Match)"},
        **html_too(error_responses(404, 422, 429)),
    },
)
async def client_page_logo(
    request: Request,
    token: Token,
    settings: Annotated[Settings, Depends(_settings)],
    if_none_match: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    try:
        body, content_type = portal.logo(settings, token, portal.client_address(request))
    except ApiError as error:
        return error_page(error, request)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        **portal.headers(),
        "Cache-Control": f"private, max-age={CACHE_SECONDS}",
        "ETag": etag,
    }
    if if_none_match and etag in [tag.strip() for tag in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type=content_type, headers=headers)
