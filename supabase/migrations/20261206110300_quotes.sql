-- =============================================================================
-- Quotes (estimates): what a business offers before it bills, numbered in their
-- own sequence, printed and emailed like invoices, accepted or declined by the
-- client (recorded by a member), expired by a daily job, and converted into an
-- invoice in one transaction.
--
-- Money rules: the invoices' (20261206100600_invoices.sql), written with the
-- same helpers, on the quote's own columns:
--   item.amount   = round_half_up(quantity * rate, minor unit of the currency)
--   subtotal      = sum(item.amount)
--   tax_amount    = round_half_up((subtotal - discount) * tax_rate / 100, minor unit)
--   total_amount  = subtotal - discount + tax_amount          (discount <= subtotal)
-- A quote has no payments, so no amount paid and no balance.
--
-- Numbers: private.next_document_number(organization, 'quote', issue_date) (the
-- numbering migration 20261206110100: the organization's quote pattern and
-- counter, gapless, under a row lock). Quote numbers are never given by hand:
-- the counter alone hands them out, so a number is never taken twice. A failed
-- creation rolls its number back with it.
--
-- Dates: the issue date defaults to today where the business is
-- (private.organization_today); valid_until defaults to the issue date + 30 days
-- (QUOTE_VALIDITY_DAYS below; no setting yet: one number for every organization,
-- said in docs/api.md). A quote is valid through its valid_until day.
--
-- Status:
--   draft    -> sent        (emailed: POST /api/quotes/{id}/send, or PATCH status)
--   sent     -> accepted | declined   (the client's answer, recorded by a member;
--                                     only through valid_until in the
--                                     organization's time zone)
--   sent     -> expired     (public.job_expire_quotes, the day after valid_until)
--   accepted -> converted   (public.convert_quote: an invoice made from it)
--   converted -> accepted   (only when that invoice, a draft, is deleted: the
--                            foreign key sets invoice_id to null and the quote
--                            may be converted again)
-- declined and expired are final; nothing goes back to draft or sent.
--
-- What may change, by status (for the API roles, on the table itself, so a
-- direct PostgREST write is held to it as update_quote is):
--   draft      everything (its items too)
--   sent       notes, terms, template and valid_until. The client holds the
--              sent quote and may accept it as it stands: its client, issue date,
--              items, discount and tax rate are what they accept, so they stay.
--              (A different offer is a new quote.)
--   accepted, declined, expired, converted   notes only.
-- Only drafts may be deleted; a sent quote stays on record (declined, expired or
-- converted tells what became of it), unless its client is deleted (a client without
-- invoices may be: its quotes go with it).
--
-- Conversion (public.convert_quote): the accepted quote is locked (FOR UPDATE),
-- an invoice is created through public.create_invoice (as the caller: RLS, the
-- invoices' numbering and triggers) with the quote's client, currency, items,
-- discount, tax rate, template, notes and terms (a quote's empty notes or terms
-- leave the organization's defaults), dated today where the business is, as a
-- draft; then private.link_quote_and_invoice (a definer: neither
-- quotes.invoice_id nor invoices.quote_id is the API roles' to write) links both
-- ways and marks the quote converted. Racing conversions: the second waits for
-- the quote's lock, then finds it converted (23505, 409); a unique index on
-- invoices.quote_id keeps one invoice per quote whatever the path.
--
-- Errors: unknown or other-tenant quote -> P0002 (404); a refused transition or
-- change -> 23514 (422 rule_violation); converting a converted quote -> 23505
-- (409 conflict); a client that is not the organization's -> 23503 (422
-- invalid_reference); a malformed argument -> 22023 (422 validation_failed).
--
-- The expiry job (public.job_expire_quotes, service role): sent quotes whose
-- valid_until is before today in their organization's time zone become expired,
-- at most batch_limit a call (earliest first, FOR UPDATE SKIP LOCKED), so each
-- statement stays far inside the statement timeout; a second or concurrent run
-- finds nothing left to do (docs/architecture.md, "Statement timeouts").
-- =============================================================================

-- =============================================================================
-- Tables
-- =============================================================================

create table public.quotes (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  client_id uuid not null,
  quote_number text not null check (length(quote_number) between 1 and 50),
  issue_date date not null,
  valid_until date not null,
  status text not null default 'draft'
    check (status in ('draft', 'sent', 'accepted', 'declined', 'expired', 'converted')),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  subtotal numeric not null default 0 check (subtotal >= 0 and subtotal < 1e12),
  tax_rate numeric not null default 0 check (tax_rate >= 0 and tax_rate <= 100 and scale(tax_rate) <= 3),
  tax_amount numeric not null default 0 check (tax_amount >= 0),
  discount numeric not null default 0 check (discount >= 0),
  total_amount numeric not null default 0 check (total_amount >= 0),
  notes text check (length(notes) <= 5000),
  terms text check (length(terms) <= 5000),
  template text not null default 'professional'
    check (template in ('professional', 'modern', 'minimal')),
  -- The invoice made from it (status converted), linked both ways.
  invoice_id uuid,
  sent_at timestamptz,
  accepted_at timestamptz,
  declined_at timestamptz,
  expired_at timestamptz,
  converted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint quotes_valid_until_not_before_issue_date check (valid_until >= issue_date),
  constraint quotes_discount_not_above_subtotal check (discount <= subtotal),
  constraint quotes_converted_has_its_invoice check ((status = 'converted') = (invoice_id is not null)),
  constraint quotes_quote_number_unique_in_organization unique (organization_id, quote_number),
  -- A client is deleted only without invoices (invoices restrict it), and its quotes
  -- (offers, no money) go with it, as its activity timeline does; the audit log keeps
  -- them. A converted quote has an invoice, so its client is never deleted.
  constraint quotes_client_in_organization_and_currency_fkey
    foreign key (organization_id, client_id, currency)
    references public.clients (organization_id, id, currency) on delete cascade,
  -- The invoice's draft deleted: the quote is accepted again (prepare_quote_row).
  constraint quotes_invoice_fkey
    foreign key (organization_id, invoice_id)
    references public.invoices (organization_id, id) on delete set null (invoice_id),
  unique (organization_id, id),
  unique (organization_id, id, currency)
);

create table public.quote_items (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  quote_id uuid not null,
  currency text not null,
  position integer not null default 0 check (position >= 0),
  description text not null check (length(btrim(description)) between 1 and 2000),
  quantity numeric not null check (quantity > 0 and quantity < 1e9 and scale(quantity) <= 4),
  rate numeric not null check (rate >= 0 and rate < 1e12 and scale(rate) <= 4),
  amount numeric generated always as (private.round_money(quantity * rate, currency)) stored,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint quote_items_quote_fkey
    foreign key (organization_id, quote_id, currency)
    references public.quotes (organization_id, id, currency) on delete cascade on update cascade
);

-- The quote an invoice was made from (null for the others).
alter table public.invoices add column quote_id uuid;
alter table public.invoices add constraint invoices_quote_fkey
  foreign key (organization_id, quote_id)
  references public.quotes (organization_id, id) on delete set null (quote_id);

alter table public.quotes enable row level security;
alter table public.quote_items enable row level security;

-- =============================================================================
-- Indexes
-- =============================================================================

create index quotes_organization_status_valid_until_idx on public.quotes (organization_id, status, valid_until);
create index quotes_organization_issue_date_idx on public.quotes (organization_id, issue_date desc);
create index quotes_organization_client_idx on public.quotes (organization_id, client_id, issue_date desc);
create index quote_items_quote_idx on public.quote_items (quote_id, position);
-- The composite foreign key of the items (organization_id first: RLS's index condition).
create index quote_items_organization_quote_idx on public.quote_items (organization_id, quote_id, currency);
-- The expiry job's walk across organizations: sent quotes by date.
create index quotes_sent_valid_until_idx on public.quotes (valid_until, id) where status = 'sent';
create index quotes_invoice_idx on public.quotes (organization_id, invoice_id) where invoice_id is not null;
create index quotes_created_by_idx on public.quotes (created_by) where created_by is not null;
-- One invoice per quote, whatever the path; also the foreign key's index.
create unique index invoices_quote_id_unique_idx on public.invoices (quote_id) where quote_id is not null;
create index invoices_organization_quote_idx on public.invoices (organization_id, quote_id) where quote_id is not null;

-- =============================================================================
-- Functions
-- =============================================================================

-- How long a quote is valid when valid_until is not given.
create or replace function private.quote_validity_days()
returns integer
language sql
immutable
set search_path = ''
as $$ select 30 $$;

-- Fills what a new quote may leave out: the currency (the client's), the number
-- (the organization's quote counter), the issue date (today where the business
-- is), valid_until (issue date + 30 days). Definer: the counter is not the
-- caller's to touch, so the caller's membership is checked first (this runs
-- before RLS judges the row).
create or replace function private.complete_new_quote()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  attempts integer := 0;
begin
  if auth.role() = 'authenticated'
     and not private.has_role_on_organization(new.organization_id, 'member') then
    raise exception 'new row violates row-level security policy for table "quotes"'
      using errcode = '42501';
  end if;
  if new.currency is null then
    select c.currency into new.currency
    from public.clients c
    where c.id = new.client_id and c.organization_id = new.organization_id;
    if not found and new.client_id is not null then
      raise exception 'client % is not a client of this organization', new.client_id
        using errcode = '23503', constraint = 'quotes_client_in_organization_and_currency_fkey';
    end if;
  end if;
  new.issue_date := coalesce(new.issue_date, private.organization_today(new.organization_id));
  new.valid_until := coalesce(new.valid_until, new.issue_date + private.quote_validity_days());
  -- The API roles may not give a number (no column grant): the counter's next
  -- one; a pattern changed to one that meets an older number takes the next.
  if new.quote_number is null then
    loop
      new.quote_number := private.next_document_number(new.organization_id, 'quote', new.issue_date);
      exit when not exists (select 1 from public.quotes q
                            where q.organization_id = new.organization_id
                              and q.quote_number = new.quote_number);
      attempts := attempts + 1;
      if attempts >= 1000 then
        raise exception 'no free quote number: the quote pattern gives numbers already used'
          using errcode = '23505', constraint = 'quotes_quote_number_unique_in_organization';
      end if;
    end loop;
  end if;
  new.subtotal := 0;
  new.invoice_id := null;
  return new;
end;
$$;

-- private.prepare_quote_row: its form before 20261206170400, which tests/db/test_tax_model_keeps_totals.py
-- makes documents with; 20261206170400 replaces it whole (its final form).
--
-- Money on every write (tax and total follow the discount and the tax rate, not
-- only the items), the status transitions, and their times.
create or replace function private.prepare_quote_row()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  today date;
begin
  new.discount := private.checked_money(new.discount, new.currency, 'discount');
  new.subtotal := private.round_money(new.subtotal, new.currency);
  if new.discount > new.subtotal then
    raise exception 'discount (%) exceeds the subtotal (%)', new.discount, new.subtotal
      using errcode = '23514', constraint = 'quotes_discount_not_above_subtotal';
  end if;
  new.tax_amount := private.round_money((new.subtotal - new.discount) * new.tax_rate / 100, new.currency);
  new.total_amount := new.subtotal - new.discount + new.tax_amount;

  if tg_op = 'UPDATE' then
    -- The invoice made from it was deleted (its foreign key set invoice_id to null).
    if old.status = 'converted' and new.invoice_id is null then
      new.status := 'accepted';
    end if;
    if new.status is distinct from old.status then
      today := private.organization_today(new.organization_id);
      if old.status = 'draft' and new.status = 'sent' then
        null;
      elsif old.status = 'sent' and new.status in ('accepted', 'declined') then
        if new.valid_until < today then
          raise exception 'quote % expired on %: it can no longer be %',
            old.quote_number, new.valid_until, new.status
            using errcode = '23514', hint = 'Create a new quote, or extend valid_until first.';
        end if;
      elsif old.status = 'sent' and new.status = 'expired' then
        if new.valid_until >= today then
          raise exception 'quote % is valid until %: it has not expired', old.quote_number, new.valid_until
            using errcode = '23514';
        end if;
      elsif old.status = 'accepted' and new.status = 'converted' then
        null;  -- the check constraint wants its invoice
      elsif old.status = 'converted' and new.status = 'accepted' and new.invoice_id is null then
        new.converted_at := null;
      elsif new.status in ('accepted', 'declined') then
        raise exception 'only a sent quote can be %; quote % is %', new.status, old.quote_number, old.status
          using errcode = '23514';
      elsif new.status = 'draft' or new.status = 'sent' then
        raise exception 'quote % is %: it cannot go back to %', old.quote_number, old.status, new.status
          using errcode = '23514', hint = 'Create a new quote.';
      elsif new.status = 'converted' then
        raise exception 'only an accepted quote can be converted; quote % is %', old.quote_number, old.status
          using errcode = '23514';
      else
        raise exception 'a % quote cannot become %', old.status, new.status using errcode = '23514';
      end if;
    end if;
  end if;

  if new.status <> 'draft' then
    new.sent_at := coalesce(new.sent_at, now());
  end if;
  new.accepted_at := case when new.status in ('accepted', 'converted')
                          then coalesce(case when tg_op = 'UPDATE' then old.accepted_at end, now()) end;
  new.declined_at := case when new.status = 'declined'
                          then coalesce(case when tg_op = 'UPDATE' then old.declined_at end, now()) end;
  new.expired_at := case when new.status = 'expired'
                         then coalesce(case when tg_op = 'UPDATE' then old.expired_at end, now()) end;
  new.converted_at := case when new.status = 'converted'
                           then coalesce(case when tg_op = 'UPDATE' then old.converted_at end, now()) end;
  return new;
end;
$$;

-- private.quote_changed_fields: its form before 20261206170400, which tests/db/test_tax_model_keeps_totals.py
-- makes documents with; 20261206170400 replaces it whole (its final form).
--
-- The fields of a quote that differ between two versions of its row, in the
-- order the messages list them (money, status and links, which the triggers and
-- the RPCs derive, aside).
create or replace function private.quote_changed_fields(before public.quotes, after public.quotes)
returns text[]
language sql
immutable
set search_path = ''
as $$
  select array_remove(array[
    case when after.client_id is distinct from before.client_id then 'client_id' end,
    case when after.quote_number is distinct from before.quote_number then 'quote_number' end,
    case when after.issue_date is distinct from before.issue_date then 'issue_date' end,
    case when after.valid_until is distinct from before.valid_until then 'valid_until' end,
    case when after.tax_rate is distinct from before.tax_rate then 'tax_rate' end,
    case when after.discount is distinct from before.discount then 'discount' end,
    case when after.notes is distinct from before.notes then 'notes' end,
    case when after.terms is distinct from before.terms then 'terms' end,
    case when after.template is distinct from before.template then 'template' end
  ], null)
$$;

-- What may change on a quote, by status (the head of this file), written once:
-- the table's trigger holds it for the API roles; update_quote asks it first so
-- that its answer comes before its other checks.
create or replace function private.refuse_quote_change_by_status(quote public.quotes, changed text[])
returns void
language plpgsql
immutable
set search_path = ''
as $$
declare
  refused text[];
begin
  if quote.status = 'sent' then
    refused := array(select f from unnest(changed) with ordinality as c (f, n)
                     where f not in ('notes', 'terms', 'template', 'valid_until') order by n);
    if cardinality(refused) > 0 then
      raise exception 'quote % has been sent: its % can no longer change',
        quote.quote_number, array_to_string(refused, ', ')
        using errcode = '23514', hint = 'Create a new quote for a different offer.';
    end if;
  elsif quote.status <> 'draft' then
    refused := array(select f from unnest(changed) with ordinality as c (f, n)
                     where f <> 'notes' order by n);
    if cardinality(refused) > 0 then
      raise exception 'quote % is %: only its notes can change; not its %',
        quote.quote_number, quote.status, array_to_string(refused, ', ')
        using errcode = '23514';
    end if;
  end if;
end;
$$;

-- The trigger of the rule above, for the API roles: the service role and the
-- database owner keep the means to correct a record.
create or replace function private.issued_quote_keeps_its_content()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if current_user in ('anon', 'authenticated') then
    perform private.refuse_quote_change_by_status(old, private.quote_changed_fields(old, new));
  end if;
  return new;
end;
$$;

-- Only drafts may be deleted; a quote that reached its client stays on record.
-- Deleting the whole organization cascades past this rule.
create or replace function private.only_draft_quotes_are_deleted()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if old.status <> 'draft' and pg_trigger_depth() <= 1 then
    raise exception 'only draft quotes can be deleted; quote % is %', old.quote_number, old.status
      using errcode = '23514';
  end if;
  return old;
end;
$$;

-- An item may name only its quote: organization and currency come from it.
create or replace function private.complete_new_quote_item()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  select coalesce(new.organization_id, q.organization_id), coalesce(new.currency, q.currency)
  into new.organization_id, new.currency
  from public.quotes q
  where q.id = new.quote_id;
  return new;
end;
$$;

-- private.refresh_quote_subtotals: its form before 20261206170400, which tests/db/test_tax_model_keeps_totals.py
-- makes documents with; 20261206170400 replaces it whole (its final form).
--
-- The subtotal of every quote whose items a statement touched, once per quote;
-- the quote's row trigger derives tax and total. The lock query also refuses
-- changes to the items of a quote that is no longer a draft (cascades pass).
create or replace function private.refresh_quote_subtotals(quote_ids uuid[])
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  issued record;
begin
  select q.quote_number, q.status into issued
  from (
    select q.quote_number, q.status
    from public.quotes q
    where q.id = any (quote_ids)
    order by q.id
    for no key update
  ) q
  where q.status <> 'draft' and pg_trigger_depth() <= 1
  limit 1;
  if found then
    raise exception 'quote % is %: its items can no longer change', issued.quote_number, issued.status
      using errcode = '23514', hint = 'Create a new quote for a different offer.';
  end if;
  update public.quotes q
  set subtotal = t.subtotal
  from (
    select qid as quote_id, coalesce(sum(it.amount), 0) as subtotal
    from unnest(quote_ids) qid
    left join public.quote_items it on it.quote_id = qid
    group by qid
  ) t
  where q.id = t.quote_id and q.subtotal is distinct from t.subtotal;
end;
$$;

create or replace function private.quote_items_changed()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    perform private.refresh_quote_subtotals(array(select distinct quote_id from new_rows));
  elsif tg_op = 'DELETE' then
    perform private.refresh_quote_subtotals(array(select distinct quote_id from old_rows));
  else
    perform private.refresh_quote_subtotals(array(
      select quote_id from new_rows union select quote_id from old_rows));
  end if;
  return null;
end;
$$;

-- private.replace_quote_items: its form before 20261206170400, which tests/db/test_tax_model_keeps_totals.py
-- makes documents with; 20261206170400 replaces it whole (its final form).
--
-- Replaces the items of a draft quote with a JSON list (in order, positions
-- 0..n-1): new items first, then the old ones removed, so the subtotal never
-- passes through zero. 1 to 200 items.
create or replace function private.replace_quote_items(target uuid, items jsonb)
returns void
language plpgsql
security invoker
set search_path = ''
as $$
declare
  q record;
  old_ids uuid[];
begin
  if items is null then
    return;
  end if;
  if jsonb_typeof(items) <> 'array' then
    raise exception 'items must be a list' using errcode = '22023';
  end if;
  if jsonb_array_length(items) = 0 then
    raise exception 'a quote needs at least one item' using errcode = '22023';
  end if;
  if jsonb_array_length(items) > 200 then
    raise exception 'a quote has at most 200 items' using errcode = '22023';
  end if;
  perform private.refuse_unknown_keys(e, array['description', 'quantity', 'rate'], 'item')
  from jsonb_array_elements(items) e;

  select qt.organization_id, qt.currency into q from public.quotes qt where qt.id = target;
  select coalesce(array_agg(it.id), '{}') into old_ids
  from public.quote_items it where it.quote_id = target;

  insert into public.quote_items (organization_id, quote_id, currency, position, description, quantity, rate)
  select q.organization_id, target, q.currency, t.ord::integer - 1,
         t.x ->> 'description', (t.x ->> 'quantity')::numeric, (t.x ->> 'rate')::numeric
  from jsonb_array_elements(items) with ordinality as t(x, ord)
  order by t.ord;

  delete from public.quote_items it where it.quote_id = target and it.id = any (old_ids);
end;
$$;

-- private.quote_document: its form before 20261206170400, which tests/db/test_tax_model_keeps_totals.py
-- makes documents with; 20261206170400 replaces it whole (its final form).
--
-- The quote as the API returns it: its columns, its items (in position order),
-- its client, and the invoice made from it ({id, invoice_number, status} or
-- null). Security invoker: another tenant's quote is null.
create or replace function private.quote_document(target uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select to_jsonb(q) || jsonb_build_object(
    'items', coalesce((
      select jsonb_agg(jsonb_build_object(
               'id', it.id, 'position', it.position, 'description', it.description,
               'quantity', it.quantity, 'rate', it.rate, 'amount', it.amount)
             order by it.position, it.created_at, it.id)
      from public.quote_items it
      where it.quote_id = q.id), '[]'::jsonb),
    'client', (
      select jsonb_build_object(
               'id', c.id, 'company_name', c.company_name, 'contact_person', c.contact_person,
               'email', c.email, 'phone', c.phone, 'address', c.address, 'currency', c.currency)
      from public.clients c
      where c.id = q.client_id),
    'invoice', (
      select jsonb_build_object('id', i.id, 'invoice_number', i.invoice_number, 'status', i.status)
      from public.invoices i
      where i.id = q.invoice_id))
  from public.quotes q
  where q.id = target
$$;

-- GET /api/quotes/{id}: the organization's quote, or null (RLS decides).
create or replace function public.get_quote(organization_id uuid, quote_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select private.quote_document(q.id)
  from public.quotes q
  where q.id = get_quote.quote_id and q.organization_id = get_quote.organization_id
$$;

-- What the PDF and the email print: the quote (private.quote_document) and the
-- organization's name and business settings, as public.invoice_document gives
-- them for an invoice; null when it is not the organization's quote.
create or replace function public.quote_document(organization_id uuid, quote_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select private.quote_document(q.id) || jsonb_build_object(
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
      where o.id = q.organization_id))
  from public.quotes q
  where q.id = quote_document.quote_id and q.organization_id = quote_document.organization_id
$$;

-- public.create_quote: its form before 20261206170400, which tests/db/test_tax_model_keeps_totals.py
-- makes documents with; 20261206170400 replaces it whole (its final form).
--
-- One quote with its items, in one transaction. `quote` keys: client_id
-- (required), issue_date, valid_until, tax_rate, discount, notes, terms,
-- template. Left out: the issue date is today where the business is,
-- valid_until 30 days later, the tax rate, template, notes and terms the
-- organization's defaults. Always a draft; the number is the quote counter's.
create or replace function public.create_quote(organization_id uuid, quote jsonb, items jsonb)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := create_quote.organization_id;
  doc jsonb := coalesce(create_quote.quote, '{}'::jsonb);
  defaults record;
  given_client uuid;
  issued date;
  valid date;
  wanted_discount numeric;
  new_id uuid;
begin
  perform private.require_role(org, 'member', 'your role may not create quotes in this organization');
  perform private.refuse_unknown_keys(doc, array[
    'client_id', 'issue_date', 'valid_until', 'tax_rate', 'discount', 'notes', 'terms', 'template'],
    'quote');
  if items is null or jsonb_typeof(items) <> 'array' or jsonb_array_length(items) = 0 then
    raise exception 'a quote needs at least one item' using errcode = '22023';
  end if;
  given_client := (doc ->> 'client_id')::uuid;
  if given_client is null then
    raise exception 'client_id is required' using errcode = '23502';
  end if;
  if not exists (select 1 from public.clients c where c.id = given_client and c.organization_id = org) then
    raise exception 'client % is not a client of this organization', given_client
      using errcode = '23503';
  end if;

  select s.default_tax_rate, s.default_template, s.default_notes, s.default_terms
  into defaults
  from public.organization_settings s
  where s.organization_id = org;

  issued := coalesce((doc ->> 'issue_date')::date, private.organization_today(org));
  valid := coalesce((doc ->> 'valid_until')::date, issued + private.quote_validity_days());
  if valid < issued then
    raise exception 'valid_until (%) is before the issue date (%)', valid, issued
      using errcode = '23514', constraint = 'quotes_valid_until_not_before_issue_date';
  end if;

  insert into public.quotes (organization_id, client_id, issue_date, valid_until, tax_rate, notes, terms, template)
  values (
    org, given_client, issued, valid,
    coalesce((doc ->> 'tax_rate')::numeric, defaults.default_tax_rate, 0),
    case when doc ? 'notes' then doc ->> 'notes' else defaults.default_notes end,
    case when doc ? 'terms' then doc ->> 'terms' else defaults.default_terms end,
    coalesce(doc ->> 'template', defaults.default_template, 'professional')
  )
  returning id into new_id;

  perform private.replace_quote_items(new_id, items);

  wanted_discount := coalesce((doc ->> 'discount')::numeric, 0);
  if wanted_discount <> 0 then
    update public.quotes q set discount = wanted_discount where q.id = new_id;
  end if;
  return private.quote_document(new_id);
end;
$$;

-- public.update_quote: its form before 20261206170400, which tests/db/test_tax_model_keeps_totals.py
-- makes documents with; 20261206170400 replaces it whole (its final form).
--
-- Changes the fields present in `changes` (null clears notes and terms) and,
-- when `items` is given, replaces the items (a draft's), under the rules of the
-- quote's status. `status` may move a draft to sent (without an email).
create or replace function public.update_quote(
  organization_id uuid, quote_id uuid, changes jsonb, items jsonb default null
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := update_quote.organization_id;
  target uuid := update_quote.quote_id;
  doc jsonb := coalesce(update_quote.changes, '{}'::jsonb);
  cur public.quotes;
  nxt public.quotes;
  changed text[];
  wanted_status text;
begin
  perform private.require_role(org, 'member', 'your role may not change quotes in this organization');
  perform private.refuse_unknown_keys(doc, array[
    'client_id', 'issue_date', 'valid_until', 'status', 'tax_rate', 'discount', 'notes', 'terms',
    'template'], 'changes');

  select * into cur from public.quotes q where q.id = target and q.organization_id = org for no key update;
  if not found then
    raise exception 'quote not found' using errcode = 'P0002';
  end if;

  nxt := cur;
  if doc ? 'client_id' then nxt.client_id := (doc ->> 'client_id')::uuid; end if;
  if doc ? 'issue_date' then nxt.issue_date := (doc ->> 'issue_date')::date; end if;
  if doc ? 'valid_until' then nxt.valid_until := (doc ->> 'valid_until')::date; end if;
  if doc ? 'tax_rate' then nxt.tax_rate := (doc ->> 'tax_rate')::numeric; end if;
  if doc ? 'discount' then nxt.discount := (doc ->> 'discount')::numeric; end if;
  if doc ? 'notes' then nxt.notes := doc ->> 'notes'; end if;
  if doc ? 'terms' then nxt.terms := doc ->> 'terms'; end if;
  if doc ? 'template' then nxt.template := doc ->> 'template'; end if;
  changed := private.quote_changed_fields(cur, nxt);
  if items is not null and cur.status <> 'draft' then
    changed := changed || array['items'];
  end if;

  wanted_status := coalesce(doc ->> 'status', cur.status);
  if wanted_status <> cur.status and not (cur.status = 'draft' and wanted_status = 'sent') then
    if wanted_status not in ('draft', 'sent', 'accepted', 'declined', 'expired', 'converted') then
      raise exception 'unknown status %', wanted_status using errcode = '22023';
    end if;
    raise exception 'a % quote cannot be made % here', cur.status, wanted_status
      using errcode = '23514',
            hint = 'Send a draft (status sent); accept, decline and convert have their own routes.';
  end if;

  perform private.refuse_quote_change_by_status(cur, changed);

  if nxt.valid_until < nxt.issue_date then
    raise exception 'valid_until (%) is before the issue date (%)', nxt.valid_until, nxt.issue_date
      using errcode = '23514', constraint = 'quotes_valid_until_not_before_issue_date';
  end if;
  if 'client_id' = any (changed) then
    select c.currency into nxt.currency from public.clients c
    where c.id = nxt.client_id and c.organization_id = org;
    if not found then
      raise exception 'client % is not a client of this organization', nxt.client_id
        using errcode = '23503';
    end if;
  end if;

  -- 1. The fields, the discount out of the way while the items change (a draft's).
  if cardinality(changed) > 0 or (items is not null and cur.discount <> 0) then
    update public.quotes q
    set client_id = nxt.client_id, currency = nxt.currency, issue_date = nxt.issue_date,
        valid_until = nxt.valid_until, tax_rate = nxt.tax_rate,
        discount = case when items is not null then 0 else nxt.discount end,
        notes = nxt.notes, terms = nxt.terms, template = nxt.template
    where q.id = target;
  end if;
  -- 2. The items.
  perform private.replace_quote_items(target, items);
  -- 3. The discount on the new subtotal, then the status.
  update public.quotes q
  set discount = nxt.discount, status = wanted_status
  where q.id = target and (q.discount, q.status) is distinct from (nxt.discount, wanted_status);
  return private.quote_document(target);
end;
$$;

-- A draft is deleted with its items; any other quote is refused (23514).
create or replace function public.delete_quote(organization_id uuid, quote_id uuid)
returns void
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  cur public.quotes;
begin
  perform private.require_role(delete_quote.organization_id, 'member',
                               'your role may not delete quotes in this organization');
  select * into cur from public.quotes q
  where q.id = delete_quote.quote_id and q.organization_id = delete_quote.organization_id
  for update;
  if not found then
    raise exception 'quote not found' using errcode = 'P0002';
  end if;
  if cur.status <> 'draft' then
    raise exception 'only draft quotes can be deleted; quote % is %', cur.quote_number, cur.status
      using errcode = '23514', hint = 'A sent quote stays on record: decline it, or let it expire.';
  end if;
  delete from public.quotes q where q.id = cur.id;
end;
$$;

-- The client's answer, recorded by a member: decision 'accepted' or 'declined',
-- from sent only, through valid_until (today where the business is).
create or replace function public.decide_quote(organization_id uuid, quote_id uuid, decision text)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := decide_quote.organization_id;
  cur public.quotes;
begin
  perform private.require_role(org, 'member', 'your role may not answer quotes in this organization');
  if decision is null or decision not in ('accepted', 'declined') then
    raise exception 'decision must be accepted or declined' using errcode = '22023';
  end if;
  select * into cur from public.quotes q
  where q.id = decide_quote.quote_id and q.organization_id = org
  for update;
  if not found then
    raise exception 'quote not found' using errcode = 'P0002';
  end if;
  if cur.status = decision then
    raise exception 'quote % is already %', cur.quote_number, cur.status using errcode = '23514';
  elsif cur.status = 'converted' and decision = 'accepted' then
    raise exception 'quote % was accepted and converted already', cur.quote_number using errcode = '23514';
  end if;
  update public.quotes q set status = decision where q.id = cur.id;
  return private.quote_document(cur.id);
end;
$$;

-- After SES accepted a quote's email, in one transaction: a draft moved to sent
-- (a re-send keeps the status), a client activity recording the send (with the
-- SES message id and the recipients), and the idempotency key completed with the
-- answer {"send": {...}, "quote": {...}}. Declined, expired and converted quotes
-- are not sent (23514): the route checks first; this holds it under the lock.
create or replace function public.mark_quote_sent(
  organization_id uuid,
  quote_id uuid,
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
declare
  org uuid := mark_quote_sent.organization_id;
  cur public.quotes;
  sent_to jsonb;
  who text;
  answer jsonb;
  sent_moment timestamptz := now();
begin
  perform private.require_role(org, 'member', 'your role may not send quotes in this organization');
  if ses_message_id is null or length(ses_message_id) not between 1 and 200 then
    raise exception 'ses_message_id must be 1 to 200 characters' using errcode = '22023';
  end if;
  if subject is null or length(subject) not between 1 and 998 then
    raise exception 'subject must be 1 to 998 characters' using errcode = '22023';
  end if;
  select * into cur from public.quotes q
  where q.id = mark_quote_sent.quote_id and q.organization_id = org
  for update;
  if not found then
    raise exception 'quote not found' using errcode = 'P0002';
  end if;
  if cur.status in ('declined', 'expired', 'converted') then
    raise exception 'quote % is % and cannot be sent', cur.quote_number, cur.status using errcode = '23514';
  end if;
  if cur.status = 'draft' then
    update public.quotes q set status = 'sent' where q.id = cur.id;
  end if;
  sent_to := jsonb_build_object('to', coalesce(recipients -> 'to', '[]'),
                                'cc', coalesce(recipients -> 'cc', '[]'),
                                'bcc', coalesce(recipients -> 'bcc', '[]'));
  select string_agg(value, ', ') into who from jsonb_array_elements_text(sent_to -> 'to');
  insert into public.client_activities (organization_id, client_id, activity, type, metadata)
  values (org, cur.client_id,
          left(pg_catalog.format('Quote %s sent to %s', cur.quote_number, coalesce(who, 'the client')), 1000),
          'other',
          jsonb_build_object('event', 'quote_sent', 'quote_id', cur.id, 'quote_number', cur.quote_number,
                             'ses_message_id', ses_message_id, 'to', sent_to -> 'to'));
  answer := jsonb_build_object(
    'send', jsonb_build_object('quote_id', cur.id, 'recipients', sent_to, 'subject', subject,
                               'ses_message_id', ses_message_id, 'sent_by', auth.uid(), 'sent_at', sent_moment),
    'quote', private.quote_document(cur.id));
  if mark_quote_sent.idempotency_key is not null and auth.uid() is not null then
    update public.idempotency_keys ik
    set state = 'completed', response_status = 200, response = answer, completed_at = now()
    where ik.organization_id = org and ik.user_id = auth.uid() and ik.key = mark_quote_sent.idempotency_key;
  end if;
  return answer;
end;
$$;

-- The link of a converted quote, both ways: invoices.quote_id and
-- quotes.invoice_id are not the API roles' to write (a member could otherwise
-- point an invoice at any quote), so this definer writes them, after checking
-- the caller's role, that the quote is accepted (under its lock) and that the
-- invoice is a fresh draft of the same organization, client and currency.
create or replace function private.link_quote_and_invoice(organization_id uuid, quote_id uuid, invoice_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  org uuid := link_quote_and_invoice.organization_id;
  q public.quotes;
  i public.invoices;
begin
  perform private.require_role(org, 'member', 'your role may not convert quotes in this organization');
  select * into q from public.quotes x
  where x.id = link_quote_and_invoice.quote_id and x.organization_id = org
  for update;
  select * into i from public.invoices x
  where x.id = link_quote_and_invoice.invoice_id and x.organization_id = org
  for update;
  if q.id is null or i.id is null then
    raise exception 'quote or invoice not found' using errcode = 'P0002';
  elsif q.status <> 'accepted' then
    raise exception 'only an accepted quote can be converted; quote % is %', q.quote_number, q.status
      using errcode = '23514';
  elsif i.quote_id is not null or i.status <> 'draft' or i.client_id <> q.client_id
        or i.currency <> q.currency then
    raise exception 'invoice % cannot be linked to quote %', i.invoice_number, q.quote_number
      using errcode = '23514';
  end if;
  update public.invoices x set quote_id = q.id where x.id = i.id;
  update public.quotes x set invoice_id = i.id, status = 'converted' where x.id = q.id;
end;
$$;

-- public.convert_quote: its form before 20261206170400, which tests/db/test_tax_model_keeps_totals.py
-- makes documents with; 20261206171200 replaces it whole (its final form).
--
-- Converts an accepted quote into a draft invoice, in one transaction (the head
-- of this file). Answers {"quote": ..., "invoice": ...}.
create or replace function public.convert_quote(organization_id uuid, quote_id uuid)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := convert_quote.organization_id;
  cur public.quotes;
  made jsonb;
  invoice_doc jsonb;
  items jsonb;
begin
  perform private.require_role(org, 'member', 'your role may not convert quotes in this organization');
  -- The quote's lock serializes conversions: a second one waits here, then reads
  -- the quote as the first left it.
  select * into cur from public.quotes q
  where q.id = convert_quote.quote_id and q.organization_id = org
  for update;
  if not found then
    raise exception 'quote not found' using errcode = 'P0002';
  end if;
  if cur.status = 'converted' then
    raise exception 'quote % was already converted into invoice %', cur.quote_number,
      (select i.invoice_number from public.invoices i where i.id = cur.invoice_id)
      using errcode = '23505', constraint = 'invoices_quote_id_unique_idx',
            hint = 'Open the invoice it was converted into.';
  elsif cur.status <> 'accepted' then
    raise exception 'only an accepted quote can be converted into an invoice; quote % is %',
      cur.quote_number, cur.status
      using errcode = '23514',
            hint = case cur.status when 'sent' then 'Record the client''s acceptance first.'
                                   when 'draft' then 'Send it and record the client''s acceptance first.'
                                   else 'Create a new quote.' end;
  end if;

  select jsonb_agg(jsonb_build_object('description', it.description, 'quantity', it.quantity,
                                      'rate', it.rate) order by it.position, it.created_at, it.id)
  into items
  from public.quote_items it
  where it.quote_id = cur.id;

  made := public.create_invoice(
    org,
    jsonb_strip_nulls(jsonb_build_object(
      'client_id', cur.client_id,
      'issue_date', private.organization_today(org),
      'tax_rate', cur.tax_rate,
      'discount', cur.discount,
      'notes', cur.notes,
      'terms', cur.terms,
      'template', cur.template)),
    items);
  perform private.link_quote_and_invoice(org, cur.id, (made ->> 'id')::uuid);
  invoice_doc := private.invoice_document((made ->> 'id')::uuid);
  return jsonb_build_object('quote', private.quote_document(cur.id), 'invoice', invoice_doc);
end;
$$;

-- The scheduled expiry (functions/jobs/expire_quotes.py, service role): sent
-- quotes past valid_until (before today in their organization's time zone)
-- become expired, at most batch_limit a call, earliest first. Rows another
-- transaction holds (a member answering the quote at that moment) are skipped
-- and left for the next call or run. Answers {"expired": n, "organizations": m}.
create or replace function public.job_expire_quotes(batch_limit integer default 2000)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  expired integer;
  organizations integer;
begin
  if batch_limit is null or batch_limit not between 1 and 10000 then
    raise exception 'batch_limit must be between 1 and 10000' using errcode = '22023';
  end if;
  with due as (
    select q.id
    from public.quotes q
    join public.organization_settings s on s.organization_id = q.organization_id
    where q.status = 'sent'
      -- No time zone is a day ahead of UTC: the index's range, then each one's today.
      and q.valid_until < (now() at time zone 'UTC')::date + 1
      and q.valid_until < (now() at time zone s.time_zone)::date
    order by q.valid_until, q.id
    limit batch_limit
    for update of q skip locked
  ), done as (
    update public.quotes q
    set status = 'expired'
    from due
    where q.id = due.id and q.status = 'sent'
    returning q.organization_id
  )
  select count(*), count(distinct d.organization_id) into expired, organizations from done d;
  return jsonb_build_object('expired', expired, 'organizations', organizations);
end;
$$;

-- =============================================================================
-- Triggers
-- =============================================================================

-- The quotes table's triggers in firing order (one kind fires in name order):
--   before insert:  a_complete_new_quote, b_prepare_quote_row
--   before update:  a_issued_quote_keeps_its_content, b_prepare_quote_row, set_updated_at
--   before delete:  only_draft_quotes_are_deleted
--   after:          audit_inserts, audit_updates, audit_deletes
create trigger a_complete_new_quote
  before insert on public.quotes
  for each row execute function private.complete_new_quote();

create trigger a_issued_quote_keeps_its_content
  before update on public.quotes
  for each row
  when (old.status <> 'draft')
  execute function private.issued_quote_keeps_its_content();

create trigger b_prepare_quote_row
  before insert or update on public.quotes
  for each row execute function private.prepare_quote_row();

create trigger only_draft_quotes_are_deleted
  before delete on public.quotes
  for each row execute function private.only_draft_quotes_are_deleted();

create trigger set_updated_at before update on public.quotes
  for each row execute function private.set_updated_at();

select private.enable_audit('public.quotes', array['updated_at']);

create trigger set_updated_at before update on public.quote_items
  for each row execute function private.set_updated_at();

create trigger complete_new_quote_item
  before insert on public.quote_items
  for each row when (new.organization_id is null or new.currency is null)
  execute function private.complete_new_quote_item();

create trigger refresh_quote_totals_after_insert
  after insert on public.quote_items referencing new table as new_rows
  for each statement execute function private.quote_items_changed();

create trigger refresh_quote_totals_after_update
  after update on public.quote_items referencing old table as old_rows new table as new_rows
  for each statement execute function private.quote_items_changed();

create trigger refresh_quote_totals_after_delete
  after delete on public.quote_items referencing old table as old_rows
  for each statement execute function private.quote_items_changed();

select private.enable_audit('public.quote_items', array['updated_at']);

-- =============================================================================
-- Policies
-- =============================================================================

create policy "Members can view their organization's quotes"
  on public.quotes for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can create quotes in their organization"
  on public.quotes for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can update their organization's quotes"
  on public.quotes for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can delete their organization's draft quotes"
  on public.quotes for delete to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can view their organization's quote items"
  on public.quote_items for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can add items to their organization's quotes"
  on public.quote_items for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can update their organization's quote items"
  on public.quote_items for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can delete their organization's quote items"
  on public.quote_items for delete to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

-- =============================================================================
-- Views
-- =============================================================================

-- quote_list: GET /api/quotes reads it (the client's name to search and sort by,
-- and is_expired: expired, or sent and past valid_until before the job ran).
-- Security invoker: the caller's RLS applies to both tables.
create or replace view public.quote_list with (security_invoker = true) as
select
  q.id, q.organization_id, q.client_id, c.company_name as client_company_name,
  q.quote_number, q.issue_date, q.valid_until, q.status, q.currency,
  q.subtotal, q.tax_rate, q.tax_amount, q.discount, q.total_amount, q.template, q.invoice_id,
  q.sent_at, q.accepted_at, q.declined_at, q.expired_at, q.converted_at, q.created_at, q.updated_at
from public.quotes q
join public.clients c on c.id = q.client_id and c.organization_id = q.organization_id;

-- =============================================================================
-- Grants
-- =============================================================================

revoke all on public.quotes, public.quote_items from anon, authenticated;

grant select, delete on public.quotes to authenticated;

-- No quote_number, invoice_id or status on insert: the counter numbers it, a new
-- quote is a draft, and only a conversion links an invoice.
grant insert (
  id, organization_id, client_id, issue_date, valid_until, currency, tax_rate, discount,
  notes, terms, template
) on public.quotes to authenticated;

grant update (
  client_id, issue_date, valid_until, status, currency, tax_rate, discount, notes, terms, template
) on public.quotes to authenticated;

grant select, delete on public.quote_items to authenticated;

grant insert (id, organization_id, quote_id, currency, position, description, quantity, rate)
  on public.quote_items to authenticated;

grant update (position, description, quantity, rate) on public.quote_items to authenticated;

grant select, update on public.quotes to service_role;
grant select on public.quote_items to service_role;

revoke all on public.quote_list from anon, authenticated, service_role;

grant select on public.quote_list to authenticated, service_role;

grant execute on function
  private.quote_validity_days(),
  private.quote_changed_fields(public.quotes, public.quotes),
  private.refuse_quote_change_by_status(public.quotes, text[]),
  private.replace_quote_items(uuid, jsonb),
  private.quote_document(uuid),
  private.link_quote_and_invoice(uuid, uuid, uuid),
  private.organization_today(uuid)
  to authenticated;

grant execute on function
  private.quote_validity_days(),
  private.quote_changed_fields(public.quotes, public.quotes),
  private.refuse_quote_change_by_status(public.quotes, text[]),
  private.organization_today(uuid)
  to service_role;

grant execute on function
  public.get_quote(uuid, uuid),
  public.quote_document(uuid, uuid),
  public.create_quote(uuid, jsonb, jsonb),
  public.update_quote(uuid, uuid, jsonb, jsonb),
  public.delete_quote(uuid, uuid),
  public.decide_quote(uuid, uuid, text),
  public.mark_quote_sent(uuid, uuid, text, jsonb, text, text),
  public.convert_quote(uuid, uuid)
  to authenticated;

grant execute on function public.job_expire_quotes(integer) to service_role;

revoke execute on function private.complete_new_quote() from public;
revoke execute on function private.issued_quote_keeps_its_content() from public;

revoke execute on all functions in schema private, public from public;
