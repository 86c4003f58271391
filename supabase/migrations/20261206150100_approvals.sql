-- =============================================================================
-- Payables: approval before payment, and payment batches (issue 20).
--
-- The rules (docs/payables.md, docs/api.md "Payables: approvals and payment batches"):
-- * Approval rules per organization (admins write them): a rule applies to an
--   invoice when each condition it sets holds: currency and an amount band on
--   total_amount (min inclusive, max exclusive; a band needs its currency), the
--   vendor, and the match outcome: matched, matched_with_tolerance, or
--   resolved_exception (an invoice of which a person closed an exception:
--   accepted, dismissed or linked). The active rule with the lowest priority
--   number that applies decides the steps; none applies: ONE step, any admin
--   (admins and owners). A step names a role (that role or above) or members.
-- * An invoice entering matched or matched_with_tolerance gets a new approval
--   round: its steps in order, the first pending (decidable), the others
--   waiting; earlier rounds' open steps are superseded.
-- * Separation of duties, for every decision and for the queue: whoever created
--   (imported) the invoice, created its import batch, or closed an exception of
--   it cannot approve it, and nobody decides two steps of one round. Viewers
--   never approve.
-- * After its last step the invoice is approved; a rejection rejects it.
-- * An approved (or being approved) invoice whose figures, lines or purchase
--   order change (a member's edit, a new receipt or PO line on its purchase
--   order) is matched again: unchanged match -> it keeps its status; changed ->
--   a new round (or, now an exception, no round until it is resolved).
-- * Payment batches (admins): approved invoices, one live batch each; paid with a
--   reference: the batch's invoices become 'paid'; a draft batch can be cancelled.
--   An invoice of a draft batch sent back for approval leaves the batch.
-- =============================================================================

-- =============================================================================
-- Columns: the vendor's bank account, the 'paid' status
-- =============================================================================

-- The account a vendor is paid to (SEPA: the IBAN; the BIC is optional). The
-- API validates both with python-stdnum (checksums); the checks keep the shape.
alter table public.vendors
  add column iban text check (iban ~ '^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$'),
  add column bic text check (bic ~ '^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$');

grant insert (iban, bic), update (iban, bic) on public.vendors to authenticated;

-- 'paid': the invoice went out in a payment batch marked paid.
alter table public.vendor_invoices drop constraint vendor_invoices_status_check;
alter table public.vendor_invoices add constraint vendor_invoices_status_check
  check (status in ('pending', 'matched', 'matched_with_tolerance', 'exception', 'approved',
                    'rejected', 'paid'));

-- =============================================================================
-- Tables
-- =============================================================================

-- The organization's own account, the debtor of its payment files.
create table public.payables_settings (
  organization_id uuid primary key references public.organizations (id) on delete cascade,
  debtor_name text check (length(btrim(debtor_name)) between 1 and 70),
  debtor_iban text check (debtor_iban ~ '^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$'),
  debtor_bic text check (debtor_bic ~ '^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$'),
  updated_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Who approves which invoices. steps: a json array of 1 to 5 objects, each
-- {"approver_role": "owner"|"admin"|"member"} or {"approvers": [user ids]}.
create table public.approval_rules (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  name text not null check (length(btrim(name)) between 1 and 200),
  priority integer not null check (priority between 1 and 100000),
  active boolean not null default true,
  currency text check (currency ~ '^[A-Z]{3}$'),
  min_amount numeric check (min_amount >= 0 and min_amount < 1e12),
  max_amount numeric check (max_amount > 0 and max_amount <= 1e12),
  vendor_id uuid,
  outcomes text[] check (cardinality(outcomes) between 1 and 3 and outcomes <@
    array['matched', 'matched_with_tolerance', 'resolved_exception']),
  steps jsonb not null check (jsonb_typeof(steps) = 'array'
    and jsonb_array_length(steps) between 1 and 5),
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (organization_id, id),
  constraint approval_rules_priority_unique unique (organization_id, priority),
  constraint approval_rules_band_needs_currency
    check ((min_amount is null and max_amount is null) or currency is not null),
  constraint approval_rules_band_order
    check (min_amount is null or max_amount is null or min_amount < max_amount),
  foreign key (organization_id, vendor_id) references public.vendors (organization_id, id)
    on delete cascade
);

-- One step of one approval round of an invoice. status: waiting (a later step),
-- pending (decidable now), approved, rejected, superseded (the round was replaced).
create table public.vendor_invoice_approvals (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  vendor_invoice_id uuid not null,
  round integer not null check (round >= 1),
  step integer not null check (step between 1 and 5),
  steps integer not null check (steps between 1 and 5),
  rule_id uuid,
  rule_name text not null,
  outcome text not null check (outcome in ('matched', 'matched_with_tolerance', 'resolved_exception')),
  approver_role public.membership_role check (approver_role in ('owner', 'admin', 'member')),
  approvers uuid[] check (cardinality(approvers) between 1 and 50),
  status text not null check (status in ('waiting', 'pending', 'approved', 'rejected', 'superseded')),
  decided_by uuid references auth.users (id) on delete set null,
  decided_at timestamptz,
  reason text check (length(reason) <= 1000),
  reassigned_by uuid references auth.users (id) on delete set null,
  reassigned_at timestamptz,
  activated_at timestamptz,
  created_at timestamptz not null default now(),
  unique (organization_id, id),
  constraint vendor_invoice_approvals_step_unique unique (vendor_invoice_id, round, step),
  constraint vendor_invoice_approvals_one_kind_of_approver
    check ((approver_role is null) <> (approvers is null)),
  foreign key (organization_id, vendor_invoice_id)
    references public.vendor_invoices (organization_id, id) on delete cascade,
  foreign key (organization_id, rule_id)
    references public.approval_rules (organization_id, id) on delete set null (rule_id)
);

create table public.payment_batches (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  status text not null default 'draft' check (status in ('draft', 'paid', 'cancelled')),
  execution_date date not null default current_date
    check (execution_date between '2000-01-01' and '2999-12-31'),
  reference text check (length(btrim(reference)) between 1 and 140),
  message_id text not null default replace(gen_random_uuid()::text, '-', ''),
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  paid_by uuid references auth.users (id) on delete set null,
  paid_at timestamptz,
  cancelled_by uuid references auth.users (id) on delete set null,
  cancelled_at timestamptz,
  updated_at timestamptz not null default now(),
  unique (organization_id, id),
  constraint payment_batches_paid_has_reference check ((status = 'paid') = (reference is not null))
);

-- An invoice in a batch; live while the batch is not cancelled (one live batch per invoice).
create table public.payment_batch_items (
  organization_id uuid not null,
  payment_batch_id uuid not null,
  vendor_invoice_id uuid not null,
  live boolean not null default true,
  created_at timestamptz not null default now(),
  primary key (payment_batch_id, vendor_invoice_id),
  foreign key (organization_id, payment_batch_id)
    references public.payment_batches (organization_id, id) on delete cascade,
  foreign key (organization_id, vendor_invoice_id)
    references public.vendor_invoices (organization_id, id) on delete cascade
);

-- =============================================================================
-- Indexes
-- =============================================================================

-- The approval queue: an organization's pending steps, oldest first.
create index vendor_invoice_approvals_queue_idx
  on public.vendor_invoice_approvals (organization_id, activated_at, id) where status = 'pending';
create index vendor_invoice_approvals_open_idx
  on public.vendor_invoice_approvals (vendor_invoice_id) where status in ('waiting', 'pending');
create index vendor_invoice_approvals_decided_idx
  on public.vendor_invoice_approvals (vendor_invoice_id, round, decided_by) where decided_by is not null;
create index approval_rules_vendor_idx on public.approval_rules (organization_id, vendor_id);
create unique index payment_batch_items_one_live_batch
  on public.payment_batch_items (vendor_invoice_id) where live;
create index payment_batch_items_invoice_idx on public.payment_batch_items (organization_id, vendor_invoice_id);
create index payment_batches_organization_idx on public.payment_batches (organization_id, created_at desc);
-- Separation of duties looks up who resolved an invoice's exceptions.
create index reconciliation_exceptions_invoice_resolver_idx
  on public.reconciliation_exceptions (vendor_invoice_id, resolved_by) where resolved_by is not null;

-- Deleting a user looks up the rows that name it; partial: NULLs are never looked up.
create index payables_settings_updated_by_idx on public.payables_settings (updated_by) where updated_by is not null;
create index approval_rules_created_by_idx on public.approval_rules (created_by) where created_by is not null;
create index vendor_invoice_approvals_decided_by_idx on public.vendor_invoice_approvals (decided_by) where decided_by is not null;
create index vendor_invoice_approvals_reassigned_by_idx on public.vendor_invoice_approvals (reassigned_by) where reassigned_by is not null;
create index vendor_invoice_approvals_rule_idx on public.vendor_invoice_approvals (organization_id, rule_id) where rule_id is not null;
create index payment_batches_created_by_idx on public.payment_batches (created_by) where created_by is not null;
create index payment_batches_paid_by_idx on public.payment_batches (paid_by) where paid_by is not null;
create index payment_batches_cancelled_by_idx on public.payment_batches (cancelled_by) where cancelled_by is not null;

-- =============================================================================
-- Functions: rules and rounds
-- =============================================================================

-- A rule's steps are well formed and name members (member role or above) of the
-- organization; the writer is the one recorded.
create or replace function private.check_approval_rule()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  s jsonb;
  n integer := 0;
begin
  for s in select x from jsonb_array_elements(new.steps) x loop
    n := n + 1;
    if jsonb_typeof(s) <> 'object' then
      raise exception 'steps[%] must be an object', n using errcode = '22023';
    end if;
    if (s ? 'approver_role') = (s ? 'approvers') or (select count(*) from jsonb_object_keys(s)) <> 1 then
      raise exception 'steps[%] names either approver_role or approvers', n using errcode = '22023';
    end if;
    if s ? 'approver_role' then
      if jsonb_typeof(s -> 'approver_role') <> 'string'
         or s ->> 'approver_role' not in ('owner', 'admin', 'member') then
        raise exception 'steps[%].approver_role must be owner, admin or member', n using errcode = '22023';
      end if;
    else
      if jsonb_typeof(s -> 'approvers') <> 'array' or jsonb_array_length(s -> 'approvers') not between 1 and 50
         or exists (select 1 from jsonb_array_elements(s -> 'approvers') a
                    where jsonb_typeof(a) <> 'string'
                       or a #>> '{}' !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$') then
        raise exception 'steps[%].approvers must list 1 to 50 user ids', n using errcode = '22023';
      end if;
      if exists (select 1 from jsonb_array_elements_text(s -> 'approvers') a
                 where not exists (select 1 from public.memberships m
                                   where m.organization_id = new.organization_id
                                     and m.user_id = a::uuid and m.role >= 'member')) then
        raise exception 'steps[%].approvers must be members (member role or above) of the organization', n
          using errcode = '22023';
      end if;
    end if;
  end loop;
  new.updated_at := now();
  if tg_op = 'INSERT' then
    new.created_by := coalesce(auth.uid(), new.created_by);
  end if;
  return new;
end;
$$;

-- The match outcome as the rules see it.
create or replace function private.approval_outcome(invoice_id uuid, status text)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select case when exists (select 1 from public.reconciliation_exceptions e
                           where e.vendor_invoice_id = invoice_id and e.resolved_by is not null
                             and e.status in ('resolved', 'dismissed'))
              then 'resolved_exception' else status end
$$;

-- Opens a new approval round for each given invoice that is matched or matched
-- with tolerance (others only lose their open steps).
create or replace function private.open_approval_rounds(invoice_ids uuid[])
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.vendor_invoice_approvals a set status = 'superseded'
  where a.vendor_invoice_id = any (invoice_ids) and a.status in ('waiting', 'pending');

  insert into public.vendor_invoice_approvals (
    organization_id, vendor_invoice_id, round, step, steps, rule_id, rule_name, outcome,
    approver_role, approvers, status, activated_at)
  select vi.organization_id, vi.id,
         coalesce((select max(p.round) from public.vendor_invoice_approvals p
                   where p.vendor_invoice_id = vi.id), 0) + 1,
         s.ord::integer,
         coalesce(jsonb_array_length(r.steps), 1),
         r.id, coalesce(r.name, 'default: one step, any admin'),
         o.outcome,
         case when r.id is null then 'admin'::public.membership_role
              else (s.step ->> 'approver_role')::public.membership_role end,
         case when s.step ? 'approvers'
              then array(select jsonb_array_elements_text(s.step -> 'approvers')::uuid) end,
         case when s.ord = 1 then 'pending' else 'waiting' end,
         case when s.ord = 1 then now() end
  from public.vendor_invoices vi
  cross join lateral (select private.approval_outcome(vi.id, vi.status) as outcome) o
  left join lateral (
    select ar.id, ar.name, ar.steps
    from public.approval_rules ar
    where ar.organization_id = vi.organization_id and ar.active
      and (ar.currency is null or ar.currency = vi.currency)
      and (ar.min_amount is null or vi.total_amount >= ar.min_amount)
      and (ar.max_amount is null or vi.total_amount < ar.max_amount)
      and (ar.vendor_id is null or ar.vendor_id = vi.vendor_id)
      and (ar.outcomes is null or o.outcome = any (ar.outcomes))
    order by ar.priority
    limit 1
  ) r on true
  cross join lateral (
    select x.step, x.ord
    from jsonb_array_elements(coalesce(r.steps, '[{"approver_role": "admin"}]'::jsonb))
         with ordinality as x (step, ord)
  ) s
  where vi.id = any (invoice_ids) and vi.status in ('matched', 'matched_with_tolerance');
end;
$$;

-- Closes the open steps of invoices that left approval (an exception, a
-- rejection, back to pending) and takes them out of draft payment batches.
create or replace function private.close_approval_rounds(invoice_ids uuid[])
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.vendor_invoice_approvals a set status = 'superseded'
  where a.vendor_invoice_id = any (invoice_ids) and a.status in ('waiting', 'pending');
  delete from public.payment_batch_items i
  using public.payment_batches b
  where i.vendor_invoice_id = any (invoice_ids) and i.live
    and b.id = i.payment_batch_id and b.status = 'draft';
end;
$$;

-- After any update of vendor invoices (matching, a resolution, a decision):
-- those that entered matched/matched_with_tolerance get a round, those that
-- left matching's good outcomes or approval lose their open steps.
create or replace function private.route_invoices_for_approval()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  entering uuid[];
  leaving uuid[];
  rematch record;
begin
  if pg_catalog.current_setting('invoiceflow.approval_recheck', true) = 'on' then
    return null;  -- private.recheck_approved_invoices decides itself
  end if;
  select array_agg(n.id) filter (where n.status in ('matched', 'matched_with_tolerance')),
         array_agg(n.id) filter (where n.status not in ('matched', 'matched_with_tolerance', 'approved', 'paid')
                                   and o.status in ('matched', 'matched_with_tolerance', 'approved'))
  into entering, leaving
  from new_rows n join old_rows o on o.id = n.id
  where n.status is distinct from o.status;
  if leaving is not null then
    perform private.close_approval_rounds(leaving);
  end if;
  if entering is not null then
    perform private.open_approval_rounds(entering);
  end if;
  -- Approved invoices a person changed (set back to pending by the row trigger): matched again.
  for rematch in
    select n.organization_id as org, array_agg(n.id) as ids
    from new_rows n join old_rows o on o.id = n.id
    where o.status in ('approved', 'matched', 'matched_with_tolerance') and n.status = 'pending'
    group by n.organization_id
  loop
    perform private.match_vendor_invoices(rematch.org, rematch.ids);
  end loop;
  return null;
end;
$$;

-- A person's change of an approved or matched invoice's figures sends it back:
-- pending, matched again by the statement trigger (matching's own writes pass).
create or replace function private.send_changed_invoice_back()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if old.status in ('approved', 'matched', 'matched_with_tolerance') and new.status = old.status
     and (new.vendor_id, new.invoice_number, new.po_number, new.currency, new.subtotal,
          new.tax_amount, new.total_amount)
         is distinct from
         (old.vendor_id, old.invoice_number, old.po_number, old.currency, old.subtotal,
          old.tax_amount, old.total_amount)
     and pg_catalog.current_setting('invoiceflow.approval_recheck', true) is distinct from 'on' then
    new.status := 'pending';
  end if;
  return new;
end;
$$;

-- A change of an approved or matched invoice's lines sends the invoice back likewise.
create or replace function private.send_invoice_back_on_line_change()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.vendor_invoices vi set status = 'pending'
  where vi.id in (select c.vendor_invoice_id from changed_rows c)
    and vi.status in ('approved', 'matched', 'matched_with_tolerance');
  return null;
end;
$$;

-- A new receipt line, PO line or PO change on the purchase order of invoices in or
-- past matching's good outcomes: each is matched again; one whose match is
-- unchanged keeps its status (and its approval), a changed one gets a new round.
create or replace function private.recheck_approved_invoices(organization_id uuid, po_ids uuid[])
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  ids uuid[];
  changed uuid[];
  previous text;
begin
  if pg_catalog.current_setting('invoiceflow.deferred_rematch', true) = 'on' then
    return;
  end if;
  select array_agg(vi.id) into ids
  from public.vendor_invoices vi
  where vi.organization_id = recheck_approved_invoices.organization_id
    and vi.purchase_order_id = any (po_ids)
    and vi.status in ('approved', 'matched', 'matched_with_tolerance');
  if ids is null then
    return;
  end if;
  create temporary table if not exists approval_recheck (
    id uuid primary key, status text, fingerprint text) on commit drop;
  perform 'PRAGMA:TABLE: approval_recheck (id uuid, status text, fingerprint text)';  -- its columns, for plpgsql_check (supabase db lint)
  truncate pg_temp.approval_recheck;
  insert into pg_temp.approval_recheck
  select vi.id, vi.status,
         (select pg_catalog.concat_ws('|', m.outcome, m.purchase_order_id, m.lines_total,
                  m.expected_lines_total, m.subtotal_variance, m.total_variance, m.lines_matched,
                  m.lines_within_tolerance, m.lines_exception, m.open_exceptions)
          from public.vendor_invoice_matches m where m.vendor_invoice_id = vi.id)
  from public.vendor_invoices vi where vi.id = any (ids);

  previous := pg_catalog.current_setting('invoiceflow.approval_recheck', true);
  perform pg_catalog.set_config('invoiceflow.approval_recheck', 'on', true);
  update public.vendor_invoices vi set status = 'pending' where vi.id = any (ids);
  perform private.match_vendor_invoices(recheck_approved_invoices.organization_id, ids);
  -- Unchanged: the status it had (approved stays approved).
  update public.vendor_invoices vi set status = r.status
  from pg_temp.approval_recheck r
  where vi.id = r.id
    and r.fingerprint is not distinct from
        (select pg_catalog.concat_ws('|', m.outcome, m.purchase_order_id, m.lines_total,
                 m.expected_lines_total, m.subtotal_variance, m.total_variance, m.lines_matched,
                 m.lines_within_tolerance, m.lines_exception, m.open_exceptions)
         from public.vendor_invoice_matches m where m.vendor_invoice_id = vi.id);
  perform pg_catalog.set_config('invoiceflow.approval_recheck', coalesce(previous, ''), true);

  -- Changed ones: whatever their status is now.
  select array_agg(r.id) into changed
  from pg_temp.approval_recheck r
  join public.vendor_invoices vi on vi.id = r.id
  where r.fingerprint is distinct from
        (select pg_catalog.concat_ws('|', m.outcome, m.purchase_order_id, m.lines_total,
                 m.expected_lines_total, m.subtotal_variance, m.total_variance, m.lines_matched,
                 m.lines_within_tolerance, m.lines_exception, m.open_exceptions)
         from public.vendor_invoice_matches m where m.vendor_invoice_id = vi.id);
  if changed is not null then
    perform private.close_approval_rounds(changed);
    perform private.open_approval_rounds(changed);
  end if;
end;
$$;

create or replace function private.recheck_after_purchasing()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  r record;
begin
  if tg_table_name = 'purchase_orders' then
    for r in select n.organization_id as org, array_agg(n.id) as pos
             from new_rows n group by n.organization_id loop
      perform private.recheck_approved_invoices(r.org, r.pos);
    end loop;
  elsif tg_table_name = 'purchase_order_lines' then
    for r in select n.organization_id as org, array_agg(distinct n.purchase_order_id) as pos
             from new_rows n group by n.organization_id loop
      perform private.recheck_approved_invoices(r.org, r.pos);
    end loop;
  else
    for r in select n.organization_id as org, array_agg(distinct g.purchase_order_id) as pos
             from new_rows n
             join public.goods_receipts g on g.id = n.goods_receipt_id
             group by n.organization_id loop
      perform private.recheck_approved_invoices(r.org, r.pos);
    end loop;
  end if;
  return null;
end;
$$;

-- =============================================================================
-- Functions: separation of duties, decisions, the queue
-- =============================================================================

-- Why `who` may not approve the invoice (null: nothing stands in the way of
-- separation of duties). The round is the one being decided.
create or replace function private.approval_conflict(invoice_id uuid, round integer, who uuid)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select case
    when who is null then 'a signed-in person decides approvals'
    when exists (select 1 from public.vendor_invoices vi
                 where vi.id = invoice_id and vi.created_by = who)
      then 'separation of duties: you imported this invoice'
    when exists (select 1 from public.vendor_invoices vi
                 join public.import_batches b on b.id = vi.import_batch_id
                 where vi.id = invoice_id and b.created_by = who)
      then 'separation of duties: you imported this invoice'
    when exists (select 1 from public.reconciliation_exceptions e
                 where e.vendor_invoice_id = invoice_id and e.resolved_by = who)
      then 'separation of duties: you resolved an exception of this invoice'
    when exists (select 1 from public.vendor_invoice_approvals a
                 where a.vendor_invoice_id = invoice_id and a.round = approval_conflict.round
                   and a.decided_by = who)
      then 'separation of duties: you already decided a step of this invoice'
  end
$$;

-- Whether `who` is an approver of the step (role or list), a member or above now.
create or replace function private.is_step_approver(
  organization_id uuid, approver_role public.membership_role, approvers uuid[], who uuid
)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.memberships m
    where m.organization_id = is_step_approver.organization_id and m.user_id = who
      and m.role >= 'member'
      and (case when approvers is not null then who = any (approvers)
                else m.role >= approver_role end))
$$;

-- The invoice's approval steps, every round, newest round first.
create or replace function private.invoice_approval_json(invoice_id uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'id', vi.id, 'invoice_number', vi.invoice_number, 'vendor_id', vi.vendor_id,
    'vendor_name', vi.vendor_name, 'currency', vi.currency,
    'total_amount', vi.total_amount::text, 'status', vi.status,
    'steps', coalesce((
      select jsonb_agg(jsonb_build_object(
               'id', a.id, 'round', a.round, 'step', a.step, 'steps', a.steps,
               'rule_id', a.rule_id, 'rule_name', a.rule_name, 'outcome', a.outcome,
               'approver_role', a.approver_role, 'approvers', to_jsonb(a.approvers),
               'status', a.status, 'decided_by', a.decided_by, 'decided_at', a.decided_at,
               'reason', a.reason, 'reassigned_by', a.reassigned_by,
               'reassigned_at', a.reassigned_at, 'activated_at', a.activated_at)
             order by a.round desc, a.step)
      from public.vendor_invoice_approvals a where a.vendor_invoice_id = vi.id), '[]'))
  from public.vendor_invoices vi
  where vi.id = invoice_id
$$;

-- Approve or reject the invoice's pending step, as the caller. decision:
-- 'approve' or 'reject' (reason required: 1..1000 characters).
create or replace function private.decide_vendor_invoice_approval(
  organization_id uuid, invoice_id uuid, decision text, reason text default null
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  vi public.vendor_invoices;
  s public.vendor_invoice_approvals;
  conflict text;
begin
  perform private.require_role(decide_vendor_invoice_approval.organization_id, 'member',
    'deciding approvals needs the member role or above in the organization');
  select * into vi from public.vendor_invoices x
  where x.id = invoice_id and x.organization_id = decide_vendor_invoice_approval.organization_id
  for update;
  if not found then
    raise exception 'no such vendor invoice in the organization' using errcode = 'P0002';
  end if;
  if decision is null or decision not in ('approve', 'reject') then
    raise exception 'decision must be approve or reject' using errcode = '22023';
  end if;
  if decision = 'reject' and (reason is null or length(btrim(reason)) not between 1 and 1000) then
    raise exception 'reason is required to reject (1 to 1000 characters)' using errcode = '22023',
      hint = 'reason';
  end if;
  if reason is not null and length(reason) > 1000 then
    raise exception 'reason is at most 1000 characters' using errcode = '22023', hint = 'reason';
  end if;
  select * into s from public.vendor_invoice_approvals a
  where a.vendor_invoice_id = vi.id and a.status = 'pending'
  for update;
  if not found then
    raise exception 'the invoice is not awaiting approval (its status is %)', vi.status
      using errcode = '23514';
  end if;
  if not private.is_step_approver(vi.organization_id, s.approver_role, s.approvers, me) then
    raise exception 'you are not an approver of this step (it needs %)',
      coalesce(s.approver_role::text || ' or above', 'one of the members it names')
      using errcode = '42501';
  end if;
  conflict := private.approval_conflict(vi.id, s.round, me);
  if conflict is not null then
    raise exception '%', conflict using errcode = '42501';
  end if;

  update public.vendor_invoice_approvals a
  set status = case when decision = 'approve' then 'approved' else 'rejected' end,
      decided_by = me, decided_at = now(), reason = nullif(btrim(decide_vendor_invoice_approval.reason), '')
  where a.id = s.id;

  if decision = 'reject' then
    update public.vendor_invoice_approvals a set status = 'superseded'
    where a.vendor_invoice_id = vi.id and a.round = s.round and a.status = 'waiting';
    update public.vendor_invoices x set status = 'rejected' where x.id = vi.id;
  elsif s.step < s.steps then
    update public.vendor_invoice_approvals a set status = 'pending', activated_at = now()
    where a.vendor_invoice_id = vi.id and a.round = s.round and a.step = s.step + 1;
  else
    update public.vendor_invoices x set status = 'approved' where x.id = vi.id;
  end if;
  return private.invoice_approval_json(vi.id);
end;
$$;

-- Hands the invoice's pending step to one member (an admin, or an approver of the
-- step, may); the member must be able to approve it (separation of duties).
create or replace function private.reassign_vendor_invoice_approval(
  organization_id uuid, invoice_id uuid, member uuid
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  vi public.vendor_invoices;
  s public.vendor_invoice_approvals;
  conflict text;
begin
  perform private.require_role(reassign_vendor_invoice_approval.organization_id, 'member',
    'reassigning approvals needs the member role or above in the organization');
  select * into vi from public.vendor_invoices x
  where x.id = invoice_id and x.organization_id = reassign_vendor_invoice_approval.organization_id
  for update;
  if not found then
    raise exception 'no such vendor invoice in the organization' using errcode = 'P0002';
  end if;
  select * into s from public.vendor_invoice_approvals a
  where a.vendor_invoice_id = vi.id and a.status = 'pending'
  for update;
  if not found then
    raise exception 'the invoice is not awaiting approval (its status is %)', vi.status
      using errcode = '23514';
  end if;
  if not (private.has_role_on_organization(vi.organization_id, 'admin')
          or private.is_step_approver(vi.organization_id, s.approver_role, s.approvers, me)) then
    raise exception 'only an admin or an approver of the step reassigns it' using errcode = '42501';
  end if;
  if member is null or not exists (
       select 1 from public.memberships m
       where m.organization_id = vi.organization_id and m.user_id = member and m.role >= 'member') then
    raise exception 'member must be a member (member role or above) of the organization'
      using errcode = '22023', hint = 'member';
  end if;
  conflict := private.approval_conflict(vi.id, s.round, member);
  if conflict is not null then
    raise exception 'member cannot approve this invoice (%)',
      replace(conflict, 'you ', 'they ') using errcode = '23514';
  end if;
  update public.vendor_invoice_approvals a
  set approvers = array[member], approver_role = null, reassigned_by = me, reassigned_at = now()
  where a.id = s.id;
  return private.invoice_approval_json(vi.id);
end;
$$;

-- The steps the caller may decide now, oldest first: pending, the caller an
-- approver, no separation-of-duties conflict. A page of `page_size` after the step
-- `after` (the last of the previous page; keyset paging: every page costs what the
-- first does); next_after names the next page's cursor (null: the last page).
create or replace function private.approval_queue(
  organization_id uuid, page_size integer default 50, after uuid default null
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  my_role public.membership_role;
  cursor_at timestamptz;
  cursor_id uuid;
  ids uuid[];
begin
  perform private.require_role(approval_queue.organization_id, 'viewer');
  if page_size is null or page_size not between 1 and 200 then
    raise exception 'page_size must be between 1 and 200' using errcode = '22023', hint = 'page_size';
  end if;
  if after is not null then
    select a.activated_at, a.id into cursor_at, cursor_id
    from public.vendor_invoice_approvals a
    where a.id = after and a.organization_id = approval_queue.organization_id;
    if cursor_id is null then
      raise exception 'after must be a step id of the queue (the last of the previous page)'
        using errcode = '22023', hint = 'after';
    end if;
  end if;
  select m.role into my_role from public.memberships m
  where m.organization_id = approval_queue.organization_id and m.user_id = me;
  if my_role is null or my_role < 'member' then
    return jsonb_build_object('data', '[]'::jsonb, 'page_size', page_size, 'next_after', null);
  end if;
  select array_agg(q.id order by q.activated_at, q.id) into ids
  from (
    select a.id, a.activated_at
    from public.vendor_invoice_approvals a
    join public.vendor_invoices vi on vi.id = a.vendor_invoice_id
    where a.organization_id = approval_queue.organization_id and a.status = 'pending'
      and (cursor_id is null or (a.activated_at, a.id) > (cursor_at, cursor_id))
      and (case when a.approvers is not null then me = any (a.approvers)
                else my_role >= a.approver_role end)
      and vi.created_by is distinct from me
      and not exists (select 1 from public.import_batches b
                      where b.id = vi.import_batch_id and b.created_by = me)
      and not exists (select 1 from public.reconciliation_exceptions e
                      where e.vendor_invoice_id = vi.id and e.resolved_by = me)
      and not exists (select 1 from public.vendor_invoice_approvals p
                      where p.vendor_invoice_id = a.vendor_invoice_id and p.round = a.round
                        and p.decided_by = me)
    order by a.activated_at, a.id
    limit page_size + 1
  ) q;
  return jsonb_build_object(
    'data', coalesce((
      select jsonb_agg(jsonb_build_object(
               'step_id', a.id, 'vendor_invoice_id', vi.id, 'invoice_number', vi.invoice_number,
               'vendor_id', vi.vendor_id, 'vendor_name', vi.vendor_name,
               'invoice_date', vi.invoice_date, 'due_date', vi.due_date, 'currency', vi.currency,
               'total_amount', vi.total_amount::text, 'invoice_status', vi.status,
               'outcome', a.outcome, 'round', a.round, 'step', a.step, 'steps', a.steps,
               'rule_id', a.rule_id, 'rule_name', a.rule_name,
               'approver_role', a.approver_role, 'approvers', to_jsonb(a.approvers),
               'waiting_since', a.activated_at) order by a.activated_at, a.id)
      from public.vendor_invoice_approvals a
      join public.vendor_invoices vi on vi.id = a.vendor_invoice_id
      where a.id = any (ids[1:page_size])), '[]'),
    'page_size', page_size,
    'next_after', case when cardinality(ids) > page_size then ids[page_size] end);
end;
$$;

-- An invoice's approval steps (any member or viewer of the organization reads them).
create or replace function private.vendor_invoice_approval(organization_id uuid, invoice_id uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  perform private.require_role(vendor_invoice_approval.organization_id, 'viewer');
  if not exists (select 1 from public.vendor_invoices vi
                 where vi.id = invoice_id and vi.organization_id = vendor_invoice_approval.organization_id) then
    raise exception 'no such vendor invoice in the organization' using errcode = 'P0002';
  end if;
  return private.invoice_approval_json(invoice_id);
end;
$$;

-- =============================================================================
-- Functions: payment batches
-- =============================================================================

-- private.payment_batch_json: defined in 20261206171500 (its final form; nothing is deployed)

-- A draft batch of approved invoices (admins). Each invoice: the organization's,
-- approved, in no other live batch; execution_date: today or later (null: today).
create or replace function private.create_payment_batch(
  organization_id uuid, invoice_ids uuid[], execution_date date default null
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  batch_id uuid;
  bad jsonb;
begin
  perform private.require_role(create_payment_batch.organization_id, 'admin',
    'payment batches need the admin role or above in the organization');
  if invoice_ids is null or cardinality(invoice_ids) not between 1 and 1000 then
    raise exception 'invoice_ids must list 1 to 1000 invoices' using errcode = '22023', hint = 'invoice_ids';
  end if;
  if execution_date is not null and execution_date < current_date then
    raise exception 'execution_date cannot be in the past' using errcode = '22023', hint = 'execution_date';
  end if;
  perform 1 from public.vendor_invoices vi
  where vi.id = any (invoice_ids) and vi.organization_id = create_payment_batch.organization_id
  order by vi.id for update;
  select jsonb_agg(jsonb_build_object('id', x.id, 'reason', x.reason) order by x.id) into bad
  from (
    select i.id,
           case when vi.id is null then 'not a vendor invoice of the organization'
                when vi.status <> 'approved' then 'not approved (status ' || vi.status || ')'
                when exists (select 1 from public.payment_batch_items p
                             where p.vendor_invoice_id = vi.id and p.live)
                  then 'already in a payment batch'
           end as reason
    from (select distinct unnest(invoice_ids) as id) i
    left join public.vendor_invoices vi
      on vi.id = i.id and vi.organization_id = create_payment_batch.organization_id
  ) x
  where x.reason is not null;
  if bad is not null then
    raise exception 'some invoices cannot be paid: %', bad::text using errcode = '23514';
  end if;
  insert into public.payment_batches (organization_id, execution_date)
  values (create_payment_batch.organization_id, coalesce(create_payment_batch.execution_date, current_date))
  returning id into batch_id;
  insert into public.payment_batch_items (organization_id, payment_batch_id, vendor_invoice_id)
  select distinct create_payment_batch.organization_id, batch_id, i
  from unnest(invoice_ids) i;
  return private.payment_batch_json(batch_id);
end;
$$;

-- Marks a draft batch paid with the bank's reference: its invoices become 'paid'.
create or replace function private.mark_payment_batch_paid(
  organization_id uuid, batch_id uuid, reference text
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  b public.payment_batches;
begin
  perform private.require_role(mark_payment_batch_paid.organization_id, 'admin',
    'payment batches need the admin role or above in the organization');
  select * into b from public.payment_batches x
  where x.id = batch_id and x.organization_id = mark_payment_batch_paid.organization_id for update;
  if not found then
    raise exception 'no such payment batch in the organization' using errcode = 'P0002';
  end if;
  if b.status <> 'draft' then
    raise exception 'the payment batch is already %', b.status using errcode = '23514';
  end if;
  if reference is null or length(btrim(reference)) not between 1 and 140 then
    raise exception 'reference is required (1 to 140 characters)' using errcode = '22023', hint = 'reference';
  end if;
  if not exists (select 1 from public.payment_batch_items i where i.payment_batch_id = b.id and i.live) then
    raise exception 'the payment batch holds no invoice' using errcode = '23514';
  end if;
  update public.vendor_invoices vi set status = 'paid'
  from public.payment_batch_items i
  where i.payment_batch_id = b.id and i.live and vi.id = i.vendor_invoice_id and vi.status = 'approved';
  update public.payment_batches x
  set status = 'paid', reference = btrim(mark_payment_batch_paid.reference), paid_by = auth.uid(),
      paid_at = now(), updated_at = now()
  where x.id = b.id;
  return private.payment_batch_json(b.id);
end;
$$;

-- Cancels a draft batch: its invoices stay approved and can go into another.
create or replace function private.cancel_payment_batch(organization_id uuid, batch_id uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  b public.payment_batches;
begin
  perform private.require_role(cancel_payment_batch.organization_id, 'admin',
    'payment batches need the admin role or above in the organization');
  select * into b from public.payment_batches x
  where x.id = batch_id and x.organization_id = cancel_payment_batch.organization_id for update;
  if not found then
    raise exception 'no such payment batch in the organization' using errcode = 'P0002';
  end if;
  if b.status <> 'draft' then
    raise exception 'the payment batch is already %', b.status using errcode = '23514';
  end if;
  update public.payment_batch_items i set live = false where i.payment_batch_id = b.id;
  update public.payment_batches x
  set status = 'cancelled', cancelled_by = auth.uid(), cancelled_at = now(), updated_at = now()
  where x.id = b.id;
  return private.payment_batch_json(b.id);
end;
$$;

-- A batch with its items and totals, and the debtor account (for the bank files).
create or replace function private.payment_batch(organization_id uuid, batch_id uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  perform private.require_role(payment_batch.organization_id, 'viewer');
  if not exists (select 1 from public.payment_batches b
                 where b.id = batch_id and b.organization_id = payment_batch.organization_id) then
    raise exception 'no such payment batch in the organization' using errcode = 'P0002';
  end if;
  return private.payment_batch_json(batch_id) || jsonb_build_object(
    'debtor', (select jsonb_build_object('name', coalesce(s.debtor_name, o.name),
                                         'iban', s.debtor_iban, 'bic', s.debtor_bic)
               from public.organizations o
               left join public.payables_settings s on s.organization_id = o.id
               where o.id = payment_batch.organization_id));
end;
$$;

-- =============================================================================
-- Triggers
-- =============================================================================

create trigger set_updated_at before update on public.payables_settings
  for each row execute function private.set_updated_at();

create trigger check_approval_rule before insert or update on public.approval_rules
  for each row execute function private.check_approval_rule();

create trigger stamp_settings_author before insert or update on public.payables_settings
  for each row execute function private.stamp_settings_author();

create trigger send_changed_invoice_back before update on public.vendor_invoices
  for each row execute function private.send_changed_invoice_back();

create trigger route_invoices_for_approval after update on public.vendor_invoices
  referencing old table as old_rows new table as new_rows
  for each statement execute function private.route_invoices_for_approval();

create trigger send_invoice_back_on_new_lines after insert on public.vendor_invoice_lines
  referencing new table as changed_rows
  for each statement execute function private.send_invoice_back_on_line_change();
create trigger send_invoice_back_on_line_changes after update on public.vendor_invoice_lines
  referencing new table as changed_rows
  for each statement execute function private.send_invoice_back_on_line_change();
create trigger send_invoice_back_on_removed_lines after delete on public.vendor_invoice_lines
  referencing old table as changed_rows
  for each statement execute function private.send_invoice_back_on_line_change();

create trigger recheck_approved_on_purchase_order_changes after update on public.purchase_orders
  referencing new table as new_rows
  for each statement execute function private.recheck_after_purchasing();
create trigger recheck_approved_on_new_purchase_order_lines after insert on public.purchase_order_lines
  referencing new table as new_rows
  for each statement execute function private.recheck_after_purchasing();
create trigger recheck_approved_on_new_receipt_lines after insert on public.goods_receipt_lines
  referencing new table as new_rows
  for each statement execute function private.recheck_after_purchasing();

select private.enable_audit('public.payables_settings', array['updated_at']);
select private.enable_audit('public.approval_rules', array['updated_at']);
select private.enable_audit('public.vendor_invoice_approvals');
select private.enable_audit('public.payment_batches', array['updated_at']);
select private.enable_audit('public.payment_batch_items');

-- =============================================================================
-- Policies
-- =============================================================================

alter table public.payables_settings enable row level security;
alter table public.approval_rules enable row level security;
alter table public.vendor_invoice_approvals enable row level security;
alter table public.payment_batches enable row level security;
alter table public.payment_batch_items enable row level security;

create policy "Members can view their organization's payables settings"
  on public.payables_settings for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));
create policy "Admins can add their organization's payables settings"
  on public.payables_settings for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]));
create policy "Admins can update their organization's payables settings"
  on public.payables_settings for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]));

create policy "Members can view their organization's approval rules"
  on public.approval_rules for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));
create policy "Admins can add approval rules to their organization"
  on public.approval_rules for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]));
create policy "Admins can update their organization's approval rules"
  on public.approval_rules for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]));
create policy "Admins can delete their organization's approval rules"
  on public.approval_rules for delete to authenticated
  using (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]));

create policy "Members can view their organization's invoice approvals"
  on public.vendor_invoice_approvals for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can view their organization's payment batches"
  on public.payment_batches for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can view their organization's payment batch items"
  on public.payment_batch_items for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

-- Require MFA (migration 20261206140200): the restrictive policy on every table
-- with organization_id, as that migration made it for the tables before.
do $$
declare
  t text;
begin
  foreach t in array array['payables_settings', 'approval_rules', 'vendor_invoice_approvals',
                           'payment_batches', 'payment_batch_items'] loop
    execute pg_catalog.format(
      'create policy mfa_required on public.%I as restrictive for all to authenticated using (%s) with check (%s)',
      t, 'organization_id <> all ((select private.mfa_pending_organizations())::uuid[])',
      'organization_id <> all ((select private.mfa_pending_organizations())::uuid[])');
  end loop;
end;
$$;

-- =============================================================================
-- Grants
-- =============================================================================

revoke all on public.payables_settings, public.approval_rules, public.vendor_invoice_approvals,
  public.payment_batches, public.payment_batch_items from anon, authenticated;

grant select on public.payables_settings, public.approval_rules, public.vendor_invoice_approvals,
  public.payment_batches, public.payment_batch_items to authenticated;
grant insert (organization_id, debtor_name, debtor_iban, debtor_bic),
  update (debtor_name, debtor_iban, debtor_bic) on public.payables_settings to authenticated;
grant insert (id, organization_id, name, priority, active, currency, min_amount, max_amount,
  vendor_id, outcomes, steps),
  update (name, priority, active, currency, min_amount, max_amount, vendor_id, outcomes, steps),
  delete on public.approval_rules to authenticated;
grant all on public.payables_settings, public.approval_rules, public.vendor_invoice_approvals,
  public.payment_batches, public.payment_batch_items to service_role;


-- =============================================================================
-- The RPCs: security invoker, each calling its definer core in private (which checks
-- the caller with private.require_role and writes what no member writes through RLS).
-- =============================================================================

create or replace function public.decide_vendor_invoice_approval(organization_id uuid, invoice_id uuid, decision text, reason text default null)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$ select private.decide_vendor_invoice_approval($1, $2, $3, $4) $$;

comment on function public.decide_vendor_invoice_approval(uuid, uuid, text, text) is
  'Approves or rejects (reason required) the vendor invoices pending approval step, as the caller.';

create or replace function public.reassign_vendor_invoice_approval(organization_id uuid, invoice_id uuid, member uuid)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$ select private.reassign_vendor_invoice_approval($1, $2, $3) $$;

comment on function public.reassign_vendor_invoice_approval(uuid, uuid, uuid) is
  'Hands the vendor invoices pending approval step to one member.';

create or replace function public.approval_queue(organization_id uuid, page_size integer default 50, after uuid default null)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$ select private.approval_queue($1, $2, $3) $$;

comment on function public.approval_queue(uuid, integer, uuid) is
  'The approval steps the caller may decide now, oldest first.';

create or replace function public.vendor_invoice_approval(organization_id uuid, invoice_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$ select private.vendor_invoice_approval($1, $2) $$;

comment on function public.vendor_invoice_approval(uuid, uuid) is
  'A vendor invoices approval steps, every round.';

create or replace function public.create_payment_batch(organization_id uuid, invoice_ids uuid[], execution_date date default null)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$ select private.create_payment_batch($1, $2, $3) $$;

comment on function public.create_payment_batch(uuid, uuid[], date) is
  'A draft payment batch of approved vendor invoices (admins).';

create or replace function public.mark_payment_batch_paid(organization_id uuid, batch_id uuid, reference text)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$ select private.mark_payment_batch_paid($1, $2, $3) $$;

comment on function public.mark_payment_batch_paid(uuid, uuid, text) is
  'Marks a draft payment batch paid with the banks reference; its invoices become paid.';

create or replace function public.cancel_payment_batch(organization_id uuid, batch_id uuid)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$ select private.cancel_payment_batch($1, $2) $$;

comment on function public.cancel_payment_batch(uuid, uuid) is
  'Cancels a draft payment batch.';

create or replace function public.payment_batch(organization_id uuid, batch_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$ select private.payment_batch($1, $2) $$;

comment on function public.payment_batch(uuid, uuid) is
  'A payment batch with its items, totals and the debtor account.';

revoke execute on all functions in schema private, public from public;

grant execute on function public.decide_vendor_invoice_approval(uuid, uuid, text, text),
  public.reassign_vendor_invoice_approval(uuid, uuid, uuid),
  public.approval_queue(uuid, integer, uuid),
  public.vendor_invoice_approval(uuid, uuid),
  public.create_payment_batch(uuid, uuid[], date),
  public.mark_payment_batch_paid(uuid, uuid, text),
  public.cancel_payment_batch(uuid, uuid),
  public.payment_batch(uuid, uuid)
  to authenticated, service_role;

grant execute on function private.decide_vendor_invoice_approval(uuid, uuid, text, text),
  private.reassign_vendor_invoice_approval(uuid, uuid, uuid),
  private.approval_queue(uuid, integer, uuid),
  private.vendor_invoice_approval(uuid, uuid),
  private.create_payment_batch(uuid, uuid[], date),
  private.mark_payment_batch_paid(uuid, uuid, text),
  private.cancel_payment_batch(uuid, uuid),
  private.payment_batch(uuid, uuid)
  to authenticated, service_role;
