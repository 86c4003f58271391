"""PostgREST's query-string grammar: ``select``, filters, logic trees, ``order``.

Parsing produces plain data (names and values as strings); SQL is built elsewhere with
every name quoted as an identifier and every value bound as a parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from devstack.rest.errors import ApiError, parse_error

OPERATORS = {
    "eq",
    "neq",
    "gt",
    "gte",
    "lt",
    "lte",
    "like",
    "ilike",
    "match",
    "imatch",
    "in",
    "is",
    "isdistinct",
    "cs",
    "cd",
    "ov",
    "sl",
    "sr",
    "nxl",
    "nxr",
    "adj",
    "fts",
    "plfts",
    "phfts",
    "wfts",
}
QUANTIFIABLE = {"eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch"}
FTS = {"fts", "plfts", "phfts", "wfts"}


@dataclass
class Field:
    name: str
    # (arrow, key): arrow is "->" or "->>"; key an object key or an array index
    path: list[tuple[str, str | int]] = field(default_factory=list)

    @property
    def output_name(self) -> str:
        """The JSON key PostgREST gives a selected field: the last path key, else the name."""
        if self.path:
            last = self.path[-1][1]
            return str(last)
        return self.name


@dataclass
class Star:
    pass


@dataclass
class SelectField:
    field: Field
    alias: str | None = None
    cast: str | None = None


@dataclass
class Embed:
    name: str
    alias: str | None = None
    hint: str | None = None
    join: str | None = None  # "inner" | "left" | None
    spread: bool = False
    items: list[SelectItem] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.alias or self.name


SelectItem = Star | SelectField | Embed


@dataclass
class Filter:
    field: Field
    op: str
    value: str | list[str]
    negate: bool = False
    modifier: str | None = None  # any | all | fts config


@dataclass
class Logic:
    conjunction: str  # and | or
    children: list[Filter | Logic]
    negate: bool = False


Condition = Filter | Logic


@dataclass
class OrderTerm:
    field: Field
    desc: bool = False
    nulls: str | None = None  # first | last
    relation: str | None = None  # order by a to-one embed's column: rel(col)


# ---------------------------------------------------------------------------- select


class _Cursor:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def done(self) -> bool:
        return self.pos >= len(self.text)

    def fail(self, expected: str) -> ApiError:
        got = self.text[self.pos] if not self.done() else "end of input"
        return parse_error(
            f'"failed to parse select parameter ({self.text})" (line 1, column {self.pos + 1})',
            f'unexpected "{got}" expecting {expected}',
        )


_NAME_STOP = re.compile(r"->|::|[,():!.]")


def _read_name(cur: _Cursor) -> str:
    if cur.peek() == '"':
        end = cur.text.find('"', cur.pos + 1)
        if end < 0:
            raise cur.fail('closing "')
        name = cur.text[cur.pos + 1 : end]
        cur.pos = end + 1
        return name
    match = _NAME_STOP.search(cur.text, cur.pos)
    end = match.start() if match else len(cur.text)
    name = cur.text[cur.pos : end].strip()
    if not name:
        raise cur.fail("field name (* or [a..z0..9_$])")
    cur.pos = end
    return name


def _read_json_path(cur: _Cursor) -> list[tuple[str, str | int]]:
    path: list[tuple[str, str | int]] = []
    while cur.peek(2) == "->":
        arrow = "->>" if cur.peek(3) == "->>" else "->"
        cur.pos += len(arrow)
        key = _read_name(cur)
        path.append((arrow, int(key) if re.fullmatch(r"-?\d+", key) else key))
    return path


def parse_select(text: str) -> list[SelectItem]:
    cur = _Cursor(text)
    items = _select_items(cur, nested=False)
    if not cur.done():
        raise cur.fail('"," or end of input')
    return items


def _select_items(cur: _Cursor, nested: bool) -> list[SelectItem]:
    items: list[SelectItem] = []
    if nested and cur.peek() == ")":
        return items
    while True:
        items.append(_select_item(cur))
        if cur.peek() == ",":
            cur.pos += 1
            continue
        return items


def _select_item(cur: _Cursor) -> SelectItem:  # noqa: PLR0912 - one branch per select form
    if cur.peek() == "*":
        cur.pos += 1
        return Star()
    spread = False
    if cur.peek(3) == "...":
        spread = True
        cur.pos += 3
    name = _read_name(cur)
    alias: str | None = None
    if cur.peek() == ":" and cur.peek(2) != "::":
        cur.pos += 1
        alias = name
        name = _read_name(cur)
    hint: str | None = None
    join: str | None = None
    while cur.peek() == "!":
        cur.pos += 1
        word = _read_name(cur)
        if word in {"inner", "left"}:
            join = word
        elif hint is None:
            hint = word
        else:
            raise cur.fail('"inner" or "left"')
    if cur.peek() == "(":
        cur.pos += 1
        items = _select_items(cur, nested=True)
        if cur.peek() != ")":
            raise cur.fail('")"')
        cur.pos += 1
        return Embed(name, alias, hint, join, spread, items)
    if spread or hint or join:
        raise cur.fail('"("')
    path = _read_json_path(cur)
    cast: str | None = None
    if cur.peek(2) == "::":
        cur.pos += 2
        match = re.compile(r"[^,()]+").match(cur.text, cur.pos)
        if not match:
            raise cur.fail("cast type")
        cast = match.group(0).strip()
        cur.pos = match.end()
    if cur.peek() == "." and re.match(r"\.\w+\(\)", cur.text[cur.pos :]):
        raise ApiError(
            400,
            "PGRST123",
            "Use of aggregate functions is not allowed",
        )
    return SelectField(Field(name, path), alias, cast)


# --------------------------------------------------------------------------- filters


def parse_field(text: str) -> Field:
    cur = _Cursor(text)
    name = _read_name(cur)
    path = _read_json_path(cur)
    if not cur.done():
        raise parse_error(
            f'"failed to parse filter ({text})" (line 1, column {cur.pos + 1})',
            f'unexpected "{cur.text[cur.pos]}" expecting end of input',
        )
    return Field(name, path)


_OP = re.compile(r"^(not\.)?([a-z]+)(?:\((\w+)\))?\.", re.DOTALL)


def parse_filter(column: str, expression: str, in_logic: bool = False) -> Filter:
    """``column`` (maybe with a JSON path) and ``[not.]op[(modifier)].operand``."""
    match = _OP.match(expression)
    if not match or match.group(2) not in OPERATORS:
        # an operator with nothing after it ("eq" alone) parses as an empty operand
        bare = re.fullmatch(r"(not\.)?([a-z]+)", expression)
        if bare and bare.group(2) in OPERATORS and bare.group(2) not in {"in", "is"}:
            return Filter(parse_field(column), bare.group(2), "", bool(bare.group(1)))
        raise parse_error(
            f'"failed to parse filter ({expression})" (line 1, column 1)',
            "unexpected operator; expecting one of " + ", ".join(sorted(OPERATORS)),
        )
    negate, op, modifier = bool(match.group(1)), match.group(2), match.group(3)
    operand = expression[match.end() :]
    if modifier is not None and not (
        (modifier in {"any", "all"} and op in QUANTIFIABLE) or op in FTS
    ):
        raise parse_error(f'"failed to parse filter ({expression})" (line 1, column 1)')
    value: str | list[str]
    if op == "in":
        value = _parse_list(operand, expression)
    elif op == "is":
        lowered = operand.lower()
        if lowered not in {"null", "true", "false", "unknown", "not_null"}:
            raise parse_error(
                f'"failed to parse filter ({expression})" (line 1, column {len(op) + 2})',
                'unexpected value; expecting "null", "not_null", "true", "false" or "unknown"',
            )
        value = lowered
    elif op in {"ov"} and operand.startswith("(") and operand.endswith(")"):
        # arrays may be written (a,b) for ov, as PostgREST accepts
        value = "{" + operand[1:-1] + "}"
    else:
        value = _unquote(operand) if in_logic else operand
    if op in {"like", "ilike"}:
        value = value.replace("*", "%") if isinstance(value, str) else value
    return Filter(parse_field(column), op, value, negate, modifier)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def _parse_list(operand: str, expression: str) -> list[str]:
    if not (operand.startswith("(") and operand.endswith(")")):
        raise parse_error(
            f'"failed to parse filter ({expression})" (line 1, column 4)',
            'unexpected end of input expecting "("',
        )
    inner = operand[1:-1]
    if inner == "":
        return []
    return [_unquote(part) for part in _split_top(inner, expression)]


def _split_top(text: str, context: str) -> list[str]:
    """Split on commas outside double quotes and parentheses."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise parse_error(f'"failed to parse logic tree ({context})" (line 1, column {i})')
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    if quoted or depth != 0:
        raise parse_error(
            f'"failed to parse logic tree ({context})" (line 1, column {len(text)})',
            "unexpected end of input",
        )
    parts.append(text[start:])
    return parts


_LOGIC = re.compile(r"^(not\.)?(and|or)(?=\()")


def parse_logic(conjunction: str, value: str, negate: bool) -> Logic:
    """``or=(a.eq.1,and(b.gt.2,c.is.null))`` and friends."""
    if not (value.startswith("(") and value.endswith(")")):
        raise parse_error(
            f'"failed to parse logic tree ({value})" (line 1, column 1)',
            'unexpected end of input expecting "("',
        )
    children: list[Condition] = []
    inner = value[1:-1]
    if not inner.strip():
        raise parse_error(f'"failed to parse logic tree ({value})" (line 1, column 2)')
    for raw_part in _split_top(inner, value):
        part = raw_part.strip()
        nested = _LOGIC.match(part)
        if nested:
            children.append(
                parse_logic(nested.group(2), part[nested.end() :], bool(nested.group(1)))
            )
            continue
        column, expression = _split_column(part, value)
        children.append(parse_filter(column, expression, in_logic=True))
    return Logic(conjunction, children, negate)


def _split_column(part: str, context: str) -> tuple[str, str]:
    if part.startswith('"'):
        end = part.find('"', 1)
        if end < 0 or part[end + 1 : end + 2] != ".":
            raise parse_error(f'"failed to parse logic tree ({context})" (line 1, column 1)')
        return part[: end + 1], part[end + 2 :]
    # the column may hold a JSON path; the operator starts after the first '.'
    # that follows the path
    match = re.match(r"^([^.]+?(?:->>?[^.]+)*)\.", part)
    if not match:
        raise parse_error(
            f'"failed to parse logic tree ({context})" (line 1, column {len(part)})',
            'unexpected end of input expecting "."',
        )
    return match.group(1), part[match.end() :]


# ----------------------------------------------------------------------------- order


def parse_order(text: str) -> list[OrderTerm]:
    terms: list[OrderTerm] = []
    for raw in _split_top(text, text):
        part = raw.strip()
        if not part:
            raise parse_error(f'"failed to parse order ({text})" (line 1, column 1)')
        relation: str | None = None
        rel_match = re.match(r"^([^().]+)\(([^()]+)\)(.*)$", part)
        if rel_match:
            relation = rel_match.group(1)
            column, rest = rel_match.group(2), rel_match.group(3)
        else:
            pieces = re.match(r"^(\"[^\"]*\"|[^.]+?(?:->>?[^.]+)*)((?:\.[a-z]+)*)$", part)
            if not pieces:
                raise parse_error(f'"failed to parse order ({text})" (line 1, column 1)')
            column, rest = pieces.group(1), pieces.group(2)
        modifiers = [m for m in rest.split(".") if m]
        desc = False
        nulls: str | None = None
        for mod in modifiers:
            if mod in {"asc", "desc"}:
                desc = mod == "desc"
            elif mod in {"nullsfirst", "nullslast"}:
                nulls = mod[5:]
            else:
                raise parse_error(
                    f'"failed to parse order ({text})" (line 1, column {len(part)})',
                    f'unexpected "{mod}" expecting "asc", "desc", "nullsfirst" or "nullslast"',
                )
        terms.append(OrderTerm(parse_field(column), desc, nulls, relation))
    return terms


def parse_int(name: str, text: str) -> int:
    if not re.fullmatch(r"\d+", text.strip()):
        raise parse_error(
            f'"failed to parse {name} parameter ({text})" (line 1, column 1)',
            'unexpected "' + (text[:1] or " ") + '" expecting digit',
        )
    return int(text)


def parse_columns(text: str) -> list[str]:
    return [_unquote(part.strip()) for part in _split_top(text, text) if part.strip()]
