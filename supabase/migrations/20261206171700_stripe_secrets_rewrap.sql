-- =============================================================================
-- The Stripe secrets under the re-wrap job (jobsSealFields with
-- {"rewrap_payment_keys_to": "<KMS key>"}; functions/jobs/seal_fields.py,
-- shared/stripe_keys.rewrap_accounts).
--
-- The secrets of private.stripe_accounts are sealed under the payment keys' own KMS
-- key (PAYMENT_KEYS_KMS_KEY_ID), not the fields' key, and no API role reads the
-- table. Moving them to another KMS key needs the accounts whose seals are not yet
-- under it, a chunk at a time: stripe_accounts_to_rewrap answers them by keyset
-- (organization id), a value of stripe_keys' first format (no "kid") included, as
-- the job converts those too. The job writes back through reseal_stripe_account
-- (migration 20261206170100), guarded on the three values it read. Service role
-- only: these functions answer sealed secrets.
-- =============================================================================

-- The KMS key a stored Stripe secret names (the envelope's "kid"); null for the
-- first format or a value that is not JSON (listed, so the job counts it).
create or replace function private.stripe_sealed_kid(sealed text)
returns text
language plpgsql
immutable
set search_path = ''
as $$
begin
  if sealed !~ '^\s*\{' then
    return null;
  end if;
  return sealed::jsonb ->> 'kid';
exception when invalid_text_representation then
  return null;
end;
$$;

create or replace function private.stripe_accounts_to_rewrap(after uuid, key_arn text, max_rows integer)
returns table (organization_id uuid, secret_key_sealed text, webhook_secret_sealed text,
               handler_key_sealed text)
language sql
stable
security definer
set search_path = ''
as $$
  select a.organization_id, a.secret_key_sealed, a.webhook_secret_sealed, a.handler_key_sealed
  from private.stripe_accounts a
  where a.organization_id > coalesce(stripe_accounts_to_rewrap.after, '00000000-0000-0000-0000-000000000000')
    and (private.stripe_sealed_kid(a.secret_key_sealed) is distinct from stripe_accounts_to_rewrap.key_arn
         or private.stripe_sealed_kid(a.webhook_secret_sealed) is distinct from stripe_accounts_to_rewrap.key_arn
         or private.stripe_sealed_kid(a.handler_key_sealed) is distinct from stripe_accounts_to_rewrap.key_arn)
  order by a.organization_id
  limit least(greatest(coalesce(max_rows, 100), 1), 500)
$$;

create or replace function public.stripe_accounts_to_rewrap(after uuid, key_arn text, max_rows integer default 100)
returns table (organization_id uuid, secret_key_sealed text, webhook_secret_sealed text,
               handler_key_sealed text)
language sql
stable
security invoker
set search_path = ''
as $$
  select * from private.stripe_accounts_to_rewrap(after, key_arn, max_rows)
$$;

-- =============================================================================
-- Grants: jobsSealFields (the service role) alone.
-- =============================================================================

revoke execute on function
  private.stripe_sealed_kid(text),
  private.stripe_accounts_to_rewrap(uuid, text, integer),
  public.stripe_accounts_to_rewrap(uuid, text, integer)
  from public, anon, authenticated;
grant execute on function
  private.stripe_sealed_kid(text),
  private.stripe_accounts_to_rewrap(uuid, text, integer),
  public.stripe_accounts_to_rewrap(uuid, text, integer)
  to service_role;
