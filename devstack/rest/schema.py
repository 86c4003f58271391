"""The schema cache: what PostgREST knows about the exposed schema, read from the catalog.

Tables and views with their columns, primary and unique keys, foreign keys (the
relationships embedding follows, in both directions), functions with their
parameters, return shapes and hoisted settings, the types a ``::cast`` may name, and
the per-role settings PostgREST applies when it switches role. Every identifier a request names is
looked up here (or quoted with :class:`psycopg.sql.Identifier`); nothing from a request
is ever spliced into SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

SCHEMA = "public"

# PostgREST's db-hoisted-tx-settings default (v12+; Supabase keeps it): a function's own
# `SET statement_timeout = ...` becomes a transaction setting before the call, so that it
# governs the request's statement (set inside the function it would come too late).
# PostgREST turns default_transaction_isolation into the transaction's isolation level
# instead; no function of ours sets it, so it is not hoisted here.
HOISTED_SETTINGS = ("statement_timeout", "plan_filter.statement_cost_limit")


@dataclass
class Column:
    name: str
    type: str  # format_type(), e.g. "numeric", "text[]"
    nullable: bool
    default: str | None  # pg_get_expr() of the default, from the catalog
    generated: bool


@dataclass
class Table:
    name: str
    kind: str  # r v m f p
    columns: dict[str, Column] = field(default_factory=dict)
    primary_key: list[str] = field(default_factory=list)
    unique_keys: list[frozenset[str]] = field(default_factory=list)
    insertable: bool = True

    def is_unique(self, columns: list[str]) -> bool:
        wanted = frozenset(columns)
        return any(key <= wanted for key in self.unique_keys)


@dataclass(frozen=True)
class ForeignKey:
    name: str
    table: str  # the referencing table (holds the foreign key columns)
    columns: tuple[str, ...]
    target: str  # the referenced table
    target_columns: tuple[str, ...]


@dataclass(frozen=True)
class Relationship:
    """One way to embed ``target`` from ``source``."""

    source: str
    target: str
    fk: ForeignKey
    # pairs (source column, target column) to join on
    pairs: tuple[tuple[str, str], ...]
    to_one: bool
    # "many-to-one", "one-to-many" or "one-to-one" (PostgREST's cardinality names)
    cardinality: str


@dataclass
class Param:
    name: str
    type: str
    has_default: bool


@dataclass
class Function:
    name: str
    params: list[Param]  # input parameters in order
    volatility: str  # i s v
    returns_set: bool
    return_type: str
    # "void", "scalar", "composite" (named columns below)
    shape: str
    columns: list[str]
    # the exposed table whose rows the function returns, for embedding from the result
    table: str | None
    variadic: bool = False
    # the function's own settings (proconfig) that PostgREST hoists, in order
    hoisted: list[tuple[str, str]] = field(default_factory=list)

    @property
    def read_only(self) -> bool:
        return self.volatility in {"i", "s"}

    @property
    def single_json_param(self) -> bool:
        return (
            len(self.params) == 1
            and self.params[0].name == ""
            and self.params[0].type in {"json", "jsonb"}
        )


@dataclass
class SchemaCache:
    tables: dict[str, Table] = field(default_factory=dict)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    functions: dict[str, list[Function]] = field(default_factory=dict)
    types: dict[str, tuple[str, str]] = field(default_factory=dict)
    role_settings: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    _relationships: dict[str, list[Relationship]] = field(default_factory=dict)

    def relationships(self, source: str) -> list[Relationship]:
        found = self._relationships.get(source)
        if found is not None:
            return found
        result: list[Relationship] = []
        for fk in self.foreign_keys:
            if fk.table == source:
                target = self.tables.get(fk.target)
                if target is None:
                    continue
                one_to_one = self.tables[fk.table].is_unique(list(fk.columns))
                result.append(
                    Relationship(
                        source,
                        fk.target,
                        fk,
                        tuple(zip(fk.columns, fk.target_columns, strict=True)),
                        True,
                        "one-to-one" if one_to_one else "many-to-one",
                    )
                )
            if fk.target == source:
                child = self.tables.get(fk.table)
                if child is None:
                    continue
                one_to_one = child.is_unique(list(fk.columns))
                result.append(
                    Relationship(
                        source,
                        fk.table,
                        fk,
                        tuple(zip(fk.target_columns, fk.columns, strict=True)),
                        one_to_one,
                        "one-to-one" if one_to_one else "one-to-many",
                    )
                )
        self._relationships[source] = result
        return result


_TABLES = """
select c.relname, c.relkind,
  coalesce(
    (select array_agg(a.attname::text order by k.i)
     from pg_constraint con
     cross join lateral unnest(con.conkey) with ordinality k(n, i)
     join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.n
     where con.conrelid = c.oid and con.contype = 'p'), '{}') as pk,
  pg_relation_is_updatable(c.oid, true) & 8 = 8 or c.relkind in ('r', 'p') as insertable
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = %(schema)s and c.relkind in ('r', 'v', 'm', 'f', 'p')
"""

_COLUMNS = """
select c.relname, a.attname, format_type(a.atttypid, a.atttypmod), not a.attnotnull,
  pg_get_expr(d.adbin, d.adrelid), a.attgenerated <> '' or a.attidentity = 'a'
from pg_attribute a
join pg_class c on c.oid = a.attrelid
join pg_namespace n on n.oid = c.relnamespace
left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
where n.nspname = %(schema)s and c.relkind in ('r', 'v', 'm', 'f', 'p')
  and a.attnum > 0 and not a.attisdropped
order by c.relname, a.attnum
"""

_KEYS = """
select con.conname, con.contype, c.relname,
  array(select a.attname::text from unnest(con.conkey) with ordinality k(n, i)
        join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.n order by k.i),
  coalesce(t.relname, ''),
  array(select a.attname::text from unnest(con.confkey) with ordinality k(n, i)
        join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.n order by k.i)
from pg_constraint con
join pg_class c on c.oid = con.conrelid
join pg_namespace n on n.oid = c.relnamespace
left join pg_class t on t.oid = con.confrelid
left join pg_namespace tn on tn.oid = t.relnamespace
where n.nspname = %(schema)s and con.contype in ('p', 'u', 'f')
  and (con.contype <> 'f' or tn.nspname = %(schema)s)
union all
select i.indexrelid::regclass::text, 'u', c.relname,
  array(select a.attname::text from unnest(i.indkey) with ordinality k(n, j)
        join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.n order by k.j),
  '', '{}'
from pg_index i
join pg_class c on c.oid = i.indrelid
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = %(schema)s and i.indisunique and i.indpred is null
  and i.indexprs is null
"""

_FUNCTIONS = """
select p.proname, p.provolatile, p.proretset, format_type(p.prorettype, null),
  rt.typtype, coalesce(rc.relname, ''), coalesce(rn.nspname, ''),
  coalesce(p.proargnames, '{}'),
  array(select format_type(t, null)
        from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) with ordinality u(t, i)
        order by u.i),
  coalesce(p.proargmodes::text[], '{}'),
  p.pronargs, p.pronargdefaults, p.provariadic <> 0,
  coalesce((select array_agg(a.attname::text order by a.attnum) from pg_attribute a
            where a.attrelid = rt.typrelid and a.attnum > 0 and not a.attisdropped), '{}'),
  coalesce(p.proconfig, '{}')
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
join pg_type rt on rt.oid = p.prorettype
left join pg_class rc on rc.oid = rt.typrelid
left join pg_namespace rn on rn.oid = rc.relnamespace
where n.nspname = %(schema)s and p.prokind = 'f'
"""

_TYPES = """
select t.typname, n.nspname from pg_type t join pg_namespace n on n.oid = t.typnamespace
where n.nspname in ('pg_catalog', %(schema)s, 'extensions')
  and t.typtype in ('b', 'e', 'd', 'r', 'c', 'm')
  and t.typname not like '\\_%%'
"""

# The impersonated roles' settings, as PostgREST (v12+) reads them: the role-wide
# settings (pg_roles.rolconfig, not the per-database ones) of every role the
# authenticator is a member of, only those it may set itself (context "user", or a
# GRANT SET ON PARAMETER); PostgREST applies them per transaction after switching role.
# The authenticator's own settings (statement_timeout 8s, lock_timeout 8s, ...) apply
# by themselves: the connections log in as authenticator.
_ROLE_SETTINGS = """
with role_setting as (
  select r.rolname, unnest(r.rolconfig) as setting
  from pg_auth_members m
  join pg_roles r on r.oid = m.roleid
  where m.member = quote_ident(current_user)::regrole::oid
),
kv as (
  select rolname,
         substr(setting, 1, strpos(setting, '=') - 1) as key,
         substr(setting, strpos(setting, '=') + 1) as value
  from role_setting
)
select kv.rolname, array_agg(kv.key || '=' || kv.value)
from kv
join pg_settings ps on ps.name = kv.key
  and (ps.context = 'user'
       or has_parameter_privilege(quote_ident(current_user)::regrole::oid, ps.name, 'set'))
where kv.key <> 'default_transaction_isolation'
group by kv.rolname
"""

_TYPE_ALIASES = {
    "int": "int4",
    "integer": "int4",
    "smallint": "int2",
    "bigint": "int8",
    "real": "float4",
    "float": "float8",
    "double precision": "float8",
    "boolean": "bool",
    "character varying": "varchar",
    "character": "bpchar",
    "char": "bpchar",
    "decimal": "numeric",
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp",
    "time with time zone": "timetz",
    "time without time zone": "time",
}


async def load(conn: psycopg.AsyncConnection[Any]) -> SchemaCache:  # noqa: PLR0912 - one branch per catalog query
    cache = SchemaCache()
    args = {"schema": SCHEMA}
    cur = conn.cursor()
    await cur.execute(_TABLES, args)
    for name, kind, pk, insertable in await cur.fetchall():
        cache.tables[name] = Table(name, kind, primary_key=list(pk), insertable=bool(insertable))
    await cur.execute(_COLUMNS, args)
    for rel, col, typ, nullable, default, generated in await cur.fetchall():
        table = cache.tables.get(rel)
        if table is not None:
            table.columns[col] = Column(col, typ, bool(nullable), default, bool(generated))
    await cur.execute(_KEYS, args)
    for conname, contype, rel, cols, target, target_cols in await cur.fetchall():
        table = cache.tables.get(rel)
        if table is None:
            continue
        if contype in {"p", "u"}:
            table.unique_keys.append(frozenset(cols))
        elif target in cache.tables:
            cache.foreign_keys.append(
                ForeignKey(conname, rel, tuple(cols), target, tuple(target_cols))
            )
    await cur.execute(_FUNCTIONS, args)
    for row in await cur.fetchall():
        fn = _function(row, cache)
        cache.functions.setdefault(fn.name, []).append(fn)
    await cur.execute(_TYPES, args)
    for typname, nspname in await cur.fetchall():
        cache.types.setdefault(typname, (nspname, typname))
    for alias, real in _TYPE_ALIASES.items():
        if real in cache.types:
            cache.types[alias] = cache.types[real]
    await cur.execute(_ROLE_SETTINGS)
    for role, settings in await cur.fetchall():
        for setting in settings or []:
            key, _, value = str(setting).partition("=")
            cache.role_settings.setdefault(role, []).append((key, value))
    return cache


def _function(row: tuple[Any, ...], cache: SchemaCache) -> Function:
    (
        name,
        volatility,
        retset,
        rettype,
        typtype,
        relname,
        relschema,
        argnames,
        argtypes,
        argmodes,
        nargs,
        ndefaults,
        variadic,
        relcols,
        config,
    ) = row
    modes = list(argmodes) or ["i"] * len(argtypes)
    names = list(argnames) + [""] * (len(argtypes) - len(argnames))
    inputs: list[tuple[str, str]] = []
    outputs: list[str] = []
    for arg_name, arg_type, mode in zip(names, argtypes, modes, strict=True):
        if mode in {"i", "b", "v"}:
            inputs.append((arg_name, arg_type))
        if mode in {"o", "b", "t"}:
            outputs.append(arg_name)
    first_default = nargs - ndefaults
    params = [
        Param(arg_name, arg_type, i >= first_default)
        for i, (arg_name, arg_type) in enumerate(inputs)
    ]
    table: str | None = None
    if rettype == "void":
        shape, columns = "void", []
    elif outputs and rettype == "record":
        shape, columns = "composite", outputs
    elif typtype == "c":
        shape, columns = "composite", list(relcols)
        if relschema == SCHEMA and relname in cache.tables:
            table = relname
    else:
        shape, columns = "scalar", []
    return Function(
        name,
        params,
        volatility,
        bool(retset),
        rettype,
        shape,
        columns,
        table,
        bool(variadic),
        [
            (key, value)
            for key, _, value in (str(setting).partition("=") for setting in config)
            if key in HOISTED_SETTINGS
        ],
    )
