-- =============================================================================
-- Demo data for local development (`make dev`, `supabase db reset`).
-- Sign in as demo@invoiceflow.local / invoiceflow-demo.
-- One organization (created by the signup trigger), five clients, invoices in
-- every status, full and partial payments.
-- =============================================================================

insert into auth.users (
  instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
  raw_app_meta_data, raw_user_meta_data, created_at, updated_at,
  confirmation_token, recovery_token, email_change_token_new, email_change
) values (
  '00000000-0000-0000-0000-000000000000', 'd0000000-0000-4000-8000-000000000001',
  'authenticated', 'authenticated', 'demo@invoiceflow.local',
  extensions.crypt('invoiceflow-demo', extensions.gen_salt('bf', 10)), now(),
  '{"provider": "email", "providers": ["email"]}',
  '{"first_name": "Dana", "last_name": "Demo", "business_name": "Demo Design Studio"}',
  now(), now(), '', '', '', ''
);

insert into auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at, last_sign_in_at)
values (
  'd0000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000001',
  '{"sub": "d0000000-0000-4000-8000-000000000001", "email": "demo@invoiceflow.local", "email_verified": true}',
  'email', now(), now(), now()
);

do $$
declare
  demo uuid := 'd0000000-0000-4000-8000-000000000001';
  org uuid := (select id from public.organizations where created_by = demo and personal);
  acme uuid := 'c0000000-0000-4000-8000-000000000001';
  globex uuid := 'c0000000-0000-4000-8000-000000000002';
  initech uuid := 'c0000000-0000-4000-8000-000000000003';
  umbrella uuid := 'c0000000-0000-4000-8000-000000000004';
  hooli uuid := 'c0000000-0000-4000-8000-000000000005';
  inv uuid;
begin
  update public.organization_settings set
    business_address = '12 Harbour Street', city = 'Portland', state = 'OR', zip_code = '97201',
    country = 'United States', business_phone = '+1 503 555 0100', tax_label = 'Sales tax',
    default_tax_rate = 8.5, invoice_footer = 'Thank you for your business!',
    default_payment_instructions = 'Bank transfer to IBAN US00 DEMO 0000 0000 — reference the invoice number.'
  where organization_id = org;

  insert into public.clients (id, organization_id, created_by, company_name, contact_person, email, phone, address, status, billing_frequency)
  values
    (acme, org, demo, 'Acme Corporation', 'Wile E. Coyote', 'billing@acme.example', '+1 555 0101', '1 Desert Road, Tucson AZ', 'active', 'monthly'),
    (globex, org, demo, 'Globex', 'Hank Scorpio', 'ap@globex.example', '+1 555 0102', '5 Volcano Way, Cypress Creek', 'active', 'quarterly'),
    (initech, org, demo, 'Initech', 'Bill Lumbergh', 'accounts@initech.example', null, '4120 Freidrich Lane, Austin TX', 'active', 'monthly'),
    (umbrella, org, demo, 'Umbrella Corp', 'Albert Wesker', 'finance@umbrella.example', null, 'Raccoon City', 'inactive', 'annually'),
    (hooli, org, demo, 'Hooli', 'Gavin Belson', null, null, 'Palo Alto CA', 'pending', 'one-time');

  -- A draft.
  insert into public.invoices (organization_id, created_by, client_id, issue_date, tax_rate, notes)
  values (org, demo, acme, current_date, 8.5, 'Draft for next month''s retainer') returning id into inv;
  insert into public.invoice_items (invoice_id, position, description, quantity, rate) values
    (inv, 0, 'Monthly design retainer', 1, 2500), (inv, 1, 'Extra revisions (hours)', 3.5, 95);

  -- Sent, due in the future.
  insert into public.invoices (organization_id, created_by, client_id, issue_date, due_date, tax_rate)
  values (org, demo, globex, current_date - 10, current_date + 20, 8.5) returning id into inv;
  insert into public.invoice_items (invoice_id, position, description, quantity, rate) values
    (inv, 0, 'Brand identity workshop', 2, 1200), (inv, 1, 'Logo concepts', 5, 300);
  update public.invoices set status = 'sent' where id = inv;

  -- Sent and partly paid.
  insert into public.invoices (organization_id, created_by, client_id, issue_date, due_date, tax_rate, discount)
  values (org, demo, initech, current_date - 20, current_date + 10, 8.5, 0) returning id into inv;
  insert into public.invoice_items (invoice_id, position, description, quantity, rate) values
    (inv, 0, 'Website redesign — phase 1', 1, 4800), (inv, 1, 'Stock photography', 12, 14.99);
  update public.invoices set status = 'sent', discount = 100 where id = inv;
  insert into public.payments (invoice_id, created_by, amount, payment_date, payment_method, reference_number)
  values (inv, demo, 2000, current_date - 5, 'bank_transfer', 'TRX-88121');

  -- Paid in full (two payments).
  insert into public.invoices (organization_id, created_by, client_id, issue_date, due_date, tax_rate)
  values (org, demo, acme, current_date - 45, current_date - 15, 0) returning id into inv;
  insert into public.invoice_items (invoice_id, position, description, quantity, rate) values
    (inv, 0, 'Monthly design retainer', 1, 2500);
  update public.invoices set status = 'sent' where id = inv;
  insert into public.payments (invoice_id, created_by, amount, payment_date, payment_method, reference_number) values
    (inv, demo, 1000, current_date - 30, 'credit_card', 'ch_1001'),
    (inv, demo, 1500, current_date - 20, 'bank_transfer', 'TRX-77410');

  -- Overdue.
  insert into public.invoices (organization_id, created_by, client_id, issue_date, due_date, tax_rate)
  values (org, demo, umbrella, current_date - 60, current_date - 30, 8.5) returning id into inv;
  insert into public.invoice_items (invoice_id, position, description, quantity, rate) values
    (inv, 0, 'Packaging design', 1, 3200), (inv, 1, 'Print-ready files', 1, 450);
  update public.invoices set status = 'sent' where id = inv;
  update public.invoices set status = 'overdue' where id = inv;

  -- Cancelled.
  insert into public.invoices (organization_id, created_by, client_id, issue_date, tax_rate)
  values (org, demo, hooli, current_date - 3, 0) returning id into inv;
  insert into public.invoice_items (invoice_id, position, description, quantity, rate) values
    (inv, 0, 'Discovery call', 1, 250);
  update public.invoices set status = 'cancelled' where id = inv;

  insert into public.client_activities (organization_id, client_id, created_by, activity, type)
  values (org, globex, demo, 'Call with Hank about the Q3 campaign', 'communication');
end
$$;
