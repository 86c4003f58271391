-- =============================================================================
-- The invoices API functions: create_invoice, update_invoice, delete_invoice
-- and the invoice_list view. Atomicity (a failed creation writes nothing and
-- consumes no number), numbering, totals, row level security (another
-- organization's invoice is not found), what may change after sending, and
-- delete-or-cancel. Runs as the callers (role authenticated, RLS on).
-- =============================================================================
begin;
select plan(83);

create function pg_temp.org(who text) returns uuid
language sql stable as $$ select tests.personal_org(who) $$;
create function pg_temp.client(name text) returns uuid
language sql stable as $$ select id from public.clients where company_name = name $$;
create function pg_temp.any_client(name text) returns uuid
language sql stable security definer as $$ select id from public.clients where company_name = name $$;
create function pg_temp.inv(num text) returns uuid
language sql stable as $$
  select id from public.invoices
  where invoice_number = num and organization_id = tests.org('main')
$$;
create function pg_temp.counter() returns bigint
language sql stable as $$
  select next_invoice_number from public.organization_settings
  where organization_id = tests.org('main')
$$;
create function pg_temp.item_ids(num text) returns jsonb
language sql stable as $$
  select jsonb_agg(id order by position) from public.invoice_items where invoice_id = pg_temp.inv(num)
$$;
-- A new invoice of the owner's organization, by number, with items.
create function pg_temp.create(num text, client_name text, items jsonb, extra jsonb default '{}')
returns jsonb
language sql as $$
  select public.create_invoice(
    tests.org('main'),
    jsonb_build_object('client_id', pg_temp.client(client_name), 'invoice_number', num) || extra,
    items)
$$;
create function pg_temp.update(num text, changes jsonb, items jsonb default null,
                               mode text default 'replace')
returns jsonb
language sql as $$
  select public.update_invoice(tests.org('main'), pg_temp.inv(num), changes, items, mode)
$$;
create function pg_temp.remove(num text) returns jsonb
language sql as $$
  select public.delete_invoice(tests.org('main'), pg_temp.inv(num))
$$;

select tests.create_cast();

select tests.authenticate_as('stranger');
insert into public.clients (organization_id, company_name) values (pg_temp.org('stranger'), 'Their Client');
select tests.authenticate_as('owner');
insert into public.clients (organization_id, company_name, currency) values
  (pg_temp.org('owner'), 'Dollar Client', 'USD'),
  (pg_temp.org('owner'), 'Yen Client', 'JPY');

-- =============================================================================
-- Creation: numbering, totals, defaults
-- =============================================================================
select is(
  (public.create_invoice(
     pg_temp.org('owner'),
     jsonb_build_object('client_id', pg_temp.client('Dollar Client'), 'tax_rate', '8.875',
                        'discount', '10', 'issue_date', '2026-03-01'),
     '[{"description": "Consulting", "quantity": "3", "rate": "33.335"},
       {"description": "Travel", "quantity": 1, "rate": 0}]'::jsonb)) ->> 'invoice_number',
  'INV-0001', 'create_invoice numbers from the organization''s counter'
);
select results_eq(
  $$ select subtotal, discount, tax_amount, total_amount, balance_due, currency, status,
            due_date, payment_terms
     from public.invoices where id = pg_temp.inv('INV-0001') $$,
  $$ values (100.01, 10.00, 7.99, 98.00, 98.00, 'USD'::text, 'draft'::text,
             '2026-03-31'::date, 'net30'::text) $$,
  '3 x 33.335 rounds half up to 100.01; 8.875 % of 90.01 is 7.99; the due date follows net30'
);
select results_eq(
  $$ select position, description, amount from public.invoice_items
     where invoice_id = pg_temp.inv('INV-0001') order by position $$,
  $$ values (0, 'Consulting'::text, 100.01), (1, 'Travel'::text, 0.00) $$,
  'the items are stored in the order given'
);
select is(pg_temp.counter(), 2::bigint, 'the counter moved on by one');

select is(
  (select jsonb_build_object('items', jsonb_array_length(d -> 'items'), 'payments', d -> 'payments',
                             'client', d -> 'client' ->> 'company_name', 'total', d -> 'total_amount')
   from (select private.invoice_document(pg_temp.inv('INV-0001')) d) s),
  '{"items": 2, "payments": [], "client": "Dollar Client", "total": 98.00}'::jsonb,
  'the document carries the items, the payments and the client'
);

select is(
  (pg_temp.create('Y-1', 'Yen Client',
     '[{"description": "Widget", "quantity": 3, "rate": "1000.5"}]', '{"tax_rate": 10}')
   ->> 'total_amount'),
  '3302', 'JPY: 3 x 1000.5 = 3001.5 rounds to 3002, tax 300.2 to 300, total 3302'
);
select results_eq(
  $$ select currency, subtotal, tax_amount from public.invoices where id = pg_temp.inv('Y-1') $$,
  $$ values ('JPY'::text, 3002::numeric, 300::numeric) $$,
  'the invoice takes the client''s currency'
);
select is(pg_temp.counter(), 2::bigint, 'a number given by hand does not move the counter');

select is(
  (pg_temp.create('DUE-1', 'Dollar Client', '[{"description": "x", "quantity": 1, "rate": 1}]',
                  '{"issue_date": "2026-01-10", "due_date": "2026-01-20"}') ->> 'payment_terms'),
  'custom', 'a due date given without terms makes the terms custom'
);
select is(
  (pg_temp.create('DUE-2', 'Dollar Client', '[{"description": "x", "quantity": 1, "rate": 1}]',
                  '{"issue_date": "2026-01-10", "due_date": "2026-02-09"}') ->> 'payment_terms'),
  'net30', 'unless it is the date the default terms give'
);
select is(
  (pg_temp.create('SENT-1', 'Dollar Client', '[{"description": "x", "quantity": 2, "rate": 50}]',
                  '{"status": "sent"}') ->> 'status'),
  'sent', 'an invoice can be created sent'
);

-- =============================================================================
-- Creation fails whole
-- =============================================================================
select throws_ok(
  $$ select pg_temp.create('INV-0001', 'Dollar Client', '[{"description": "x", "quantity": 1, "rate": 1}]') $$,
  '23505', 'invoice number INV-0001 is already used in this organization',
  'a number already used in the organization is a conflict'
);
select throws_ok(
  $$ select public.create_invoice(pg_temp.org('owner'),
       jsonb_build_object('client_id', pg_temp.client('Dollar Client')),
       '[{"description": "good", "quantity": 1, "rate": 1},
         {"description": "bad", "quantity": 0, "rate": 1}]') $$,
  '23514', null, 'an item with a zero quantity is refused'
);
select throws_ok(
  $$ select public.create_invoice(pg_temp.org('owner'),
       jsonb_build_object('client_id', pg_temp.client('Dollar Client'), 'discount', 50),
       '[{"description": "small", "quantity": 1, "rate": 20}]') $$,
  '23514', null, 'a discount above the subtotal of the items is refused'
);
select throws_ok(
  $$ select public.create_invoice(pg_temp.org('owner'),
       jsonb_build_object('client_id', pg_temp.client('Yen Client'), 'discount', '0.5'),
       '[{"description": "x", "quantity": 1, "rate": 20}]') $$,
  '23514', null, 'a discount with more decimals than the currency allows is refused'
);
select throws_ok(
  $$ select public.create_invoice(pg_temp.org('owner'),
       jsonb_build_object('client_id', pg_temp.client('Dollar Client')), '[]') $$,
  '22023', 'an invoice needs at least one item', 'an invoice without items is refused'
);
select throws_ok(
  $$ select public.create_invoice(pg_temp.org('owner'),
       jsonb_build_object('client_id', pg_temp.client('Dollar Client'), 'colour', 'red'),
       '[{"description": "x", "quantity": 1, "rate": 1}]') $$,
  '22023', 'invoice: unknown field colour', 'an unknown field is refused'
);
select throws_ok(
  $$ select public.create_invoice(pg_temp.org('owner'),
       jsonb_build_object('client_id', pg_temp.client('Dollar Client')),
       '[{"description": "x", "quantity": 1, "rate": 1, "amount": 5}]') $$,
  '22023', 'item: unknown field amount', 'an item''s amount cannot be given'
);
select throws_ok(
  $$ select public.create_invoice(pg_temp.org('owner'),
       jsonb_build_object('client_id', pg_temp.client('Dollar Client'),
                          'issue_date', '2026-05-10', 'due_date', '2026-05-01'),
       '[{"description": "x", "quantity": 1, "rate": 1}]') $$,
  '23514', 'the due date (2026-05-01) is before the issue date (2026-05-10)',
  'a due date before the issue date is refused'
);
select throws_ok(
  $$ select public.create_invoice(pg_temp.org('owner'),
       jsonb_build_object('client_id', pg_temp.client('Dollar Client'), 'status', 'paid'),
       '[{"description": "x", "quantity": 1, "rate": 1}]') $$,
  '23514', 'a new invoice is a draft or sent, not paid', 'a new invoice cannot be paid'
);
select throws_ok(
  $$ select public.create_invoice(pg_temp.org('owner'),
       jsonb_build_object('client_id', pg_temp.any_client('Their Client')),
       '[{"description": "x", "quantity": 1, "rate": 1}]') $$,
  '23503', null, 'another organization''s client is an invalid reference'
);
select results_eq(
  $$ select (select count(*)::int from public.invoices where organization_id = pg_temp.org('owner')),
            (select count(*)::int from public.invoice_items where organization_id = pg_temp.org('owner')),
            pg_temp.counter() $$,
  $$ values (5, 6, 2::bigint) $$,
  'the refused creations wrote no invoice, no item, and consumed no number'
);
select is(
  (pg_temp.create(null, 'Dollar Client', '[{"description": "x", "quantity": 1, "rate": 1}]')
   ->> 'invoice_number'),
  'INV-0002', 'the next creation gets the next number: no gap'
);

-- =============================================================================
-- Row level security and roles
-- =============================================================================
select tests.as_superuser();
create function pg_temp.first_invoice() returns uuid
language sql stable security definer as $$
  select id from public.invoices where invoice_number = 'INV-0001'
    and organization_id = tests.org('main')
$$;
select tests.authenticate_as('stranger');
select throws_ok(
  $$ select public.update_invoice(pg_temp.org('stranger'), pg_temp.first_invoice(), '{"notes": "mine"}') $$,
  'P0002', 'invoice not found', 'another organization''s invoice is not found (update)'
);
select throws_ok(
  $$ select public.delete_invoice(pg_temp.org('stranger'), pg_temp.first_invoice()) $$,
  'P0002', 'invoice not found', 'another organization''s invoice is not found (delete)'
);
select throws_ok(
  $$ select public.update_invoice(pg_temp.org('owner'), pg_temp.first_invoice(), '{"notes": "mine"}') $$,
  '42501', null, 'naming an organization one is not a member of is forbidden'
);
select throws_ok(
  $$ select public.create_invoice(pg_temp.org('owner'),
       jsonb_build_object('client_id', gen_random_uuid()), '[{"description": "x", "quantity": 1, "rate": 1}]') $$,
  '42501', null, 'creating in an organization one is not a member of is forbidden'
);
select is_empty(
  $$ select 1 from public.invoice_list where organization_id = pg_temp.org('owner') $$,
  'invoice_list shows no other organization''s invoices'
);
select tests.authenticate_as('viewer');
select isnt_empty(
  $$ select 1 from public.invoice_list where organization_id = pg_temp.org('owner') $$,
  'a viewer reads the organization''s invoice_list'
);
select throws_ok(
  $$ select public.update_invoice(pg_temp.org('owner'), pg_temp.first_invoice(), '{"notes": "viewer"}') $$,
  '42501', null, 'a viewer cannot change invoices'
);
select throws_ok(
  $$ select public.delete_invoice(pg_temp.org('owner'), pg_temp.first_invoice()) $$,
  '42501', null, 'a viewer cannot delete invoices'
);
select tests.authenticate_as('owner');
select is(
  (select notes from public.invoices where id = pg_temp.inv('INV-0001')), null,
  'nothing changed through the refused calls'
);
select throws_ok(
  $$ select public.update_invoice(pg_temp.org('owner'), gen_random_uuid(), '{"notes": "x"}') $$,
  'P0002', 'invoice not found', 'an unknown id is not found'
);

-- =============================================================================
-- Drafts: everything may change
-- =============================================================================
select lives_ok(
  $$ select pg_temp.update('INV-0001',
       '{"invoice_number": "D-1", "issue_date": "2026-04-01", "payment_terms": "net15", "notes": "hello"}') $$,
  'a draft''s number, issue date, terms and notes can change'
);
select results_eq(
  $$ select due_date, payment_terms, notes from public.invoices where id = pg_temp.inv('D-1') $$,
  $$ values ('2026-04-16'::date, 'net15'::text, 'hello'::text) $$,
  'the due date moved with the issue date and the terms'
);
select throws_ok(
  $$ select pg_temp.update('D-1', '{"invoice_number": "Y-1"}') $$,
  '23505', 'invoice number Y-1 is already used in this organization',
  'renumbering onto a used number is a conflict'
);
-- Replace: keep the first item (by id, with a new quantity), drop the second, add one.
select lives_ok(
  format($$ select pg_temp.update('D-1', '{"discount": 5}',
       jsonb_build_array(jsonb_build_object('description', 'New first', 'quantity', 1, 'rate', 10),
                         jsonb_build_object('id', %L::uuid, 'quantity', 1))) $$,
         pg_temp.item_ids('D-1') ->> 0),
  'replace mode: items with an id are updated, without are added, the others removed'
);
select results_eq(
  $$ select position, description, quantity, amount from public.invoice_items
     where invoice_id = pg_temp.inv('D-1') order by position $$,
  $$ values (0, 'New first'::text, 1::numeric, 10.00), (1, 'Consulting'::text, 1::numeric, 33.34) $$,
  'the list is the new list, in the order given'
);
select results_eq(
  $$ select subtotal, discount, tax_amount, total_amount from public.invoices where id = pg_temp.inv('D-1') $$,
  $$ values (43.34, 5.00, 3.40, 41.74) $$,
  'the totals follow the new items and discount (8.875 % of 38.34 = 3.40)'
);
select throws_ok(
  $$ select pg_temp.update('D-1', '{}', '[{"description": "tiny", "quantity": 1, "rate": 1}]') $$,
  '23514', 'discount (5.00) exceeds the subtotal (1.00)',
  'items that shrink the subtotal below the discount are refused'
);
select results_eq(
  $$ select (select count(*)::int from public.invoice_items where invoice_id = pg_temp.inv('D-1')),
            subtotal, discount
     from public.invoices where id = pg_temp.inv('D-1') $$,
  $$ values (2, 43.34, 5.00) $$,
  'and the refused update changed nothing'
);
select lives_ok(
  $$ select pg_temp.update('D-1', '{"discount": 0}', '[{"description": "tiny", "quantity": 1, "rate": 1}]') $$,
  'with the discount lowered in the same call they are accepted'
);
select results_eq(
  $$ select subtotal, discount, total_amount from public.invoices where id = pg_temp.inv('D-1') $$,
  $$ values (1.00, 0.00, 1.09) $$,
  'the totals follow'
);
-- Patch: update one, add two, delete none.
select lives_ok(
  format($$ select pg_temp.update('D-1', '{}',
       jsonb_build_array(jsonb_build_object('id', %L::uuid, 'rate', 2),
                         jsonb_build_object('description', 'second', 'quantity', 2, 'rate', 5),
                         jsonb_build_object('description', 'third', 'quantity', 1, 'rate', 1)), 'patch') $$,
         pg_temp.item_ids('D-1') ->> 0),
  'patch mode: change one item and append two'
);
select results_eq(
  $$ select position, description, amount from public.invoice_items
     where invoice_id = pg_temp.inv('D-1') order by position $$,
  $$ values (0, 'tiny'::text, 2.00), (1, 'second'::text, 10.00), (2, 'third'::text, 1.00) $$,
  'the changed item kept its place, the new ones were appended'
);
select lives_ok(
  format($$ select pg_temp.update('D-1', '{}',
       jsonb_build_array(jsonb_build_object('id', %L::uuid, '_delete', true)), 'patch') $$,
         pg_temp.item_ids('D-1') ->> 1),
  'patch mode: "_delete" removes an item'
);
select results_eq(
  $$ select description from public.invoice_items where invoice_id = pg_temp.inv('D-1') order by position $$,
  $$ values ('tiny'::text), ('third'::text) $$,
  'the others are untouched'
);
select throws_ok(
  format($$ select pg_temp.update('D-1', '{}',
       jsonb_build_array(jsonb_build_object('id', %L::uuid, 'rate', 1)), 'patch') $$,
         pg_temp.item_ids('Y-1') ->> 0),
  '23503', null, 'another invoice''s item is an invalid reference'
);
select throws_ok(
  format($$ select pg_temp.update('D-1', '{}',
       jsonb_build_array(jsonb_build_object('id', %L::uuid, '_delete', true),
                         jsonb_build_object('id', %L::uuid, '_delete', true)), 'patch') $$,
         pg_temp.item_ids('D-1') ->> 0, pg_temp.item_ids('D-1') ->> 1),
  '23514', 'an invoice needs at least one item', 'the last item cannot be deleted'
);
select throws_ok(
  $$ select pg_temp.update('D-1', '{}', '[{"id": "00000000-0000-0000-0000-000000000000", "_delete": true}]') $$,
  '22023', null, '"_delete" belongs to patch mode'
);
select throws_ok(
  $$ select pg_temp.update('D-1', '{"status": "paid"}') $$,
  '23514', 'an invoice becomes paid when its payments cover the total', 'paid cannot be asked for'
);
select throws_ok(
  $$ select pg_temp.update('D-1', '{"colour": "red"}') $$,
  '22023', 'changes: unknown field colour', 'an unknown field is refused'
);
select lives_ok(
  $$ select pg_temp.update('D-1', jsonb_build_object('client_id', pg_temp.client('Yen Client'))) $$,
  'a draft can move to a client in another currency'
);
select results_eq(
  $$ select i.currency, it.currency, it.amount, i.subtotal
     from public.invoices i join public.invoice_items it on it.invoice_id = i.id
     where i.id = pg_temp.inv('D-1') order by it.position limit 1 $$,
  $$ values ('JPY'::text, 'JPY'::text, 2::numeric, 3::numeric) $$,
  'its items and amounts follow the new currency'
);

-- =============================================================================
-- Sent: identity frozen; amounts frozen once paid into
-- =============================================================================
select lives_ok(
  $$ select pg_temp.create('S-1', 'Dollar Client', '[{"description": "work", "quantity": 1, "rate": 100}]',
       jsonb_build_object('issue_date', current_date - 60, 'due_date', current_date + 5)) $$,
  'a draft to send'
);
select is((pg_temp.update('S-1', '{"status": "sent"}')) ->> 'status', 'sent', 'a draft is sent');
select is(
  (select sent_at is not null from public.invoices where id = pg_temp.inv('S-1')), true,
  'sending stamps sent_at'
);
select throws_ok(
  $$ select pg_temp.update('S-1', jsonb_build_object('invoice_number', 'S-1b', 'issue_date', current_date - 61)) $$,
  '23514', 'invoice S-1 has been sent: its invoice_number, issue_date can no longer change',
  'a sent invoice keeps its number and issue date'
);
select throws_ok(
  $$ select pg_temp.update('S-1', jsonb_build_object('client_id', pg_temp.client('Yen Client'))) $$,
  '23514', null, 'and its client'
);
select lives_ok(
  $$ select pg_temp.update('S-1', jsonb_build_object('invoice_number', 'S-1', 'status', 'sent',
                                                       'notes', 'thanks', 'template', 'modern')) $$,
  'unchanged values and notes/template changes are accepted'
);
select lives_ok(
  $$ select pg_temp.update('S-1', '{"tax_rate": 10}', '[{"description": "work", "quantity": 2, "rate": 100}]') $$,
  'before any payment the items and the tax rate of a sent invoice can change'
);
select is((select total_amount from public.invoices where id = pg_temp.inv('S-1')), 220.00, 'total follows');
insert into public.payments (invoice_id, amount) values (pg_temp.inv('S-1'), 20);
select throws_ok(
  $$ select pg_temp.update('S-1', '{"discount": 1}') $$,
  '23514', 'invoice S-1 has payments: its discount can no longer change',
  'after a payment the discount is frozen'
);
select throws_ok(
  $$ select pg_temp.update('S-1', '{}', '[{"description": "work", "quantity": 3, "rate": 100}]') $$,
  '23514', 'invoice S-1 has payments: its items can no longer change',
  'and the items'
);
select lives_ok(
  format($$ select pg_temp.update('S-1', '{}', jsonb_build_array(jsonb_build_object('id', %L::uuid))) $$,
         pg_temp.item_ids('S-1') ->> 0),
  'an unchanged item list is accepted'
);
select is(
  (pg_temp.update('S-1', jsonb_build_object('due_date', current_date - 1))) ->> 'status', 'overdue',
  'moving the due date into the past makes it overdue'
);
select is(
  (pg_temp.update('S-1', jsonb_build_object('due_date', current_date + 10))) ->> 'status', 'sent',
  'and into the future sent again'
);
select throws_ok(
  $$ select pg_temp.update('S-1', '{"status": "cancelled"}') $$,
  '23514', 'invoice S-1 has payments and cannot be cancelled', 'paid into: no cancelling'
);
select throws_ok(
  $$ select pg_temp.update('S-1', '{"status": "draft"}') $$,
  '23514', 'invoice S-1 cannot go back to draft once it has left it', 'no way back to draft'
);
select throws_ok(
  $$ select pg_temp.remove('S-1') $$,
  '23514', 'invoice S-1 has payments and cannot be deleted or cancelled', 'nor deleting'
);

select lives_ok(
  $$ select pg_temp.create('OD-1', 'Dollar Client', '[{"description": "late", "quantity": 1, "rate": 5}]',
       jsonb_build_object('issue_date', current_date - 40, 'due_date', current_date - 10,
                          'status', 'sent')) $$,
  'an invoice sent already past due'
);
select results_eq(
  $$ select client_company_name, status, is_overdue from public.invoice_list
     where id = pg_temp.inv('OD-1') or id = pg_temp.inv('D-1') order by invoice_number $$,
  $$ values ('Yen Client'::text, 'draft'::text, false), ('Dollar Client'::text, 'sent'::text, true) $$,
  'invoice_list names the client and flags sent invoices past due as overdue'
);

-- =============================================================================
-- Paid: notes only
-- =============================================================================
insert into public.payments (invoice_id, amount) values (pg_temp.inv('S-1'), 200);
select is((select status from public.invoices where id = pg_temp.inv('S-1')), 'paid', 'paid in full');
select is((pg_temp.update('S-1', '{"notes": "settled"}')) ->> 'notes', 'settled', 'a paid invoice''s notes change');
select throws_ok(
  $$ select pg_temp.update('S-1', '{"terms": "x", "template": "minimal"}') $$,
  '23514', 'invoice S-1 is paid: only its notes can change; not its terms, template',
  'nothing else does'
);
select throws_ok(
  $$ select pg_temp.update('S-1', '{}', '[{"description": "more", "quantity": 1, "rate": 1}]') $$,
  '23514', null, 'nor its items'
);
select throws_ok(
  $$ select pg_temp.remove('S-1') $$,
  '23514', 'invoice S-1 is paid and cannot be deleted or cancelled', 'a paid invoice stays'
);

-- =============================================================================
-- Delete or cancel
-- =============================================================================
select is(pg_temp.remove('DUE-1'), '{"action": "deleted"}'::jsonb, 'a draft is deleted');
select results_eq(
  $$ select (select count(*)::int from public.invoices where invoice_number = 'DUE-1'),
            (select count(*)::int from public.invoice_items it
             where not exists (select 1 from public.invoices i where i.id = it.invoice_id)) $$,
  $$ values (0, 0) $$,
  'with its items'
);
select is(
  (select r ->> 'action' || ' ' || (r -> 'invoice' ->> 'status') from (select pg_temp.remove('SENT-1') r) s),
  'cancelled cancelled', 'a sent invoice without payments is cancelled instead'
);
select is(
  (select r ->> 'action' from (select pg_temp.remove('SENT-1') r) s), 'cancelled',
  'deleting a cancelled invoice answers the same'
);
select throws_ok(
  $$ select pg_temp.update('SENT-1', jsonb_build_object('due_date', current_date + 90)) $$,
  '23514', null, 'a cancelled invoice''s due date does not change'
);
select is((pg_temp.update('SENT-1', '{"notes": "void"}')) ->> 'notes', 'void', 'its notes do');

select * from finish();
rollback;
