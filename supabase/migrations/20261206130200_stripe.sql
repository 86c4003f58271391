-- =============================================================================
-- Online payment through Stripe (issue 16).
--
-- An organization connects its Stripe account: its secret key and webhook signing
-- secret arrive here already sealed by the API (KMS envelope encryption: a data key
-- from KMS GenerateDataKey, AES-GCM, the organization's id as the encryption
-- context; shared/stripe_keys.py), in private.stripe_accounts, which no API role
-- reads: members learn only whether Stripe is connected, its mode and the webhook
-- path.
--
-- The two public routes (the Pay button and the webhook) hold no service role key
-- (no HTTP function does): they speak as anon through narrow definer functions
-- that answer only ciphertexts, which only their function may open (kms:Decrypt
-- with the organization's encryption context): the Pay button gets the sealed
-- secret key for a live link's invoice (public.portal_checkout), the webhook the
-- sealed signing secret and the sealed handler key by its endpoint token
-- (public.stripe_webhook_account). The handler key is InvoiceFlow's own, made at
-- connection: kept in clear here (private) and sealed for the webhook function,
-- which, once Stripe's signature is verified, signs the event's text with it; the
-- database takes an event only with that MAC (public.handle_stripe_event), so
-- nobody without kms:Decrypt can hand it one.
--
-- The webhook (POST /api/webhooks/stripe/{endpoint_token}) verifies Stripe's
-- signature in Python (stripe.Webhook.construct_event), then hands the event to
-- public.handle_stripe_event, which in ONE transaction records the event's id (public.stripe_events, unique per
-- organization: a second delivery is answered "duplicate" and changes nothing)
-- and its effect:
--   checkout.session.completed (paid) / payment_intent.succeeded: the payment,
--     through public.record_payment (the same money rules as a manual payment,
--     method credit_card, the PaymentIntent's id as its reference), once per
--     PaymentIntent (public.stripe_payments, unique; an advisory lock per
--     PaymentIntent orders the two events of one payment);
--   charge.refunded: the payment first if it is not recorded yet (events out of
--     order), then the refund of what Stripe refunded beyond what is recorded
--     (amount_refunded is cumulative, so an older event arriving late adds
--     nothing), through public.record_refund;
--   charge.dispute.*: the payment flagged (disputed_at, dispute_status) and the
--     event listed as needing attention.
-- A payment the invoice cannot take (cancelled meanwhile, above the balance when
-- the organization refuses overpayments, another currency) is never lost and
-- never an error: the event is stored with status 'needs_attention' and the
-- reason, listed by GET /api/stripe/events?status=needs_attention. Above the
-- balance with overpayment = 'credit', record_payment keeps the excess as client
-- credit. Any other event type is stored as 'ignored'.
--
-- Amounts: Stripe counts in the currency's smallest unit by its own table of
-- exponents (private.stripe_currency_exponent: ISK, for one, is two-decimal at
-- Stripe and zero-decimal in ISO 4217).
-- =============================================================================

-- =============================================================================
-- Tables
-- =============================================================================

-- The connected account. Private: the sealed secrets leave it only through the
-- narrow functions below, as ciphertexts; the handler key never.
create table private.stripe_accounts (
  organization_id uuid primary key references public.organizations (id) on delete cascade,
  endpoint_token text not null unique check (endpoint_token ~ '^[A-Za-z0-9_-]{24,64}$'),
  secret_key_sealed text not null check (length(secret_key_sealed) <= 4000),
  webhook_secret_sealed text not null check (length(webhook_secret_sealed) <= 4000),
  handler_key text not null check (handler_key ~ '^[0-9a-f]{64}$'),
  handler_key_sealed text not null check (length(handler_key_sealed) <= 4000),
  livemode boolean not null,
  allow_partial_payments boolean not null default false,
  connected_by uuid references auth.users (id) on delete set null default auth.uid(),
  connected_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

alter table private.stripe_accounts enable row level security;

create index stripe_accounts_connected_by_idx on private.stripe_accounts (connected_by)
  where connected_by is not null;

-- Every event received, once per organization and event id.
create table public.stripe_events (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  event_id text not null check (event_id ~ '^evt_[A-Za-z0-9_]{1,250}$'),
  type text not null check (length(type) between 1 and 200),
  livemode boolean not null default false,
  stripe_created_at timestamptz,
  received_at timestamptz not null default now(),
  status text not null check (status in ('processed', 'ignored', 'needs_attention', 'resolved')),
  reason text check (length(reason) <= 2000),
  invoice_id uuid references public.invoices (id) on delete set null,
  payment_id uuid references public.payments (id) on delete set null,
  payment_intent_id text check (length(payment_intent_id) <= 255),
  resolved_at timestamptz,
  resolved_by uuid references auth.users (id) on delete set null,
  unique (organization_id, event_id)
);

alter table public.stripe_events enable row level security;

create index stripe_events_organization_status_idx
  on public.stripe_events (organization_id, status, received_at desc);
create index stripe_events_invoice_idx on public.stripe_events (invoice_id) where invoice_id is not null;
create index stripe_events_payment_idx on public.stripe_events (payment_id) where payment_id is not null;
create index stripe_events_resolved_by_idx on public.stripe_events (resolved_by) where resolved_by is not null;

-- A payment received through Stripe: one per PaymentIntent, with Stripe's ids.
create table public.stripe_payments (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  invoice_id uuid not null references public.invoices (id) on delete cascade,
  payment_id uuid references public.payments (id) on delete set null,
  payment_intent_id text not null check (payment_intent_id ~ '^pi_[A-Za-z0-9_]{1,250}$'),
  checkout_session_id text check (length(checkout_session_id) <= 255),
  charge_id text check (length(charge_id) <= 255),
  currency text not null,
  amount_minor bigint not null check (amount_minor > 0),
  refunded_minor bigint not null default 0 check (refunded_minor >= 0),
  disputed_at timestamptz,
  dispute_status text check (length(dispute_status) <= 100),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (organization_id, payment_intent_id)
);

alter table public.stripe_payments enable row level security;

create index stripe_payments_invoice_idx on public.stripe_payments (invoice_id);
create index stripe_payments_payment_idx on public.stripe_payments (payment_id) where payment_id is not null;
create index stripe_payments_charge_idx on public.stripe_payments (organization_id, charge_id)
  where charge_id is not null;

-- =============================================================================
-- Functions: money
-- =============================================================================

-- The exponent of Stripe's smallest unit for a currency (Stripe's own table).
create or replace function private.stripe_currency_exponent(currency text)
returns integer
language sql
immutable
set search_path = ''
as $$
  select case
    when upper(currency) in ('BIF', 'CLP', 'DJF', 'GNF', 'JPY', 'KMF', 'KRW', 'MGA', 'PYG',
                             'RWF', 'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF') then 0
    when upper(currency) in ('BHD', 'JOD', 'KWD', 'OMR', 'TND') then 3
    else 2
  end
$$;

-- =============================================================================
-- Functions: the account (admins connect, members read the status)
-- =============================================================================

create or replace function private.stripe_account_json(acct private.stripe_accounts)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select case when acct.organization_id is null then jsonb_build_object('connected', false)
  else jsonb_build_object(
    'connected', true,
    'livemode', acct.livemode,
    'allow_partial_payments', acct.allow_partial_payments,
    'webhook_path', '/api/webhooks/stripe/' || acct.endpoint_token,
    'connected_at', acct.connected_at,
    'updated_at', acct.updated_at) end
$$;

-- Connects (or replaces) the organization's account; the endpoint token is kept
-- when one exists (the webhook URL registered at Stripe stays valid).
create or replace function private.connect_stripe_account(
  organization_id uuid, endpoint_token text, secret_key_sealed text, webhook_secret_sealed text,
  handler_key text, handler_key_sealed text, livemode boolean, allow_partial_payments boolean
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  acct private.stripe_accounts;
begin
  perform private.require_role(connect_stripe_account.organization_id, 'admin',
                               'connecting Stripe needs the admin role or above');
  insert into private.stripe_accounts as a
    (organization_id, endpoint_token, secret_key_sealed, webhook_secret_sealed, handler_key,
     handler_key_sealed, livemode, allow_partial_payments, connected_by)
  values (connect_stripe_account.organization_id, endpoint_token, secret_key_sealed,
          webhook_secret_sealed, handler_key, handler_key_sealed, livemode,
          coalesce(allow_partial_payments, false), auth.uid())
  on conflict on constraint stripe_accounts_pkey do update
    set secret_key_sealed = excluded.secret_key_sealed,
        webhook_secret_sealed = excluded.webhook_secret_sealed,
        handler_key = excluded.handler_key,
        handler_key_sealed = excluded.handler_key_sealed,
        livemode = excluded.livemode,
        allow_partial_payments = excluded.allow_partial_payments,
        connected_by = excluded.connected_by,
        updated_at = now()
  returning a.* into acct;
  return private.stripe_account_json(acct);
end;
$$;

create or replace function private.stripe_account_status(
  organization_id uuid, min_role public.membership_role, allow_partial_payments boolean,
  disconnect boolean
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  acct private.stripe_accounts;
begin
  perform private.require_role(stripe_account_status.organization_id, min_role);
  if disconnect then
    delete from private.stripe_accounts a where a.organization_id = stripe_account_status.organization_id;
    return jsonb_build_object('connected', false);
  end if;
  if allow_partial_payments is not null then
    update private.stripe_accounts a
    set allow_partial_payments = stripe_account_status.allow_partial_payments, updated_at = now()
    where a.organization_id = stripe_account_status.organization_id;
  end if;
  select * into acct from private.stripe_accounts a
  where a.organization_id = stripe_account_status.organization_id;
  return private.stripe_account_json(acct);
end;
$$;

create or replace function public.connect_stripe_account(
  organization_id uuid, endpoint_token text, secret_key_sealed text, webhook_secret_sealed text,
  handler_key text, handler_key_sealed text, livemode boolean,
  allow_partial_payments boolean default false
)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$
  select private.connect_stripe_account(organization_id, endpoint_token, secret_key_sealed,
                                        webhook_secret_sealed, handler_key, handler_key_sealed,
                                        livemode, allow_partial_payments)
$$;

-- GET (viewer), PATCH allow_partial_payments and DELETE (admin).
create or replace function public.stripe_account(organization_id uuid)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$
  select private.stripe_account_status(organization_id, 'viewer', null, false)
$$;

create or replace function public.update_stripe_account(organization_id uuid, allow_partial_payments boolean)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$
  select private.stripe_account_status(organization_id, 'admin', allow_partial_payments, false)
$$;

create or replace function public.disconnect_stripe_account(organization_id uuid)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$
  select private.stripe_account_status(organization_id, 'admin', null, true)
$$;

-- The webhook function's read, by the endpoint token in its URL: the organization
-- and two ciphertexts (the signing secret, the handler key), or null. SECURITY
-- DEFINER: anon reads nothing of the table by itself.
create or replace function private.stripe_webhook_account(endpoint_token text)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object('organization_id', a.organization_id,
                            'webhook_secret_sealed', a.webhook_secret_sealed,
                            'handler_key_sealed', a.handler_key_sealed)
  from private.stripe_accounts a
  where stripe_webhook_account.endpoint_token ~ '^[A-Za-z0-9_-]{24,64}$'
    and a.endpoint_token = stripe_webhook_account.endpoint_token
$$;

create or replace function public.stripe_webhook_account(endpoint_token text)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select private.stripe_webhook_account(endpoint_token)
$$;

-- =============================================================================
-- Functions: the client page learns whether it may show a Pay button
-- =============================================================================

-- private.portal_document: defined in 20261206170200 (its final form; nothing is deployed)

-- POST /p/{token}/pay: the page's data (private.portal_open, the click recorded as
-- 'client_link_pay') and, for an invoice of an organization with Stripe, its
-- sealed secret key, which only the Pay button's function can open.
create or replace function private.portal_checkout(
  token_hash text, client_address text, token_limit integer, address_limit integer,
  window_seconds integer
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  answer jsonb;
  sealed text;
begin
  answer := private.portal_open(token_hash, client_address, 'client_link_pay', token_limit,
                                address_limit, window_seconds);
  if coalesce(answer ->> 'found', 'false') <> 'true' or answer ->> 'document_type' <> 'invoice' then
    return answer;
  end if;
  select a.secret_key_sealed into sealed from private.stripe_accounts a
  where a.organization_id = (answer #>> '{document,organization_id}')::uuid;
  if sealed is not null then
    answer := answer || jsonb_build_object('stripe', jsonb_build_object('secret_key_sealed', sealed));
  end if;
  return answer;
end;
$$;

create or replace function public.portal_checkout(
  token_hash text, client_address text default null, token_limit integer default 60,
  address_limit integer default 120, window_seconds integer default 60
)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$
  select private.portal_checkout(token_hash, client_address, token_limit, address_limit, window_seconds)
$$;

-- =============================================================================
-- Functions: the webhook's effects
-- =============================================================================

-- The payment of a PaymentIntent, once: answers (status, reason, payment id).
create or replace function private.stripe_record_payment(
  organization_id uuid, invoice_text text, intent text, amount_minor bigint, currency text,
  session_id text, charge_id text, out status text, out reason text, out payment_id uuid,
  out invoice_id uuid
)
language plpgsql
volatile
set search_path = ''
as $$
declare
  found_row public.stripe_payments;
  inv public.invoices;
  amount numeric;
  paid jsonb;
begin
  if intent is null or intent !~ '^pi_[A-Za-z0-9_]{1,250}$' then
    status := 'needs_attention'; reason := 'the event names no PaymentIntent';
    return;
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(stripe_record_payment.organization_id::text || intent, 0));
  select * into found_row from public.stripe_payments sp
  where sp.organization_id = stripe_record_payment.organization_id and sp.payment_intent_id = intent;
  if found then
    update public.stripe_payments sp
    set checkout_session_id = coalesce(sp.checkout_session_id, session_id),
        charge_id = coalesce(sp.charge_id, stripe_record_payment.charge_id), updated_at = now()
    where sp.id = found_row.id;
    status := 'processed'; reason := 'the payment was already recorded';
    payment_id := found_row.payment_id; invoice_id := found_row.invoice_id;
    return;
  end if;
  if invoice_text is null or invoice_text !~ '^[0-9a-fA-F-]{36}$' then
    status := 'needs_attention'; reason := 'the payment names no invoice (metadata.invoice_id)';
    return;
  end if;
  select * into inv from public.invoices i where i.id = invoice_text::uuid and i.organization_id = stripe_record_payment.organization_id;
  if not found then
    status := 'needs_attention'; reason := 'the payment names an invoice this organization does not have';
    return;
  end if;
  invoice_id := inv.id;
  if amount_minor is null or amount_minor <= 0 then
    status := 'needs_attention'; reason := 'the payment has no amount';
    return;
  end if;
  if upper(coalesce(currency, '')) <> inv.currency then
    status := 'needs_attention';
    reason := pg_catalog.format('the payment is in %s, invoice %s in %s', upper(currency), inv.invoice_number, inv.currency);
    return;
  end if;
  amount := amount_minor::numeric / (10::numeric ^ private.stripe_currency_exponent(inv.currency));
  begin
    paid := public.record_payment(stripe_record_payment.organization_id, inv.id, amount, private.organization_today(stripe_record_payment.organization_id), 'credit_card',
                                  intent, 'Stripe' || coalesce(' checkout ' || session_id, ''));
  exception when sqlstate '23514' or sqlstate 'P0002' or sqlstate '22023' or sqlstate '22003'
                 or sqlstate '23503' then
    status := 'needs_attention';
    reason := pg_catalog.format('payment of %s %s not recorded: %s', amount, inv.currency, sqlerrm);
    return;
  end;
  payment_id := (paid ->> 'id')::uuid;
  insert into public.stripe_payments
    (organization_id, invoice_id, payment_id, payment_intent_id, checkout_session_id, charge_id,
     currency, amount_minor)
  values (stripe_record_payment.organization_id, inv.id, payment_id, intent, session_id, stripe_record_payment.charge_id, inv.currency,
          amount_minor);
  status := 'processed';
end;
$$;

-- Handles one verified event, once (this file's head). Answers
-- {"status": "processed" | "ignored" | "needs_attention" | "duplicate", "reason", ...}.
-- Taken only with the handler key's MAC of the payload (this file's head).
-- SECURITY DEFINER: it records payments and refunds through the same RPCs a person
-- uses (record_payment, record_refund; their role check passes for a session
-- without a user, as the jobs'), whose private helpers anon may not execute.
create or replace function private.handle_stripe_event(endpoint_token text, payload text, mac text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  acct private.stripe_accounts;
  org uuid;
  event jsonb;
  obj jsonb;
  kind text;
  row_id uuid;
  result record;
  intent text;
  sp public.stripe_payments;
  refunded bigint;
  delta numeric;
  st text := 'ignored';
  why text;
  inv_id uuid;
  pay_id uuid;
begin
  select * into acct from private.stripe_accounts a
  where handle_stripe_event.endpoint_token ~ '^[A-Za-z0-9_-]{24,64}$'
    and a.endpoint_token = handle_stripe_event.endpoint_token;
  if not found or mac is null or payload is null
     or mac !~ '^[0-9a-f]{64}$'
     or mac <> encode(extensions.hmac(convert_to(payload, 'UTF8'), convert_to(acct.handler_key, 'UTF8'),
                                      'sha256'), 'hex') then
    raise exception 'Stripe events are the webhook''s to hand in' using errcode = '42501';
  end if;
  org := acct.organization_id;
  -- The MAC proved the webhook function sent it: the payment RPCs' role check sees
  -- the system for the rest of this transaction, as the jobs' calls are seen.
  perform pg_catalog.set_config('request.jwt.claims', '{"role": "service_role"}', true);
  perform pg_catalog.set_config('request.jwt.claim.role', 'service_role', true);
  begin
    event := payload::jsonb;
  exception when others then
    raise exception 'not a Stripe event' using errcode = '22023';
  end;
  obj := event #> '{data,object}';
  kind := event ->> 'type';
  if jsonb_typeof(event) <> 'object' or jsonb_typeof(obj) <> 'object'
     or coalesce(event ->> 'id', '') !~ '^evt_[A-Za-z0-9_]{1,250}$' or kind is null then
    raise exception 'not a Stripe event' using errcode = '22023';
  end if;

  insert into public.stripe_events (organization_id, event_id, type, livemode, stripe_created_at, status)
  values (org, event ->> 'id', left(kind, 200), coalesce((event ->> 'livemode')::boolean, false),
          case when event ->> 'created' ~ '^[0-9]{1,12}$' then to_timestamp((event ->> 'created')::bigint) end,
          'ignored')
  on conflict on constraint stripe_events_organization_id_event_id_key do nothing
  returning id into row_id;
  if row_id is null then
    return jsonb_build_object('status', 'duplicate', 'event_id', event ->> 'id');
  end if;

  if kind = 'checkout.session.completed' or kind = 'checkout.session.async_payment_succeeded' then
    intent := obj ->> 'payment_intent';
    if coalesce(obj ->> 'payment_status', '') <> 'paid' then
      why := 'the checkout is not paid yet';
    else
      result := private.stripe_record_payment(org, obj #>> '{metadata,invoice_id}', intent,
        (obj ->> 'amount_total')::bigint, obj ->> 'currency', obj ->> 'id', null);
      st := result.status; why := result.reason; pay_id := result.payment_id; inv_id := result.invoice_id;
    end if;
  elsif kind = 'payment_intent.succeeded' then
    intent := obj ->> 'id';
    result := private.stripe_record_payment(org, obj #>> '{metadata,invoice_id}', intent,
      coalesce((obj ->> 'amount_received')::bigint, (obj ->> 'amount')::bigint), obj ->> 'currency',
      null, obj ->> 'latest_charge');
    st := result.status; why := result.reason; pay_id := result.payment_id; inv_id := result.invoice_id;
  elsif kind = 'charge.refunded' then
    intent := obj ->> 'payment_intent';
    -- Out of order: the payment from the charge itself when it is not recorded yet.
    result := private.stripe_record_payment(org, obj #>> '{metadata,invoice_id}', intent,
      (obj ->> 'amount_captured')::bigint, obj ->> 'currency', null, obj ->> 'id');
    st := result.status; why := result.reason; pay_id := result.payment_id; inv_id := result.invoice_id;
    if st = 'processed' then
      select * into sp from public.stripe_payments p
      where p.organization_id = org and p.payment_intent_id = intent for update;
      refunded := coalesce((obj ->> 'amount_refunded')::bigint, 0);
      if refunded <= sp.refunded_minor then
        why := 'no refund beyond what is recorded';
      elsif sp.payment_id is null then
        st := 'needs_attention'; why := 'refunded at Stripe, but its payment was removed here';
      else
        delta := (refunded - sp.refunded_minor)::numeric / (10::numeric ^ private.stripe_currency_exponent(sp.currency));
        begin
          perform public.record_refund(org, jsonb_build_object(
            'payment_id', sp.payment_id, 'amount', delta, 'refund_method', 'credit_card',
            'reference_number', left(obj ->> 'id', 100), 'notes', 'Refunded through Stripe'));
          update public.stripe_payments p set refunded_minor = refunded, updated_at = now() where p.id = sp.id;
          why := pg_catalog.format('refund of %s %s recorded', delta, sp.currency);
        exception when sqlstate '23514' or sqlstate 'P0002' or sqlstate '22023' then
          st := 'needs_attention';
          why := pg_catalog.format('refund of %s %s not recorded: %s', delta, sp.currency, sqlerrm);
        end;
      end if;
    end if;
  elsif kind like 'charge.dispute.%' then
    intent := obj ->> 'payment_intent';
    update public.stripe_payments p
    set disputed_at = coalesce(p.disputed_at, now()), dispute_status = left(obj ->> 'status', 100),
        updated_at = now()
    where p.organization_id = org and p.payment_intent_id = intent
    returning p.invoice_id, p.payment_id into inv_id, pay_id;
    st := 'needs_attention';
    why := pg_catalog.format('the payment is disputed (%s, %s)', coalesce(obj ->> 'reason', 'no reason'),
                             coalesce(obj ->> 'status', 'no status'));
    if inv_id is not null then
      insert into public.client_activities (organization_id, client_id, activity, type, metadata)
      select org, i.client_id,
             pg_catalog.format('The card payment of invoice %s is disputed at Stripe', i.invoice_number),
             'payment', jsonb_build_object('event', 'stripe_dispute', 'invoice_id', i.id,
                                           'payment_intent_id', intent)
      from public.invoices i where i.id = inv_id;
    end if;
  else
    why := 'an event type InvoiceFlow does not act on';
  end if;

  update public.stripe_events e
  set status = st, reason = left(why, 2000), invoice_id = inv_id, payment_id = pay_id,
      payment_intent_id = left(intent, 255)
  where e.id = row_id;
  return jsonb_build_object('status', st, 'reason', why, 'event_id', event ->> 'id',
                            'invoice_id', inv_id, 'payment_id', pay_id);
end;
$$;

-- public.handle_stripe_event: defined in 20261206170100 (its final form; nothing is deployed)

-- A person marks an event that needed attention as dealt with.
create or replace function public.resolve_stripe_event(organization_id uuid, event_id uuid)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  cur public.stripe_events;
begin
  perform private.require_role(resolve_stripe_event.organization_id, 'member',
                               'your role may not resolve payment events in this organization');
  update public.stripe_events e
  set status = 'resolved', resolved_at = now(), resolved_by = auth.uid()
  where e.id = resolve_stripe_event.event_id and e.organization_id = resolve_stripe_event.organization_id
    and e.status = 'needs_attention'
  returning e.* into cur;
  if not found then
    raise exception 'no such event needing attention' using errcode = 'P0002';
  end if;
  return to_jsonb(cur);
end;
$$;

-- =============================================================================
-- Audit, policies, grants
-- =============================================================================

select private.enable_audit('public.stripe_payments', array['updated_at']);
select private.enable_audit('public.stripe_events');

create policy "Members can view their organization's Stripe events"
  on public.stripe_events for select to authenticated
  using (organization_id = any ((select private.my_organization_ids('viewer'))::uuid[]));

create policy "Members can resolve their organization's Stripe events"
  on public.stripe_events for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can view their organization's Stripe payments"
  on public.stripe_payments for select to authenticated
  using (organization_id = any ((select private.my_organization_ids('viewer'))::uuid[]));

revoke all on public.stripe_events, public.stripe_payments from anon, authenticated;
grant select on public.stripe_events, public.stripe_payments to authenticated;
grant update (status, resolved_at, resolved_by) on public.stripe_events to authenticated;
grant all on public.stripe_events, public.stripe_payments to service_role;

revoke all on private.stripe_accounts from public, anon, authenticated, service_role;

revoke execute on all functions in schema private, public from public;

grant execute on function
  public.connect_stripe_account(uuid, text, text, text, text, text, boolean, boolean),
  public.stripe_account(uuid),
  public.update_stripe_account(uuid, boolean),
  public.disconnect_stripe_account(uuid),
  public.resolve_stripe_event(uuid, uuid),
  private.connect_stripe_account(uuid, text, text, text, text, text, boolean, boolean),
  private.stripe_account_status(uuid, public.membership_role, boolean, boolean),
  private.stripe_account_json(private.stripe_accounts),
  private.stripe_currency_exponent(text)
  to authenticated, service_role;

-- anon: the Pay button's and the webhook's narrow functions (pgTAP 005 names them).
grant execute on function
  public.portal_checkout(text, text, integer, integer, integer),
  private.portal_checkout(text, text, integer, integer, integer),
  public.stripe_webhook_account(text),
  private.stripe_webhook_account(text),
  private.handle_stripe_event(text, text, text)
  to anon, authenticated, service_role;
