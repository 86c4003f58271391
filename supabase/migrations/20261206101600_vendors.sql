-- =============================================================================
-- Vendor normalization: suggestions (other vendors whose normalized names or aliases
-- are similar above the organization's threshold, without the pairs a person
-- rejected), confirm (merge one vendor into another, or keep the name as an alias),
-- reject (never suggested again, in either direction) and split (an alias back into a
-- vendor of its own). The steps of a merge and of a split that a member may not take
-- under RLS are small definer helpers (private.fold_vendor_into,
-- private.restore_merged_vendor) say why they need their owner's rights. Last,
-- because a vendor's JSON counts its open exceptions.
-- =============================================================================

-- =============================================================================
-- Tables
-- =============================================================================

-- A suggestion a person rejected ("these are two different vendors"): never
-- suggested again, in either direction.
create table public.vendor_merge_rejections (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  vendor_id uuid not null,
  other_vendor_id uuid not null,
  reason text check (length(reason) <= 1000),
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  foreign key (organization_id, vendor_id)
    references public.vendors (organization_id, id) on delete cascade,
  foreign key (organization_id, other_vendor_id)
    references public.vendors (organization_id, id) on delete cascade,
  constraint vendor_merge_rejections_ordered check (vendor_id < other_vendor_id),
  constraint vendor_merge_rejections_pair unique (organization_id, vendor_id, other_vendor_id)
);

alter table public.vendor_merge_rejections enable row level security;

-- =============================================================================
-- Indexes
-- =============================================================================

-- Deleting a user looks up the rows that name it (the foreign key is ON DELETE
-- SET NULL or CASCADE); partial: the NULLs are never looked up.
create index vendor_merge_rejections_created_by_idx on public.vendor_merge_rejections (created_by) where created_by is not null;

-- =============================================================================
-- Functions
-- =============================================================================

-- Vendors: suggestions, confirm (merge or alias), reject, split

-- Other vendors that may be the same one: trigram similarity of normalized
-- names and aliases above the organization's threshold, without the pairs a
-- person rejected.
create or replace function private.vendor_suggestions(organization_id uuid, vendor uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  with me as (
    select v.id, v.normalized_name as k from public.vendors v
    where v.organization_id = vendor_suggestions.organization_id and v.id = vendor
    union
    select a.vendor_id, a.normalized_alias from public.vendor_aliases a
    where a.organization_id = vendor_suggestions.organization_id and a.vendor_id = vendor
  ),
  threshold as (select (private.reconciliation_settings_of(vendor_suggestions.organization_id)).vendor_similarity_threshold as t),
  hits as (
    select o.id, o.name, extensions.similarity(o.normalized_name, me.k) as score, o.name as matched,
           'name'::text as via
    from public.vendors o, me
    where o.organization_id = vendor_suggestions.organization_id and o.id <> vendor and o.status <> 'merged'
    union all
    select o.id, o.name, extensions.similarity(a.normalized_alias, me.k), a.alias, 'alias'
    from public.vendor_aliases a join public.vendors o on o.id = a.vendor_id, me
    where a.organization_id = vendor_suggestions.organization_id and o.id <> vendor and o.status <> 'merged'
  ),
  best as (
    select distinct on (h.id) h.* from hits h, threshold
    where h.score >= threshold.t
      and not exists (
        select 1 from public.vendor_merge_rejections x
        where x.organization_id = vendor_suggestions.organization_id
          and x.vendor_id = least(vendor, h.id) and x.other_vendor_id = greatest(vendor, h.id))
    order by h.id, h.score desc, h.via desc, h.matched
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'vendor_id', b.id, 'name', b.name, 'similarity', round(b.score::numeric, 3),
           'via', b.via, 'matched', b.matched) order by b.score desc, b.name, b.id), '[]')
  from (select * from best order by score desc, name, id limit 10) b
$$;

-- private.vendor_json: defined in 20261206170200 (its final form; nothing is deployed)

-- One vendor with its aliases, merge suggestions and counts (null: not the
-- organization's).
create or replace function public.reconciliation_vendor(organization_id uuid, vendor_id uuid)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
  perform private.require_role(reconciliation_vendor.organization_id, 'viewer',
    'not a member of the organization');
  return private.vendor_json(reconciliation_vendor.organization_id, reconciliation_vendor.vendor_id);
end;
$$;

-- The vendor of the organization, locked for the caller's change (P0002 if there is
-- none). As the caller: a member may lock the vendors they may update.
create or replace function private.lock_vendor(organization_id uuid, vendor uuid, what text default 'vendor')
returns public.vendors
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v public.vendors;
begin
  select * into v from public.vendors x where x.organization_id = lock_vendor.organization_id and x.id = vendor for update;
  if not found then
    raise exception '% not found', what using errcode = 'P0002';
  end if;
  return v;
end;
$$;

-- Unknown-vendor invoices whose name is now a vendor's name or confirmed alias
-- get that vendor (an invoice whose number the vendor already has stays
-- unknown: it is a duplicate), then everything of the organization still
-- pending or in exception for those names is re-matched. As the caller: a member may
-- give an invoice its vendor.
create or replace function private.assign_unknown_invoices(organization_id uuid, vendor uuid, keys text[])
returns integer
language plpgsql
security invoker
set search_path = ''
as $$
declare
  ids uuid[];
begin
  with candidates as (
    select distinct on (vi.normalized_invoice_number) vi.id
    from public.vendor_invoices vi
    where vi.organization_id = assign_unknown_invoices.organization_id and vi.vendor_id is null
      and private.normalize_vendor_name(vi.vendor_name) = any (keys)
      and not exists (
        select 1 from public.vendor_invoices o
        where o.organization_id = assign_unknown_invoices.organization_id and o.vendor_id = vendor
          and o.normalized_invoice_number = vi.normalized_invoice_number)
    order by vi.normalized_invoice_number, vi.created_at, vi.id
  ),
  moved as (
    update public.vendor_invoices vi set vendor_id = vendor
    from candidates c where vi.id = c.id
    returning vi.id, vi.status
  )
  select array_agg(id) filter (where status not in ('approved', 'rejected')) into ids from moved;
  if ids is not null then
    perform public.match_vendor_invoices(assign_unknown_invoices.organization_id, ids);
  end if;
  return coalesce(cardinality(ids), 0);
end;
$$;

-- Confirms that `alias` is another name of the vendor: a confirmed alias,
-- remembered for imports; unknown-vendor invoices of that name move to the
-- vendor and are re-matched (their unknown_vendor exceptions resolve).
create or replace function public.add_vendor_alias(organization_id uuid, vendor_id uuid, alias text)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := add_vendor_alias.organization_id;
  v public.vendors;
  key text;
  other uuid;
  rematched integer;
begin
  perform private.require_role(org, 'member',
    'reconciliation changes need the member role or above in the organization');
  v := private.lock_vendor(org, add_vendor_alias.vendor_id);
  if v.status = 'merged' then
    raise exception 'the vendor was merged into another; add the alias to the surviving vendor'
      using errcode = '23514';
  end if;
  if alias is null or length(btrim(alias)) not between 1 and 200 then
    raise exception 'alias: give a name of 1 to 200 characters' using errcode = '22023';
  end if;
  key := private.normalize_vendor_name(alias);
  if key = '' then
    raise exception 'alias: the name has no letters or digits' using errcode = '22023';
  end if;
  select a.vendor_id into other from public.vendor_aliases a
  where a.organization_id = org and a.normalized_alias = key;
  if other is not null and other <> v.id then
    raise exception 'the name % is already an alias of another vendor', alias
      using errcode = '23505';
  end if;
  select o.id into other from public.vendors o
  where o.organization_id = org and o.normalized_name = key and o.id <> v.id and o.status <> 'merged'
  limit 1;
  if other is not null then
    raise exception 'the name % is another vendor''s own name: merge the two vendors instead', alias
      using errcode = '23505';
  end if;
  insert into public.vendor_aliases (organization_id, vendor_id, alias, source)
  values (org, v.id, btrim(alias), 'confirmed')
  on conflict on constraint vendor_aliases_one_vendor_per_name do nothing;
  rematched := private.assign_unknown_invoices(org, v.id, array[key]);
  return private.vendor_json(org, v.id) || jsonb_build_object('rematched_invoices', rematched);
end;
$$;

-- Confirms a suggestion: `merged_id` is the same vendor as `vendor_id` (the
-- survivor). The merged vendor's name and aliases become the survivor's
-- aliases, its purchase orders and invoices move to the survivor, it is kept
-- as status 'merged' (merged_into = the survivor); the moved invoices and the
-- survivor's unknown-name invoices are re-matched.
-- The steps of a merge that a member may not take through RLS and the column grants:
-- the merged vendor's aliases, purchase orders and exceptions point at the survivor
-- (the purchase order's and the exception's vendor are no column a person writes, and
-- an alias is never updated, only added or removed), and the vendor is marked merged
-- (merged_into is written by a merge only). SECURITY DEFINER for these writes; it
-- checks the caller itself, and merge_vendors (its only caller) has locked and judged
-- both vendors.
create or replace function private.fold_vendor_into(
  organization_id uuid, merged uuid, survivor uuid, reason text
)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  into_vendor public.vendors;
begin
  perform private.require_role(fold_vendor_into.organization_id, 'member',
    'reconciliation changes need the member role or above in the organization');
  select * into into_vendor from public.vendors v
  where v.organization_id = fold_vendor_into.organization_id and v.id = survivor and v.status <> 'merged';
  if not found or merged = survivor or not exists (
       select 1 from public.vendors v
       where v.organization_id = fold_vendor_into.organization_id and v.id = merged and v.status <> 'merged') then
    raise exception 'both vendors must be unmerged vendors of the organization' using errcode = '23514';
  end if;
  update public.vendor_aliases a set vendor_id = survivor
  where a.organization_id = fold_vendor_into.organization_id and a.vendor_id = merged;
  update public.purchase_orders po set vendor_id = survivor
  where po.organization_id = fold_vendor_into.organization_id and po.vendor_id = merged;
  update public.reconciliation_exceptions e set vendor_id = survivor
  where e.organization_id = fold_vendor_into.organization_id and e.vendor_id = merged;
  update public.vendors v
  set status = 'merged', merged_into = survivor,
      notes = left(concat_ws(E'\n', v.notes,
                   format('Merged into %s (%s)%s', into_vendor.name, survivor,
                          coalesce(': ' || nullif(btrim(reason), ''), ''))), 5000)
  where v.organization_id = fold_vendor_into.organization_id and v.id = merged;
end;
$$;

create or replace function public.merge_vendors(
  organization_id uuid, vendor_id uuid, merged_id uuid, reason text default null
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := merge_vendors.organization_id;
  survivor public.vendors;
  merged public.vendors;
  keys text[];
  ids uuid[];
  clash text;
begin
  perform private.require_role(org, 'member',
    'reconciliation changes need the member role or above in the organization');
  survivor := private.lock_vendor(org, merge_vendors.vendor_id);
  if merged_id is null then
    raise exception 'vendor_id: name the vendor to merge into this one' using errcode = '22023';
  end if;
  if merged_id = survivor.id then
    raise exception 'a vendor cannot be merged into itself' using errcode = '22023';
  end if;
  select * into merged from public.vendors x where x.organization_id = org and x.id = merged_id for update;
  if not found then
    raise exception 'the vendor to merge is not one of the organization''s vendors'
      using errcode = '23503';
  end if;
  if survivor.status = 'merged' or merged.status = 'merged' then
    raise exception 'a merged vendor cannot be merged again; use the surviving vendor'
      using errcode = '23514';
  end if;
  select vi.invoice_number into clash
  from public.vendor_invoices vi
  join public.vendor_invoices o on o.organization_id = org and o.vendor_id = survivor.id
    and o.normalized_invoice_number = vi.normalized_invoice_number
  where vi.organization_id = org and vi.vendor_id = merged.id
  limit 1;
  if clash is not null then
    raise exception 'both vendors have an invoice numbered %: resolve the duplicate first', clash
      using errcode = '23505';
  end if;

  perform private.fold_vendor_into(org, merged.id, survivor.id, reason);
  insert into public.vendor_aliases (organization_id, vendor_id, alias, source)
  values (org, survivor.id, merged.name, 'merge')
  on conflict on constraint vendor_aliases_one_vendor_per_name do nothing;
  with moved as (
    update public.vendor_invoices vi set vendor_id = survivor.id
    where vi.organization_id = org and vi.vendor_id = merged.id
    returning vi.id, vi.status
  )
  select array_agg(id) filter (where status not in ('approved', 'rejected')) into ids from moved;
  if ids is not null then
    perform public.match_vendor_invoices(org, ids);
  end if;
  select array_agg(a.normalized_alias) into keys from public.vendor_aliases a
  where a.organization_id = org and a.vendor_id = survivor.id;
  perform private.assign_unknown_invoices(org, survivor.id, keys || survivor.normalized_name);
  return private.vendor_json(org, survivor.id)
         || jsonb_build_object('merged_vendor_id', merged.id,
                               'moved_invoices', coalesce(cardinality(ids), 0));
end;
$$;

-- Rejects a suggestion: the two vendors are different; never suggested again.
create or replace function public.reject_vendor_suggestion(
  organization_id uuid, vendor_id uuid, other_vendor_id uuid, reason text default null
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := reject_vendor_suggestion.organization_id;
  v public.vendors;
begin
  perform private.require_role(org, 'member',
    'reconciliation changes need the member role or above in the organization');
  v := private.lock_vendor(org, reject_vendor_suggestion.vendor_id);
  if other_vendor_id is null or other_vendor_id = v.id then
    raise exception 'vendor_id: name the other vendor of the suggestion' using errcode = '22023';
  end if;
  if not exists (select 1 from public.vendors o where o.organization_id = org and o.id = other_vendor_id) then
    raise exception 'the other vendor is not one of the organization''s vendors' using errcode = '23503';
  end if;
  if length(reason) > 1000 then
    raise exception 'reason: at most 1000 characters' using errcode = '22023';
  end if;
  insert into public.vendor_merge_rejections (organization_id, vendor_id, other_vendor_id, reason)
  values (org, least(v.id, other_vendor_id), greatest(v.id, other_vendor_id), nullif(btrim(reason), ''))
  on conflict on constraint vendor_merge_rejections_pair do nothing;
  return private.vendor_json(org, v.id);
end;
$$;

-- Splits an alias back out: the alias is removed from the vendor and (by
-- default) becomes a vendor of its own; the vendor's invoices written under
-- that name move to it (or become unknown-vendor invoices) and are re-matched.
-- Refused for the name of a merged vendor (split nothing twice).
-- A merged vendor comes back (split_vendor_alias, when the alias split off is the
-- name a merge brought): it is active again, and the purchase orders that were its
-- own when they were stored go back to it. SECURITY DEFINER: which purchase orders
-- those are is read from the audit trail (admins only through RLS), and merged_into
-- and a purchase order's vendor are no columns a person writes. It checks the caller
-- itself; the vendor must be one merged into `survivor`.
create or replace function private.restore_merged_vendor(organization_id uuid, survivor uuid, merged uuid)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  perform private.require_role(restore_merged_vendor.organization_id, 'member',
    'reconciliation changes need the member role or above in the organization');
  update public.vendors o set status = 'active', merged_into = null
  where o.organization_id = restore_merged_vendor.organization_id and o.id = merged and o.merged_into = survivor;
  if not found then
    raise exception 'the vendor was not merged into this one' using errcode = '23514';
  end if;
  update public.purchase_orders po set vendor_id = merged
  where po.organization_id = restore_merged_vendor.organization_id and po.vendor_id = survivor
    and exists (select 1 from public.audit_log l
                where l.table_name = 'public.purchase_orders' and l.record_id = po.id
                  and l.operation = 'INSERT' and (l.new_record ->> 'vendor_id')::uuid = merged);
end;
$$;

create or replace function public.split_vendor_alias(
  organization_id uuid, vendor_id uuid, alias_id uuid, create_vendor boolean default true
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := split_vendor_alias.organization_id;
  v public.vendors;
  a public.vendor_aliases;
  target uuid;
  ids uuid[];
begin
  perform private.require_role(org, 'member',
    'reconciliation changes need the member role or above in the organization');
  v := private.lock_vendor(org, split_vendor_alias.vendor_id);
  if alias_id is null then
    raise exception 'alias_id: name the alias to split off' using errcode = '22023';
  end if;
  delete from public.vendor_aliases x
  where x.organization_id = org and x.vendor_id = v.id and x.id = alias_id
  returning * into a;
  if not found then
    raise exception 'the vendor has no such alias' using errcode = '23503';
  end if;
  if coalesce(create_vendor, true) then
    select o.id into target from public.vendors o
    where o.organization_id = org and o.status = 'merged' and o.merged_into = v.id
      and o.normalized_name = a.normalized_alias
    limit 1;
    if target is not null then
      -- The alias came from a merge: the merged vendor comes back.
      perform private.restore_merged_vendor(org, v.id, target);
    else
      insert into public.vendors (organization_id, name, notes)
      values (org, a.alias, format('Split from %s (%s)', v.name, v.id))
      returning id into target;
    end if;
  end if;
  with moved as (
    update public.vendor_invoices vi set vendor_id = target
    where vi.organization_id = org and vi.vendor_id = v.id
      and private.normalize_vendor_name(vi.vendor_name) = a.normalized_alias
    returning vi.id, vi.status
  )
  select array_agg(id) filter (where status not in ('approved', 'rejected')) into ids from moved;
  if ids is not null then
    perform public.match_vendor_invoices(org, ids);
  end if;
  return private.vendor_json(org, v.id)
         || jsonb_build_object('new_vendor_id', target,
                               'moved_invoices', coalesce(cardinality(ids), 0));
end;
$$;

-- =============================================================================
-- Triggers
-- =============================================================================

select private.enable_audit('public.vendor_merge_rejections');

-- =============================================================================
-- Policies
-- =============================================================================

create policy "Members can view their organization's vendor merge rejections"
  on public.vendor_merge_rejections for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can reject vendor suggestions in their organization"
  on public.vendor_merge_rejections for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

-- =============================================================================
-- Grants
-- =============================================================================

revoke all on public.vendor_merge_rejections from anon, authenticated;

grant select on public.vendor_merge_rejections to authenticated;

-- "These two vendors are different" is a member's call, as confirming an alias is: a
-- rejection only stops a suggestion (the pair's foreign keys keep it in the
-- organization; created_by is the default, never given).
grant insert (organization_id, vendor_id, other_vendor_id, reason)
  on public.vendor_merge_rejections to authenticated;

grant execute on function
  public.reconciliation_vendor(uuid, uuid),
  public.add_vendor_alias(uuid, uuid, text),
  public.merge_vendors(uuid, uuid, uuid, text),
  public.reject_vendor_suggestion(uuid, uuid, uuid, text),
  public.split_vendor_alias(uuid, uuid, uuid, boolean)
  to authenticated, service_role;

grant execute on function
  private.lock_vendor(uuid, uuid, text),
  private.assign_unknown_invoices(uuid, uuid, text[]),
  private.vendor_suggestions(uuid, uuid),
  private.fold_vendor_into(uuid, uuid, uuid, text),
  private.restore_merged_vendor(uuid, uuid, uuid)
  to authenticated, service_role;

revoke execute on all functions in schema private, public from public;

-- =============================================================================
-- Closing check, over every migration above
-- =============================================================================

-- No function in public is a SECURITY DEFINER (the platform migration's header says
-- why): a definer added to public fails here (an extension's own functions are the
-- extension's business).
do $check$
declare
  left_over text := (
    select pg_catalog.string_agg(p.oid::regprocedure::text, ', ')
    from pg_catalog.pg_proc p
    where p.pronamespace = 'public'::regnamespace and p.prosecdef
      and not exists (select 1 from pg_catalog.pg_depend d
                      where d.objid = p.oid and d.deptype = 'e'));
begin
  if left_over is not null then
    raise exception 'SECURITY DEFINER functions left in public: %', left_over;
  end if;
end;
$check$;
