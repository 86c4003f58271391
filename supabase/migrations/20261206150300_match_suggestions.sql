-- =============================================================================
-- Match suggestions that learn (issue 20): for a vendor invoice with a missing
-- or wrong PO reference, or an unknown vendor, the organization's open purchase
-- orders in the invoice's currency ranked by a logistic model whose weights are
-- learned from the organization's own decisions.
--
-- * Features of an (invoice, PO) pair, each in [0, 1]:
--   vendor      1 when the invoice's vendor is the PO's, else the trigram
--               similarity of the normalized names (an unknown vendor's name);
--   amount      1 - |subtotal - what is left of the PO| / the larger of the
--               two, where what is left is the PO's total less the subtotals
--               of the other invoices linked to it (0 once nothing is left);
--   date        1 / (1 + days since the order / 30), or for an invoice dated
--               before the order 1 / (1 + days before / 3);
--   reference   trigram similarity of the normalized PO numbers (0 without one);
--   description trigram similarity of the lines' descriptions, joined.
-- * score = bias + sum(weight x feature); the probability is its logistic.
--   The weights: match_suggestion_models' row of the organization (trained by
--   shared/reconciliation/suggestions.py, logistic regression fitted by
--   Newton's method with an L2 pull toward the fixed weights), else the fixed
--   weights (private.suggestion_fixed_weights).
-- * Examples (match_suggestion_examples) are the organization's decisions,
--   with the features as they were when decided: a suggestion accepted (the PO:
--   1, the other candidates shown: 0), rejected (the PO: 0), a relink (an
--   exception's link with a PO: the linked PO 1, the other candidates 0). Confirmed matches (an
--   invoice matched on its PO reference) are read at training time, the most
--   recent 50 (private.suggestion_training_set).
-- =============================================================================

create table public.match_suggestion_models (
  organization_id uuid primary key references public.organizations (id) on delete cascade,
  weights jsonb not null,
  examples integer not null check (examples >= 0),
  positives integer not null check (positives >= 0),
  decisions integer not null check (decisions >= 0),
  trained_at timestamptz not null default now()
);

create table public.match_suggestion_examples (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  vendor_invoice_id uuid not null,
  purchase_order_id uuid not null,
  label smallint not null check (label in (0, 1)),
  source text not null check (source in ('accepted', 'rejected', 'relinked')),
  -- Is this the decided pair (the accepted, rejected or linked PO), or another
  -- candidate shown beside an accepted one?
  decided boolean not null,
  features double precision[] not null check (cardinality(features) = 5),
  reason text check (length(reason) <= 1000),
  decided_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  foreign key (organization_id, vendor_invoice_id)
    references public.vendor_invoices (organization_id, id) on delete cascade,
  foreign key (organization_id, purchase_order_id)
    references public.purchase_orders (organization_id, id) on delete cascade
);

create index match_suggestion_examples_org_idx
  on public.match_suggestion_examples (organization_id, created_at desc);
create index match_suggestion_examples_invoice_idx
  on public.match_suggestion_examples (organization_id, vendor_invoice_id);
create index match_suggestion_examples_po_idx
  on public.match_suggestion_examples (organization_id, purchase_order_id);
create index match_suggestion_examples_decided_by_idx
  on public.match_suggestion_examples (decided_by) where decided_by is not null;

alter table public.match_suggestion_models enable row level security;
alter table public.match_suggestion_examples enable row level security;

create policy "Members can view their organization's suggestion model"
  on public.match_suggestion_models for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));
create policy "Members can view their organization's suggestion examples"
  on public.match_suggestion_examples for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

do $$
declare
  t text;
begin
  foreach t in array array['match_suggestion_models', 'match_suggestion_examples'] loop
    execute pg_catalog.format(
      'create policy mfa_required on public.%I as restrictive for all to authenticated using (%s) with check (%s)',
      t, 'organization_id <> all ((select private.mfa_pending_organizations())::uuid[])',
      'organization_id <> all ((select private.mfa_pending_organizations())::uuid[])');
  end loop;
end;
$$;

revoke all on public.match_suggestion_models, public.match_suggestion_examples from anon, authenticated;
grant select on public.match_suggestion_models, public.match_suggestion_examples to authenticated;

-- =============================================================================
-- Features and ranking
-- =============================================================================

-- The fixed weights: every feature alike (the ranking before any decision).
create or replace function private.suggestion_fixed_weights()
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select '{"bias": -2.5, "vendor": 1, "amount": 1, "date": 1, "reference": 1, "description": 1}'::jsonb
$$;

-- The organization's weights: learned, else fixed.
create or replace function private.suggestion_weights(organization_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select coalesce((select m.weights from public.match_suggestion_models m
                   where m.organization_id = suggestion_weights.organization_id),
                  private.suggestion_fixed_weights())
$$;

-- An invoice's candidate purchase orders (open, the invoice's currency; or the
-- one PO named by only_po, whatever its status) with their features and score
-- under the weights given (null: the organization's), best first. Read as the
-- caller (RLS): another organization's invoice has none.
create or replace function private.suggestion_candidates(
  organization_id uuid, invoice_id uuid, weights jsonb default null,
  max_candidates integer default 10, only_po uuid default null
)
returns table (
  purchase_order_id uuid, po_number text, vendor_id uuid, vendor_name text, order_date date,
  currency text, po_status text, po_total numeric, features double precision[], score double precision
)
language sql
stable
security invoker
set search_path = ''
as $$
  with inv as (
    select vi.id, vi.vendor_id, vi.invoice_date, vi.subtotal, vi.currency,
           private.normalize_vendor_name(vi.vendor_name) as nname,
           coalesce(private.normalize_document_number(vi.po_number), '') as nref,
           coalesce((select string_agg(lower(btrim(l.description)), ' ' order by l.line_number)
                     from public.vendor_invoice_lines l
                     where l.organization_id = suggestion_candidates.organization_id
                       and l.vendor_invoice_id = vi.id), '') as descr
    from public.vendor_invoices vi
    where vi.organization_id = suggestion_candidates.organization_id
      and vi.id = suggestion_candidates.invoice_id
  ),
  w as (
    select coalesce(suggestion_candidates.weights,
                    private.suggestion_weights(suggestion_candidates.organization_id)) as w
  ),
  f as (
    select p.id, p.po_number, p.vendor_id, v.name as vendor_name, p.order_date, p.currency,
           p.status, t.total,
           array[
             case when i.vendor_id is not null and i.vendor_id = p.vendor_id then 1.0
                  else coalesce(extensions.similarity(i.nname, v.normalized_name), 0) end,
             case when t.total - b.billed <= 0 then 0
                  else greatest(0, 1 - abs(i.subtotal - (t.total - b.billed))
                                   / greatest(t.total - b.billed, abs(i.subtotal), 0.01)) end,
             case when i.invoice_date >= p.order_date
                  then 1.0 / (1 + (i.invoice_date - p.order_date) / 30.0)
                  else 1.0 / (1 + (p.order_date - i.invoice_date) / 3.0) end,
             case when i.nref = '' then 0
                  else extensions.similarity(i.nref, p.normalized_po_number) end,
             case when i.descr = '' or t.descr = '' then 0
                  else extensions.similarity(i.descr, t.descr) end
           ]::double precision[] as x
    from inv i
    join public.purchase_orders p
      on p.organization_id = suggestion_candidates.organization_id
     and p.currency = i.currency
     and (case when suggestion_candidates.only_po is null then p.status = 'open'
               else p.id = suggestion_candidates.only_po end)
    left join public.vendors v on v.organization_id = p.organization_id and v.id = p.vendor_id
    cross join lateral (
      select coalesce(sum(l.amount), 0) as total,
             coalesce(string_agg(lower(btrim(l.description)), ' ' order by l.line_number), '') as descr
      from public.purchase_order_lines l
      where l.organization_id = p.organization_id and l.purchase_order_id = p.id
    ) t
    cross join lateral (
      select coalesce(sum(o.subtotal), 0) as billed
      from public.vendor_invoices o
      where o.purchase_order_id = p.id and o.organization_id = p.organization_id
        and o.id <> i.id and o.status <> 'rejected'
    ) b
  )
  select f.id, f.po_number, f.vendor_id, f.vendor_name, f.order_date, f.currency, f.status,
         f.total, f.x,
         coalesce((w.w ->> 'bias')::double precision, 0)
           + coalesce((w.w ->> 'vendor')::double precision, 0) * f.x[1]
           + coalesce((w.w ->> 'amount')::double precision, 0) * f.x[2]
           + coalesce((w.w ->> 'date')::double precision, 0) * f.x[3]
           + coalesce((w.w ->> 'reference')::double precision, 0) * f.x[4]
           + coalesce((w.w ->> 'description')::double precision, 0) * f.x[5] as score
  from f cross join w
  order by 10 desc, f.po_number, f.id
  limit greatest(1, least(coalesce(suggestion_candidates.max_candidates, 10), 100))
$$;

-- GET .../suggestions: the invoice, the weights used and the candidates.
create or replace function private.match_suggestions(
  organization_id uuid, invoice_id uuid, max_candidates integer default 5
)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  org uuid := match_suggestions.organization_id;
  vi public.vendor_invoices;
  m public.match_suggestion_models;
begin
  if max_candidates is null or max_candidates not between 1 and 50 then
    raise exception 'limit must be between 1 and 50' using errcode = '22023', hint = 'limit';
  end if;
  select * into vi from public.vendor_invoices x where x.organization_id = org and x.id = invoice_id;
  if not found then
    return null;
  end if;
  select * into m from public.match_suggestion_models x where x.organization_id = org;
  return jsonb_build_object(
    'vendor_invoice_id', vi.id, 'invoice_number', vi.invoice_number,
    'vendor_id', vi.vendor_id, 'vendor_name', vi.vendor_name, 'po_number', vi.po_number,
    'purchase_order_id', vi.purchase_order_id, 'status', vi.status,
    'model', jsonb_build_object(
      'learned', m.organization_id is not null,
      'weights', coalesce(m.weights, private.suggestion_fixed_weights()),
      'examples', coalesce(m.examples, 0), 'decisions', coalesce(m.decisions, 0),
      'trained_at', m.trained_at),
    'candidates', coalesce((
      select jsonb_agg(jsonb_build_object(
               'purchase_order_id', c.purchase_order_id, 'po_number', c.po_number,
               'vendor_id', c.vendor_id, 'vendor_name', c.vendor_name,
               'order_date', c.order_date, 'currency', c.currency, 'po_total', c.po_total::text,
               'features', to_jsonb(c.features), 'score', c.score,
               'current', c.purchase_order_id is not distinct from vi.purchase_order_id))
      from private.suggestion_candidates(org, vi.id, m.weights, max_candidates) c), '[]'));
end;
$$;

-- =============================================================================
-- Decisions
-- =============================================================================

-- Records an invoice's decided pair and, for a positive one, the other
-- candidates shown (up to 5) as negatives, with their features now.
create or replace function private.record_suggestion_example(
  organization_id uuid, invoice_id uuid, po uuid, label integer, source text, reason text
)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  org uuid := record_suggestion_example.organization_id;
begin
  insert into public.match_suggestion_examples (organization_id, vendor_invoice_id,
    purchase_order_id, label, source, decided, features, reason)
  select org, invoice_id, c.purchase_order_id, label, source, true, c.features, reason
  from private.suggestion_candidates(org, invoice_id, null, 1, po) c;
  if label = 1 then
    insert into public.match_suggestion_examples (organization_id, vendor_invoice_id,
      purchase_order_id, label, source, decided, features)
    select org, invoice_id, c.purchase_order_id, 0, source, false, c.features
    from private.suggestion_candidates(org, invoice_id, null, 6) c
    where c.purchase_order_id <> po
    limit 5;
  end if;
end;
$$;

-- Accept: the PO is linked through the relink path (the invoice's open
-- invoice-level exception, missing_po first, resolved with link; without one,
-- the same change of the invoice and a match), the pair recorded. Reject:
-- recorded as a negative example.
create or replace function private.decide_match_suggestion(
  organization_id uuid, invoice_id uuid, purchase_order_id uuid, decision text, reason text default null
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  org uuid := decide_match_suggestion.organization_id;
  po uuid := decide_match_suggestion.purchase_order_id;
  vi public.vendor_invoices;
  exc uuid;
  why text := coalesce(nullif(btrim(reason), ''),
                       case decision when 'accept' then 'match suggestion accepted'
                                     else 'match suggestion rejected' end);
begin
  perform private.require_role(org, 'member',
    'reconciliation changes need the member role or above in the organization');
  if decision is null or decision not in ('accept', 'reject') then
    raise exception 'decision: accept or reject' using errcode = '22023';
  end if;
  if length(why) > 1000 then
    raise exception 'reason: at most 1000 characters' using errcode = '22023', hint = 'reason';
  end if;
  select * into vi from public.vendor_invoices x where x.organization_id = org and x.id = invoice_id
  for update;
  if not found then
    return null;
  end if;
  if not exists (select 1 from public.purchase_orders p where p.organization_id = org and p.id = po) then
    raise exception 'purchase_order_id: no such purchase order in the organization'
      using errcode = '23503';
  end if;
  if decision = 'reject' then
    perform private.record_suggestion_example(org, vi.id, po, 0, 'rejected', why);
    return jsonb_build_object('decision', 'rejected', 'vendor_invoice_id', vi.id,
                              'suggested_purchase_order_id', po,
                              'purchase_order_id', vi.purchase_order_id, 'status', vi.status);
  end if;

  if vi.status in ('approved', 'rejected', 'paid') then
    raise exception 'the invoice was already %', vi.status using errcode = '23514';
  end if;
  select e.id into exc
  from public.reconciliation_exceptions e
  where e.organization_id = org and e.vendor_invoice_id = vi.id and e.status = 'open'
    and e.vendor_invoice_line_id is null
  order by (e.type = 'missing_po') desc, (e.type = 'unknown_vendor') desc, e.created_at, e.id
  limit 1;
  perform private.record_suggestion_example(org, vi.id, po, 1, 'accepted', why);
  perform set_config('invoiceflow.suggestion_link', 'on', true);
  if exc is not null then
    perform public.resolve_reconciliation_exception(org, exc, 'link', why, po);
  else
    -- Not matched yet, or matched to the wrong PO without an invoice-level
    -- exception: the link's own change (record_exception_decision), then a match.
    update public.vendor_invoices x set purchase_order_id = po, po_linked_manually = true
    where x.id = vi.id;
    update public.vendor_invoice_lines l
    set po_line_linked_manually = false, purchase_order_line_id = null
    where l.vendor_invoice_id = vi.id and l.po_line_linked_manually;
    perform public.match_vendor_invoices(org, array[vi.id]);
  end if;
  perform set_config('invoiceflow.suggestion_link', 'off', true);
  select * into vi from public.vendor_invoices x where x.id = vi.id;
  return jsonb_build_object('decision', 'accepted', 'vendor_invoice_id', vi.id,
                            'suggested_purchase_order_id', po,
                            'purchase_order_id', vi.purchase_order_id, 'status', vi.status,
                            'exception_id', exc);
end;
$$;

-- A relink (the exception's link with a purchase order, not through a
-- suggestion): a positive example for the linked PO.
create or replace function private.learn_from_relink()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if pg_catalog.current_setting('invoiceflow.suggestion_link', true) = 'on' then
    return null;  -- recorded by decide_match_suggestion
  end if;
  perform private.record_suggestion_example(new.organization_id, new.id, new.purchase_order_id, 1,
                                            'relinked', null);
  return null;
end;
$$;

create trigger learn_from_relink
  after update of purchase_order_id, po_linked_manually on public.vendor_invoices
  for each row when (new.po_linked_manually and new.purchase_order_id is not null
                     and (not old.po_linked_manually
                          or new.purchase_order_id is distinct from old.purchase_order_id))
  execute function private.learn_from_relink();

-- =============================================================================
-- Training
-- =============================================================================

-- The examples to train on: the decisions' (newest first, at most
-- max_examples), then confirmed matches (invoices matched on their PO
-- reference without a decision; the 50 newest, with 5 other candidates each).
create or replace function private.suggestion_training_set(organization_id uuid, max_examples integer default 3000)
returns table (label integer, features double precision[], source text)
language sql
stable
security invoker
set search_path = ''
as $$
  (select e.label::integer, e.features, e.source
   from public.match_suggestion_examples e
   where e.organization_id = suggestion_training_set.organization_id
   order by e.created_at desc, e.id
   limit greatest(0, least(suggestion_training_set.max_examples, 20000)))
  union all
  select (c.purchase_order_id = vi.purchase_order_id)::integer, c.features, 'confirmed'
  from (
    select vi.id, vi.purchase_order_id
    from public.vendor_invoices vi
    where vi.organization_id = suggestion_training_set.organization_id
      and vi.status in ('matched', 'matched_with_tolerance', 'approved', 'paid')
      and vi.purchase_order_id is not null and not vi.po_linked_manually
      and not exists (select 1 from public.match_suggestion_examples e
                      where e.organization_id = vi.organization_id and e.vendor_invoice_id = vi.id)
    order by vi.matched_at desc nulls last, vi.id
    limit 50
  ) vi
  cross join lateral (
    select * from private.suggestion_candidates(suggestion_training_set.organization_id, vi.id,
                                                private.suggestion_fixed_weights(), 6) c
    where c.purchase_order_id <> vi.purchase_order_id
    limit 5
  ) c
  union all
  select 1, c.features, 'confirmed'
  from (
    select vi.id, vi.purchase_order_id
    from public.vendor_invoices vi
    where vi.organization_id = suggestion_training_set.organization_id
      and vi.status in ('matched', 'matched_with_tolerance', 'approved', 'paid')
      and vi.purchase_order_id is not null and not vi.po_linked_manually
      and not exists (select 1 from public.match_suggestion_examples e
                      where e.organization_id = vi.organization_id and e.vendor_invoice_id = vi.id)
    order by vi.matched_at desc nulls last, vi.id
    limit 50
  ) vi
  cross join lateral private.suggestion_candidates(suggestion_training_set.organization_id, vi.id,
                                                   private.suggestion_fixed_weights(), 1,
                                                   vi.purchase_order_id) c
$$;

-- Stores the trained weights (members: a decision retrains).
create or replace function private.save_suggestion_model(
  organization_id uuid, weights jsonb, examples integer, positives integer
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  org uuid := save_suggestion_model.organization_id;
  k text;
begin
  perform private.require_role(org, 'member',
    'reconciliation changes need the member role or above in the organization');
  if weights is null or jsonb_typeof(weights) <> 'object' then
    raise exception 'weights: an object' using errcode = '22023';
  end if;
  foreach k in array array['bias', 'vendor', 'amount', 'date', 'reference', 'description'] loop
    if jsonb_typeof(weights -> k) is distinct from 'number'
       or abs((weights ->> k)::numeric) > 1000 then
      raise exception 'weights.%: a number within +-1000', k using errcode = '22023';
    end if;
  end loop;
  insert into public.match_suggestion_models as m (organization_id, weights, examples, positives,
    decisions, trained_at)
  values (org, weights - array(select jsonb_object_keys(weights)
                               except select unnest(array['bias', 'vendor', 'amount', 'date',
                                                          'reference', 'description'])),
          examples, positives,
          (select count(*) from public.match_suggestion_examples e
           where e.organization_id = org and e.decided), now())
  on conflict on constraint match_suggestion_models_pkey do update
  set weights = excluded.weights, examples = excluded.examples, positives = excluded.positives,
      decisions = excluded.decisions, trained_at = excluded.trained_at;
  return (select to_jsonb(m) from public.match_suggestion_models m where m.organization_id = org);
end;
$$;

-- =============================================================================
-- The public functions (as the caller)
-- =============================================================================

create or replace function public.match_suggestions(organization_id uuid, invoice_id uuid, max_candidates integer default 5)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$ select private.match_suggestions($1, $2, $3) $$;

comment on function public.match_suggestions(uuid, uuid, integer) is
  'A vendor invoice''s candidate purchase orders, ranked by the organization''s learned weights, with the features.';

create or replace function public.decide_match_suggestion(organization_id uuid, invoice_id uuid, purchase_order_id uuid, decision text, reason text default null)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$ select private.decide_match_suggestion($1, $2, $3, $4, $5) $$;

comment on function public.decide_match_suggestion(uuid, uuid, uuid, text, text) is
  'Accepts (links the PO through the exception''s link) or rejects a match suggestion; both are examples to learn from.';

create or replace function public.suggestion_training_set(organization_id uuid, max_examples integer default 3000)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select coalesce(jsonb_agg(jsonb_build_array(t.label) || to_jsonb(t.features)), '[]')
  from private.suggestion_training_set($1, $2) t
$$;

comment on function public.suggestion_training_set(uuid, integer) is
  'The organization''s examples for training its suggestion weights: [[label, vendor, amount, date, reference, description], ...].';

create or replace function public.save_suggestion_model(organization_id uuid, weights jsonb, examples integer, positives integer)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$ select private.save_suggestion_model($1, $2, $3, $4) $$;

comment on function public.save_suggestion_model(uuid, jsonb, integer, integer) is
  'Stores the organization''s trained suggestion weights.';

revoke execute on function private.suggestion_fixed_weights(), private.suggestion_weights(uuid),
  private.suggestion_candidates(uuid, uuid, jsonb, integer, uuid),
  private.match_suggestions(uuid, uuid, integer),
  private.record_suggestion_example(uuid, uuid, uuid, integer, text, text),
  private.decide_match_suggestion(uuid, uuid, uuid, text, text),
  private.learn_from_relink(),
  private.suggestion_training_set(uuid, integer),
  private.save_suggestion_model(uuid, jsonb, integer, integer),
  public.match_suggestions(uuid, uuid, integer),
  public.decide_match_suggestion(uuid, uuid, uuid, text, text),
  public.suggestion_training_set(uuid, integer),
  public.save_suggestion_model(uuid, jsonb, integer, integer)
  from public;

grant execute on function private.suggestion_fixed_weights(), private.suggestion_weights(uuid),
  private.suggestion_candidates(uuid, uuid, jsonb, integer, uuid),
  private.match_suggestions(uuid, uuid, integer),
  private.decide_match_suggestion(uuid, uuid, uuid, text, text),
  private.suggestion_training_set(uuid, integer),
  private.save_suggestion_model(uuid, jsonb, integer, integer),
  public.match_suggestions(uuid, uuid, integer),
  public.decide_match_suggestion(uuid, uuid, uuid, text, text),
  public.suggestion_training_set(uuid, integer),
  public.save_suggestion_model(uuid, jsonb, integer, integer)
  to authenticated, service_role;
