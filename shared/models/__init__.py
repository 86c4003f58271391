"""Request and response models (pydantic), one module per domain.

Money is ``Decimal`` in and out: requests accept JSON numbers or strings, responses
send strings ("1234.50") so no client parses money into a float by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    GetJsonSchemaHandler,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError


@dataclass(frozen=True)
class DocumentedPattern:
    """The pattern a validator enforces (with its own message), for the document: a text
    type annotated with it says in its schema which texts it takes."""

    pattern: str

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema["pattern"] = self.pattern
        return schema


#: What no text of a request may hold: the C0 control characters but tab, line feed and
#: carriage return (XML 1.0 cannot hold them, so no e-invoice could carry the text, and
#: PostgreSQL's text cannot hold NUL); the surrogates, which JSON can escape ("\\ud800")
#: but no UTF-8 text holds, and U+FFFE/U+FFFF (not XML either); DEL and the C1 controls
#: U+0080-U+009F, U+0085 among them (XML allows them, but no one types them, no PDF font
#: draws them, and they come from a text decoded with the wrong code page). What people
#: type stays: tabs, line breaks (U+2028/U+2029 too), joiners, bidi marks, emoji.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def control_character(value: Any) -> str | None:
    """The first control character (see ``CONTROL_CHARACTERS``) in a text or a list of texts, as
    ``U+0001``; None if there is none. A nested body (a dict here) checks its own fields,
    so the error names the nested field."""
    if isinstance(value, str):
        if value.isprintable():  # most texts: no character of CONTROL_CHARACTERS is printable
            return None
        found = CONTROL_CHARACTERS.search(value)
        return f"U+{ord(found.group()):04X}" if found else None
    if isinstance(value, list | tuple):
        for item in value:
            if isinstance(item, str | list | tuple):
                code = control_character(item)
                if code:
                    return code
    return None


def _refuses_null(model: type[BaseModel], key: str) -> bool:
    """Whether validating ``{key: null}`` fails at ``key`` itself."""
    try:
        model.model_validate({key: None})
    except ValidationError as error:
        return any(e["loc"][:1] == (key,) and e["type"] != "missing" for e in error.errors())
    return False


def _refuses_empty(model: type[BaseModel]) -> bool:
    """Whether an empty body is refused as such (a partial update with nothing in it)."""
    try:
        model.model_validate({})
    except ValidationError as error:
        return any(e["type"] == "empty_update" for e in error.errors())
    return False


class Input(BaseModel):
    """A request body: unknown fields are an error, strings are trimmed, and no text may
    hold a control character (``CONTROL_CHARACTERS``: NUL, which PostgreSQL's text cannot hold, the
    others, which an e-invoice's XML or a PDF cannot; refused here, naming the field)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    #: Fields typed optional so that the database's own message names them when missing,
    #: but required all the same: the document marks them required, and not null.
    required_in_document: ClassVar[tuple[str, ...]] = ()

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        code = control_character(value)
        if code:
            raise PydanticCustomError(
                "control_character",
                "must not contain control characters ({code})",
                {"code": code},
            )
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The document says what the validation does: a field typed ``X | None`` that
        may be left out but not set to null (a validator refuses it) has no null branch,
        and a partial update that refuses an empty body has ``minProperties``."""
        json_schema = handler(core_schema)
        target = handler.resolve_ref_schema(json_schema)
        for name, prop in (target.get("properties") or {}).items():
            branches = prop.get("anyOf")
            if not isinstance(branches, list) or {"type": "null"} not in branches:
                continue
            if name in cls.required_in_document or _refuses_null(cls, name):
                kept = [b for b in branches if b != {"type": "null"}]
                del prop["anyOf"]
                if len(kept) == 1:
                    prop.update(kept[0])
                else:
                    prop["anyOf"] = kept
                if "default" in prop and prop["default"] is None:
                    del prop["default"]
        if _refuses_empty(cls):
            target["minProperties"] = 1
        if cls.required_in_document:
            required = target.setdefault("required", [])
            required.extend(n for n in cls.required_in_document if n not in required)
        return json_schema

    def to_json(self, *, exclude_unset: bool = False) -> dict[str, Any]:
        """JSON-ready (Decimal and dates as strings) for PostgREST."""
        return self.model_dump(mode="json", exclude_unset=exclude_unset)


class Output(BaseModel):
    """A response body: built from PostgREST rows, extra columns ignored."""

    model_config = ConfigDict(extra="ignore", from_attributes=False)


class SealedInstructions(Output):
    """The answer of a document whose ``payment_instructions`` are sealed at rest (an
    invoice, quote, credit note or recurring profile; migration 20261206171200): built
    from its row or JSON, it carries the clear text
    (`shared.parties.open_document_instructions`)."""

    @model_validator(mode="before")
    @classmethod
    def _open_instructions(cls, data: Any) -> Any:
        from shared.parties import open_document_instructions  # noqa: PLC0415

        return open_document_instructions(data)


class Relayed(Output):
    """A response the database composed (a SQL function's JSON, a PostgREST select),
    passed on as it came: the model types it for the document and drops what it does not
    declare, while the keys keep the order and the presence the database gave them (a
    ``jsonb`` object orders its keys by length, then bytes; one built from keywords sends
    the fields given, in that order). Declare every key the SQL answers: one left out is
    not sent (the routes' tests compare whole bodies)."""

    _keys: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="wrap")
    @classmethod
    def _remember_keys(cls, data: Any, handler: ModelWrapValidatorHandler[Relayed]) -> Relayed:
        model = handler(data)
        if isinstance(data, dict):
            model._keys = tuple(data)
        return model

    # No return annotation: pydantic would document the annotation instead of the fields.
    @model_serializer(mode="wrap")
    def _in_given_order(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        fields = handler(self)
        if not self._keys or not isinstance(fields, dict):
            return fields
        return {key: fields[key] for key in self._keys if key in fields}
