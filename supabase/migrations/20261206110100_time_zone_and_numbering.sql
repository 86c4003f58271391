-- =============================================================================
-- The organization's time zone and numbering patterns (issue 15, the billing
-- lifecycle). One file of that issue: quotes, credit notes and recurring invoices
-- (20261206110200..110400) number their documents and date them through what is
-- defined here. Nothing is deployed yet: while the issue is open this file may be
-- refined in place, keeping the interface below.
--
-- Interface (docs/billing-lifecycle.md, "Numbering and the time zone"):
--   organization_settings.time_zone    text, an IANA name ('UTC' by default)
--   organization_settings.overpayment  'refuse' (default) | 'credit' (its meaning:
--                                      the credit notes migration)
--   private.organization_today(organization_id) -> date
--       the date now where the business is (UTC for an unknown organization).
--       Set-based code may write (now() at time zone s.time_zone)::date itself.
--   private.next_document_number(organization_id, document_type, issue_date) -> text
--       document_type 'invoice' | 'quote' | 'credit_note'; the organization's
--       pattern for that type, with the counter of the issue date's period.
--   private.lock_document_numbers(organization_id)
--       the counters' lock, for a write that gives a number by hand (below).
--   private.format_document_number(pattern, issue_date, sequence) -> text
--   private.numbering_pattern_problem(pattern, reset) -> text (null when valid)
--
-- The time zone. Only IANA names ("Area/Location", as Europe/Paris or
-- America/Argentina/Buenos_Aires, plus UTC) that the database knows
-- (pg_timezone_names): abbreviations (EST, CET), POSIX offsets and rules (+05,
-- UTC+3, EST5EDT), the posix/ and right/ copies of the database and unknown names
-- are refused. A check constraint holds the shape (cheap, every writer); the trigger
-- a_time_zone_is_known looks the name up when it changes (pg_timezone_names reads
-- the zone files: ~17 ms, so not on every write of the settings row, which the
-- invoice counter updates). The API checks the same in Python (zoneinfo).
-- Invoices created without an issue date (create_invoice, or a row inserted
-- directly) are dated the organization's today, and their due date follows from
-- it; the invoices' issue_date column loses its default (current_date, the
-- server's UTC day) for that: the row trigger fills it.
--
-- Numbering patterns, per document type: literal text and the tokens {YYYY} {YY}
-- {MM} (of the issue date) and {SEQ} or {SEQ:n} (the counter, zero padded to n,
-- 1..12; never cut when longer). {SEQ} exactly once; no other text in braces,
-- no control characters; 1..40 characters; a number longer than 50 characters
-- (the invoices' limit) is refused when it is made. The counter resets yearly,
-- monthly or never, by the document's issue date (a date: already local). A
-- pattern that resets yearly must show the year ({YYYY} or {YY}), monthly the year
-- and {MM}: otherwise its numbers would repeat from one period to the next.
--
-- Counters. The one of invoices that never reset is today's,
-- organization_settings.next_invoice_number (so existing organizations continue
-- where they are, and everything that reads or sets it keeps its meaning); every
-- other counter is a row of public.document_counters (organization_id,
-- document_type, period: '' never, 'YYYY' yearly, 'YYYY-MM' monthly), made by the
-- first number of its period. Both are advanced in the caller's transaction, so a
-- rolled-back document gives its number back (gapless), and always after taking the
-- organization's settings row FOR NO KEY UPDATE, the lock today's counter took:
-- concurrent documents of one organization are numbered one after the other, never
-- twice the same. Today's two fixes hold for every type:
--   * numbers already used are skipped: private.document_number_taken looks in
--     public.invoices.invoice_number, and by the same convention in
--     public.quotes.quote_number and public.credit_notes.credit_note_number once
--     those tables exist (each with its unique (organization_id, <type>_number));
--   * a number given by hand takes the counters' lock first
--     (private.lock_document_numbers; the invoices' trigger
--     given_number_waits_for_the_counter already takes that very lock), so the
--     counter, waiting, then sees it as used.
--
-- Existing organizations keep their numbering: their invoice pattern becomes
-- invoice_prefix || '{SEQ:' || invoice_number_padding || '}', reset never, and the
-- counter stays next_invoice_number. The old settings fields keep working, as views
-- of the invoice pattern (a trigger keeps them in step, for every writer):
--   invoice_prefix          the literal text before the pattern's first token;
--                           setting it replaces that text in the pattern;
--   invoice_number_padding  the width of {SEQ:n} (1 for {SEQ}); setting it sets n;
--   next_invoice_number     the counter of invoice numbers that never reset (can
--                           only go up through the API, as before).
-- The API refuses a pattern and the prefix or padding in one change. Quotes start
-- at QUO-{SEQ:4}, credit notes at CN-{SEQ:4}, never reset.
--
-- The settings RPCs (from 20261206100300_profiles_and_settings.sql) are redefined:
-- everything they did stays; the business section now also takes time_zone,
-- overpayment and numbering {invoice|quote|credit_note: {pattern, reset}} (each type
-- and field optional, merged), and answers numbering with each type's preview (the
-- next number for an issue date of today, unless taken by then) instead of the six
-- flat pattern and reset columns.
-- =============================================================================

-- =============================================================================
-- Tables
-- =============================================================================

alter table public.organization_settings
  add column time_zone text not null default 'UTC',
  add column overpayment text not null default 'refuse',
  add column invoice_number_pattern text not null default 'INV-{SEQ:4}',
  add column invoice_number_reset text not null default 'never',
  add column quote_number_pattern text not null default 'QUO-{SEQ:4}',
  add column quote_number_reset text not null default 'never',
  add column credit_note_number_pattern text not null default 'CN-{SEQ:4}',
  add column credit_note_number_reset text not null default 'never';

-- Existing organizations: their prefix and padding as a pattern (before the
-- constraints; braces, which a prefix written straight into the table could hold,
-- become parentheses).
update public.organization_settings s
set invoice_number_pattern =
      translate(regexp_replace(s.invoice_prefix, '[[:cntrl:]]', '', 'g'), '{}', '()')
      || '{SEQ:' || s.invoice_number_padding || '}';

alter table public.organization_settings
  add constraint organization_settings_time_zone_shape check (
    time_zone = 'UTC'
    or (time_zone ~ '^[A-Z][A-Za-z_-]*(/[A-Za-z0-9_+-]+)+$' and time_zone !~ '^(posix|right)/')
  ),
  add constraint organization_settings_overpayment_check check (overpayment in ('refuse', 'credit')),
  add constraint organization_settings_invoice_number_pattern_check check (
    length(invoice_number_pattern) between 1 and 40
    and invoice_number_pattern ~ '^([^{}[:cntrl:]]|\{(YYYY|YY|MM|SEQ|SEQ:([1-9]|1[0-2]))\})+$'
    and invoice_number_pattern ~ '\{SEQ[:}]' and invoice_number_pattern !~ '\{SEQ.*\{SEQ'
  ),
  add constraint organization_settings_quote_number_pattern_check check (
    length(quote_number_pattern) between 1 and 40
    and quote_number_pattern ~ '^([^{}[:cntrl:]]|\{(YYYY|YY|MM|SEQ|SEQ:([1-9]|1[0-2]))\})+$'
    and quote_number_pattern ~ '\{SEQ[:}]' and quote_number_pattern !~ '\{SEQ.*\{SEQ'
  ),
  add constraint organization_settings_credit_note_number_pattern_check check (
    length(credit_note_number_pattern) between 1 and 40
    and credit_note_number_pattern ~ '^([^{}[:cntrl:]]|\{(YYYY|YY|MM|SEQ|SEQ:([1-9]|1[0-2]))\})+$'
    and credit_note_number_pattern ~ '\{SEQ[:}]' and credit_note_number_pattern !~ '\{SEQ.*\{SEQ'
  ),
  add constraint organization_settings_invoice_number_reset_check check (
    invoice_number_reset in ('yearly', 'monthly', 'never')
    and (invoice_number_reset = 'never' or invoice_number_pattern ~ '\{YY(YY)?\}')
    and (invoice_number_reset <> 'monthly' or invoice_number_pattern ~ '\{MM\}')
  ),
  add constraint organization_settings_quote_number_reset_check check (
    quote_number_reset in ('yearly', 'monthly', 'never')
    and (quote_number_reset = 'never' or quote_number_pattern ~ '\{YY(YY)?\}')
    and (quote_number_reset <> 'monthly' or quote_number_pattern ~ '\{MM\}')
  ),
  add constraint organization_settings_credit_note_number_reset_check check (
    credit_note_number_reset in ('yearly', 'monthly', 'never')
    and (credit_note_number_reset = 'never' or credit_note_number_pattern ~ '\{YY(YY)?\}')
    and (credit_note_number_reset <> 'monthly' or credit_note_number_pattern ~ '\{MM\}')
  );

-- The counters of numbering that resets, and of quotes and credit notes (the
-- invoices' counter that never resets is organization_settings.next_invoice_number).
-- Written only by private.next_document_number (security definer); members read
-- their organization's.
create table public.document_counters (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  document_type text not null check (document_type in ('invoice', 'quote', 'credit_note')),
  period text not null check (period ~ '^([0-9]{4}(-(0[1-9]|1[0-2]))?)?$'),
  next_number bigint not null default 1 check (next_number >= 1),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint document_counters_one_per_period unique (organization_id, document_type, period)
);

alter table public.document_counters enable row level security;

-- =============================================================================
-- Functions
-- =============================================================================

-- Whether `name` is an IANA time zone name the database knows (the head of this file).
create or replace function private.is_iana_time_zone(name text)
returns boolean
language sql
stable
set search_path = ''
as $$
  select name is not null
     and (name = 'UTC'
          or (name ~ '^[A-Z][A-Za-z_-]*(/[A-Za-z0-9_+-]+)+$' and name !~ '^(posix|right)/'
              and exists (select 1 from pg_catalog.pg_timezone_names z where z.name = is_iana_time_zone.name)))
$$;

create or replace function private.time_zone_is_known()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if not private.is_iana_time_zone(new.time_zone) then
    raise exception 'time_zone % is not an IANA time zone name (such as Europe/Paris or America/New_York)',
      coalesce(pg_catalog.quote_literal(new.time_zone), 'null')
      using errcode = '22023',
            hint = 'Abbreviations (EST, CET) and offsets (+05, UTC+3) are refused: name the place.';
  end if;
  return new;
end;
$$;

-- The date now where the business is.
create or replace function private.organization_today(organization_id uuid)
returns date
language sql
stable
security definer
set search_path = ''
as $$
  select (pg_catalog.now() at time zone coalesce(
            (select s.time_zone from public.organization_settings s
             where s.organization_id = organization_today.organization_id), 'UTC'))::date
$$;

-- What is wrong with a pattern and its reset, in words (null: nothing).
create or replace function private.numbering_pattern_problem(pattern text, reset text)
returns text
language sql
immutable
set search_path = ''
as $$
  select case
    when pattern is null then 'a pattern is required'
    when length(pattern) > 40 then 'a pattern has at most 40 characters'
    when pattern ~ '[[:cntrl:]]' then 'a pattern may not hold control characters'
    when pattern !~ '\{SEQ(:[0-9]+)?\}' then 'a pattern needs {SEQ} (or {SEQ:n}), the counter'
    when pattern ~ '\{SEQ(:[0-9]+)?\}.*\{SEQ(:[0-9]+)?\}' then 'a pattern holds {SEQ} once'
    when pattern ~ '\{SEQ:[0-9]+\}' and pattern !~ '\{SEQ:([1-9]|1[0-2])\}'
      then 'the width n of {SEQ:n} is 1 to 12'
    when pattern !~ '^([^{}]|\{(YYYY|YY|MM|SEQ|SEQ:[0-9]+)\})+$'
      then pg_catalog.format('unknown token %s: the tokens are {YYYY} {YY} {MM} {SEQ} {SEQ:n}',
             (pg_catalog.regexp_match(
                pg_catalog.regexp_replace(pattern, '\{(YYYY|YY|MM|SEQ|SEQ:[0-9]+)\}', '', 'g'),
                '\{[^}]*\}?|\}'))[1])
    when reset is null or reset not in ('yearly', 'monthly', 'never')
      then 'reset is yearly, monthly or never'
    when reset in ('yearly', 'monthly') and pattern !~ '\{YY(YY)?\}'
      then pg_catalog.format('a pattern that resets %s shows the year ({YYYY} or {YY}), or its numbers would repeat', reset)
    when reset = 'monthly' and pattern !~ '\{MM\}'
      then 'a pattern that resets monthly shows the month ({MM}), or its numbers would repeat'
  end
$$;

-- The number a pattern makes for an issue date and a counter value.
create or replace function private.format_document_number(pattern text, issue_date date, sequence bigint)
returns text
language plpgsql
immutable
set search_path = ''
as $$
declare
  width integer := coalesce((pg_catalog.regexp_match(pattern, '\{SEQ:([0-9]+)\}'))[1]::integer, 1);
  digits text := sequence::text;
begin
  if length(digits) < width then
    digits := pg_catalog.lpad(digits, width, '0');
  end if;
  return pg_catalog.regexp_replace(
    replace(replace(replace(pattern,
      '{YYYY}', pg_catalog.to_char(issue_date, 'YYYY')),
      '{YY}', pg_catalog.to_char(issue_date, 'YY')),
      '{MM}', pg_catalog.to_char(issue_date, 'MM')),
    '\{SEQ(:[0-9]+)?\}', digits);
end;
$$;

-- The counter's period of an issue date: '' (never), 'YYYY' or 'YYYY-MM'.
create or replace function private.numbering_period(reset text, issue_date date)
returns text
language sql
immutable
set search_path = ''
as $$
  select case reset
    when 'yearly' then pg_catalog.to_char(issue_date, 'YYYY')
    when 'monthly' then pg_catalog.to_char(issue_date, 'YYYY-MM')
    else ''
  end
$$;

-- Whether a document of the type already has that number in the organization: the
-- invoices, and by convention public.<type>s.<type>_number (quotes, credit_notes)
-- once that table exists.
create or replace function private.document_number_taken(organization_id uuid, document_type text, number text)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  target regclass;
  taken boolean;
begin
  if document_type = 'invoice' then
    return exists (select 1 from public.invoices i
                   where i.organization_id = document_number_taken.organization_id
                     and i.invoice_number = document_number_taken.number);
  end if;
  target := pg_catalog.to_regclass('public.' || document_type || 's');
  if target is null then
    return false;
  end if;
  if not exists (select 1 from pg_catalog.pg_attribute a
                 where a.attrelid = target and a.attname = document_type || '_number' and not a.attisdropped) then
    raise exception '% has no column %_number, where its numbers are looked up', target, document_type
      using errcode = '42703';
  end if;
  execute pg_catalog.format(
    'select exists (select 1 from %s t where t.organization_id = $1 and t.%I = $2)',
    target, document_type || '_number')
  into taken
  using document_number_taken.organization_id, document_number_taken.number;
  return taken;
end;
$$;

-- The counters' lock of an organization (its settings row, FOR NO KEY UPDATE, the
-- lock private.next_document_number takes first): a write giving a number by hand
-- takes it before checking the number, so that a counter running at the same time
-- waits, then sees the number as used. Held until the transaction ends.
create or replace function private.lock_document_numbers(organization_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform private.require_role(lock_document_numbers.organization_id, 'member');
  perform 1
  from public.organization_settings s
  where s.organization_id = lock_document_numbers.organization_id
  for no key update;
end;
$$;

-- The next number of a document: the organization's pattern for its type, with the
-- counter of the issue date's period, advanced under the counters' lock; numbers
-- already used are skipped. In the caller's transaction: a rollback gives it back.
create or replace function private.next_document_number(
  organization_id uuid, document_type text, issue_date date
)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  org uuid := next_document_number.organization_id;
  kind text := next_document_number.document_type;
  day date := next_document_number.issue_date;
  pattern text;
  reset text;
  counter_period text;
  seq bigint;
  candidate text;
begin
  if kind is null or kind not in ('invoice', 'quote', 'credit_note') then
    raise exception 'document_type is invoice, quote or credit_note, not %', coalesce(kind, 'null')
      using errcode = '22023';
  end if;
  if day is null then
    raise exception 'a document number needs the issue date' using errcode = '22023';
  end if;
  perform private.require_role(org, 'member');

  select case kind when 'invoice' then s.invoice_number_pattern
                   when 'quote' then s.quote_number_pattern
                   else s.credit_note_number_pattern end,
         case kind when 'invoice' then s.invoice_number_reset
                   when 'quote' then s.quote_number_reset
                   else s.credit_note_number_reset end
  into pattern, reset
  from public.organization_settings s
  where s.organization_id = org
  for no key update;
  if not found then
    raise exception 'organization % has no settings', org using errcode = '23503';
  end if;
  counter_period := private.numbering_period(reset, day);

  loop
    if kind = 'invoice' and reset = 'never' then
      update public.organization_settings s
      set next_invoice_number = s.next_invoice_number + 1
      where s.organization_id = org
      returning s.next_invoice_number - 1 into seq;
    else
      insert into public.document_counters as c (organization_id, document_type, period, next_number)
      values (org, kind, counter_period, 2)
      on conflict on constraint document_counters_one_per_period
        do update set next_number = c.next_number + 1
      returning c.next_number - 1 into seq;
    end if;
    candidate := private.format_document_number(pattern, day, seq);
    exit when not private.document_number_taken(org, kind, candidate);
  end loop;

  if length(candidate) > 50 then
    raise exception 'the next % number, %, is longer than 50 characters', replace(kind, '_', ' '), candidate
      using errcode = '23514', hint = 'Shorten the numbering pattern in the business settings.';
  end if;
  return candidate;
end;
$$;

-- What the next number of a type would be for an issue date (for the settings'
-- preview: read without the lock, and numbers taken by hand not skipped). Security
-- invoker: null for an organization whose settings the caller may not read.
create or replace function private.preview_document_number(
  organization_id uuid, document_type text, issue_date date
)
returns text
language sql
stable
security invoker
set search_path = ''
as $$
  select private.format_document_number(p.pattern, preview_document_number.issue_date,
    case when preview_document_number.document_type = 'invoice' and p.reset = 'never'
         then s.next_invoice_number
         else coalesce((select c.next_number from public.document_counters c
                        where c.organization_id = s.organization_id
                          and c.document_type = preview_document_number.document_type
                          and c.period = private.numbering_period(p.reset, preview_document_number.issue_date)),
                       1) end)
  from public.organization_settings s
  cross join lateral (
    select case preview_document_number.document_type
             when 'invoice' then s.invoice_number_pattern
             when 'quote' then s.quote_number_pattern
             else s.credit_note_number_pattern end as pattern,
           case preview_document_number.document_type
             when 'invoice' then s.invoice_number_reset
             when 'quote' then s.quote_number_reset
             else s.credit_note_number_reset end as reset
  ) p
  where s.organization_id = preview_document_number.organization_id
$$;

-- The old fields of the invoice pattern, kept in step with it for every writer (the
-- head of this file): a new pattern sets invoice_prefix (its literal text before
-- the first token, when it is a valid prefix) and invoice_number_padding (the width
-- of {SEQ:n}); a new prefix or padding, the pattern unchanged, rewrites the pattern.
create or replace function private.keep_invoice_prefix_in_step()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  lead text;
begin
  if tg_op = 'UPDATE' and new.invoice_number_pattern is not distinct from old.invoice_number_pattern
     and (new.invoice_prefix, new.invoice_number_padding)
         is distinct from (old.invoice_prefix, old.invoice_number_padding) then
    -- The prefix replaces the literal text before the first token; the padding is n.
    new.invoice_number_pattern := pg_catalog.regexp_replace(
      new.invoice_prefix
        || pg_catalog.substr(old.invoice_number_pattern,
                             coalesce(pg_catalog.strpos(old.invoice_number_pattern, '{'), 1)),
      '\{SEQ(:[0-9]+)?\}', '{SEQ:' || new.invoice_number_padding || '}');
  elsif tg_op = 'INSERT' and new.invoice_number_pattern = 'INV-{SEQ:4}'
        and (new.invoice_prefix, new.invoice_number_padding) is distinct from ('INV-', 4) then
    new.invoice_number_pattern := new.invoice_prefix || '{SEQ:' || new.invoice_number_padding || '}';
  elsif tg_op = 'INSERT' or new.invoice_number_pattern is distinct from old.invoice_number_pattern then
    lead := pg_catalog.split_part(new.invoice_number_pattern, '{', 1);
    if lead ~ '^[A-Za-z0-9._/#-]{0,20}$' then
      new.invoice_prefix := lead;
    end if;
    new.invoice_number_padding := coalesce(
      (pg_catalog.regexp_match(new.invoice_number_pattern, '\{SEQ:([0-9]+)\}'))[1]::integer, 1);
  end if;
  return new;
end;
$$;

-- =============================================================================
-- Functions redefined: invoices (20261206100600_invoices.sql)
-- =============================================================================

-- Today's counter is private.next_document_number(organization_id, 'invoice', issue_date).
drop function private.assign_invoice_number(uuid);

-- As in the invoices migration, with the issue date the organization's today when
-- none is given (before the number: the number's period is the issue date's) and
-- the number from the invoice pattern.
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
  if new.issue_date is null then
    new.issue_date := private.organization_today(new.organization_id);
  end if;
  new.invoice_number := nullif(btrim(new.invoice_number), '');
  if new.invoice_number is null then
    new.invoice_number := private.next_document_number(new.organization_id, 'invoice', new.issue_date);
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

-- The row trigger dates an invoice given without an issue date (the default was
-- the server's UTC day).
alter table public.invoices alter column issue_date drop default;

-- public.create_invoice: its form before 20261206170400, which tests/db/test_tax_model_keeps_totals.py
-- makes documents with; 20261206171200 replaces it whole (its final form).
--
-- One invoice with its items, in one transaction. `invoice` keys: client_id
-- (required), invoice_number, issue_date, due_date, payment_terms, status
-- ('draft' or 'sent'), tax_rate, discount, notes, terms, payment_instructions,
-- template. Left out: the number comes from the organization's counter, the
-- issue date is today, the terms, tax rate, template, notes, terms and payment
-- instructions are the organization's defaults, and the due date follows the
-- terms (a due date given without terms makes them 'custom' unless it is what
-- the default terms give). A failed creation rolls the counter back with it:
-- it consumes no number.
--
-- As in the invoices migration, with the issue date the organization's today when
-- none is given.
create or replace function public.create_invoice(organization_id uuid, invoice jsonb, items jsonb)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := create_invoice.organization_id;
  doc jsonb := coalesce(create_invoice.invoice, '{}'::jsonb);
  defaults record;
  given_client uuid;
  given_number text;
  issued date;
  due date;
  terms_given text;
  wanted_status text;
  wanted_discount numeric;
  new_id uuid;
begin
  perform private.require_role(org, 'member', 'your role may not create invoices in this organization');
  perform private.refuse_unknown_keys(doc, array[
    'client_id', 'invoice_number', 'issue_date', 'due_date', 'payment_terms', 'status', 'tax_rate',
    'discount', 'notes', 'terms', 'payment_instructions', 'template'], 'invoice');
  if items is null or jsonb_typeof(items) <> 'array' or jsonb_array_length(items) = 0 then
    raise exception 'an invoice needs at least one item' using errcode = '22023';
  end if;

  given_client := (doc ->> 'client_id')::uuid;
  if given_client is null then
    raise exception 'client_id is required' using errcode = '23502';
  end if;
  if not exists (select 1 from public.clients c
                 where c.id = given_client and c.organization_id = org) then
    raise exception 'client % is not a client of this organization', given_client
      using errcode = '23503';
  end if;

  given_number := nullif(btrim(doc ->> 'invoice_number'), '');
  if given_number is not null and exists (
       select 1 from public.invoices i
       where i.organization_id = org and i.invoice_number = given_number) then
    raise exception 'invoice number % is already used in this organization', given_number
      using errcode = '23505', constraint = 'invoices_invoice_number_unique_in_organization';
  end if;

  wanted_status := coalesce(doc ->> 'status', 'draft');
  if wanted_status not in ('draft', 'sent') then
    raise exception 'a new invoice is a draft or sent, not %', wanted_status
      using errcode = '23514', hint = 'Payments make an invoice paid; the daily job marks it overdue.';
  end if;

  select s.default_payment_terms, s.default_tax_rate, s.default_template, s.default_notes,
         s.default_terms, s.default_payment_instructions
  into defaults
  from public.organization_settings s
  where s.organization_id = org;

  issued := coalesce((doc ->> 'issue_date')::date, private.organization_today(org));
  due := (doc ->> 'due_date')::date;
  terms_given := doc ->> 'payment_terms';
  if terms_given is null then
    terms_given := coalesce(defaults.default_payment_terms, 'net30');
    if due is not null and due <> issued + private.payment_terms_days(terms_given) then
      terms_given := 'custom';
    end if;
  end if;
  if due is null and terms_given = 'custom' then
    raise exception 'custom payment terms need a due_date' using errcode = '23514';
  end if;
  due := coalesce(due, issued + private.payment_terms_days(terms_given));
  if due < issued then
    raise exception 'the due date (%) is before the issue date (%)', due, issued
      using errcode = '23514', constraint = 'invoices_due_date_not_before_issue_date';
  end if;

  insert into public.invoices (
    organization_id, client_id, invoice_number, issue_date, due_date, payment_terms, tax_rate,
    notes, terms, payment_instructions, template
  ) values (
    org, given_client, given_number, issued, due, terms_given,
    coalesce((doc ->> 'tax_rate')::numeric, defaults.default_tax_rate, 0),
    case when doc ? 'notes' then doc ->> 'notes' else defaults.default_notes end,
    case when doc ? 'terms' then doc ->> 'terms' else defaults.default_terms end,
    case when doc ? 'payment_instructions' then doc ->> 'payment_instructions'
         else defaults.default_payment_instructions end,
    coalesce(doc ->> 'template', defaults.default_template, 'professional')
  )
  returning id into new_id;

  -- Items first: the discount may not exceed the subtotal they make.
  perform private.apply_invoice_items(new_id, items, 'replace');

  wanted_discount := coalesce((doc ->> 'discount')::numeric, 0);
  if wanted_discount <> 0 or wanted_status <> 'draft' then
    update public.invoices i
    set discount = wanted_discount, status = wanted_status
    where i.id = new_id;
  end if;

  return private.invoice_document(new_id);
end;
$$;
grant execute on function public.create_invoice(uuid, jsonb, jsonb) to authenticated;
revoke execute on function public.create_invoice(uuid, jsonb, jsonb) from anon, service_role;

-- =============================================================================
-- Functions redefined: settings (20261206100300_profiles_and_settings.sql)
-- =============================================================================

-- As before, the business section with time_zone, overpayment and numbering (each
-- type's pattern, reset and preview) in place of the six flat pattern columns.
create or replace function private.settings_json(uid uuid, organization_id uuid)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
  return jsonb_build_object(
    'profile', (
      select jsonb_build_object(
               'id', p.id, 'email', p.email, 'first_name', p.first_name,
               'last_name', p.last_name, 'phone', p.phone, 'avatar_url', p.avatar_url,
               'updated_at', p.updated_at)
      from public.profiles p where p.id = uid),
    'notifications', (
      select jsonb_build_object(
               'email_notifications', s.email_notifications,
               'push_notifications', s.push_notifications,
               'updated_at', s.updated_at)
      from public.user_settings s where s.user_id = uid),
    'business', (
      select to_jsonb(o) - array[
               'created_at', 'invoice_number_pattern', 'invoice_number_reset', 'quote_number_pattern',
               'quote_number_reset', 'credit_note_number_pattern', 'credit_note_number_reset']
             || jsonb_build_object('numbering', private.numbering_json(o))
      from public.organization_settings o
      where settings_json.organization_id is not null and o.organization_id = settings_json.organization_id)
  );
end;
$$;
grant execute on function private.settings_json(uuid, uuid) to authenticated;

-- The numbering of a settings row, as the API answers it.
create or replace function private.numbering_json(o public.organization_settings)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'invoice', jsonb_build_object(
      'pattern', o.invoice_number_pattern, 'reset', o.invoice_number_reset,
      'preview', private.preview_document_number(o.organization_id, 'invoice', today)),
    'quote', jsonb_build_object(
      'pattern', o.quote_number_pattern, 'reset', o.quote_number_reset,
      'preview', private.preview_document_number(o.organization_id, 'quote', today)),
    'credit_note', jsonb_build_object(
      'pattern', o.credit_note_number_pattern, 'reset', o.credit_note_number_reset,
      'preview', private.preview_document_number(o.organization_id, 'credit_note', today)))
  from (select (pg_catalog.now() at time zone o.time_zone)::date as today) t
$$;

-- public.update_settings: defined in 20261206170200 (its final form; nothing is deployed)

-- =============================================================================
-- Triggers
-- =============================================================================

create trigger a_time_zone_is_known
  before insert or update of time_zone on public.organization_settings
  for each row
  execute function private.time_zone_is_known();

create trigger b_keep_invoice_prefix_in_step
  before insert or update of invoice_number_pattern, invoice_prefix, invoice_number_padding
  on public.organization_settings
  for each row
  execute function private.keep_invoice_prefix_in_step();

create trigger set_updated_at before update on public.document_counters
  for each row execute function private.set_updated_at();

-- A new period's counter is recorded; its advances are not (as next_invoice_number's).
select private.enable_audit('public.document_counters', array['updated_at', 'next_number']);

-- =============================================================================
-- Policies
-- =============================================================================

create policy "Members can view their organization's document counters"
  on public.document_counters for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

-- =============================================================================
-- Grants
-- =============================================================================

revoke all on public.document_counters from anon, authenticated, service_role;
grant select on public.document_counters to authenticated, service_role;

grant update (
  time_zone, overpayment, invoice_number_pattern, invoice_number_reset, quote_number_pattern,
  quote_number_reset, credit_note_number_pattern, credit_note_number_reset
) on public.organization_settings to authenticated;

grant execute on function
  private.organization_today(uuid),
  private.next_document_number(uuid, text, date),
  private.lock_document_numbers(uuid),
  private.is_iana_time_zone(text),
  private.numbering_pattern_problem(text, text),
  private.format_document_number(text, date, bigint),
  private.numbering_period(text, date),
  private.preview_document_number(uuid, text, date),
  private.numbering_json(public.organization_settings)
  to authenticated, service_role;

revoke execute on all functions in schema private, public from public;
