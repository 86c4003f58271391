"""PostgreSQL's logical replication messages (the ``pgoutput`` plugin, protocol 1), read
from a slot through ``pg_logical_slot_get_binary_changes``: what the feed needs of them,
the rows' values in their text form."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
UNCHANGED = object()  # a TOASTed value the update did not touch (not sent again)

Tuple = dict[str, "str | object | None"]


@dataclass
class Relation:
    oid: int
    schema: str
    name: str
    columns: list[str]
    keys: list[str]  # the replica identity's columns


@dataclass
class Change:
    relation: Relation
    action: str  # INSERT, UPDATE, DELETE
    commit_time: datetime
    new: Tuple = field(default_factory=dict)
    old: Tuple = field(default_factory=dict)  # the replica identity (or the whole row)


class Decoder:
    """Keeps the relations the stream described; turns rows of messages into changes."""

    def __init__(self) -> None:
        self.relations: dict[int, Relation] = {}
        self._commit_time = PG_EPOCH

    def feed(self, data: bytes) -> Change | None:
        kind = data[:1]
        if kind == b"B":
            (micros,) = struct.unpack_from("!q", data, 9)
            self._commit_time = PG_EPOCH + timedelta(microseconds=micros)
        elif kind == b"R":
            self._relation(data)
        elif kind in (b"I", b"U", b"D"):
            return self._change(data)
        return None

    def _relation(self, data: bytes) -> None:
        (oid,) = struct.unpack_from("!I", data, 1)
        schema, pos = _cstring(data, 5)
        name, pos = _cstring(data, pos)
        pos += 1  # replica identity setting
        (count,) = struct.unpack_from("!h", data, pos)
        pos += 2
        columns, keys = [], []
        for _ in range(count):
            flags = data[pos]
            column, pos = _cstring(data, pos + 1)
            pos += 8  # type oid, typmod
            columns.append(column)
            if flags & 1:
                keys.append(column)
        self.relations[oid] = Relation(oid, schema, name, columns, keys)

    def _change(self, data: bytes) -> Change:
        kind = data[:1]
        (oid,) = struct.unpack_from("!I", data, 1)
        relation = self.relations[oid]
        action = {b"I": "INSERT", b"U": "UPDATE", b"D": "DELETE"}[kind]
        change = Change(relation, action, self._commit_time)
        pos = 5
        while pos < len(data):
            marker = data[pos : pos + 1]
            values, pos = _tuple(data, pos + 1, relation.columns)
            if marker == b"N":
                change.new = values
            elif marker == b"K":  # the replica identity: the other columns come as nulls
                change.old = {k: v for k, v in values.items() if k in relation.keys}
            else:  # O: the whole old row (replica identity full)
                change.old = values
        return change


def _cstring(data: bytes, pos: int) -> tuple[str, int]:
    end = data.index(b"\0", pos)
    return data[pos:end].decode(), end + 1


def _tuple(data: bytes, pos: int, columns: list[str]) -> tuple[Tuple, int]:
    (count,) = struct.unpack_from("!h", data, pos)
    pos += 2
    values: Tuple = {}
    for index in range(count):
        kind = data[pos : pos + 1]
        pos += 1
        if kind == b"n":
            value: str | object | None = None
        elif kind == b"u":
            value = UNCHANGED
        else:
            (size,) = struct.unpack_from("!i", data, pos)
            pos += 4
            value = data[pos : pos + size].decode()
            pos += size
        values[columns[index]] = value
    return values, pos
