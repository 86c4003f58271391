"""shared.fields: a blank text is no value; an e-mail address by the database's rule (the
rule itself is held in step with the SQL by tests/db/test_email_rule.py)."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import AfterValidator, BaseModel, BeforeValidator, ValidationError

from shared.fields import blank_to_none, email_address, is_email, sendable_email_address


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", None), ("   ", None), ("\t\n", None), ("x", "x"), (" x ", " x "), (None, None), (0, 0)],
)
def test_blank_to_none_keeps_everything_but_blank_texts(value: object, expected: object) -> None:
    assert blank_to_none(value) == expected


class _Body(BaseModel):
    before: Annotated[str | None, BeforeValidator(blank_to_none)] = "unset"
    after: Annotated[str | None, AfterValidator(blank_to_none)] = "unset"
    email: Annotated[str, AfterValidator(email_address)] = "a@b.c"
    recipient: Annotated[str, AfterValidator(sendable_email_address)] = "a@b.c"


def test_blank_to_none_before_and_after_validation() -> None:
    body = _Body.model_validate({"before": "  ", "after": "  "})
    assert (body.before, body.after) == (None, None)
    body = _Body.model_validate({"before": "kept", "after": "kept"})
    assert (body.before, body.after) == ("kept", "kept")


@pytest.mark.parametrize(
    ("address", "valid"),
    [
        ("ada@example.com", True),
        ("Ada@Example.COM", True),
        ("a@b", False),
        ("a b@c.d", False),
        ("a@b.c\n", False),  # Python's `$` would take a final line break; the rule does not
        ("a\u00a0b@c.d", True),  # the database's `\s` is not Python's (no-break space)
        ("a\u2003b@c.d", False),
        ("x" * 308 + "@example.com", True),
        ("x" * 309 + "@example.com", False),  # 321 characters
    ],
)
def test_is_email(address: str, valid: bool) -> None:
    assert is_email(address) is valid


def test_email_address_keeps_the_case_and_names_the_error() -> None:
    assert _Body.model_validate({"email": "Ada@Example.com"}).email == "Ada@Example.com"
    with pytest.raises(ValidationError) as caught:
        _Body.model_validate({"email": "ada@"})
    (error,) = caught.value.errors()
    assert (error["type"], error["msg"]) == ("email", "value is not a valid email address")


@pytest.mark.parametrize(
    "address",
    ["a<b>@c.d", "a,b@c.d", "a;b@c.d", '"a"@c.d', "a@b..c", "a@b.c.", "a\u00a0b@c.d", "a(b)@c.d"],
)
def test_a_recipient_takes_no_display_name_or_list_characters(address: str) -> None:
    assert is_email(address)  # the database would store it
    with pytest.raises(ValidationError):
        _Body.model_validate({"recipient": address})


def test_a_recipient_is_lower_cased() -> None:
    assert _Body.model_validate({"recipient": "Ada@Example.COM"}).recipient == "ada@example.com"
