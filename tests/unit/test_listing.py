"""shared.listing's comma-separated filters: one parsing for every list route."""

from __future__ import annotations

import pytest

from shared.errors import ApiError
from shared.listing import MAX_FILTER_VALUES, comma_values, one_of, uuids

A = "0b3c5e4e-8d8f-4f5e-9b35-1f6d8c7a2b10"
B = "7d1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, []),
        ("", []),
        (",, ,", []),
        ("sent", ["sent"]),
        (" sent , paid ,", ["paid", "sent"]),
        ("paid,sent,paid", ["paid", "sent"]),
    ],
)
def test_comma_values_trims_drops_empty_parts_and_repeats(
    raw: str | None, expected: list[str]
) -> None:
    assert comma_values("status", raw) == expected


def _refusal(call: object) -> ApiError:
    assert callable(call)
    with pytest.raises(ApiError) as caught:
        call()
    assert caught.value.status == 422
    return caught.value


def test_at_most_a_hundred_distinct_values() -> None:
    assert len(comma_values("q", ",".join(["same"] * 500))) == 1
    many = ",".join(str(n) for n in range(MAX_FILTER_VALUES + 1))
    error = _refusal(lambda: comma_values("invoice_id", many))
    assert error.details == [
        {"in": "query", "field": "invoice_id", "message": "give at most 100 values"}
    ]


def test_one_of_checks_each_value() -> None:
    assert one_of("status", "sent,paid", ("draft", "sent", "paid")) == ["paid", "sent"]
    error = _refusal(lambda: one_of("status", "sent,lost", ("draft", "sent", "paid")))
    assert error.message == (
        "status: unknown value 'lost'; use one or more of ['draft', 'sent', 'paid']"
    )


def test_uuids_are_checked_and_written_canonically() -> None:
    assert uuids("client_id", f"{B},{A.upper()}, {A}") == [A, B]
    error = _refusal(lambda: uuids("client_id", f"{A},42"))
    assert error.message == "client_id: '42' is not a UUID"
