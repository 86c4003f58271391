-- =============================================================================
-- Payments received against invoices.
--
-- A payment belongs to an invoice of the same organization (composite foreign
-- key) and is in its currency. Recording, changing or deleting payments
-- recomputes the invoice's amount_paid from the sum of its payments (never more
-- than its total), which moves its status between sent/overdue and paid, which
-- refreshes the client's totals. The seed attached the client-totals trigger to
-- payments, whose rows have no client_id, so every payment failed; here the
-- chain goes payment -> invoice -> client.
--
-- The HTTP API's payment writes: record, change and delete a payment in one
-- round trip each, answering with the payment and the invoice's new
-- amount_paid, balance_due and status (the triggers of the payments migration
-- move them; these functions only read them back).
--
-- Every function is SECURITY INVOKER: row level security decides, exactly as
-- for a direct table write. They add what a direct write cannot say well:
--   * the organization the caller acts in is explicit, so an invoice or payment
--     of another organization -- even one the caller also belongs to -- is
--     "not found" (P0002), exactly like one that does not exist;
--   * a payment above the balance due is refused with a message that names
--     the balance (23514), before the generic "sum above total" of the trigger;
--   * the payment date is at most one day ahead (time zones) and not before
--     2000-01-01, the method is one of the table's, texts are within length.
-- Overpayment is never accepted: there is no client credit in this schema.
--
-- The invoice is locked (FOR NO KEY UPDATE) before its balance is read, so two
-- concurrent payments against one invoice are serialized: the second one sees
-- the first one's amount and is refused if the two would overpay.
-- =============================================================================

-- =============================================================================
-- Tables
-- =============================================================================

create table public.payments (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  invoice_id uuid not null,
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  amount numeric not null check (amount > 0 and amount < 1e12),
  currency text not null,
  payment_date date not null default current_date,
  payment_method text not null default 'bank_transfer'
    check (payment_method in ('bank_transfer', 'credit_card', 'paypal', 'check', 'cash', 'other')),
  reference_number text check (length(reference_number) <= 100),
  notes text check (length(notes) <= 2000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint payments_invoice_in_organization_fkey
    foreign key (organization_id, invoice_id, currency)
    references public.invoices (organization_id, id, currency) on delete cascade on update cascade
);

alter table public.payments enable row level security;

-- Realtime: the frontend subscribes to these tables' changes.
alter publication supabase_realtime add table public.invoices, public.payments, public.client_activities;

-- =============================================================================
-- Indexes
-- =============================================================================

create index payments_invoice_date_idx on public.payments (invoice_id, payment_date);
create index payments_organization_date_idx on public.payments (organization_id, payment_date desc);
create index payments_organization_method_idx on public.payments (organization_id, payment_method);

-- Deleting a user looks up the rows that name it (the foreign key is ON DELETE
-- SET NULL or CASCADE); partial: the NULLs are never looked up.
create index payments_created_by_idx on public.payments (created_by) where created_by is not null;

-- =============================================================================
-- Functions
-- =============================================================================

-- Takes organization and currency from the invoice when not given, checks that
-- the invoice can receive payments, and that the amount fits the currency.
-- Security invoker: the invoice is looked up with the caller's rights, so another
-- tenant's invoice is as absent as one that does not exist.
create or replace function private.prepare_payment_row()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  inv record;
begin
  if tg_op = 'UPDATE' and new.invoice_id = old.invoice_id and new.amount = old.amount then
    return new;  -- date, method, reference or notes: nothing to check
  end if;
  select i.organization_id, i.currency, i.status, i.invoice_number into inv
  from public.invoices i
  where i.id = new.invoice_id;
  if not found then
    return new;  -- the foreign key reports the missing invoice
  end if;
  new.organization_id := coalesce(new.organization_id, inv.organization_id);
  new.currency := coalesce(new.currency, inv.currency);
  if new.organization_id = inv.organization_id then
    if inv.status = 'draft' then
      raise exception 'invoice % is a draft; send it before recording payments', inv.invoice_number
        using errcode = '23514';
    elsif inv.status = 'cancelled' then
      raise exception 'invoice % is cancelled and cannot receive payments', inv.invoice_number
        using errcode = '23514';
    end if;
  end if;
  new.amount := private.checked_money(new.amount, new.currency, 'payment amount');
  return new;
end;
$$;

-- private.refresh_amounts_paid: defined in 20261206110200 (its final form; nothing is deployed)

create or replace function private.payments_changed()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    perform private.refresh_amounts_paid(array(select distinct invoice_id from new_rows));
    -- The payment goes on the client's timeline.
    insert into public.client_activities (organization_id, client_id, created_by, activity, type, metadata)
    select i.organization_id, i.client_id, n.created_by,
           format('Payment of %s %s received for invoice %s', n.amount, n.currency, i.invoice_number),
           'payment',
           jsonb_build_object('payment_id', n.id, 'invoice_id', i.id, 'amount', n.amount,
                              'currency', n.currency, 'payment_method', n.payment_method)
    from new_rows n
    join public.invoices i on i.id = n.invoice_id;
  elsif tg_op = 'DELETE' then
    perform private.refresh_amounts_paid(array(select distinct invoice_id from old_rows));
  else
    perform private.refresh_amounts_paid(array(
      select invoice_id from new_rows union select invoice_id from old_rows
    ));
  end if;
  return null;
end;
$$;

-- private.payment_json: defined in 20261206110200 (its final form; nothing is deployed)

-- The checks every write of a payment makes on its own fields (the amount's
-- decimals are checked by the row trigger, which knows the currency).
create or replace function private.check_payment_fields(
  amount numeric, payment_date date, payment_method text, reference_number text, notes text
)
returns void
language plpgsql
stable
set search_path = ''
as $$
begin
  if amount is null or amount <= 0 then
    raise exception 'a payment amount must be greater than zero' using errcode = '23514';
  end if;
  if amount >= 1e12 then
    raise exception 'a payment amount must be less than 1,000,000,000,000' using errcode = '23514';
  end if;
  if payment_date is null then
    raise exception 'a payment needs a payment_date' using errcode = '23502';
  end if;
  if payment_date > current_date + 1 then
    raise exception 'payment_date % is in the future; record payments once received', payment_date
      using errcode = '23514', hint = 'The payment date may be at most one day ahead.';
  end if;
  if payment_date < date '2000-01-01' then
    raise exception 'payment_date % is before 2000-01-01', payment_date using errcode = '23514';
  end if;
  if payment_method is null
     or payment_method not in ('bank_transfer', 'credit_card', 'paypal', 'check', 'cash', 'other') then
    raise exception 'payment_method must be one of bank_transfer, credit_card, paypal, check, cash, other'
      using errcode = '23514';
  end if;
  if length(reference_number) > 100 then
    raise exception 'reference_number is longer than 100 characters' using errcode = '23514';
  end if;
  if length(notes) > 2000 then
    raise exception 'notes are longer than 2000 characters' using errcode = '23514';
  end if;
end;
$$;

-- The invoice a payment is recorded against, locked, if it is in the
-- organization and visible to the caller; P0002 otherwise.
create or replace function private.lock_payable_invoice(organization_id uuid, target uuid)
returns public.invoices
language plpgsql
volatile
set search_path = ''
as $$
declare
  inv public.invoices;
begin
  select * into inv
  from public.invoices i
  where i.id = target and i.organization_id = lock_payable_invoice.organization_id
  for no key update;
  if not found then
    raise exception 'invoice not found' using errcode = 'P0002';
  end if;
  return inv;
end;
$$;

-- Refuses an amount the invoice cannot take: drafts and cancelled invoices take
-- none, and no invoice takes more than its balance (`room`, which for a change
-- includes the payment's own current amount).
create or replace function private.check_payable(inv public.invoices, amount numeric, room numeric)
returns void
language plpgsql
stable
set search_path = ''
as $$
begin
  if inv.status = 'draft' then
    raise exception 'invoice % is a draft; send it before recording payments', inv.invoice_number
      using errcode = '23514';
  elsif inv.status = 'cancelled' then
    raise exception 'invoice % is cancelled and cannot receive payments', inv.invoice_number
      using errcode = '23514';
  end if;
  if amount > room then
    if room <= 0 then
      raise exception 'invoice % is already paid in full', inv.invoice_number
        using errcode = '23514', hint = 'Nothing is due on it.';
    end if;
    raise exception 'a payment of % % is more than the balance due of % % on invoice %',
      amount, inv.currency, room, inv.currency, inv.invoice_number
      using errcode = '23514',
            constraint = 'invoices_amount_paid_not_above_total',
            hint = pg_catalog.format('The payment can be at most %s %s.', room, inv.currency);
  end if;
end;
$$;

-- public.record_payment: defined in 20261206110200 (its final form; nothing is deployed)

-- update_payment: changes the fields present in `changes` (amount,
-- payment_date, payment_method, reference_number, notes; null clears the last
-- two). The invoice of a payment does not change: delete and record instead.
create or replace function public.update_payment(
  organization_id uuid,
  payment_id uuid,
  changes jsonb default '{}'
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org_id uuid := update_payment.organization_id;
  patch jsonb := coalesce(update_payment.changes, '{}');
  unknown text;
  current_row public.payments;
  inv public.invoices;
  amt numeric;
  paid_on date;
  method text;
  ref text;
  note text;
  changed public.payments;
begin
  perform private.require_role(org_id, 'member', 'changing payments needs the member role or above');
  if jsonb_typeof(patch) <> 'object' then
    raise exception 'changes must be a JSON object' using errcode = '22023';
  end if;
  select k into unknown
  from jsonb_object_keys(patch) k
  where k not in ('amount', 'payment_date', 'payment_method', 'reference_number', 'notes')
  limit 1;
  if found then
    raise exception 'a payment has no changeable field %', unknown
      using errcode = '22023', hint = 'To move a payment to another invoice, delete it and record a new one.';
  end if;

  -- The payment's invoice first (the lock order of every payment write), then
  -- the payment.
  select p.* into current_row
  from public.payments p
  where p.id = update_payment.payment_id and p.organization_id = org_id;
  if not found then
    raise exception 'payment not found' using errcode = 'P0002';
  end if;
  inv := private.lock_payable_invoice(org_id, current_row.invoice_id);
  select p.* into current_row
  from public.payments p
  where p.id = update_payment.payment_id
  for update;
  if not found then
    raise exception 'payment not found' using errcode = 'P0002';
  end if;

  amt := case when patch ? 'amount' then (patch ->> 'amount')::numeric else current_row.amount end;
  paid_on := case when patch ? 'payment_date' then (patch ->> 'payment_date')::date
                  else current_row.payment_date end;
  method := case when patch ? 'payment_method' then patch ->> 'payment_method'
                 else current_row.payment_method end;
  ref := case when patch ? 'reference_number' then nullif(btrim(patch ->> 'reference_number'), '')
              else current_row.reference_number end;
  note := case when patch ? 'notes' then nullif(btrim(patch ->> 'notes'), '')
               else current_row.notes end;
  perform private.check_payment_fields(amt, paid_on, method, ref, note);
  amt := private.checked_money(amt, inv.currency, 'payment amount');
  if amt <> current_row.amount then
    -- Room on the invoice for this payment: its balance plus what the payment
    -- already counts for. Status rules apply only when the amount moves (a
    -- cancelled invoice has no payments; a paid one may correct its notes).
    perform private.check_payable(inv, amt, inv.balance_due + current_row.amount);
  end if;

  if (amt, paid_on, method, ref, note) is not distinct from
     (current_row.amount, current_row.payment_date, current_row.payment_method,
      current_row.reference_number, current_row.notes) then
    return private.payment_json(current_row);
  end if;

  update public.payments p
  set amount = amt,
      payment_date = paid_on,
      payment_method = method,
      reference_number = ref,
      notes = note
  where p.id = current_row.id
  returning p.* into changed;
  if not found then
    raise exception 'payment not found' using errcode = 'P0002';
  end if;

  return private.payment_json(changed);
end;
$$;

-- delete_payment: removes a payment; the invoice goes back to sent (or overdue
-- when past due) if it was paid. Returns the deleted payment with the invoice
-- as it is now.
create or replace function public.delete_payment(organization_id uuid, payment_id uuid)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org_id uuid := delete_payment.organization_id;
  target public.payments;
  removed public.payments;
begin
  perform private.require_role(org_id, 'member', 'deleting payments needs the member role or above');
  select p.* into target
  from public.payments p
  where p.id = delete_payment.payment_id and p.organization_id = org_id;
  if not found then
    raise exception 'payment not found' using errcode = 'P0002';
  end if;
  perform private.lock_payable_invoice(org_id, target.invoice_id);

  delete from public.payments p
  where p.id = target.id
  returning p.* into removed;
  if not found then
    raise exception 'payment not found' using errcode = 'P0002';
  end if;

  return private.payment_json(removed);
end;
$$;

-- =============================================================================
-- Triggers
-- =============================================================================

create trigger set_updated_at before update on public.payments
  for each row execute function private.set_updated_at();

create trigger prepare_payment_row
  before insert or update on public.payments
  for each row execute function private.prepare_payment_row();

create trigger refresh_amounts_paid_after_insert
  after insert on public.payments referencing new table as new_rows
  for each statement execute function private.payments_changed();

create trigger refresh_amounts_paid_after_update
  after update on public.payments referencing old table as old_rows new table as new_rows
  for each statement execute function private.payments_changed();

create trigger refresh_amounts_paid_after_delete
  after delete on public.payments referencing old table as old_rows
  for each statement execute function private.payments_changed();

select private.enable_audit('public.payments', array['updated_at']);

-- =============================================================================
-- Policies
-- =============================================================================

create policy "Members can view their organization's payments"
  on public.payments for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can record payments in their organization"
  on public.payments for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can update their organization's payments"
  on public.payments for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can delete their organization's payments"
  on public.payments for delete to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

-- =============================================================================
-- Grants
-- =============================================================================

revoke all on public.payments from anon, authenticated;

grant select, delete on public.payments to authenticated;

grant insert (
  id, organization_id, invoice_id, amount, currency, payment_date, payment_method,
  reference_number, notes
) on public.payments to authenticated;

grant update (amount, payment_date, payment_method, reference_number, notes)
  on public.payments to authenticated;

grant execute on function private.check_payment_fields(numeric, date, text, text, text) to authenticated;
grant execute on function private.lock_payable_invoice(uuid, uuid) to authenticated;
grant execute on function private.check_payable(public.invoices, numeric, numeric) to authenticated;
grant execute on function public.update_payment(uuid, uuid, jsonb) to authenticated;
grant execute on function public.delete_payment(uuid, uuid) to authenticated;

revoke execute on all functions in schema private, public from public;
