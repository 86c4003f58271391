-- =============================================================================
-- Credit notes, refunds and client credit.
--
-- What a client owes on an invoice is its total less what was paid on it and
-- what was credited to it (interface 4 of issue 15):
--   balance_due     = total_amount - amount_paid - amount_credited   (generated, >= 0)
--   amount_paid     = sum(payment.applied_amount)   the part of each payment that
--                     still counts on the invoice (net of refunds and of what moved
--                     to the client's credit)
--   amount_credited = credit_notes_total + credit_applied
--   credit_notes_total = sum(credit_note.total_amount) of the invoice's credit notes
--   credit_applied  = client credit applied to the invoice (net of what a later
--                     credit note gave back)
-- Every "is anything owed" question keeps asking balance_due > 0.
--
-- A credit note credits an issued invoice (sent, overdue, paid): the whole
-- invoice, some of its lines (item + quantity), or an amount (tax included). It
-- is numbered in its own sequence (private.next_document_number(..,
-- 'credit_note', issue_date)), priced with the invoice's tax rate and the money
-- rules of the invoices (the invoices migration's head), and all the credit
-- notes of an invoice together never credit more than its total (a credit above
-- what is left is refused, 23514 -> 422). Its whole amount counts in the
-- invoice's amount_credited. When what was paid and credited would then pass
-- the total, the excess is given back to the client as client credit: first
-- the client credit applied to the invoice, then the payments' applied amounts,
-- latest payment first. So a paid invoice credited by 30 keeps 70 of its
-- payment and the client holds 30 of credit: nothing is counted twice.
--
-- Status after credits (the invoices' status rule, extended):
--   balance 0 and credit_notes_total = total   -> cancelled (cancelled_at set):
--      the credit notes alone cover the invoice, nothing of it stands; what was
--      paid on it is now the client's credit.
--   balance 0 otherwise                         -> paid (payments or applied credit)
--   balance > 0                                 -> sent / overdue as before.
-- Cancelling an invoice that has payments is refused as before; the refusal now
-- says to issue a credit note for the whole invoice, which cancels it.
-- Once an invoice has credit notes its total no longer changes (items, tax
-- rate, discount): the credit notes name its lines and amounts.
--
-- Refunds return money to the client:
--   from a payment: at most what of that payment still counts on its invoice
--     (applied_amount). The payment's applied amount falls by the refund and its
--     invoice's amount_paid with it: a paid invoice opens again (sent/overdue).
--     What of a payment went to client credit (an overpayment, a credit note's
--     excess) is refunded from the client's credit.
--   from client credit: at most the client's credit balance in that currency.
--
-- Overpayment (organization_settings.overpayment, interface 3): 'refuse' (the
-- default) keeps the payments' rule and message (a payment is at most the
-- balance due); 'credit' lets record_payment take more than the balance of a
-- sent or overdue invoice: the invoice is paid, the payment's applied_amount is
-- the balance, the excess is client credit ('overpayment' entry).
--
-- Client credit, per client and currency: public.client_credit_entries is the
-- ledger (kind credit_note +, overpayment +, refund -, applied -), and
-- public.client_credit_balances its running balance (>= 0, a check), one row
-- per client and currency, the row every credit movement locks. Applying credit
-- to an open invoice of the same client and currency raises its credit_applied.
--   client credit = credit notes' excess + overpayments - refunds from credit - applied >= 0
--
-- Invariants (tests/db/test_credit_properties.py, against a reference model):
--   for every invoice:  balance_due = total - amount_paid - amount_credited >= 0
--   for every payment:  applied_amount + refunded_amount <= amount, and
--     amount - applied_amount - refunded_amount is what went to client credit
--   for every client:   credit balance = sum(ledger) >= 0
--   clients.outstanding_balance = sum(balance_due) of sent and overdue invoices
--   (a credited amount is out of the balance; the client credit is not in it).
--
-- Lock order (every credit write; tests/db/test_credit_races.py):
--   1. the invoice(s), FOR NO KEY UPDATE, in id order (as every payment write);
--   2. the invoice's payments, FOR UPDATE, in id order (a credit note giving
--      back payments, a refund from a payment);
--   3. the client's credit balance row, FOR UPDATE (created first if missing);
--   4. the organization's settings row (private.next_document_number, the
--      credit note's number; invoice creation takes it before any client row);
--   5. the client row (private.refresh_client_totals, run by the invoices'
--      triggers when the invoice row is written, always after 1-4).
-- A write that needs a later lock never holds it before an earlier one: a
-- payment kept as credit takes the credit row before it inserts the payment
-- (whose triggers take the client row). A refund from credit takes 3 alone.
--
-- Writes: credit notes, refunds and the ledger are written only by the
-- definer cores in private below (derived bookkeeping: a member must not be
-- able to insert client credit straight through PostgREST), each checking its
-- caller with private.require_role; the public RPCs are SECURITY INVOKER
-- wrappers. Members read every table under RLS; writes go through the RPCs:
--   public.create_credit_note(organization_id, invoice_id, credit_note jsonb)
--   public.record_refund(organization_id, refund jsonb)
--   public.apply_client_credit(organization_id, client_id, invoice_id, amount)
--   public.get_credit_note(organization_id, credit_note_id)
--   public.credit_note_pdf_document(organization_id, credit_note_id)
--   public.mark_credit_note_sent(organization_id, credit_note_id, ses_message_id, ...)
--   public.get_refund(organization_id, refund_id)
--   public.client_credit(organization_id, client_id)
-- Errors: not found or another tenant's -> P0002 (404); a refused rule -> 23514
-- (422 rule_violation); a malformed argument -> 22023 (422); a viewer -> 42501.
-- =============================================================================

-- =============================================================================
-- Invoices: what was credited, and the balance that follows
-- =============================================================================

alter table public.invoices
  add column amount_credited numeric not null default 0 check (amount_credited >= 0),
  add column credit_notes_total numeric not null default 0 check (credit_notes_total >= 0),
  add column credit_applied numeric not null default 0 check (credit_applied >= 0),
  add constraint invoices_amount_credited_is_its_parts
    check (amount_credited = credit_notes_total + credit_applied),
  add constraint invoices_credit_notes_not_above_total
    check (credit_notes_total <= total_amount);

-- balance_due is generated: redefined by dropping and adding it again. What
-- depends on it in pg_depend: public.invoice_list (dropped and made again
-- below, with amount_credited beside amount_paid). The PL/pgSQL and SQL
-- functions that read it (payments, reports, documents, jobs, exports) name it
-- at run time and read the new definition.
drop view public.invoice_list;
alter table public.invoices drop column balance_due;
alter table public.invoices
  add column balance_due numeric generated always as (total_amount - amount_paid - amount_credited) stored;

alter table public.invoices drop constraint invoices_amount_paid_not_above_total;
alter table public.invoices
  add constraint invoices_amount_paid_not_above_total
    check (amount_paid + amount_credited <= total_amount);

-- invoice_list: as in the invoices migration, with amount_credited.
create view public.invoice_list with (security_invoker = true) as
select
  i.id, i.organization_id, i.client_id, c.company_name as client_company_name,
  i.invoice_number, i.issue_date, i.due_date, i.payment_terms, i.status, i.currency,
  i.subtotal, i.tax_rate, i.tax_amount, i.discount, i.total_amount, i.amount_paid,
  i.amount_credited, i.balance_due, i.template, i.sent_at, i.paid_at, i.cancelled_at,
  i.created_at, i.updated_at,
  (i.status = 'overdue' or (i.status = 'sent' and i.due_date < current_date)) as is_overdue
from public.invoices i
join public.clients c on c.id = i.client_id and c.organization_id = i.organization_id;

revoke all on public.invoice_list from anon, authenticated, service_role;
grant select on public.invoice_list to authenticated, service_role;

-- =============================================================================
-- Payments: the part that counts on the invoice, the part refunded
-- =============================================================================

alter table public.payments
  add column applied_amount numeric,
  add column refunded_amount numeric not null default 0;

-- The existing rows at their currency's scale (as every amount the API answers),
-- without the triggers: nothing about them changes but the new columns.
alter table public.payments disable trigger user;
update public.payments
set applied_amount = amount, refunded_amount = private.round_money(0, currency)
where applied_amount is null;
alter table public.payments enable trigger user;

alter table public.invoices disable trigger user;
update public.invoices
set amount_credited = private.round_money(0, currency),
    credit_notes_total = private.round_money(0, currency),
    credit_applied = private.round_money(0, currency);
alter table public.invoices enable trigger user;

alter table public.payments
  alter column applied_amount set not null,
  add constraint payments_allocation_within_amount
    check (applied_amount >= 0 and refunded_amount >= 0 and applied_amount + refunded_amount <= amount);

-- =============================================================================
-- Tables
-- =============================================================================

create table public.credit_notes (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  invoice_id uuid not null,
  client_id uuid not null,
  currency text not null,
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  credit_note_number text not null check (length(credit_note_number) between 1 and 50),
  kind text not null check (kind in ('whole', 'lines', 'amount')),
  issue_date date not null,
  reason text check (length(reason) <= 500),
  notes text check (length(notes) <= 5000),
  subtotal numeric not null check (subtotal >= 0),
  discount numeric not null default 0 check (discount >= 0),
  tax_rate numeric not null,
  tax_amount numeric not null check (tax_amount >= 0),
  total_amount numeric not null check (total_amount > 0),
  -- What of the credit went to the client's credit (the invoice was paid past it).
  credit_amount numeric not null default 0 check (credit_amount >= 0 and credit_amount <= total_amount),
  sent_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint credit_notes_number_unique_in_organization unique (organization_id, credit_note_number),
  constraint credit_notes_invoice_fkey
    foreign key (organization_id, invoice_id, currency)
    references public.invoices (organization_id, id, currency) on delete cascade,
  constraint credit_notes_client_fkey
    foreign key (organization_id, client_id, currency)
    references public.clients (organization_id, id, currency) on delete cascade,
  unique (organization_id, id),
  unique (organization_id, id, currency)
);

create table public.credit_note_items (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  credit_note_id uuid not null,
  currency text not null,
  invoice_item_id uuid references public.invoice_items (id) on delete set null,
  position integer not null default 0 check (position >= 0),
  description text not null check (length(btrim(description)) between 1 and 2000),
  quantity numeric not null check (quantity > 0 and quantity < 1e9 and scale(quantity) <= 4),
  rate numeric not null check (rate >= 0 and rate < 1e12),
  amount numeric generated always as (private.round_money(quantity * rate, currency)) stored,
  created_at timestamptz not null default now(),
  constraint credit_note_items_credit_note_fkey
    foreign key (organization_id, credit_note_id, currency)
    references public.credit_notes (organization_id, id, currency) on delete cascade
);

create table public.refunds (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  client_id uuid not null,
  currency text not null,
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  source text not null check (source in ('payment', 'credit')),
  payment_id uuid references public.payments (id) on delete cascade,
  invoice_id uuid,
  amount numeric not null check (amount > 0 and amount < 1e12),
  refund_date date not null,
  refund_method text not null default 'bank_transfer'
    check (refund_method in ('bank_transfer', 'credit_card', 'paypal', 'check', 'cash', 'other')),
  reference_number text check (length(reference_number) <= 100),
  notes text check (length(notes) <= 2000),
  created_at timestamptz not null default now(),
  constraint refunds_source_names_its_payment
    check ((source = 'payment') = (payment_id is not null and invoice_id is not null)),
  constraint refunds_client_fkey
    foreign key (organization_id, client_id, currency)
    references public.clients (organization_id, id, currency) on delete cascade,
  constraint refunds_invoice_fkey
    foreign key (organization_id, invoice_id, currency)
    references public.invoices (organization_id, id, currency) on delete cascade,
  unique (organization_id, id)
);

-- The running credit of a client in a currency: the row every credit movement
-- locks (lock order, step 3), never below zero.
create table public.client_credit_balances (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  client_id uuid not null,
  currency text not null,
  balance numeric not null default 0 check (balance >= 0),
  updated_at timestamptz not null default now(),
  constraint client_credit_balances_one_per_client_and_currency unique (client_id, currency),
  constraint client_credit_balances_client_fkey
    foreign key (organization_id, client_id, currency)
    references public.clients (organization_id, id, currency) on delete cascade
);

-- The ledger of client credit: + credit notes' excess and overpayments,
-- - refunds from credit and credit applied to invoices.
create table public.client_credit_entries (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  client_id uuid not null,
  currency text not null,
  kind text not null check (kind in ('credit_note', 'overpayment', 'refund', 'applied')),
  amount numeric not null check (amount <> 0),
  credit_note_id uuid references public.credit_notes (id) on delete cascade,
  payment_id uuid references public.payments (id) on delete cascade,
  refund_id uuid references public.refunds (id) on delete cascade,
  invoice_id uuid references public.invoices (id) on delete cascade,
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  constraint client_credit_entries_sign_follows_kind
    check ((kind in ('credit_note', 'overpayment')) = (amount > 0)),
  constraint client_credit_entries_names_its_source check (
    case kind
      when 'credit_note' then credit_note_id is not null
      when 'overpayment' then payment_id is not null
      when 'refund' then refund_id is not null
      else invoice_id is not null
    end),
  constraint client_credit_entries_client_fkey
    foreign key (organization_id, client_id, currency)
    references public.clients (organization_id, id, currency) on delete cascade
);

alter table public.credit_notes enable row level security;
alter table public.credit_note_items enable row level security;
alter table public.refunds enable row level security;
alter table public.client_credit_balances enable row level security;
alter table public.client_credit_entries enable row level security;

-- =============================================================================
-- Indexes
-- =============================================================================

create index credit_notes_organization_issue_date_idx
  on public.credit_notes (organization_id, issue_date desc, created_at desc);
create index credit_notes_invoice_idx on public.credit_notes (organization_id, invoice_id, currency);
create index credit_notes_client_idx on public.credit_notes (organization_id, client_id, currency);
create index credit_notes_created_by_idx on public.credit_notes (created_by) where created_by is not null;
create index credit_note_items_credit_note_idx
  on public.credit_note_items (organization_id, credit_note_id, currency);
create index credit_note_items_invoice_item_idx
  on public.credit_note_items (invoice_item_id) where invoice_item_id is not null;
create index refunds_organization_date_idx on public.refunds (organization_id, refund_date desc, created_at desc);
create index refunds_client_idx on public.refunds (organization_id, client_id, currency);
create index refunds_invoice_idx on public.refunds (organization_id, invoice_id, currency)
  where invoice_id is not null;
create index refunds_payment_idx on public.refunds (payment_id) where payment_id is not null;
create index refunds_created_by_idx on public.refunds (created_by) where created_by is not null;
create index client_credit_balances_client_idx
  on public.client_credit_balances (organization_id, client_id, currency);
create index client_credit_entries_client_idx
  on public.client_credit_entries (organization_id, client_id, currency, created_at desc);
create index client_credit_entries_credit_note_idx
  on public.client_credit_entries (credit_note_id) where credit_note_id is not null;
create index client_credit_entries_payment_idx
  on public.client_credit_entries (payment_id) where payment_id is not null;
create index client_credit_entries_refund_idx
  on public.client_credit_entries (refund_id) where refund_id is not null;
create index client_credit_entries_invoice_idx
  on public.client_credit_entries (invoice_id) where invoice_id is not null;
create index client_credit_entries_created_by_idx
  on public.client_credit_entries (created_by) where created_by is not null;

-- =============================================================================
-- Functions: the invoices' and payments' rules, with credits
-- =============================================================================

-- private.prepare_invoice_row: defined in 20261206110600 (its form before 20261206170400) and finally in 20261206170400

-- Once an invoice has credit notes, its total stays: they name its lines and
-- amounts. A correction is another credit note.
create or replace function private.credited_invoice_keeps_its_total()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'invoice % has credit notes: its items, tax rate and discount can no longer change',
    old.invoice_number
    using errcode = '23514', hint = 'Issue another credit note to correct it.';
end;
$$;

-- The items of a credited invoice stay as its credit notes name them (their
-- lines point at the items): no item is added, changed or removed. Cascades
-- (the invoice or its organization deleted) pass.
create or replace function private.credited_invoice_keeps_its_items()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  target uuid := case when tg_op = 'DELETE' then old.invoice_id else new.invoice_id end;
  number text;
begin
  if pg_trigger_depth() > 1 then
    return case when tg_op = 'DELETE' then old else new end;
  end if;
  select i.invoice_number into number
  from public.invoices i
  where i.id = target and i.credit_notes_total > 0;
  if found then
    raise exception 'invoice % has credit notes: its items can no longer change', number
      using errcode = '23514', hint = 'Issue another credit note to correct it.';
  end if;
  return case when tg_op = 'DELETE' then old else new end;
end;
$$;

-- Client totals, set-based, for the clients a statement touched.
--   total_billed        = sum(total) of sent, paid and overdue invoices
--   last_invoice_date   = latest issue date among them
--   outstanding_balance = sum(balance_due) of sent and overdue invoices,
--                         each invoice counted once (not once per payment)
-- The clients are locked first, so the sums read afterwards (a new snapshot in
-- READ COMMITTED) include every committed concurrent change.
--
-- Client totals (invoices migration), with credits:
--   total_billed        = sum(total - credit_notes_total) of sent, paid and overdue
--                         invoices (what was billed and not credited back)
--   last_invoice_date   = latest issue date among them
--   outstanding_balance = sum(balance_due) of sent and overdue invoices, once each
create or replace function private.refresh_client_totals(client_ids uuid[])
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform 1 from public.clients c where c.id = any (client_ids) order by c.id for no key update;
  update public.clients c
  set total_billed = private.round_money(t.total_billed, c.currency),
      last_invoice_date = t.last_invoice_date,
      outstanding_balance = private.round_money(t.outstanding_balance, c.currency)
  from (
    select cid as client_id,
           coalesce(sum(i.total_amount - i.credit_notes_total)
                    filter (where i.status in ('sent', 'paid', 'overdue')), 0) as total_billed,
           max(i.issue_date) filter (where i.status in ('sent', 'paid', 'overdue')) as last_invoice_date,
           coalesce(sum(i.balance_due) filter (where i.status in ('sent', 'overdue')), 0) as outstanding_balance
    from unnest(client_ids) cid
    left join public.invoices i on i.client_id = cid
    group by cid
  ) t
  where c.id = t.client_id
    and (c.total_billed, c.last_invoice_date, c.outstanding_balance)
        is distinct from (private.round_money(t.total_billed, c.currency), t.last_invoice_date,
                          private.round_money(t.outstanding_balance, c.currency));
end;
$$;

-- invoices migration's, with the credited amounts among what moves the totals.
create or replace function private.invoices_changed()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  client_ids uuid[];
begin
  if tg_op = 'INSERT' then
    client_ids := array(
      select distinct client_id from new_rows where status in ('sent', 'paid', 'overdue'));
  elsif tg_op = 'DELETE' then
    client_ids := array(
      select distinct client_id from old_rows where status in ('sent', 'paid', 'overdue'));
  else
    client_ids := array(
      select n.client_id from new_rows n
      join old_rows o on o.id = n.id
      where (n.status in ('sent', 'paid', 'overdue') or o.status in ('sent', 'paid', 'overdue'))
        and (n.client_id, n.status, n.total_amount, n.amount_paid, n.amount_credited,
             n.credit_notes_total, n.issue_date)
            is distinct from (o.client_id, o.status, o.total_amount, o.amount_paid, o.amount_credited,
                              o.credit_notes_total, o.issue_date)
      union
      select o.client_id from new_rows n
      join old_rows o on o.id = n.id
      where n.client_id <> o.client_id and o.status in ('sent', 'paid', 'overdue')
    );
  end if;
  if cardinality(client_ids) > 0 then
    perform private.refresh_client_totals(client_ids);
  end if;
  return null;
end;
$$;

-- amount_paid of every invoice whose payments a statement touched, from the sum
-- of its payments. The invoices are locked first (in id order), so concurrent
-- payments against one invoice are serialized and each sees the others' rows:
-- never an over-payment, never a lost update.
--
-- amount_paid of every invoice whose payments a statement touched: the sum of
-- the payments' applied amounts (payments migration; what a refund or a credit
-- note moved off the invoice no longer counts). Invoices locked first, in id
-- order.
create or replace function private.refresh_amounts_paid(invoice_ids uuid[])
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  over record;
begin
  perform 1 from public.invoices i where i.id = any (invoice_ids) order by i.id for no key update;

  select i.invoice_number, i.total_amount, i.amount_credited, i.currency, t.paid into over
  from public.invoices i
  join (
    select p.invoice_id, sum(p.applied_amount) as paid
    from public.payments p
    where p.invoice_id = any (invoice_ids)
    group by p.invoice_id
  ) t on t.invoice_id = i.id
  where t.paid + i.amount_credited > i.total_amount
  limit 1;
  if found then
    if over.amount_credited > 0 then
      raise exception 'payments on invoice % would total % %, more than its total of % % less % % credited',
        over.invoice_number, over.paid, over.currency, over.total_amount, over.currency,
        over.amount_credited, over.currency
        using errcode = '23514',
              constraint = 'invoices_amount_paid_not_above_total',
              hint = 'A payment can be at most the balance due.';
    end if;
    raise exception 'payments on invoice % would total % %, more than its total of % %',
      over.invoice_number, over.paid, over.currency, over.total_amount, over.currency
      using errcode = '23514',
            constraint = 'invoices_amount_paid_not_above_total',
            hint = 'A payment can be at most the balance due.';
  end if;

  update public.invoices i
  set amount_paid = t.paid
  from (
    select iid as invoice_id, coalesce(sum(p.applied_amount), 0) as paid
    from unnest(invoice_ids) iid
    left join public.payments p on p.invoice_id = iid
    group by iid
  ) t
  where i.id = t.invoice_id and i.amount_paid is distinct from t.paid;
end;
$$;

-- A payment written by the API roles counts whole on its invoice: its applied
-- amount is its amount. Once part of it was refunded or moved to client credit
-- (applied_amount <> amount), its amount no longer changes: a refund or a
-- credit note corrects it. The definer cores below (refunds, credit notes,
-- overpayments) and the service role set the allocation themselves.
create or replace function private.payment_allocation()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if current_user not in ('anon', 'authenticated') then
    if tg_op = 'INSERT' then
      new.applied_amount := coalesce(new.applied_amount, new.amount);
      new.refunded_amount := private.round_money(coalesce(new.refunded_amount, 0), new.currency);
    end if;
    return new;
  end if;
  if tg_op = 'INSERT' then
    new.applied_amount := new.amount;
    new.refunded_amount := private.round_money(0, new.currency);
  elsif new.amount is distinct from old.amount then
    if old.applied_amount <> old.amount then
      raise exception 'the payment of % % was partly refunded or moved to client credit: its amount can no longer change',
        old.amount, old.currency
        using errcode = '23514', hint = 'Record a refund, or issue a credit note, instead.';
    end if;
    new.applied_amount := new.amount;
  end if;
  return new;
end;
$$;

create or replace function private.keep_allocated_payment()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if current_user in ('anon', 'authenticated') and pg_trigger_depth() <= 1
     and old.applied_amount <> old.amount then
    raise exception 'the payment of % % was partly refunded or moved to client credit: it can no longer be deleted',
      old.amount, old.currency
      using errcode = '23514', hint = 'Record a refund instead.';
  end if;
  return old;
end;
$$;

-- =============================================================================
-- Functions: client credit
-- =============================================================================

-- Lock order, step 3: the client's credit row in a currency, made when missing,
-- locked; answers its balance. Definer: the balances are written only here.
create or replace function private.lock_client_credit(organization_id uuid, client_id uuid, currency text)
returns numeric
language plpgsql
security definer
set search_path = ''
as $$
declare
  current_balance numeric;
begin
  insert into public.client_credit_balances (organization_id, client_id, currency)
  values (lock_client_credit.organization_id, lock_client_credit.client_id, lock_client_credit.currency)
  on conflict on constraint client_credit_balances_one_per_client_and_currency do nothing;
  select b.balance into current_balance
  from public.client_credit_balances b
  where b.client_id = lock_client_credit.client_id and b.currency = lock_client_credit.currency
  for update;
  return current_balance;
end;
$$;

-- One entry of the ledger and the balance that follows it (the caller holds the
-- credit row: private.lock_client_credit). The balance's check refuses going
-- below zero.
create or replace function private.post_client_credit(
  organization_id uuid, client_id uuid, currency text, kind text, amount numeric,
  credit_note_id uuid default null, payment_id uuid default null, refund_id uuid default null,
  invoice_id uuid default null
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.client_credit_entries
    (organization_id, client_id, currency, kind, amount, credit_note_id, payment_id, refund_id, invoice_id)
  values (post_client_credit.organization_id, post_client_credit.client_id, post_client_credit.currency,
          post_client_credit.kind, post_client_credit.amount, post_client_credit.credit_note_id,
          post_client_credit.payment_id, post_client_credit.refund_id, post_client_credit.invoice_id);
  update public.client_credit_balances b
  set balance = b.balance + post_client_credit.amount, updated_at = now()
  where b.client_id = post_client_credit.client_id and b.currency = post_client_credit.currency;
end;
$$;

-- Gives back `excess` of what counts on an invoice to its client's credit: the
-- client credit applied to it first, then the payments' applied amounts, latest
-- payment first (the caller holds the invoice, its payments and the credit row).
-- Answers how much came from the payments.
create or replace function private.release_to_credit(inv public.invoices, excess numeric)
returns numeric
language plpgsql
security definer
set search_path = ''
as $$
declare
  from_applied numeric := least(excess, inv.credit_applied);
  from_payments numeric := excess - least(excess, inv.credit_applied);
begin
  if from_payments > 0 then
    update public.payments p
    set applied_amount = p.applied_amount - t.take
    from (
      select x.id, least(x.applied_amount, greatest(0, from_payments - x.before)) as take
      from (
        select p2.id, p2.applied_amount,
               coalesce(sum(p2.applied_amount) over (
                 order by p2.payment_date desc, p2.created_at desc, p2.id desc
                 rows between unbounded preceding and 1 preceding), 0) as before
        from public.payments p2
        where p2.invoice_id = inv.id and p2.applied_amount > 0
      ) x
    ) t
    where p.id = t.id and t.take > 0;
  end if;
  return from_payments;
end;
$$;

-- =============================================================================
-- Functions: credit notes
-- =============================================================================

-- private.credit_note_document: its form before 20261206170400, which tests/db/test_tax_model_keeps_totals.py
-- makes documents with; 20261206170400 replaces it whole (its final form).
--
-- The API's JSON for a credit note: the row, its lines, its invoice (as it is
-- now) and its client.
create or replace function private.credit_note_document(target uuid)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select to_jsonb(cn) || jsonb_build_object(
    'items', coalesce((
      select jsonb_agg(jsonb_build_object(
               'id', it.id, 'invoice_item_id', it.invoice_item_id, 'position', it.position,
               'description', it.description, 'quantity', it.quantity, 'rate', it.rate,
               'amount', it.amount) order by it.position, it.id)
      from public.credit_note_items it where it.credit_note_id = cn.id), '[]'::jsonb),
    'invoice', (
      select jsonb_build_object(
               'id', i.id, 'invoice_number', i.invoice_number, 'status', i.status,
               'issue_date', i.issue_date, 'due_date', i.due_date,
               'total_amount', i.total_amount, 'amount_paid', i.amount_paid,
               'amount_credited', i.amount_credited, 'balance_due', i.balance_due)
      from public.invoices i where i.id = cn.invoice_id),
    'client', (
      select jsonb_build_object('id', c.id, 'company_name', c.company_name,
                                'contact_person', c.contact_person, 'email', c.email,
                                'address', c.address, 'currency', c.currency)
      from public.clients c where c.id = cn.client_id))
  from public.credit_notes cn
  where cn.id = target
$$;

-- private.issue_credit_note: its form before 20261206170400, which tests/db/test_tax_model_keeps_totals.py
-- makes documents with; 20261206170400 replaces it whole (its final form).
--
-- Issues a credit note against an issued invoice (this file's head). `doc` keys:
--   kind        'whole' | 'lines' | 'amount' (required)
--   lines       for 'lines': [{"invoice_item_id": uuid, "quantity": n}] (1..200)
--   amount      for 'amount': the credit, tax included, at the currency's decimals
--   description for 'amount': the line's text (default "Credit on invoice <n>")
--   issue_date  default the organization's today; not before the invoice's issue
--               date, at most one day ahead
--   reason, notes
-- Prices: 'whole' with nothing credited before copies the invoice (lines,
-- discount, tax); 'whole' after earlier credit notes credits what is left as an
-- amount. 'lines': quantity x the item's rate, rounded half up; the invoice's
-- discount shared out in proportion (rounded); tax = round((subtotal -
-- discount) x tax_rate / 100); total = subtotal - discount + tax; a note that
-- credits the last of every line's quantity credits exactly what is left (the
-- roundings of the notes before are absorbed in its tax). 'amount' A: tax =
-- round(A x tax_rate / (100 + tax_rate)), subtotal = A - tax.
create or replace function private.issue_credit_note(organization_id uuid, invoice_id uuid, doc jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  org uuid := issue_credit_note.organization_id;
  inv public.invoices;
  kind text;
  issued date;
  today date;
  remaining numeric;
  net numeric;
  disc numeric := 0;
  tax numeric;
  total numeric;
  given numeric;
  lines jsonb;
  bad record;
  everything_credited boolean := false;
  excess numeric;
  from_payments numeric;
  number text;
  new_id uuid;
  label text;
begin
  perform private.require_role(org, 'member', 'your role may not issue credit notes in this organization');
  doc := coalesce(doc, '{}'::jsonb);
  perform private.refuse_unknown_keys(doc, array[
    'kind', 'lines', 'amount', 'description', 'issue_date', 'reason', 'notes'], 'credit_note');
  kind := doc ->> 'kind';
  if kind is null then
    raise exception 'kind is required: whole, lines or amount' using errcode = '22023';
  elsif kind not in ('whole', 'lines', 'amount') then
    raise exception 'kind must be whole, lines or amount, not %', kind using errcode = '22023';
  end if;
  if kind <> 'lines' and doc ? 'lines' then
    raise exception 'lines are for a credit note of kind lines' using errcode = '22023';
  end if;
  if kind <> 'amount' and (doc ? 'amount' or doc ? 'description') then
    raise exception 'amount and description are for a credit note of kind amount' using errcode = '22023';
  end if;
  if length(doc ->> 'reason') > 500 then
    raise exception 'reason is longer than 500 characters' using errcode = '22023';
  end if;
  if length(doc ->> 'notes') > 5000 then
    raise exception 'notes are longer than 5000 characters' using errcode = '22023';
  end if;

  -- Lock order, step 1: the invoice.
  select * into inv
  from public.invoices i
  where i.id = issue_credit_note.invoice_id and i.organization_id = org
  for no key update;
  if not found then
    raise exception 'invoice not found' using errcode = 'P0002';
  end if;
  if inv.status = 'draft' then
    raise exception 'invoice % is a draft: change or delete it instead of crediting it', inv.invoice_number
      using errcode = '23514';
  elsif inv.status = 'cancelled' then
    raise exception 'invoice % is cancelled: nothing is left to credit', inv.invoice_number
      using errcode = '23514';
  end if;
  remaining := inv.total_amount - inv.credit_notes_total;
  if remaining <= 0 then
    raise exception 'invoice % is already credited in full', inv.invoice_number using errcode = '23514';
  end if;

  today := private.organization_today(org);
  issued := coalesce((doc ->> 'issue_date')::date, today);
  if issued < inv.issue_date then
    raise exception 'issue_date % is before the invoice''s issue date %', issued, inv.issue_date
      using errcode = '23514';
  elsif issued > today + 1 then
    raise exception 'issue_date % is in the future', issued
      using errcode = '23514', hint = 'A credit note is dated at most one day ahead.';
  end if;

  perform 'PRAGMA:TABLE: credit_lines (invoice_item_id uuid, position integer, description text, quantity numeric, rate numeric)';  -- for plpgsql_check
  if to_regclass('pg_temp.credit_lines') is null then
    create temporary table credit_lines (
      invoice_item_id uuid, position integer, description text, quantity numeric, rate numeric
    ) on commit drop;
  end if;
  truncate credit_lines;

  if kind = 'whole' and inv.credit_notes_total = 0 then
    insert into credit_lines
    select it.id, it.position, it.description, it.quantity, it.rate
    from public.invoice_items it where it.invoice_id = inv.id;
    net := inv.subtotal;
    disc := inv.discount;
    tax := inv.tax_amount;
    total := inv.total_amount;
  elsif kind = 'lines' then
    lines := doc -> 'lines';
    if lines is null or jsonb_typeof(lines) <> 'array' or jsonb_array_length(lines) = 0 then
      raise exception 'lines must be a list of {invoice_item_id, quantity}' using errcode = '22023';
    elsif jsonb_array_length(lines) > 200 then
      raise exception 'a credit note has at most 200 lines' using errcode = '22023';
    end if;
    perform private.refuse_unknown_keys(e, array['invoice_item_id', 'quantity'], 'line')
    from jsonb_array_elements(lines) e;
    if exists (select 1 from jsonb_array_elements(lines) e
               where e ->> 'invoice_item_id' is null or e ->> 'quantity' is null) then
      raise exception 'every line needs invoice_item_id and quantity' using errcode = '22023';
    end if;
    if (select count(*) from jsonb_array_elements(lines)) <>
       (select count(distinct e ->> 'invoice_item_id') from jsonb_array_elements(lines) e) then
      raise exception 'an item is listed twice' using errcode = '22023';
    end if;
    select t.ord, t.item into bad
    from (select ord, (e ->> 'invoice_item_id')::uuid as item
          from jsonb_array_elements(lines) with ordinality as x (e, ord)) t
    where not exists (select 1 from public.invoice_items it
                      where it.id = t.item and it.invoice_id = inv.id)
    order by t.ord limit 1;
    if found then
      raise exception 'line %: item % is not an item of invoice %', bad.ord, bad.item, inv.invoice_number
        using errcode = '23503';
    end if;
    select t.ord, t.quantity into bad
    from (select ord, (e ->> 'quantity')::numeric as quantity
          from jsonb_array_elements(lines) with ordinality as x (e, ord)) t
    where t.quantity <= 0 or scale(t.quantity) > 4
    order by t.ord limit 1;
    if found then
      raise exception 'line %: quantity % must be greater than zero with at most 4 decimals', bad.ord, bad.quantity
        using errcode = '22023';
    end if;
    insert into credit_lines
    select it.id, (t.ord - 1)::integer, it.description, t.quantity, it.rate
    from (select ord, (e ->> 'invoice_item_id')::uuid as item, (e ->> 'quantity')::numeric as quantity
          from jsonb_array_elements(lines) with ordinality as x (e, ord)) t
    join public.invoice_items it on it.id = t.item;
    select l.position + 1 as ord, it.description, l.quantity, it.quantity - coalesce(c.credited, 0) as left_over
    into bad
    from credit_lines l
    join public.invoice_items it on it.id = l.invoice_item_id
    left join (select ci.invoice_item_id, sum(ci.quantity) as credited
               from public.credit_note_items ci
               where ci.invoice_item_id in (select invoice_item_id from credit_lines)
               group by ci.invoice_item_id) c on c.invoice_item_id = l.invoice_item_id
    where l.quantity > it.quantity - coalesce(c.credited, 0)
    order by l.position limit 1;
    if found then
      raise exception 'line %: a quantity of % is more than the % of "%" not yet credited',
        bad.ord, bad.quantity, bad.left_over, bad.description
        using errcode = '23514';
    end if;
    select coalesce(sum(private.round_money(l.quantity * l.rate, inv.currency)), 0) into net
    from credit_lines l;
    if inv.discount > 0 and inv.subtotal > 0 then
      disc := private.round_money(inv.discount * net / inv.subtotal, inv.currency);
    end if;
    tax := private.round_money((net - disc) * inv.tax_rate / 100, inv.currency);
    total := net - disc + tax;
    -- The last of every line, and only lines credited before: exactly what is left.
    everything_credited := not exists (
        select 1 from public.invoice_items it
        where it.invoice_id = inv.id
          and it.quantity > coalesce((select sum(ci.quantity) from public.credit_note_items ci
                                      where ci.invoice_item_id = it.id), 0)
                            + coalesce((select l.quantity from credit_lines l
                                        where l.invoice_item_id = it.id), 0))
      and not exists (select 1 from public.credit_notes cn
                      where cn.invoice_id = inv.id and cn.kind <> 'lines');
    if everything_credited and total <> remaining then
      total := remaining;
      tax := greatest(0, remaining - (net - disc));
      net := remaining - tax + disc;
    end if;
  else
    -- 'amount', or 'whole' after earlier credit notes: what is left.
    if kind = 'whole' then
      given := remaining;
    else
      begin
        given := (doc ->> 'amount')::numeric;
      exception when invalid_text_representation then
        raise exception 'amount must be a number' using errcode = '22023';
      end;
      if given is null then
        raise exception 'amount is required for a credit note of kind amount' using errcode = '22023';
      elsif given <= 0 then
        raise exception 'amount must be greater than zero' using errcode = '23514';
      end if;
      given := private.checked_money(given, inv.currency, 'amount');
    end if;
    tax := private.round_money(given * inv.tax_rate / (100 + inv.tax_rate), inv.currency);
    net := given - tax;
    total := given;
    label := coalesce(nullif(btrim(doc ->> 'description'), ''),
                      case when kind = 'whole' then 'Remaining amount of invoice ' || inv.invoice_number
                           else 'Credit on invoice ' || inv.invoice_number end);
    if length(label) > 2000 then
      raise exception 'description is longer than 2000 characters' using errcode = '22023';
    end if;
    insert into credit_lines values (null, 0, label, 1, net);
  end if;

  if total <= 0 then
    raise exception 'a credit note must credit something: these lines come to 0 %', inv.currency
      using errcode = '23514';
  end if;
  if total > remaining then
    raise exception 'a credit of % % is more than what invoice % has not yet credited (% % of its total % %)',
      total, inv.currency, inv.invoice_number, remaining, inv.currency, inv.total_amount, inv.currency
      using errcode = '23514', constraint = 'invoices_credit_notes_not_above_total',
            hint = pg_catalog.format('A credit note on this invoice can be at most %s %s.', remaining, inv.currency);
  end if;

  -- What would pass the total goes to the client's credit.
  excess := greatest(0, inv.amount_paid + inv.amount_credited + total - inv.total_amount);
  if excess > 0 then
    -- Lock order, steps 2 and 3: the payments, then the credit row.
    perform 1 from public.payments p where p.invoice_id = inv.id order by p.id for update;
    perform private.lock_client_credit(org, inv.client_id, inv.currency);
  end if;

  number := private.next_document_number(org, 'credit_note', issued);
  insert into public.credit_notes
    (organization_id, invoice_id, client_id, currency, credit_note_number, kind, issue_date,
     reason, notes, subtotal, discount, tax_rate, tax_amount, total_amount, credit_amount)
  values
    (org, inv.id, inv.client_id, inv.currency, number, kind, issued,
     nullif(btrim(doc ->> 'reason'), ''), nullif(btrim(doc ->> 'notes'), ''),
     net, private.round_money(disc, inv.currency), inv.tax_rate, tax, total,
     private.round_money(excess, inv.currency))
  returning id into new_id;
  insert into public.credit_note_items
    (organization_id, credit_note_id, currency, invoice_item_id, position, description, quantity, rate)
  select org, new_id, inv.currency, l.invoice_item_id, l.position, l.description, l.quantity, l.rate
  from credit_lines l
  order by l.position;

  -- The invoice first (its amount_paid as it will be), then the payments, whose
  -- own refresh then finds nothing to change: the invoice passes through no
  -- state in between (a paid invoice keeps its paid_at).
  from_payments := 0;
  if excess > 0 then
    from_payments := excess - least(excess, inv.credit_applied);
  end if;
  update public.invoices i
  set amount_paid = i.amount_paid - from_payments,
      credit_applied = i.credit_applied - least(excess, inv.credit_applied),
      credit_notes_total = i.credit_notes_total + total,
      amount_credited = i.credit_notes_total + total + i.credit_applied - least(excess, inv.credit_applied)
  where i.id = inv.id;
  if excess > 0 then
    perform private.release_to_credit(inv, excess);
    perform private.post_client_credit(org, inv.client_id, inv.currency, 'credit_note', excess,
                                       credit_note_id => new_id);
  end if;

  insert into public.client_activities (organization_id, client_id, created_by, activity, type, metadata)
  values (org, inv.client_id, auth.uid(),
          pg_catalog.format('Credit note %s of %s %s issued for invoice %s', number, total, inv.currency,
                            inv.invoice_number),
          'other',
          jsonb_build_object('credit_note_id', new_id, 'invoice_id', inv.id, 'amount', total,
                             'currency', inv.currency, 'to_client_credit', excess));

  return private.credit_note_document(new_id);
end;
$$;

create or replace function public.create_credit_note(organization_id uuid, invoice_id uuid, credit_note jsonb)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
  perform private.require_role(create_credit_note.organization_id, 'member',
                               'your role may not issue credit notes in this organization');
  return private.issue_credit_note(create_credit_note.organization_id, create_credit_note.invoice_id,
                                   create_credit_note.credit_note);
end;
$$;

-- One credit note as the caller may read it (RLS), null when not theirs.
create or replace function public.get_credit_note(organization_id uuid, credit_note_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select private.credit_note_document(cn.id)
  from public.credit_notes cn
  where cn.id = get_credit_note.credit_note_id and cn.organization_id = get_credit_note.organization_id
$$;

-- The credit note was e-mailed (POST /api/credit-notes/{id}/send, after SES took
-- it): sent_at (kept from the first send), the send on the client's timeline
-- with its SES message id, and the Idempotency-Key's answer stored, in one
-- transaction. Definer: credit notes are not the API roles' to write.
create or replace function private.record_credit_note_sent(
  organization_id uuid, credit_note_id uuid, ses_message_id text, recipients jsonb, subject text,
  idempotency_key text
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  org uuid := record_credit_note_sent.organization_id;
  cn public.credit_notes;
  sent_to jsonb;
  who text;
  answer jsonb;
  sent_moment timestamptz := now();
begin
  perform private.require_role(org, 'member', 'your role may not send credit notes in this organization');
  if ses_message_id is null or length(ses_message_id) not between 1 and 200 then
    raise exception 'ses_message_id must be 1 to 200 characters' using errcode = '22023';
  end if;
  if subject is null or length(subject) not between 1 and 998 then
    raise exception 'subject must be 1 to 998 characters' using errcode = '22023';
  end if;
  update public.credit_notes c
  set sent_at = coalesce(c.sent_at, sent_moment), updated_at = sent_moment
  where c.id = record_credit_note_sent.credit_note_id and c.organization_id = org
  returning c.* into cn;
  if not found then
    raise exception 'credit note not found' using errcode = 'P0002';
  end if;
  sent_to := jsonb_build_object('to', coalesce(recipients -> 'to', '[]'),
                                'cc', coalesce(recipients -> 'cc', '[]'),
                                'bcc', coalesce(recipients -> 'bcc', '[]'));
  select string_agg(value, ', ') into who from jsonb_array_elements_text(sent_to -> 'to');
  insert into public.client_activities (organization_id, client_id, created_by, activity, type, metadata)
  values (org, cn.client_id, auth.uid(),
          left(pg_catalog.format('Credit note %s sent to %s', cn.credit_note_number,
                                 coalesce(who, 'the client')), 1000),
          'communication',
          jsonb_build_object('event', 'credit_note_sent', 'credit_note_id', cn.id,
                             'credit_note_number', cn.credit_note_number,
                             'ses_message_id', ses_message_id, 'to', sent_to -> 'to'));
  answer := jsonb_build_object(
    'send', jsonb_build_object('credit_note_id', cn.id, 'recipients', sent_to, 'subject', subject,
                               'ses_message_id', ses_message_id, 'sent_by', auth.uid(),
                               'sent_at', sent_moment),
    'credit_note', private.credit_note_document(cn.id));
  if record_credit_note_sent.idempotency_key is not null and auth.uid() is not null then
    update public.idempotency_keys ik
    set state = 'completed', response_status = 200, response = answer, completed_at = now()
    where ik.organization_id = org and ik.user_id = auth.uid()
      and ik.key = record_credit_note_sent.idempotency_key;
  end if;
  return answer;
end;
$$;

create or replace function public.mark_credit_note_sent(
  organization_id uuid,
  credit_note_id uuid,
  ses_message_id text,
  recipients jsonb,
  subject text,
  idempotency_key text default null
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
  perform private.require_role(mark_credit_note_sent.organization_id, 'member',
                               'your role may not send credit notes in this organization');
  return private.record_credit_note_sent(
    mark_credit_note_sent.organization_id, mark_credit_note_sent.credit_note_id,
    mark_credit_note_sent.ses_message_id, mark_credit_note_sent.recipients,
    mark_credit_note_sent.subject, mark_credit_note_sent.idempotency_key);
end;
$$;

-- A credit note with everything its PDF and e-mail print (shared.documents,
-- load_credit_note_document): the credit note's document, the credited
-- invoice's number and template, and the business (as public.invoice_document
-- gives it). Null when not the caller's (RLS).
create or replace function public.credit_note_pdf_document(organization_id uuid, credit_note_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select private.credit_note_document(cn.id) || jsonb_build_object(
    'credited_invoice_number', i.invoice_number,
    'template', i.template,
    'status', 'issued',
    'client', (select jsonb_build_object('id', c.id, 'company_name', c.company_name,
                                         'contact_person', c.contact_person, 'email', c.email,
                                         'phone', c.phone, 'address', c.address,
                                         'currency', c.currency)
               from public.clients c where c.id = cn.client_id),
    'organization', (
      select jsonb_build_object(
               'name', o.name,
               'settings', (
                 select jsonb_build_object(
                          'business_name', s.business_name,
                          'business_email', s.business_email,
                          'business_phone', s.business_phone,
                          'business_address', s.business_address,
                          'city', s.city, 'state', s.state, 'zip_code', s.zip_code,
                          'country', s.country, 'tax_id', s.tax_id, 'website', s.website,
                          'company_logo_url', s.company_logo_url, 'tax_label', s.tax_label,
                          'invoice_footer', s.invoice_footer,
                          'default_payment_instructions', s.default_payment_instructions)
                 from public.organization_settings s
                 where s.organization_id = o.id))
      from public.organizations o
      where o.id = cn.organization_id))
  from public.credit_notes cn
  join public.invoices i on i.id = cn.invoice_id
  where cn.id = credit_note_pdf_document.credit_note_id
    and cn.organization_id = credit_note_pdf_document.organization_id
$$;

-- =============================================================================
-- Functions: refunds
-- =============================================================================

create or replace function private.refund_json(refund public.refunds)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select to_jsonb(refund) || jsonb_build_object(
    'client', (select jsonb_build_object('id', c.id, 'company_name', c.company_name)
               from public.clients c where c.id = refund.client_id),
    'payment', (select jsonb_build_object('id', p.id, 'amount', p.amount, 'payment_date', p.payment_date,
                                          'applied_amount', p.applied_amount,
                                          'refunded_amount', p.refunded_amount)
                from public.payments p where p.id = refund.payment_id),
    'invoice', (select jsonb_build_object('id', i.id, 'invoice_number', i.invoice_number,
                                          'status', i.status, 'total_amount', i.total_amount,
                                          'amount_paid', i.amount_paid,
                                          'amount_credited', i.amount_credited,
                                          'balance_due', i.balance_due)
                from public.invoices i where i.id = refund.invoice_id),
    'client_credit', (select coalesce(b.balance, 0) from public.client_credit_balances b
                      where b.client_id = refund.client_id and b.currency = refund.currency))
$$;

-- Records money returned to a client (this file's head, "Refunds"). `doc` keys:
-- payment_id (a refund from that payment) or client_id (a refund from the
-- client's credit; currency defaults to the client's), amount, refund_date
-- (default the organization's today), refund_method, reference_number, notes.
create or replace function private.issue_refund(organization_id uuid, doc jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  org uuid := issue_refund.organization_id;
  pay public.payments;
  inv public.invoices;
  client record;
  amt numeric;
  refund_on date;
  method text;
  ref text;
  note text;
  credit numeric;
  created public.refunds;
begin
  perform private.require_role(org, 'member', 'your role may not record refunds in this organization');
  doc := coalesce(doc, '{}'::jsonb);
  perform private.refuse_unknown_keys(doc, array[
    'payment_id', 'client_id', 'amount', 'refund_date', 'refund_method', 'reference_number', 'notes'],
    'refund');
  if (doc ? 'payment_id') = (doc ? 'client_id') then
    raise exception 'a refund names either payment_id (from a payment) or client_id (from client credit)'
      using errcode = '22023';
  end if;
  begin
    amt := (doc ->> 'amount')::numeric;
  exception when invalid_text_representation then
    raise exception 'amount must be a number' using errcode = '22023';
  end;
  if amt is null then
    raise exception 'amount is required' using errcode = '22023';
  elsif amt <= 0 then
    raise exception 'a refund amount must be greater than zero' using errcode = '23514';
  elsif amt >= 1e12 then
    raise exception 'a refund amount must be less than 1,000,000,000,000' using errcode = '23514';
  end if;
  refund_on := coalesce((doc ->> 'refund_date')::date, private.organization_today(org));
  if refund_on > private.organization_today(org) + 1 then
    raise exception 'refund_date % is in the future; record refunds once made', refund_on
      using errcode = '23514';
  elsif refund_on < date '2000-01-01' then
    raise exception 'refund_date % is before 2000-01-01', refund_on using errcode = '23514';
  end if;
  method := coalesce(doc ->> 'refund_method', 'bank_transfer');
  if method not in ('bank_transfer', 'credit_card', 'paypal', 'check', 'cash', 'other') then
    raise exception 'refund_method must be one of bank_transfer, credit_card, paypal, check, cash, other'
      using errcode = '22023';
  end if;
  ref := nullif(btrim(doc ->> 'reference_number'), '');
  note := nullif(btrim(doc ->> 'notes'), '');
  if length(ref) > 100 then
    raise exception 'reference_number is longer than 100 characters' using errcode = '22023';
  elsif length(note) > 2000 then
    raise exception 'notes are longer than 2000 characters' using errcode = '22023';
  end if;

  if doc ? 'payment_id' then
    select p.* into pay
    from public.payments p
    where p.id = (doc ->> 'payment_id')::uuid and p.organization_id = org;
    if not found then
      raise exception 'payment not found' using errcode = 'P0002';
    end if;
    -- Lock order, steps 1 and 2: the invoice, then the payment.
    select * into inv from public.invoices i where i.id = pay.invoice_id for no key update;
    select p.* into pay from public.payments p where p.id = pay.id for update;
    amt := private.checked_money(amt, pay.currency, 'refund amount');
    if amt > pay.applied_amount then
      if pay.applied_amount = 0 then
        raise exception 'nothing of the payment of % % is left on invoice % to refund',
          pay.amount, pay.currency, inv.invoice_number
          using errcode = '23514',
                hint = 'What of it went to client credit is refunded from the client''s credit (client_id).';
      end if;
      raise exception 'a refund of % % is more than the % % of this payment left on invoice %',
        amt, pay.currency, pay.applied_amount, pay.currency, inv.invoice_number
        using errcode = '23514',
              hint = pg_catalog.format('A refund from this payment can be at most %s %s; what went to client credit is refunded from the client''s credit.',
                                       pay.applied_amount, pay.currency);
    end if;
    insert into public.refunds as r
      (organization_id, client_id, currency, source, payment_id, invoice_id, amount, refund_date,
       refund_method, reference_number, notes)
    values (org, inv.client_id, pay.currency, 'payment', pay.id, inv.id, amt, refund_on, method, ref, note)
    returning r.* into created;
    -- The payment's trigger refreshes the invoice's amount_paid: it opens again.
    update public.payments p
    set applied_amount = p.applied_amount - amt, refunded_amount = p.refunded_amount + amt
    where p.id = pay.id;
  else
    select c.id, c.currency, c.company_name into client
    from public.clients c
    where c.id = (doc ->> 'client_id')::uuid and c.organization_id = org;
    if not found then
      raise exception 'client not found' using errcode = 'P0002';
    end if;
    amt := private.checked_money(amt, client.currency, 'refund amount');
    -- Lock order, step 3 alone.
    credit := private.lock_client_credit(org, client.id, client.currency);
    if amt > credit then
      raise exception 'a refund of % % is more than the client''s credit of % %',
        amt, client.currency, credit, client.currency
        using errcode = '23514',
              hint = pg_catalog.format('A refund from credit can be at most %s %s.', credit, client.currency);
    end if;
    insert into public.refunds as r
      (organization_id, client_id, currency, source, amount, refund_date, refund_method,
       reference_number, notes)
    values (org, client.id, client.currency, 'credit', amt, refund_on, method, ref, note)
    returning r.* into created;
    perform private.post_client_credit(org, client.id, client.currency, 'refund', -amt,
                                       refund_id => created.id);
  end if;

  insert into public.client_activities (organization_id, client_id, created_by, activity, type, metadata)
  values (org, created.client_id, auth.uid(),
          pg_catalog.format('Refund of %s %s %s', created.amount, created.currency,
                            case when created.source = 'payment'
                                 then 'from a payment on invoice ' || inv.invoice_number
                                 else 'from client credit' end),
          'payment',
          jsonb_build_object('refund_id', created.id, 'amount', created.amount, 'currency', created.currency,
                             'source', created.source, 'payment_id', created.payment_id,
                             'invoice_id', created.invoice_id));

  return private.refund_json(created);
end;
$$;

create or replace function public.record_refund(organization_id uuid, refund jsonb)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
  perform private.require_role(record_refund.organization_id, 'member',
                               'your role may not record refunds in this organization');
  return private.issue_refund(record_refund.organization_id, record_refund.refund);
end;
$$;

create or replace function public.get_refund(organization_id uuid, refund_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select private.refund_json(r)
  from public.refunds r
  where r.id = get_refund.refund_id and r.organization_id = get_refund.organization_id
$$;

-- =============================================================================
-- Functions: applying client credit, reading it
-- =============================================================================

-- A client's credit: the balance per currency and the latest entries of the
-- ledger (newest first, at most `entries`), under RLS.
create or replace function public.client_credit(organization_id uuid, client_id uuid, entries integer default 100)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  client record;
begin
  perform private.require_role(client_credit.organization_id, 'viewer');
  select c.id, c.company_name, c.currency into client
  from public.clients c
  where c.id = client_credit.client_id and c.organization_id = client_credit.organization_id;
  if not found then
    raise exception 'client not found' using errcode = 'P0002';
  end if;
  return jsonb_build_object(
    'client_id', client.id,
    'company_name', client.company_name,
    'balances', coalesce((
      select jsonb_agg(jsonb_build_object('currency', b.currency, 'balance', b.balance) order by b.currency)
      from public.client_credit_balances b
      where b.client_id = client.id and b.organization_id = client_credit.organization_id), '[]'::jsonb),
    'entries', coalesce((
      select jsonb_agg(to_jsonb(e) order by e.created_at desc, e.id)
      from (select e.* from public.client_credit_entries e
            where e.client_id = client.id and e.organization_id = client_credit.organization_id
            order by e.created_at desc, e.id
            limit least(greatest(coalesce(client_credit.entries, 100), 1), 500)) e), '[]'::jsonb));
end;
$$;

-- Applies client credit to an open invoice of the same client and currency:
-- `amount` (default: as much as both allow). The invoice's credit_applied and
-- amount_credited grow, its balance falls (paid at zero).
create or replace function private.apply_credit(organization_id uuid, client_id uuid, invoice_id uuid, amount numeric)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  org uuid := apply_credit.organization_id;
  inv public.invoices;
  credit numeric;
  amt numeric;
begin
  perform private.require_role(org, 'member', 'your role may not apply client credit in this organization');
  if not exists (select 1 from public.clients c where c.id = apply_credit.client_id and c.organization_id = org) then
    raise exception 'client not found' using errcode = 'P0002';
  end if;
  -- Lock order, step 1: the invoice.
  select * into inv
  from public.invoices i
  where i.id = apply_credit.invoice_id and i.organization_id = org
  for no key update;
  if not found then
    raise exception 'invoice not found' using errcode = 'P0002';
  end if;
  if inv.client_id <> apply_credit.client_id then
    raise exception 'invoice % is not an invoice of this client', inv.invoice_number using errcode = '23514';
  end if;
  if inv.status not in ('sent', 'overdue') or inv.balance_due <= 0 then
    raise exception 'invoice % is % and has nothing due', inv.invoice_number, inv.status
      using errcode = '23514', hint = 'Credit applies to sent or overdue invoices with a balance due.';
  end if;
  -- Step 3: the credit row.
  credit := private.lock_client_credit(org, inv.client_id, inv.currency);
  if apply_credit.amount is null then
    amt := least(credit, inv.balance_due);
  else
    if apply_credit.amount <= 0 then
      raise exception 'amount must be greater than zero' using errcode = '23514';
    end if;
    amt := private.checked_money(apply_credit.amount, inv.currency, 'amount');
  end if;
  if credit <= 0 then
    raise exception 'the client has no credit in %', inv.currency using errcode = '23514';
  elsif amt > credit then
    raise exception 'applying % % is more than the client''s credit of % %', amt, inv.currency, credit, inv.currency
      using errcode = '23514', hint = pg_catalog.format('At most %s %s can be applied.', least(credit, inv.balance_due), inv.currency);
  elsif amt > inv.balance_due then
    raise exception 'applying % % is more than the balance due of % % on invoice %',
      amt, inv.currency, inv.balance_due, inv.currency, inv.invoice_number
      using errcode = '23514', hint = pg_catalog.format('At most %s %s can be applied.', least(credit, inv.balance_due), inv.currency);
  end if;

  update public.invoices i
  set credit_applied = i.credit_applied + amt, amount_credited = i.amount_credited + amt
  where i.id = inv.id;
  perform private.post_client_credit(org, inv.client_id, inv.currency, 'applied', -amt, invoice_id => inv.id);

  insert into public.client_activities (organization_id, client_id, created_by, activity, type, metadata)
  values (org, inv.client_id, auth.uid(),
          pg_catalog.format('Client credit of %s %s applied to invoice %s', amt, inv.currency, inv.invoice_number),
          'payment',
          jsonb_build_object('invoice_id', inv.id, 'amount', amt, 'currency', inv.currency));

  return jsonb_build_object(
    'applied', amt,
    'currency', inv.currency,
    'invoice', (select jsonb_build_object(
                  'id', i.id, 'invoice_number', i.invoice_number, 'status', i.status,
                  'total_amount', i.total_amount, 'amount_paid', i.amount_paid,
                  'amount_credited', i.amount_credited, 'balance_due', i.balance_due)
                from public.invoices i where i.id = inv.id),
    'client_credit', (select b.balance from public.client_credit_balances b
                      where b.client_id = inv.client_id and b.currency = inv.currency));
end;
$$;

create or replace function public.apply_client_credit(
  organization_id uuid, client_id uuid, invoice_id uuid, amount numeric default null
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
  perform private.require_role(apply_client_credit.organization_id, 'member',
                               'your role may not apply client credit in this organization');
  return private.apply_credit(apply_client_credit.organization_id, apply_client_credit.client_id,
                              apply_client_credit.invoice_id, apply_client_credit.amount);
end;
$$;

-- =============================================================================
-- Functions: payments above the balance (overpayment = 'credit')
-- =============================================================================

-- The payment of an organization that keeps overpayments as credit: applied up
-- to the invoice's balance, the rest the client's credit. The caller
-- (record_payment) holds the invoice; the credit row is taken before the
-- payment is written (lock order).
create or replace function private.record_overpayment(
  organization_id uuid, inv public.invoices, amount numeric, payment_date date,
  payment_method text, reference_number text, notes text
)
returns public.payments
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  created public.payments;
begin
  perform private.require_role(record_overpayment.organization_id, 'member',
                               'recording payments needs the member role or above');
  if inv.organization_id <> record_overpayment.organization_id then
    raise exception 'invoice not found' using errcode = 'P0002';
  end if;
  perform 1 from public.invoices i where i.id = inv.id for no key update;
  select * into inv from public.invoices i where i.id = inv.id;
  perform private.lock_client_credit(inv.organization_id, inv.client_id, inv.currency);
  insert into public.payments as p
    (organization_id, invoice_id, currency, amount, applied_amount, payment_date, payment_method,
     reference_number, notes)
  values (inv.organization_id, inv.id, inv.currency, record_overpayment.amount, inv.balance_due,
          record_overpayment.payment_date, record_overpayment.payment_method,
          record_overpayment.reference_number, record_overpayment.notes)
  returning p.* into created;
  perform private.post_client_credit(inv.organization_id, inv.client_id, inv.currency, 'overpayment',
                                     created.amount - created.applied_amount, payment_id => created.id);
  return created;
end;
$$;

-- The API's JSON for a payment: the row, and a summary of its invoice (with the
-- invoice's client) as it is now. The same shape as GET /api/payments embeds.
--
-- The API's JSON for a payment (payments migration), with the part of it that
-- counts on its invoice (applied_amount) and the part refunded (refunded_amount;
-- the rest went to the client's credit), and the invoice's amount_credited.
create or replace function private.payment_json(payment public.payments)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  invoice jsonb;
begin
  select jsonb_build_object(
           'id', i.id,
           'invoice_number', i.invoice_number,
           'status', i.status,
           'currency', i.currency,
           'due_date', i.due_date,
           'total_amount', i.total_amount,
           'amount_paid', i.amount_paid,
           'amount_credited', i.amount_credited,
           'balance_due', i.balance_due,
           'client_id', i.client_id,
           'client', (select jsonb_build_object('id', c.id, 'company_name', c.company_name)
                      from public.clients c where c.id = i.client_id))
  into invoice
  from public.invoices i
  where i.id = payment.invoice_id;

  return jsonb_build_object(
    'id', payment.id,
    'organization_id', payment.organization_id,
    'invoice_id', payment.invoice_id,
    'amount', payment.amount,
    'applied_amount', payment.applied_amount,
    'refunded_amount', payment.refunded_amount,
    'currency', payment.currency,
    'payment_date', payment.payment_date,
    'payment_method', payment.payment_method,
    'reference_number', payment.reference_number,
    'notes', payment.notes,
    'created_by', payment.created_by,
    'created_at', payment.created_at,
    'updated_at', payment.updated_at,
    'invoice', invoice
  );
end;
$$;
grant execute on function private.payment_json(public.payments) to authenticated;

-- record_payment: a new payment against an invoice of the organization.
--
-- record_payment (payments migration), with the organization's overpayment
-- choice: 'refuse' answers as before; 'credit' keeps the excess as client credit.
create or replace function public.record_payment(
  organization_id uuid,
  invoice_id uuid,
  amount numeric,
  payment_date date default null,
  payment_method text default null,
  reference_number text default null,
  notes text default null
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org_id uuid := record_payment.organization_id;
  paid_on date := coalesce(record_payment.payment_date, current_date);
  method text := coalesce(record_payment.payment_method, 'bank_transfer');
  ref text := nullif(btrim(record_payment.reference_number), '');
  note text := nullif(btrim(record_payment.notes), '');
  inv public.invoices;
  amt numeric;
  created public.payments;
begin
  perform private.require_role(org_id, 'member', 'recording payments needs the member role or above');
  perform private.check_payment_fields(record_payment.amount, paid_on, method, ref, note);
  inv := private.lock_payable_invoice(org_id, record_payment.invoice_id);
  amt := private.checked_money(record_payment.amount, inv.currency, 'payment amount');
  if amt > inv.balance_due and inv.balance_due > 0 and inv.status in ('sent', 'overdue')
     and (select s.overpayment from public.organization_settings s where s.organization_id = org_id) = 'credit' then
    created := private.record_overpayment(org_id, inv, amt, paid_on, method, ref, note);
    return private.payment_json(created);
  end if;
  perform private.check_payable(inv, amt, inv.balance_due);

  insert into public.payments as p
    (organization_id, invoice_id, currency, amount, payment_date, payment_method,
     reference_number, notes)
  values (org_id, inv.id, inv.currency, amt, paid_on, method, ref, note)
  returning p.* into created;

  return private.payment_json(created);
end;
$$;
grant execute on function
  public.record_payment(uuid, uuid, numeric, date, text, text, text)
  to authenticated;

-- =============================================================================
-- The invoices RPCs that cancel (invoices migration): the refusal of an invoice
-- with payments now says to issue a credit note. Otherwise unchanged.
-- =============================================================================

-- public.update_invoice: defined in 20261206171200 (its final form; nothing is deployed)

-- A draft is deleted ({"action": "deleted"}). A sent or overdue invoice
-- reached its client and stays on record: without payments it is cancelled
-- instead ({"action": "cancelled", "invoice": ...}); one already cancelled is
-- answered the same way. One with payments, or paid, is refused (23514).
create or replace function public.delete_invoice(organization_id uuid, invoice_id uuid)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := delete_invoice.organization_id;
  target uuid := delete_invoice.invoice_id;
  cur public.invoices;
begin
  perform private.require_role(org, 'member', 'your role may not delete invoices in this organization');
  select * into cur
  from public.invoices i
  where i.id = target and i.organization_id = org
  for update;
  if not found then
    raise exception 'invoice not found' using errcode = 'P0002';
  end if;

  if cur.status = 'draft' then
    delete from public.invoices i where i.id = target;
    return jsonb_build_object('action', 'deleted');
  elsif cur.status = 'paid' then
    raise exception 'invoice % is paid and cannot be deleted or cancelled', cur.invoice_number
      using errcode = '23514', hint = 'Issue a credit note for the whole invoice: it cancels the invoice and keeps what was paid as the client''s credit.';
  elsif cur.status in ('sent', 'overdue') then
    if exists (select 1 from public.payments p where p.invoice_id = target) then
      raise exception 'invoice % has payments and cannot be deleted or cancelled', cur.invoice_number
        using errcode = '23514', hint = 'Issue a credit note for the whole invoice: it cancels the invoice and keeps what was paid as the client''s credit.';
    end if;
    update public.invoices i set status = 'cancelled' where i.id = target;
  end if;
  return jsonb_build_object('action', 'cancelled', 'invoice', private.invoice_document(target));
end;
$$;
grant execute on function public.delete_invoice(uuid, uuid) to authenticated;
revoke execute on function public.delete_invoice(uuid, uuid) from anon, service_role;


-- =============================================================================
-- Triggers
-- =============================================================================

-- After b_prepare_invoice_row and c_cancelled_invoice_takes_no_payments (the
-- invoices' BEFORE UPDATE triggers fire in name order; the list is in the
-- invoices migration): NEW has its total.
create trigger c_credited_invoice_keeps_its_total
  before update on public.invoices
  for each row
  when (old.credit_notes_total > 0 and new.total_amount is distinct from old.total_amount)
  execute function private.credited_invoice_keeps_its_total();

create trigger credited_invoice_keeps_its_items
  before insert or update or delete on public.invoice_items
  for each row execute function private.credited_invoice_keeps_its_items();

-- After prepare_payment_row (name order), which fills the currency and checks
-- the amount's decimals.
create trigger q_payment_allocation
  before insert or update on public.payments
  for each row execute function private.payment_allocation();

create trigger q_keep_allocated_payment
  before delete on public.payments
  for each row execute function private.keep_allocated_payment();

create trigger set_updated_at before update on public.credit_notes
  for each row execute function private.set_updated_at();

select private.enable_audit('public.credit_notes', array['updated_at']);
select private.enable_audit('public.credit_note_items');
select private.enable_audit('public.refunds');
select private.enable_audit('public.client_credit_balances', array['updated_at']);
select private.enable_audit('public.client_credit_entries');

-- =============================================================================
-- Policies
-- =============================================================================

create policy "Members can view their organization's credit notes"
  on public.credit_notes for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can view their organization's credit note items"
  on public.credit_note_items for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can view their organization's refunds"
  on public.refunds for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can view their organization's client credit balances"
  on public.client_credit_balances for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can view their organization's client credit entries"
  on public.client_credit_entries for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

-- =============================================================================
-- Grants
-- =============================================================================

-- Read only for the API roles: every write is a definer core above, checking
-- its caller (a member may not make up client credit through PostgREST).
revoke all on public.credit_notes, public.credit_note_items, public.refunds,
  public.client_credit_balances, public.client_credit_entries from anon, authenticated;
grant select on public.credit_notes, public.credit_note_items, public.refunds,
  public.client_credit_balances, public.client_credit_entries to authenticated;
grant select, insert, update, delete on public.credit_notes, public.credit_note_items, public.refunds,
  public.client_credit_balances, public.client_credit_entries to service_role;

grant execute on function
  private.issue_credit_note(uuid, uuid, jsonb),
  private.record_credit_note_sent(uuid, uuid, text, jsonb, text, text),
  private.credit_note_document(uuid),
  private.issue_refund(uuid, jsonb),
  private.refund_json(public.refunds),
  private.apply_credit(uuid, uuid, uuid, numeric),
  private.record_overpayment(uuid, public.invoices, numeric, date, text, text, text)
  to authenticated, service_role;

grant execute on function
  public.create_credit_note(uuid, uuid, jsonb),
  public.get_credit_note(uuid, uuid),
  public.mark_credit_note_sent(uuid, uuid, text, jsonb, text, text),
  public.credit_note_pdf_document(uuid, uuid),
  public.record_refund(uuid, jsonb),
  public.get_refund(uuid, uuid),
  public.client_credit(uuid, uuid, integer),
  public.apply_client_credit(uuid, uuid, uuid, numeric)
  to authenticated, service_role;

grant execute on function public.record_payment(uuid, uuid, numeric, date, text, text, text) to authenticated;
grant execute on function public.delete_invoice(uuid, uuid) to authenticated;

revoke execute on function private.credited_invoice_keeps_its_total() from public;
revoke execute on function private.credited_invoice_keeps_its_items() from public;
revoke execute on function private.payment_allocation() from public;
revoke execute on function private.keep_allocated_payment() from public;

revoke execute on all functions in schema private, public from public;
