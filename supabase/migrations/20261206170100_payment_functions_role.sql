-- =============================================================================
-- The payment functions' own database role (issue 16).
--
-- Until this migration the two functions without login that handle money, the
-- client page's Pay button and Stripe's webhook (serverless.yml: stripePayments),
-- reached the database as anon, and three anon-callable RPCs handed them what
-- they needed: public.portal_checkout (the page's data and the organization's
-- sealed Stripe secret key), public.stripe_webhook_account (the sealed webhook
-- signing secret and the sealed handler key, by the endpoint token in the URL)
-- and public.handle_stripe_event. Sealed is not clear (only stripePayments may
-- call kms:Decrypt on the payment keys' key), but anyone holding a live client
-- link's token, or an endpoint token, could read the sealed material.
--
-- Now they speak as payment_processor:
--   * a NOLOGIN role without BYPASSRLS, granted to authenticator so PostgREST
--     switches to it when a token's role claim names it (as it switches to anon
--     or authenticated; on Supabase, `grant <role> to authenticator` is what a
--     custom role needs: supautils reserves memberships IN authenticator, not
--     memberships OF it), and to postgres as the API roles are (the migrations,
--     the pgTAP runner);
--   * its token is minted per instance by the function with the project's JWT
--     secret (shared/stripe_role.py): role payment_processor, iss
--     'invoiceflow-payments', aud 'invoiceflow-payment-processor', at most 60 s
--     from iat to exp. The functions below refuse any other claims (42501);
--   * it may execute the three functions above and their private cores (and the
--     claims check they call), nothing else; it has no privilege on any table or
--     view: the cores are SECURITY DEFINER and answer only what the caller needs.
-- anon and authenticated lose EXECUTE on them: a client link's token reads the
-- page (public.portal_open) and nothing sealed. (pgTAP 930-931.)
--
-- Also here, for the same functions' owner (issue 16's client page and Stripe):
-- public.portal_logo, the client page's uploaded logo by the link's token (anon,
-- as the page), and the service role's two functions that let jobsSealFields seal
-- again the Stripe secrets of shared/stripe_keys.py's first format.
--
-- Creating a role needs CREATEROLE, which Supabase's postgres has (it is not a
-- superuser); roles belong to the cluster, not the database, so the role is
-- created only when missing (another database of the cluster may have made it).
-- =============================================================================

-- =============================================================================
-- The role
-- =============================================================================

-- NOBYPASSRLS is the default, and a CREATEROLE role that is not a superuser may
-- not even name the attribute in PostgreSQL 15 (nor REPLICATION): pgTAP 930
-- checks the role's attributes instead.
do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'payment_processor') then
    create role payment_processor nologin noinherit nocreatedb nocreaterole;
  end if;
end
$$;

alter role payment_processor nologin noinherit nocreatedb nocreaterole;
-- As authenticated's: requests through PostgREST end after 8 s (the webhook's
-- transaction is one event; Stripe retries on a 503).
alter role payment_processor set statement_timeout = '8s';

grant payment_processor to authenticator;
grant payment_processor to postgres;

grant usage on schema public, private to payment_processor;

-- =============================================================================
-- Functions: the claims check
-- =============================================================================

-- Refuses (42501) a session whose JWT is not a payment function's: the role
-- claim, the issuer and audience the functions mint with, and a lifetime of at
-- most 60 s (PostgREST has checked exp and the signature).
create or replace function private.require_payment_processor()
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  claims jsonb := coalesce(nullif(pg_catalog.current_setting('request.jwt.claims', true), ''), '{}')::jsonb;
begin
  if claims ->> 'role' is distinct from 'payment_processor'
     or claims ->> 'iss' is distinct from 'invoiceflow-payments'
     or claims ->> 'aud' is distinct from 'invoiceflow-payment-processor'
     or jsonb_typeof(claims -> 'exp') is distinct from 'number'
     or jsonb_typeof(claims -> 'iat') is distinct from 'number'
     or (claims ->> 'exp')::numeric - (claims ->> 'iat')::numeric > 60
     or (claims ->> 'exp')::numeric < extract(epoch from pg_catalog.now()) then
    raise exception 'only the payment functions may call this' using errcode = '42501';
  end if;
end;
$$;

-- =============================================================================
-- Functions: the three cores, now checking their caller first
-- =============================================================================

-- POST /p/{token}/pay (migration 20261206130200): the page's data (the click
-- recorded as 'client_link_pay') and, for an invoice of an organization with
-- Stripe, its sealed secret key.
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
  perform private.require_payment_processor();
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

-- The webhook function's read, by the endpoint token in its URL: the organization
-- and two ciphertexts (the signing secret, the handler key), or null.
create or replace function private.stripe_webhook_account(endpoint_token text)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  answer jsonb;
begin
  perform private.require_payment_processor();
  select jsonb_build_object('organization_id', a.organization_id,
                            'webhook_secret_sealed', a.webhook_secret_sealed,
                            'handler_key_sealed', a.handler_key_sealed)
  into answer
  from private.stripe_accounts a
  where stripe_webhook_account.endpoint_token ~ '^[A-Za-z0-9_-]{24,64}$'
    and a.endpoint_token = stripe_webhook_account.endpoint_token;
  return answer;
end;
$$;

-- private.handle_stripe_event (migration 20261206130200) keeps its body; its
-- wrapper checks the caller first. The handler key's MAC stays: the role proves
-- the caller holds the JWT secret, the MAC that it could open the handler key
-- (kms:Decrypt on the payment keys' key, stripePayments alone).
create or replace function public.handle_stripe_event(endpoint_token text, payload text, mac text)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
  perform private.require_payment_processor();
  return private.handle_stripe_event(endpoint_token, payload, mac);
end;
$$;
grant execute on function
  public.handle_stripe_event(text, text, text)
  to anon, authenticated, service_role;

-- =============================================================================
-- Functions: the client page's logo (GET /p/{token}/logo)
-- =============================================================================

-- The organization's uploaded logo as the page shows it: the inline copy the
-- uploads worker keeps in organization_settings.company_logo_url (a data: URL of
-- a PNG or JPEG of at most 256 px a side; migration 20261206140300), behind the
-- same gate as the page (a wrong, revoked or expired token, a draft's link: not
-- found; the rate windows), without recording a view. Answers {"found": true,
-- "logo": <data URL or null>} or the gate's refusal.
create or replace function private.portal_logo(
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
  gate record;
  logo text;
begin
  gate := private.portal_gate(token_hash, client_address, token_limit, address_limit, window_seconds);
  if gate.refusal is not null then
    return gate.refusal;
  end if;
  if private.portal_document(gate.link) is null then
    return jsonb_build_object('found', false);
  end if;
  select s.company_logo_url into logo from public.organization_settings s
  where s.organization_id = (gate.link).organization_id;
  return jsonb_build_object('found', true,
    'logo', case when logo ~ '^data:image/(png|jpeg);base64,' then logo end);
end;
$$;

create or replace function public.portal_logo(
  token_hash text, client_address text default null, token_limit integer default 60,
  address_limit integer default 120, window_seconds integer default 60
)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$
  select private.portal_logo(token_hash, client_address, token_limit, address_limit, window_seconds)
$$;

-- =============================================================================
-- Functions: sealing again what the first format sealed (jobsSealFields)
-- =============================================================================

-- The Stripe secrets were first sealed by shared/stripe_keys.py's own code
-- ({"v": 1, "k", "n", "c"}: a KMS data key per value); they are now sealed with
-- shared/envelope.py ({"v": 1, "kid", "dk", "n", "c"}, bound to the column and
-- the organization). Sealing needs KMS, which the database does not have, so the
-- jobsSealFields job (functions/jobs/seal_fields.py, stripe_keys.reseal_accounts)
-- reads the accounts still holding a value of the first format, a chunk at a
-- time, and writes the new seals back, guarded on the values it read. Service
-- role only.
create or replace function private.stripe_sealed_is_legacy(sealed text)
returns boolean
language sql
immutable
set search_path = ''
as $$
  select case when sealed ~ '^\s*\{' then (sealed::jsonb ? 'k') else false end
$$;

create or replace function private.stripe_accounts_to_reseal(after uuid, max_rows integer)
returns table (organization_id uuid, secret_key_sealed text, webhook_secret_sealed text,
               handler_key_sealed text)
language sql
stable
security definer
set search_path = ''
as $$
  select a.organization_id, a.secret_key_sealed, a.webhook_secret_sealed, a.handler_key_sealed
  from private.stripe_accounts a
  where a.organization_id > coalesce(stripe_accounts_to_reseal.after, '00000000-0000-0000-0000-000000000000')
    and (private.stripe_sealed_is_legacy(a.secret_key_sealed)
         or private.stripe_sealed_is_legacy(a.webhook_secret_sealed)
         or private.stripe_sealed_is_legacy(a.handler_key_sealed))
  order by a.organization_id
  limit least(greatest(coalesce(max_rows, 100), 1), 500)
$$;

create or replace function public.stripe_accounts_to_reseal(after uuid, max_rows integer default 100)
returns table (organization_id uuid, secret_key_sealed text, webhook_secret_sealed text,
               handler_key_sealed text)
language sql
stable
security invoker
set search_path = ''
as $$
  select * from private.stripe_accounts_to_reseal(after, max_rows)
$$;

-- Writes the new seals when the row still holds the values read (true), else
-- leaves it (false: an admin reconnected meanwhile). Each new value must be in
-- the envelope's form.
create or replace function private.reseal_stripe_account(organization_id uuid, old jsonb, new jsonb)
returns boolean
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  col text;
begin
  foreach col in array array['secret_key_sealed', 'webhook_secret_sealed', 'handler_key_sealed'] loop
    if coalesce(new ->> col, '') !~ '^\s*\{' or not ((new ->> col)::jsonb ?& array['kid', 'dk', 'n', 'c']) then
      raise exception '%: not a sealed value in the envelope''s form', col using errcode = '22023';
    end if;
  end loop;
  update private.stripe_accounts a
  set secret_key_sealed = new ->> 'secret_key_sealed',
      webhook_secret_sealed = new ->> 'webhook_secret_sealed',
      handler_key_sealed = new ->> 'handler_key_sealed',
      updated_at = pg_catalog.now()
  where a.organization_id = reseal_stripe_account.organization_id
    and a.secret_key_sealed = old ->> 'secret_key_sealed'
    and a.webhook_secret_sealed = old ->> 'webhook_secret_sealed'
    and a.handler_key_sealed = old ->> 'handler_key_sealed';
  return found;
end;
$$;

create or replace function public.reseal_stripe_account(organization_id uuid, old jsonb, new jsonb)
returns boolean
language sql
volatile
security invoker
set search_path = ''
as $$
  select private.reseal_stripe_account(organization_id, old, new)
$$;

-- =============================================================================
-- Grants
-- =============================================================================

revoke execute on all functions in schema private, public from public;

revoke execute on function
  public.portal_checkout(text, text, integer, integer, integer),
  private.portal_checkout(text, text, integer, integer, integer),
  public.stripe_webhook_account(text),
  private.stripe_webhook_account(text),
  public.handle_stripe_event(text, text, text),
  private.handle_stripe_event(text, text, text)
  from anon, authenticated, service_role;

grant execute on function
  private.require_payment_processor(),
  public.portal_checkout(text, text, integer, integer, integer),
  private.portal_checkout(text, text, integer, integer, integer),
  public.stripe_webhook_account(text),
  private.stripe_webhook_account(text),
  public.handle_stripe_event(text, text, text),
  private.handle_stripe_event(text, text, text)
  to payment_processor;

-- jobsSealFields (the service role) alone.
revoke execute on function
  public.stripe_accounts_to_reseal(uuid, integer),
  private.stripe_accounts_to_reseal(uuid, integer),
  public.reseal_stripe_account(uuid, jsonb, jsonb),
  private.reseal_stripe_account(uuid, jsonb, jsonb),
  private.stripe_sealed_is_legacy(text)
  from anon, authenticated;
grant execute on function
  public.stripe_accounts_to_reseal(uuid, integer),
  private.stripe_accounts_to_reseal(uuid, integer),
  public.reseal_stripe_account(uuid, jsonb, jsonb),
  private.reseal_stripe_account(uuid, jsonb, jsonb),
  private.stripe_sealed_is_legacy(text)
  to service_role;

-- anon: the client page's logo, as its other public functions (pgTAP 005 names it).
grant execute on function
  public.portal_logo(text, text, integer, integer, integer),
  private.portal_logo(text, text, integer, integer, integer)
  to anon, authenticated, service_role;
