"""The local Auth's mailer: what GoTrue would send through SMTP (recovery, email change)
kept in memory and shown at ``GET /auth/v1/_inbox`` (HTML, newest first) and
``GET /auth/v1/_inbox.json`` — the local stand-in for Supabase CLI's Inbucket/Mailpit.

The messages follow GoTrue's default templates (internal/mailer/template.go): the link
goes to Auth's ``/verify`` with the token hash, and the 6-digit code (``{{ .Token }}``)
is in the body, so a person or a test can use either.
"""

from __future__ import annotations

import html
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

MAX_MESSAGES = 500


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    text: str
    link: str
    code: str
    kind: str  # recovery | email_change_current | email_change_new
    sent_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


class Mailbox:
    def __init__(self) -> None:
        self._messages: list[Message] = []
        self._lock = threading.Lock()

    def send(self, message: Message) -> None:
        with self._lock:
            self._messages.append(message)
            del self._messages[:-MAX_MESSAGES]

    def messages(self, to: str | None = None) -> list[Message]:
        with self._lock:
            found = list(reversed(self._messages))
        if to:
            found = [m for m in found if m.to.lower() == to.lower()]
        return found

    async def inbox_json(self, request: Request) -> Response:
        to = request.query_params.get("to")
        return JSONResponse({"messages": [asdict(m) for m in self.messages(to)]})

    async def inbox_html(self, request: Request) -> Response:
        to = request.query_params.get("to")
        rows = "".join(
            "<article><h2>{subject}</h2><p><b>To</b> {to} &middot; {sent}</p>"
            "<p>Code: <code>{code}</code></p><p><a href='{link}'>{link}</a></p>"
            "<pre>{text}</pre></article>".format(
                subject=html.escape(m.subject),
                to=html.escape(m.to),
                sent=html.escape(m.sent_at),
                code=html.escape(m.code),
                link=html.escape(m.link, quote=True),
                text=html.escape(m.text),
            )
            for m in self.messages(to)
        )
        page = (
            "<!doctype html><html lang='en'><meta charset='utf-8'>"
            "<title>Local Auth inbox</title><h1>Mails the local Auth sent</h1>"
            + (rows or "<p>No messages yet.</p>")
            + "</html>"
        )
        return HTMLResponse(page)
