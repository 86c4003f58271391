"""The contact fields a party's body shares (a client's, a vendor's): an e-mail address,
a phone number, an address, notes; optional, a blank text no value.

Apart from shared.models.clients so that a model of another area takes them without
building every model of the clients routes (cold start: the reconciliation function).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, StringConstraints

from shared.fields import EMAIL_PATTERN, blank_to_none, email_address
from shared.models import DocumentedPattern


def limited(max_length: int) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, max_length=max_length)


BLANK = BeforeValidator(blank_to_none)

Email = Annotated[
    Annotated[str, limited(320), AfterValidator(email_address), DocumentedPattern(EMAIL_PATTERN)]
    | None,
    BLANK,
]
Phone = Annotated[Annotated[str, limited(50)] | None, BLANK]
Address = Annotated[Annotated[str, limited(1000)] | None, BLANK]
Notes = Annotated[Annotated[str, limited(5000)] | None, BLANK]
