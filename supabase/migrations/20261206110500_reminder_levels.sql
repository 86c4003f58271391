-- =============================================================================
-- Reminder levels and late fees (issue 15).
--
-- reminder_settings (organization_settings) takes a new shape, replacing the
-- single before-due reminder (daysBeforeDue) and the fixed overdue frequency
-- (overdueFrequency):
--
--   {"enabled": true,
--    "levels": [                                   0 to 3, days strictly increasing
--      {"days": -7, "subject": "...", "message": "..."},       days: -90..365,
--      {"days": 1,  "subject": "...", "message": "..."}],      relative to the due date
--    "repeatEveryDays": 7,                         null: no repeat; 1..365
--    "lateFee": {"type": "percent", "amount": 1.5, "levels": [2]}}   or null
--
-- subject (1-200 characters, one line) and message (1-5000 characters, plain
-- text) may use the placeholders {client_name} {business_name} {invoice_number}
-- {amount_due} {total} {due_date} {issue_date} {days_overdue} {days_until_due}
-- (any other {name} is refused); the job fills them in (functions/jobs/reminders.py).
-- Missing keys: enabled is on, repeatEveryDays and lateFee are none; levels is
-- required. private.reminder_settings_problem says what is wrong with a value
-- (null: nothing), for the table's trigger and update_settings' answers.
--
-- Existing settings map onto levels with the same behaviour (the mapping,
-- private.reminder_settings_from_legacy, applied to every row below):
--   daysBeforeDue d (default 7)  -> level 1 on day -d, the old before-due wording
--   overdueFrequency daily       -> level 2 on day +1 (the old overdue wording),
--                                   repeatEveryDays 1
--   overdueFrequency weekly      -> level 2 on day +1, repeatEveryDays 7
--   overdueFrequency none        -> no level 2, no repeat
--   enabled                      -> enabled (default true); lateFee null
-- The old slots were before:<due date> from due - d through the due date, and
-- overdue:<due + 1 + k*step>; the new ones open on the same days.
--
-- Slots (one email per invoice and slot: email_deliveries' unique (invoice_id,
-- slot), as before). For an invoice open on day T of its organization (T - due
-- date = offset), the current level is the last whose days <= offset:
--   level<k>:<due date>  from due + days_k until the next level (a level on or
--                        before the due date ends with the due date: a "due
--                        soon" message is never sent once the date has passed;
--                        and it is skipped when its day came on or before the
--                        day the invoice was sent -- the client just received it);
--   repeat:<date>        after the last level, every repeatEveryDays days from
--                        due + days_last + repeatEveryDays, with the last
--                        level's subject and message.
-- Only the current slot opens, so a run after missed days sends the one slot
-- now due (as before); an unsent older slot is superseded by the claim. Only
-- invoices with something to pay (status sent or overdue and balance_due > 0:
-- never paid, cancelled or fully credited ones), a client email, reminders
-- enabled. Old slot names (before:, overdue:) left pending are superseded when a
-- claim reaches them (nothing is deployed yet: no ledger rows to carry over).
--
-- The day: each organization's own (organization_settings.time_zone, the
-- numbering migration's interface), unless the job is given as_of (a replay:
-- that day for every organization).
--
-- Late fees: lateFee applies to the levels it lists (level numbers 1-3, each
-- after the due date: days > 0), once per invoice and level, when that level's
-- reminder opens (so the reminder announces it; a repeat brings none; a level
-- passed while the job was not running brings none: catch-up opens the current
-- level only). fixed: amount in the invoice's currency; percent: of the balance
-- due at that moment; rounded half-up to the currency's minor unit (a fee that
-- rounds to 0 is recorded without a line). The fee is an invoice item (quantity
-- 1, rate = fee, "Late fee (reminder 2) ...") so the invoice's totals move by
-- the money rules (subtotal, then tax at the invoice's rate, total, balance),
-- and a row of public.invoice_late_fees, unique (invoice_id, level), written in
-- the same statement as the line: never twice, whatever runs at once. Both are
-- in the audit log. A waived fee (its line removed) stays recorded and is not
-- charged again.
--
-- No late fee on an invoice with credit notes: its total stays once credited
-- (20261206110200_credit_notes.sql, c_credited_invoice_keeps_its_total); its
-- reminders go on as for any invoice with a balance due.
--
-- Status and races: the job runs as the service role, which may add an item to
-- a sent invoice. The fee's own row trigger (private.late_fee_needs_an_open_invoice)
-- takes the invoice's row lock (FOR NO KEY UPDATE, the lock record_payment and
-- refresh_amounts_paid take first) and refuses an invoice not sent/overdue or
-- with nothing due, for every writer. The fees of a chunk lock their invoices
-- in id order before reading the balance, then the item's triggers lock the
-- clients: the order the payments use (invoice, then client). A payment that
-- commits first leaves the invoice paid and no fee is added; one that waits for
-- the fee then sees the new balance (a payment of the old balance leaves the
-- fee due, status sent/overdue by the invoice's own trigger). The fee step
-- takes turns with mark overdue (its advisory lock), which updates invoices in
-- another order.
--
-- Bounded: a call of the opening adds at most 250 late fees (a chunk dense in
-- fees is cut after its 250th; the rest is the next call's): a fee costs 3-5 ms
-- against ~0.05 ms a slot, and 2,000 in one call came within 1 s of the 8 s
-- statement timeout (bench/RESULTS.md, "Issue 15: reminder levels and late fees").
-- =============================================================================

-- =============================================================================
-- Settings: shape, mapping, defaults
-- =============================================================================

-- What is wrong with a reminder_settings value, as "<field>: <why>" with the
-- field's path inside reminder_settings (levels[0].days, as the API's own field
-- errors name it; level numbers in lateFee.levels count from 1), or null when
-- nothing is. The table's trigger (private.reminder_settings_keep_their_shape)
-- and update_settings call it.
create or replace function private.reminder_settings_problem(settings jsonb)
returns text
language plpgsql
immutable
set search_path = ''
as $$
declare
  known_placeholders text[] := array['client_name', 'business_name', 'invoice_number',
    'amount_due', 'total', 'due_date', 'issue_date', 'days_overdue', 'days_until_due'];
  bad text;
  lv jsonb;
  idx integer := 0;
  days integer;
  prev integer;
  all_days integer[] := '{}';
  field text;
  txt text;
  fee jsonb;
  amt numeric;
  lvl jsonb;
  seen integer[] := '{}';
  n integer;
begin
  if settings is null or pg_catalog.jsonb_typeof(settings) <> 'object' then
    return 'reminder_settings: must be an object';
  end if;
  select k into bad from pg_catalog.jsonb_object_keys(settings) k
  where k <> all (array['enabled', 'levels', 'repeatEveryDays', 'lateFee']) order by k limit 1;
  if bad in ('daysBeforeDue', 'overdueFrequency') then
    return bad || ': replaced by levels and repeatEveryDays (docs/api.md, "Reminder levels")';
  elsif bad is not null then
    return bad || ': not a reminder setting';
  end if;
  if settings ? 'enabled' and pg_catalog.jsonb_typeof(settings -> 'enabled') <> 'boolean' then
    return 'enabled: must be true or false';
  end if;

  if not settings ? 'levels' then
    return 'levels: required (a list of 0 to 3 levels)';
  end if;
  if pg_catalog.jsonb_typeof(settings -> 'levels') <> 'array' then
    return 'levels: must be a list';
  end if;
  n := pg_catalog.jsonb_array_length(settings -> 'levels');
  if n > 3 then
    return 'levels: at most 3 levels';
  end if;
  for lv in select e from pg_catalog.jsonb_array_elements(settings -> 'levels') e loop
    field := 'levels[' || idx || ']';
    if pg_catalog.jsonb_typeof(lv) <> 'object' then
      return field || ': must be an object';
    end if;
    select k into bad from pg_catalog.jsonb_object_keys(lv) k
    where k <> all (array['days', 'subject', 'message']) order by k limit 1;
    if bad is not null then
      return field || '.' || bad || ': not a field of a level';
    end if;
    if pg_catalog.jsonb_typeof(lv -> 'days') is distinct from 'number'
       or pg_catalog.scale((lv ->> 'days')::numeric) > 0
       or (lv ->> 'days')::numeric not between -90 and 365 then
      return field || '.days: must be a whole number of days from -90 to 365 (negative: before the due date)';
    end if;
    days := (lv ->> 'days')::integer;
    if prev is not null and days <= prev then
      return field || '.days: must be after the previous level''s (' || prev || ')';
    end if;
    prev := days;
    all_days := all_days || days;
    foreach bad in array array['subject', 'message'] loop
      if pg_catalog.jsonb_typeof(lv -> bad) is distinct from 'string' then
        return field || '.' || bad || ': required, a text';
      end if;
      txt := lv ->> bad;
      if pg_catalog.length(pg_catalog.btrim(txt)) = 0 then
        return field || '.' || bad || ': must not be empty';
      elsif bad = 'subject' and pg_catalog.length(txt) > 200 then
        return field || '.subject: at most 200 characters';
      elsif bad = 'subject' and txt ~ '[\r\n]' then
        return field || '.subject: one line';
      elsif bad = 'message' and pg_catalog.length(txt) > 5000 then
        return field || '.message: at most 5000 characters';
      end if;
      select m[1] into field from pg_catalog.regexp_matches(txt, '\{([^{}]*)\}', 'g') m
      where m[1] <> all (known_placeholders) limit 1;
      if found then
        return 'levels[' || idx || '].' || bad || ': unknown placeholder {' || field
               || '}; use {client_name} {business_name} {invoice_number} {amount_due} {total}'
               || ' {due_date} {issue_date} {days_overdue} {days_until_due}';
      end if;
      field := 'levels[' || idx || ']';
    end loop;
    idx := idx + 1;
  end loop;

  if settings ? 'repeatEveryDays' and settings -> 'repeatEveryDays' <> 'null'::jsonb then
    if pg_catalog.jsonb_typeof(settings -> 'repeatEveryDays') <> 'number'
       or pg_catalog.scale((settings ->> 'repeatEveryDays')::numeric) > 0
       or (settings ->> 'repeatEveryDays')::numeric not between 1 and 365 then
      return 'repeatEveryDays: must be a whole number of days from 1 to 365, or null';
    end if;
    if n = 0 then
      return 'repeatEveryDays: repeats the last level; add a level first';
    end if;
  end if;

  fee := settings -> 'lateFee';
  if fee is not null and fee <> 'null'::jsonb then
    if pg_catalog.jsonb_typeof(fee) <> 'object' then
      return 'lateFee: must be an object or null';
    end if;
    select k into bad from pg_catalog.jsonb_object_keys(fee) k
    where k <> all (array['type', 'amount', 'levels']) order by k limit 1;
    if bad is not null then
      return 'lateFee.' || bad || ': not a field of the late fee';
    end if;
    if coalesce(fee ->> 'type', '') not in ('fixed', 'percent')
       or pg_catalog.jsonb_typeof(fee -> 'type') <> 'string' then
      return 'lateFee.type: fixed or percent';
    end if;
    if pg_catalog.jsonb_typeof(fee -> 'amount') is distinct from 'number' then
      return 'lateFee.amount: required, a number';
    end if;
    amt := (fee ->> 'amount')::numeric;
    if amt <= 0 or pg_catalog.scale(amt) > 3
       or (fee ->> 'type' = 'percent' and amt > 100)
       or (fee ->> 'type' = 'fixed' and amt >= 1000000000) then
      return 'lateFee.amount: ' || case fee ->> 'type'
        when 'percent' then 'a percent above 0, at most 100, with at most 3 decimals'
        else 'above 0 and below 1000000000, with at most 3 decimals' end;
    end if;
    if pg_catalog.jsonb_typeof(fee -> 'levels') is distinct from 'array'
       or pg_catalog.jsonb_array_length(fee -> 'levels') = 0 then
      return 'lateFee.levels: required, the level numbers (1 to 3) that add the fee';
    end if;
    for lvl in select e from pg_catalog.jsonb_array_elements(fee -> 'levels') e loop
      if pg_catalog.jsonb_typeof(lvl) <> 'number' or lvl::text !~ '^[1-3]$' then
        return 'lateFee.levels: level numbers 1, 2 or 3';
      end if;
      if lvl::text::integer = any (seen) then
        return 'lateFee.levels: level ' || lvl::text || ' is listed twice';
      end if;
      seen := seen || lvl::text::integer;
      if lvl::text::integer > n then
        return 'lateFee.levels: there is no level ' || lvl::text || ' (' || n || ' level'
               || case when n = 1 then '' else 's' end || ')';
      end if;
      if all_days[lvl::text::integer] <= 0 then
        return 'lateFee.levels: level ' || lvl::text || ' is on day ' || all_days[lvl::text::integer]
               || '; a late fee applies after the due date (days above 0)';
      end if;
    end loop;
  end if;
  return null;
end;
$$;

comment on function private.reminder_settings_problem(jsonb) is
  'What is wrong with a reminder_settings value ("<field>: <why>"), or null.';

-- The levels today's settings (daysBeforeDue, overdueFrequency) meant, with the
-- old emails' wording (the subjects the job wrote, the templates' sentences).
create or replace function private.reminder_settings_from_legacy(old jsonb)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'enabled', coalesce((old ->> 'enabled')::boolean, true),
    'levels',
      pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
        'days', -coalesce((old ->> 'daysBeforeDue')::integer, 7),
        'subject', 'Reminder: invoice {invoice_number} from {business_name} is due {due_date}',
        'message', e'Dear {client_name},\n\nA friendly reminder that invoice {invoice_number}'
                   ' for {amount_due} is due on {due_date}.'))
      || case when coalesce(old ->> 'overdueFrequency', 'daily') in ('daily', 'weekly')
              then pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                'days', 1,
                'subject', 'Overdue: invoice {invoice_number} from {business_name}'
                           ' ({amount_due} due {due_date})',
                'message', e'Dear {client_name},\n\nOur records show that invoice {invoice_number},'
                           ' due on {due_date}, is {days_overdue} days overdue with {amount_due}'
                           ' still to pay. If you have already paid, thank you, and please'
                           ' ignore this reminder.'))
              else '[]'::jsonb end,
    'repeatEveryDays', case coalesce(old ->> 'overdueFrequency', 'daily')
                         when 'daily' then '1'::jsonb when 'weekly' then '7'::jsonb
                         else 'null'::jsonb end,
    'lateFee', 'null'::jsonb)
$$;

alter table public.organization_settings
  drop constraint organization_settings_reminder_settings_shape;

update public.organization_settings
set reminder_settings = private.reminder_settings_from_legacy(reminder_settings)
where not reminder_settings ? 'levels';

-- The column default is an expression evaluated at insert: the migration writes
-- the constant instead, so no role needs EXECUTE to insert a settings row.
do $default$
begin
  execute pg_catalog.format(
    'alter table public.organization_settings alter column reminder_settings set default %L::jsonb',
    private.reminder_settings_from_legacy('{}')::text);
end;
$default$;

-- The shape, for every writer: a trigger on the column rather than a check
-- constraint, which PostgreSQL evaluates on every update of the row -- and the
-- settings row is updated for every invoice number the counter hands out
-- (0.06-0.18 ms a check, measured: a 10,000-invoice run of the recurring job
-- would pay it 10,000 times for settings that did not change).
create or replace function private.reminder_settings_keep_their_shape()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  problem text;
begin
  if tg_op = 'UPDATE' and new.reminder_settings is not distinct from old.reminder_settings then
    return new;
  end if;
  problem := private.reminder_settings_problem(new.reminder_settings);
  if problem is not null then
    raise exception 'reminder_settings.%', problem
      using errcode = '23514', constraint = 'organization_settings_reminder_settings_shape';
  end if;
  return new;
end;
$$;

create trigger a_reminder_settings_keep_their_shape
  before insert or update of reminder_settings on public.organization_settings
  for each row execute function private.reminder_settings_keep_their_shape();

-- =============================================================================
-- Late fees: the record
-- =============================================================================

-- One late fee of one invoice at one reminder level: at most one (unique), the
-- item that carries it (null once the business removes the line: the fee stays
-- recorded, so it is not charged again), and how it was computed.
create table public.invoice_late_fees (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  invoice_id uuid not null,
  currency text not null,
  level integer not null check (level between 1 and 3),
  fee_type text not null check (fee_type in ('fixed', 'percent')),
  -- The settings' amount: the fixed amount, or the percent.
  rate numeric not null check (rate > 0),
  -- The balance due the fee was computed from (before the fee).
  balance_before numeric not null check (balance_before > 0),
  amount numeric not null check (amount >= 0 and amount < 1e12),
  invoice_item_id uuid,
  created_at timestamptz not null default now(),
  constraint invoice_late_fees_once_per_level unique (invoice_id, level),
  constraint invoice_late_fees_invoice_fkey
    foreign key (organization_id, invoice_id, currency)
    references public.invoices (organization_id, id, currency) on delete cascade on update cascade,
  -- Written in the same statement as the fee (the item after the fee's row).
  constraint invoice_late_fees_item_fkey
    foreign key (invoice_item_id) references public.invoice_items (id) on delete set null
    deferrable initially deferred,
  constraint invoice_late_fees_amount_in_currency
    check (amount = pg_catalog.round(amount, private.currency_minor_unit(currency)))
);

comment on table public.invoice_late_fees is
  'Late fees added to invoices by the reminder job: one per invoice and reminder level.';

alter table public.invoice_late_fees enable row level security;

create index invoice_late_fees_invoice_idx
  on public.invoice_late_fees (organization_id, invoice_id, currency);
create index invoice_late_fees_organization_created_idx
  on public.invoice_late_fees (organization_id, created_at desc);
create index invoice_late_fees_item_idx
  on public.invoice_late_fees (invoice_item_id) where invoice_item_id is not null;

-- A late fee only on an invoice that is sent or overdue with something due and
-- no credit notes (whose total stays), for every writer (the job runs as the
-- service role, which the invoices' identity rules let through). Takes the invoice's row lock first, as the payments do,
-- so the check reads the invoice as it is once any racing payment committed.
create or replace function private.late_fee_needs_an_open_invoice()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  inv record;
begin
  select i.status, i.balance_due, i.invoice_number, i.credit_notes_total into inv
  from public.invoices i
  where i.id = new.invoice_id
  for no key update;
  if not found then
    return new;  -- the foreign key reports it
  end if;
  if inv.status not in ('sent', 'overdue') or inv.balance_due <= 0 then
    raise exception 'invoice % is % with % due: no late fee', inv.invoice_number, inv.status,
      inv.balance_due using errcode = '23514';
  end if;
  if inv.credit_notes_total > 0 then
    raise exception 'invoice % has credit notes: no late fee (its total stays)', inv.invoice_number
      using errcode = '23514';
  end if;
  return new;
end;
$$;

create trigger a_late_fee_needs_an_open_invoice
  before insert on public.invoice_late_fees
  for each row execute function private.late_fee_needs_an_open_invoice();

select private.enable_audit('public.invoice_late_fees');

create policy "Members can view their organization's late fees"
  on public.invoice_late_fees for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

revoke all on public.invoice_late_fees from anon, authenticated, service_role;
grant select on public.invoice_late_fees to authenticated, service_role;
grant insert, update (invoice_item_id) on public.invoice_late_fees to service_role;

-- The late fees due with the reminder slots a chunk just opened (`opened`: the
-- invoices and slots), set-based: the invoices are locked in id order first
-- (the payments' lock), then read again (a new snapshot: a payment that
-- committed meanwhile is seen) and each gets, in one statement, its fee row
-- (unique per invoice and level; its trigger refuses an invoice no longer open)
-- and its line. Returns how many fees were added.
create or replace function private.apply_late_fees(invoice_ids uuid[], slots text[])
returns bigint
language plpgsql
volatile
set search_path = ''
as $$
declare
  cand_ids uuid[];
  cand_levels integer[];
  added bigint;
begin
  select coalesce(pg_catalog.array_agg(o.invoice_id order by o.invoice_id), '{}'),
         coalesce(pg_catalog.array_agg(o.level order by o.invoice_id), '{}')
  into cand_ids, cand_levels
  from (
    select distinct on (u.invoice_id) u.invoice_id,
           case when u.slot ~ '^level[1-3]:' then pg_catalog.substr(u.slot, 6, 1)::integer end as level
    from unnest(invoice_ids, slots) u(invoice_id, slot)
    where u.slot ~ '^level[1-3]:'
    order by u.invoice_id, u.slot
  ) o
  join public.invoices i on i.id = o.invoice_id
  join public.organization_settings os on os.organization_id = i.organization_id
  where pg_catalog.jsonb_typeof(os.reminder_settings -> 'lateFee') = 'object'
    and i.credit_notes_total = 0
    and (os.reminder_settings -> 'lateFee' -> 'levels') @> pg_catalog.to_jsonb(o.level)
    and not exists (select 1 from public.invoice_late_fees f
                    where f.invoice_id = o.invoice_id and f.level = o.level);
  if cardinality(cand_ids) = 0 then
    return 0;
  end if;

  -- Mark overdue updates invoices in its own order, many a statement: the two
  -- take turns (its calls are short) rather than risk a deadlock.
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('invoiceflow.job_mark_overdue'));
  -- The payments' lock, in id order; the statement below reads them anew.
  perform 1 from public.invoices i where i.id = any (cand_ids) order by i.id for no key update;

  with fees as (
    select i.organization_id, i.id as invoice_id, i.currency, c.level,
           fee ->> 'type' as fee_type,
           (fee ->> 'amount')::numeric as rate,
           i.balance_due,
           private.round_money(case fee ->> 'type'
             when 'percent' then i.balance_due * (fee ->> 'amount')::numeric / 100
             else (fee ->> 'amount')::numeric end, i.currency) as amount,
           pg_catalog.gen_random_uuid() as item_id
    from unnest(cand_ids, cand_levels) c(invoice_id, level)
    join public.invoices i on i.id = c.invoice_id
    join public.organization_settings os on os.organization_id = i.organization_id
    cross join lateral (select os.reminder_settings -> 'lateFee' as fee) s
    where i.status in ('sent', 'overdue') and i.balance_due > 0 and i.credit_notes_total = 0
      and pg_catalog.jsonb_typeof(fee) = 'object'
  ),
  recorded as (
    insert into public.invoice_late_fees
      (organization_id, invoice_id, currency, level, fee_type, rate, balance_before, amount,
       invoice_item_id)
    select f.organization_id, f.invoice_id, f.currency, f.level, f.fee_type, f.rate, f.balance_due,
           f.amount, case when f.amount > 0 then f.item_id end
    from fees f
    order by f.invoice_id
    on conflict (invoice_id, level) do nothing
    returning *
  ),
  lines as (
    insert into public.invoice_items
      (id, organization_id, invoice_id, currency, position, description, quantity, rate)
    select r.invoice_item_id, r.organization_id, r.invoice_id, r.currency,
           coalesce((select max(it.position) + 1 from public.invoice_items it
                     where it.invoice_id = r.invoice_id), 0),
           case r.fee_type
             when 'percent' then pg_catalog.format('Late fee (reminder %s): %s%% of the balance of %s %s',
                                                   r.level, pg_catalog.trim_scale(r.rate),
                                                   r.balance_before, r.currency)
             else pg_catalog.format('Late fee (reminder %s)', r.level) end,
           1, r.amount
    from recorded r
    where r.invoice_item_id is not null
    returning 1
  )
  select count(*) into added from recorded;
  return added;
end;
$$;

-- =============================================================================
-- Slots
-- =============================================================================

-- The reminder each open invoice is due as of `today`, by its organization's
-- reminder_settings (missing keys: the table's defaults, enabled, 7 days,
-- daily). At most one slot per invoice: the latest that has opened, so a run
-- after missed days sends one reminder, not one per missed day.
--   before due   from due_date - daysBeforeDue up to the due date itself, once
--                per due date (slot 'before:<due date>'); not when the window
--                opened before the invoice was sent (it just arrived);
--   overdue      from the day after the due date, every day (daily) or every
--                7 days (weekly), never with 'none' (slot 'overdue:<date>').
-- Only invoices with something to pay (sent or overdue, balance_due > 0) and
-- a client email. The user preference paymentReminder is not consulted: it is
-- a person's inbox setting, and reminders go to the business's clients by the
-- business's settings (which admins set).
-- SQL, stable, with no SET clause: inlined into the statements that call it.
--
-- The reminder each open invoice is due on `today` (null: each organization's
-- own day, in its time zone), by its organization's reminder levels (the
-- header). At most one slot per invoice: the current one, so a run after missed
-- days sends one reminder. Only invoices with something to pay (sent or
-- overdue, balance_due > 0) and a client email. The user preference
-- paymentReminder is not consulted (a person's inbox setting; reminders go to
-- the business's clients by the business's settings).
-- SQL, stable, with no SET clause: inlined into the statements that call it
-- (the platform migration's note), so the chunk's `invoice_id = any (ids)`
-- reaches the invoices' primary key.
create or replace function private.reminder_slots(today date, org_ids uuid[])
returns table (
  invoice_id uuid, organization_id uuid, recipient text, slot text, slot_date date
)
language sql
stable
as $$
  select i.id, i.organization_id, c.email,
         case when x.is_repeat then 'repeat:' || x.slot_date::text
              else 'level' || lv.level || ':' || i.due_date::text end,
         x.slot_date
  from public.invoices i
  join public.organization_settings os on os.organization_id = i.organization_id
  join public.clients c on c.id = i.client_id
  cross join lateral (
    select coalesce(today, (pg_catalog.now() at time zone os.time_zone)::date) as day,
           pg_catalog.jsonb_array_length(os.reminder_settings -> 'levels') as levels,
           (os.reminder_settings ->> 'repeatEveryDays')::integer as step
  ) d
  cross join lateral (
    select l.ord::integer as level, (l.v ->> 'days')::integer as days
    from pg_catalog.jsonb_array_elements(os.reminder_settings -> 'levels') with ordinality l(v, ord)
    where (l.v ->> 'days')::integer <= d.day - i.due_date
    order by l.ord desc
    limit 1
  ) lv
  cross join lateral (
    select lv.level = d.levels and d.step is not null
           and d.day - i.due_date >= lv.days + d.step as is_repeat
  ) r
  cross join lateral (
    select r.is_repeat,
           case when r.is_repeat
                then i.due_date + lv.days + d.step * ((d.day - i.due_date - lv.days) / d.step)
                else i.due_date + lv.days end as slot_date
  ) x
  where i.status in ('sent', 'overdue')
    and i.balance_due > 0
    and (org_ids is null or i.organization_id = any (org_ids))
    and coalesce((os.reminder_settings ->> 'enabled')::boolean, true)
    and c.email is not null
    and (x.is_repeat
         or lv.days > 0
         or (d.day <= i.due_date
             and (i.sent_at is null
                  or x.slot_date > (i.sent_at at time zone os.time_zone)::date)))
$$;
grant execute on function private.reminder_slots(date, uuid[]) to service_role;

-- Opens the reminder slots due on `today` (null: each organization's day) for
-- at most `batch_limit` open invoices, the next ones after (`after_due_date`,
-- `after_id`) in due-date order (a keyset on invoices_open_due_date_idx), and
-- adds the late fees of the levels just opened, in the same transaction. The
-- insert is kept to one row per invoice and slot by a unique constraint.
-- Unsent reminders no longer current are superseded when a claim reaches them.
-- A chunk is cut short after its 250th late fee (`cut`), so that no call grows
-- with the fees a first run adds. Returns the counts and where the next chunk
-- starts (`scanned` < `batch_limit` and not `cut`: done).
drop function private.open_reminder_slots(date, uuid[], date, uuid, integer);
create function private.open_reminder_slots(
  today date, org_ids uuid[], after_due_date date, after_id uuid, batch_limit integer,
  out opened bigint, out scanned integer, out last_due_date date, out last_id uuid,
  out late_fees bigint, out cut boolean)
language plpgsql
volatile
set search_path = ''
set jit = off
as $$
declare
  -- Late fees a call adds at most: each is a line, its fee row, the invoice's new
  -- totals, the client's and their audit entries (3-5 ms each on the bench's
  -- machine at load 7, against ~0.05 ms a slot): 2,000 in one call took up to 7 s
  -- of the 8 s timeout, 400 up to 3.4 s (bench/RESULTS.md, "Issue 15: reminder
  -- levels and late fees").
  fee_limit constant integer := 250;
  ids uuid[];
  dues date[];
  cut_due date;
  cut_id uuid;
  opened_invoices uuid[];
  opened_slots text[];
begin
  select coalesce(pg_catalog.array_agg(c.id order by c.due_date, c.id), '{}'),
         coalesce(pg_catalog.array_agg(c.due_date order by c.due_date, c.id), '{}')
  into ids, dues
  from (
    select i.id, i.due_date
    from public.invoices i
    where i.status in ('sent', 'overdue')
      and (after_id is null or (i.due_date, i.id) > (after_due_date, after_id))
      and (org_ids is null or i.organization_id = any (org_ids))
    order by i.due_date, i.id
    limit batch_limit
  ) c;
  scanned := cardinality(ids);
  last_due_date := dues[scanned];
  last_id := ids[scanned];
  cut := false;

  -- A chunk dense in late fees (the first run after a fee is turned on) is cut
  -- after its fee_limit-th: the invoices after it are the next call's, so every
  -- slot still opens with its fee in one transaction.
  select f.due_date, f.id into cut_due, cut_id
  from (
    select i.due_date, i.id
    from private.reminder_slots(today, org_ids) s
    join public.invoices i on i.id = s.invoice_id
    join public.organization_settings os on os.organization_id = s.organization_id
    cross join lateral (
      select case when s.slot ~ '^level[1-3]:' then pg_catalog.substr(s.slot, 6, 1)::integer end as level
    ) l
    where s.invoice_id = any (ids)
      and l.level is not null
      and pg_catalog.jsonb_typeof(os.reminder_settings -> 'lateFee') = 'object'
      and (os.reminder_settings -> 'lateFee' -> 'levels') @> pg_catalog.to_jsonb(l.level)
      and i.credit_notes_total = 0
      and not exists (select 1 from public.email_deliveries d
                      where d.invoice_id = s.invoice_id and d.slot = s.slot)
      and not exists (select 1 from public.invoice_late_fees f
                      where f.invoice_id = s.invoice_id and f.level = l.level)
    order by i.due_date, i.id
    offset fee_limit - 1
    limit 1
  ) f;
  if cut_id is not null and (cut_due, cut_id) < (last_due_date, last_id) then
    ids := array(select u.id from unnest(ids, dues) u(id, due)
                 where (u.due, u.id) <= (cut_due, cut_id));
    last_due_date := cut_due;
    last_id := cut_id;
    cut := true;
  end if;

  with ins as (
    insert into public.email_deliveries (kind, organization_id, invoice_id, slot, slot_date, recipient)
    select 'payment_reminder', s.organization_id, s.invoice_id, s.slot, s.slot_date, s.recipient
    from private.reminder_slots(today, org_ids) s
    where s.invoice_id = any (ids)
    order by s.invoice_id, s.slot
    on conflict (invoice_id, slot) do nothing
    returning invoice_id, slot
  )
  select count(*), coalesce(pg_catalog.array_agg(ins.invoice_id), '{}'),
         coalesce(pg_catalog.array_agg(ins.slot), '{}')
  into opened, opened_invoices, opened_slots
  from ins;

  late_fees := 0;
  if exists (select 1 from pg_catalog.unnest(opened_slots) s where s like 'level_:%') then
    late_fees := private.apply_late_fees(opened_invoices, opened_slots);
  end if;
end;
$$;

-- One chunk of the reminders' opening (private.open_reminder_slots): the job
-- calls it from the start (no `after_id`) until it answers `done`, then claims.
-- Each call is one short transaction, far inside the API roles' statement
-- timeout however many invoices are open (docs/architecture.md, "Statement
-- timeouts"). Serialized by an advisory lock (concurrent inserts of the same
-- keys in different orders could deadlock).
--
-- One chunk of the reminders' opening (private.open_reminder_slots): the job
-- calls it from the start (no `after_id`) until it answers `done`, then claims.
-- Without `as_of`, each organization's day in its time zone; `as_of` replays
-- that day for every organization (the answer's `as_of` is that day, or today
-- in UTC). Serialized by an advisory lock (concurrent inserts of the same keys
-- in different orders could deadlock).
create or replace function public.job_open_reminders(
  as_of date default null,
  organization_ids uuid[] default null,
  after_due_date date default null,
  after_id uuid default null,
  batch_limit integer default 2000
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
set jit = off
as $$
declare
  today date := private.job_date(as_of);
  chunk record;
begin
  if batch_limit is null or batch_limit < 1 or batch_limit > 50000 then
    raise exception 'batch_limit must be between 1 and 50000' using errcode = '22023';
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('invoiceflow.job_claim_reminders'));
  select * into chunk
  from private.open_reminder_slots(as_of, job_open_reminders.organization_ids,
                                   after_due_date, after_id, batch_limit);
  return pg_catalog.jsonb_build_object(
    'as_of', today, 'opened', chunk.opened, 'late_fees', chunk.late_fees,
    'scanned', chunk.scanned, 'done', chunk.scanned < batch_limit and not chunk.cut,
    'after_due_date', chunk.last_due_date, 'after_id', chunk.last_id);
end;
$$;
comment on function public.job_open_reminders(date, uuid[], date, uuid, integer) is
  'Scheduled job: opens the due reminder slots of one chunk of open invoices.';
grant execute on function
  public.job_open_reminders(date, uuid[], date, uuid, integer)
  to service_role;

-- Claims up to `batch_limit` pending reminders. Returns what each email needs
-- beyond the invoice's document (which the job reads itself, for the PDF). A
-- claimed reminder whose slot is no longer current (the invoice paid,
-- cancelled, or a newer slot open) is superseded instead of returned: stale
-- rows of invoices no longer open are found here, a claim at a time. With
-- `open_slots` (the default) it first opens every slot due as of `as_of`, all
-- chunks in this one call (for a few organizations, and the pgTAP tests); the
-- job opens them with job_open_reminders, a chunk a call, and claims with
-- `open_slots => false`. The claim is not serialized (SKIP LOCKED).
--
-- Claims up to `batch_limit` pending reminders, each with what its email needs
-- beyond the invoice's document: its level (null for a repeat), the subject and
-- message of that level (a repeat: the last level's) as the settings hold them
-- now, with their placeholders for the job to fill, the late fee its level
-- added (if any), and the days overdue or until due on the organization's day.
-- A claimed reminder whose slot is no longer current (the invoice paid,
-- cancelled, fully credited, a newer slot open, an old slot name) is superseded
-- instead of returned. With `open_slots` (the default) it first opens every
-- slot due, all chunks in this one call (a few organizations; the pgTAP tests);
-- the job opens them with job_open_reminders and claims with `open_slots =>
-- false`. The claim is not serialized (SKIP LOCKED).
create or replace function public.job_claim_reminders(
  as_of date default null,
  batch_limit integer default 50,
  skip_ids uuid[] default null,
  organization_ids uuid[] default null,
  lease_seconds integer default 300,
  open_slots boolean default true
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
set jit = off
as $$
declare
  today date := private.job_date(as_of);
  org_ids uuid[] := job_claim_reminders.organization_ids;
  opened bigint := 0;
  fees bigint := 0;
  stale bigint;
  chunk record;
  after_due date;
  after uuid;
  claimed_ids uuid[];
  result jsonb;
begin
  perform private.check_job_batch(batch_limit, lease_seconds);
  if open_slots then
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('invoiceflow.job_claim_reminders'));
    loop
      select * into chunk from private.open_reminder_slots(as_of, org_ids, after_due, after, 5000);
      opened := opened + chunk.opened;
      fees := fees + chunk.late_fees;
      exit when chunk.scanned < 5000 and not chunk.cut;
      after_due := chunk.last_due_date;
      after := chunk.last_id;
    end loop;
  end if;

  select coalesce(pg_catalog.array_agg(c.id), '{}') into claimed_ids
  from private.claim_email_deliveries(
    array['payment_reminder'], batch_limit, lease_seconds, skip_ids, org_ids) c;

  update public.email_deliveries d
  set status = 'superseded', claimed_until = null, attempts = d.attempts - 1
  where d.id = any (claimed_ids)
    and not exists (
      select 1 from private.reminder_slots(as_of, org_ids) s
      where s.invoice_id = d.invoice_id and s.slot = d.slot);
  get diagnostics stale = row_count;

  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
      'id', c.id,
      'kind', c.kind,
      'attempts', c.attempts,
      'organization_id', c.organization_id,
      'invoice_id', c.invoice_id,
      'recipient', c.recipient,
      'slot', c.slot,
      'slot_date', c.slot_date,
      'level', lv.level,
      'repeat', c.slot like 'repeat:%',
      'phase', case when c.slot_date > i.due_date then 'overdue' else 'before' end,
      'subject', lv.settings ->> 'subject',
      'message', lv.settings ->> 'message',
      'late_fee', (select pg_catalog.jsonb_build_object('amount', f.amount, 'currency', f.currency)
                   from public.invoice_late_fees f
                   where f.invoice_id = c.invoice_id and f.level = lv.level
                     and f.invoice_item_id is not null
                     and c.slot not like 'repeat:%'),
      'days_overdue', greatest(d.day - i.due_date, 0),
      'days_until_due', greatest(i.due_date - d.day, 0)
    ) order by c.created_at, c.id), '[]'::jsonb)
  into result
  from public.email_deliveries c
  join public.invoices i on i.id = c.invoice_id
  join public.organization_settings os on os.organization_id = c.organization_id
  cross join lateral (
    select coalesce(as_of, (pg_catalog.now() at time zone os.time_zone)::date) as day
  ) d
  cross join lateral (
    select case when c.slot like 'repeat:%'
                then pg_catalog.jsonb_array_length(os.reminder_settings -> 'levels')
                when c.slot ~ '^level[1-3]:' then pg_catalog.substr(c.slot, 6, 1)::integer end as level
  ) n
  cross join lateral (
    select n.level, os.reminder_settings -> 'levels' -> (n.level - 1) as settings
  ) lv
  where c.id = any (claimed_ids) and c.status = 'pending';

  return pg_catalog.jsonb_build_object(
    'as_of', today, 'opened', opened, 'late_fees', fees, 'superseded', stale, 'claimed', result);
end;
$$;
comment on function public.job_claim_reminders(date, integer, uuid[], uuid[], integer, boolean) is
  'Scheduled job: opens due reminder slots (unless open_slots is false) and claims reminders to send.';
grant execute on function
  public.job_claim_reminders(date, integer, uuid[], uuid[], integer, boolean)
  to service_role;

-- =============================================================================
-- Settings: update_settings (20261206110100_time_zone_and_numbering.sql's, with
-- the reminder settings' new keys; the old ones refused, saying what replaced
-- them; the merged value checked by private.reminder_settings_problem, so the
-- answer names the field: "business.reminder_settings.levels[1].days: ...")
-- =============================================================================

-- public.update_settings: defined in 20261206170200 (its final form; nothing is deployed)

-- =============================================================================
-- Grants
-- =============================================================================

-- The table's trigger runs the check for every writer of organization_settings.
grant execute on function private.reminder_settings_problem(jsonb) to authenticated, service_role;

grant execute on function
  private.reminder_slots(date, uuid[]),
  private.open_reminder_slots(date, uuid[], date, uuid, integer),
  private.apply_late_fees(uuid[], text[]),
  private.late_fee_needs_an_open_invoice()
  to service_role;

revoke execute on all functions in schema private, public from public;
