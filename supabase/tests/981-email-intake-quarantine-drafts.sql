-- =============================================================================
-- Invoices in by email (migration 20261206170600_email_intake.sql): admins
-- release or discard quarantined messages (members and strangers cannot); a
-- released message is imported attributed to the admin; members confirm a
-- draft (it becomes a vendor invoice imported by them) or discard it; viewers
-- cannot; the audit log records the decisions.
-- =============================================================================
begin;
select plan(14);

select tests.create_cast();
select tests.authenticate_as_service_role();
create temp table ids (name text primary key, id uuid) on commit drop;
grant all on ids to service_role, authenticated;
insert into ids select 'q1', (public.receive_inbound_message(tests.org('main'),
  '{"message_id": "<q1@x.example>", "s3_key": "inbound/q1", "from_address": "x@x.example"}') #>> '{message,id}')::uuid;
insert into ids select 'q2', (public.receive_inbound_message(tests.org('main'),
  '{"message_id": "<q2@x.example>", "s3_key": "inbound/q2", "from_address": "x@x.example"}') #>> '{message,id}')::uuid;
insert into ids select 'ok', (public.receive_inbound_message(tests.org('main'),
  '{"message_id": "<ok@victim.test>", "s3_key": "inbound/ok", "from_address": "member@victim.test", "authentication": {"authenticated": true}}') #>> '{message,id}')::uuid;
select public.import_inbound_message(tests.org('main'), (select id from ids where name = 'ok'), '[]', '[]', 0,
  '[{"position": 1, "filename": "inv.pdf", "content_type": "application/pdf", "size_bytes": 10, "sha256": "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc", "kind": "pdf", "outcome": "draft"},
    {"position": 2, "filename": "inv2.pdf", "content_type": "application/pdf", "size_bytes": 10, "sha256": "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd", "kind": "pdf", "outcome": "draft"}]',
  '[{"position": 1, "vendor_name": "Draft Vendor", "invoice_number": "DV-1", "invoice_date": "2026-11-02", "currency": "EUR", "total_amount": "120.00", "tax_amount": "20.00"},
    {"position": 2, "vendor_name": "Draft Vendor", "invoice_number": "DV-2"}]');
insert into ids select 'd1', id from public.inbound_drafts where invoice_number = 'DV-1' and organization_id = tests.org('main');
insert into ids select 'd2', id from public.inbound_drafts where invoice_number = 'DV-2' and organization_id = tests.org('main');
select is((select count(*)::integer from public.inbound_drafts where organization_id = tests.org('main')
           and status = 'needs_confirmation'), 2, 'two drafts wait for a person');

select tests.authenticate_as('member');
select throws_ok($$select public.release_inbound_message(tests.org('main'), (select id from ids where name = 'q1'))$$,
                 '42501', null, 'a member cannot release');
select tests.authenticate_as('stranger');
select throws_ok($$select public.release_inbound_message(tests.org('main'), (select id from ids where name = 'q1'))$$,
                 '42501', null, 'a stranger cannot release');
select tests.authenticate_as('admin');
select is(public.release_inbound_message(tests.org('main'), (select id from ids where name = 'q1')) ->> 'status',
          'released', 'an admin releases');
select throws_ok($$select public.release_inbound_message(tests.org('main'), (select id from ids where name = 'q1'))$$,
                 '22023', null, 'a message is released once');
select is(public.discard_inbound_message(tests.org('main'), (select id from ids where name = 'q2')) ->> 'status',
          'rejected', 'an admin discards');

select tests.authenticate_as_service_role();
select is(public.import_inbound_message(tests.org('main'), (select id from ids where name = 'q1')) #>> '{message,imported_by}',
          tests.actor('admin')::text, 'the released message is imported as the admin''s');
select is(public.import_inbound_message(tests.org('main'), (select id from ids where name = 'q2')) ->> 'already',
          'true', 'a discarded message is never imported');

select tests.authenticate_as('viewer');
select throws_ok($$select public.confirm_inbound_draft(tests.org('main'), (select id from ids where name = 'd1'), '{}')$$,
                 '42501', null, 'a viewer cannot confirm a draft');
select tests.authenticate_as('member');
select ok((public.confirm_inbound_draft(tests.org('main'), (select id from ids where name = 'd1'),
            '{"vendor_name": "Draft Vendor", "invoice_number": "DV-1", "invoice_date": "2026-11-02", "currency": "EUR", "tax_amount": "20.00", "total_amount": "120.00",
              "lines": [{"row": 1, "line_number": 1, "description": "as read", "quantity": 1, "unit_price": 100}]}') #>> '{draft,vendor_invoice_id}') is not null,
          'a member confirms a draft');
select is((select vi.created_by from public.vendor_invoices vi join public.inbound_drafts d on d.vendor_invoice_id = vi.id
           where d.id = (select id from ids where name = 'd1')), tests.actor('member'),
          'the confirming member is the importer');
select throws_ok($$select public.confirm_inbound_draft(tests.org('main'), (select id from ids where name = 'd1'), '{}')$$,
                 '22023', null, 'a draft is confirmed once');
select is(public.discard_inbound_draft(tests.org('main'), (select id from ids where name = 'd2')) ->> 'status',
          'discarded', 'a member discards a draft');
reset role;
select ok(exists (select 1 from public.audit_log a where a.table_name = 'public.inbound_messages'
                  and a.organization_id = tests.org('main') and a.changed_by = tests.actor('admin')),
          'the release is in the audit log');

select * from finish();
rollback;
