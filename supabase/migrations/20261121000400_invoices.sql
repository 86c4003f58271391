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

create index invoices_organization_status_due_date_idx on public.invoices (organization_id, status, due_date);
create index invoices_organization_due_date_idx on public.invoices (organization_id, due_date);
create index invoices_organization_client_idx on public.invoices (organization_id, client_id, issue_date desc);
create index invoices_organization_issue_date_idx on public.invoices (organization_id, issue_date desc);
create index invoices_client_status_idx on public.invoices (client_id, status);

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

create index invoice_items_invoice_idx on public.invoice_items (invoice_id, position);

-- =============================================================================
-- Numbering
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

-- =============================================================================
-- Triggers: invoices
-- =============================================================================

create trigger set_updated_at before update on public.invoices
  for each row execute function private.set_updated_at();

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

create trigger a_complete_new_invoice
  before insert on public.invoices
  for each row execute function private.complete_new_invoice();

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

create trigger b_prepare_invoice_row
  before insert or update on public.invoices
  for each row execute function private.prepare_invoice_row();

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

create trigger only_drafts_are_deleted
  before delete on public.invoices
  for each row execute function private.only_drafts_are_deleted();

-- Client totals, set-based, for the clients a statement touched.
--   total_billed        = sum(total) of sent, paid and overdue invoices
--   last_invoice_date   = latest issue date among them
--   outstanding_balance = sum(balance_due) of sent and overdue invoices,
--                         each invoice counted once (not once per payment)
-- The clients are locked first, so the sums read afterwards (a new snapshot in
-- READ COMMITTED) include every committed concurrent change.
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
           coalesce(sum(i.total_amount) filter (where i.status in ('sent', 'paid', 'overdue')), 0) as total_billed,
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

create trigger refresh_client_totals_after_insert
  after insert on public.invoices referencing new table as new_rows
  for each statement execute function private.invoices_changed();
create trigger refresh_client_totals_after_update
  after update on public.invoices referencing old table as old_rows new table as new_rows
  for each statement execute function private.invoices_changed();
create trigger refresh_client_totals_after_delete
  after delete on public.invoices referencing old table as old_rows
  for each statement execute function private.invoices_changed();

-- =============================================================================
-- Triggers: invoice items
-- =============================================================================

create trigger set_updated_at before update on public.invoice_items
  for each row execute function private.set_updated_at();

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

create trigger complete_new_invoice_item
  before insert on public.invoice_items
  for each row when (new.organization_id is null or new.currency is null)
  execute function private.complete_new_invoice_item();

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

create trigger refresh_invoice_totals_after_insert
  after insert on public.invoice_items referencing new table as new_rows
  for each statement execute function private.invoice_items_changed();
create trigger refresh_invoice_totals_after_update
  after update on public.invoice_items referencing old table as old_rows new table as new_rows
  for each statement execute function private.invoice_items_changed();
create trigger refresh_invoice_totals_after_delete
  after delete on public.invoice_items referencing old table as old_rows
  for each statement execute function private.invoice_items_changed();

-- =============================================================================
-- Row level security
-- =============================================================================

alter table public.invoices enable row level security;
alter table public.invoice_items enable row level security;

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

select private.enable_audit('public.invoices', array['updated_at']);
select private.enable_audit('public.invoice_items', array['updated_at']);

-- Nothing created above is executable by PUBLIC; the grants above say who may.
revoke execute on all functions in schema private, public from public;
