-- =============================================================================
-- Invoices in by email, continued (migration 20261206170800_email_intake_auth.sql):
-- a message whose sender SES did not authenticate is quarantined with the
-- reason, even from a listed sender or a member's own address; a virus is
-- rejected before anything else; the verdicts are kept. Purchase orders and
-- receipts of a message get a batch of their kind each, imported before its
-- invoices; an attachment records its kind, batch and documents. The invoices
-- the organization's default match mode decides.
-- =============================================================================
begin;
select plan(18);

select tests.create_cast();
select tests.authenticate_as('admin');
update public.inbound_settings set allowed_senders = array['@vendor.example']
where organization_id = tests.org('main');

select tests.authenticate_as_service_role();
create temp table got (name text primary key, answer jsonb) on commit drop;
grant all on got to service_role, authenticated;
insert into got values ('ok', public.receive_inbound_message(tests.org('main'),
  '{"message_id": "<a1@vendor.example>", "s3_key": "inbound/a1", "from_address": "ap@vendor.example",
    "authentication": {"authenticated": true, "spf": "pass", "dkim": [{"result": "pass", "domain": "vendor.example"}], "dmarc": "pass"}}'));
insert into got values ('forged', public.receive_inbound_message(tests.org('main'),
  '{"message_id": "<a2@vendor.example>", "s3_key": "inbound/a2", "from_address": "ap@vendor.example",
    "authentication": {"authenticated": false, "reason": "DMARC fails for vendor.example (dmarc=fail)", "dmarc": "fail"}}'));
insert into got values ('none', public.receive_inbound_message(tests.org('main'),
  '{"message_id": "<a3@vendor.example>", "s3_key": "inbound/a3", "from_address": "ap@vendor.example"}'));
insert into got values ('member', public.receive_inbound_message(tests.org('main'),
  '{"message_id": "<a4@victim.test>", "s3_key": "inbound/a4", "from_address": "member@victim.test",
    "authentication": {"authenticated": false, "reason": "neither SPF nor DKIM passes for victim.test"}}'));
insert into got values ('virus', public.receive_inbound_message(tests.org('main'),
  '{"message_id": "<a5@elsewhere.test>", "s3_key": "inbound/a5", "from_address": "x@elsewhere.test", "virus": true,
    "authentication": {"authenticated": false, "reason": "no verdicts"}}'));
insert into got values ('text', public.receive_inbound_message(tests.org('main'),
  '{"message_id": "<a6@vendor.example>", "s3_key": "inbound/a6", "from_address": "ap@vendor.example",
    "authentication": {"authenticated": "true"}}'));

select is((select answer #>> '{message,status}' from got where name = 'ok'), 'received',
          'an authenticated listed sender is received');
select is((select answer #>> '{message,authentication,dmarc}' from got where name = 'ok'), 'pass',
          'the verdicts are kept on the message');
select is((select answer #>> '{message,status}' from got where name = 'forged'), 'quarantined',
          'a listed sender whose DMARC fails is quarantined');
select is((select answer #>> '{message,reason}' from got where name = 'forged'),
          'the sender ap@vendor.example is not authenticated: DMARC fails for vendor.example (dmarc=fail)',
          'with the reason');
select is((select answer #>> '{message,status}' from got where name = 'none'), 'quarantined',
          'a message without verdicts is quarantined');
select is((select answer #>> '{message,status}' from got where name = 'member'), 'quarantined',
          'a member''s own address, not authenticated, is quarantined');
select is((select answer #>> '{message,imported_by}' from got where name = 'member'), null,
          'and attributed to nobody');
select is((select answer #>> '{message,status}' from got where name = 'virus'), 'rejected',
          'a virus is rejected (not quarantined, never releasable)');
select is((select answer #>> '{message,status}' from got where name = 'text'), 'quarantined',
          'only the boolean true authenticates');
select throws_ok($$select public.receive_inbound_message(tests.org('main'),
                   '{"message_id": "<a7@x>", "s3_key": "inbound/a7", "authentication": "yes"}')$$,
                 '22023', null, 'authentication must be an object');

-- A message with a purchase order, a receipt and an invoice.
select is(public.import_inbound_message(tests.org('main'),
            (select (answer #>> '{message,id}')::uuid from got where name = 'ok'),
            '[{"index": 1, "rows": [1], "vendor_name": "Mail PO Vendor", "invoice_number": "MPI-1", "invoice_date": "2026-11-01", "po_number": "MPO-1", "currency": "EUR",
               "lines": [{"row": 1, "line_number": 1, "description": "Bolt", "quantity": 4, "unit_price": 2}]}]',
            '[]', 1,
            '[{"position": 1, "filename": "po.csv", "content_type": "text/csv", "size_bytes": 10, "sha256": "1111111111111111111111111111111111111111111111111111111111111111", "kind": "csv", "outcome": null, "first_row": 1, "last_row": 1, "document_kind": "purchase_orders"},
              {"position": 2, "filename": "gr.csv", "content_type": "text/csv", "size_bytes": 10, "sha256": "2222222222222222222222222222222222222222222222222222222222222222", "kind": "csv", "outcome": null, "first_row": 1, "last_row": 1, "document_kind": "goods_receipts"},
              {"position": 3, "filename": "inv.csv", "content_type": "text/csv", "size_bytes": 10, "sha256": "3333333333333333333333333333333333333333333333333333333333333333", "kind": "csv", "outcome": null, "first_row": 1, "last_row": 1},
              {"position": 4, "filename": "both.csv", "content_type": "text/csv", "size_bytes": 10, "sha256": "4444444444444444444444444444444444444444444444444444444444444444", "kind": "csv", "outcome": "ambiguous", "message": "the header row fits purchase orders and receipts"}]',
            '[]',
            '{"purchase_orders": {"batch": [{"index": 1, "rows": [1], "po_number": "MPO-1", "vendor_name": "Mail PO Vendor", "currency": "EUR",
                                             "lines": [{"row": 1, "line_number": 1, "description": "Bolt", "quantity": "4", "unit_price": "2"}]}],
                                  "errors": [], "rows_total": 1},
              "goods_receipts": {"batch": [{"index": 1, "rows": [1], "receipt_number": "MGR-1", "po_number": "MPO-1",
                                            "lines": [{"row": 1, "at": "", "po_line": 1, "quantity_received": "4"}]}],
                                 "errors": [], "rows_total": 1}}'
          ) #>> '{message,status}', 'imported', 'the message is imported');
select is((select array_agg(b.kind || '/' || b.source || '/' || b.rows_accepted order by b.kind)
           from public.inbound_attachments a join public.import_batches b on b.id = a.import_batch_id
           where a.inbound_message_id = (select (answer #>> '{message,id}')::uuid from got where name = 'ok')),
          array['goods_receipts/email/1', 'purchase_orders/email/1', 'vendor_invoices/email/1'],
          'a batch of each kind, source email, one document each');
select is((select array_agg(a.outcome || ':' || coalesce(a.document_kind, '-') || ':'
                            || cardinality(a.purchase_order_ids) || cardinality(a.goods_receipt_ids)
                            || cardinality(a.vendor_invoice_ids) order by a.position)
           from public.inbound_attachments a
           where a.inbound_message_id = (select (answer #>> '{message,id}')::uuid from got where name = 'ok')),
          array['imported:purchase_orders:100', 'imported:goods_receipts:010', 'imported:vendor_invoices:001',
                'ambiguous:-:000'],
          'each attachment names its kind and its documents; an ambiguous file none');
select is((select po.po_number || '/' || gr.receipt_number
           from public.purchase_orders po join public.goods_receipts gr on gr.purchase_order_id = po.id
           where po.organization_id = tests.org('main') and po.po_number = 'MPO-1'),
          'MPO-1/MGR-1', 'the receipt found the purchase order of the same message');

-- The invoices the default match mode decides: the invoice on MPO-1 (no mode on
-- its line, PO or vendor), until the vendor has a mode of its own.
select tests.authenticate_as('member');
select ok((select id from public.vendor_invoices where organization_id = tests.org('main') and invoice_number = 'MPI-1')
          = any (public.invoices_on_default_match_mode(tests.org('main'))),
          'an invoice whose PO line, PO and vendor set no mode is decided by the default');
select tests.authenticate_as_service_role();
update public.vendors set match_mode = 'three_way'
where organization_id = tests.org('main') and name = 'Mail PO Vendor';
select tests.authenticate_as('member');
select ok(not ((select id from public.vendor_invoices where organization_id = tests.org('main') and invoice_number = 'MPI-1')
          = any (public.invoices_on_default_match_mode(tests.org('main')))),
          'one whose vendor sets a mode is not');
select tests.authenticate_as('stranger');
select is(public.invoices_on_default_match_mode(tests.org('main')), '{}'::uuid[],
          'a stranger sees none of another organization''s invoices');
select tests.clear_authentication();
select throws_ok($$select public.invoices_on_default_match_mode(tests.org('main'))$$, '42501', null,
                 'anon may not call it');

select * from finish();
rollback;
