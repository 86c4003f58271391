-- =============================================================================
-- Approval before payment (migration 20261206150100_approvals.sql): an invoice
-- that matches gets its steps (the default: one step, any admin; a rule by
-- amount band, vendor and outcome), separation of duties on every path (the
-- importer, the resolver of an exception, the decider of an earlier step; in
-- the queue, approve, reject and reassign), viewers and strangers refused, a
-- rejection needs a reason, the last step approves, a change sends an approved
-- invoice back (a member's edit, a receipt changing the match; one that changes
-- nothing leaves it approved), and the tables are written only by the functions.
-- =============================================================================
begin;
select plan(58);

select tests.create_cast();

insert into public.reconciliation_settings (organization_id, quantity_tolerance_percent)
values (tests.org('main'), 20);

insert into public.vendors (id, organization_id, name) values
  ('d9000000-0000-4000-8000-7e5700000001', tests.org('main'), 'Approval Vendor'),
  ('d9000000-0000-4000-8000-7e5700000002', tests.org('main'), 'Big Vendor');
insert into public.purchase_orders (id, organization_id, vendor_id, po_number, currency) values
  ('e9000000-0000-4000-8000-7e5700000001', tests.org('main'), 'd9000000-0000-4000-8000-7e5700000001', 'APO-1', 'USD'),
  ('e9000000-0000-4000-8000-7e5700000002', tests.org('main'), 'd9000000-0000-4000-8000-7e5700000002', 'APO-2', 'USD');
insert into public.purchase_order_lines (id, organization_id, purchase_order_id, currency, line_number, item_code, description, quantity, unit_price) values
  ('f9000000-0000-4000-8000-7e5700000011', tests.org('main'), 'e9000000-0000-4000-8000-7e5700000001', 'USD', 1, 'W', 'Widget', 1000, 10),
  ('f9000000-0000-4000-8000-7e5700000021', tests.org('main'), 'e9000000-0000-4000-8000-7e5700000002', 'USD', 1, 'B', 'Boiler', 10, 500);
insert into public.goods_receipts (id, organization_id, purchase_order_id, receipt_number) values
  ('b9000000-0000-4000-8000-7e5700000001', tests.org('main'), 'e9000000-0000-4000-8000-7e5700000001', 'AGR-1'),
  ('b9000000-0000-4000-8000-7e5700000002', tests.org('main'), 'e9000000-0000-4000-8000-7e5700000002', 'AGR-2');
insert into public.goods_receipt_lines (organization_id, goods_receipt_id, purchase_order_line_id, quantity_received) values
  (tests.org('main'), 'b9000000-0000-4000-8000-7e5700000001', 'f9000000-0000-4000-8000-7e5700000011', 100),
  (tests.org('main'), 'b9000000-0000-4000-8000-7e5700000002', 'f9000000-0000-4000-8000-7e5700000021', 10);

-- Invoices: AI-1..AI-5 on APO-1 (widgets at 10.00; distinct totals, no duplicates), AI-6 on
-- APO-2 (boilers at 500.00).
-- The member imports I1, I3, I4, I5, I6; the admin imports I2.
create function pg_temp.invoice(id uuid, number text, po text, qty numeric, price numeric, who text)
returns void language plpgsql as $$
begin
  perform tests.authenticate_as(who);
  insert into public.vendor_invoices (id, organization_id, vendor_id, vendor_name, invoice_number,
    invoice_date, po_number, currency, subtotal, total_amount)
  select id, tests.org('main'), case po when 'APO-1' then 'd9000000-0000-4000-8000-7e5700000001'::uuid
                                       else 'd9000000-0000-4000-8000-7e5700000002'::uuid end,
         'V', number, current_date, po, 'USD', qty * price, qty * price;
  insert into public.vendor_invoice_lines (organization_id, vendor_invoice_id, currency, line_number,
    item_code, description, quantity, unit_price, amount)
  values (tests.org('main'), id, 'USD', 1, case po when 'APO-1' then 'W' else 'B' end, 'Line', qty,
          price, qty * price);
  perform tests.clear_authentication();
  reset role;
end;
$$;
select pg_temp.invoice('a9000000-0000-4000-8000-000000000001', 'AI-1', 'APO-1', 10, 10, 'member');
select pg_temp.invoice('a9000000-0000-4000-8000-000000000002', 'AI-2', 'APO-1', 9, 10, 'admin');
select pg_temp.invoice('a9000000-0000-4000-8000-000000000003', 'AI-3', 'APO-1', 8, 10, 'member');
select pg_temp.invoice('a9000000-0000-4000-8000-000000000004', 'AI-4', 'APO-1', 10, 11, 'member');
select pg_temp.invoice('a9000000-0000-4000-8000-000000000005', 'AI-5', 'APO-1', 7, 10, 'member');
select pg_temp.invoice('a9000000-0000-4000-8000-000000000006', 'AI-6', 'APO-2', 4, 500, 'member');

-- A rule for APO-2's vendor from 1,000 to 5,000 USD (exclusive): two steps, members then
-- members. AI-7 (5,500) is above its band.
select tests.authenticate_as('member');
select throws_ok(
  $$ insert into public.approval_rules (organization_id, name, priority, steps)
     values (tests.org('main'), 'nope', 1, '[{"approver_role": "admin"}]') $$,
  '42501', null, 'a member cannot write approval rules');
select tests.authenticate_as('admin');
select throws_ok(
  $$ insert into public.approval_rules (organization_id, name, priority, steps)
     values (tests.org('main'), 'bad', 1, '[{"approvers": ["ac700000-0000-4000-8000-7e5700000004"]}]') $$,
  '22023', null, 'a rule cannot name a viewer as an approver');
select throws_ok(
  $$ insert into public.approval_rules (organization_id, name, priority, min_amount, steps)
     values (tests.org('main'), 'bad', 1, 10, '[{"approver_role": "admin"}]') $$,
  '23514', null, 'an amount band needs its currency');
select throws_ok(
  $$ insert into public.approval_rules (organization_id, name, priority, steps)
     values (tests.org('main'), 'bad', 1, '[{"approver_role": "viewer"}]') $$,
  '22023', null, 'viewers approve nothing');
select lives_ok(
  $$ insert into public.approval_rules (id, organization_id, name, priority, currency, min_amount, max_amount, vendor_id, steps)
     values ('c9000000-0000-4000-8000-000000000001', tests.org('main'), 'big boilers', 10, 'USD', 1000, 5000,
             'd9000000-0000-4000-8000-7e5700000002',
             '[{"approver_role": "member"}, {"approver_role": "member"}]') $$,
  'an admin writes a rule');
select lives_ok(
  $$ insert into public.approval_rules (organization_id, name, priority, outcomes, steps)
     values (tests.org('main'), 'resolved: the owner', 20, '{resolved_exception}',
             '[{"approvers": ["ac700000-0000-4000-8000-7e5700000001"]}]') $$,
  'and one for resolved exceptions naming the owner');

-- Matching (as the member) opens the rounds.
select tests.authenticate_as('member');
select public.match_vendor_invoices(tests.org('main'), array[
  'a9000000-0000-4000-8000-000000000001', 'a9000000-0000-4000-8000-000000000002',
  'a9000000-0000-4000-8000-000000000003', 'a9000000-0000-4000-8000-000000000004',
  'a9000000-0000-4000-8000-000000000005', 'a9000000-0000-4000-8000-000000000006']::uuid[]);
reset role;

select results_eq(
  $$ select vendor_invoice_id::text, step, steps, status, approver_role::text, rule_name
     from public.vendor_invoice_approvals
     where vendor_invoice_id in ('a9000000-0000-4000-8000-000000000001', 'a9000000-0000-4000-8000-000000000006')
     order by 1, 2 $$,
  $$ values ('a9000000-0000-4000-8000-000000000001', 1, 1, 'pending', 'admin', 'default: one step, any admin'),
            ('a9000000-0000-4000-8000-000000000006', 1, 2, 'pending', 'member', 'big boilers'),
            ('a9000000-0000-4000-8000-000000000006', 2, 2, 'waiting', 'member', 'big boilers') $$,
  'a matched invoice gets the default step; one the rule applies to gets its two steps in order');
select is((select status from public.vendor_invoices where id = 'a9000000-0000-4000-8000-000000000004'),
  'exception', 'AI-4 (price over) is an exception and gets no step');
select is((select count(*)::int from public.vendor_invoice_approvals
           where vendor_invoice_id = 'a9000000-0000-4000-8000-000000000004'), 0, 'none');

-- The queue
select tests.authenticate_as('admin');
select is((select array_agg(x ->> 'invoice_number' order by x ->> 'invoice_number')
           from jsonb_array_elements(public.approval_queue(tests.org('main'), 50, null) -> 'data') x
           where x ->> 'invoice_number' like 'AI-%'),
  array['AI-1', 'AI-3', 'AI-5', 'AI-6'],
  'the admin''s queue: the default steps and the member step, not AI-2 that the admin imported');
select tests.authenticate_as('member');
select is((select array_agg(x ->> 'invoice_number')
           from jsonb_array_elements(public.approval_queue(tests.org('main'), 50, null) -> 'data') x
           where x ->> 'invoice_number' like 'AI-%'),
  null, 'the member''s queue: nothing (admin steps, and AI-6 is the member''s own import)');
select tests.authenticate_as('viewer');
select is(jsonb_array_length(public.approval_queue(tests.org('main'), 50, null) -> 'data'), 0,
  'a viewer''s queue is empty');
select tests.authenticate_as('stranger');
select throws_ok($$ select public.approval_queue(tests.org('main'), 50, null) $$, '42501', null,
  'a stranger has no queue in the organization');
select tests.authenticate_as('admin');
select throws_ok($$ select public.approval_queue(tests.org('main'), 0, null) $$, '22023', null,
  'page_size 0 is refused');
select is((select array_agg(x ->> 'invoice_number' order by x ->> 'invoice_number')
           from jsonb_array_elements(public.approval_queue(tests.org('main'), 50,
             (public.approval_queue(tests.org('main'), 2, null) ->> 'next_after')::uuid) -> 'data') x
           where x ->> 'invoice_number' like 'AI-%'),
  (select array_agg(x ->> 'invoice_number' order by x ->> 'invoice_number')
   from jsonb_array_elements(public.approval_queue(tests.org('main'), 50, null) -> 'data') with ordinality q(x, n)
   where n > 2 and x ->> 'invoice_number' like 'AI-%'),
  'the page after a cursor is the rest of the queue');
select throws_ok($$ select public.approval_queue(tests.org('main'), 5, gen_random_uuid()) $$, '22023', null,
  'a cursor that is no step of the queue is refused');

-- Deciding: roles
select tests.authenticate_as('viewer');
select throws_ok($$ select public.decide_vendor_invoice_approval(tests.org('main'),
  'a9000000-0000-4000-8000-000000000001', 'approve') $$, '42501', null, 'a viewer cannot approve');
select tests.authenticate_as('member');
select throws_ok($$ select public.decide_vendor_invoice_approval(tests.org('main'),
  'a9000000-0000-4000-8000-000000000001', 'approve') $$, '42501', null,
  'a member cannot approve an admin step (and imported the invoice besides)');
select tests.authenticate_as('stranger');
select throws_ok($$ select public.decide_vendor_invoice_approval(tests.org('main'),
  'a9000000-0000-4000-8000-000000000001', 'approve') $$, '42501', null, 'a stranger cannot approve');
select throws_ok($$ select public.decide_vendor_invoice_approval(tests.org('other'),
  'a9000000-0000-4000-8000-000000000001', 'approve') $$, 'P0002', null,
  'nor find the invoice from another organization');

-- Separation of duties: the importer
select tests.authenticate_as('admin');
select throws_ok($$ select public.decide_vendor_invoice_approval(tests.org('main'),
  'a9000000-0000-4000-8000-000000000002', 'approve') $$, '42501',
  'separation of duties: you imported this invoice', 'the admin who imported AI-2 cannot approve it');
select throws_ok($$ select public.decide_vendor_invoice_approval(tests.org('main'),
  'a9000000-0000-4000-8000-000000000002', 'reject', 'no') $$, '42501',
  'separation of duties: you imported this invoice', 'nor reject it');
select tests.authenticate_as('owner');
select is(public.decide_vendor_invoice_approval(tests.org('main'),
  'a9000000-0000-4000-8000-000000000002', 'approve') ->> 'status', 'approved', 'the owner approves AI-2');

-- The last step approves
select tests.authenticate_as('admin');
select is(public.decide_vendor_invoice_approval(tests.org('main'),
  'a9000000-0000-4000-8000-000000000001', 'approve') ->> 'status', 'approved',
  'the admin approves AI-1: one step, approved');
select throws_ok($$ select public.decide_vendor_invoice_approval(tests.org('main'),
  'a9000000-0000-4000-8000-000000000001', 'approve') $$, '23514', null,
  'an approved invoice is not awaiting approval');

-- Nobody approves twice: AI-6's two member steps
select is(public.decide_vendor_invoice_approval(tests.org('main'),
  'a9000000-0000-4000-8000-000000000006', 'approve') ->> 'status', 'matched',
  'the admin approves AI-6''s first step: still matched');
select throws_ok($$ select public.decide_vendor_invoice_approval(tests.org('main'),
  'a9000000-0000-4000-8000-000000000006', 'approve') $$, '42501',
  'separation of duties: you already decided a step of this invoice',
  'the admin cannot approve its second step');
select is((select count(*)::int from jsonb_array_elements(public.approval_queue(tests.org('main'), 50, null) -> 'data') x
           where x ->> 'invoice_number' = 'AI-6'), 0, 'and no longer sees it in the queue');

-- Reassign: to the importer refused, to the owner then the owner decides
select throws_ok($$ select public.reassign_vendor_invoice_approval(tests.org('main'),
  'a9000000-0000-4000-8000-000000000006', tests.actor('member')) $$, '23514', null,
  'reassigning to the member who imported it is refused');
select throws_ok($$ select public.reassign_vendor_invoice_approval(tests.org('main'),
  'a9000000-0000-4000-8000-000000000006', tests.actor('viewer')) $$, '22023', null,
  'and to a viewer');
select throws_ok($$ select public.reassign_vendor_invoice_approval(tests.org('main'),
  'a9000000-0000-4000-8000-000000000006', tests.actor('admin')) $$, '23514', null,
  'and to someone who decided an earlier step');
select lives_ok($$ select public.reassign_vendor_invoice_approval(tests.org('main'),
  'a9000000-0000-4000-8000-000000000006', tests.actor('owner')) $$, 'an admin reassigns to the owner');
select tests.authenticate_as('owner');
select is(public.decide_vendor_invoice_approval(tests.org('main'),
  'a9000000-0000-4000-8000-000000000006', 'approve') ->> 'status', 'approved', 'who approves it');

-- Reject needs a reason
select tests.authenticate_as('admin');
select throws_ok($$ select public.decide_vendor_invoice_approval(tests.org('main'),
  'a9000000-0000-4000-8000-000000000003', 'reject', '  ') $$, '22023', null, 'a rejection needs a reason');
select is(public.decide_vendor_invoice_approval(tests.org('main'),
  'a9000000-0000-4000-8000-000000000003', 'reject', 'not ours') ->> 'status', 'rejected',
  'with one, the invoice is rejected');

-- The resolver: AI-4's exception accepted by the admin -> resolved_exception, the owner's rule
select tests.authenticate_as('admin');
select public.resolve_reconciliation_exception(tests.org('main'), e.id, 'accept', 'fine')
from public.reconciliation_exceptions e
where e.vendor_invoice_id = 'a9000000-0000-4000-8000-000000000004' and e.status = 'open';
reset role;
select results_eq(
  $$ select v.status, a.outcome, a.rule_name, a.status from public.vendor_invoices v
     join public.vendor_invoice_approvals a on a.vendor_invoice_id = v.id
     where v.id = 'a9000000-0000-4000-8000-000000000004' $$,
  $$ values ('matched_with_tolerance'::text, 'resolved_exception'::text, 'resolved: the owner'::text, 'pending'::text) $$,
  'a resolved exception: matched_with_tolerance, the outcome resolved_exception, the rule for it');
select tests.authenticate_as('admin');
select throws_ok($$ select public.reassign_vendor_invoice_approval(tests.org('main'),
  'a9000000-0000-4000-8000-000000000004', tests.actor('admin')) $$, '23514', null,
  'the resolver cannot be handed the step');
select tests.authenticate_as('owner');
select is((select array_agg(x ->> 'invoice_number' order by x ->> 'invoice_number')
           from jsonb_array_elements(public.approval_queue(tests.org('main'), 50, null) -> 'data') x
           where x ->> 'invoice_number' like 'AI-%'),
  array['AI-4', 'AI-5'], 'the owner''s queue: AI-4 (the owner named) and AI-5 (any admin)');

-- The resolver path through the decision itself: the admin is listed as an approver
reset role;
update public.vendor_invoice_approvals set approvers = array[tests.actor('admin')]
where vendor_invoice_id = 'a9000000-0000-4000-8000-000000000004' and status = 'pending';
select tests.authenticate_as('admin');
select throws_ok($$ select public.decide_vendor_invoice_approval(tests.org('main'),
  'a9000000-0000-4000-8000-000000000004', 'approve') $$, '42501',
  'separation of duties: you resolved an exception of this invoice', 'the resolver cannot approve');
select is((select count(*)::int from jsonb_array_elements(public.approval_queue(tests.org('main'), 50, null) -> 'data') x
           where x ->> 'invoice_number' = 'AI-4'), 0, 'nor sees it in the queue');

-- The tables are the functions' to write
select throws_ok($$ update public.vendor_invoice_approvals set status = 'approved' where round = 1 $$,
  '42501', null, 'nobody writes approval steps directly');
select throws_ok($$ update public.vendor_invoices set status = 'approved' where id = 'a9000000-0000-4000-8000-000000000005' $$,
  '42501', null, 'nor an invoice''s status');

-- A change sends an approved invoice back: a member's edit of its total
select tests.authenticate_as('member');
update public.vendor_invoices set total_amount = 101, subtotal = 101
where id = 'a9000000-0000-4000-8000-000000000001';
reset role;
select is((select status from public.vendor_invoices where id = 'a9000000-0000-4000-8000-000000000001'),
  'exception', 'AI-1 approved, its total changed: matched again, now an exception');
select is((select count(*)::int from public.vendor_invoice_approvals
           where vendor_invoice_id = 'a9000000-0000-4000-8000-000000000001' and status in ('pending', 'waiting')),
  0, 'with no open step until its exception is resolved');

-- A receipt that changes nothing leaves AI-2 approved
insert into public.goods_receipt_lines (organization_id, goods_receipt_id, purchase_order_line_id, quantity_received)
values (tests.org('main'), 'b9000000-0000-4000-8000-7e5700000001', 'f9000000-0000-4000-8000-7e5700000011', 100);
select is((select status from public.vendor_invoices where id = 'a9000000-0000-4000-8000-000000000002'),
  'approved', 'a receipt that leaves the match unchanged leaves AI-2 approved');

-- A receipt that changes the match: AI-7 bills 11 of 10 received (within 20 %), then one more arrives
select pg_temp.invoice('a9000000-0000-4000-8000-000000000007', 'AI-7', 'APO-2', 11, 500, 'member');
update public.goods_receipt_lines set quantity_received = 0.0001
where purchase_order_line_id = 'f9000000-0000-4000-8000-7e5700000021';
select tests.authenticate_as('member');
select public.match_vendor_invoices(tests.org('main'), array['a9000000-0000-4000-8000-000000000007']::uuid[]);
reset role;
select is((select status from public.vendor_invoices where id = 'a9000000-0000-4000-8000-000000000007'),
  'exception', 'AI-7 over-billed before the receipt');
select tests.authenticate_as('admin');
select public.resolve_reconciliation_exception(tests.org('main'), e.id, 'dismiss', 'coming')
from public.reconciliation_exceptions e
where e.vendor_invoice_id = 'a9000000-0000-4000-8000-000000000007' and e.status = 'open';
select tests.authenticate_as('owner');
select is(public.decide_vendor_invoice_approval(tests.org('main'),
  'a9000000-0000-4000-8000-000000000007', 'approve') ->> 'status', 'approved', 'AI-7 approved by the owner');
reset role;
insert into public.goods_receipt_lines (organization_id, goods_receipt_id, purchase_order_line_id, quantity_received)
values (tests.org('main'), 'b9000000-0000-4000-8000-7e5700000002', 'f9000000-0000-4000-8000-7e5700000021', 30);
select results_eq(
  $$ select v.status, (select max(round) from public.vendor_invoice_approvals a where a.vendor_invoice_id = v.id),
            (select count(*)::int from public.vendor_invoice_approvals a where a.vendor_invoice_id = v.id and a.status = 'pending')
     from public.vendor_invoices v where v.id = 'a9000000-0000-4000-8000-000000000007' $$,
  $$ values ('matched'::text, 2, 1) $$,
  'a receipt that changes AI-7''s match sends it back: matched, a second round with a pending step');

-- Payment batches: admins, approved invoices only, one live batch each; a change sends an
-- invoice out of a draft batch; paid with a reference; a paid invoice stays paid.
select tests.authenticate_as('member');
select throws_ok($$ select public.create_payment_batch(tests.org('main'),
  array['a9000000-0000-4000-8000-000000000006']::uuid[]) $$, '42501', null,
  'a member cannot make a payment batch');
select tests.authenticate_as('admin');
select throws_ok($$ select public.create_payment_batch(tests.org('main'),
  array['a9000000-0000-4000-8000-000000000007']::uuid[]) $$, '23514', null,
  'an invoice not approved cannot be batched');
select is(public.create_payment_batch(tests.org('main'), array['a9000000-0000-4000-8000-000000000002',
  'a9000000-0000-4000-8000-000000000006']::uuid[]) -> 'totals',
  '[{"currency": "USD", "count": 2, "total": "2090"}]'::jsonb, 'a batch of two approved invoices, its total');
select throws_ok($$ select public.create_payment_batch(tests.org('main'),
  array['a9000000-0000-4000-8000-000000000002']::uuid[]) $$, '23514', null,
  'an invoice in a live batch cannot be batched again');
select tests.authenticate_as('member');
update public.vendor_invoices set total_amount = 91, subtotal = 91
where id = 'a9000000-0000-4000-8000-000000000002';
select tests.authenticate_as('admin');
select is((select count(*)::int from public.payment_batch_items where live), 1,
  'AI-2 changed: back for approval, out of the draft batch');
select throws_ok($$ select public.mark_payment_batch_paid(tests.org('main'),
  (select id from public.payment_batches limit 1), ' ') $$, '22023', null, 'paid needs a reference');
select is(public.mark_payment_batch_paid(tests.org('main'), (select id from public.payment_batches limit 1),
  'BANK-1') -> 'items' -> 0 ->> 'status', 'paid', 'marked paid: its invoice is paid');
select tests.authenticate_as('member');
update public.vendor_invoices set notes = 'paid', total_amount = 2001
where id = 'a9000000-0000-4000-8000-000000000006';
select is((select status from public.vendor_invoices where id = 'a9000000-0000-4000-8000-000000000006'),
  'paid', 'a paid invoice never goes back');
select tests.authenticate_as('stranger');
select is((select count(*)::int from public.payment_batches), 0, 'a stranger sees no batch');
select throws_ok($$ select public.cancel_payment_batch(tests.org('main'), gen_random_uuid()) $$, '42501', null,
  'nor cancels one');

select * from finish();
rollback;
