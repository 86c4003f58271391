"""shared.models.Relayed: a response the database composed is typed for the document and
sent as it came (keys in the database's order and presence), what the model does not
declare dropped; tests/api/reconciliation/test_responses.py checks the real routes against SQL."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import TypeAdapter

from shared.models import Relayed
from shared.models.common import DecimalText, Timestamp


class Line(Relayed):
    amount: DecimalText
    note: str | None = None


class Answer(Relayed):
    id: int
    at: Timestamp | None = None
    lines: list[Line]


RAW = b'{"lines":[{"note":null,"amount":"10.50"}],"id":7,"at":"2026-12-01T09:30:00.12+00:00"}'


def test_keys_keep_the_given_order_and_values_their_text() -> None:
    adapter = TypeAdapter(Answer)
    assert adapter.dump_json(adapter.validate_json(RAW)) == RAW


def test_absent_keys_stay_absent_and_undeclared_keys_are_dropped() -> None:
    answer = Answer.model_validate({"lines": [{"amount": "1", "extra": 1}], "id": 1, "x": 2})
    assert answer.model_dump(mode="json") == {"lines": [{"amount": "1"}], "id": 1}


def test_a_model_built_from_keywords_sends_the_fields_given() -> None:
    answer = Answer(lines=[Line(amount="2", note=None)], id=1)
    assert answer.model_dump_json() == '{"lines":[{"amount":"2","note":null}],"id":1}'


def test_the_document_types_every_field() -> None:
    app = FastAPI()

    @app.get("/answer", response_model=Answer)
    async def answer() -> Answer:
        return Answer.model_validate_json(RAW)

    schemas = app.openapi()["components"]["schemas"]
    assert set(schemas["Answer"]["properties"]) == {"id", "at", "lines"}
    assert schemas["Answer"]["properties"]["at"]["anyOf"][0] == {
        "type": "string",
        "format": "date-time",
    }
    assert schemas["Line"]["properties"]["amount"]["type"] == "string"
    assert schemas["Line"]["properties"]["amount"]["pattern"] == r"^-?\d+(\.\d+)?$"
