-- =============================================================================
-- Reconciliation exceptions: the queue the matching engine fills (one row per
-- (invoice, type, check, line), kept, reopened or auto-resolved as the previous
-- migration's header says), reading an invoice with its evidence and an exception
-- with its history, resolving an exception (accept, dismiss, reject the invoice, or
-- link the purchase order or line a person names), and the reconciliation dashboard
-- with the match rows its export reads.
-- =============================================================================

-- =============================================================================
-- Tables
-- =============================================================================

create table public.reconciliation_exceptions (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  vendor_invoice_id uuid not null,
  vendor_invoice_line_id uuid,
  vendor_id uuid,
  type text not null check (type in (
    'unknown_vendor', 'duplicate_invoice', 'missing_po', 'po_closed', 'currency_mismatch',
    'missing_po_line', 'over_billed_quantity', 'price_variance', 'total_variance')),
  -- The check that failed: vendor, duplicate, po_number, po_vendor, po_status,
  -- currency, po_line, received, quantity, price, line_amount, subtotal, total.
  check_name text not null,
  severity text not null check (severity in ('low', 'medium', 'high')),
  line_number integer,
  expected text,
  actual text,
  variance numeric,
  message text not null,
  evidence jsonb not null default '{}',
  status text not null default 'open' check (status in ('open', 'resolved', 'dismissed')),
  resolution text check (resolution in (
    'accepted', 'rejected', 'linked', 'dismissed', 'auto_resolved')),
  resolution_reason text check (length(resolution_reason) <= 1000),
  resolved_by uuid references auth.users (id) on delete set null,
  resolved_at timestamptz,
  detected_at timestamptz not null default now(),
  last_detected_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  dedupe_key text generated always as (
    type || '/' || check_name || '/' || coalesce(vendor_invoice_line_id::text, '-')) stored,
  unique (organization_id, id),
  constraint reconciliation_exceptions_closed_has_resolution
    check ((status = 'open') = (resolution is null)),
  foreign key (organization_id, vendor_invoice_id)
    references public.vendor_invoices (organization_id, id) on delete cascade,
  foreign key (organization_id, vendor_invoice_line_id)
    references public.vendor_invoice_lines (organization_id, id) on delete cascade,
  foreign key (organization_id, vendor_id) references public.vendors (organization_id, id)
);

alter table public.reconciliation_exceptions enable row level security;

-- =============================================================================
-- Indexes
-- =============================================================================

create unique index reconciliation_exceptions_key
  on public.reconciliation_exceptions (vendor_invoice_id, dedupe_key);

create index reconciliation_exceptions_queue_idx
  on public.reconciliation_exceptions (organization_id, status, severity, detected_at desc);

create index reconciliation_exceptions_vendor_idx
  on public.reconciliation_exceptions (organization_id, vendor_id, status);

-- Deleting a user looks up the rows that name it (the foreign key is ON DELETE
-- SET NULL or CASCADE); partial: the NULLs are never looked up.
create index reconciliation_exceptions_resolved_by_idx on public.reconciliation_exceptions (resolved_by) where resolved_by is not null;

-- =============================================================================
-- Functions
-- =============================================================================

-- Reading: an invoice with its evidence, an exception, the dashboard
create or replace function private.exception_json(e public.reconciliation_exceptions)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select to_jsonb(e) - 'dedupe_key' - 'variance'
         || jsonb_build_object('variance', e.variance::text)
$$;

create or replace function private.money_fields(row_json jsonb, fields text[])
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select row_json || coalesce((
    select jsonb_object_agg(f, case when jsonb_typeof(row_json -> f) = 'number'
                                    then to_jsonb(row_json ->> f) else row_json -> f end)
    from unnest(fields) f where row_json ? f), '{}')
$$;

-- public.reconciliation_invoice: defined in 20261206170500 (its final form; nothing is deployed)

-- An exception's history: its rows in the audit log, oldest first. SECURITY DEFINER:
-- the audit log is the admins' to read through RLS, while every member who sees the
-- exception sees who decided what on it. It checks the caller itself and answers only
-- for an exception of that organization.
create or replace function private.exception_history(organization_id uuid, exception_id uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  perform private.require_role(exception_history.organization_id, 'viewer', 'not a member of the organization');
  return coalesce((
    select jsonb_agg(jsonb_build_object(
             'changed_at', a.changed_at, 'changed_by', a.changed_by,
             'operation', a.operation, 'status', a.new_record ->> 'status',
             'resolution', a.new_record ->> 'resolution',
             'reason', a.new_record ->> 'resolution_reason')
             order by a.changed_at, a.id)
    from public.audit_log a
    where a.table_name = 'public.reconciliation_exceptions'
      and a.record_id = exception_history.exception_id
      and exists (select 1 from public.reconciliation_exceptions e
                  where e.organization_id = exception_history.organization_id and e.id = exception_history.exception_id)), '[]');
end;
$$;

-- public.reconciliation_exception: defined in 20261206170500 (its final form; nothing is deployed)

-- action: accept (the variance is fine: the exception is resolved, the invoice
-- re-matched: matched_with_tolerance once nothing else is open), dismiss (not
-- a real problem: dismissed, re-matched likewise), reject (the invoice is
-- rejected: every open exception of it is resolved as rejected; a rejected
-- invoice is never re-matched), link (purchase_order_id, goods_receipt_id (its
-- purchase order) or purchase_order_line_id (for a line's exception): the link
-- is kept by matching and the invoice re-matched; the exception stays open
-- if the new link still shows it). reason: 1 to 1000 characters, required.
-- The decision, the person and the reason are the exception's row, in the
-- audit log.
-- The decision's writes, which no member makes through RLS: the exception's status,
-- resolution, reason and resolver (no write policy: a person resolves an exception
-- only here, with a reason, and the invoice is re-matched after), the invoice's
-- rejection and its purchase order or line links (status, purchase_order_id and the
-- *_linked_manually flags are no columns a person writes). SECURITY DEFINER for those;
-- it checks the caller, locks the exception and its invoice and judges them again
-- under the lock (a concurrent decision loses with the same answer). The arguments
-- are resolve_reconciliation_exception's, checked there; the links name rows of the
-- organization (checked there under RLS, and by the foreign keys).
create or replace function private.record_exception_decision(
  organization_id uuid, exception_id uuid, action text, reason text,
  purchase_order_id uuid, purchase_order_line_id uuid
)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  e public.reconciliation_exceptions;
  vi public.vendor_invoices;
  po uuid := record_exception_decision.purchase_order_id;
  pol uuid := record_exception_decision.purchase_order_line_id;
begin
  perform private.require_role(record_exception_decision.organization_id, 'member',
    'reconciliation changes need the member role or above in the organization');
  if action is null or action not in ('accept', 'dismiss', 'reject', 'link')
     or reason is null or length(btrim(reason)) not between 1 and 1000 then
    raise exception 'a decision needs an action and a reason' using errcode = '22023';
  end if;
  select * into e from public.reconciliation_exceptions x
  where x.organization_id = record_exception_decision.organization_id and x.id = record_exception_decision.exception_id for update;
  if not found then
    raise exception 'exception not found' using errcode = 'P0002';
  end if;
  select * into vi from public.vendor_invoices x where x.id = e.vendor_invoice_id for update;
  if e.status <> 'open' then
    raise exception 'the exception is already % (%); only open exceptions are resolved', e.status, e.resolution
      using errcode = '23514';
  end if;
  if vi.status in ('approved', 'rejected') then
    raise exception 'the invoice was already %', vi.status using errcode = '23514';
  end if;

  if action = 'reject' then
    update public.reconciliation_exceptions x
    set status = 'resolved', resolution = 'rejected', resolved_by = auth.uid(), resolved_at = now(),
        resolution_reason = case when x.id = e.id then btrim(reason)
                                 else left('the invoice was rejected: ' || btrim(reason), 1000) end
    where x.vendor_invoice_id = vi.id and x.status = 'open';
    update public.vendor_invoices x set status = 'rejected' where x.id = vi.id;
    return;
  end if;

  if action = 'link' then
    if po is not null then
      update public.vendor_invoices x set purchase_order_id = po, po_linked_manually = true
      where x.id = vi.id;
      -- Lines follow the new purchase order (matched again by item code or description).
      update public.vendor_invoice_lines l
      set po_line_linked_manually = false, purchase_order_line_id = null
      where l.vendor_invoice_id = vi.id and l.po_line_linked_manually;
    elsif pol is not null and e.vendor_invoice_line_id is not null then
      update public.vendor_invoice_lines l
      set purchase_order_line_id = pol, po_line_linked_manually = true
      where l.id = e.vendor_invoice_line_id;
    else
      raise exception 'link: give a purchase order, or a purchase order line for a line''s exception'
        using errcode = '22023';
    end if;
  end if;

  update public.reconciliation_exceptions x
  set status = case when action = 'dismiss' then 'dismissed' else 'resolved' end,
      resolution = case action when 'accept' then 'accepted' when 'dismiss' then 'dismissed'
                               else 'linked' end,
      resolved_by = auth.uid(), resolved_at = now(), resolution_reason = btrim(reason)
  where x.id = e.id;
end;
$$;

create or replace function public.resolve_reconciliation_exception(
  organization_id uuid,
  exception_id uuid,
  action text,
  reason text,
  purchase_order_id uuid default null,
  purchase_order_line_id uuid default null,
  goods_receipt_id uuid default null
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := resolve_reconciliation_exception.organization_id;
  e public.reconciliation_exceptions;
  vi public.vendor_invoices;
  po uuid := resolve_reconciliation_exception.purchase_order_id;
  pol uuid := resolve_reconciliation_exception.purchase_order_line_id;
  links integer;
begin
  perform private.require_role(org, 'member',
    'reconciliation changes need the member role or above in the organization');
  select * into e from public.reconciliation_exceptions x
  where x.organization_id = org and x.id = exception_id;
  if not found then
    raise exception 'exception not found' using errcode = 'P0002';
  end if;
  select * into vi from public.vendor_invoices x where x.id = e.vendor_invoice_id;
  if action is null or action not in ('accept', 'dismiss', 'reject', 'link') then
    raise exception 'action: use accept, dismiss, reject or link' using errcode = '22023';
  end if;
  if reason is null or length(btrim(reason)) not between 1 and 1000 then
    raise exception 'reason: say why, in 1 to 1000 characters' using errcode = '22023';
  end if;
  links := (po is not null)::integer + (pol is not null)::integer + (goods_receipt_id is not null)::integer;
  if action <> 'link' and links > 0 then
    raise exception 'purchase_order_id, purchase_order_line_id and goods_receipt_id are for action link'
      using errcode = '22023';
  end if;
  if action = 'link' and links <> 1 then
    raise exception 'link: give exactly one of purchase_order_id, purchase_order_line_id, goods_receipt_id'
      using errcode = '22023';
  end if;
  if e.status <> 'open' then
    raise exception 'the exception is already % (%); only open exceptions are resolved', e.status, e.resolution
      using errcode = '23514';
  end if;
  if vi.status in ('approved', 'rejected') then
    raise exception 'the invoice was already %', vi.status using errcode = '23514';
  end if;

  if action = 'link' then
    if goods_receipt_id is not null then
      select g.purchase_order_id into po from public.goods_receipts g
      where g.organization_id = org and g.id = goods_receipt_id;
      if po is null then
        raise exception 'goods_receipt_id: no such goods receipt in the organization'
          using errcode = '23503';
      end if;
    end if;
    if po is not null then
      if not exists (select 1 from public.purchase_orders p where p.organization_id = org and p.id = po) then
        raise exception 'purchase_order_id: no such purchase order in the organization'
          using errcode = '23503';
      end if;
    else
      if e.vendor_invoice_line_id is null then
        raise exception 'purchase_order_line_id: this exception is about the whole invoice, not a line; link a purchase order'
          using errcode = '22023';
      end if;
      if not exists (select 1 from public.purchase_order_lines p
                     where p.organization_id = org and p.id = pol) then
        raise exception 'purchase_order_line_id: no such purchase order line in the organization'
          using errcode = '23503';
      end if;
    end if;
  end if;

  perform private.record_exception_decision(org, e.id, action, reason, po, pol);
  if action <> 'reject' then
    perform public.match_vendor_invoices(org, array[vi.id]);
  end if;
  return public.reconciliation_exception(org, e.id);
end;
$$;

-- For invoices dated in [date_from, date_to] (either may be null): counts and
-- amounts by status, open exceptions by type and severity, the top exception
-- reasons (type and check) and the vendors with the most variances.
create or replace function public.reconciliation_dashboard(
  organization_id uuid, date_from date default null, date_to date default null
)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  org uuid := reconciliation_dashboard.organization_id;
  result jsonb;
begin
  perform private.require_role(org, 'viewer', 'not a member of the organization');
  with inv as (
    select vi.* from public.vendor_invoices vi
    where vi.organization_id = org
      and (date_from is null or vi.invoice_date >= date_from)
      and (date_to is null or vi.invoice_date <= date_to)
  ),
  exc as (
    select e.*, inv.currency, inv.total_amount
    from public.reconciliation_exceptions e join inv on inv.id = e.vendor_invoice_id
    where e.resolution is distinct from 'auto_resolved'
  )
  select jsonb_build_object(
    'date_from', date_from, 'date_to', date_to,
    'invoices', (select count(*) from inv),
    'by_outcome', coalesce((
      select jsonb_agg(jsonb_build_object('status', s.status, 'currency', s.currency,
                                          'count', s.n, 'amount', s.amount::text)
                       order by s.status, s.currency)
      from (select status, currency, count(*) as n, sum(total_amount) as amount
            from inv group by status, currency) s), '[]'),
    'open_exceptions', (select count(*) from exc where status = 'open'),
    'exceptions_by_status', coalesce((
      select jsonb_object_agg(s.status, s.n)
      from (select status, count(*) as n from exc group by status) s), '{}'),
    'open_by_severity', coalesce((
      select jsonb_object_agg(s.severity, s.n)
      from (select severity, count(*) as n from exc where status = 'open' group by severity) s), '{}'),
    'top_exception_reasons', coalesce((
      select jsonb_agg(jsonb_build_object('type', s.type, 'check', s.check_name, 'count', s.n,
                                          'open', s.open, 'invoices', s.invoices)
                       order by s.n desc, s.type, s.check_name)
      from (select type, check_name, count(*) as n, count(*) filter (where status = 'open') as open,
                   count(distinct vendor_invoice_id) as invoices
            from exc group by type, check_name order by count(*) desc, type, check_name limit 10) s), '[]'),
    'vendors_with_most_variances', coalesce((
      select jsonb_agg(jsonb_build_object('vendor_id', s.vendor_id, 'name', s.name,
                                          'exceptions', s.n, 'open', s.open,
                                          'invoices_with_variances', s.invoices,
                                          'price_variance_amount', s.price_amount::text)
                       order by s.n desc, s.name)
      from (select x.vendor_id, v.name, count(*) as n, count(*) filter (where x.status = 'open') as open,
                   count(distinct x.vendor_invoice_id) as invoices,
                   sum(x.variance) filter (where x.type = 'price_variance') as price_amount
            from exc x join public.vendors v on v.id = x.vendor_id
            where x.type in ('price_variance', 'over_billed_quantity', 'total_variance')
            group by x.vendor_id, v.name
            order by count(*) desc, v.name limit 10) s), '[]'),
    'unknown_vendor_names', coalesce((
      select jsonb_agg(jsonb_build_object('vendor_name', s.vendor_name, 'invoices', s.n)
                       order by s.n desc, s.vendor_name)
      from (select min(vendor_name) as vendor_name, count(*) as n from inv
            where vendor_id is null group by private.normalize_vendor_name(vendor_name)
            order by count(*) desc limit 10) s), '[]'))
  into result;
  return result;
end;
$$;

-- =============================================================================
-- Triggers
-- =============================================================================

create trigger set_updated_at before update on public.reconciliation_exceptions
  for each row execute function private.set_updated_at();

select private.enable_audit('public.reconciliation_exceptions', array['updated_at', 'last_detected_at']);

-- =============================================================================
-- Policies
-- =============================================================================

create policy "Members can view their organization's reconciliation exceptions"
  on public.reconciliation_exceptions for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

-- =============================================================================
-- Views
-- =============================================================================

-- The rows of a match-results export: one per invoice line with the invoice's
-- outcome and the line's evidence (RLS of the caller applies).
create or replace view public.reconciliation_match_rows
with (security_invoker = true)
as
select vi.organization_id, vi.id as vendor_invoice_id, vi.invoice_number, vi.invoice_date,
       vi.vendor_id, vi.vendor_name, vi.po_number, vi.purchase_order_id, vi.currency,
       vi.total_amount, vi.status as invoice_status, m.outcome as invoice_outcome,
       m.total_variance, m.open_exceptions, m.matched_at,
       lm.line_number, lm.purchase_order_line_id, lm.matched_by, lm.outcome as line_outcome,
       lm.rule, lm.ordered_quantity, lm.received_quantity, lm.previously_billed_quantity,
       lm.billed_quantity, lm.allowed_quantity, lm.po_unit_price, lm.billed_unit_price,
       lm.price_variance, lm.price_allowance, lm.expected_amount, lm.billed_amount,
       lm.amount_variance
from public.vendor_invoices vi
join public.vendor_invoice_matches m on m.vendor_invoice_id = vi.id
left join public.vendor_invoice_line_matches lm on lm.vendor_invoice_id = vi.id;

-- =============================================================================
-- Grants
-- =============================================================================

revoke all on public.reconciliation_exceptions from anon, authenticated;

grant select on public.reconciliation_exceptions to authenticated;

revoke all on public.reconciliation_match_rows from anon, authenticated;

grant select on public.reconciliation_match_rows to authenticated;

grant execute on function
  public.resolve_reconciliation_exception(uuid, uuid, text, text, uuid, uuid, uuid),
  public.reconciliation_dashboard(uuid, date, date)
  to authenticated, service_role;

grant execute on function
  private.exception_history(uuid, uuid),
  private.record_exception_decision(uuid, uuid, text, text, uuid, uuid),
  private.exception_json(public.reconciliation_exceptions),
  private.money_fields(jsonb, text[])
  to authenticated, service_role;

revoke execute on all functions in schema private, public from public;
