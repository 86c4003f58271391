"""What the request models' fields share (shared/models/*): a blank text is no value,
and an e-mail address is what the database takes as one.

Each rule is written once here; the models annotate their fields with these validators
(``BeforeValidator(blank_to_none)``, ``AfterValidator(email_address)``).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic_core import PydanticCustomError

# -- blank texts ---------------------------------------------------------------------------


def blank_to_none(value: Any) -> Any:
    """An optional text sent empty or as spaces only (a cleared form input) is no value.
    Works before validation (the raw value) and after it (a trimmed text) alike."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


# -- e-mail addresses ----------------------------------------------------------------------

# The database's rule, public.clients' check (supabase/migrations, the clients table):
#   length(email) <= 320 and email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'
# something@something.something without spaces. The pattern as the document shows it.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
MAX_EMAIL_LENGTH = 320
# What `\s` is to PostgreSQL in a UTF-8 database (glibc's iswspace, the same in C.UTF-8
# and en_US.UTF-8): the ASCII spaces and these Unicode ones. Python's `\s` takes more
# (\x1c-\x1f, \x85, \xa0, \u2007, \u202f), which the database accepts inside an address;
# tests/db/test_email_rule.py holds the two in step on a table of addresses.
_SPACE = "\t\n\v\f\r \u1680\u2000-\u2006\u2008-\u200a\u2028\u2029\u205f\u3000"
_EMAIL = re.compile(f"[^@{_SPACE}]+@[^@{_SPACE}]+\\.[^@{_SPACE}]+")
# What SES takes as a bare recipient, beyond the rule: no character of a display name or
# an address list (nothing that could add a header or a recipient), no empty label.
_NOT_SENDABLE = re.compile(r"[\s<>()\[\],;:\"\\]|\.\.|\.$")


def is_email(value: str) -> bool:
    """Whether the database takes ``value`` as an e-mail address."""
    return len(value) <= MAX_EMAIL_LENGTH and _EMAIL.fullmatch(value) is not None


def email_address(value: str) -> str:
    """A field's validator: the address as given, or the ``email`` error (422)."""
    if not is_email(value):
        raise PydanticCustomError("email", "value is not a valid email address")
    return value


def sendable_email_address(value: str) -> str:
    """A recipient's validator: an address by the rule that SES also takes bare,
    lower-cased."""
    if not is_email(value) or _NOT_SENDABLE.search(value):
        raise PydanticCustomError("email", "value is not a valid email address")
    return value.lower()
