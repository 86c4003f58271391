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
