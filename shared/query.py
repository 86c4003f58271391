"""Query parameters a route does not declare are refused, not ignored (docs/api.md,
"Query parameters").

FastAPI reads the query parameters a route declares and drops the rest without a word:
``GET /api/clients?per_page=10&search=acme`` answered 25 unfiltered rows, as if the
frontend had asked for them. ``create_app`` (shared.api) puts a dependency first on
every route of every function that calls `refuse_unknown` for a request with a query
string (imported then: a cold start without one never compiles this module), so each
route gets the check from what FastAPI itself knows of it: its own parameters, those of
its dependencies (``page``/``page_size`` of the lists, ``from``/``to`` of the reports),
the fields of a pydantic model of query parameters, by the names a request uses
(aliases: the export's ``format``).

- An undeclared name → ``400 unknown_parameter``, with every such name in ``details``
  (``{"in": "query", "field": name, "message": ...}``, the shape of a field error); an
  empty value or no ``=`` at all (``?search=``, ``?search``) is still that parameter.
- A declared single-valued name given twice (``status=sent&status=paid``) → ``400
  repeated_parameter``: FastAPI kept the last value and dropped the others, the same
  silent loss (several values are comma-separated: ``status=sent,paid``).
- A value holding a control character (NUL, or any other a request body's text may not
  hold: shared.models' ``CONTROL_CHARACTERS``) → ``422 validation_failed`` naming the parameter,
  ``must not contain control characters (U+0001)``; a search with a NUL was searched
  without it before, one with U+0001 searched for it.
- The names are those of the query string the route reads: API Gateway's
  ``rawQueryString`` (Mangum's ASGI ``query_string``), not ``queryStringParameters``,
  where API Gateway has already joined repeats with commas.
- It runs before authentication (no token checked, no database call), like the body's
  size and JSON checks: a request of the wrong shape is refused the same way for anyone.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from types import UnionType
from typing import TYPE_CHECKING, Any

from fastapi.routing import APIRoute
from pydantic import AliasChoices, BaseModel

from shared.errors import ApiError
from shared.models import control_character

if TYPE_CHECKING:
    from fastapi import Request
    from fastapi.dependencies.models import Dependant

_SEQUENCES = (list, tuple, set, frozenset)


class Declared:
    """The query parameters a route takes, by the names a request uses (a plain class:
    this module is compiled on a cold start's first request with a query string)."""

    __slots__ = ("names", "open", "repeatable")

    def __init__(
        self, names: frozenset[str], repeatable: frozenset[str], *, open: bool = False
    ) -> None:
        self.names = names
        self.repeatable = repeatable  # list-typed: each repeat is one more value
        self.open = open  # a query model that allows extra fields takes any name


def _without_none(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _is_sequence(annotation: Any) -> bool:
    annotation = _without_none(annotation)
    origin = typing.get_origin(annotation) or annotation
    return isinstance(origin, type) and issubclass(origin, _SEQUENCES)


def _names(name: str, alias: str | None, validation_alias: Any, by_name: bool) -> set[str]:
    if isinstance(validation_alias, str):
        found = {validation_alias}
    elif isinstance(validation_alias, AliasChoices):
        found = {choice for choice in validation_alias.choices if isinstance(choice, str)}
    else:
        found = {alias or name}
    if by_name:
        found.add(name)
    return found


def _query_fields(dependant: Dependant) -> Iterator[Any]:
    """The query parameters of a route and of every dependency under it."""
    pending, seen = [dependant], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield from current.query_params
        pending.extend(current.dependencies)


def declared(route: APIRoute) -> Declared:
    names: set[str] = set()
    repeatable: set[str] = set()
    for field in _query_fields(route.dependant):
        annotation = _without_none(field.field_info.annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            config = annotation.model_config
            if config.get("extra") == "allow":
                return Declared(frozenset(), frozenset(), open=True)
            by_name = bool(config.get("validate_by_name") or config.get("populate_by_name"))
            for name, info in annotation.model_fields.items():
                found = _names(name, info.alias, info.validation_alias, by_name)
                names |= found
                if _is_sequence(info.annotation):
                    repeatable |= found
            continue
        found = _names(field.name, field.alias, field.field_info.validation_alias, False)
        names |= found
        if _is_sequence(annotation):
            repeatable |= found
    return Declared(frozenset(names), frozenset(repeatable))


_CACHE = "_invoiceflow_query_parameters"


def _declared_for(route: APIRoute) -> Declared:
    known = getattr(route, _CACHE, None)
    if not isinstance(known, Declared):
        known = declared(route)
        setattr(route, _CACHE, known)
    return known


def _shown(name: str) -> str:
    return name if name else "'' (a parameter without a name)"


def _refuse_control_characters(request: Request) -> None:
    """A value holding a control character (shared.models' ``CONTROL_CHARACTERS``, NUL included) →
    ``422 validation_failed`` naming the parameter, as a body's text is refused."""
    details = []
    for name, value in request.query_params.multi_items():
        code = control_character(value)
        if code:
            message = f"must not contain control characters ({code})"
            details.append({"in": "query", "field": name, "message": message})
    if details:
        first = f"{details[0]['field']}: {details[0]['message']}"
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        raise ApiError(422, "validation_failed", first + more, details=details)


def refuse_unknown(request: Request) -> None:
    """Raises the 400 for the request's route (see the module); shared.api's dependency
    calls it for a request with a query string."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _declared_for(route)
    if known.open:
        return
    counts: dict[str, int] = {}
    for name, _ in request.query_params.multi_items():
        counts[name] = counts.get(name, 0) + 1
    unknown = [name for name in counts if name not in known.names]
    repeated = [
        name
        for name, count in counts.items()
        if count > 1 and name in known.names and name not in known.repeatable
    ]
    if not unknown and not repeated:
        _refuse_control_characters(request)
        return
    takes = (
        f"it takes {', '.join(sorted(known.names))}"
        if known.names
        else "it takes no query parameters"
    )
    details = [
        {"in": "query", "field": name, "message": f"unknown parameter; {takes}"} for name in unknown
    ] + [
        {
            "in": "query",
            "field": name,
            "message": f"given {counts[name]} times; give it once "
            f"(several values comma-separated: {name}=a,b)",
        }
        for name in repeated
    ]
    if unknown:
        listed = ", ".join(_shown(name) for name in unknown)
        plural = "s" if len(unknown) > 1 else ""
        raise ApiError(
            400,
            "unknown_parameter",
            f"unknown query parameter{plural}: {listed}; {takes}",
            details=details,
        )
    listed = ", ".join(repeated)
    raise ApiError(
        400,
        "repeated_parameter",
        f"query parameter given more than once: {listed}; give each once "
        "(several values comma-separated)",
        details=details,
    )
