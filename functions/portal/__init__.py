"""The client page (docs/api.md, "The client page"): members make and revoke links
(``links.py``); anyone holding a live link reads the page (``page.py``: HTML or JSON, a
quote's answer) and its PDF (``pdf.py``, a function of its own: fonts, more memory).
The Pay button posts to the Stripe area (functions/stripe/checkout.py).

What the routes share lives here, kept small.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from shared.errors import ErrorResponses

Token = Annotated[str, Path(description="The link's token, as the e-mail gave it", max_length=200)]

error_responses = ErrorResponses(
    {
        404: "No such link: a wrong, revoked or expired token all answer this",
        422: "Invalid input, or a refused answer (rule_violation: the quote is not sent any more)",
        429: "Too many requests for this link or from this address (Retry-After)",
    }
)


def html_too(responses: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """Refusals of the routes a browser opens: the error body as JSON for a frontend, an
    HTML page otherwise (page.error_page), both documented."""
    html = {"text/html": {"schema": {"type": "string"}}}
    return {status: {**response, "content": html} for status, response in responses.items()}
