"""The uploaded logo's inline copy: the PNG or JPEG (at most 256 px a side) that the uploads
worker keeps as a ``data:image/...;base64,`` URL in ``organization_settings.company_logo_url``
(migration 20261206140300, functions/uploads/worker.py). The PDFs print it, the client
page serves it at ``/p/{token}/logo`` (shared/portal.py) and the e-mails embed it as an
inline image (shared/email.py). No import beyond the standard library: every function
that shows a logo takes it."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

_DATA_URL = re.compile(r"^data:image/(png|jpeg);base64,([A-Za-z0-9+/]+={0,2})$")
_MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "jpeg": b"\xff\xd8\xff"}


def decode(data_url: Any) -> tuple[bytes, str] | None:
    """The image's bytes and content type, or None for anything but an uploaded logo's
    inline copy (an https address, a broken or other data: URL)."""
    found = _DATA_URL.match(data_url) if isinstance(data_url, str) else None
    if found is None:
        return None
    try:
        body = base64.b64decode(found.group(2), validate=True)
    except (binascii.Error, ValueError):
        return None
    kind = found.group(1)
    return (body, f"image/{kind}") if body.startswith(_MAGIC[kind]) else None
