"""Turn a parsed request into one SQL statement, PostgREST style.

Every statement returns one row ``(total, page_count, body)``: the exact count when it
was asked for (else NULL), how many rows the page holds, and the response body built
by PostgreSQL itself (``json_agg``/``row_to_json``), so numbers, timestamps and dates
are formatted exactly as PostgREST formats them. Names are quoted with
:class:`psycopg.sql.Identifier` after being resolved against the schema cache; values
are bound as named parameters (text of unknown type, so PostgreSQL infers the type
from the column as it does for PostgREST's parameters).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from devstack.rest.errors import ApiError
from devstack.rest.parse import (
    Condition,
    Embed,
    Field,
    Filter,
    Logic,
    OrderTerm,
    SelectField,
    SelectItem,
    Star,
)
from devstack.rest.schema import SCHEMA, Function, Relationship, SchemaCache, Table

_BINARY = {
    "eq": "=",
    "neq": "<>",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "like": "LIKE",
    "ilike": "ILIKE",
    "match": "~",
    "imatch": "~*",
    "cs": "@>",
    "cd": "<@",
    "ov": "&&",
    "sl": "<<",
    "sr": ">>",
    "nxr": "&<",
    "nxl": "&>",
    "adj": "-|-",
    "isdistinct": "IS DISTINCT FROM",
}
_FTS = {
    "fts": "to_tsquery",
    "plfts": "plainto_tsquery",
    "phfts": "phraseto_tsquery",
    "wfts": "websearch_to_tsquery",
}
_IS = {
    "null": "IS NULL",
    "not_null": "IS NOT NULL",
    "true": "IS TRUE",
    "false": "IS FALSE",
    "unknown": "IS UNKNOWN",
}


@dataclass
class Options:
    """Filters, order and paging for one level of a read (the top or an embed)."""

    conditions: list[Condition] = field(default_factory=list)
    order: list[OrderTerm] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0


@dataclass
class EmbedPlan:
    embed: Embed
    rel: Relationship
    alias: str  # the lateral join's alias
    node: Node


@dataclass
class Node:
    """One relation in a read: what to select from it, how to filter and order it."""

    name: str
    table: Table | None
    alias: str
    items: list[SelectItem]
    options: Options
    embeds: list[EmbedPlan] = field(default_factory=list)


class Builder:
    def __init__(self, cache: SchemaCache) -> None:
        self.cache = cache
        self.params: dict[str, Any] = {}
        self.target = ""  # the table a write goes to
        self._aliases = 0

    # ------------------------------------------------------------------ helpers
    def bind(self, value: Any) -> sql.Composable:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return sql.Placeholder(name)

    def _alias(self, base: str) -> str:
        self._aliases += 1
        return f"{base}_{self._aliases}"

    @staticmethod
    def qualified(name: str) -> sql.Composable:
        return sql.Identifier(SCHEMA, name)

    def cast_type(self, name: str) -> sql.Composable:
        key = name.strip().lower()
        array = key.endswith("[]")
        if array:
            key = key[:-2].strip()
        found = self.cache.types.get(key)
        if found is None:
            raise ApiError(400, "42704", f'type "{name}" does not exist')
        typ = sql.Identifier(*found)
        return sql.SQL("{}[]").format(typ) if array else typ

    def field_expr(self, alias: str, fld: Field) -> sql.Composable:
        expr: sql.Composable = sql.Identifier(alias, fld.name)
        for arrow, key in fld.path:
            key_sql = (
                sql.Literal(key)
                if isinstance(key, int)
                else sql.SQL("{}::text").format(self.bind(key))
            )
            expr = sql.SQL("{} {} {}").format(expr, sql.SQL(arrow), key_sql)
        return expr

    # ------------------------------------------------------------------ planning
    def plan(
        self,
        name: str,
        *,
        table: Table | None,
        alias: str,
        items: list[SelectItem],
        options: dict[tuple[str, ...], Options],
        path: tuple[str, ...] = (),
    ) -> Node:
        node = Node(name, table, alias, items, options.get(path, Options()))
        for item in items:
            if isinstance(item, Embed):
                rel = self.resolve(name, item)
                target = self.cache.tables[rel.target]
                child_alias = self._alias(rel.target)
                child_path = (*path, item.key)
                child = self.plan(
                    rel.target,
                    table=target,
                    alias=child_alias,
                    items=item.items or [Star()],
                    options=options,
                    path=child_path,
                )
                if item.spread and not rel.to_one:
                    raise ApiError(
                        400,
                        "PGRST119",
                        f"A spread operation on '{item.name}' is not possible",
                        f"'{name}' and '{item.name}' do not form a many-to-one "
                        "or one-to-one relationship",
                    )
                node.embeds.append(EmbedPlan(item, rel, self._alias(f"{rel.target}_lat"), child))
        return node

    def resolve(self, source: str, embed: Embed) -> Relationship:
        """The relationship ``embed`` names from ``source`` (PGRST200/PGRST201)."""
        candidates: list[Relationship] = []
        for rel in self.cache.relationships(source):
            named = rel.target == embed.name or (
                # rel named by its foreign key's name, or by the FK column (many-to-one)
                embed.name == rel.fk.name
                or (rel.fk.table == source and (embed.name,) == rel.fk.columns)
            )
            if not named:
                continue
            if embed.hint is not None and not (
                embed.hint == rel.fk.name
                or embed.hint in rel.fk.columns
                or embed.hint in rel.fk.target_columns
                or embed.hint == rel.target
            ):
                continue
            candidates.append(rel)
        if not candidates:
            hint_text = f"'{source}' and '{embed.name}'"
            message = (
                f"Searched for a foreign key relationship between '{source}' and "
                f"'{embed.name}'"
                + (f" using the hint '{embed.hint}'" if embed.hint else "")
                + f" in the schema '{SCHEMA}', but no matches were found."
            )
            raise ApiError(
                400,
                "PGRST200",
                f"Could not find a relationship between {hint_text} in the schema cache",
                message,
                None,
            )
        if len(candidates) > 1:
            details = [
                {
                    "cardinality": rel.cardinality,
                    "embedding": f"{source} with {rel.target}",
                    "relationship": (
                        f"{rel.fk.name} using {rel.fk.table}({', '.join(rel.fk.columns)}) "
                        f"and {rel.fk.target}({', '.join(rel.fk.target_columns)})"
                    ),
                }
                for rel in candidates
            ]
            options = ", ".join(f"'{embed.name}!{rel.fk.name}'" for rel in candidates)
            raise ApiError(
                300,
                "PGRST201",
                "Could not embed because more than one relationship was found for "
                f"'{source}' and '{embed.name}'",
                details,
                f"Try changing '{embed.name}' to one of the following: {options}. "
                "Find the desired relationship in the 'details' key.",
            )
        return candidates[0]

    # ------------------------------------------------------------------ SQL
    def select_list(self, node: Node) -> list[sql.Composable]:
        out: list[sql.Composable] = []
        embeds = {id(e.embed): e for e in node.embeds}
        for item in node.items:
            if isinstance(item, Star):
                out.append(sql.SQL("{}.*").format(sql.Identifier(node.alias)))
            elif isinstance(item, SelectField):
                expr = self.field_expr(node.alias, item.field)
                if item.cast:
                    expr = sql.SQL("({})::{}").format(expr, self.cast_type(item.cast))
                name = item.alias or item.field.output_name
                out.append(sql.SQL("{} AS {}").format(expr, sql.Identifier(name)))
            else:
                plan = embeds[id(item)]
                if item.spread:
                    out.append(sql.SQL("{}.*").format(sql.Identifier(plan.alias)))
                else:
                    out.append(
                        sql.SQL("{}.{} AS {}").format(
                            sql.Identifier(plan.alias),
                            sql.Identifier("body"),
                            sql.Identifier(item.key),
                        )
                    )
        return out

    def laterals(self, node: Node) -> list[sql.Composable]:
        joins: list[sql.Composable] = []
        for plan in node.embeds:
            child = plan.node
            join_conditions = [
                sql.SQL("{} = {}").format(
                    sql.Identifier(child.alias, target_col),
                    sql.Identifier(node.alias, source_col),
                )
                for source_col, target_col in plan.rel.pairs
            ]
            inner = self.level_query(child, extra_where=join_conditions)
            if plan.embed.spread:
                body = sql.SQL("SELECT * FROM ({}) AS {} LIMIT 1").format(
                    inner, sql.Identifier("pgrst_spread")
                )
            elif plan.rel.to_one:
                body = sql.SQL("SELECT row_to_json({t}) AS body FROM ({q}) AS {t}").format(
                    q=inner, t=sql.Identifier("pgrst_embed")
                )
            else:
                body = sql.SQL(
                    "SELECT coalesce(json_agg({t}), '[]') AS body FROM ({q}) AS {t}"
                ).format(q=inner, t=sql.Identifier("pgrst_embed"))
            kind = "INNER" if plan.embed.join == "inner" and plan.rel.to_one else "LEFT"
            joins.append(
                sql.SQL("{} JOIN LATERAL ({}) AS {} ON TRUE").format(
                    sql.SQL(kind), body, sql.Identifier(plan.alias)
                )
            )
        return joins

    def embed_conditions(self, node: Node) -> list[sql.Composable]:
        """Parent-side conditions of ``!inner`` to-many embeds."""
        out: list[sql.Composable] = []
        for plan in node.embeds:
            if plan.embed.join == "inner" and not plan.rel.to_one and not plan.embed.spread:
                out.append(sql.SQL("{}::text <> '[]'").format(sql.Identifier(plan.alias, "body")))
        return out

    def where(
        self, node: Node, extra: Sequence[sql.Composable] | None = None
    ) -> list[sql.Composable]:
        conds: list[sql.Composable] = list(extra or [])
        conds += [self.condition(node, c) for c in node.options.conditions]
        conds += self.embed_conditions(node)
        return conds

    def condition(self, node: Node, cond: Condition) -> sql.Composable:
        if isinstance(cond, Logic):
            parts = [self.condition(node, c) for c in cond.children]
            joiner = sql.SQL(" AND " if cond.conjunction == "and" else " OR ")
            expr = sql.SQL("({})").format(joiner.join(parts))
            return sql.SQL("NOT {}").format(expr) if cond.negate else expr
        return self.filter(node, cond)

    def filter(self, node: Node, flt: Filter) -> sql.Composable:
        embed = next(
            (e for e in node.embeds if e.embed.key == flt.field.name and not flt.field.path),
            None,
        )
        if embed is not None and flt.op == "is" and flt.value in {"null", "not_null"}:
            null = (flt.value == "null") != flt.negate
            body = sql.Identifier(embed.alias, "body")
            if embed.rel.to_one:
                return sql.SQL("{} IS NULL" if null else "{} IS NOT NULL").format(body)
            return sql.SQL("{}::text = '[]'" if null else "{}::text <> '[]'").format(body)
        expr = self.field_expr(node.alias, flt.field)
        result = self._operator(expr, flt)
        return sql.SQL("NOT ({})").format(result) if flt.negate else result

    def _operator(self, expr: sql.Composable, flt: Filter) -> sql.Composable:
        op, value = flt.op, flt.value
        if op == "in":
            assert isinstance(value, list)
            if not value:
                return sql.SQL("FALSE")
            return sql.SQL("{} IN ({})").format(
                expr, sql.SQL(", ").join(self.bind(v) for v in value)
            )
        if op == "is":
            return sql.SQL("{} {}").format(expr, sql.SQL(_IS[str(value)]))
        if op in _FTS:
            fn = sql.SQL(_FTS[op])
            if flt.modifier:
                query = sql.SQL("{}({}::regconfig, {}::text)").format(
                    fn, self.bind(flt.modifier), self.bind(value)
                )
            else:
                query = sql.SQL("{}({}::text)").format(fn, self.bind(value))
            return sql.SQL("{} @@ {}").format(expr, query)
        operator = sql.SQL(_BINARY[op])
        if flt.modifier in {"any", "all"}:
            return sql.SQL("{} {} {}({})").format(
                expr, operator, sql.SQL(flt.modifier.upper()), self.bind(value)
            )
        return sql.SQL("{} {} {}").format(expr, operator, self.bind(value))

    def order_by(self, node: Node) -> sql.Composable:
        if not node.options.order:
            return sql.SQL("")
        terms: list[sql.Composable] = []
        for term in node.options.order:
            if term.relation is not None:
                plan = next((e for e in node.embeds if e.embed.key == term.relation), None)
                if plan is None or not plan.rel.to_one:
                    raise ApiError(
                        400,
                        "PGRST118",
                        f"A related order on '{term.relation}' is not possible",
                        f"'{node.name}' and '{term.relation}' do not form a many-to-one "
                        "or one-to-one relationship",
                    )
                expr: sql.Composable = sql.SQL("({}::jsonb -> {}::text)").format(
                    sql.Identifier(plan.alias, "body"), self.bind(term.field.name)
                )
            else:
                expr = self.field_expr(node.alias, term.field)
            text = " DESC" if term.desc else " ASC"
            if term.nulls:
                text += " NULLS FIRST" if term.nulls == "first" else " NULLS LAST"
            terms.append(sql.SQL("{}{}").format(expr, sql.SQL(text)))
        return sql.SQL(" ORDER BY {}").format(sql.SQL(", ").join(terms))

    def paging(self, limit: int | None, offset: int) -> sql.Composable:
        parts: list[sql.Composable] = []
        if limit is not None:
            parts.append(sql.SQL(" LIMIT {}").format(sql.Literal(int(limit))))
        if offset:
            parts.append(sql.SQL(" OFFSET {}").format(sql.Literal(int(offset))))
        return sql.Composed(parts)

    def source(self, node: Node) -> sql.Composable:
        return sql.SQL("{} AS {}").format(self.qualified(node.name), sql.Identifier(node.alias))

    def level_query(
        self,
        node: Node,
        extra_where: Sequence[sql.Composable] | None = None,
        source: sql.Composable | None = None,
        limit: int | None = None,
        paged: bool = True,
    ) -> sql.Composable:
        conds = self.where(node, extra_where)
        where = sql.SQL(" WHERE {}").format(sql.SQL(" AND ").join(conds)) if conds else sql.SQL("")
        lim = node.options.limit if limit is None else limit
        return sql.SQL("SELECT {cols} FROM {src}{joins}{where}{order}{paging}").format(
            cols=sql.SQL(", ").join(self.select_list(node)),
            src=source if source is not None else self.source(node),
            joins=sql.Composed([sql.SQL(" "), sql.SQL(" ").join(self.laterals(node))])
            if node.embeds
            else sql.SQL(""),
            where=where,
            order=self.order_by(node),
            paging=self.paging(lim, node.options.offset) if paged else sql.SQL(""),
        )

    def count_query(self, node: Node, source: sql.Composable | None = None) -> sql.Composable:
        conds = self.where(node)
        where = sql.SQL(" WHERE {}").format(sql.SQL(" AND ").join(conds)) if conds else sql.SQL("")
        needed = [p for p in node.embeds if p.embed.join == "inner" or _mentions(node, p.embed.key)]
        saved = node.embeds
        node.embeds = needed
        try:
            joins = self.laterals(node)
        finally:
            node.embeds = saved
        return sql.SQL("SELECT pg_catalog.count(*) FROM {src}{joins}{where}").format(
            src=source if source is not None else self.source(node),
            joins=sql.Composed([sql.SQL(" "), sql.SQL(" ").join(joins)]) if joins else sql.SQL(""),
            where=where,
        )


def _mentions(node: Node, key: str) -> bool:
    def walk(cond: Condition) -> bool:
        if isinstance(cond, Logic):
            return any(walk(c) for c in cond.children)
        return cond.field.name == key and not cond.field.path and cond.op == "is"

    return any(walk(c) for c in node.options.conditions)


# ------------------------------------------------------------------------ bodies


def body_expr(mode: str) -> sql.Composable:
    """The response body computed over ``_postgrest_t`` rows of ``pgrst_source``."""
    if mode == "csv":
        return sql.SQL(
            "(SELECT coalesce(string_agg(a.k, ','), '') FROM ("
            "SELECT json_object_keys(r)::text AS k FROM ("
            "SELECT row_to_json(hh) AS r FROM pgrst_source AS hh LIMIT 1) s) a)"
            " || chr(10) || coalesce(string_agg(substring(_postgrest_t::text, 2, "
            "length(_postgrest_t::text) - 2), chr(10)), '')"
        )
    if mode == "stripped":
        return sql.SQL(
            "coalesce(json_agg(json_strip_nulls(row_to_json(_postgrest_t))), '[]')::text"
        )
    return sql.SQL("coalesce(json_agg(_postgrest_t), '[]')::text")


def read_statement(
    builder: Builder,
    node: Node,
    want_count: bool,
    mode: str,
    limit: int | None,
    *,
    source: sql.Composable | None = None,
) -> sql.Composed:
    inner = builder.level_query(node, source=source, limit=limit)
    total = (
        sql.SQL("({})").format(builder.count_query(node, source=source))
        if want_count
        else sql.SQL("NULL::bigint")
    )
    return sql.SQL(
        "WITH pgrst_source AS ({inner}) SELECT {total}, pg_catalog.count(_postgrest_t), {body} "
        "FROM (SELECT * FROM pgrst_source) AS _postgrest_t"
    ).format(inner=inner, total=total, body=body_expr(mode))


def mutation_statement(
    builder: Builder, mutation: sql.Composable, node: Node, returning: bool, mode: str
) -> sql.Composed:
    """Wrap an INSERT/UPDATE/DELETE ... RETURNING into the (total, count, body) row."""
    if not returning:
        return sql.SQL(
            "WITH pgrst_source AS ({m}) SELECT NULL::bigint, pg_catalog.count(*), NULL::text "
            "FROM pgrst_source"
        ).format(m=mutation)
    source = sql.SQL("pgrst_mutated AS {}").format(sql.Identifier(node.alias))
    inner = builder.level_query(node, source=source, paged=False)
    return sql.SQL(
        "WITH pgrst_mutated AS ({m}), pgrst_source AS ({inner}) "
        "SELECT NULL::bigint, pg_catalog.count(_postgrest_t), {body} "
        "FROM (SELECT * FROM pgrst_source) AS _postgrest_t"
    ).format(m=mutation, inner=inner, body=body_expr(mode))


def payload_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, separators=(",", ":"), ensure_ascii=False)


def function_call(
    builder: Builder, fn: Function, args: dict[str, Any] | None, raw: Any
) -> sql.Composable:
    """``"public"."fn"(a := ..., b := ...)`` with the arguments typed by json_to_record."""
    name = builder.qualified(fn.name)
    if args is None:  # the single unnamed json/jsonb parameter gets the whole body
        return sql.SQL("{}({}::{})").format(
            name, builder.bind(json.dumps(raw)), sql.SQL(fn.params[0].type)
        )
    if not args:
        return sql.SQL("{}()").format(name)
    params = [p for p in fn.params if p.name in args]
    record = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(p.name), sql.SQL(p.type)) for p in params
    )
    payload = builder.bind(json.dumps({p.name: args[p.name] for p in params}))
    named = sql.SQL(", ").join(
        sql.SQL("{n} := (SELECT {n} FROM json_to_record({payload}::json) AS _({rec}))").format(
            n=sql.Identifier(p.name), payload=payload, rec=record
        )
        for p in params
    )
    return sql.SQL("{}({})").format(name, named)
