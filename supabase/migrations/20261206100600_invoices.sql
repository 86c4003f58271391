-- =============================================================================
-- Invoices and their items: numbering, totals, status rules.
--
-- Money rules (written once, here; every amount is numeric, never float):
--   item.amount     = round_half_up(quantity * rate, minor unit of the currency)
--   subtotal        = sum(item.amount)
--   tax_amount      = round_half_up((subtotal - discount) * tax_rate / 100, minor unit)
--   total_amount    = subtotal - discount + tax_amount        (discount <= subtotal)
--   amount_paid     = sum(payment.amount)                     (<= total_amount)
--   balance_due     = total_amount - amount_paid              (generated column)
-- Status: draft -> sent -> overdue (by the scheduled job) ; sent/overdue -> paid
-- when the balance reaches zero, and back to sent (or overdue when past due)
-- when a payment is removed or the total grows; draft/sent/overdue -> cancelled
-- when nothing has been paid. Only drafts may be deleted.
--
-- Numbers: unique per organization; when none is given, the next one comes from
-- the organization's prefix and counter, advanced under a row lock so concurrent
-- creations never get the same number.
--
-- The invoices routes of the HTTP API: the writes that touch more than one row
-- are one SQL function each, so they commit or fail whole.
--
--   public.create_invoice(organization_id, invoice, items)       -> the invoice
--   public.update_invoice(organization_id, invoice_id, changes,
--                         items, items_mode)                      -> the invoice
--   public.delete_invoice(organization_id, invoice_id)
--        -> {"action": "deleted"} | {"action": "cancelled", "invoice": ...}
--   public.invoice_list                 (a view for GET /api/invoices)
--
-- Every function is SECURITY INVOKER: row level security and the column grants
-- on the tables decide what the caller may touch, and the tables' triggers keep
-- the money, the numbering and the status rules. What is added here
-- is the order of the writes (items before the discount, status last), the
-- rules of what may still change once an invoice has been sent (docs/api.md,
-- "Invoices"), and messages written for people.
--
-- What may change, by status (a field given with its current value is not a
-- change, so a whole invoice sent back unchanged is accepted):
--   draft            everything; status -> sent or cancelled
--   sent, overdue    notes, terms, payment_instructions, template, due_date and
--                    payment_terms; items, tax_rate and discount only while no
--                    payment is recorded; status -> cancelled (no payments).
--                    client, number and issue date are what the client received:
--                    they never change (cancel and issue a new invoice).
--   paid, cancelled  notes only.
-- Errors: unknown or other-tenant invoice -> P0002 (404); a refused change ->
-- 23514 (422 rule_violation); a client or item that is not the organization's
-- or the invoice's -> 23503 (422 invalid_reference); a number already taken ->
-- 23505 (409); a malformed argument -> 22023 (422 validation_failed).
--
-- A cancelled invoice takes no payments, whatever the order of events.
--
-- A payment's own row trigger (private.prepare_payment_row) refuses a cancelled
-- invoice, but it reads the invoice without a lock, in its statement's snapshot.
-- A payment inserted straight through PostgREST (RLS lets members insert) while
-- another transaction cancels the invoice (public.delete_invoice, or
-- update_invoice with status cancelled: both check "no payments" under the
-- invoice's lock) saw the invoice still sent, waited for the lock, and then
-- private.refresh_amounts_paid wrote its amount onto the now cancelled invoice:
-- a cancelled invoice with money paid (found reading the lock order for
-- reliability/test_concurrency.py; tests/db/test_payment_races.py replays the
-- race deterministically).
--
-- The rule now holds where the amount lands: once b_prepare_invoice_row has run,
-- an update that raises a cancelled invoice's amount_paid is refused (check
-- violation, as the other status rules; the API answers 422 rule_violation and
-- nothing of the payment is written). Lowering it (a payment removed) passes.
--
-- A number given by hand waits for the counter, so the counter never hands it out.
--
-- private.assign_invoice_number takes the organization's counter under a row lock
-- and skips numbers already used, but it cannot see a number given by hand in a
-- transaction not yet committed. An invoice created without a number while
-- another was being created (or a draft renumbered) with the counter's next
-- number by hand got that same number, waited on the unique index, and failed:
-- 23505, a 409 "duplicate key value violates unique constraint …" answered to
-- someone who gave no number (reliability/test_concurrency.py found it over HTTP;
-- tests/db/test_payment_races.py replays it deterministically).
--
-- Now a write that gives a number by hand first takes the same row lock as the
-- counter (the organization's settings row, FOR NO KEY UPDATE, as the counter's
-- UPDATE does): the counter waits for that transaction and then sees its number
-- as taken. Two hand-given numbers in one organization now wait for each other
-- too, as automatic ones always did, and the second is refused with create_invoice's
-- own message ("invoice number … is already used") instead of the unique index's
-- ("duplicate key value violates unique constraint …", which the race answered).
-- Security definer: members without the admin role may not lock the settings row.
--
-- What may change on an invoice, by status, holds for every write of the API
-- roles, not only for public.update_invoice.
--
-- update_invoice refuses a new number, issue date or client once an invoice has
-- been sent, any change but its notes once it is paid or cancelled, and a new tax
-- rate once it has payments. Members may also update invoices straight through
-- PostgREST (RLS and the column grants let them: the frontend may), and those
-- rules were not checked there: a member could renumber a sent invoice, or move
-- it to another client, behind the API's back (found while writing
-- reliability/test_concurrency.py). The rules are written once, in
-- private.refuse_change_by_status: the table's trigger
-- a_issued_invoice_keeps_its_identity holds them for every write of the API
-- roles, and update_invoice asks the same function before its other checks (the
-- unknown client, the number taken, the due date before the issue date), so that
-- its answers keep their order; the trigger then finds nothing more to refuse.
--
-- Only the API roles (anon, authenticated) are held: the service role and the
-- database owner keep the means to correct a record. The discount (no new
-- discount once paid something) is frozen by update_invoice's call alone: it
-- clears the discount for a moment while it replaces the items, which the row
-- trigger cannot tell from a change.
-- =============================================================================

-- =============================================================================
-- Tables
-- =============================================================================

create table public.invoices (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  client_id uuid not null,
  invoice_number text not null check (length(invoice_number) between 1 and 50),
  issue_date date not null default current_date,
  due_date date not null,
  payment_terms text not null default 'net30'
    check (payment_terms in ('due_on_receipt', 'net7', 'net15', 'net30', 'net45', 'net60', 'net90', 'custom')),
  status text not null default 'draft'
    check (status in ('draft', 'sent', 'paid', 'overdue', 'cancelled')),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  subtotal numeric not null default 0 check (subtotal >= 0 and subtotal < 1e12),
  tax_rate numeric not null default 0 check (tax_rate >= 0 and tax_rate <= 100 and scale(tax_rate) <= 3),
  tax_amount numeric not null default 0 check (tax_amount >= 0),
  discount numeric not null default 0 check (discount >= 0),
  total_amount numeric not null default 0 check (total_amount >= 0),
  amount_paid numeric not null default 0 check (amount_paid >= 0),
  balance_due numeric generated always as (total_amount - amount_paid) stored,
  notes text check (length(notes) <= 5000),
  terms text check (length(terms) <= 5000),
  payment_instructions text check (length(payment_instructions) <= 5000),
  template text not null default 'professional'
    check (template in ('professional', 'modern', 'minimal')),
  sent_at timestamptz,
  paid_at timestamptz,
  cancelled_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint invoices_due_date_not_before_issue_date check (due_date >= issue_date),
  constraint invoices_discount_not_above_subtotal check (discount <= subtotal),
  constraint invoices_amount_paid_not_above_total check (amount_paid <= total_amount),
  constraint invoices_invoice_number_unique_in_organization unique (organization_id, invoice_number),
  -- The client must belong to the invoice's organization and bill in its currency.
  constraint invoices_client_in_organization_and_currency_fkey
    foreign key (organization_id, client_id, currency)
    references public.clients (organization_id, id, currency) on delete restrict,
  unique (organization_id, id),
  unique (organization_id, id, currency)
);

-- One line of an invoice. organization_id and currency repeat the invoice's (a
-- composite foreign key keeps them equal) so that RLS needs no join and the
-- amount can be a generated column rounded to the currency's minor unit.
create table public.invoice_items (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  invoice_id uuid not null,
  currency text not null,
  position integer not null default 0 check (position >= 0),
  description text not null check (length(btrim(description)) between 1 and 2000),
  quantity numeric not null check (quantity > 0 and quantity < 1e9 and scale(quantity) <= 4),
  rate numeric not null check (rate >= 0 and rate < 1e12 and scale(rate) <= 4),
  amount numeric generated always as (private.round_money(quantity * rate, currency)) stored,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint invoice_items_invoice_fkey
    foreign key (organization_id, invoice_id, currency)
    references public.invoices (organization_id, id, currency) on delete cascade on update cascade
);

alter table public.invoices enable row level security;
alter table public.invoice_items enable row level security;

-- =============================================================================
-- Indexes
-- =============================================================================

create index invoices_organization_status_due_date_idx on public.invoices (organization_id, status, due_date);
create index invoices_organization_due_date_idx on public.invoices (organization_id, due_date);
create index invoices_organization_client_idx on public.invoices (organization_id, client_id, issue_date desc);
create index invoices_organization_issue_date_idx on public.invoices (organization_id, issue_date desc);
create index invoices_client_status_idx on public.invoices (client_id, status);
create index invoice_items_invoice_idx on public.invoice_items (invoice_id, position);

-- The open invoices by due date, for the reminders (and any "what is due"
-- question across organizations); with the id, the order the reminders open
-- their slots in, a chunk at a time (keyset).
create index if not exists invoices_open_due_date_idx
  on public.invoices (due_date, id) where status in ('sent', 'overdue');

-- Deleting a user looks up the rows that name it (the foreign key is ON DELETE
-- SET NULL or CASCADE); partial: the NULLs are never looked up.
create index invoices_created_by_idx on public.invoices (created_by) where created_by is not null;

-- =============================================================================
-- Functions
-- =============================================================================

-- The next free number of the organization: prefix + zero-padded counter. The
-- UPDATE takes the settings row's lock, so concurrent callers are serialized
-- and never receive the same number; numbers taken by hand are skipped.
create or replace function private.assign_invoice_number(organization_id uuid)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  candidate text;
begin
  loop
    update public.organization_settings s
    set next_invoice_number = s.next_invoice_number + 1
    where s.organization_id = assign_invoice_number.organization_id
    returning s.invoice_prefix || case
        when length((s.next_invoice_number - 1)::text) >= s.invoice_number_padding
          then (s.next_invoice_number - 1)::text
        else lpad((s.next_invoice_number - 1)::text, s.invoice_number_padding, '0')
      end
    into candidate;
    if candidate is null then
      raise exception 'organization % has no settings', assign_invoice_number.organization_id using errcode = '23503';
    end if;
    exit when not exists (
      select 1 from public.invoices i
      where i.organization_id = assign_invoice_number.organization_id and i.invoice_number = candidate
    );
  end loop;
  return candidate;
end;
$$;

-- Fills what a new invoice may leave out: the currency (the client's), the
-- number (the organization's next), the due date (from the payment terms).
-- Runs before prepare_invoice_row so its checks see complete rows.
create or replace function private.complete_new_invoice()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- This runs before RLS checks the row: never touch another tenant's counter.
  if auth.role() = 'authenticated'
     and not private.has_role_on_organization(new.organization_id, 'member') then
    raise exception 'new row violates row-level security policy for table "invoices"'
      using errcode = '42501';
  end if;
  if new.currency is null then
    select c.currency into new.currency
    from public.clients c
    where c.id = new.client_id and c.organization_id = new.organization_id;
    -- Otherwise the NOT NULL on currency would report a missing currency.
    if not found and new.client_id is not null then
      raise exception 'client % is not a client of this organization', new.client_id
        using errcode = '23503', constraint = 'invoices_client_in_organization_and_currency_fkey';
    end if;
  end if;
  new.invoice_number := nullif(btrim(new.invoice_number), '');
  if new.invoice_number is null then
    new.invoice_number := private.assign_invoice_number(new.organization_id);
  end if;
  if new.due_date is null then
    new.due_date := new.issue_date + case new.payment_terms
      when 'due_on_receipt' then 0 when 'net7' then 7 when 'net15' then 15
      when 'net45' then 45 when 'net60' then 60 when 'net90' then 90 else 30 end;
  end if;
  -- Totals start from nothing: items and payments bring them.
  new.subtotal := 0;
  new.amount_paid := 0;
  return new;
end;
$$;

-- Recomputes tax and total from subtotal, discount and tax rate on every write
-- (so totals follow the tax rate and the discount, not only the items), and
-- keeps the status consistent with the money.
create or replace function private.prepare_invoice_row()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  balance numeric;
begin
  new.discount := private.checked_money(new.discount, new.currency, 'discount');
  new.subtotal := private.round_money(new.subtotal, new.currency);
  new.amount_paid := private.round_money(new.amount_paid, new.currency);
  if new.discount > new.subtotal then
    raise exception 'discount (%) exceeds the subtotal (%)', new.discount, new.subtotal
      using errcode = '23514', constraint = 'invoices_discount_not_above_subtotal';
  end if;
  new.tax_amount := private.round_money((new.subtotal - new.discount) * new.tax_rate / 100, new.currency);
  new.total_amount := new.subtotal - new.discount + new.tax_amount;
  balance := new.total_amount - new.amount_paid;
  if balance < 0 then
    raise exception 'the invoice total (%) cannot be less than what has been paid (%)',
      new.total_amount, new.amount_paid
      using errcode = '23514', constraint = 'invoices_amount_paid_not_above_total';
  end if;

  if tg_op = 'UPDATE' and new.status is distinct from old.status then
    if old.status = 'cancelled' then
      raise exception 'a cancelled invoice cannot change status' using errcode = '23514';
    elsif new.status = 'draft' then
      raise exception 'an invoice cannot go back to draft once it has left it'
        using errcode = '23514', hint = 'Cancel it and create a new one.';
    elsif new.status = 'cancelled' and new.amount_paid > 0 then
      raise exception 'an invoice with payments cannot be cancelled'
        using errcode = '23514', hint = 'Delete its payments first.';
    elsif new.status = 'paid' and balance > 0 then
      raise exception 'an invoice is paid when its payments cover the total; % is still due', balance
        using errcode = '23514', hint = 'Record a payment for the balance.';
    elsif new.status = 'overdue' and old.status = 'draft' then
      raise exception 'a draft cannot be overdue; send it first' using errcode = '23514';
    end if;
  end if;

  -- Money decides between sent/overdue and paid.
  if new.status in ('sent', 'overdue') and balance = 0 then
    new.status := 'paid';
  elsif new.status = 'paid' and balance > 0 then
    -- Reopened by a removed payment or a larger total.
    new.status := case when new.due_date < current_date then 'overdue' else 'sent' end;
  end if;

  if new.status = 'draft' and new.amount_paid > 0 then
    raise exception 'a draft invoice cannot have payments' using errcode = '23514';
  end if;

  if new.status <> 'draft' and (tg_op = 'INSERT' or old.status = 'draft') then
    new.sent_at := coalesce(new.sent_at, now());
  end if;
  new.paid_at := case when new.status = 'paid'
                      then coalesce(case when tg_op = 'UPDATE' then old.paid_at end, now()) end;
  new.cancelled_at := case when new.status = 'cancelled'
                           then coalesce(case when tg_op = 'UPDATE' then old.cancelled_at end, now()) end;
  return new;
end;
$$;

-- Only drafts may be deleted; anything that reached a client is cancelled
-- instead and stays on record. Deleting the whole organization cascades past
-- this rule.
create or replace function private.only_drafts_are_deleted()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if old.status <> 'draft' and pg_trigger_depth() <= 1 then
    raise exception 'only draft invoices can be deleted; invoice % is %', old.invoice_number, old.status
      using errcode = '23514', hint = 'Cancel the invoice instead.';
  end if;
  return old;
end;
$$;

-- private.refresh_client_totals: defined in 20261206110200 (its final form; nothing is deployed)

-- Client totals count only sent, paid and overdue invoices: a change to an
-- invoice that is in none of them before or after (a draft growing with its
-- items, above all) cannot change them, so its client is not refreshed, and
-- when no client is left nothing runs at all.
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
        and (n.client_id, n.status, n.total_amount, n.amount_paid, n.issue_date)
            is distinct from (o.client_id, o.status, o.total_amount, o.amount_paid, o.issue_date)
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

-- An item may name only its invoice: organization and currency come from it.
-- Security invoker: another tenant's invoice is as absent as a missing one.
create or replace function private.complete_new_invoice_item()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  select coalesce(new.organization_id, i.organization_id), coalesce(new.currency, i.currency)
  into new.organization_id, new.currency
  from public.invoices i
  where i.id = new.invoice_id;
  return new;
end;
$$;

-- private.refresh_invoice_subtotals: its form before 20261206170400, which tests/db/test_tax_model_keeps_totals.py
-- makes documents with; 20261206170400 replaces it whole (its final form).
--
-- Sums the subtotal of every invoice whose items a statement touched, once per
-- invoice (the seed recomputed everything once per item row). The invoice's own
-- trigger then derives tax, total and status. The same lock query refuses
-- changes to the items of a paid or cancelled invoice: settled history does not
-- change (cascades — the invoice deleted, or its currency key updated — pass).
create or replace function private.refresh_invoice_subtotals(invoice_ids uuid[])
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  settled record;
begin
  select i.invoice_number, i.status into settled
  from (
    select i.invoice_number, i.status
    from public.invoices i
    where i.id = any (invoice_ids)
    order by i.id
    for no key update
  ) i
  where i.status in ('paid', 'cancelled') and pg_trigger_depth() <= 1
  limit 1;
  if found then
    raise exception 'the items of % invoice % cannot change', settled.status, settled.invoice_number
      using errcode = '23514';
  end if;
  update public.invoices i
  set subtotal = t.subtotal
  from (
    select iid as invoice_id, coalesce(sum(it.amount), 0) as subtotal
    from unnest(invoice_ids) iid
    left join public.invoice_items it on it.invoice_id = iid
    group by iid
  ) t
  where i.id = t.invoice_id and i.subtotal is distinct from t.subtotal;
end;
$$;

create or replace function private.invoice_items_changed()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    perform private.refresh_invoice_subtotals(array(select distinct invoice_id from new_rows));
  elsif tg_op = 'DELETE' then
    perform private.refresh_invoice_subtotals(array(select distinct invoice_id from old_rows));
  else
    perform private.refresh_invoice_subtotals(array(
      select invoice_id from new_rows union select invoice_id from old_rows
    ));
  end if;
  return null;
end;
$$;

-- Days from issue to due date of the payment terms; null for 'custom'.
create or replace function private.payment_terms_days(terms text)
returns integer
language sql
immutable
parallel safe
set search_path = ''
as $$
  select case terms
    when 'due_on_receipt' then 0 when 'net7' then 7 when 'net15' then 15 when 'net30' then 30
    when 'net45' then 45 when 'net60' then 60 when 'net90' then 90
  end
$$;

-- Refuses a JSON argument that is not an object or has keys outside `allowed`
-- (the API validates first; this guards direct RPC callers).
create or replace function private.refuse_unknown_keys(doc jsonb, allowed text[], what text)
returns void
language plpgsql
immutable
set search_path = ''
as $$
declare
  unknown text;
begin
  if doc is null then
    return;
  end if;
  if jsonb_typeof(doc) <> 'object' then
    raise exception '% must be an object', what using errcode = '22023';
  end if;
  select k into unknown from jsonb_object_keys(doc) k where k <> all (allowed) order by k limit 1;
  if found then
    raise exception '%: unknown field %', what, unknown using errcode = '22023';
  end if;
end;
$$;

-- private.invoice_items_content: defined in 20261206170400 (its final form; nothing is deployed)

-- private.apply_invoice_items: its form before 20261206170400, which tests/db/test_tax_model_keeps_totals.py
-- makes documents with; 20261206170400 replaces it whole (its final form).
--
-- Writes the items of one invoice from a JSON list.
--   replace: the list is the whole new list, in order (positions 0..n-1). An
--            entry with "id" updates that item with the fields it gives, an
--            entry without is a new item, and items not listed are removed.
--   patch:   only the listed items are touched. With "id": the fields given
--            change ("_delete": true removes it); without: a new item,
--            appended after the others unless it gives a position.
-- Afterwards the invoice has 1 to 200 items. The item triggers recompute the
-- subtotal (and refuse changes to paid or cancelled invoices).
create or replace function private.apply_invoice_items(target uuid, items jsonb, mode text)
returns void
language plpgsql
security invoker
set search_path = ''
as $$
declare
  inv record;
  listed uuid[];
  existing uuid[];
  stray uuid;
  base integer;
  remaining integer;
begin
  if items is null then
    return;
  end if;
  if mode is null or mode not in ('replace', 'patch') then
    raise exception 'items_mode must be replace or patch' using errcode = '22023';
  end if;
  if jsonb_typeof(items) <> 'array' then
    raise exception 'items must be a list' using errcode = '22023';
  end if;
  if jsonb_array_length(items) > 200 then
    raise exception 'an invoice has at most 200 items' using errcode = '22023';
  end if;
  perform private.refuse_unknown_keys(
    e, array['id', 'description', 'quantity', 'rate', 'position', '_delete'], 'item')
  from jsonb_array_elements(items) e;
  if exists (select 1 from jsonb_array_elements(items) e where e ? '_delete') then
    if mode = 'replace' then
      raise exception '"_delete" is for items_mode patch; in replace mode leave the item out'
        using errcode = '22023';
    elsif exists (select 1 from jsonb_array_elements(items) e
                  where e ? '_delete' and e ->> 'id' is null) then
      raise exception 'an item to delete needs its id' using errcode = '22023';
    end if;
  end if;

  select i.organization_id, i.currency into inv from public.invoices i where i.id = target;

  select coalesce(array_agg((e ->> 'id')::uuid), '{}') into listed
  from jsonb_array_elements(items) e
  where e ->> 'id' is not null;
  if cardinality(listed) <> (select count(distinct x) from unnest(listed) x) then
    raise exception 'an item is listed twice' using errcode = '22023';
  end if;
  select x into stray
  from unnest(listed) x
  where not exists (select 1 from public.invoice_items it where it.id = x and it.invoice_id = target)
  limit 1;
  if found then
    raise exception 'item % is not an item of this invoice', stray using errcode = '23503';
  end if;

  -- New items first, then changes, then deletions.
  select coalesce(array_agg(it.id), '{}'), coalesce(max(it.position) + 1, 0) into existing, base
  from public.invoice_items it
  where it.invoice_id = target;
  insert into public.invoice_items
    (organization_id, invoice_id, currency, position, description, quantity, rate)
  select inv.organization_id, target, inv.currency,
         case when mode = 'replace' then t.ord::integer - 1
              else coalesce((t.x ->> 'position')::integer,
                            base + (row_number() over (order by t.ord))::integer - 1) end,
         t.x ->> 'description', (t.x ->> 'quantity')::numeric, (t.x ->> 'rate')::numeric
  from jsonb_array_elements(items) with ordinality as t(x, ord)
  where t.x ->> 'id' is null
  order by t.ord;

  update public.invoice_items it
  set description = coalesce(e.description, it.description),
      quantity = coalesce(e.quantity, it.quantity),
      rate = coalesce(e.rate, it.rate),
      position = coalesce(e.pos, it.position)
  from (
    select (x ->> 'id')::uuid as id,
           x ->> 'description' as description,
           (x ->> 'quantity')::numeric as quantity,
           (x ->> 'rate')::numeric as rate,
           case when mode = 'replace' then ord::integer - 1 else (x ->> 'position')::integer end as pos
    from jsonb_array_elements(items) with ordinality as t(x, ord)
    where x ->> 'id' is not null and not coalesce((x ->> '_delete')::boolean, false)
  ) e
  where it.id = e.id
    and it.invoice_id = target
    and (it.description, it.quantity, it.rate, it.position)
        is distinct from (coalesce(e.description, it.description), coalesce(e.quantity, it.quantity),
                          coalesce(e.rate, it.rate), coalesce(e.pos, it.position));

  -- Deletions last: the subtotal never passes through zero on the way, which
  -- would make a sent invoice paid.
  if mode = 'replace' then
    delete from public.invoice_items it
    where it.invoice_id = target and it.id = any (existing) and it.id <> all (listed);
  else
    delete from public.invoice_items it
    where it.invoice_id = target
      and it.id in (select (e ->> 'id')::uuid from jsonb_array_elements(items) e
                    where coalesce((e ->> '_delete')::boolean, false));
  end if;

  select count(*) into remaining from public.invoice_items it where it.invoice_id = target;
  if remaining = 0 then
    raise exception 'an invoice needs at least one item' using errcode = '23514';
  elsif remaining > 200 then
    raise exception 'an invoice has at most 200 items; this one would have %', remaining
      using errcode = '23514';
  end if;
end;
$$;

-- public.create_invoice: defined in 20261206110100 (its form before 20261206170400) and finally in 20261206171200

-- public.update_invoice: defined in 20261206171200 (its final form; nothing is deployed)

-- public.delete_invoice: defined in 20261206110200 (its final form; nothing is deployed)

create or replace function private.refuse_payments_on_cancelled_invoice()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'invoice % is cancelled and cannot receive payments', new.invoice_number
    using errcode = '23514',
          hint = 'The invoice was cancelled while the payment was being recorded.';
end;
$$;

create or replace function private.given_number_waits_for_the_counter()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  given text := pg_catalog.btrim(new.invoice_number);
begin
  -- Someone writing into an organization they may not write into is refused by row
  -- level security after this trigger: no lock for them, and no answer about the
  -- numbers that organization uses.
  if auth.uid() is not null
     and not private.has_role_on_organization(new.organization_id, 'member') then
    return new;
  end if;
  perform 1
  from public.organization_settings s
  where s.organization_id = new.organization_id
  for no key update;
  -- Whoever held the lock has committed: a number it took is visible now. Refused
  -- here with the message create_invoice gives, rather than the unique index's.
  if exists (select 1 from public.invoices i
             where i.organization_id = new.organization_id and i.invoice_number = given
               and i.id is distinct from new.id) then
    raise exception 'invoice number % is already used in this organization', given
      using errcode = '23505', constraint = 'invoices_invoice_number_unique_in_organization',
            detail = pg_catalog.format(
              'Key (organization_id, invoice_number)=(%s, %s) already exists'
              ' (unique constraint invoices_invoice_number_unique_in_organization).',
              new.organization_id, given);
  end if;
  return new;
end;
$$;

-- private.invoice_changed_fields: its form before 20261206170400, which tests/db/test_tax_model_keeps_totals.py
-- makes documents with; 20261206171200 replaces it whole (its final form).
--
-- The fields of an invoice that differ between two versions of its row, in the
-- order the messages list them (the money and the status, which the triggers
-- derive, aside).
create or replace function private.invoice_changed_fields(before public.invoices, after public.invoices)
returns text[]
language sql
immutable
set search_path = ''
as $$
  select array_remove(array[
    case when after.client_id is distinct from before.client_id then 'client_id' end,
    case when after.invoice_number is distinct from before.invoice_number then 'invoice_number' end,
    case when after.issue_date is distinct from before.issue_date then 'issue_date' end,
    case when after.due_date is distinct from before.due_date then 'due_date' end,
    case when after.payment_terms is distinct from before.payment_terms then 'payment_terms' end,
    case when after.tax_rate is distinct from before.tax_rate then 'tax_rate' end,
    case when after.discount is distinct from before.discount then 'discount' end,
    case when after.notes is distinct from before.notes then 'notes' end,
    case when after.terms is distinct from before.terms then 'terms' end,
    case when after.payment_instructions is distinct from before.payment_instructions
         then 'payment_instructions' end,
    case when after.template is distinct from before.template then 'template' end
  ], null)
$$;

-- What may change on an invoice, by status (the head of this file): the rule,
-- written once. The table's trigger a_issued_invoice_keeps_its_identity holds it for
-- every write of the API roles; public.update_invoice asks it too, before its other
-- checks, so that its answers come in the order they always did. `changed` is
-- private.invoice_changed_fields of the write; `frozen_by_payments` the fields an
-- open invoice with payments keeps: the tax rate, and for update_invoice the discount
-- too (the trigger cannot hold the discount: update_invoice clears it for a moment
-- while it replaces the items).
create or replace function private.refuse_change_by_status(
  invoice public.invoices, changed text[], has_payments boolean, frozen_by_payments text[]
)
returns void
language plpgsql
immutable
set search_path = ''
as $$
declare
  refused text[];
begin
  if invoice.status in ('sent', 'overdue') then
    refused := array(select f from unnest(changed) with ordinality as c (f, n)
                     where f in ('client_id', 'invoice_number', 'issue_date') order by n);
    if cardinality(refused) > 0 then
      raise exception 'invoice % has been sent: its % can no longer change',
        invoice.invoice_number, array_to_string(refused, ', ')
        using errcode = '23514', hint = 'Cancel it and create a new invoice.';
    end if;
    refused := array(select f from unnest(changed) with ordinality as c (f, n)
                     where f = any (frozen_by_payments) order by n);
    if has_payments and cardinality(refused) > 0 then
      raise exception 'invoice % has payments: its % can no longer change',
        invoice.invoice_number, array_to_string(refused, ', ')
        using errcode = '23514', hint = 'Delete its payments first.';
    end if;
  elsif invoice.status in ('paid', 'cancelled') then
    refused := array(select f from unnest(changed) with ordinality as c (f, n)
                     where f <> 'notes' order by n);
    if cardinality(refused) > 0 then
      raise exception 'invoice % is %: only its notes can change; not its %',
        invoice.invoice_number, invoice.status, array_to_string(refused, ', ')
        using errcode = '23514';
    end if;
  end if;
end;
$$;

-- private.issued_invoice_keeps_its_identity: its form before 20261206170400, which tests/db/test_tax_model_keeps_totals.py
-- makes documents with; 20261206170400 replaces it whole (its final form).
--
-- The trigger of the rule above, for the API roles (anon, authenticated): the
-- service role and the database owner keep the means to correct a record.
create or replace function private.issued_invoice_keeps_its_identity()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if current_user in ('anon', 'authenticated') then
    perform private.refuse_change_by_status(
      old, private.invoice_changed_fields(old, new), old.amount_paid > 0, array['tax_rate']);
  end if;
  return new;
end;
$$;

-- =============================================================================
-- Triggers
-- =============================================================================

-- All of the invoices table's triggers, in the order they fire. PostgreSQL fires the
-- triggers of one table with the same timing and event in the order of their names,
-- so the BEFORE triggers' prefixes (a0_, a_, b_, c_) are their order: a renamed or
-- new trigger takes its place in this list by its name. The order, event by event
-- (audit_*: private.enable_audit, below):
--   before insert:  a0_given_number_waits_for_the_counter, a_complete_new_invoice,
--                   b_prepare_invoice_row
--   after insert:   audit_inserts, refresh_client_totals_after_insert
--   before update:  a0_renumbering_waits_for_the_counter,
--                   a_issued_invoice_keeps_its_identity, b_prepare_invoice_row,
--                   c_cancelled_invoice_takes_no_payments, set_updated_at
--   after update:   audit_updates, refresh_client_totals_after_update
--   before delete:  only_drafts_are_deleted
--   after delete:   audit_deletes, refresh_client_totals_after_delete

-- Before a_complete_new_invoice (triggers of one kind fire in name order: '0' sorts
-- before '_'), which assigns the counter's number when none is given.
create trigger a0_given_number_waits_for_the_counter
  before insert on public.invoices
  for each row
  when (nullif(btrim(new.invoice_number), '') is not null)
  execute function private.given_number_waits_for_the_counter();

create trigger a0_renumbering_waits_for_the_counter
  before update of invoice_number on public.invoices
  for each row
  when (new.invoice_number is distinct from old.invoice_number)
  execute function private.given_number_waits_for_the_counter();

create trigger a_complete_new_invoice
  before insert on public.invoices
  for each row execute function private.complete_new_invoice();

-- Before b_prepare_invoice_row (triggers of one kind fire in name order): the row
-- as the caller wrote it.
create trigger a_issued_invoice_keeps_its_identity
  before update on public.invoices
  for each row
  when (old.status <> 'draft')
  execute function private.issued_invoice_keeps_its_identity();

create trigger b_prepare_invoice_row
  before insert or update on public.invoices
  for each row execute function private.prepare_invoice_row();

-- After b_prepare_invoice_row (triggers of one kind fire in name order), so NEW
-- is the row as the status rules left it.
create trigger c_cancelled_invoice_takes_no_payments
  before update on public.invoices
  for each row
  when (new.status = 'cancelled' and new.amount_paid > old.amount_paid)
  execute function private.refuse_payments_on_cancelled_invoice();

create trigger only_drafts_are_deleted
  before delete on public.invoices
  for each row execute function private.only_drafts_are_deleted();

create trigger set_updated_at before update on public.invoices
  for each row execute function private.set_updated_at();

select private.enable_audit('public.invoices', array['updated_at']);

create trigger refresh_client_totals_after_delete
  after delete on public.invoices referencing old table as old_rows
  for each statement execute function private.invoices_changed();

create trigger refresh_client_totals_after_insert
  after insert on public.invoices referencing new table as new_rows
  for each statement execute function private.invoices_changed();

create trigger refresh_client_totals_after_update
  after update on public.invoices referencing old table as old_rows new table as new_rows
  for each statement execute function private.invoices_changed();

-- The other tables' triggers.

create trigger set_updated_at before update on public.invoice_items
  for each row execute function private.set_updated_at();

create trigger complete_new_invoice_item
  before insert on public.invoice_items
  for each row when (new.organization_id is null or new.currency is null)
  execute function private.complete_new_invoice_item();

create trigger refresh_invoice_totals_after_insert
  after insert on public.invoice_items referencing new table as new_rows
  for each statement execute function private.invoice_items_changed();

create trigger refresh_invoice_totals_after_update
  after update on public.invoice_items referencing old table as old_rows new table as new_rows
  for each statement execute function private.invoice_items_changed();

create trigger refresh_invoice_totals_after_delete
  after delete on public.invoice_items referencing old table as old_rows
  for each statement execute function private.invoice_items_changed();

select private.enable_audit('public.invoice_items', array['updated_at']);

-- =============================================================================
-- Policies
-- =============================================================================

create policy "Members can view their organization's invoices"
  on public.invoices for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can create invoices in their organization"
  on public.invoices for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can update their organization's invoices"
  on public.invoices for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can delete their organization's draft invoices"
  on public.invoices for delete to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can view their organization's invoice items"
  on public.invoice_items for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can add items to their organization's invoices"
  on public.invoice_items for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can update their organization's invoice items"
  on public.invoice_items for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can delete their organization's invoice items"
  on public.invoice_items for delete to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

-- =============================================================================
-- Views
-- =============================================================================

-- invoice_list: GET /api/invoices reads this view, so that one query can
-- search the client's name next to the number, sort by it, and filter the
-- invoices that are overdue in fact (status overdue, or sent and past due
-- before the daily job has marked them). Security invoker: the caller's row
-- level security applies to both tables.
create or replace view public.invoice_list with (security_invoker = true) as
select
  i.id, i.organization_id, i.client_id, c.company_name as client_company_name,
  i.invoice_number, i.issue_date, i.due_date, i.payment_terms, i.status, i.currency,
  i.subtotal, i.tax_rate, i.tax_amount, i.discount, i.total_amount, i.amount_paid,
  i.balance_due, i.template, i.sent_at, i.paid_at, i.cancelled_at, i.created_at, i.updated_at,
  (i.status = 'overdue' or (i.status = 'sent' and i.due_date < current_date)) as is_overdue
from public.invoices i
join public.clients c on c.id = i.client_id and c.organization_id = i.organization_id;

-- =============================================================================
-- Grants
-- =============================================================================

revoke all on public.invoices, public.invoice_items from anon, authenticated;

grant select, delete on public.invoices to authenticated;

grant insert (
  id, organization_id, client_id, invoice_number, issue_date, due_date, payment_terms, status,
  currency, tax_rate, discount, notes, terms, payment_instructions, template
) on public.invoices to authenticated;

grant update (
  client_id, invoice_number, issue_date, due_date, payment_terms, status, currency, tax_rate,
  discount, notes, terms, payment_instructions, template
) on public.invoices to authenticated;

grant select, delete on public.invoice_items to authenticated;

grant insert (id, organization_id, invoice_id, currency, position, description, quantity, rate)
  on public.invoice_items to authenticated;

grant update (position, description, quantity, rate) on public.invoice_items to authenticated;

revoke all on public.invoice_list from anon, authenticated, service_role;

grant select on public.invoice_list to authenticated, service_role;

grant execute on function
  private.payment_terms_days(text),
  private.refuse_unknown_keys(jsonb, text[], text),
  private.apply_invoice_items(uuid, jsonb, text)
  to authenticated;

revoke all on function private.refuse_payments_on_cancelled_invoice() from public;
revoke all on function private.given_number_waits_for_the_counter() from public;
revoke execute on function private.issued_invoice_keeps_its_identity() from public;

-- The trigger above runs as the writer: the API role calls the rule.
grant execute on function
  private.invoice_changed_fields(public.invoices, public.invoices),
  private.refuse_change_by_status(public.invoices, text[], boolean, text[])
  to authenticated;

revoke execute on all functions in schema private, public from public;
