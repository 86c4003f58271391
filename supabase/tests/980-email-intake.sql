-- =============================================================================
-- Invoices in by email (migration 20261206170600_email_intake.sql): every
-- organization has an address token; the worker (service role only) records a
-- message once per Message-ID, allows listed senders, @domains and members'
-- own addresses, quarantines others, rejects what is over the limits; one
-- batch (source email) per message with a result per attachment, a file's
-- SHA-256 imported once; members read their organization's messages and
-- nobody else's, admins alone change the settings.
-- =============================================================================
begin;
select plan(26);

select tests.create_cast();

-- Settings exist for every organization, with a token address.
select ok((select count(*) = 2 from public.inbound_settings
           where organization_id in (tests.org('main'), tests.org('other'))
             and address_token ~ '^ap-[0-9a-f]{20}$'),
          'every organization has an inbound address token');
select isnt((select address_token from public.inbound_settings where organization_id = tests.org('main')),
            (select address_token from public.inbound_settings where organization_id = tests.org('other')),
            'the tokens differ');

-- Admins change the allowed senders (normalized), members and viewers cannot.
select tests.authenticate_as('admin');
update public.inbound_settings set allowed_senders = array['AP@Vendor.Example', '@supplier.example', 'ap@vendor.example']
where organization_id = tests.org('main');
select is((select allowed_senders from public.inbound_settings where organization_id = tests.org('main')),
          array['@supplier.example', 'ap@vendor.example'],
          'senders are stored in lower case, once, sorted');
select throws_ok($$update public.inbound_settings set allowed_senders = array['not an address']
                  where organization_id = tests.org('main')$$, '23514', null,
                 'an allowed sender must be an address or @domain');
select throws_ok($$update public.inbound_settings set address_token = 'ap-00000000000000000000'
                  where organization_id = tests.org('main')$$, '42501', null,
                 'the token is not written directly (rotate_inbound_address)');
select tests.authenticate_as('member');
update public.inbound_settings set allow_members = false where organization_id = tests.org('main');
select tests.authenticate_as('admin');
select ok((select allow_members from public.inbound_settings where organization_id = tests.org('main')),
          'a member''s update changes nothing (admins only)');
select tests.authenticate_as('stranger');
select is_empty($$select 1 from public.inbound_settings where organization_id = tests.org('main')$$,
                'a stranger sees no other organization''s settings');
select throws_ok($$select public.receive_inbound_message(tests.org('main'), '{"message_id": "<x@y>", "s3_key": "inbound/x"}')$$,
                 '42501', null, 'only the worker records messages');
select throws_ok($$select public.inbound_recipients(array['ap-00000000000000000000'])$$,
                 '42501', null, 'only the worker resolves tokens');

-- The worker.
select tests.authenticate_as_service_role();
select is((select jsonb_array_length(public.inbound_recipients(array[
             (select upper(address_token) from public.inbound_settings where organization_id = tests.org('main')),
             'ap-00000000000000000000']))), 1,
          'a token resolves to its organization (any case), an unknown one to none');

create temp table got (name text primary key, answer jsonb) on commit drop;
grant all on got to service_role, authenticated;
insert into got values ('listed', public.receive_inbound_message(tests.org('main'),
  '{"message_id": "<m1@vendor.example>", "s3_key": "inbound/m1", "from_address": "AP@vendor.example", "size_bytes": 1000, "attachment_count": 1, "authentication": {"authenticated": true}}'));
insert into got values ('domain', public.receive_inbound_message(tests.org('main'),
  '{"message_id": "<m2@supplier.example>", "s3_key": "inbound/m2", "from_address": "billing@supplier.example", "authentication": {"authenticated": true}}'));
insert into got values ('member', public.receive_inbound_message(tests.org('main'),
  '{"message_id": "<m3@victim.test>", "s3_key": "inbound/m3", "from_address": "member@victim.test", "authentication": {"authenticated": true}}'));
insert into got values ('viewer', public.receive_inbound_message(tests.org('main'),
  '{"message_id": "<m4@victim.test>", "s3_key": "inbound/m4", "from_address": "viewer@victim.test"}'));
insert into got values ('stranger', public.receive_inbound_message(tests.org('main'),
  '{"message_id": "<m5@other.test>", "s3_key": "inbound/m5", "from_address": "stranger@other.test"}'));
insert into got values ('big', public.receive_inbound_message(tests.org('main'),
  '{"message_id": "<m6@vendor.example>", "s3_key": "inbound/m6", "from_address": "ap@vendor.example", "size_bytes": 99999999}'));
insert into got values ('many', public.receive_inbound_message(tests.org('main'),
  '{"message_id": "<m7@vendor.example>", "s3_key": "inbound/m7", "from_address": "ap@vendor.example", "attachment_count": 51}'));
insert into got values ('again', public.receive_inbound_message(tests.org('main'),
  '{"message_id": "<m1@vendor.example>", "s3_key": "inbound/m1-again", "from_address": "ap@vendor.example"}'));

select is((select answer #>> '{message,status}' from got where name = 'listed'), 'received', 'a listed address is allowed');
select is((select answer #>> '{message,status}' from got where name = 'domain'), 'received', 'a listed @domain is allowed');
select is((select answer #>> '{message,status}' from got where name = 'member'), 'received', 'a member''s own address is allowed');
select is((select answer #>> '{message,imported_by}' from got where name = 'member')::uuid, tests.actor('member'),
          'the member who sent it is its importer');
select is((select answer #>> '{message,status}' from got where name = 'viewer'), 'quarantined',
          'a viewer''s address is not a member''s (viewers do not import)');
select is((select answer #>> '{message,status}' from got where name = 'stranger'), 'quarantined', 'anyone else is quarantined');
select is((select answer #>> '{message,status}' from got where name = 'big'), 'rejected', 'a message over the size limit is rejected');
select is((select answer #>> '{message,status}' from got where name = 'many'), 'rejected', 'too many attachments: rejected');
select is((select (answer ->> 'created')::boolean from got where name = 'again'), false, 'a Message-ID seen before is not recorded again');
select is((select count(*)::integer from public.inbound_messages where organization_id = tests.org('main')), 7,
          'seven messages recorded');

-- One batch per message, a result per attachment, a file imported once.
select is(public.import_inbound_message(tests.org('main'),
            (select (answer #>> '{message,id}')::uuid from got where name = 'listed'),
            '[{"index": 1, "rows": [1], "vendor_name": "Mail Vendor", "invoice_number": "MV-1", "invoice_date": "2026-11-01", "currency": "EUR", "lines": [{"row": 1, "line_number": 1, "description": "x", "quantity": 1, "unit_price": 10}]}]',
            '[]', 1,
            '[{"position": 1, "filename": "a.csv", "content_type": "text/csv", "size_bytes": 10, "sha256": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "kind": "csv", "outcome": null, "first_row": 1, "last_row": 1}]'
          ) #>> '{message,status}', 'imported', 'the message is imported');
select is((select b.source || '/' || b.status || '/' || b.rows_accepted
           from public.inbound_messages m join public.import_batches b on b.id = m.import_batch_id
           where m.message_id = '<m1@vendor.example>'), 'email/completed/1', 'its batch: source email, one invoice');
select is((select outcome || ':' || cardinality(vendor_invoice_ids) from public.inbound_attachments
           where sha256 = repeat('a', 64)), 'imported:1', 'the attachment''s result names its invoice');
select is(public.inbound_seen_attachments(tests.org('main'), array[repeat('a', 64), repeat('b', 64)]),
          array[repeat('a', 64)], 'the file is known as imported');
select throws_ok($$insert into public.inbound_attachments (organization_id, inbound_message_id, position, sha256, kind, outcome)
                   select tests.org('main'), id, 9, repeat('a', 64), 'csv', 'imported' from public.inbound_messages
                   where message_id = '<m2@supplier.example>'$$, '23505', null,
                 'the same file cannot be imported twice in an organization');

-- Members read their organization's messages; strangers none.
select tests.authenticate_as('stranger');
select is_empty($$select 1 from public.inbound_messages where organization_id = tests.org('main')
                  union all select 1 from public.inbound_attachments where organization_id = tests.org('main')$$,
                'a stranger reads none of another organization''s messages or attachments');

select * from finish();
rollback;
