-- =============================================================================
-- 2-way matching (issue 20): an invoice line compared with its purchase order
-- line alone, receipts not required, for services billed without a goods receipt.
--
-- * match_mode 'three_way' | 'two_way' on vendors, purchase orders and purchase
--   order lines (null: not set there). A line's mode is the most specific one
--   set: the PO line's, else the PO's, else the vendor's (the invoice's vendor,
--   or the PO's for an unknown vendor, as for tolerances), else three_way (the
--   organization's default).
-- * Two-way, the quantity check compares with what was ORDERED instead of what
--   was received: billed <= ordered - billed by earlier invoices (matched);
--   <= ordered x (1 + quantity tolerance %) - billed earlier (within
--   tolerance); above: over_billed_quantity with check 'ordered'. Receipts are
--   ignored. The price, line amount, document totals, duplicate, vendor and PO
--   checks are those of 3-way matching, with the same tolerances.
-- * vendor_invoice_line_matches.match_mode records the mode a line was matched
--   in (null: no PO line). The exception's evidence names it too.
-- * Setting a mode: a vendor's through PUT /api/reconciliation/vendors/{id}
--   (the column is writable like the tolerances; the vendor's pending and
--   exception invoices are re-matched); a PO's and its lines' through
--   public.set_purchase_order_match_mode (members; the PO's pending and
--   exception invoices re-matched); public.purchase_order_match_modes answers
--   each level's setting and each line's effective mode.
--
-- private.match_vendor_invoices changed here (its final form is 20261206170600's): the original
-- (20261206101400_matching.sql) with the mode added to its temp tables and the
-- quantity basis (received or ordered) in place of the received quantity.
-- =============================================================================

alter table public.vendors
  add column match_mode text check (match_mode in ('three_way', 'two_way'));
alter table public.purchase_orders
  add column match_mode text check (match_mode in ('three_way', 'two_way'));
alter table public.purchase_order_lines
  add column match_mode text check (match_mode in ('three_way', 'two_way'));
alter table public.vendor_invoice_line_matches
  add column match_mode text check (match_mode in ('three_way', 'two_way'));

grant update (match_mode) on public.vendors to authenticated;
grant insert (match_mode) on public.vendors to authenticated;

-- =============================================================================
-- The matching engine
-- =============================================================================

-- private.match_vendor_invoices: defined in 20261206170600 (its final form; nothing is deployed)

comment on function private.match_vendor_invoices(uuid, uuid[]) is
  'Matches vendor invoices (null: every pending and exception invoice) against their POs and receipts.';

-- =============================================================================
-- Setting the modes
-- =============================================================================

-- A purchase order's modes: the PO's, its vendor's, and each line's setting
-- and effective mode with the level that decided it (null: not the
-- organization's PO). Read as the caller (RLS).
create or replace function private.purchase_order_match_modes(organization_id uuid, purchase_order_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select jsonb_build_object(
           'purchase_order_id', p.id, 'po_number', p.po_number, 'vendor_id', p.vendor_id,
           'match_mode', p.match_mode, 'vendor_match_mode', v.match_mode,
           'default_match_mode', 'three_way',
           'effective_match_mode', coalesce(p.match_mode, v.match_mode, 'three_way'),
           'lines', coalesce((
             select jsonb_agg(jsonb_build_object(
                      'id', l.id, 'line_number', l.line_number, 'item_code', l.item_code,
                      'description', l.description, 'match_mode', l.match_mode,
                      'effective_match_mode', coalesce(l.match_mode, p.match_mode, v.match_mode, 'three_way'),
                      'decided_by', case when l.match_mode is not null then 'line'
                                         when p.match_mode is not null then 'purchase_order'
                                         when v.match_mode is not null then 'vendor'
                                         else 'organization' end)
                      order by l.line_number, l.id)
             from public.purchase_order_lines l
             where l.organization_id = purchase_order_match_modes.organization_id
               and l.purchase_order_id = p.id), '[]'))
  from public.purchase_orders p
  left join public.vendors v on v.organization_id = p.organization_id and v.id = p.vendor_id
  where p.organization_id = purchase_order_match_modes.organization_id
    and p.id = purchase_order_match_modes.purchase_order_id
$$;

-- Sets a PO's mode and/or its lines' (changes: {"match_mode": m, "lines":
-- [{"line_number": n, "match_mode": m}]}; m = 'three_way', 'two_way' or null
-- to inherit), then re-matches the PO's pending and exception invoices.
create or replace function private.set_purchase_order_match_mode(
  organization_id uuid, purchase_order_id uuid, changes jsonb
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  org uuid := set_purchase_order_match_mode.organization_id;
  po uuid := set_purchase_order_match_mode.purchase_order_id;
  missing integer[];
  bad text;
begin
  perform private.require_role(org, 'member',
    'reconciliation changes need the member role or above in the organization');
  if changes is null or jsonb_typeof(changes) <> 'object'
     or not (changes ? 'match_mode' or changes ? 'lines') then
    raise exception 'give match_mode, lines, or both' using errcode = '22023';
  end if;
  if changes ? 'lines' and jsonb_typeof(changes -> 'lines') <> 'array' then
    raise exception 'lines must be a list' using errcode = '22023';
  end if;
  select coalesce(x ->> 'match_mode', '?') into bad
  from (select changes as x
        union all select l from jsonb_array_elements(coalesce(changes -> 'lines', '[]')) l) s
  where (s.x ? 'match_mode' or s.x is distinct from changes)
    and jsonb_typeof(s.x -> 'match_mode') is distinct from 'null'
    and (s.x ->> 'match_mode') is distinct from 'three_way'
    and (s.x ->> 'match_mode') is distinct from 'two_way'
  limit 1;
  if bad is not null then
    raise exception 'match_mode must be three_way, two_way or null (inherit), not %', bad
      using errcode = '22023';
  end if;
  perform 1 from public.purchase_orders p
  where p.organization_id = org and p.id = po
  for update;
  if not found then
    return null;
  end if;
  select array_agg(n order by n) into missing
  from (select (l ->> 'line_number')::integer as n
        from jsonb_array_elements(coalesce(changes -> 'lines', '[]')) l) x
  where x.n is null or not exists (
    select 1 from public.purchase_order_lines pl
    where pl.organization_id = org and pl.purchase_order_id = po and pl.line_number = x.n);
  if missing is not null then
    raise exception 'the purchase order has no line %', array_to_string(missing, ', ', 'without a number')
      using errcode = '22023';
  end if;

  update public.purchase_order_lines pl
  set match_mode = l.mode
  from (select (x ->> 'line_number')::integer as n, x ->> 'match_mode' as mode
        from jsonb_array_elements(coalesce(changes -> 'lines', '[]')) x) l
  where pl.organization_id = org and pl.purchase_order_id = po and pl.line_number = l.n
    and pl.match_mode is distinct from l.mode;
  -- The PO's update re-matches its invoices (rematch_on_purchase_order_changes);
  -- without a change of its own, they are re-matched here.
  if changes ? 'match_mode' then
    update public.purchase_orders p set match_mode = changes ->> 'match_mode'
    where p.organization_id = org and p.id = po
      and p.match_mode is distinct from (changes ->> 'match_mode');
    if found then
      return private.purchase_order_match_modes(org, po);
    end if;
  end if;
  perform private.rematch_for_purchase_orders(org, array[po]);
  return private.purchase_order_match_modes(org, po);
end;
$$;

-- A vendor's mode changing re-matches its pending and exception invoices (as
-- a PO's change does; off with auto_rematch).
create or replace function private.rematch_after_vendor_mode()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  r record;
  ids uuid[];
begin
  if pg_catalog.current_setting('invoiceflow.deferred_rematch', true) = 'on' then
    return null;
  end if;
  for r in select n.organization_id as org, array_agg(n.id) as vendors
           from new_rows n join old_rows o on o.id = n.id
           where n.match_mode is distinct from o.match_mode
           group by n.organization_id loop
    continue when not (private.reconciliation_settings_of(r.org)).auto_rematch;
    select array_agg(vi.id) into ids
    from public.vendor_invoices vi
    where vi.organization_id = r.org and vi.vendor_id = any (r.vendors)
      and vi.status in ('pending', 'exception');
    if ids is not null then
      perform public.match_vendor_invoices(r.org, ids);
    end if;
  end loop;
  return null;
end;
$$;

create trigger rematch_on_vendor_match_mode
  after update on public.vendors referencing old table as old_rows new table as new_rows
  for each statement execute function private.rematch_after_vendor_mode();

create or replace function public.purchase_order_match_modes(organization_id uuid, purchase_order_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$ select private.purchase_order_match_modes($1, $2) $$;

comment on function public.purchase_order_match_modes(uuid, uuid) is
  'A purchase order''s match modes: its own, its vendor''s and each line''s effective one.';

create or replace function public.set_purchase_order_match_mode(organization_id uuid, purchase_order_id uuid, changes jsonb)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$ select private.set_purchase_order_match_mode($1, $2, $3) $$;

comment on function public.set_purchase_order_match_mode(uuid, uuid, jsonb) is
  'Sets a purchase order''s and its lines'' match modes (three_way, two_way, null to inherit) and re-matches.';

revoke execute on function private.purchase_order_match_modes(uuid, uuid),
  private.set_purchase_order_match_mode(uuid, uuid, jsonb),
  private.rematch_after_vendor_mode(),
  public.purchase_order_match_modes(uuid, uuid),
  public.set_purchase_order_match_mode(uuid, uuid, jsonb)
  from public;

grant execute on function private.purchase_order_match_modes(uuid, uuid),
  private.set_purchase_order_match_mode(uuid, uuid, jsonb),
  public.purchase_order_match_modes(uuid, uuid),
  public.set_purchase_order_match_mode(uuid, uuid, jsonb)
  to authenticated, service_role;
