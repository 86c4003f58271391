-- =============================================================================
-- Invoice documents: an invoice as the API prints and sends it. After the payments
-- migration, because the document lists the payments (its SQL functions are checked
-- against the tables when they are created).
--
-- Invoice documents: everything a PDF or an email prints about one invoice, in
-- one call (shared/documents.py, used by GET /api/invoices/{id}/pdf, sending,
-- bulk actions and the reminder job).
--
-- An RPC rather than PostgREST embedding: the same JSON, measured side by side
-- through the local gateway (bench/pdf.py, "document loader"), answers in about
-- two thirds of the time of the embedded GET (one function call to plan and run
-- instead of five embedded relations to resolve).
-- =============================================================================

-- =============================================================================
-- Functions
-- =============================================================================

-- private.invoice_document: its form before 20261206170400, which tests/db/test_tax_model_keeps_totals.py
-- makes documents with; 20261206170400 replaces it whole (its final form).
--
-- The invoice as the API returns it: its columns, its items (in position
-- order), its payments (oldest first) and a summary of its client. The one
-- definition of that shape: GET /api/invoices/{id} reads it (public.get_invoice,
-- below), create, update and delete_invoice and mark_invoice_sent answer it.
-- Security invoker: another tenant's invoice is null.
create or replace function private.invoice_document(target uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select to_jsonb(i) || jsonb_build_object(
    'items', coalesce((
      select jsonb_agg(jsonb_build_object(
               'id', it.id, 'position', it.position, 'description', it.description,
               'quantity', it.quantity, 'rate', it.rate, 'amount', it.amount,
               'created_at', it.created_at, 'updated_at', it.updated_at)
             order by it.position, it.created_at, it.id)
      from public.invoice_items it
      where it.invoice_id = i.id), '[]'::jsonb),
    'payments', coalesce((
      select jsonb_agg(jsonb_build_object(
               'id', p.id, 'amount', p.amount, 'currency', p.currency,
               'payment_date', p.payment_date, 'payment_method', p.payment_method,
               'reference_number', p.reference_number, 'notes', p.notes,
               'created_at', p.created_at)
             order by p.payment_date, p.created_at, p.id)
      from public.payments p
      where p.invoice_id = i.id), '[]'::jsonb),
    'client', (
      select jsonb_build_object(
               'id', c.id, 'company_name', c.company_name, 'contact_person', c.contact_person,
               'email', c.email, 'phone', c.phone, 'address', c.address, 'currency', c.currency)
      from public.clients c
      where c.id = i.client_id))
  from public.invoices i
  where i.id = target
$$;

-- GET /api/invoices/{id}: the invoice of the organization as the API returns it
-- (private.invoice_document), or null when it is not one of the organization's
-- invoices the caller may read. Security invoker: row level security decides.
create or replace function public.get_invoice(organization_id uuid, invoice_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select private.invoice_document(i.id)
  from public.invoices i
  where i.id = get_invoice.invoice_id and i.organization_id = get_invoice.organization_id
$$;

-- The invoice's columns, its items (position order), its payments (oldest first),
-- its client, and the organization's name and settings (the business), or null.
-- Security invoker: a user sees only what RLS lets them see, so another tenant's
-- invoice is null. The explicit organization filter makes the same true for the
-- service role (scheduled jobs), which RLS does not restrict.
create or replace function public.invoice_document(organization_id uuid, invoice_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select to_jsonb(i) || jsonb_build_object(
    'items', coalesce((
      select jsonb_agg(jsonb_build_object(
               'id', it.id, 'position', it.position, 'description', it.description,
               'quantity', it.quantity, 'rate', it.rate, 'amount', it.amount)
             order by it.position, it.created_at, it.id)
      from public.invoice_items it
      where it.invoice_id = i.id and it.organization_id = i.organization_id), '[]'::jsonb),
    'payments', coalesce((
      select jsonb_agg(jsonb_build_object(
               'id', p.id, 'amount', p.amount, 'currency', p.currency,
               'payment_date', p.payment_date, 'payment_method', p.payment_method,
               'reference_number', p.reference_number)
             order by p.payment_date, p.created_at, p.id)
      from public.payments p
      where p.invoice_id = i.id and p.organization_id = i.organization_id), '[]'::jsonb),
    'client', (
      select jsonb_build_object(
               'id', c.id, 'company_name', c.company_name, 'contact_person', c.contact_person,
               'email', c.email, 'phone', c.phone, 'address', c.address, 'currency', c.currency)
      from public.clients c
      where c.id = i.client_id and c.organization_id = i.organization_id),
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
      where o.id = i.organization_id))
  from public.invoices i
  where i.id = invoice_id and i.organization_id = invoice_document.organization_id
$$;

-- Many invoices' documents in one call (the bulk PDF download), keyed by invoice id;
-- ids that name no invoice of the organization are left out.
create or replace function public.invoice_documents(organization_id uuid, invoice_ids uuid[])
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select coalesce(jsonb_object_agg(u.id, d.document), '{}'::jsonb)
  from unnest(invoice_ids) as u (id)
  cross join lateral (select public.invoice_document(invoice_documents.organization_id, u.id) as document) d
  where d.document is not null
$$;

-- =============================================================================
-- Grants
-- =============================================================================

grant execute on function private.invoice_document(uuid) to authenticated;

revoke execute on function public.get_invoice(uuid, uuid) from public, anon, service_role;

grant execute on function public.get_invoice(uuid, uuid) to authenticated;

revoke execute on function public.invoice_document(uuid, uuid) from public, anon;

grant execute on function public.invoice_document(uuid, uuid) to authenticated, service_role;

revoke execute on function public.invoice_documents(uuid, uuid[]) from public, anon;

grant execute on function public.invoice_documents(uuid, uuid[]) to authenticated, service_role;

-- mark_invoice_sent answers with the invoice document, also for the service role.
grant execute on function private.invoice_document(uuid) to service_role;

revoke execute on all functions in schema private, public from public;
