-- Webhooks out and API keys, for integrations (issue 16).
--
-- Outbound webhooks. An organization's admins register endpoints (a URL, the event
-- types it wants, a signing secret shown once). Every change an integration may hear of
-- writes its event IN THE SAME TRANSACTION as the change: deferred constraint triggers
-- on the tables concerned (invoices, payments, refunds, quotes, credit notes, clients,
-- reconciliation exceptions) run at commit, read the row as committed and insert
--   public.webhook_events       the outbox: one row per event, its id the event's id for ever
--   public.webhook_deliveries   one row per (endpoint, event): the delivery's state
-- only for organizations with an enabled endpoint that wants the event (nothing is
-- written for the others). A rolled-back change fires no deferred trigger: it emits
-- nothing. The dispatcher (jobsWebhookDispatch) claims pending deliveries
-- (webhook_claim_deliveries: bounded, skip locked) and sends their ids to SQS; the
-- worker (jobsWebhookWorker) begins an attempt (webhook_begin_attempt: the URL, the
-- secrets, the event), posts it signed by the Standard Webhooks scheme and records the
-- attempt (webhook_finish_attempt). Retries are SQS's: the worker stretches the
-- message's visibility (exponential back-off) and the queue's redrive policy moves it to
-- the dead-letter queue after the last try. A delivery succeeded once is never posted
-- again, except by a person's replay (replay_webhook_delivery), which starts a new round
-- with the same event id.
--
-- Secrets: private.webhook_endpoint_secrets, a schema no API role reads; the create and
-- rotate RPCs return the secret once; the worker reads it through a definer helper of
-- the service role's alone. A rotation keeps the previous secret for 24 hours and the
-- worker signs with both (Standard Webhooks' space-separated signatures), so a receiver
-- can switch without losing a delivery.
--
-- API keys. A key is an account: each key has its own auth.users row (no e-mail, no
-- password, app metadata invoiceflow_api_key, so signup's trigger makes no personal
-- organization for it) and a membership in the key's organization whose role follows its
-- scopes (viewer for read keys, member for write keys; never admin). A request with a
-- key gets a short-lived JWT minted for that account by the API (shared/api_keys.py),
-- which then runs as any member does: RLS and the column grants decide, the audit log
-- names the key's account (api_keys.id = auth.users.id), the rate limit counts per key.
-- The clear key (ifk_<id>_<secret>) is shown once; only sha256(key) is stored (a key has
-- 192 random bits: a slow hash adds nothing). api_key_session checks the minted token's
-- account against the key's hash and revocation on every request, so a revoked key is
-- refused at once; revoking also removes the membership and bans the account.

-- =============================================================================
-- Tables
-- =============================================================================

create table public.webhook_endpoints (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  url text not null check (length(url) between 10 and 2048 and url ~ '^https?://[^\s/?#]+'),
  description text check (length(description) <= 500),
  event_types text[] not null check (
    cardinality(event_types) between 1 and 12
    and event_types <@ array[
      'invoice.created', 'invoice.sent', 'invoice.paid', 'invoice.overdue',
      'invoice.cancelled', 'payment.recorded', 'payment.refunded', 'quote.accepted',
      'credit_note.issued', 'client.created', 'reconciliation.exception_opened',
      'reconciliation.exception_resolved']::text[]),
  enabled boolean not null default true,
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (organization_id, id)
);

create table private.webhook_endpoint_secrets (
  endpoint_id uuid primary key references public.webhook_endpoints (id) on delete cascade,
  secret text not null,
  previous_secret text,
  previous_until timestamptz,
  rotated_at timestamptz not null default now()
);

-- The outbox: one row per event; its id is the event's for ever (the webhook-id header).
create table public.webhook_events (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  type text not null,
  payload jsonb not null,
  created_at timestamptz not null default clock_timestamp(),
  unique (organization_id, id)
);

create table public.webhook_deliveries (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  endpoint_id uuid not null,
  event_id uuid not null,
  status text not null default 'pending'
    check (status in ('pending', 'queued', 'delivering', 'retrying', 'succeeded', 'failed')),
  -- Every attempt ever; round_start: the attempts before the current round (a replay
  -- starts a new round with the full number of tries).
  attempts integer not null default 0 check (attempts >= 0),
  round_start integer not null default 0 check (round_start >= 0 and round_start <= attempts),
  last_status_code integer,
  last_error text,
  next_attempt_at timestamptz,
  queued_at timestamptz,
  succeeded_at timestamptz,
  failed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (endpoint_id, event_id),
  unique (organization_id, id),
  foreign key (organization_id, endpoint_id)
    references public.webhook_endpoints (organization_id, id) on delete cascade,
  foreign key (organization_id, event_id)
    references public.webhook_events (organization_id, id) on delete cascade
);

create table public.webhook_delivery_attempts (
  id bigint generated always as identity primary key,
  organization_id uuid not null,
  delivery_id uuid not null,
  attempt integer not null check (attempt >= 1),
  started_at timestamptz not null,
  duration_ms integer not null check (duration_ms >= 0),
  status_code integer check (status_code between 100 and 599),
  error text check (length(error) <= 500),
  succeeded boolean not null,
  unique (delivery_id, attempt),
  foreign key (organization_id, delivery_id)
    references public.webhook_deliveries (organization_id, id) on delete cascade
);

create table public.api_keys (
  -- The key's own account: auth.users.id, the actor the audit log records.
  id uuid primary key references auth.users (id) on delete cascade,
  organization_id uuid not null references public.organizations (id) on delete cascade,
  name text not null check (length(btrim(name)) between 1 and 100),
  prefix text not null,
  key_hash text not null unique check (key_hash ~ '^[0-9a-f]{64}$'),
  scopes text[] not null check (cardinality(scopes) between 1 and 20),
  role public.membership_role not null check (role in ('viewer', 'member')),
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz,
  revoked_by uuid references auth.users (id) on delete set null,
  unique (organization_id, id)
);

alter table public.webhook_endpoints enable row level security;
alter table private.webhook_endpoint_secrets enable row level security;
alter table public.webhook_events enable row level security;
alter table public.webhook_deliveries enable row level security;
alter table public.webhook_delivery_attempts enable row level security;
alter table public.api_keys enable row level security;

-- =============================================================================
-- Indexes
-- =============================================================================

create index webhook_endpoints_organization_idx on public.webhook_endpoints (organization_id, created_at);
create index webhook_endpoints_created_by_idx on public.webhook_endpoints (created_by) where created_by is not null;
create index webhook_events_organization_idx on public.webhook_events (organization_id, created_at);
create index webhook_deliveries_endpoint_idx
  on public.webhook_deliveries (organization_id, endpoint_id, created_at desc);
create index webhook_deliveries_event_idx on public.webhook_deliveries (organization_id, event_id);
-- The dispatcher's two claims: new deliveries, and in-flight ones whose message was lost.
create index webhook_deliveries_pending_idx on public.webhook_deliveries (created_at)
  where status = 'pending';
create index webhook_deliveries_in_flight_idx on public.webhook_deliveries (updated_at)
  where status in ('queued', 'delivering', 'retrying');
create index webhook_delivery_attempts_delivery_idx
  on public.webhook_delivery_attempts (organization_id, delivery_id, attempt);
create index api_keys_organization_idx on public.api_keys (organization_id, created_at);
create index api_keys_created_by_idx on public.api_keys (created_by) where created_by is not null;
create index api_keys_revoked_by_idx on public.api_keys (revoked_by) where revoked_by is not null;

-- =============================================================================
-- Functions: emitting events (the outbox)
-- =============================================================================

-- Writes an event and its deliveries when an enabled endpoint of the organization wants
-- it; nothing otherwise. SECURITY DEFINER: the outbox is written for whoever made the
-- change (a member recording a payment, a job marking overdue), none of whom may write
-- these tables.
create or replace function private.emit_webhook_event(organization_id uuid, type text, payload jsonb)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  event_id uuid;
begin
  if not exists (
    select 1 from public.webhook_endpoints e
    where e.organization_id = emit_webhook_event.organization_id and e.enabled
      and emit_webhook_event.type = any (e.event_types)
  ) then
    return;
  end if;
  insert into public.webhook_events (organization_id, type, payload)
  values (emit_webhook_event.organization_id, emit_webhook_event.type, emit_webhook_event.payload)
  returning id into event_id;
  insert into public.webhook_deliveries (organization_id, endpoint_id, event_id)
  select emit_webhook_event.organization_id, e.id, event_id
  from public.webhook_endpoints e
  where e.organization_id = emit_webhook_event.organization_id and e.enabled
    and emit_webhook_event.type = any (e.event_types);
end;
$$;

-- The triggers below are deferred constraint triggers: they run at commit, so an event
-- carries the row as committed (an invoice created with its items has its totals), and a
-- rolled-back transaction never reaches them. A row deleted before the commit emits
-- nothing. The status triggers are on every UPDATE (with a WHEN on the status), not
-- UPDATE OF status: a payment changes an invoice's status in a BEFORE trigger of an
-- update that names amount_paid only, which UPDATE OF status would miss.

create or replace function private.webhook_invoice_event()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  kind text;
  payload jsonb;
begin
  if tg_op = 'INSERT' then
    kind := 'invoice.created';
  elsif new.status = 'sent' and old.status = 'draft' then
    kind := 'invoice.sent';
  elsif new.status in ('paid', 'overdue', 'cancelled') then
    kind := 'invoice.' || new.status;
  else
    return null;
  end if;
  select to_jsonb(i) into payload from public.invoices i where i.id = new.id;
  if payload is not null then
    perform private.emit_webhook_event(new.organization_id, kind, payload);
  end if;
  return null;
end;
$$;

create or replace function private.webhook_row_event()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  kind text := tg_argv[0];
  payload jsonb;
begin
  if tg_table_name = 'quotes' then
    if not (new.status = 'accepted' and (tg_op = 'INSERT' or old.status is distinct from 'accepted')) then
      return null;
    end if;
    select to_jsonb(q) into payload from public.quotes q where q.id = new.id;
  elsif tg_table_name = 'reconciliation_exceptions' then
    if new.status = 'open' and (tg_op = 'INSERT' or old.status <> 'open') then
      kind := 'reconciliation.exception_opened';
    elsif tg_op = 'UPDATE' and new.status <> 'open' and old.status = 'open' then
      kind := 'reconciliation.exception_resolved';
    else
      return null;
    end if;
    select to_jsonb(x) into payload from public.reconciliation_exceptions x where x.id = new.id;
  elsif tg_table_name = 'payments' then
    select to_jsonb(p) into payload from public.payments p where p.id = new.id;
  elsif tg_table_name = 'refunds' then
    select to_jsonb(r) into payload from public.refunds r where r.id = new.id;
  elsif tg_table_name = 'credit_notes' then
    select to_jsonb(c) into payload from public.credit_notes c where c.id = new.id;
  elsif tg_table_name = 'clients' then
    select to_jsonb(c) into payload from public.clients c where c.id = new.id;
  end if;
  if payload is not null then
    perform private.emit_webhook_event(new.organization_id, kind, payload);
  end if;
  return null;
end;
$$;

-- =============================================================================
-- Functions: endpoints (admins)
-- =============================================================================

-- A Standard Webhooks secret: whsec_ and 32 random bytes in base64.
create or replace function private.new_webhook_secret()
returns text
language sql
volatile
set search_path = ''
as $$ select 'whsec_' || pg_catalog.encode(extensions.gen_random_bytes(32), 'base64') $$;

-- Stores a new secret for an endpoint the caller administers and answers it (the only
-- time it is shown). SECURITY DEFINER: the secrets live where no API role reads.
-- keep_previous: a rotation keeps the old secret for 24 hours (signed with both).
create or replace function private.set_webhook_secret(endpoint_id uuid, keep_previous boolean)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  org uuid;
  fresh text := private.new_webhook_secret();
begin
  select e.organization_id into org from public.webhook_endpoints e
  where e.id = set_webhook_secret.endpoint_id;
  if org is null then
    raise exception 'webhook endpoint not found' using errcode = 'P0002';
  end if;
  perform private.require_role(org, 'admin', 'only admins manage webhook endpoints');
  insert into private.webhook_endpoint_secrets as s (endpoint_id, secret)
  values (set_webhook_secret.endpoint_id, fresh)
  on conflict on constraint webhook_endpoint_secrets_pkey do update
    set previous_secret = case when set_webhook_secret.keep_previous then s.secret end,
        previous_until = case when set_webhook_secret.keep_previous then now() + interval '24 hours' end,
        secret = excluded.secret,
        rotated_at = now();
  return fresh;
end;
$$;

create or replace function private.check_webhook_event_types(event_types text[])
returns void
language plpgsql
immutable
set search_path = ''
as $$
declare
  unknown text;
begin
  if event_types is null or cardinality(event_types) = 0 then
    raise exception 'event_types: choose at least one event' using errcode = '23514';
  end if;
  select t into unknown from unnest(event_types) t
  where t is null or t <> all (array[
      'invoice.created', 'invoice.sent', 'invoice.paid', 'invoice.overdue',
      'invoice.cancelled', 'payment.recorded', 'payment.refunded', 'quote.accepted',
      'credit_note.issued', 'client.created', 'reconciliation.exception_opened',
      'reconciliation.exception_resolved'])
  limit 1;
  if found then
    raise exception 'event_types: unknown event type %', coalesce(unknown, 'null')
      using errcode = '23514';
  end if;
end;
$$;

-- POST /api/webhook-endpoints: the endpoint and its secret (shown once).
create or replace function public.create_webhook_endpoint(
  organization_id uuid, url text, event_types text[], description text default null,
  enabled boolean default true
)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  endpoint public.webhook_endpoints;
  secret text;
begin
  perform private.require_role(create_webhook_endpoint.organization_id, 'admin',
                               'only admins manage webhook endpoints');
  perform private.check_webhook_event_types(create_webhook_endpoint.event_types);
  insert into public.webhook_endpoints (organization_id, url, description, event_types, enabled)
  values (create_webhook_endpoint.organization_id, create_webhook_endpoint.url,
          create_webhook_endpoint.description,
          array(select distinct t from unnest(create_webhook_endpoint.event_types) t order by 1),
          coalesce(create_webhook_endpoint.enabled, true))
  returning * into endpoint;
  secret := private.set_webhook_secret(endpoint.id, false);
  return to_jsonb(endpoint) || jsonb_build_object('secret', secret);
end;
$$;

-- POST /api/webhook-endpoints/{id}/rotate-secret: a new secret (shown once); the old one
-- signs too for 24 hours.
create or replace function public.rotate_webhook_secret(organization_id uuid, endpoint_id uuid)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  endpoint public.webhook_endpoints;
begin
  perform private.require_role(rotate_webhook_secret.organization_id, 'admin',
                               'only admins manage webhook endpoints');
  select * into endpoint from public.webhook_endpoints e
  where e.id = rotate_webhook_secret.endpoint_id
    and e.organization_id = rotate_webhook_secret.organization_id;
  if not found then
    raise exception 'webhook endpoint not found' using errcode = 'P0002';
  end if;
  return to_jsonb(endpoint) || jsonb_build_object(
    'secret', private.set_webhook_secret(endpoint.id, true),
    'previous_secret_valid_until', now() + interval '24 hours');
end;
$$;

-- Replays a finished delivery: a new round of tries, the same event id. SECURITY
-- DEFINER: deliveries are bookkeeping no API role writes; it checks the caller is an
-- admin of the delivery's organization.
create or replace function private.restart_webhook_delivery(organization_id uuid, delivery_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  delivery public.webhook_deliveries;
begin
  perform private.require_role(restart_webhook_delivery.organization_id, 'admin',
                               'only admins replay webhook deliveries');
  select * into delivery from public.webhook_deliveries d
  where d.id = restart_webhook_delivery.delivery_id
    and d.organization_id = restart_webhook_delivery.organization_id
  for update;
  if not found then
    raise exception 'webhook delivery not found' using errcode = 'P0002';
  end if;
  if delivery.status not in ('succeeded', 'failed') then
    raise exception 'this delivery is still in progress (%); replay it once it has succeeded or failed',
      delivery.status using errcode = '23P01';  -- 409 conflict (shared/errors.py)
  end if;
  update public.webhook_deliveries d
  set status = 'pending', round_start = d.attempts, next_attempt_at = null,
      succeeded_at = null, failed_at = null, updated_at = now()
  where d.id = delivery.id
  returning * into delivery;
  return to_jsonb(delivery);
end;
$$;

create or replace function public.replay_webhook_delivery(organization_id uuid, delivery_id uuid)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
begin
  return private.restart_webhook_delivery(replay_webhook_delivery.organization_id,
                                          replay_webhook_delivery.delivery_id);
end;
$$;

-- =============================================================================
-- Functions: the dispatcher and the worker (the service role)
-- =============================================================================

-- Claims up to batch_limit deliveries to queue: the pending ones, and those in flight
-- whose last move is older than requeue_after_seconds (their message was lost: the
-- dispatcher died between this claim and SQS, or the queue dropped it). Skip locked, so
-- two dispatchers never claim the same row; a second run finds nothing new.
create or replace function public.webhook_claim_deliveries(
  batch_limit integer default 500, requeue_after_seconds integer default 7200
)
returns setof uuid
language plpgsql
security invoker
set search_path = ''
as $$
begin
  if batch_limit < 1 or batch_limit > 5000 then
    raise exception 'batch_limit must be between 1 and 5000' using errcode = '22023';
  end if;
  return query
  with picked as (
    select d.id from public.webhook_deliveries d
    where d.status = 'pending'
    order by d.created_at
    limit batch_limit
    for update skip locked
  ), lost as (
    select d.id from public.webhook_deliveries d
    where d.status in ('queued', 'delivering', 'retrying')
      and d.updated_at < now() - make_interval(secs => requeue_after_seconds)
    order by d.updated_at
    limit greatest(batch_limit - (select count(*) from picked), 0)
    for update skip locked
  )
  update public.webhook_deliveries d
  set status = 'queued', queued_at = now(), updated_at = now()
  where d.id in (select id from picked union all select id from lost)
  returning d.id;
end;
$$;

-- The signing secrets of an endpoint (the current one, and the previous one during a
-- rotation's 24 hours). SECURITY DEFINER: only the service role's worker may read them.
create or replace function private.webhook_signing_secrets(endpoint_id uuid)
returns text[]
language sql
stable
security definer
set search_path = ''
as $$
  select array_remove(array[s.secret,
           case when s.previous_until > now() then s.previous_secret end], null)
  from private.webhook_endpoint_secrets s
  where s.endpoint_id = webhook_signing_secrets.endpoint_id
$$;

-- The worker's step 1: takes the next attempt of a delivery, or answers why not
-- ({"skip": "succeeded" | "failed" | "gone" | "busy"}). A delivery another worker is
-- posting (delivering within lease_seconds) is busy: the message comes back later.
create or replace function public.webhook_begin_attempt(delivery_id uuid, lease_seconds integer default 60)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  d public.webhook_deliveries;
  e public.webhook_endpoints;
  ev public.webhook_events;
begin
  select * into d from public.webhook_deliveries x where x.id = webhook_begin_attempt.delivery_id
  for update;
  if not found then
    return jsonb_build_object('skip', 'gone');
  end if;
  if d.status in ('succeeded', 'failed') then
    return jsonb_build_object('skip', d.status);
  end if;
  if d.status = 'delivering' and d.updated_at > now() - make_interval(secs => lease_seconds) then
    return jsonb_build_object('skip', 'busy');
  end if;
  select * into e from public.webhook_endpoints x where x.id = d.endpoint_id;
  if not e.enabled then
    update public.webhook_deliveries x
    set status = 'failed', failed_at = now(), last_error = 'the endpoint is disabled',
        updated_at = now()
    where x.id = d.id;
    return jsonb_build_object('skip', 'failed');
  end if;
  select * into ev from public.webhook_events x where x.id = d.event_id;
  update public.webhook_deliveries x
  set status = 'delivering', attempts = x.attempts + 1, updated_at = now()
  where x.id = d.id
  returning * into d;
  return jsonb_build_object(
    'delivery_id', d.id,
    'organization_id', d.organization_id,
    'endpoint_id', e.id,
    'url', e.url,
    'secrets', to_jsonb(private.webhook_signing_secrets(e.id)),
    'attempt', d.attempts,
    'round_attempt', d.attempts - d.round_start,
    'event', jsonb_build_object(
      'id', ev.id, 'type', ev.type, 'created_at', ev.created_at, 'payload', ev.payload)
  );
end;
$$;

-- The worker's step 2: records the attempt and moves the delivery on (succeeded;
-- failed after the last try; retrying, next_attempt_at, otherwise). An attempt that is
-- no longer the delivery's latest (a stale worker) is recorded and moves nothing.
create or replace function public.webhook_finish_attempt(
  delivery_id uuid, attempt integer, started_at timestamptz, duration_ms integer,
  status_code integer, error text, succeeded boolean, final boolean,
  next_attempt_at timestamptz default null
)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  d public.webhook_deliveries;
  outcome text := case when succeeded then 'succeeded' when final then 'failed' else 'retrying' end;
begin
  select * into d from public.webhook_deliveries x where x.id = webhook_finish_attempt.delivery_id
  for update;
  if not found then
    return 'gone';
  end if;
  insert into public.webhook_delivery_attempts
    (organization_id, delivery_id, attempt, started_at, duration_ms, status_code, error, succeeded)
  values (d.organization_id, d.id, webhook_finish_attempt.attempt, webhook_finish_attempt.started_at,
          greatest(webhook_finish_attempt.duration_ms, 0), webhook_finish_attempt.status_code,
          left(webhook_finish_attempt.error, 500), webhook_finish_attempt.succeeded)
  on conflict on constraint webhook_delivery_attempts_delivery_id_attempt_key do nothing;
  if d.status <> 'delivering' or d.attempts <> webhook_finish_attempt.attempt then
    return d.status;
  end if;
  update public.webhook_deliveries x
  set status = outcome,
      last_status_code = webhook_finish_attempt.status_code,
      last_error = left(webhook_finish_attempt.error, 500),
      next_attempt_at = case when outcome = 'retrying' then webhook_finish_attempt.next_attempt_at end,
      succeeded_at = case when outcome = 'succeeded' then now() end,
      failed_at = case when outcome = 'failed' then now() end,
      updated_at = now()
  where x.id = d.id;
  return outcome;
end;
$$;

-- =============================================================================
-- Functions: API keys
-- =============================================================================

create or replace function private.api_key_role(scopes text[])
returns public.membership_role
language plpgsql
immutable
set search_path = ''
as $$
declare
  bad text;
begin
  if scopes is null or cardinality(scopes) = 0 then
    raise exception 'scopes: choose at least one scope' using errcode = '23514';
  end if;
  select s into bad from unnest(scopes) s
  where s is null or s !~ '^((clients|invoices|payments|quotes|credit_notes|recurring|reconciliation|reports):)?(read|write)$'
  limit 1;
  if found then
    raise exception 'scopes: unknown scope %', coalesce(bad, 'null') using errcode = '23514';
  end if;
  return case when exists (select 1 from unnest(scopes) s where s like '%write') then 'member'
              else 'viewer' end::public.membership_role;
end;
$$;

-- Creates the key's account, membership and row, and answers the clear key (shown
-- once). SECURITY DEFINER: it writes auth.users and a membership, which no API role
-- may; it checks the caller is an admin of the organization.
create or replace function private.issue_api_key(organization_id uuid, name text, scopes text[])
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  key_id uuid := gen_random_uuid();
  role public.membership_role := private.api_key_role(issue_api_key.scopes);
  clear text;
  stored public.api_keys;
begin
  perform private.require_role(issue_api_key.organization_id, 'admin', 'only admins manage API keys');
  if issue_api_key.name is null or length(btrim(issue_api_key.name)) not between 1 and 100 then
    raise exception 'name: give the key a name of 1 to 100 characters' using errcode = '23514';
  end if;
  clear := 'ifk_' || replace(key_id::text, '-', '') || '_'
           || translate(pg_catalog.encode(extensions.gen_random_bytes(24), 'base64'), '+/', '-_');
  insert into auth.users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data,
                          created_at, updated_at)
  values (key_id, 'authenticated', 'authenticated', null,
          jsonb_build_object('provider', 'api_key', 'invoiceflow_api_key', true,
                             'organization_id', issue_api_key.organization_id),
          jsonb_build_object('name', btrim(issue_api_key.name)), now(), now());
  insert into public.memberships (organization_id, user_id, role)
  values (issue_api_key.organization_id, key_id, role);
  insert into public.api_keys (id, organization_id, name, prefix, key_hash, scopes, role)
  values (key_id, issue_api_key.organization_id, btrim(issue_api_key.name), left(clear, 12),
          pg_catalog.encode(pg_catalog.sha256(convert_to(clear, 'UTF8')), 'hex'),
          array(select distinct s from unnest(issue_api_key.scopes) s order by 1), role)
  returning * into stored;
  return (to_jsonb(stored) - 'key_hash') || jsonb_build_object('key', clear);
end;
$$;

create or replace function public.create_api_key(organization_id uuid, name text, scopes text[])
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
begin
  perform private.require_role(create_api_key.organization_id, 'admin', 'only admins manage API keys');
  return private.issue_api_key(create_api_key.organization_id, create_api_key.name,
                               create_api_key.scopes);
end;
$$;

-- Revokes a key at once: the row is marked, its membership removed, its account banned.
-- SECURITY DEFINER for the membership and the account; checks the caller is an admin.
create or replace function private.withdraw_api_key(organization_id uuid, key_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  stored public.api_keys;
begin
  perform private.require_role(withdraw_api_key.organization_id, 'admin', 'only admins manage API keys');
  update public.api_keys k
  set revoked_at = coalesce(k.revoked_at, now()),
      revoked_by = coalesce(k.revoked_by, auth.uid())
  where k.id = withdraw_api_key.key_id and k.organization_id = withdraw_api_key.organization_id
  returning * into stored;
  if not found then
    raise exception 'API key not found' using errcode = 'P0002';
  end if;
  delete from public.memberships m
  where m.user_id = stored.id and m.organization_id = stored.organization_id;
  update auth.users u set banned_until = 'infinity' where u.id = stored.id;
  return to_jsonb(stored) - 'key_hash';
end;
$$;

create or replace function public.revoke_api_key(organization_id uuid, key_id uuid)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
begin
  perform private.require_role(revoke_api_key.organization_id, 'admin', 'only admins manage API keys');
  return private.withdraw_api_key(revoke_api_key.organization_id, revoke_api_key.key_id);
end;
$$;

-- private.touch_api_key: defined in 20261206160100 (its final form; nothing is deployed)

create or replace function public.api_key_session(key_hash text)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
  return private.touch_api_key(api_key_session.key_hash);
end;
$$;

-- Signup's trigger, again: an API key's account (app metadata invoiceflow_api_key, which
-- only the service role and issue_api_key set) gets no profile and no personal
-- organization. The rest is 20261206100300_profiles_and_settings.sql's, unchanged.
create or replace function private.handle_new_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  meta jsonb := coalesce(new.raw_user_meta_data, '{}');
  org_name text;
  org_id uuid;
begin
  if coalesce(new.raw_app_meta_data ->> 'invoiceflow_api_key', '') = 'true' then
    return new;
  end if;

  insert into public.profiles (id, email, first_name, last_name, phone)
  values (
    new.id,
    new.email,
    nullif(btrim(meta ->> 'first_name'), ''),
    nullif(btrim(meta ->> 'last_name'), ''),
    nullif(btrim(coalesce(meta ->> 'phone', new.phone)), '')
  );

  insert into public.user_settings (user_id) values (new.id);

  org_name := left(coalesce(
    nullif(btrim(meta ->> 'business_name'), ''),
    nullif(btrim(concat_ws(' ', meta ->> 'first_name', meta ->> 'last_name')), ''),
    nullif(split_part(coalesce(new.email, ''), '@', 1), ''),
    'My business'
  ), 200);

  insert into public.organizations (name, personal, created_by)
  values (org_name, true, new.id)
  returning id into org_id;

  insert into public.memberships (organization_id, user_id, role)
  values (org_id, new.id, 'owner');

  return new;
end;
$$;

-- =============================================================================
-- Triggers
-- =============================================================================

create trigger set_updated_at before update on public.webhook_endpoints
  for each row execute function private.set_updated_at();

create constraint trigger webhook_invoice_created
  after insert on public.invoices deferrable initially deferred
  for each row execute function private.webhook_invoice_event();
create constraint trigger webhook_invoice_status
  after update on public.invoices deferrable initially deferred
  for each row when (old.status is distinct from new.status)
  execute function private.webhook_invoice_event();
create constraint trigger webhook_payment_recorded
  after insert on public.payments deferrable initially deferred
  for each row execute function private.webhook_row_event('payment.recorded');
create constraint trigger webhook_payment_refunded
  after insert on public.refunds deferrable initially deferred
  for each row execute function private.webhook_row_event('payment.refunded');
create constraint trigger webhook_quote_accepted
  after update on public.quotes deferrable initially deferred
  for each row when (new.status = 'accepted' and old.status is distinct from 'accepted')
  execute function private.webhook_row_event('quote.accepted');
create constraint trigger webhook_credit_note_issued
  after insert on public.credit_notes deferrable initially deferred
  for each row execute function private.webhook_row_event('credit_note.issued');
create constraint trigger webhook_client_created
  after insert on public.clients deferrable initially deferred
  for each row execute function private.webhook_row_event('client.created');
create constraint trigger webhook_exception_opened
  after insert on public.reconciliation_exceptions deferrable initially deferred
  for each row when (new.status = 'open')
  execute function private.webhook_row_event('reconciliation.exception_opened');
create constraint trigger webhook_exception_status
  after update on public.reconciliation_exceptions deferrable initially deferred
  for each row when (old.status is distinct from new.status)
  execute function private.webhook_row_event('reconciliation.exception_resolved');

select private.enable_audit('public.webhook_endpoints', array['updated_at']);
select private.enable_audit('public.api_keys', array['last_used_at']);

-- =============================================================================
-- Policies
-- =============================================================================

create policy "Admins can view their organization's webhook endpoints"
  on public.webhook_endpoints for select to authenticated
  using (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]));

create policy "Admins can create webhook endpoints in their organization"
  on public.webhook_endpoints for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]));

create policy "Admins can update their organization's webhook endpoints"
  on public.webhook_endpoints for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]));

create policy "Admins can delete their organization's webhook endpoints"
  on public.webhook_endpoints for delete to authenticated
  using (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]));

create policy "Admins can view their organization's webhook events"
  on public.webhook_events for select to authenticated
  using (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]));

create policy "Admins can view their organization's webhook deliveries"
  on public.webhook_deliveries for select to authenticated
  using (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]));

create policy "Admins can view their organization's webhook delivery attempts"
  on public.webhook_delivery_attempts for select to authenticated
  using (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]));

create policy "Admins can view their organization's API keys"
  on public.api_keys for select to authenticated
  using (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]));

-- =============================================================================
-- Views
-- =============================================================================

-- GET /api/webhook-endpoints/{id}/deliveries: a delivery with its event and its attempts.
-- Security invoker: the caller's RLS applies to the three tables.
create or replace view public.webhook_delivery_list with (security_invoker = true) as
select
  d.id, d.organization_id, d.endpoint_id, d.event_id, ev.type as event_type,
  ev.created_at as event_created_at, ev.payload, d.status, d.attempts,
  d.last_status_code, d.last_error, d.next_attempt_at, d.succeeded_at, d.failed_at,
  d.created_at, d.updated_at,
  coalesce((
    select jsonb_agg(jsonb_build_object(
             'attempt', a.attempt, 'started_at', a.started_at, 'duration_ms', a.duration_ms,
             'status_code', a.status_code, 'error', a.error, 'succeeded', a.succeeded)
           order by a.attempt)
    from public.webhook_delivery_attempts a
    where a.organization_id = d.organization_id and a.delivery_id = d.id), '[]'::jsonb) as attempt_log
from public.webhook_deliveries d
join public.webhook_events ev on ev.id = d.event_id and ev.organization_id = d.organization_id;

-- =============================================================================
-- Grants
-- =============================================================================

revoke all on public.webhook_endpoints, public.webhook_events, public.webhook_deliveries,
  public.webhook_delivery_attempts, public.api_keys, public.webhook_delivery_list
  from anon, authenticated, service_role;
revoke all on private.webhook_endpoint_secrets from anon, authenticated, service_role;

grant select, delete on public.webhook_endpoints to authenticated;
grant insert (organization_id, url, description, event_types, enabled)
  on public.webhook_endpoints to authenticated;
grant update (url, description, event_types, enabled) on public.webhook_endpoints to authenticated;
grant select on public.webhook_events, public.webhook_deliveries, public.webhook_delivery_attempts
  to authenticated;
grant select (id, organization_id, name, prefix, scopes, role, created_by, created_at,
              last_used_at, revoked_at, revoked_by)
  on public.api_keys to authenticated;
grant select on public.webhook_delivery_list to authenticated;

grant select on public.webhook_endpoints, public.webhook_events, public.webhook_delivery_attempts,
  public.api_keys, public.webhook_delivery_list to service_role;
grant select, update on public.webhook_deliveries to service_role;
grant insert on public.webhook_delivery_attempts to service_role;

revoke execute on all functions in schema private, public from public;

grant execute on function
  public.create_webhook_endpoint(uuid, text, text[], text, boolean),
  public.rotate_webhook_secret(uuid, uuid),
  public.replay_webhook_delivery(uuid, uuid),
  public.create_api_key(uuid, text, text[]),
  public.revoke_api_key(uuid, uuid),
  public.api_key_session(text)
  to authenticated;
grant execute on function
  private.set_webhook_secret(uuid, boolean),
  private.check_webhook_event_types(text[]),
  private.new_webhook_secret(),
  private.restart_webhook_delivery(uuid, uuid),
  private.api_key_role(text[]),
  private.issue_api_key(uuid, text, text[]),
  private.withdraw_api_key(uuid, uuid)
  to authenticated;
grant execute on function
  public.webhook_claim_deliveries(integer, integer),
  public.webhook_begin_attempt(uuid, integer),
  public.webhook_finish_attempt(uuid, integer, timestamptz, integer, integer, text, boolean, boolean, timestamptz),
  private.webhook_signing_secrets(uuid)
  to service_role;

comment on table public.webhook_events is
  'The webhooks outbox: one row per event, written in the transaction of its change (deferred triggers); its id is the event''s webhook-id.';
comment on table public.api_keys is
  'API keys: each its own account (id = auth.users.id) with a viewer or member membership; only sha256 of the key is stored.';
