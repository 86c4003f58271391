-- =============================================================================
-- Vendor credit notes (migration 20261206171500_vendor_credit_notes.sql): the
-- import stores a credit note beside the invoices (never matched), finds the
-- invoice it refers to and applies it at once when that invoice is approved,
-- or when it becomes approved; duplicates refused; applying by a member (not a
-- viewer, not a stranger) to an approved, unpaid invoice of the same vendor and
-- currency, never beyond the invoice's open amount nor the credit available;
-- unapply before payment only; an invoice sent back gives its credit back; a
-- payment batch pays the net; RLS; the audit log records each application.
-- =============================================================================
begin;
select plan(42);

select tests.create_cast();

insert into public.vendors (id, organization_id, name) values
  ('d9940000-0000-4000-8000-7e5700000001', tests.org('main'), 'Credit Vendor'),
  ('d9940000-0000-4000-8000-7e5700000002', tests.org('main'), 'Other Vendor');

-- Invoices of the credit vendor: CI-1 (1000.00 EUR), CI-2 (300.00 EUR), CI-3 (50.00 USD),
-- and one of the other vendor, OI-1 (500.00 EUR). The member imports them.
create function pg_temp.invoice(id uuid, vendor uuid, number text, currency text, amount numeric)
returns void language plpgsql as $$
begin
  perform tests.authenticate_as('member');
  insert into public.vendor_invoices (id, organization_id, vendor_id, vendor_name, invoice_number,
    invoice_date, currency, subtotal, total_amount)
  values (id, tests.org('main'), vendor, 'V', number, current_date, currency, amount, amount);
  perform tests.clear_authentication();
  reset role;
end;
$$;
select pg_temp.invoice('a9940000-0000-4000-8000-000000000001', 'd9940000-0000-4000-8000-7e5700000001', 'CI-1', 'EUR', 1000.00);
select pg_temp.invoice('a9940000-0000-4000-8000-000000000002', 'd9940000-0000-4000-8000-7e5700000001', 'CI-2', 'EUR', 300.00);
select pg_temp.invoice('a9940000-0000-4000-8000-000000000003', 'd9940000-0000-4000-8000-7e5700000001', 'CI-3', 'USD', 50.00);
select pg_temp.invoice('a9940000-0000-4000-8000-000000000004', 'd9940000-0000-4000-8000-7e5700000002', 'OI-1', 'EUR', 500.00);
-- CI-1, CI-3 and OI-1 are approved (as the last approval step leaves them); CI-2 waits.
update public.vendor_invoices set status = 'approved'
where id in ('a9940000-0000-4000-8000-000000000001', 'a9940000-0000-4000-8000-000000000003',
             'a9940000-0000-4000-8000-000000000004');

-- A credit note document as the e-invoice import sends it.
create function pg_temp.note(number text, refers text, currency text, total numeric, hash text default null)
returns jsonb language sql as $$
  select jsonb_build_object(
    'index', 0, 'rows', '[0]'::jsonb, 'vendor_name', 'Credit Vendor', 'invoice_number', number,
    'invoice_date', current_date, 'currency', currency, 'subtotal', total, 'tax_amount', 0,
    'total_amount', total, 'document_type', 'credit_note', 'preceding_invoice_reference', refers,
    'source_format', 'ubl', 'source_hash', hash,
    'lines', jsonb_build_array(jsonb_build_object('row', 0, 'line_number', 1, 'item_code', 'W',
      'description', 'Returned widgets', 'quantity', 1, 'unit_price', total, 'amount', total)))
$$;

-- 1. The import: a credit note referring to the approved CI-1 (400.00) and one to CI-2 (100.00).
select tests.authenticate_as('member');
select is(
  (select (r -> 'accepted' -> 0 ->> 'kind') || ' ' || (r -> 'accepted' -> 0 ->> 'label')
   from public.import_vendor_invoices(tests.org('main'),
          jsonb_build_array(pg_temp.note('CN-1', 'CI 1', 'EUR', 400.00, repeat('a', 64)))) r),
  'vendor_credit_note credit note CN-1 of Credit Vendor',
  'a credit note is imported and reported as a vendor credit note');
select is(
  (select (vendor_id, vendor_invoice_id, total_amount, applied_amount, status)::text
   from public.vendor_credit_notes where credit_note_number = 'CN-1'),
  '(d9940000-0000-4000-8000-7e5700000001,a9940000-0000-4000-8000-000000000001,400.00,400.00,applied)',
  'its vendor is found by name, the invoice it refers to by normalized number, and it is applied to that approved invoice at once');
select is(
  (select (amount, automatic)::text from public.vendor_credit_applications
   where vendor_invoice_id = 'a9940000-0000-4000-8000-000000000001'),
  '(400.00,t)', 'the application is the whole credit, marked automatic');
select is(
  (select count(*)::int from public.vendor_invoices where invoice_number = 'CN-1'),
  0, 'a credit note never becomes a vendor invoice (never matched)');
select is(
  (select count(*)::int from public.vendor_credit_note_lines l
   join public.vendor_credit_notes n on n.id = l.vendor_credit_note_id where n.credit_note_number = 'CN-1'),
  1, 'its lines are stored');

select is(
  (select r -> 'batch' ->> 'status' from public.import_vendor_invoices(tests.org('main'),
     jsonb_build_array(pg_temp.note('CN-1', null, 'EUR', 10.00))) r),
  'rejected', 'the same vendor and number again is a duplicate');
select ok(
  (select r -> 'rejected' -> 0 ->> 'message' like '%already imported%'
   from public.import_vendor_invoices(tests.org('main'),
     jsonb_build_array(pg_temp.note('CN-1b', null, 'EUR', 10.00, repeat('a', 64)))) r),
  'the same document (its hash) again is a duplicate');
select is(
  (select r -> 'batch' ->> 'status' from public.import_vendor_invoices(tests.org('main'),
     jsonb_build_array(pg_temp.note('CI-1', null, 'EUR', 10.00))) r),
  'completed', 'a credit note may carry the number of one of the vendor''s invoices');

select lives_ok(
  $$ select public.import_vendor_invoices(tests.org('main'),
       jsonb_build_array(pg_temp.note('CN-2', 'CI-2', 'EUR', 100.00))) $$,
  'a credit note referring to an invoice not approved yet is imported');
select is(
  (select (vendor_invoice_id, applied_amount, status)::text from public.vendor_credit_notes
   where credit_note_number = 'CN-2'),
  '(a9940000-0000-4000-8000-000000000002,0,open)', 'it waits, open, linked to its invoice');

-- 2. The invoice it refers to becomes approved: the credit is applied then.
reset role;
update public.vendor_invoices set status = 'approved' where id = 'a9940000-0000-4000-8000-000000000002';
select tests.authenticate_as('member');
select is(
  (select (applied_amount, status)::text from public.vendor_credit_notes where credit_note_number = 'CN-2'),
  '(100.00,applied)', 'approving the invoice applies the credit note that refers to it');

-- 3. Applying by hand: the rules.
select lives_ok(
  $$ select public.import_vendor_invoices(tests.org('main'),
       jsonb_build_array(pg_temp.note('CN-3', null, 'EUR', 800.00))) $$,
  'a credit note referring to no invoice is imported');
create function pg_temp.cn(number text) returns uuid language sql as $$
  select id from public.vendor_credit_notes where credit_note_number = number
$$;
select throws_ok(
  format($$ select public.apply_vendor_credit_note(tests.org('main'), %L, 'a9940000-0000-4000-8000-000000000004') $$, pg_temp.cn('CN-3')),
  '23514', null, 'not to an invoice of another vendor');
select throws_ok(
  format($$ select public.apply_vendor_credit_note(tests.org('main'), %L, 'a9940000-0000-4000-8000-000000000003') $$, pg_temp.cn('CN-3')),
  '23514', null, 'not to an invoice in another currency');
select throws_ok(
  format($$ select public.apply_vendor_credit_note(tests.org('main'), %L, 'a9940000-0000-4000-8000-000000000002', 250.00) $$, pg_temp.cn('CN-3')),
  '23514', null, 'not beyond the invoice''s open amount (300.00 less 100.00 applied): no negative transfer');
select throws_ok(
  format($$ select public.apply_vendor_credit_note(tests.org('main'), %L, 'a9940000-0000-4000-8000-000000000002', 10.005) $$, pg_temp.cn('CN-3')),
  '23514', null, 'not with more decimals than the currency has');
select throws_ok(
  format($$ select public.apply_vendor_credit_note(tests.org('main'), %L, 'a9940000-0000-4000-8000-000000000002', -5) $$, pg_temp.cn('CN-3')),
  '22023', null, 'not a negative amount');
select is(
  (select public.apply_vendor_credit_note(tests.org('main'), pg_temp.cn('CN-3'),
     'a9940000-0000-4000-8000-000000000002') ->> 'applied_amount'),
  '200.00', 'without an amount: as much as the invoice has left to pay (the rest stays available)');
select is(
  (select (available_amount, status)::text from public.vendor_credit_notes where credit_note_number = 'CN-3'),
  '(600.00,partially_applied)', 'the rest stays available');
select throws_ok(
  format($$ select public.apply_vendor_credit_note(tests.org('main'), %L, 'a9940000-0000-4000-8000-000000000002') $$, pg_temp.cn('CN-3')),
  '23514', null, 'not twice to the same invoice');
select throws_ok(
  $$ insert into public.vendor_credit_applications (organization_id, vendor_credit_note_id,
       vendor_invoice_id, currency, amount)
     values (tests.org('main'), pg_temp.cn('CN-3'), 'a9940000-0000-4000-8000-000000000001', 'EUR', 1) $$,
  '42501', null, 'a member cannot write applications directly');

-- 4. Roles and tenancy.
select tests.authenticate_as('viewer');
select is((select count(*)::int from public.vendor_credit_notes where organization_id = tests.org('main')),
  4, 'a viewer reads the credit notes');
select is(
  (select public.vendor_credit_note(tests.org('main'), pg_temp.cn('CN-3')) ->> 'credit_note_number'),
  'CN-3', 'a viewer reads one with its applications');
select throws_ok(
  format($$ select public.unapply_vendor_credit_note(tests.org('main'), %L, 'a9940000-0000-4000-8000-000000000002') $$,
         (select id from public.vendor_credit_notes where credit_note_number = 'CN-3')),
  '42501', null, 'a viewer cannot unapply');
select throws_ok(
  format($$ select public.apply_vendor_credit_note(tests.org('main'), %L, 'a9940000-0000-4000-8000-000000000001', 1) $$,
         (select id from public.vendor_credit_notes where credit_note_number = 'CN-3')),
  '42501', null, 'a viewer cannot apply');
select tests.authenticate_as('stranger');
select is_empty($$ select 1 from public.vendor_credit_notes where organization_id = tests.org('main') $$,
  'a stranger sees no credit note of the organization');
select is_empty($$ select 1 from public.vendor_credit_applications where organization_id = tests.org('main') $$,
  'nor its applications');
select throws_ok(
  $$ select public.vendor_credit_note(tests.org('main'), gen_random_uuid()) $$,
  '42501', null, 'nor reads one by id');
select throws_ok(
  $$ select public.import_vendor_invoices(tests.org('main'),
       jsonb_build_array(pg_temp.note('CN-X', 'CI-1', 'EUR', 5.00))) $$,
  '42501', null, 'a stranger cannot import into the organization');
reset role;
select is(
  (select count(*)::int from public.vendor_credit_notes where credit_note_number = 'CN-X'),
  0, 'nothing of it stored');

-- 5. A payment batch pays the net; CI-2 in it is then paid: its credit is final.
select tests.authenticate_as('admin');
select is(
  (select public.create_payment_batch(tests.org('main'),
     array['a9940000-0000-4000-8000-000000000001', 'a9940000-0000-4000-8000-000000000002']::uuid[])
     -> 'totals' -> 0 ->> 'total'),
  '600.00', 'the batch''s total is net: 1000 - 400 + 300 - 100 - 200');
select is(
  (select (i ->> 'amount') || ' ' || (i ->> 'invoice_amount') || ' ' || (i ->> 'credited') || ' '
          || (i -> 'credit_notes' -> 0 ->> 'credit_note_number')
   from public.payment_batches b, jsonb_array_elements(public.payment_batch(tests.org('main'), b.id) -> 'items') i
   where b.organization_id = tests.org('main') and i ->> 'invoice_number' = 'CI-1'),
  '600.00 1000.00 400.00 CN-1', 'each item: the net amount, the invoice''s, the credit and its notes');
select is(
  (select public.mark_payment_batch_paid(tests.org('main'), b.id, 'BANK-994') ->> 'status'
   from public.payment_batches b where b.organization_id = tests.org('main')),
  'paid', 'the batch is paid');
select tests.authenticate_as('member');
select throws_ok(
  format($$ select public.unapply_vendor_credit_note(tests.org('main'), %L, 'a9940000-0000-4000-8000-000000000002') $$,
         (select id from public.vendor_credit_notes where credit_note_number = 'CN-3')),
  '23514', null, 'a paid invoice''s credit cannot be unapplied');

-- 6. Unapply before payment; an invoice sent back gives its credit back.
reset role;
select pg_temp.invoice('a9940000-0000-4000-8000-000000000005', 'd9940000-0000-4000-8000-7e5700000001', 'CI-5', 'EUR', 700.00);
update public.vendor_invoices set status = 'approved' where id = 'a9940000-0000-4000-8000-000000000005';
select tests.authenticate_as('member');
select is(
  (select public.apply_vendor_credit_note(tests.org('main'), pg_temp.cn('CN-3'),
     'a9940000-0000-4000-8000-000000000005', 150) ->> 'available_amount'),
  '450.00', 'a partial application (150.00 of the 600.00 left)');
select is(
  (select public.unapply_vendor_credit_note(tests.org('main'), pg_temp.cn('CN-3'),
     'a9940000-0000-4000-8000-000000000005') ->> 'available_amount'),
  '600.00', 'unapplied before payment: the credit is available again');
select lives_ok(
  format($$ select public.apply_vendor_credit_note(tests.org('main'), %L, 'a9940000-0000-4000-8000-000000000005', 150) $$, pg_temp.cn('CN-3')),
  'applied again');
reset role;
update public.vendor_invoices set status = 'matched' where id = 'a9940000-0000-4000-8000-000000000005';
select is(
  (select available_amount::text from public.vendor_credit_notes where credit_note_number = 'CN-3'),
  '600.00', 'an invoice sent back for approval gives its credit back');
select is(
  (select array_agg(operation order by id)::text from public.audit_log
   where table_name = 'public.vendor_credit_applications'
     and coalesce(new_record, old_record) ->> 'vendor_invoice_id' = 'a9940000-0000-4000-8000-000000000005'),
  '{INSERT,DELETE,INSERT,DELETE}', 'the audit log records each application and its removal');


-- 7. The currency of an approved invoice with credit applied is edited: the edit stands
-- (the invoice goes back for approval) and the credit is available again.
select pg_temp.invoice('a9940000-0000-4000-8000-000000000006', 'd9940000-0000-4000-8000-7e5700000001', 'CI-6', 'EUR', 80.00);
update public.vendor_invoices set status = 'approved' where id = 'a9940000-0000-4000-8000-000000000006';
select tests.authenticate_as('member');
select is(
  (select public.apply_vendor_credit_note(tests.org('main'), pg_temp.cn('CN-3'),
     'a9940000-0000-4000-8000-000000000006') ->> 'available_amount'),
  '520.00', 'applied to CI-6 (80.00)');
reset role;
select lives_ok(
  $$ update public.vendor_invoices set currency = 'USD' where id = 'a9940000-0000-4000-8000-000000000006' $$,
  'the invoice''s currency is edited');
select is(
  (select (vi.status <> 'approved', n.available_amount)::text
   from public.vendor_invoices vi, public.vendor_credit_notes n
   where vi.id = 'a9940000-0000-4000-8000-000000000006' and n.credit_note_number = 'CN-3'),
  '(t,600.00)', 'the invoice went back and the credit is available again');

select * from finish();
rollback;
