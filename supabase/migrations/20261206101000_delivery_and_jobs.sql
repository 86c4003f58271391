-- =============================================================================
-- Delivery: sending invoices by email, idempotency keys, and bulk actions.
--
--   idempotency_keys  one row per (organization, user, Idempotency-Key): the
--                     request's fingerprint, its state and the stored answer,
--                     so the same key never sends twice and replays the first
--                     answer; a different request under the same key is told so.
--   invoice_sends     every email of an invoice that SES accepted: recipients,
--                     subject, SES message id, who and when.
--   bulk_jobs,        a bulk send and its per-invoice items (pending, sending,
--   bulk_job_items    ok, failed with a reason): the progress the caller polls
--                     and the record the queue worker trusts -- an item is
--                     claimed (pending -> sending) before its email goes out and
--                     marked ok in the transaction that records the send, so a
--                     redelivered message or a rerun never emails it again.
--
-- The RPCs are SECURITY INVOKER (row level security applies to users) and name
-- the organization explicitly, so another organization's ids are "not found";
-- the bulk worker calls them with the service role (no RLS), and the explicit
-- organization keeps it inside the job's organization.
--
-- Scheduled jobs (docs/api.md, "Scheduled jobs"): mark overdue, the overdue
-- notices to owners and admins, payment reminders to clients, and the weekly
-- and monthly summaries. SQL decides what is due and remembers what was sent;
-- the Lambda functions only render and send (functions/jobs/*).
--
-- Who may call: the service role only (the scheduled functions use its key).
-- Every public function here is SECURITY INVOKER with EXECUTE granted to
-- service_role alone; the API roles cannot call them. The service role has
-- BYPASSRLS and the tables' privileges (on email_deliveries, granted below); the one
-- read it has no privilege for on Supabase, auth.users, is private.account_email.
--
-- Dates: the schema has no per-organization time zone, so a job's day is the
-- UTC date (`as_of`, default today in UTC; Supabase runs in UTC, so this is the
-- current_date the invoice triggers compare due dates with). A job may be run
-- for a past day (a replay) or at most one day ahead; later is refused (22023).
--
-- One table, public.email_deliveries, is both the outbox and the ledger of
-- every email these jobs send: one row per email, with its state
--   pending -> sent         (SES accepted it; message_id recorded)
--   pending -> pending      (a retryable failure: tried again by the next run)
--   pending -> failed       (a permanent failure, or 5 attempts)
--   pending -> superseded   (no longer due: a newer reminder slot, an invoice
--                            paid, a summary period gone by, an opt-out)
-- Sending is claim -> send -> record: a claim takes pending rows with
-- FOR UPDATE SKIP LOCKED and leases them (claimed_until), so two runs at once
-- never send the same row; the result is recorded right after each send. A
-- run that dies between SES accepting and the record leaves a lease that
-- expires, and the row is sent again (at least once, never twice otherwise).
--
-- Exactly-once, per job:
--   mark overdue   the transition sent -> overdue happens once per invoice (a
--                  second run finds nothing still `sent`), and the activity and
--                  notices are written from that transition, in one statement;
--   reminders      one row per (invoice, slot), a unique constraint: a slot is
--                  claimed once however many runs open it;
--   summaries      one row per (kind, user, organization, period start), unique.
-- =============================================================================

-- =============================================================================
-- Tables
-- =============================================================================

create table public.idempotency_keys (
  organization_id uuid not null references public.organizations (id) on delete cascade,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  key text not null check (length(key) between 1 and 255),
  -- What the key was used for ("POST /api/invoices/<id>/send") and a hash of the
  -- request's meaningful content: a key reused for something else is refused.
  operation text not null check (length(operation) between 1 and 300),
  fingerprint text not null check (length(fingerprint) between 1 and 200),
  state text not null default 'in_progress' check (state in ('in_progress', 'completed')),
  response_status integer check (response_status between 100 and 599),
  response jsonb,
  created_at timestamptz not null default now(),
  -- An in-progress request holds the key until then; past it, the request is
  -- presumed dead (its outcome unknown: it may have sent).
  locked_until timestamptz not null default now() + interval '60 seconds',
  completed_at timestamptz,
  expires_at timestamptz not null default now() + interval '24 hours',
  primary key (organization_id, user_id, key),
  constraint idempotency_keys_completed_has_response
    check (state <> 'completed' or (response_status is not null and response is not null))
);

-- A bulk send: its items are the invoices asked for, in the order given.
create table public.bulk_jobs (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  action text not null check (action in ('send')),
  -- The send's options (cc, bcc, subject, message) as the worker needs them.
  options jsonb not null default '{}' check (jsonb_typeof(options) = 'object'),
  total integer not null check (total between 1 and 500),
  queued boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  finished_at timestamptz,
  unique (organization_id, id)
);

create table public.bulk_job_items (
  job_id uuid not null,
  organization_id uuid not null,
  -- The id as requested: it may name no invoice of the organization (not_found),
  -- so it is not a foreign key.
  invoice_id uuid not null,
  position integer not null check (position >= 0),
  status text not null default 'pending'
    check (status in ('pending', 'sending', 'ok', 'failed')),
  reason text check (reason is null or length(reason) between 1 and 50),
  message text check (length(message) <= 1000),
  ses_message_id text check (length(ses_message_id) <= 200),
  attempts integer not null default 0 check (attempts >= 0),
  claimed_at timestamptz,
  updated_at timestamptz not null default now(),
  primary key (job_id, invoice_id),
  foreign key (organization_id, job_id)
    references public.bulk_jobs (organization_id, id) on delete cascade,
  constraint bulk_job_items_failed_has_reason check (status <> 'failed' or reason is not null)
);

create table public.invoice_sends (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  invoice_id uuid not null,
  sent_by uuid references auth.users (id) on delete set null default auth.uid(),
  kind text not null default 'invoice' check (kind in ('invoice', 'receipt')),
  -- {"to": [...], "cc": [...], "bcc": [...]}
  recipients jsonb not null check (jsonb_typeof(recipients -> 'to') = 'array'),
  subject text not null check (length(subject) between 1 and 998),
  ses_message_id text not null check (length(ses_message_id) between 1 and 200),
  bulk_job_id uuid references public.bulk_jobs (id) on delete set null,
  idempotency_key text check (length(idempotency_key) <= 255),
  sent_at timestamptz not null default now(),
  foreign key (organization_id, invoice_id)
    references public.invoices (organization_id, id) on delete cascade
);

alter table public.idempotency_keys enable row level security;
alter table public.bulk_jobs enable row level security;
alter table public.bulk_job_items enable row level security;
alter table public.invoice_sends enable row level security;

create table public.email_deliveries (
  id uuid primary key default gen_random_uuid(),
  kind text not null
    check (kind in ('invoice_overdue', 'payment_reminder', 'weekly_summary', 'monthly_summary')),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  -- The member an overdue notice or a summary is for.
  user_id uuid references auth.users (id) on delete cascade,
  -- payment_reminder: the invoice and its slot ('before:<due date>' or
  -- 'overdue:<slot date>'), and the day the slot opened.
  invoice_id uuid,
  slot text check (length(slot) <= 40),
  slot_date date,
  -- invoice_overdue: the invoices the run turned overdue.
  invoice_ids uuid[],
  -- summaries: the period reported, both ends inclusive.
  period_start date,
  period_end date,
  recipient text check (length(recipient) <= 320),
  status text not null default 'pending'
    check (status in ('pending', 'sent', 'failed', 'superseded')),
  attempts integer not null default 0 check (attempts >= 0),
  claimed_until timestamptz,
  message_id text check (length(message_id) <= 500),
  last_error text check (length(last_error) <= 1000),
  created_at timestamptz not null default now(),
  sent_at timestamptz,
  constraint email_deliveries_invoice_fkey
    foreign key (organization_id, invoice_id)
    references public.invoices (organization_id, id) on delete cascade,
  constraint email_deliveries_shape check (case kind
    when 'payment_reminder' then invoice_id is not null and slot is not null and slot_date is not null
    when 'invoice_overdue' then user_id is not null and cardinality(invoice_ids) > 0
    else user_id is not null and period_start is not null and period_end >= period_start
  end),
  -- Never the same reminder slot twice (null invoice_id/slot: other kinds, distinct).
  constraint email_deliveries_one_reminder_per_slot unique (invoice_id, slot),
  -- Never the same summary twice.
  constraint email_deliveries_one_summary_per_period unique (kind, user_id, organization_id, period_start)
);

comment on table public.email_deliveries is
  'Outbox and ledger of the emails the scheduled jobs send (reminders, overdue notices, summaries).';

alter table public.email_deliveries enable row level security;

-- =============================================================================
-- Indexes
-- =============================================================================

create index idempotency_keys_expires_at_idx on public.idempotency_keys (expires_at);
create index bulk_jobs_organization_created_idx on public.bulk_jobs (organization_id, created_at desc);
create index bulk_job_items_job_status_idx on public.bulk_job_items (job_id, status);
create index bulk_job_items_organization_idx on public.bulk_job_items (organization_id);
create index invoice_sends_invoice_idx on public.invoice_sends (organization_id, invoice_id, sent_at desc);

-- A bulk job emails each of its invoices at most once, whatever the queue does.
create unique index invoice_sends_once_per_bulk_job_idx
  on public.invoice_sends (bulk_job_id, invoice_id) where bulk_job_id is not null;

create index invoice_sends_bulk_job_idx on public.invoice_sends (bulk_job_id) where bulk_job_id is not null;

-- What the claims scan: the pending rows of a kind, oldest first.
create index email_deliveries_pending_idx
  on public.email_deliveries (kind, created_at, id) where status = 'pending';

create index email_deliveries_organization_created_at_idx
  on public.email_deliveries (organization_id, created_at desc);

create index email_deliveries_user_idx on public.email_deliveries (user_id) where user_id is not null;

-- Deleting a user looks up the rows that name it (the foreign key is ON DELETE
-- SET NULL or CASCADE); partial: the NULLs are never looked up.
create index idempotency_keys_user_id_idx on public.idempotency_keys (user_id);

-- Deleting a user looks up the rows that name it (the foreign key is ON DELETE
-- SET NULL or CASCADE); partial: the NULLs are never looked up.
create index bulk_jobs_created_by_idx on public.bulk_jobs (created_by) where created_by is not null;

-- Deleting a user looks up the rows that name it (the foreign key is ON DELETE
-- SET NULL or CASCADE); partial: the NULLs are never looked up.
create index invoice_sends_sent_by_idx on public.invoice_sends (sent_by) where sent_by is not null;

-- =============================================================================
-- Functions
-- =============================================================================

-- Marks a bulk job finished once none of its items is pending or being sent.
create or replace function private.finish_bulk_job_if_done(job uuid)
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  update public.bulk_jobs j
  set finished_at = now()
  where j.id = job
    and j.finished_at is null
    and not exists (
      select 1 from public.bulk_job_items it
      where it.job_id = job and it.status in ('pending', 'sending'));
end;
$$;

-- Starts a request under an Idempotency-Key. Answers {"outcome": ...}:
--   started      the key is new (or expired): go ahead; the key is held
--   completed    the key's request finished: "status" and "response" replay it
--   in_progress  the key's first request is still running
--   unknown      the key's first request died before finishing; it may have
--                sent, so it is not run again (use a new key after checking)
--   mismatch     the key was used for a different request
-- Concurrent callers of one key are serialized by the primary key: the second
-- waits for the first's insert to commit and then sees it.
create or replace function public.begin_idempotent_request(
  organization_id uuid, key text, operation text, fingerprint text
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := begin_idempotent_request.organization_id;
  k text := begin_idempotent_request.key;
  me uuid := auth.uid();
  row_ public.idempotency_keys;
begin
  if me is null then
    raise exception 'your role may not send in this organization' using errcode = '42501';
  end if;
  perform private.require_role(org, 'member', 'your role may not send in this organization');
  if k is null or length(k) not between 1 and 255 then
    raise exception 'Idempotency-Key must be 1 to 255 characters' using errcode = '22023';
  end if;
  delete from public.idempotency_keys ik
  where ik.organization_id = org and ik.user_id = me and ik.key = k and ik.expires_at <= now();

  insert into public.idempotency_keys as ik (organization_id, key, operation, fingerprint)
  values (org, k, begin_idempotent_request.operation, begin_idempotent_request.fingerprint)
  on conflict do nothing
  returning ik.* into row_;
  if found then
    return jsonb_build_object('outcome', 'started');
  end if;

  select ik.* into row_
  from public.idempotency_keys ik
  where ik.organization_id = org and ik.user_id = me and ik.key = k;
  if row_.operation <> begin_idempotent_request.operation
     or row_.fingerprint <> begin_idempotent_request.fingerprint then
    return jsonb_build_object('outcome', 'mismatch', 'operation', row_.operation);
  elsif row_.state = 'completed' then
    return jsonb_build_object('outcome', 'completed', 'status', row_.response_status,
                              'response', row_.response);
  elsif row_.locked_until > now() then
    return jsonb_build_object('outcome', 'in_progress',
                              'retry_after', ceil(extract(epoch from row_.locked_until - now())));
  end if;
  return jsonb_build_object('outcome', 'unknown', 'started_at', row_.created_at);
end;
$$;

-- Gives a key back when its request failed before anything was sent (SES
-- refused, a rule said no): the caller may retry with the same key.
create or replace function public.release_idempotent_request(organization_id uuid, key text)
returns void
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
  delete from public.idempotency_keys ik
  where ik.organization_id = release_idempotent_request.organization_id
    and ik.user_id = auth.uid()
    and ik.key = release_idempotent_request.key
    and ik.state = 'in_progress';
end;
$$;

-- mark_invoice_sent: after SES accepted an email, in one transaction: the send
-- recorded, the invoice moved draft -> sent (a re-send keeps its status), an
-- invoice_sent activity on the client's timeline, the bulk item marked ok, and
-- the idempotency key completed with the answer. Returns that answer:
-- {"send": {...}, "invoice": {...}} (the invoice only outside bulk jobs).
create or replace function public.mark_invoice_sent(
  organization_id uuid,
  invoice_id uuid,
  ses_message_id text,
  recipients jsonb,
  subject text,
  kind text default 'invoice',
  idempotency_key text default null,
  bulk_job_id uuid default null
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := mark_invoice_sent.organization_id;
  job uuid := mark_invoice_sent.bulk_job_id;
  actor uuid := auth.uid();
  inv public.invoices;
  sent public.invoice_sends;
  answer jsonb;
  who text;
  activity_id uuid;
begin
  perform private.require_role(org, 'member', 'your role may not send invoices in this organization');
  if job is not null then
    select j.created_by into actor
    from public.bulk_jobs j
    where j.id = job and j.organization_id = org;
    if not found then
      raise exception 'bulk job not found' using errcode = 'P0002';
    end if;
    actor := coalesce(auth.uid(), actor);
  end if;

  select i.* into inv
  from public.invoices i
  where i.id = mark_invoice_sent.invoice_id and i.organization_id = org
  for update;
  if not found then
    raise exception 'invoice not found' using errcode = 'P0002';
  end if;

  insert into public.invoice_sends as s
    (organization_id, invoice_id, sent_by, kind, recipients, subject, ses_message_id,
     bulk_job_id, idempotency_key)
  values (org, inv.id, actor, coalesce(mark_invoice_sent.kind, 'invoice'),
          jsonb_build_object('to', coalesce(recipients -> 'to', '[]'),
                             'cc', coalesce(recipients -> 'cc', '[]'),
                             'bcc', coalesce(recipients -> 'bcc', '[]')),
          mark_invoice_sent.subject, mark_invoice_sent.ses_message_id, job,
          mark_invoice_sent.idempotency_key)
  returning s.* into sent;

  if inv.status = 'draft' then
    update public.invoices i set status = 'sent' where i.id = inv.id;
  end if;

  select string_agg(value, ', ') into who
  from jsonb_array_elements_text(sent.recipients -> 'to');
  -- A person's activity is theirs (created_by defaults to auth.uid() and is
  -- not theirs to write); the worker's is the job's creator's.
  insert into public.client_activities (organization_id, client_id, activity, type, metadata)
  values (org, inv.client_id,
          left(pg_catalog.format('%s %s sent to %s',
                                 case when sent.kind = 'receipt' then 'Receipt for invoice'
                                      else 'Invoice' end,
                                 inv.invoice_number, coalesce(who, 'the client')), 1000),
          'invoice_sent',
          jsonb_build_object('invoice_id', inv.id, 'invoice_number', inv.invoice_number,
                             'send_id', sent.id, 'ses_message_id', sent.ses_message_id,
                             'kind', sent.kind, 'to', sent.recipients -> 'to',
                             'bulk_job_id', job))
  returning id into activity_id;
  if auth.uid() is null and actor is not null then
    update public.client_activities a set created_by = actor where a.id = activity_id;
  end if;

  if job is not null then
    update public.bulk_job_items it
    set status = 'ok', reason = null, message = null, ses_message_id = sent.ses_message_id
    where it.job_id = job and it.invoice_id = inv.id and it.organization_id = org;
    perform private.finish_bulk_job_if_done(job);
  end if;

  answer := jsonb_build_object('send', jsonb_build_object(
    'id', sent.id, 'invoice_id', sent.invoice_id, 'kind', sent.kind,
    'recipients', sent.recipients, 'subject', sent.subject,
    'ses_message_id', sent.ses_message_id, 'sent_by', sent.sent_by, 'sent_at', sent.sent_at));
  if job is null then
    answer := answer || jsonb_build_object('invoice', private.invoice_document(inv.id));
  end if;

  if mark_invoice_sent.idempotency_key is not null and auth.uid() is not null then
    update public.idempotency_keys ik
    set state = 'completed', response_status = 200, response = answer, completed_at = now()
    where ik.organization_id = org and ik.user_id = auth.uid()
      and ik.key = mark_invoice_sent.idempotency_key;
  end if;
  return answer;
end;
$$;

-- Bulk actions that need no email: one statement classifies every id, one
-- statement acts on those that qualify. Each id gets a result in the order
-- given: "ok", or a reason -- not_found (not an invoice of the organization),
-- wrong_status, has_payments -- with a message for people.
--   mark_sent  drafts become sent (no email; an invoice_sent activity says so)
--   mark_paid  sent and overdue invoices get a payment of their balance due
--              (options: payment_date, payment_method, reference_number, notes
--              -- checked as record_payment checks them)
--   cancel     drafts, and sent or overdue invoices without payments
--   delete     drafts only
create or replace function public.bulk_invoice_action(
  organization_id uuid, action text, ids uuid[], options jsonb default '{}'
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := bulk_invoice_action.organization_id;
  act text := bulk_invoice_action.action;
  opts jsonb := coalesce(bulk_invoice_action.options, '{}');
  paid_on date;
  method text;
  ref text;
  note text;
  results jsonb;
  ok_ids uuid[];
begin
  perform private.require_role(org, 'member', 'your role may not change invoices in this organization');
  if act is null or act not in ('mark_sent', 'mark_paid', 'cancel', 'delete') then
    raise exception 'action must be one of mark_sent, mark_paid, cancel, delete' using errcode = '22023';
  end if;
  if ids is null or cardinality(ids) not between 1 and 500 then
    raise exception 'ids must list 1 to 500 invoices' using errcode = '22023';
  end if;
  if (select count(distinct x) from unnest(ids) x) <> cardinality(ids) or array_position(ids, null) is not null then
    raise exception 'ids must be distinct invoice ids' using errcode = '22023';
  end if;
  if jsonb_typeof(opts) <> 'object' then
    raise exception 'options must be an object' using errcode = '22023';
  end if;
  if act = 'mark_paid' then
    perform private.refuse_unknown_keys(
      opts, array['payment_date', 'payment_method', 'reference_number', 'notes'], 'options');
    paid_on := coalesce((opts ->> 'payment_date')::date, current_date);
    method := coalesce(opts ->> 'payment_method', 'bank_transfer');
    ref := nullif(btrim(opts ->> 'reference_number'), '');
    note := nullif(btrim(opts ->> 'notes'), '');
    perform private.check_payment_fields(1, paid_on, method, ref, note);
  elsif opts <> '{}' then
    raise exception '% takes no options', act using errcode = '22023';
  end if;

  -- The organization's invoices among the ids, locked in id order (the lock
  -- order of every invoice write).
  perform 1 from public.invoices i
  where i.organization_id = org and i.id = any (ids)
  order by i.id
  for update;

  select coalesce(jsonb_agg(jsonb_build_object('id', r.id, 'status', v.status, 'message', v.message)
                            order by r.ord), '[]')
  into results
  from unnest(ids) with ordinality r (id, ord)
  left join public.invoices i on i.id = r.id and i.organization_id = org
  cross join lateral (
    select
      case
        when i.id is null then 'not_found'
        when act = 'mark_sent' and i.status <> 'draft' then 'wrong_status'
        when act = 'mark_paid' and i.status not in ('sent', 'overdue') then 'wrong_status'
        when act = 'cancel' and i.status in ('paid', 'cancelled') then 'wrong_status'
        when act = 'cancel' and i.amount_paid > 0 then 'has_payments'
        when act = 'delete' and i.status <> 'draft' then 'wrong_status'
        else 'ok'
      end as status,
      case
        when i.id is null then 'no such invoice in this organization'
        when act = 'mark_sent' and i.status = 'cancelled' then
          pg_catalog.format('invoice %s is cancelled and cannot be sent', i.invoice_number)
        when act = 'mark_sent' and i.status <> 'draft' then
          pg_catalog.format('invoice %s is already %s', i.invoice_number, i.status)
        when act = 'mark_paid' and i.status = 'draft' then
          pg_catalog.format('invoice %s is a draft; send it before recording payments', i.invoice_number)
        when act = 'mark_paid' and i.status not in ('sent', 'overdue') then
          pg_catalog.format('invoice %s is %s', i.invoice_number,
                            case i.status when 'paid' then 'already paid in full' else i.status end)
        when act = 'cancel' and i.status in ('paid', 'cancelled') then
          pg_catalog.format('invoice %s is %s and cannot be cancelled', i.invoice_number,
                            case i.status when 'paid' then 'paid' else 'already cancelled' end)
        when act = 'cancel' and i.amount_paid > 0 then
          pg_catalog.format('invoice %s has payments; delete them before cancelling', i.invoice_number)
        when act = 'delete' and i.status <> 'draft' then
          pg_catalog.format('invoice %s is %s; only drafts can be deleted (cancel it instead)',
                            i.invoice_number, i.status)
        when act = 'mark_sent' then pg_catalog.format('invoice %s was marked as sent', i.invoice_number)
        when act = 'mark_paid' then
          pg_catalog.format('a payment of %s %s was recorded for invoice %s', i.balance_due, i.currency,
                            i.invoice_number)
        when act = 'cancel' then pg_catalog.format('invoice %s was cancelled', i.invoice_number)
        else pg_catalog.format('invoice %s was deleted', i.invoice_number)
      end as message
  ) v;

  ok_ids := array(select (e ->> 'id')::uuid from jsonb_array_elements(results) e
                  where e ->> 'status' = 'ok');

  if cardinality(ok_ids) > 0 then
    if act = 'mark_sent' then
      update public.invoices i set status = 'sent'
      where i.organization_id = org and i.id = any (ok_ids);
      insert into public.client_activities (organization_id, client_id, activity, type, metadata)
      select i.organization_id, i.client_id,
             pg_catalog.format('Invoice %s marked as sent', i.invoice_number), 'invoice_sent',
             jsonb_build_object('invoice_id', i.id, 'invoice_number', i.invoice_number,
                                'emailed', false)
      from public.invoices i
      where i.organization_id = org and i.id = any (ok_ids);
    elsif act = 'mark_paid' then
      insert into public.payments
        (organization_id, invoice_id, currency, amount, payment_date, payment_method,
         reference_number, notes)
      select i.organization_id, i.id, i.currency, i.balance_due, paid_on, method, ref, note
      from public.invoices i
      where i.organization_id = org and i.id = any (ok_ids) and i.balance_due > 0;
    elsif act = 'cancel' then
      update public.invoices i set status = 'cancelled'
      where i.organization_id = org and i.id = any (ok_ids);
    else
      delete from public.invoices i where i.organization_id = org and i.id = any (ok_ids);
    end if;
  end if;

  return jsonb_build_object(
    'action', act,
    'results', results,
    'summary', (
      select jsonb_build_object('requested', cardinality(ids)) || coalesce(jsonb_object_agg(s, n), '{}')
      from (select e ->> 'status' as s, count(*) as n
            from jsonb_array_elements(results) e group by 1) t));
end;
$$;

-- Bulk send: create_bulk_send records the job and one item per id, already
-- decided where it can be (not_found, wrong_status for cancelled and paid
-- invoices, no_email for a client without an address); the others are
-- pending. Whoever sends (the API for a few, the queue worker for more) claims
-- items before emailing and marks them with mark_invoice_sent or
-- fail_bulk_item.
create or replace function public.create_bulk_send(
  organization_id uuid, ids uuid[], options jsonb default '{}', queued boolean default false
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := create_bulk_send.organization_id;
  job public.bulk_jobs;
  items jsonb;
begin
  perform private.require_role(org, 'member', 'your role may not send invoices in this organization');
  if ids is null or cardinality(ids) not between 1 and 500 then
    raise exception 'ids must list 1 to 500 invoices' using errcode = '22023';
  end if;
  if (select count(distinct x) from unnest(ids) x) <> cardinality(ids) or array_position(ids, null) is not null then
    raise exception 'ids must be distinct invoice ids' using errcode = '22023';
  end if;
  perform private.refuse_unknown_keys(coalesce(options, '{}'), array['cc', 'bcc', 'subject', 'message'],
                                      'options');

  insert into public.bulk_jobs as j (organization_id, action, options, total, queued)
  values (org, 'send', coalesce(options, '{}'), cardinality(ids), coalesce(queued, false))
  returning j.* into job;

  insert into public.bulk_job_items (job_id, organization_id, invoice_id, position, status, reason, message)
  select job.id, org, r.id, r.ord - 1,
         case when v.reason is null then 'pending' else 'failed' end, v.reason, v.message
  from unnest(ids) with ordinality r (id, ord)
  left join public.invoices i on i.id = r.id and i.organization_id = org
  left join public.clients c on c.id = i.client_id and c.organization_id = org
  cross join lateral (
    select
      case
        when i.id is null then 'not_found'
        when i.status in ('cancelled', 'paid') then 'wrong_status'
        when nullif(btrim(c.email), '') is null then 'no_email'
      end as reason,
      case
        when i.id is null then 'no such invoice in this organization'
        when i.status = 'cancelled' then
          pg_catalog.format('invoice %s is cancelled and cannot be sent', i.invoice_number)
        when i.status = 'paid' then
          pg_catalog.format('invoice %s is paid; send it on its own to email a receipt', i.invoice_number)
        when nullif(btrim(c.email), '') is null then
          pg_catalog.format('client %s has no email address (client.email)', c.company_name)
      end as message
  ) v;

  perform private.finish_bulk_job_if_done(job.id);
  select coalesce(jsonb_agg(jsonb_build_object('invoice_id', it.invoice_id, 'status', it.status,
                                               'reason', it.reason, 'message', it.message)
                            order by it.position), '[]')
  into items
  from public.bulk_job_items it
  where it.job_id = job.id;
  return jsonb_build_object('job_id', job.id, 'items', items);
end;
$$;

-- Claims the pending items among `ids` of a job (pending -> sending) and
-- returns the claimed invoice ids; only those may be emailed. An item left
-- "sending" for longer than `stale_after` belongs to a worker that died while
-- emailing it: it may have gone out, so it is failed as "interrupted" rather
-- than sent again.
create or replace function public.claim_bulk_items(
  organization_id uuid, job_id uuid, ids uuid[], stale_after interval default '10 minutes'
)
returns uuid[]
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := claim_bulk_items.organization_id;
  job uuid := claim_bulk_items.job_id;
  claimed uuid[];
begin
  perform private.require_role(org, 'member', 'your role may not send invoices in this organization');
  update public.bulk_job_items it
  set status = 'failed', reason = 'interrupted',
      message = 'sending was interrupted; the email may or may not have gone out, so it was not sent again'
  where it.job_id = job and it.organization_id = org and it.invoice_id = any (ids)
    and it.status = 'sending' and it.claimed_at < now() - stale_after;

  with mine as (
    select it.invoice_id
    from public.bulk_job_items it
    where it.job_id = job and it.organization_id = org and it.invoice_id = any (ids)
      and it.status = 'pending'
    order by it.invoice_id
    for update skip locked
  ), taken as (
    update public.bulk_job_items it
    set status = 'sending', claimed_at = now(), attempts = it.attempts + 1
    from mine
    where it.job_id = job and it.invoice_id = mine.invoice_id
    returning it.invoice_id
  )
  select coalesce(array_agg(t.invoice_id), '{}') into claimed from taken t;
  perform private.finish_bulk_job_if_done(job);
  return claimed;
end;
$$;

-- An item that could not be sent: `retry` puts it back to pending (a throttled
-- or unavailable email service; the queue redelivers the message), otherwise
-- it fails with the reason.
create or replace function public.fail_bulk_item(
  organization_id uuid, job_id uuid, invoice_id uuid, reason text, message text,
  retry boolean default false
)
returns void
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
  perform private.require_role(fail_bulk_item.organization_id, 'member',
    'your role may not send invoices in this organization');
  update public.bulk_job_items it
  set status = case when retry then 'pending' else 'failed' end,
      reason = fail_bulk_item.reason,
      message = left(fail_bulk_item.message, 1000),
      claimed_at = null
  where it.job_id = fail_bulk_item.job_id
    and it.organization_id = fail_bulk_item.organization_id
    and it.invoice_id = fail_bulk_item.invoice_id
    and it.status = 'sending';
  perform private.finish_bulk_job_if_done(fail_bulk_item.job_id);
end;
$$;

-- Fails the pending items among `ids` that will never be sent (the queue
-- could not take them): the job finishes instead of waiting for them.
create or replace function public.abandon_bulk_items(
  organization_id uuid, job_id uuid, ids uuid[], reason text, message text
)
returns void
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
  perform private.require_role(abandon_bulk_items.organization_id, 'member',
    'your role may not send invoices in this organization');
  update public.bulk_job_items it
  set status = 'failed', reason = abandon_bulk_items.reason,
      message = left(abandon_bulk_items.message, 1000)
  where it.job_id = abandon_bulk_items.job_id
    and it.organization_id = abandon_bulk_items.organization_id
    and it.invoice_id = any (ids)
    and it.status = 'pending';
  perform private.finish_bulk_job_if_done(abandon_bulk_items.job_id);
end;
$$;

-- The job's day: `as_of`, or today in UTC; at most one day ahead.
create or replace function private.job_date(as_of date)
returns date
language plpgsql
stable
set search_path = ''
as $$
declare
  today date := (pg_catalog.now() at time zone 'UTC')::date;
begin
  if as_of is null then
    return today;
  end if;
  if as_of > today + 1 then
    raise exception 'as_of (%) is in the future; a job runs for today or a past day', as_of
      using errcode = '22023';
  end if;
  if as_of < date '2000-01-01' then
    raise exception 'as_of (%) is before 2000-01-01', as_of using errcode = '22023';
  end if;
  return as_of;
end;
$$;

create or replace function private.check_job_batch(batch_limit integer, lease_seconds integer)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
  if batch_limit is null or batch_limit < 1 or batch_limit > 500 then
    raise exception 'batch_limit must be between 1 and 500' using errcode = '22023';
  end if;
  if lease_seconds is null or lease_seconds < 10 or lease_seconds > 3600 then
    raise exception 'lease_seconds must be between 10 and 3600' using errcode = '22023';
  end if;
end;
$$;

-- Whether a person wants an email (a missing key is the table's default: yes).
-- Its search_path is pinned (Supabase's advisors): 0.44 s -> 1.9 s over 1,000,000
-- calls, once per recipient of a job's emails.
create or replace function private.wants_email(notifications jsonb, preference text)
returns boolean
language sql
immutable
parallel safe
set search_path = ''
as $$
  select coalesce(notifications -> preference, 'true'::jsonb) is distinct from 'false'::jsonb
$$;

-- A member's current account e-mail address (null: no such account). SECURITY
-- DEFINER: auth.users is the Auth server's, and on Supabase the service role has no
-- privilege on it (supabase/postgres grants its tables to supabase_auth_admin,
-- postgres and dashboard_user only); the jobs that address notices and summaries
-- read the address here, one account at a time. The service role's alone.
create or replace function private.account_email(user_id uuid)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select u.email::text from auth.users u where u.id = account_email.user_id
$$;

-- Leases up to `batch_limit` pending deliveries of the kinds asked for (oldest
-- first), skipping rows another run holds (SKIP LOCKED, and an unexpired
-- lease: the re-check on a row a concurrent run just claimed sees its lease)
-- and the ids this run already tried (`skip_ids`: a failure is retried by the
-- next run, not in a loop by this one).
create or replace function private.claim_email_deliveries(
  wanted_kinds text[],
  batch_limit integer,
  lease_seconds integer,
  skip_ids uuid[],
  org_ids uuid[]
)
returns setof public.email_deliveries
language plpgsql
volatile
set search_path = ''
as $$
begin
  return query
  with claimable as (
    select d.id
    from public.email_deliveries d
    where d.kind = any (wanted_kinds)
      and d.status = 'pending'
      and (d.claimed_until is null or d.claimed_until < pg_catalog.now())
      and not d.id = any (coalesce(skip_ids, '{}'))
      and (org_ids is null or d.organization_id = any (org_ids))
    order by d.kind, d.created_at, d.id
    limit batch_limit
    for update skip locked
  )
  update public.email_deliveries d
  set claimed_until = pg_catalog.now() + pg_catalog.make_interval(secs => lease_seconds),
      attempts = d.attempts + 1
  from claimable c
  where d.id = c.id
  returning d.*;
end;
$$;

-- public.job_mark_overdue: defined in 20261206110600 (its final form; nothing is deployed)

-- Claims queued overdue notices and returns what each email needs: the
-- recipient (the member's current account email), the organization, and the
-- invoices (their current state; the first 50, with the count of all). At most
-- 100 a call whatever `batch_limit` says: each notice reads its invoices (~8 ms
-- apiece), and 500 took 4-5 s against the 8 s statement timeout (bench/RESULTS.md,
-- "Issue 13"); the job claims again until none is left.
create or replace function public.job_claim_notifications(
  batch_limit integer default 50,
  skip_ids uuid[] default null,
  organization_ids uuid[] default null,
  lease_seconds integer default 300
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  result jsonb;
begin
  perform private.check_job_batch(batch_limit, lease_seconds);

  -- A notice whose member left the organization or turned the preference off
  -- since it was queued is not sent.
  update public.email_deliveries d
  set status = 'superseded'
  where d.kind = 'invoice_overdue' and d.status = 'pending'
    and (d.claimed_until is null or d.claimed_until < pg_catalog.now())
    and (organization_ids is null or d.organization_id = any (organization_ids))
    and not exists (
      select 1
      from public.memberships mb
      left join public.user_settings us on us.user_id = mb.user_id
      where mb.organization_id = d.organization_id and mb.user_id = d.user_id
        and mb.role >= 'admin' and private.wants_email(us.email_notifications, 'invoiceOverdue'));

  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
      'id', c.id,
      'kind', c.kind,
      'attempts', c.attempts,
      'organization_id', c.organization_id,
      'user_id', c.user_id,
      'recipient', private.account_email(c.user_id),
      'first_name', p.first_name,
      'organization_name', o.name,
      'business_name', coalesce(nullif(pg_catalog.btrim(os.business_name), ''), o.name),
      'as_of', c.slot_date,
      'invoice_count', pg_catalog.cardinality(c.invoice_ids),
      'invoices', (
        select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
            'id', i.id, 'invoice_number', i.invoice_number, 'status', i.status,
            'client_name', cl.company_name, 'due_date', i.due_date, 'currency', i.currency,
            'total_amount', i.total_amount, 'balance_due', i.balance_due)
            order by i.due_date, i.invoice_number), '[]'::jsonb)
        from (
          select i.* from public.invoices i
          where i.organization_id = c.organization_id and i.id = any (c.invoice_ids)
          order by i.due_date, i.invoice_number
          limit 50
        ) i
        join public.clients cl on cl.id = i.client_id),
      'totals', (
        select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
            'currency', t.currency, 'balance_due', t.balance_due) order by t.currency), '[]'::jsonb)
        from (
          select i.currency, private.round_money(sum(i.balance_due), i.currency) as balance_due
          from public.invoices i
          where i.organization_id = c.organization_id and i.id = any (c.invoice_ids)
          group by i.currency
        ) t)
    ) order by c.created_at, c.id), '[]'::jsonb)
  into result
  from private.claim_email_deliveries(
    array['invoice_overdue'], least(batch_limit, 100), lease_seconds, skip_ids, organization_ids) c
  join public.organizations o on o.id = c.organization_id
  left join public.organization_settings os on os.organization_id = c.organization_id
  left join public.profiles p on p.id = c.user_id;
  return pg_catalog.jsonb_build_object('claimed', result);
end;
$$;

comment on function public.job_claim_notifications(integer, uuid[], uuid[], integer) is
  'Scheduled job: claims queued overdue notices to send.';

-- private.reminder_slots: defined in 20261206110500 (its final form; nothing is deployed)

-- Opens the reminder slots due as of `today` for at most `batch_limit` open
-- invoices, the next ones after (`after_due_date`, `after_id`) in due-date
-- order (a keyset on invoices_open_due_date_idx). The insert is kept to one
-- row per invoice and slot by a unique constraint. Unsent reminders no longer
-- current are superseded when a claim reaches them (job_claim_reminders), not
-- here: a scan of the pending reminders per chunk grew with the outbox (it
-- took seconds a chunk over 85,000 of them, the planner misled by statistics
-- taken before the run). Returns the count and where the next chunk starts
-- (`scanned` < `batch_limit`: done).
create or replace function private.open_reminder_slots(
  today date, org_ids uuid[], after_due_date date, after_id uuid, batch_limit integer,
  out opened bigint, out scanned integer, out last_due_date date, out last_id uuid)
language plpgsql
volatile
set search_path = ''
set jit = off
as $$
declare
  ids uuid[];
begin
  select coalesce(pg_catalog.array_agg(c.id), '{}'), count(*)::integer,
         (pg_catalog.array_agg(c.due_date order by c.due_date desc, c.id desc))[1],
         (pg_catalog.array_agg(c.id order by c.due_date desc, c.id desc))[1]
  into ids, scanned, last_due_date, last_id
  from (
    select i.id, i.due_date
    from public.invoices i
    where i.status in ('sent', 'overdue')
      and (after_id is null or (i.due_date, i.id) > (after_due_date, after_id))
      and (org_ids is null or i.organization_id = any (org_ids))
    order by i.due_date, i.id
    limit batch_limit
  ) c;

  insert into public.email_deliveries (kind, organization_id, invoice_id, slot, slot_date, recipient)
  select 'payment_reminder', s.organization_id, s.invoice_id, s.slot, s.slot_date, s.recipient
  from private.reminder_slots(today, org_ids) s
  where s.invoice_id = any (ids)
  order by s.invoice_id, s.slot
  on conflict (invoice_id, slot) do nothing;
  get diagnostics opened = row_count;
end;
$$;

-- public.job_open_reminders: defined in 20261206110500 (its final form; nothing is deployed)

-- public.job_claim_reminders: defined in 20261206110500 (its final form; nothing is deployed)

-- The period a summary run reports: the last full ISO week (Monday to Sunday)
-- or calendar month before `today`.
create or replace function private.summary_period(period text, today date,
                                                  out period_start date, out period_end date)
language plpgsql
immutable
set search_path = ''
as $$
begin
  if period = 'week' then
    period_start := (pg_catalog.date_trunc('week', today::timestamp) - interval '7 days')::date;
    period_end := period_start + 6;
  elsif period = 'month' then
    period_start := (pg_catalog.date_trunc('month', today::timestamp) - interval '1 month')::date;
    period_end := (pg_catalog.date_trunc('month', today::timestamp) - interval '1 day')::date;
  else
    raise exception 'period must be week or month' using errcode = '22023';
  end if;
end;
$$;

-- Opens one summary per member (any role: every member may read the reports)
-- and organization for the period, for members whose weeklyReport or
-- monthlyReport preference is on and organizations with something to report
-- (an invoice issued or a payment received in the period, or an open invoice);
-- supersedes unsent summaries of earlier periods and of members who opted out
-- or left; claims up to `batch_limit`, at most 100 a call (each carries two
-- reports: 500 took 3-5 s against the 8 s statement timeout; the job claims again
-- until none is left). Each claimed summary carries its
-- figures, from the report functions: reports_overview for the period
-- (billed, collected, outstanding, overdue, per currency) and
-- dashboard_metrics as of the job's day (what is open and overdue now).
create or replace function public.job_claim_summaries(
  period text,
  as_of date default null,
  batch_limit integer default 50,
  skip_ids uuid[] default null,
  organization_ids uuid[] default null,
  lease_seconds integer default 300
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
  org_ids uuid[] := job_claim_summaries.organization_ids;
  wanted_kind text := case period when 'week' then 'weekly_summary' when 'month' then 'monthly_summary' end;
  preference text := case period when 'week' then 'weeklyReport' when 'month' then 'monthlyReport' end;
  range_from date;
  range_to date;
  opened bigint;
  superseded bigint;
  result jsonb;
begin
  perform private.check_job_batch(batch_limit, lease_seconds);
  select p.period_start, p.period_end into range_from, range_to
  from private.summary_period(period, today) p;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('invoiceflow.job_claim_summaries'));

  insert into public.email_deliveries (kind, organization_id, user_id, period_start, period_end)
  select wanted_kind, mb.organization_id, mb.user_id, range_from, range_to
  from public.memberships mb
  left join public.user_settings us on us.user_id = mb.user_id
  where private.wants_email(us.email_notifications, preference)
    and (org_ids is null or mb.organization_id = any (org_ids))
    and (exists (select 1 from public.invoices i
                 where i.organization_id = mb.organization_id
                   and i.issue_date between range_from and range_to
                   and i.status in ('sent', 'paid', 'overdue'))
         or exists (select 1 from public.payments p
                    where p.organization_id = mb.organization_id
                      and p.payment_date between range_from and range_to)
         or exists (select 1 from public.invoices i
                    where i.organization_id = mb.organization_id
                      and i.status in ('sent', 'overdue')))
  order by mb.organization_id, mb.user_id
  on conflict (kind, user_id, organization_id, period_start) do nothing;
  get diagnostics opened = row_count;

  update public.email_deliveries d
  set status = 'superseded'
  where d.kind = wanted_kind and d.status = 'pending'
    and (d.claimed_until is null or d.claimed_until < pg_catalog.now())
    and (org_ids is null or d.organization_id = any (org_ids))
    and (d.period_start < range_from
         or not exists (
           select 1 from public.memberships mb
           left join public.user_settings us on us.user_id = mb.user_id
           where mb.organization_id = d.organization_id and mb.user_id = d.user_id
             and private.wants_email(us.email_notifications, preference)));
  get diagnostics superseded = row_count;

  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
      'id', c.id,
      'kind', c.kind,
      'attempts', c.attempts,
      'organization_id', c.organization_id,
      'user_id', c.user_id,
      'recipient', private.account_email(c.user_id),
      'first_name', p.first_name,
      'organization_name', o.name,
      'business_name', coalesce(nullif(pg_catalog.btrim(os.business_name), ''), o.name),
      'period', period,
      'from', c.period_start,
      'to', c.period_end,
      'overview', public.reports_overview(c.organization_id, c.period_start, c.period_end),
      'now', public.dashboard_metrics(c.organization_id, today)
    ) order by c.created_at, c.id), '[]'::jsonb)
  into result
  from private.claim_email_deliveries(
    array[wanted_kind], least(batch_limit, 100), lease_seconds, skip_ids, org_ids) c
  join public.organizations o on o.id = c.organization_id
  left join public.organization_settings os on os.organization_id = c.organization_id
  left join public.profiles p on p.id = c.user_id;

  return pg_catalog.jsonb_build_object(
    'as_of', today, 'period', period, 'from', range_from, 'to', range_to,
    'opened', opened, 'superseded', superseded, 'claimed', result);
end;
$$;

comment on function public.job_claim_summaries(text, date, integer, uuid[], uuid[], integer) is
  'Scheduled job: opens the period''s summaries and claims them, with their figures.';

-- What happened to one claimed delivery: sent (SES's message id), or failed
-- (`error`; `retryable` false for a permanent refusal such as a rejected
-- recipient). A retryable failure stays pending for the next run, up to 5
-- attempts. Only a pending row changes (recording twice changes nothing). A
-- sent reminder adds a 'communication' activity to the client's timeline.
-- `recipient`: the address the email went to (claims give the current one).
-- Returns the row's new status, or null when it was not pending.
create or replace function public.job_record_delivery(
  delivery_id uuid,
  message_id text default null,
  error text default null,
  retryable boolean default true,
  recipient text default null
)
returns text
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  done public.email_deliveries;
begin
  if message_id is null and error is null then
    raise exception 'a delivery is recorded with its message_id or its error' using errcode = '22023';
  end if;
  update public.email_deliveries d
  set status = case
        when job_record_delivery.message_id is not null then 'sent'
        when not coalesce(retryable, true) or d.attempts >= 5 then 'failed'
        else 'pending' end,
      message_id = job_record_delivery.message_id,
      sent_at = case when job_record_delivery.message_id is not null then pg_catalog.now() end,
      last_error = case when job_record_delivery.message_id is null
                        then left(job_record_delivery.error, 1000) end,
      recipient = coalesce(left(job_record_delivery.recipient, 320), d.recipient),
      claimed_until = null
  where d.id = delivery_id and d.status = 'pending'
  returning d.* into done;
  if not found then
    return null;
  end if;
  if done.status = 'sent' and done.kind = 'payment_reminder' then
    insert into public.client_activities
      (organization_id, client_id, created_by, activity, type, metadata)
    select i.organization_id, i.client_id, null,
           'Payment reminder for invoice ' || i.invoice_number || ' sent to ' || done.recipient,
           'communication',
           pg_catalog.jsonb_build_object(
             'invoice_id', i.id, 'invoice_number', i.invoice_number, 'slot', done.slot,
             'message_id', done.message_id, 'delivery_id', done.id)
    from public.invoices i
    where i.id = done.invoice_id;
  end if;
  return done.status;
end;
$$;

comment on function public.job_record_delivery(uuid, text, text, boolean, text) is
  'Scheduled job: records the outcome of sending one claimed email.';

-- =============================================================================
-- Triggers
-- =============================================================================

create trigger set_updated_at before update on public.bulk_jobs
  for each row execute function private.set_updated_at();

create trigger set_updated_at before update on public.bulk_job_items
  for each row execute function private.set_updated_at();

-- =============================================================================
-- Policies
-- =============================================================================

create policy "People can view their own idempotency keys"
  on public.idempotency_keys for select to authenticated
  using (user_id = (select auth.uid())
         and organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can record their own idempotency keys"
  on public.idempotency_keys for insert to authenticated
  with check (user_id = (select auth.uid())
              and organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "People can complete their own idempotency keys"
  on public.idempotency_keys for update to authenticated
  using (user_id = (select auth.uid())
         and organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (user_id = (select auth.uid()));

create policy "People can release their own idempotency keys"
  on public.idempotency_keys for delete to authenticated
  using (user_id = (select auth.uid()));

create policy "Members can view their organization's bulk jobs"
  on public.bulk_jobs for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can start bulk jobs in their organization"
  on public.bulk_jobs for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[])
              and created_by = (select auth.uid()));

create policy "Members can finish their organization's bulk jobs"
  on public.bulk_jobs for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can view their organization's bulk job items"
  on public.bulk_job_items for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can add items to their organization's bulk jobs"
  on public.bulk_job_items for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can progress their organization's bulk job items"
  on public.bulk_job_items for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can view their organization's invoice sends"
  on public.invoice_sends for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can record sends of their organization's invoices"
  on public.invoice_sends for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[])
              and sent_by = (select auth.uid()));

create policy "Admins can view their organization's email deliveries"
  on public.email_deliveries for select to authenticated
  using (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]));

-- =============================================================================
-- Grants
-- =============================================================================

revoke all on public.idempotency_keys, public.bulk_jobs, public.bulk_job_items, public.invoice_sends
  from anon, authenticated;

-- Idempotency keys are a person's own: nobody else's request can replay them.
grant select, delete on public.idempotency_keys to authenticated;

grant insert (organization_id, key, operation, fingerprint, locked_until)
  on public.idempotency_keys to authenticated;

grant update (state, response_status, response, completed_at, locked_until)
  on public.idempotency_keys to authenticated;

grant select on public.bulk_jobs, public.bulk_job_items, public.invoice_sends to authenticated;
grant insert (id, organization_id, action, options, total, queued) on public.bulk_jobs to authenticated;
grant update (finished_at) on public.bulk_jobs to authenticated;

grant insert (job_id, organization_id, invoice_id, position, status, reason, message)
  on public.bulk_job_items to authenticated;

grant update (status, reason, message, ses_message_id, attempts, claimed_at)
  on public.bulk_job_items to authenticated;

grant insert (organization_id, invoice_id, sent_by, kind, recipients, subject, ses_message_id,
              bulk_job_id, idempotency_key)
  on public.invoice_sends to authenticated;

-- The service role (the bulk worker) reads and writes these through the RPCs
-- below; it bypasses RLS, and the RPCs keep it inside the named organization.
grant select, insert, update, delete
  on public.idempotency_keys, public.bulk_jobs, public.bulk_job_items, public.invoice_sends
  to service_role;

grant execute on function
  private.finish_bulk_job_if_done(uuid)
  to authenticated, service_role;

grant execute on function
  public.begin_idempotent_request(uuid, text, text, text),
  public.release_idempotent_request(uuid, text),
  public.bulk_invoice_action(uuid, text, uuid[], jsonb),
  public.create_bulk_send(uuid, uuid[], jsonb, boolean)
  to authenticated;

grant execute on function
  public.mark_invoice_sent(uuid, uuid, text, jsonb, text, text, text, uuid),
  public.claim_bulk_items(uuid, uuid, uuid[], interval),
  public.fail_bulk_item(uuid, uuid, uuid, text, text, boolean),
  public.abandon_bulk_items(uuid, uuid, uuid[], text, text)
  to authenticated, service_role;

-- Written only by the jobs above, as the service role; admins may read their
-- organization's.
revoke all on public.email_deliveries from anon, authenticated, service_role;

grant select on public.email_deliveries to authenticated, service_role;
grant insert, update on public.email_deliveries to service_role;

grant execute on function
  public.job_claim_notifications(integer, uuid[], uuid[], integer),
  public.job_claim_summaries(text, date, integer, uuid[], uuid[], integer),
  public.job_record_delivery(uuid, text, text, boolean, text)
  to service_role;

-- What the jobs call as the service role.
grant execute on function
  private.account_email(uuid),
  private.job_date(date),
  private.check_job_batch(integer, integer),
  private.wants_email(jsonb, text),
  private.claim_email_deliveries(text[], integer, integer, uuid[], uuid[]),
  private.open_reminder_slots(date, uuid[], date, uuid, integer),
  private.summary_period(text, date)
  to service_role;

revoke execute on all functions in schema private, public from public;
