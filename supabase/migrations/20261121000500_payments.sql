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

create index payments_invoice_date_idx on public.payments (invoice_id, payment_date);
create index payments_organization_date_idx on public.payments (organization_id, payment_date desc);
create index payments_organization_method_idx on public.payments (organization_id, payment_method);

-- =============================================================================
-- Triggers
-- =============================================================================

create trigger set_updated_at before update on public.payments
  for each row execute function private.set_updated_at();

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

create trigger prepare_payment_row
  before insert or update on public.payments
  for each row execute function private.prepare_payment_row();

-- amount_paid of every invoice whose payments a statement touched, from the sum
-- of its payments. The invoices are locked first (in id order), so concurrent
-- payments against one invoice are serialized and each sees the others' rows:
-- never an over-payment, never a lost update.
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

  select i.invoice_number, i.total_amount, i.currency, t.paid into over
  from public.invoices i
  join (
    select p.invoice_id, sum(p.amount) as paid
    from public.payments p
    where p.invoice_id = any (invoice_ids)
    group by p.invoice_id
  ) t on t.invoice_id = i.id
  where t.paid > i.total_amount
  limit 1;
  if found then
    raise exception 'payments on invoice % would total % %, more than its total of % %',
      over.invoice_number, over.paid, over.currency, over.total_amount, over.currency
      using errcode = '23514',
            constraint = 'invoices_amount_paid_not_above_total',
            hint = 'A payment can be at most the balance due.';
  end if;

  update public.invoices i
  set amount_paid = t.paid
  from (
    select iid as invoice_id, coalesce(sum(p.amount), 0) as paid
    from unnest(invoice_ids) iid
    left join public.payments p on p.invoice_id = iid
    group by iid
  ) t
  where i.id = t.invoice_id and i.amount_paid is distinct from t.paid;
end;
$$;

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

create trigger refresh_amounts_paid_after_insert
  after insert on public.payments referencing new table as new_rows
  for each statement execute function private.payments_changed();
create trigger refresh_amounts_paid_after_update
  after update on public.payments referencing old table as old_rows new table as new_rows
  for each statement execute function private.payments_changed();
create trigger refresh_amounts_paid_after_delete
  after delete on public.payments referencing old table as old_rows
  for each statement execute function private.payments_changed();

-- =============================================================================
-- Row level security
-- =============================================================================

alter table public.payments enable row level security;

revoke all on public.payments from anon, authenticated;
grant select, delete on public.payments to authenticated;
grant insert (
  id, organization_id, invoice_id, amount, currency, payment_date, payment_method,
  reference_number, notes
) on public.payments to authenticated;
grant update (amount, payment_date, payment_method, reference_number, notes)
  on public.payments to authenticated;

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

select private.enable_audit('public.payments', array['updated_at']);

-- =============================================================================
-- Realtime: the frontend subscribes to these tables' changes.
-- =============================================================================

alter publication supabase_realtime add table public.invoices, public.payments, public.client_activities;

-- Nothing created above is executable by PUBLIC; the grants above say who may.
revoke execute on all functions in schema private, public from public;
