-- =============================================================================
-- The dashboard and reports with the billing lifecycle (migration
-- 20261206110600): credit notes, refunds, client credit, recurring profiles and
-- quotes, each counted once, figures computed by hand.
--
-- Organization main (USD), dashboard asked as of 2025-06-15, reports over
-- 2025-05-01 .. 2025-06-30:
--   client  inv   issued      due         total  money
--   Alpha   LA-1  2025-06-01  2025-07-01  100.00 paid 100 on 06-05; credit note 30
--                                                 on 06-10 -> paid 70, credited 30,
--                                                 30 of the payment to Alpha's credit
--   Alpha   LA-2  2025-06-02  2025-06-12   50.00 Alpha's credit 20 applied -> due 30
--   Beta    LB-1  2025-05-10  2025-06-09  200.00 paid 200 on 05-20; refund 40 of
--                                                 that payment on 06-12 -> due 40
--   Alpha's credit: +30 - 20 applied - 5 refunded (06-14) = 5 held.
-- Money: received 100 (June) + 200 (May); refunded 45 (June); collected 255 =
--   paid 230 (70 + 160) + applied 20 + held 5. Billed net of credit notes 320 =
--   paid 230 + credit applied 20 + outstanding 70 (30 + 40).
-- Recurring (active): monthly 100 + 10% tax = 110; quarterly 300 -> 100; every
--   2 weeks 60 -> 60 * 52 / 12 / 2 = 130; USD MRR 340.00 (3 profiles); a paused
--   monthly 1000 counts nothing; annually EUR 1200 -> EUR 100.00.
-- Quotes: Q-1 sent valid to 06-30 (500), Q-2 sent valid to 06-01 (expired as of
--   06-15; 200), Q-3 accepted (300), Q-4 declined (100), Q-5 draft (50).
-- =============================================================================
begin;
select plan(16);

select tests.create_cast();

insert into public.clients (id, organization_id, company_name, currency) values
  ('c0000000-0000-4000-8000-7e5700000561', tests.org('main'), 'Alpha', 'USD'),
  ('c0000000-0000-4000-8000-7e5700000562', tests.org('main'), 'Beta', 'USD'),
  ('c0000000-0000-4000-8000-7e5700000563', tests.org('main'), 'Euro', 'EUR');
insert into public.invoices (id, organization_id, client_id, invoice_number, issue_date, due_date, payment_terms) values
  ('e0000000-0000-4000-8000-7e5700000561', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000561', 'LA-1', '2025-06-01', '2025-07-01', 'net30'),
  ('e0000000-0000-4000-8000-7e5700000562', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000561', 'LA-2', '2025-06-02', '2025-06-12', 'custom'),
  ('e0000000-0000-4000-8000-7e5700000563', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000562', 'LB-1', '2025-05-10', '2025-06-09', 'net30');
insert into public.invoice_items (invoice_id, description, quantity, rate) values
  ('e0000000-0000-4000-8000-7e5700000561', 'Work', 1, 100),
  ('e0000000-0000-4000-8000-7e5700000562', 'More work', 1, 50),
  ('e0000000-0000-4000-8000-7e5700000563', 'Beta work', 2, 100);
update public.invoices set status = 'sent' where id in (
  'e0000000-0000-4000-8000-7e5700000561', 'e0000000-0000-4000-8000-7e5700000562',
  'e0000000-0000-4000-8000-7e5700000563');
insert into public.payments (id, invoice_id, amount, payment_date) values
  ('d0000000-0000-4000-8000-7e5700000561', 'e0000000-0000-4000-8000-7e5700000561', 100, '2025-06-05'),
  ('d0000000-0000-4000-8000-7e5700000563', 'e0000000-0000-4000-8000-7e5700000563', 200, '2025-05-20');

insert into public.quotes (id, organization_id, client_id, quote_number, issue_date, valid_until, status, currency) values
  ('a0000000-0000-4000-8000-7e5700000561', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000561', 'Q-1', '2025-06-01', '2025-06-30', 'draft', 'USD'),
  ('a0000000-0000-4000-8000-7e5700000562', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000561', 'Q-2', '2025-05-02', '2025-06-01', 'draft', 'USD'),
  ('a0000000-0000-4000-8000-7e5700000563', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000562', 'Q-3', '2025-05-03', '2025-06-02', 'draft', 'USD'),
  ('a0000000-0000-4000-8000-7e5700000564', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000562', 'Q-4', '2025-05-04', '2025-06-03', 'draft', 'USD'),
  ('a0000000-0000-4000-8000-7e5700000565', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000562', 'Q-5', '2025-06-05', '2025-07-05', 'draft', 'USD');
insert into public.quote_items (quote_id, description, quantity, rate)
select q.id, 'Quoted', 1, v.rate
from (values ('Q-1', 500), ('Q-2', 200), ('Q-3', 300), ('Q-4', 100), ('Q-5', 50)) v(num, rate)
join public.quotes q on q.quote_number = v.num and q.organization_id = tests.org('main');
-- Their decisions, dated in the past: set without the quotes' triggers (which
-- judge valid_until against the real today).
alter table public.quotes disable trigger user;
update public.quotes q set status = v.status
from (values ('Q-1', 'sent'), ('Q-2', 'sent'), ('Q-3', 'accepted'), ('Q-4', 'declined')) v(num, status)
where q.quote_number = v.num and q.organization_id = tests.org('main');
alter table public.quotes enable trigger user;

-- The credit note, the credit applied and the refunds, through the RPCs.
select tests.authenticate_as('member');
select public.create_credit_note(tests.org('main'), 'e0000000-0000-4000-8000-7e5700000561',
  '{"kind": "amount", "amount": 30, "issue_date": "2025-06-10"}');
select public.apply_client_credit(tests.org('main'), 'c0000000-0000-4000-8000-7e5700000561',
  'e0000000-0000-4000-8000-7e5700000562', 20);
select public.record_refund(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000561", "amount": 5, "refund_date": "2025-06-14"}');
select public.record_refund(tests.org('main'),
  '{"payment_id": "d0000000-0000-4000-8000-7e5700000563", "amount": 40, "refund_date": "2025-06-12"}');
select public.create_recurring_profile(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000561", "frequency": "monthly", "start_date": "2025-06-01", "tax_rate": 10}',
  '[{"description": "Monthly", "quantity": 1, "rate": "100"}]');
select public.create_recurring_profile(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000561", "frequency": "quarterly", "start_date": "2025-06-01"}',
  '[{"description": "Quarterly", "quantity": 3, "rate": "100"}]');
select public.create_recurring_profile(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000562", "interval_unit": "week", "interval_count": 2, "start_date": "2025-06-01"}',
  '[{"description": "Fortnightly", "quantity": 1, "rate": "60"}]');
select public.create_recurring_profile(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000562", "name": "paused", "frequency": "monthly", "start_date": "2025-06-01"}',
  '[{"description": "Paused", "quantity": 1, "rate": "1000"}]');
select public.create_recurring_profile(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000563", "frequency": "annually", "start_date": "2025-06-01"}',
  '[{"description": "Yearly", "quantity": 1, "rate": "1200"}]');
select tests.as_superuser();
update public.recurring_profiles set status = 'paused', paused_at = now()
where organization_id = tests.org('main') and name = 'paused';

-- The books as the credit notes migration keeps them (the setup, checked).
select is(
  (select jsonb_agg(jsonb_build_array(i.invoice_number, i.status, i.amount_paid, i.credit_notes_total,
                                      i.credit_applied, i.balance_due) order by i.invoice_number)
   from public.invoices i where i.organization_id = tests.org('main') and i.invoice_number like 'L%'),
  '[["LA-1", "paid", 70.00, 30.00, 0, 0.00], ["LA-2", "sent", 0.00, 0, 20.00, 30.00],
    ["LB-1", "overdue", 160.00, 0, 0, 40.00]]'::jsonb,
  'the setup: LA-1 paid 70 and credited 30, LA-2 owes 30 after 20 of credit, LB-1 owes 40 after a refund'
);

select tests.authenticate_as('viewer');

-- Dashboard ---------------------------------------------------------------------
select is(
  (public.dashboard_metrics(tests.org('main'), '2025-06-15') -> 'primary')
    - 'average_days_to_pay' - 'paid_this_month_amount' - 'paid_this_month_count',
  '{"currency": "USD",
    "revenue_this_month": 55.00, "revenue_last_month": 200.00, "revenue_change_percent": -72.5,
    "received_this_month": 100.00, "received_last_month": 200.00,
    "refunded_this_month": 45.00, "refunded_last_month": 0.00,
    "credited_this_month": 30.00, "credit_notes_this_month": 1, "payments_this_month": 1,
    "outstanding_amount": 70.00, "outstanding_count": 2, "overdue_amount": 70.00, "overdue_count": 2,
    "client_credit": 5.00, "clients_with_credit": 1,
    "mrr": 340.00, "active_recurring_profiles": 3,
    "open_quotes_amount": 500.00, "open_quotes_count": 1}'::jsonb,
  'dashboard: revenue = received - refunded, credited apart, outstanding net of credits with the client credit beside it, MRR, open quotes'
);
select is(
  (public.dashboard_metrics(tests.org('main'), '2025-06-15') -> 'by_currency' -> 1)
    ->> 'mrr',
  '100.00', 'an annual EUR profile of 1200 is 100.00 a month, in EUR'
);
select is(
  jsonb_build_object(
    'counts', public.dashboard_metrics(tests.org('main'), '2025-06-15') -> 'quote_counts',
    'rate', public.dashboard_metrics(tests.org('main'), '2025-06-15') -> 'quote_acceptance_rate',
    'profiles', public.dashboard_metrics(tests.org('main'), '2025-06-15') -> 'active_recurring_profiles'),
  '{"counts": {"draft": 1, "sent": 1, "accepted": 1, "declined": 1, "expired": 1, "converted": 0, "total": 5},
    "rate": 33.3, "profiles": 4}'::jsonb,
  'quotes by status as of 06-15 (Q-2 past valid_until counts expired): 1 accepted of 3 decided'
);
select is(
  (public.dashboard_metrics(tests.org('main'), '2025-06-01') -> 'quote_counts') ->> 'expired',
  '0', 'as of 06-01 Q-2 is still valid: nothing expired'
);
select is(
  (select jsonb_agg(jsonb_build_array(p ->> 'month', p -> 'billed', p -> 'collected', p -> 'received',
                                      p -> 'refunded', p -> 'credited'))
   from jsonb_array_elements(
     public.dashboard_revenue_chart(tests.org('main'), 2, '2025-06-15') #> '{series,0,points}') p),
  '[["2025-05-01", 200.00, 200.00, 200.00, 0.00, 0.00], ["2025-06-01", 120.00, 55.00, 100.00, 45.00, 30.00]]'::jsonb,
  'revenue chart: billed net of credit notes, collected net of refunds, credited shown apart'
);
select is(
  (public.dashboard_recent_invoices(tests.org('main'), 3) #> '{data}')
    @> '[{"invoice_number": "LA-2", "amount_credited": 20.00, "balance_due": 30.00, "is_overdue": true}]'::jsonb,
  true, 'recent invoices carry amount_credited'
);

-- Reports -----------------------------------------------------------------------
select is(
  (public.reports_overview(tests.org('main'), '2025-05-01', '2025-06-30') -> 'primary')
    - 'average_days_to_pay',
  '{"currency": "USD", "invoice_count": 3, "billed": 320.00, "paid": 230.00, "credit_applied": 20.00,
    "outstanding": 70.00, "overdue_amount": 70.00, "overdue_count": 2, "collection_rate": 71.9,
    "average_invoice": 106.67, "collected": 255.00, "received": 300.00, "refunded": 45.00,
    "refund_count": 2, "payment_count": 2, "credited": 30.00, "credit_note_count": 1,
    "client_credit": 5.00, "mrr": 340.00, "active_recurring_profiles": 3,
    "quote_count": 4, "quoted": 1100.00, "accepted_amount": 300.00}'::jsonb,
  'overview: billed 320 = paid 230 + credit applied 20 + outstanding 70; collected 255 = received 300 - refunded 45'
);
select is(
  public.reports_overview(tests.org('main'), '2025-05-01', '2025-06-30') -> 'quote_acceptance_rate',
  '25.0'::jsonb,
  'overview: quotes issued in the range, judged today (Q-1 and Q-2 have expired): 1 accepted of 4 decided'
);
select is(
  (select jsonb_agg(jsonb_build_array(p ->> 'period', p -> 'billed', p -> 'collected', p -> 'refunded', p -> 'credited'))
   from jsonb_array_elements(
     public.reports_revenue(tests.org('main'), '2025-05-01', '2025-06-30', 'month') #> '{series,0,points}') p),
  '[["2025-05", 200.00, 200.00, 0.00, 0.00], ["2025-06", 120.00, 55.00, 45.00, 30.00]]'::jsonb,
  'revenue by month: the same figures as the chart'
);
select is(
  (select jsonb_object_agg(c ->> 'client_name', jsonb_build_array(c -> 'billed', c -> 'collected', c -> 'refunded'))
   from jsonb_array_elements(
     public.reports_revenue(tests.org('main'), '2025-05-01', '2025-06-30', 'month') -> 'by_client') c),
  '{"Alpha": [120.00, 95.00, 5.00], "Beta": [200.00, 160.00, 40.00]}'::jsonb,
  'revenue by client: Alpha received 100 and got 5 back, Beta received 200 and got 40 back'
);
select is(
  (select jsonb_object_agg(s ->> 'status', (s #> '{amounts,0}') - 'currency')
   from jsonb_array_elements(
     public.reports_payment_status(tests.org('main'), '2025-05-01', '2025-06-30') -> 'statuses') s
   where (s ->> 'count')::int > 0),
  '{"paid": {"count": 1, "total": 100.00, "paid": 70.00, "credited": 30.00, "outstanding": 0.00},
    "overdue": {"count": 2, "total": 250.00, "paid": 160.00, "credited": 20.00, "outstanding": 70.00}}'::jsonb,
  'payment status: total = paid + credited + outstanding in each status'
);
select is(
  (select jsonb_object_agg(c ->> 'client_name', jsonb_build_array(c -> 'billed', c -> 'paid', c -> 'credit_applied',
                                                                   c -> 'outstanding', c -> 'client_credit'))
   from jsonb_array_elements(
     public.reports_client_performance(tests.org('main'), '2025-05-01', '2025-06-30') -> 'clients') c),
  '{"Alpha": [120.00, 70.00, 20.00, 30.00, 5.00], "Beta": [200.00, 160.00, 0.00, 40.00, 0.00]}'::jsonb,
  'client performance: billed = paid + credit applied + outstanding, the client credit beside'
);

-- Nothing counted twice: the dashboard against the tables.
select tests.as_superuser();
select is(
  (select sum(c.outstanding_balance) from public.clients c where c.organization_id = tests.org('main') and c.currency = 'USD'),
  70.00::numeric, 'the clients'' outstanding_balance sums to the dashboard''s outstanding'
);
select is(
  (select sum(e.amount) from public.client_credit_entries e where e.organization_id = tests.org('main')),
  5.00::numeric, 'the credit ledger sums to the client credit the dashboard shows'
);

-- Another organization sees none of it.
select tests.authenticate_as('stranger');
select throws_ok(
  $$ select public.reports_overview(tests.org('main'), '2025-05-01', '2025-06-30') $$,
  '42501', null, 'a stranger cannot read the organization''s figures'
);

select * from finish();
rollback;
