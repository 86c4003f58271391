"""shared.errors.ErrorResponses: every route documents the one error body, with what each
status means in its domain."""

from __future__ import annotations

import pytest

from shared.errors import ErrorResponses
from shared.models.common import ErrorBody


def test_a_domain_says_what_its_statuses_mean_and_shares_the_rest() -> None:
    responses = ErrorResponses({404: "No such invoice in the organization"})
    assert responses(401, 404) == {
        401: {"model": ErrorBody, "description": "Missing, invalid or expired token"},
        404: {"model": ErrorBody, "description": "No such invoice in the organization"},
    }


def test_a_domain_may_say_more_of_a_shared_status() -> None:
    responses = ErrorResponses({400: "Malformed CSV"})
    assert responses(400)[400]["description"] == "Malformed CSV"


def test_a_status_the_domain_never_described_is_a_mistake_at_import() -> None:
    with pytest.raises(KeyError):
        ErrorResponses({})(409)
