"""The client page: links, their tokens, the page's data, its HTML and its headers.

A link's token is ``secrets.token_urlsafe(32)`` (256 bits), made here and shown once;
the database keeps its SHA-256 only (migration 20261206130100_client_links.sql). The
public routes speak to PostgREST as ``anon`` with the hash alone; a wrong, malformed,
revoked or expired token, another document's kind and a rate-limited caller's unknown
token all come back as the same 404 (rate limiting answers 429 only to a caller past a
window, whatever the token).

Settings of the page, read from the environment once per instance:
``PORTAL_URL`` (where /p/{token} is served: the HTTP API's address; default ``API_URL``,
then ``APP_URL``), ``PORTAL_TOKEN_LIMIT`` / ``PORTAL_ADDRESS_LIMIT`` (requests a window
per token / per client address, default 60 / 120), ``PORTAL_WINDOW_SECONDS`` (60),
``STRIPE_CHECKOUT_ORIGIN`` (where the Pay form may lead, for the CSP's form-action:
``https://checkout.stripe.com``; the local stand-in's address under ``make dev``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared import db, inline_logo
from shared.documents import business_of
from shared.errors import ApiError
from shared.formatting import format_date, format_money
from shared.models.portal import PortalDocument
from shared.parties import apply_parties
from shared.settings import Settings

if TYPE_CHECKING:
    import jinja2

TEMPLATES = Path(__file__).parent / "templates"
TOKEN_BYTES = 32
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
EVENTS = ("client_link_viewed", "client_link_pdf", "client_link_einvoice")


@dataclass(frozen=True)
class PortalConfig:
    url: str
    token_limit: int
    address_limit: int
    window_seconds: int
    checkout_origin: str


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name)
    try:
        value = int(raw) if raw else default
    except ValueError:
        return default
    return min(max(value, low), high)


@lru_cache(maxsize=1)
def config() -> PortalConfig:
    url = (
        os.environ.get("PORTAL_URL")
        or os.environ.get("API_URL")
        or os.environ.get("APP_URL")
        or "http://127.0.0.1:3000"
    )
    return PortalConfig(
        url=url.rstrip("/"),
        token_limit=_int("PORTAL_TOKEN_LIMIT", 60, 0, 100_000),
        address_limit=_int("PORTAL_ADDRESS_LIMIT", 120, 0, 100_000),
        window_seconds=_int("PORTAL_WINDOW_SECONDS", 60, 1, 3600),
        checkout_origin=os.environ.get("STRIPE_CHECKOUT_ORIGIN") or "https://checkout.stripe.com",
    )


# -- tokens ---------------------------------------------------------------------------


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str | None:
    """The SHA-256 (hex) the database knows a token by; None for anything that is not
    shaped like a token (then no database call is needed to say 404)."""
    if not _TOKEN.match(token):
        return None
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def link_url(token: str) -> str:
    return f"{config().url}/p/{token}"


def create_link(
    client: Any, organization_id: str, document_type: str, document_id: str, rotate: bool
) -> tuple[str, dict[str, Any]]:
    """A new link (the caller's role checked by the database): its token and its row."""
    token = new_token()
    row = db.rpc(
        client,
        "create_client_link",
        {
            "organization_id": organization_id,
            "document_type": document_type,
            "document_id": document_id,
            "token_hash": token_hash(token),
            "rotate": rotate,
        },
    )
    return token, row


# -- the public calls -----------------------------------------------------------------


def not_found() -> ApiError:
    return ApiError(404, "not_found", "this link is not valid; ask the sender for a new one")


def _answer(answer: Any) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise not_found()
    if answer.get("limited"):
        retry = str(int(answer.get("retry_after") or 1))
        raise ApiError(
            429,
            "rate_limited",
            f"too many requests; retry in {retry} s",
            details={"retry_after": int(retry)},
            headers={"Retry-After": retry},
        )
    if not answer.get("found"):
        raise not_found()
    return answer


def open_link(settings: Settings, token: str, address: str, event: str) -> dict[str, Any]:
    """The page's data behind ``token`` (the view recorded as ``event``), or 404/429."""
    hashed = token_hash(token)
    cfg = config()
    answer = db.rpc(
        db.rest(settings),
        "portal_open",
        {
            # A malformed token still counts against its caller's address window.
            "token_hash": hashed or "-",
            "client_address": address,
            "event": event,
            "token_limit": cfg.token_limit,
            "address_limit": cfg.address_limit,
            "window_seconds": cfg.window_seconds,
        },
    )
    return _answer(answer)


def checkout_answer(settings: Settings, token: str, address: str) -> dict[str, Any]:
    """The page's data for the Pay button (the click recorded), with the invoice's
    organization's sealed Stripe key under ``stripe`` when it has one, or 404/429. Asked
    as ``payment_processor`` (shared/stripe_role.py): anon may not read sealed keys."""
    from shared import stripe_role  # noqa: PLC0415  (the Pay button's function only)

    cfg = config()
    answer = db.rpc(
        stripe_role.client(settings),
        "portal_checkout",
        {
            "token_hash": token_hash(token) or "-",
            "client_address": address,
            "token_limit": cfg.token_limit,
            "address_limit": cfg.address_limit,
            "window_seconds": cfg.window_seconds,
        },
    )
    return _answer(answer)


def uploaded_logo(data_url: Any) -> tuple[bytes, str] | None:
    """The bytes and type of an uploaded logo's inline copy (shared/inline_logo.py)."""
    return inline_logo.decode(data_url)


def logo(settings: Settings, token: str, address: str) -> tuple[bytes, str]:
    """The uploaded logo behind ``token`` (no view recorded), or 404/429: a wrong,
    revoked or expired token and an organization without an uploaded logo alike."""
    cfg = config()
    answer = _answer(
        db.rpc(
            db.rest(settings),
            "portal_logo",
            {
                "token_hash": token_hash(token) or "-",
                "client_address": address,
                "token_limit": cfg.token_limit,
                "address_limit": cfg.address_limit,
                "window_seconds": cfg.window_seconds,
            },
        )
    )
    found = uploaded_logo(answer.get("logo"))
    if found is None:
        raise not_found()
    return found


def decide_quote(settings: Settings, token: str, address: str, decision: str) -> dict[str, Any]:
    cfg = config()
    answer = db.rpc(
        db.rest(settings),
        "portal_decide_quote",
        {
            "token_hash": token_hash(token) or "-",
            "client_address": address,
            "decision": decision,
            "token_limit": cfg.token_limit,
            "address_limit": cfg.address_limit,
            "window_seconds": cfg.window_seconds,
        },
    )
    return _answer(answer)


def client_address(request: Any) -> str:
    """The caller's address as API Gateway saw it (requestContext.http.sourceIp)."""
    event = request.scope.get("aws.event") or {}
    source = ((event.get("requestContext") or {}).get("http") or {}).get("sourceIp")
    if isinstance(source, str) and source:
        return source[:64]
    client = request.client
    return client.host[:64] if client and client.host else "unknown"


# -- the page's data ------------------------------------------------------------------


def shaped(answer: dict[str, Any]) -> dict[str, Any]:
    """The document in the shape the PDF renderer and the page take."""
    document = dict(answer["document"])
    document["client"] = document.get("client") or {}
    document["items"] = document.get("items") or []
    document["payments"] = document.get("payments") or []
    organization = document.pop("organization", None) or {}
    document["business"] = business_of(organization)
    # The seller and buyer (their seals opened) came with the answer (migration 20261206170200).
    return apply_parties(document, answer.get("parties"), str(document.get("organization_id")))


def _logo_url(logo_url: Any, token: str | None) -> str | None:
    """Where the page's logo is: an uploaded one at the link's own route
    (``/p/{token}/logo``; never the inline copy itself, ~200 KB of JSON), an https
    address given in the settings as it is, else none."""
    if uploaded_logo(logo_url) is not None:
        return f"{link_url(token)}/logo" if token else None
    return logo_url if isinstance(logo_url, str) and logo_url.startswith("https://") else None


def page_data(answer: dict[str, Any], token: str | None = None) -> PortalDocument:
    kind = answer["document_type"]
    document = shaped(answer)
    portal = answer.get("portal") or {}
    payment = answer.get("payment") or {}
    business = document["business"]
    client = document["client"]
    status = str(document["status"])
    is_invoice = kind == "invoice"
    due = document.get("balance_due")
    balance = Decimal(str(due if due is not None else 0)) if is_invoice else None
    payable = is_invoice and status in ("sent", "overdue") and balance is not None and balance > 0
    return PortalDocument.model_validate(
        {
            "document_type": kind,
            "number": document["invoice_number" if is_invoice else "quote_number"],
            "status": status,
            "currency": document["currency"],
            "issue_date": document["issue_date"],
            "due_date": document.get("due_date") if is_invoice else None,
            "valid_until": None if is_invoice else document.get("valid_until"),
            "client_name": client.get("company_name") or client.get("contact_person") or "",
            "business": {
                "name": business.get("name") or "",
                "email": business.get("business_email"),
                "phone": business.get("business_phone"),
                "address_lines": business.get("address_lines") or [],
                "logo_url": _logo_url(portal.get("logo_url"), token),
                "brand_color": portal.get("brand_color") or "#1f4e79",
            },
            "items": document["items"],
            "subtotal": document["subtotal"],
            "discount": document["discount"],
            "tax_amount": document["tax_amount"],
            "total_amount": document["total_amount"],
            "amount_paid": document.get("amount_paid") if is_invoice else None,
            "balance_due": balance,
            "notes": document.get("notes"),
            "terms": document.get("terms"),
            "einvoice_format": (
                (document.get("buyer") or {}).get("einvoice_format")
                or (document.get("seller") or {}).get("einvoice_format")
            )
            if is_invoice
            else None,
            "actions": {
                "pay": bool(payable and payment.get("enabled")),
                "partial_payments": bool(payment.get("allow_partial")),
                "accept": not is_invoice and status == "sent",
                "decline": not is_invoice and status == "sent",
            },
            "link_expires_at": answer["link"]["expires_at"],
        }
    )


# -- HTML -----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    # Cold start: only the page renders HTML; the link, logo and checkout routes and the
    # Stripe function (links for the e-mails) import this module without jinja2.
    import jinja2  # noqa: PLC0415

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


_STATUS_LABELS = {
    "sent": "Awaiting payment",
    "overdue": "Overdue",
    "paid": "Paid",
    "cancelled": "Cancelled",
    "accepted": "Accepted",
    "declined": "Declined",
    "expired": "Expired",
    "converted": "Accepted",
}


def page_logo(data: PortalDocument, token: str) -> str | None:
    """The page's ``<img src>``: the link's own logo route (relative: the page's origin,
    CSP img-src 'self'), or an https logo address from the settings, or none."""
    url = data.business.logo_url
    if not isinstance(url, str):
        return None
    if url == f"{link_url(token)}/logo":
        return f"/p/{token}/logo"
    return url if url.startswith("https://") else None


def image_sources(data: PortalDocument, token: str) -> str:
    """The CSP's img-src for the page: 'self', and an https logo's origin when it shows one."""
    shown = page_logo(data, token)
    if shown and shown.startswith("https://"):
        origin = "/".join(shown.split("/", 3)[:3])
        if re.fullmatch(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?", origin):
            return f"'self' {origin}"
    return "'self'"


def render_page(data: PortalDocument, token: str, notice: str = "") -> str:
    currency = data.currency

    def money(value: Decimal | None) -> str:
        return format_money(value if value is not None else Decimal(0), currency)

    return (
        environment()
        .get_template("portal.html.j2")
        .render(
            d=data,
            token=token,
            money=money,
            rate=lambda v: format_money(v, currency, exact=True),
            date=format_date,
            status_label=_STATUS_LABELS.get(data.status, data.status.title()),
            logo=page_logo(data, token),
            notice=notice,
            min_amount=format(Decimal(1).scaleb(-_places(currency)), "f"),
        )
    )


def _places(currency: str) -> int:
    from shared.formatting import minor_unit  # noqa: PLC0415

    return minor_unit(currency)


def render_not_found() -> str:
    return environment().get_template("portal_not_found.html.j2").render()


def _style_hashes(html: str) -> str:
    found = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    return " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in found
    )


def headers(html: str | None = None, images: str = "'self'") -> dict[str, str]:
    """The public routes' headers: nothing cached or indexed, the token never leaves
    in a Referer, no framing, and a CSP allowing only the page's own style and images
    from its own origin (the logo route; ``images`` adds an https logo's origin)."""
    style = _style_hashes(html) if html else ""
    csp = (
        "default-src 'none'; "
        f"style-src {style or chr(39) + 'none' + chr(39)}; "
        f"img-src {images}; "
        f"form-action 'self' {config().checkout_origin}; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "Referrer-Policy": "no-referrer",
        "X-Robots-Tag": "noindex, nofollow",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }


def link_for_send(client: Any, organization_id: str, document_type: str, document_id: str) -> str:
    """The client page's URL for the e-mail about to be sent ("" when no link could be
    made: the e-mail goes without it rather than not at all)."""
    try:
        token = new_token()
        db.rpc(
            client,
            "create_client_link",
            {
                "organization_id": organization_id,
                "document_type": document_type,
                "document_id": document_id,
                "token_hash": token_hash(token),
                "for_send": True,
            },
        )
    except ApiError:
        return ""
    return link_url(token)
