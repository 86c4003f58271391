"""One name for the organization parameter: every SQL function in `public` (the RPCs that
PostgREST and supabase-js callers pass arguments to by name) and `private` calls it
`organization_id`, never `org_id` or `org`. Read from the catalog, so a new function with
another name fails here."""

from __future__ import annotations

import psycopg

from devstack.postgres import Database

NAMES = """
select n.nspname || '.' || p.proname, a.name
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
cross join lateral unnest(p.proargnames) with ordinality as a(name, position)
where n.nspname in ('public', 'private')
  and a.name = any (%s)
  and coalesce(p.proargmodes[a.position], 'i') in ('i', 'b', 'v')
order by 1
"""


def test_no_function_calls_its_organization_parameter_by_another_name(
    database: Database,
) -> None:
    with psycopg.connect(database.url) as conn:
        found = conn.execute(NAMES, (["org_id", "org"],)).fetchall()
        renamed = conn.execute(NAMES, (["organization_id"],)).fetchall()
    assert found == []
    # the check reads real parameters: the renamed ones are there under their new name
    assert ("public.dashboard_metrics", "organization_id") in renamed
    assert ("private.vendor_json", "organization_id") in renamed
