"""The invitation e-mail (templates invitation.html.j2 / .txt.j2) through SES, the mail
path every e-mail of the product takes (shared.email). Imported by the two routes that
send, at the call: the area's other routes do not load Jinja2 and boto3."""

from __future__ import annotations

import email.utils
import urllib.parse
from typing import Any

from shared import email as mail
from shared.errors import ApiError
from shared.settings import Settings


def accept_link(settings: Settings, token: str) -> str:
    """The frontend's page that shows the invitation and accepts it (docs/teams.md)."""
    return (
        settings.app_url.rstrip("/")
        + "/invitations/accept?"
        + urllib.parse.urlencode({"token": token})
    )


def send_invitation(settings: Settings, invitation: dict[str, Any], token: str) -> str:
    """Sends the invitation to its address; the SES message id, or an `ApiError`."""
    organization = str(invitation.get("organization_name") or "an organization")
    inviter = str(invitation.get("inviter_name") or "A colleague")
    expires = str(invitation["expires_at"])[:10]
    html, text = mail.render(
        "invitation",
        business_name=organization,
        inviter_name=inviter,
        role=invitation["role"],
        link=accept_link(settings, token),
        expires_on=expires,
        footer="",
    )
    name, source = email.utils.parseaddr(settings.email_from)
    raw = mail.build_raw(
        sender=mail.address(source, name or None),
        to=[invitation["email"]],
        subject=f"{inviter} invites you to {organization} on InvoiceFlow",
        html=html,
        text=text,
    )
    try:
        return mail.send_raw(raw, source=source, destinations=[invitation["email"]])
    except mail.EmailFailure as failure:
        status = (
            503
            if failure.retryable or failure.code not in ("recipient_rejected", "rejected")
            else 422
        )
        raise ApiError(
            status,
            "service_unavailable" if status == 503 else "email_rejected",
            f"{failure.message}; the invitation was not sent",
            details={"reason": failure.code, "retryable": failure.retryable},
            headers={"Retry-After": "5"} if failure.retryable else None,
        ) from failure
