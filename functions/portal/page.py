"""The client page, without signing in: GET /p/{token} (HTML, or JSON when the caller
accepts application/json and not text/html first) and a quote's answer,
POST /p/{token}/accept and /decline (a form's POST: 303 back to the page; JSON: 200).

A wrong, revoked or expired token is the same 404 in both forms; every answer carries
shared.portal.headers (CSP, no referrer, noindex, no framing, no caching).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from functions.portal import Token, error_responses, html_too
from shared import portal
from shared.errors import ApiError
from shared.models.portal import PortalDocument
from shared.settings import Settings, get_settings

router = APIRouter(tags=["client page"])

Notice = Literal["accepted", "declined", "paid", "cancelled"]
_NOTICES = {
    "accepted": "Thank you: the quote is accepted.",
    "declined": "The quote is declined.",
    "paid": "Thank you: your payment is being confirmed. It will show here in a moment.",
    "cancelled": "The payment was not completed. You can try again.",
}


async def _settings() -> Settings:
    return get_settings()


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    if "application/json" not in accept:
        return False
    if "text/html" not in accept:
        return True
    return accept.index("application/json") < accept.index("text/html")


def error_page(error: ApiError, request: Request) -> Response:
    """A refusal as the client's browser or a frontend reads it."""
    if wants_json(request):
        body = error.body(None)
        return JSONResponse(body, error.status, headers={**portal.headers(), **error.headers})
    if error.status == 404:
        html = portal.render_not_found()
    else:
        html = (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Please wait"
            f"</title></head><body><p>{error.message}</p></body></html>"
        )
    return HTMLResponse(html, error.status, headers={**portal.headers(html), **error.headers})


_HTML = {"text/html": {"schema": {"type": "string"}}}


@router.get(
    "/p/{token}",
    summary="The client page of an invoice or quote (no login)",
    description=(
        "HTML for a browser; the same data as JSON (PortalDocument) with "
        "`Accept: application/json`. Each view is recorded on the client's timeline."
    ),
    response_model=PortalDocument,
    responses={200: {"content": _HTML}, **html_too(error_responses(404, 422, 429))},
)
async def client_page(
    request: Request,
    token: Token,
    settings: Annotated[Settings, Depends(_settings)],
    notice: Annotated[Notice | None, Query(description="A message after an action")] = None,
) -> Response:
    try:
        answer = portal.open_link(
            settings, token, portal.client_address(request), "client_link_viewed"
        )
    except ApiError as error:
        return error_page(error, request)
    data = portal.page_data(answer, token)
    if wants_json(request):
        return JSONResponse(data.model_dump(mode="json"), headers=portal.headers())
    html = portal.render_page(data, token, _NOTICES.get(notice or "", ""))
    return HTMLResponse(html, headers=portal.headers(html, portal.image_sources(data, token)))


async def _decide(request: Request, token: str, settings: Settings, decision: str) -> Response:
    try:
        answer = portal.decide_quote(settings, token, portal.client_address(request), decision)
    except ApiError as error:
        if error.status == 422 and not wants_json(request):
            return RedirectResponse(f"/p/{token}", 303, headers=portal.headers())
        return error_page(error, request)
    if wants_json(request):
        return JSONResponse(
            portal.page_data(answer, token).model_dump(mode="json"), headers=portal.headers()
        )
    return RedirectResponse(f"/p/{token}?notice={decision}", 303, headers=portal.headers())


@router.post(
    "/p/{token}/accept",
    summary="The client accepts a sent quote (no login)",
    response_model=PortalDocument,
    responses={
        303: {"description": "Back to the page (a form's POST)"},
        **html_too(error_responses(404, 422, 429)),
    },
)
async def accept_quote(
    request: Request, token: Token, settings: Annotated[Settings, Depends(_settings)]
) -> Response:
    return await _decide(request, token, settings, "accepted")


@router.post(
    "/p/{token}/decline",
    summary="The client declines a sent quote (no login)",
    response_model=PortalDocument,
    responses={
        303: {"description": "Back to the page (a form's POST)"},
        **html_too(error_responses(404, 422, 429)),
    },
)
async def decline_quote(
    request: Request, token: Token, settings: Annotated[Settings, Depends(_settings)]
) -> Response:
    return await _decide(request, token, settings, "declined")
