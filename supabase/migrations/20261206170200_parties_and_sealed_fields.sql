-- =============================================================================
-- Parties and sealed fields (issues 17 and 19): who sells and who buys, in the
-- structured form EN 16931 asks for, and every tax id and bank account sealed at rest.
--
--   * organization_settings (the seller): country_code (ISO 3166-1 alpha-2),
--     address_line2, legal_registration_id (BT-30), the VAT id (BT-31) sealed as
--     tax_id_sealed with its keyed hash tax_id_hash, the tax registration id (BT-32,
--     e.g. a German Steuernummer) sealed, payment means (payment_means_code UNCL4461,
--     iban_sealed, bic, payment_account_name), the default payment instructions sealed
--     (default_payment_instructions_sealed), einvoice_format, and an electronic address
--     (BT-34) with its scheme.
--   * clients (the buyers): a structured address (address_line1/2, city, postal_code,
--     subdivision, country_code), the VAT id sealed (vat_id_sealed) with its keyed hash
--     (vat_id_hash: clients found by VAT id), legal_registration_id, buyer_reference
--     (the default BT-10 of their invoices, XRechnung's Leitweg-ID), einvoice_format
--     (overrides the organization's) and the Peppol endpoint (electronic_address and
--     electronic_address_scheme, BT-49).
--   * vendors.iban and payables_settings.debtor_iban sealed (iban_sealed with its keyed
--     hash, debtor_iban_sealed). A BIC names a bank, not an account: it stays clear.
--
-- Sealing happens in Python (shared/envelope.py, KMS envelope encryption; contexts in
-- shared/parties.py and docs/security.md): the database only ever receives the
-- envelope ({v, kid, dk, n, c}) and the keyed hash. A clear column written before this
-- migration (organization_settings.tax_id and default_payment_instructions,
-- vendors.iban, payables_settings.debtor_iban) stays until functions/jobs/seal_fields.py
-- seals it and empties it; a row never holds both forms (constraints below).
--
-- public.document_parties(organization_id, client_ids) gives the document loaders
-- (shared/documents.py, through shared/parties.attach_parties) the seller's and the
-- buyers' fields in one round trip, seals as stored; RLS decides (security invoker).
--
-- The audit log keeps whole rows: private.record_audit now records a clear sensitive
-- value (a tax id, an IBAN, payment instructions) as "[redacted]", so sealing a
-- column does not copy its clear value into the append-only log.
-- =============================================================================

-- =============================================================================
-- Helpers
-- =============================================================================

-- Whether a jsonb value is a sealed envelope (shared/envelope.py's {v, kid, dk, n, c}),
-- null being none: the shape every *_sealed column keeps.
create or replace function private.is_envelope(value jsonb)
returns boolean
language sql
immutable
set search_path = ''
as $$
  select value is null
      or (pg_catalog.jsonb_typeof(value) = 'object' and value ?& array['v', 'kid', 'dk', 'n', 'c'])
$$;

grant execute on function private.is_envelope(jsonb) to authenticated, service_role;

-- =============================================================================
-- Columns: the seller (organization_settings)
-- =============================================================================

alter table public.organization_settings
  add column if not exists default_payment_instructions_sealed jsonb;

alter table public.organization_settings
  add column country_code text
    constraint organization_settings_country_code_check check (country_code ~ '^[A-Z]{2}$'),
  add column address_line2 text
    constraint organization_settings_address_line2_check check (length(address_line2) <= 200),
  add column legal_registration_id text
    constraint organization_settings_legal_registration_id_check
      check (length(legal_registration_id) between 1 and 100),
  add column tax_id_sealed jsonb
    constraint organization_settings_tax_id_sealed_check check (private.is_envelope(tax_id_sealed)),
  add column tax_id_hash text
    constraint organization_settings_tax_id_hash_check check (tax_id_hash ~ '^[0-9a-f]{64}$'),
  add column tax_registration_id_sealed jsonb
    constraint organization_settings_tax_registration_id_sealed_check
      check (private.is_envelope(tax_registration_id_sealed)),
  add column payment_means_code text
    constraint organization_settings_payment_means_code_check
      check (payment_means_code ~ '^([0-9]{1,2}|ZZZ)$'),
  add column iban_sealed jsonb
    constraint organization_settings_iban_sealed_check check (private.is_envelope(iban_sealed)),
  add column bic text
    constraint organization_settings_bic_check check (bic ~ '^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$'),
  add column payment_account_name text
    constraint organization_settings_payment_account_name_check
      check (length(payment_account_name) between 1 and 140),
  add column einvoice_format text
    constraint organization_settings_einvoice_format_check
      check (einvoice_format in ('facturx', 'xrechnung-cii', 'xrechnung-ubl', 'peppol')),
  add column electronic_address text
    constraint organization_settings_electronic_address_check
      check (length(electronic_address) between 1 and 200),
  add column electronic_address_scheme text
    constraint organization_settings_electronic_address_scheme_check
      check (electronic_address_scheme ~ '^([0-9]{4}|EM|AN|AQ|AS|AU)$'),
  add constraint organization_settings_default_payment_instructions_sealed_shape
    check (private.is_envelope(default_payment_instructions_sealed)),
  add constraint organization_settings_tax_id_sealed_or_clear
    check (tax_id is null or tax_id_sealed is null),
  add constraint organization_settings_tax_id_hash_with_seal
    check ((tax_id_sealed is null) = (tax_id_hash is null)),
  add constraint organization_settings_payment_instructions_sealed_or_clear
    check (default_payment_instructions is null or default_payment_instructions_sealed is null),
  add constraint organization_settings_electronic_address_with_scheme
    check ((electronic_address is null) = (electronic_address_scheme is null));

comment on column public.organization_settings.tax_id_sealed is
  'The organization''s VAT id (BT-31), sealed (shared/envelope.py, context organization_settings.tax_id:<org id>).';
comment on column public.organization_settings.tax_id_hash is
  'Keyed hash (HMAC-SHA256) of the normalized VAT id: lookups without the clear value.';
comment on column public.organization_settings.iban_sealed is
  'The account invoices are paid to (BT-84), sealed (context organization_settings.iban:<org id>).';
comment on column public.organization_settings.default_payment_instructions_sealed is
  'Default payment instructions of new invoices, sealed (context payment_instructions:<org id>).';

-- The API writes the new columns through update_settings (below); PostgREST's column
-- grants as for the existing ones.
grant update (
  country_code, address_line2, legal_registration_id, tax_id_sealed, tax_id_hash,
  tax_registration_id_sealed, payment_means_code, iban_sealed, bic, payment_account_name,
  default_payment_instructions_sealed, einvoice_format, electronic_address,
  electronic_address_scheme
) on public.organization_settings to authenticated;

-- =============================================================================
-- Columns: the buyers (clients)
-- =============================================================================

alter table public.clients
  add column address_line1 text constraint clients_address_line1_check check (length(address_line1) <= 200),
  add column address_line2 text constraint clients_address_line2_check check (length(address_line2) <= 200),
  add column city text constraint clients_city_check check (length(city) <= 100),
  add column postal_code text constraint clients_postal_code_check check (length(postal_code) <= 20),
  add column subdivision text constraint clients_subdivision_check check (length(subdivision) <= 100),
  add column country_code text constraint clients_country_code_check check (country_code ~ '^[A-Z]{2}$'),
  add column vat_id_sealed jsonb constraint clients_vat_id_sealed_check check (private.is_envelope(vat_id_sealed)),
  add column vat_id_hash text constraint clients_vat_id_hash_check check (vat_id_hash ~ '^[0-9a-f]{64}$'),
  add column legal_registration_id text
    constraint clients_legal_registration_id_check check (length(legal_registration_id) between 1 and 100),
  add column buyer_reference text
    constraint clients_buyer_reference_check check (length(buyer_reference) between 1 and 200),
  add column einvoice_format text
    constraint clients_einvoice_format_check
      check (einvoice_format in ('facturx', 'xrechnung-cii', 'xrechnung-ubl', 'peppol')),
  add column electronic_address text
    constraint clients_electronic_address_check check (length(electronic_address) between 1 and 200),
  add column electronic_address_scheme text
    constraint clients_electronic_address_scheme_check
      check (electronic_address_scheme ~ '^([0-9]{4}|EM|AN|AQ|AS|AU)$'),
  add constraint clients_vat_id_hash_with_seal check ((vat_id_sealed is null) = (vat_id_hash is null)),
  add constraint clients_electronic_address_with_scheme
    check ((electronic_address is null) = (electronic_address_scheme is null));

comment on column public.clients.vat_id_sealed is
  'The client''s VAT id (BT-48), sealed (shared/envelope.py, context clients.vat_id:<org id>).';
comment on column public.clients.vat_id_hash is
  'Keyed hash of the normalized VAT id: clients found by VAT id without the clear value.';

-- Clients of an organization by VAT id (the keyed hash).
create index clients_organization_vat_id_hash_idx
  on public.clients (organization_id, vat_id_hash) where vat_id_hash is not null;

grant insert (
  address_line1, address_line2, city, postal_code, subdivision, country_code, vat_id_sealed,
  vat_id_hash, legal_registration_id, buyer_reference, einvoice_format, electronic_address,
  electronic_address_scheme
) on public.clients to authenticated;
grant update (
  address_line1, address_line2, city, postal_code, subdivision, country_code, vat_id_sealed,
  vat_id_hash, legal_registration_id, buyer_reference, einvoice_format, electronic_address,
  electronic_address_scheme
) on public.clients to authenticated;

-- =============================================================================
-- Columns: bank accounts of payables (vendors, the debtor account)
-- =============================================================================

alter table public.vendors
  add column iban_sealed jsonb constraint vendors_iban_sealed_check check (private.is_envelope(iban_sealed)),
  add column iban_hash text constraint vendors_iban_hash_check check (iban_hash ~ '^[0-9a-f]{64}$'),
  add constraint vendors_iban_sealed_or_clear check (iban is null or iban_sealed is null),
  add constraint vendors_iban_hash_with_seal check ((iban_sealed is null) = (iban_hash is null));

comment on column public.vendors.iban_sealed is
  'Where the vendor is paid, sealed (context vendors.iban:<org id>); iban_hash finds it.';

create index vendors_organization_iban_hash_idx
  on public.vendors (organization_id, iban_hash) where iban_hash is not null;

grant insert (iban_sealed, iban_hash), update (iban_sealed, iban_hash) on public.vendors to authenticated;

alter table public.payables_settings
  add column debtor_iban_sealed jsonb
    constraint payables_settings_debtor_iban_sealed_check check (private.is_envelope(debtor_iban_sealed)),
  add constraint payables_settings_debtor_iban_sealed_or_clear
    check (debtor_iban is null or debtor_iban_sealed is null);

comment on column public.payables_settings.debtor_iban_sealed is
  'The organization''s own account for payment files, sealed (context payables_settings.debtor_iban:<org id>).';

grant insert (debtor_iban_sealed), update (debtor_iban_sealed) on public.payables_settings to authenticated;

-- =============================================================================
-- The audit log without clear sensitive values
-- =============================================================================

-- A row as the audit log keeps it: the clear value of a sensitive column (a tax id,
-- an IBAN, payment instructions: the columns this migration seals) as "[redacted]".
-- Their seals and hashes are kept as they are (nothing to read without KMS).
create or replace function private.audit_redacted(r jsonb)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select case
    when r is null or not (r ?| array['tax_id', 'iban', 'debtor_iban', 'default_payment_instructions'])
      then r
    else (select pg_catalog.jsonb_object_agg(
                   e.k, case when e.k = any (array['tax_id', 'iban', 'debtor_iban',
                                                   'default_payment_instructions'])
                              and pg_catalog.jsonb_typeof(e.v) <> 'null'
                             then '"[redacted]"'::jsonb else e.v end)
          from pg_catalog.jsonb_each(r) e(k, v))
  end
$$;

-- 20261206100100_platform.sql's, the rows recorded through private.audit_redacted
-- (whether a row changed is still decided on the rows themselves).
create or replace function private.record_audit()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  ignored text[] := coalesce(tg_argv::text[], '{}');
  actor uuid := auth.uid();
  actor_role text := coalesce(auth.role(), current_user::text);
  tbl text := tg_table_schema || '.' || tg_table_name;
begin
  if tg_op = 'INSERT' then
    insert into public.audit_log
      (organization_id, table_name, record_id, operation, new_record, changed_by, changed_by_role)
    select (n ->> 'organization_id')::uuid, tbl, (n ->> 'id')::uuid, 'INSERT',
           private.audit_redacted(n), actor, actor_role
    from (select to_jsonb(r) as n from new_rows r) s;
  elsif tg_op = 'DELETE' then
    insert into public.audit_log
      (organization_id, table_name, record_id, operation, old_record, changed_by, changed_by_role)
    select (o ->> 'organization_id')::uuid, tbl, (o ->> 'id')::uuid, 'DELETE',
           private.audit_redacted(o), actor, actor_role
    from (select to_jsonb(r) as o from old_rows r) s;
  else
    insert into public.audit_log
      (organization_id, table_name, record_id, operation, old_record, new_record,
       changed_by, changed_by_role)
    select (n ->> 'organization_id')::uuid, tbl, (n ->> 'id')::uuid, 'UPDATE',
           private.audit_redacted(o), private.audit_redacted(n), actor, actor_role
    from (select to_jsonb(r) as o from old_rows r) olds
    join (select to_jsonb(r) as n from new_rows r) news on (o ->> 'id') = (n ->> 'id')
    where (o - ignored) is distinct from (n - ignored);
  end if;
  return null;
end;
$$;

-- =============================================================================
-- The parties of documents
-- =============================================================================

-- The seller's fields (the organization's settings, seals as stored) and each buyer's
-- (the clients named), for the document loaders (shared/parties.attach_parties):
--   {"seller": {...} | null, "buyers": {"<client id>": {...}, ...}}
-- Security invoker: RLS decides; a stranger gets {"seller": null, "buyers": {}}.
create or replace function public.document_parties(organization_id uuid, client_ids uuid[] default '{}')
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select jsonb_build_object(
    'seller', (
      select jsonb_build_object(
        'organization_id', s.organization_id, 'organization_name', o.name,
        'business_name', s.business_name, 'business_email', s.business_email,
        'business_phone', s.business_phone, 'business_address', s.business_address,
        'address_line2', s.address_line2, 'city', s.city, 'state', s.state,
        'zip_code', s.zip_code, 'country', s.country, 'country_code', s.country_code,
        'website', s.website, 'tax_id', s.tax_id, 'tax_id_sealed', s.tax_id_sealed,
        'tax_registration_id_sealed', s.tax_registration_id_sealed,
        'legal_registration_id', s.legal_registration_id,
        'payment_means_code', s.payment_means_code, 'iban_sealed', s.iban_sealed, 'bic', s.bic,
        'payment_account_name', s.payment_account_name,
        'default_payment_instructions', s.default_payment_instructions,
        'default_payment_instructions_sealed', s.default_payment_instructions_sealed,
        'einvoice_format', s.einvoice_format, 'electronic_address', s.electronic_address,
        'electronic_address_scheme', s.electronic_address_scheme)
      from public.organization_settings s
      join public.organizations o on o.id = s.organization_id
      where s.organization_id = document_parties.organization_id),
    'buyers', coalesce((
      select jsonb_object_agg(c.id, jsonb_build_object(
        'id', c.id, 'company_name', c.company_name, 'contact_person', c.contact_person,
        'email', c.email, 'phone', c.phone, 'address', c.address,
        'address_line1', c.address_line1, 'address_line2', c.address_line2, 'city', c.city,
        'postal_code', c.postal_code, 'subdivision', c.subdivision,
        'country_code', c.country_code, 'vat_id_sealed', c.vat_id_sealed,
        'legal_registration_id', c.legal_registration_id, 'buyer_reference', c.buyer_reference,
        'einvoice_format', c.einvoice_format, 'electronic_address', c.electronic_address,
        'electronic_address_scheme', c.electronic_address_scheme))
      from public.clients c
      where c.organization_id = document_parties.organization_id
        and c.id = any (document_parties.client_ids)), '{}'::jsonb))
$$;

comment on function public.document_parties(uuid, uuid[]) is
  'The seller''s and the named clients'' party fields (seals as stored) for documents; RLS decides.';

revoke execute on function public.document_parties(uuid, uuid[]) from public;
grant execute on function public.document_parties(uuid, uuid[]) to authenticated, service_role;

-- What the page shows: the document as the PDF prints it (public.invoice_document
-- or public.quote_document, with the organization's business settings) and the
-- page's own settings. Internal ids of other rows and the client's other data
-- are not added.
--
-- private.portal_document (client links migration) plus 'payment': whether online
-- payment is set up and partial payments are allowed. Nothing else of the account.
--
-- The client page (20261206130200_stripe.sql's private.portal_document) adds
-- 'parties': the page's function runs without login, so the document's seller and
-- buyer come with its answer (their seals opened by the function that renders it).
create or replace function private.portal_document(link public.client_links)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  doc jsonb;
  s public.organization_settings;
  acct private.stripe_accounts;
begin
  if link.document_type = 'invoice' then
    doc := public.invoice_document(link.organization_id, link.invoice_id);
  else
    doc := public.quote_document(link.organization_id, link.quote_id);
  end if;
  if doc is null or doc ->> 'status' = 'draft' then
    return null;  -- a link made for a send that has not happened (yet)
  end if;
  select * into s from public.organization_settings st where st.organization_id = link.organization_id;
  select * into acct from private.stripe_accounts a where a.organization_id = link.organization_id;
  return jsonb_build_object(
    'found', true,
    'document_type', link.document_type,
    'link', jsonb_build_object('id', link.id, 'expires_at', link.expires_at),
    'portal', jsonb_build_object('brand_color', s.brand_color, 'logo_url', s.company_logo_url,
                                 'time_zone', s.time_zone),
    'payment', jsonb_build_object('enabled', acct.organization_id is not null,
                                  'allow_partial', coalesce(acct.allow_partial_payments, false)),
    'parties', public.document_parties(link.organization_id,
                                       array[(doc -> 'client' ->> 'id')::uuid]),
    'document', doc - 'created_by');
end;
$$;

-- =============================================================================
-- Payment batches: the vendors' and the debtor's sealed IBANs
-- =============================================================================

-- private.payment_batch_json: defined in 20261206171500 (its final form; nothing is deployed)

-- A vendor's answer (reconciliation migrations) as before: neither the seal nor the hash
-- (the API opens the seal for the clear value, shared/reconciliation/vendor_tax_ids.py).
--
-- 20261206140300_data_protection.sql's private.vendor_json: a vendor's answer carries
-- neither the IBAN's seal nor its hash either (the API opens the seal, as for the tax id).
create or replace function private.vendor_json(organization_id uuid, vendor uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select to_jsonb(v) - 'quantity_tolerance_percent' - 'price_tolerance_percent'
           - 'price_tolerance_amount' - 'total_tolerance_amount'
           - 'tax_id_sealed' - 'tax_id_hash' - 'iban_sealed' - 'iban_hash'
         || jsonb_build_object(
              'quantity_tolerance_percent', v.quantity_tolerance_percent::text,
              'price_tolerance_percent', v.price_tolerance_percent::text,
              'price_tolerance_amount', v.price_tolerance_amount::text,
              'total_tolerance_amount', v.total_tolerance_amount::text,
              'aliases', coalesce((
                select jsonb_agg(jsonb_build_object(
                         'id', a.id, 'alias', a.alias, 'normalized_alias', a.normalized_alias,
                         'source', a.source, 'created_at', a.created_at)
                         order by a.alias, a.id)
                from public.vendor_aliases a
                where a.organization_id = vendor_json.organization_id and a.vendor_id = v.id), '[]'),
              'suggestions', case when v.status = 'merged' then '[]'::jsonb
                                  else private.vendor_suggestions(vendor_json.organization_id, v.id) end,
              'invoice_counts', (
                select jsonb_build_object(
                  'total', count(*),
                  'exception', count(*) filter (where vi.status = 'exception'),
                  'pending', count(*) filter (where vi.status = 'pending'))
                from public.vendor_invoices vi
                where vi.organization_id = vendor_json.organization_id and vi.vendor_id = v.id),
              'open_exceptions', (
                select count(*) from public.reconciliation_exceptions e
                where e.organization_id = vendor_json.organization_id and e.vendor_id = v.id and e.status = 'open'))
  from public.vendors v
  where v.organization_id = vendor_json.organization_id and v.id = vendor
$$;
grant execute on function private.vendor_json(uuid, uuid) to authenticated, service_role;

-- 20261206150100_approvals.sql's, the debtor with iban_sealed beside iban.
create or replace function private.payment_batch(organization_id uuid, batch_id uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  perform private.require_role(payment_batch.organization_id, 'viewer');
  if not exists (select 1 from public.payment_batches b
                 where b.id = batch_id and b.organization_id = payment_batch.organization_id) then
    raise exception 'no such payment batch in the organization' using errcode = 'P0002';
  end if;
  return private.payment_batch_json(batch_id) || jsonb_build_object(
    'debtor', (select jsonb_build_object('name', coalesce(s.debtor_name, o.name),
                                         'iban', s.debtor_iban, 'iban_sealed', s.debtor_iban_sealed,
                                         'bic', s.debtor_bic)
               from public.organizations o
               left join public.payables_settings s on s.organization_id = o.id
               where o.id = payment_batch.organization_id));
end;
$$;

-- =============================================================================
-- update_settings: 20261206140200_require_mfa.sql's, whole, with the parties' fields
-- (country_code, address_line2, legal_registration_id, payment_means_code, bic,
-- payment_account_name, einvoice_format, electronic_address(_scheme)), the sealed ones
-- (tax_id_sealed with tax_id_hash, tax_registration_id_sealed, iban_sealed,
-- default_payment_instructions_sealed: envelopes the API made, never clear values; a
-- sealed value written empties its clear column) and the client page's brand_color
-- and client_link_days (their table checks decide). A clear tax_id or
-- default_payment_instructions is refused unless empty (which clears both forms).
-- =============================================================================

-- update_settings: each section present (not null) changes the fields it
-- names; null in a field clears it when the field is optional (the NOT NULL
-- columns refuse it). One transaction: a refused section changes nothing.
-- The business section also takes time_zone, overpayment and numbering (the head
-- of this file).
create or replace function public.update_settings(
  organization_id uuid default null,
  profile jsonb default null,
  business jsonb default null,
  notifications jsonb default null
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  uid uuid := auth.uid();
  org_id uuid := update_settings.organization_id;
  p jsonb := update_settings.profile;
  b jsonb := update_settings.business;
  n jsonb := update_settings.notifications;
  nb jsonb := b -> 'numbering';
  -- An empty section changes nothing, and writes nothing (updated_at stays).
  write_p boolean := p is not null and p <> '{}'::jsonb;
  write_b boolean := b is not null and b <> '{}'::jsonb;
  write_n boolean := n is not null and n <> '{}'::jsonb;
  current_next bigint;
  wanted_next bigint;
  rate numeric;
  cur public.organization_settings;
  kind text;
  problem text;
  want_pattern text;
  want_reset text;
begin
  if uid is null then
    raise exception 'sign in to change settings' using errcode = '42501';
  end if;
  if org_id is not null then
    perform private.require_role(org_id, 'viewer');
  end if;

  -- Every section is checked before anything is written.
  if p ? 'email' then
    raise exception 'profile.email cannot be changed here; it is the account''s email'
      using errcode = '22023';
  end if;
  perform private.check_section('profile', p, array['first_name', 'last_name', 'phone', 'avatar_url']);
  perform private.check_section('notifications', n, array['email_notifications', 'push_notifications']);
  perform private.check_flags('notifications.email_notifications', n -> 'email_notifications',
    array['paymentReceived', 'invoiceOverdue', 'paymentReminder', 'newClient', 'weeklyReport',
          'monthlyReport']);
  perform private.check_flags('notifications.push_notifications', n -> 'push_notifications',
    array['paymentReceived', 'invoiceOverdue', 'systemUpdates']);
  perform private.check_section('business', b, array[
    'business_name', 'business_email', 'business_phone', 'business_address', 'city', 'state',
    'zip_code', 'country', 'tax_id', 'website', 'company_logo_url', 'default_currency',
    'default_template', 'default_payment_terms', 'default_tax_rate', 'tax_label',
    'invoice_prefix', 'invoice_number_padding', 'next_invoice_number', 'invoice_footer',
    'default_notes', 'default_terms', 'default_payment_instructions', 'reminder_settings',
    'time_zone', 'overpayment', 'numbering', 'require_mfa', 'brand_color', 'client_link_days',
    'country_code', 'address_line2', 'legal_registration_id', 'tax_id_sealed', 'tax_id_hash',
    'tax_registration_id_sealed', 'payment_means_code', 'iban_sealed', 'bic',
    'payment_account_name', 'default_payment_instructions_sealed', 'einvoice_format',
    'electronic_address', 'electronic_address_scheme']);
  -- The reminder settings' keys here; their values once merged with the stored
  -- ones (below), by private.reminder_settings_problem, as the table's constraint.
  if b -> 'reminder_settings' ?| array['daysBeforeDue', 'overdueFrequency'] then
    raise exception 'business.reminder_settings.%: replaced by levels and repeatEveryDays (docs/api.md, "Reminder levels")',
      case when b -> 'reminder_settings' ? 'daysBeforeDue' then 'daysBeforeDue' else 'overdueFrequency' end
      using errcode = '22023';
  end if;
  perform private.check_section('business.reminder_settings', b -> 'reminder_settings',
    array['enabled', 'levels', 'repeatEveryDays', 'lateFee']);
  -- The API sends a decimal as a string (no float on the way): stored as a number.
  if jsonb_typeof(b #> '{reminder_settings,lateFee,amount}') = 'string'
     and b #>> '{reminder_settings,lateFee,amount}' ~ '^[0-9]{1,12}(\.[0-9]{1,12})?$' then
    b := jsonb_set(b, '{reminder_settings,lateFee,amount}',
                   to_jsonb((b #>> '{reminder_settings,lateFee,amount}')::numeric));
  end if;
  perform private.check_section('business.numbering', nb, array['invoice', 'quote', 'credit_note']);
  perform private.check_section('business.numbering.' || k, nb -> k, array['pattern', 'reset'])
  from unnest(array['invoice', 'quote', 'credit_note']) k;
  if b is not null then
    if org_id is null then
      raise exception 'business settings belong to an organization: name one' using errcode = '22023';
    end if;
    perform private.require_role(org_id, 'admin',
      'changing business settings needs the admin role or above');
    if b ? 'invoice_prefix'
       and coalesce(b ->> 'invoice_prefix', '') !~ '^[A-Za-z0-9._/#-]{0,20}$' then
      raise exception 'business.invoice_prefix may hold at most 20 of A-Z a-z 0-9 . _ / # -'
        using errcode = '23514';
    end if;
    if b ? 'default_tax_rate' and jsonb_typeof(b -> 'default_tax_rate') in ('number', 'string') then
      rate := (b ->> 'default_tax_rate')::numeric;
      if rate < 0 or rate > 100 or scale(rate) > 3 then
        raise exception 'business.default_tax_rate must be between 0 and 100 with at most 3 decimals'
          using errcode = '23514';
      end if;
    end if;
    if b ? 'time_zone' and not private.is_iana_time_zone(b ->> 'time_zone') then
      raise exception 'business.time_zone must be an IANA time zone name such as Europe/Paris, not %',
        coalesce(pg_catalog.quote_literal(b ->> 'time_zone'), 'null')
        using errcode = '22023',
              hint = 'Abbreviations (EST, CET) and offsets (+05, UTC+3) are refused: name the place.';
    end if;
    if b ? 'require_mfa' and jsonb_typeof(b -> 'require_mfa') is distinct from 'boolean' then
      raise exception 'business.require_mfa is true or false' using errcode = '22023';
    end if;
    -- Tax ids and payment instructions arrive sealed (the API seals them,
    -- shared/parties.py); a clear value is only accepted empty (it clears both forms).
    select k into problem
      from unnest(array['tax_id', 'default_payment_instructions']) k
     where nullif(btrim(b ->> k), '') is not null
     order by k limit 1;
    if problem is not null then
      raise exception 'business.% is stored sealed: send business.%_sealed (the API seals it)',
        problem, problem using errcode = '22023';
    end if;
    select k into problem
      from unnest(array['tax_id_sealed', 'tax_registration_id_sealed', 'iban_sealed',
                        'default_payment_instructions_sealed']) k
     where b ? k and not private.is_envelope(nullif(b -> k, 'null'::jsonb))
     order by k limit 1;
    if problem is not null then
      raise exception 'business.% must be an envelope {v, kid, dk, n, c} or null', problem
        using errcode = '22023';
    end if;
    if b ? 'client_link_days' and jsonb_typeof(b -> 'client_link_days') is distinct from 'number' then
      raise exception 'business.client_link_days is a number of days (1 to 730)' using errcode = '22023';
    end if;
    if b ? 'overpayment' and coalesce(b ->> 'overpayment', '') not in ('refuse', 'credit') then
      raise exception 'business.overpayment is refuse or credit' using errcode = '22023';
    end if;
    if nb -> 'invoice' ? 'pattern' and (b ? 'invoice_prefix' or b ? 'invoice_number_padding') then
      raise exception 'business.numbering.invoice.pattern and business.invoice_prefix or '
                      'invoice_number_padding cannot change together: give the pattern alone'
        using errcode = '22023';
    end if;
  end if;

  if write_p then
    update public.profiles pr
    set first_name = case when p ? 'first_name' then nullif(btrim(p ->> 'first_name'), '') else pr.first_name end,
        last_name = case when p ? 'last_name' then nullif(btrim(p ->> 'last_name'), '') else pr.last_name end,
        phone = case when p ? 'phone' then nullif(btrim(p ->> 'phone'), '') else pr.phone end,
        avatar_url = case when p ? 'avatar_url' then nullif(btrim(p ->> 'avatar_url'), '') else pr.avatar_url end
    where pr.id = uid;
    if not found then
      raise exception 'profile not found' using errcode = 'P0002';
    end if;
  end if;

  if write_n then
    update public.user_settings s
    set email_notifications = case when n ? 'email_notifications'
                                   then s.email_notifications || coalesce(n -> 'email_notifications', '{}')
                                   else s.email_notifications end,
        push_notifications = case when n ? 'push_notifications'
                                  then s.push_notifications || coalesce(n -> 'push_notifications', '{}')
                                  else s.push_notifications end
    where s.user_id = uid;
    if not found then
      raise exception 'notification settings not found' using errcode = 'P0002';
    end if;
  end if;

  if write_b then
    -- The counter's row lock (the one private.next_document_number takes), so
    -- the comparison below cannot race a number being handed out.
    select * into cur
    from public.organization_settings o
    where o.organization_id = org_id
    for no key update;
    if not found then
      raise exception 'business settings not found' using errcode = 'P0002';
    end if;
    current_next := cur.next_invoice_number;
    if b ? 'reminder_settings' then
      problem := private.reminder_settings_problem(
        cur.reminder_settings || coalesce(b -> 'reminder_settings', '{}'));
      if problem is not null then
        raise exception 'business.reminder_settings.%', problem using errcode = '22023';
      end if;
    end if;
    if b ? 'next_invoice_number' then
      wanted_next := (b ->> 'next_invoice_number')::bigint;
      if wanted_next < current_next then
        raise exception 'business.next_invoice_number can only go up; it is % now', current_next
          using errcode = '23514',
                hint = 'Numbers below it may already be on invoices.';
      end if;
    end if;
    -- Each type's pattern and reset as they would be, checked together.
    foreach kind in array array['invoice', 'quote', 'credit_note'] loop
      continue when nb -> kind is null;
      want_pattern := coalesce(nb -> kind ->> 'pattern', case kind
        when 'invoice' then cur.invoice_number_pattern when 'quote' then cur.quote_number_pattern
        else cur.credit_note_number_pattern end);
      want_reset := coalesce(nb -> kind ->> 'reset', case kind
        when 'invoice' then cur.invoice_number_reset when 'quote' then cur.quote_number_reset
        else cur.credit_note_number_reset end);
      problem := private.numbering_pattern_problem(want_pattern, want_reset);
      if problem is not null then
        raise exception 'business.numbering.%.%: %', kind,
          case when problem like 'reset is%' or (nb -> kind ? 'reset' and not nb -> kind ? 'pattern'
                                                  and problem like 'a pattern that resets%')
               then 'reset' else 'pattern' end,
          problem
          using errcode = '22023';
      end if;
    end loop;

    update public.organization_settings o
    set business_name = case when b ? 'business_name' then nullif(btrim(b ->> 'business_name'), '') else o.business_name end,
        business_email = case when b ? 'business_email' then nullif(btrim(b ->> 'business_email'), '') else o.business_email end,
        business_phone = case when b ? 'business_phone' then nullif(btrim(b ->> 'business_phone'), '') else o.business_phone end,
        business_address = case when b ? 'business_address' then nullif(btrim(b ->> 'business_address'), '') else o.business_address end,
        city = case when b ? 'city' then nullif(btrim(b ->> 'city'), '') else o.city end,
        state = case when b ? 'state' then nullif(btrim(b ->> 'state'), '') else o.state end,
        zip_code = case when b ? 'zip_code' then nullif(btrim(b ->> 'zip_code'), '') else o.zip_code end,
        country = case when b ? 'country' then nullif(btrim(b ->> 'country'), '') else o.country end,
        -- The clear form goes as soon as a sealed one (or an empty value) is written.
        tax_id = case when b ?| array['tax_id', 'tax_id_sealed'] then null else o.tax_id end,
        tax_id_sealed = case when b ? 'tax_id_sealed' then nullif(b -> 'tax_id_sealed', 'null'::jsonb)
                             when b ? 'tax_id' then null else o.tax_id_sealed end,
        tax_id_hash = case when b ? 'tax_id_sealed' then nullif(b ->> 'tax_id_hash', '')
                           when b ? 'tax_id' then null else o.tax_id_hash end,
        tax_registration_id_sealed = case when b ? 'tax_registration_id_sealed'
                                          then nullif(b -> 'tax_registration_id_sealed', 'null'::jsonb)
                                          else o.tax_registration_id_sealed end,
        country_code = case when b ? 'country_code' then upper(nullif(btrim(b ->> 'country_code'), '')) else o.country_code end,
        address_line2 = case when b ? 'address_line2' then nullif(btrim(b ->> 'address_line2'), '') else o.address_line2 end,
        legal_registration_id = case when b ? 'legal_registration_id' then nullif(btrim(b ->> 'legal_registration_id'), '') else o.legal_registration_id end,
        payment_means_code = case when b ? 'payment_means_code' then nullif(btrim(b ->> 'payment_means_code'), '') else o.payment_means_code end,
        iban_sealed = case when b ? 'iban_sealed' then nullif(b -> 'iban_sealed', 'null'::jsonb) else o.iban_sealed end,
        bic = case when b ? 'bic' then upper(nullif(btrim(b ->> 'bic'), '')) else o.bic end,
        payment_account_name = case when b ? 'payment_account_name' then nullif(btrim(b ->> 'payment_account_name'), '') else o.payment_account_name end,
        einvoice_format = case when b ? 'einvoice_format' then nullif(btrim(b ->> 'einvoice_format'), '') else o.einvoice_format end,
        electronic_address = case when b ? 'electronic_address' then nullif(btrim(b ->> 'electronic_address'), '') else o.electronic_address end,
        electronic_address_scheme = case when b ? 'electronic_address_scheme' then nullif(btrim(b ->> 'electronic_address_scheme'), '') else o.electronic_address_scheme end,
        brand_color = case when b ? 'brand_color' then b ->> 'brand_color' else o.brand_color end,
        client_link_days = case when b ? 'client_link_days' then (b ->> 'client_link_days')::integer else o.client_link_days end,
        website = case when b ? 'website' then nullif(btrim(b ->> 'website'), '') else o.website end,
        company_logo_url = case when b ? 'company_logo_url' then nullif(btrim(b ->> 'company_logo_url'), '') else o.company_logo_url end,
        default_currency = case when b ? 'default_currency' then upper(b ->> 'default_currency') else o.default_currency end,
        default_template = case when b ? 'default_template' then b ->> 'default_template' else o.default_template end,
        default_payment_terms = case when b ? 'default_payment_terms' then b ->> 'default_payment_terms' else o.default_payment_terms end,
        default_tax_rate = case when b ? 'default_tax_rate' then (b ->> 'default_tax_rate')::numeric else o.default_tax_rate end,
        tax_label = case when b ? 'tax_label' then btrim(b ->> 'tax_label') else o.tax_label end,
        invoice_prefix = case when b ? 'invoice_prefix' then b ->> 'invoice_prefix' else o.invoice_prefix end,
        invoice_number_padding = case when b ? 'invoice_number_padding' then (b ->> 'invoice_number_padding')::integer else o.invoice_number_padding end,
        next_invoice_number = coalesce(wanted_next, o.next_invoice_number),
        invoice_footer = case when b ? 'invoice_footer' then nullif(btrim(b ->> 'invoice_footer'), '') else o.invoice_footer end,
        default_notes = case when b ? 'default_notes' then nullif(btrim(b ->> 'default_notes'), '') else o.default_notes end,
        default_terms = case when b ? 'default_terms' then nullif(btrim(b ->> 'default_terms'), '') else o.default_terms end,
        default_payment_instructions = case when b ?| array['default_payment_instructions', 'default_payment_instructions_sealed']
                                            then null else o.default_payment_instructions end,
        default_payment_instructions_sealed = case when b ? 'default_payment_instructions_sealed'
                                                   then nullif(b -> 'default_payment_instructions_sealed', 'null'::jsonb)
                                                   when b ? 'default_payment_instructions' then null
                                                   else o.default_payment_instructions_sealed end,
        reminder_settings = case when b ? 'reminder_settings'
                                 then o.reminder_settings || coalesce(b -> 'reminder_settings', '{}')
                                 else o.reminder_settings end,
        time_zone = case when b ? 'time_zone' then b ->> 'time_zone' else o.time_zone end,
        overpayment = case when b ? 'overpayment' then b ->> 'overpayment' else o.overpayment end,
        require_mfa = case when b ? 'require_mfa' then (b ->> 'require_mfa')::boolean else o.require_mfa end,
        invoice_number_pattern = coalesce(nb -> 'invoice' ->> 'pattern', o.invoice_number_pattern),
        invoice_number_reset = coalesce(nb -> 'invoice' ->> 'reset', o.invoice_number_reset),
        quote_number_pattern = coalesce(nb -> 'quote' ->> 'pattern', o.quote_number_pattern),
        quote_number_reset = coalesce(nb -> 'quote' ->> 'reset', o.quote_number_reset),
        credit_note_number_pattern = coalesce(nb -> 'credit_note' ->> 'pattern', o.credit_note_number_pattern),
        credit_note_number_reset = coalesce(nb -> 'credit_note' ->> 'reset', o.credit_note_number_reset)
    where o.organization_id = org_id;
    if not found then
      raise exception 'changing business settings needs the admin role or above' using errcode = '42501';
    end if;
  end if;

  return private.settings_json(uid, org_id);
end;
$$;
grant execute on function public.update_settings(uuid, jsonb, jsonb, jsonb) to authenticated;

revoke execute on all functions in schema private, public from public;
