-- =============================================================================
-- public.export_invoice_page (20261206101100_exports.sql): one keyset page of
-- the invoice list export, as an array of arrays in the order
--   0 number, 1 client, 2 status, 3 is_overdue, 4 issue_date, 5 due_date,
--   6 terms, 7 currency, 8 subtotal, 9 discount, 10 tax_rate, 11 tax_amount,
--   12 total, 13 paid, 14 balance, 15 sent_at, 16 paid_at, 17 id
-- newest issue date first (ties by id, descending). The organization
-- (the owner's, tests.org('main')):
--   X-1  Acme      2025-01-10  100.00  draft
--   X-2  Acme      2025-02-10  250.50  sent (due 2025-03-12: past due, so overdue)
--   X-3  50%_Off   2025-02-10   40.00  draft
--   X-4  50%_Off   2025-02-10   60.00  draft
--   X-5  Yen       2025-03-01  1500    draft (JPY)
-- The stranger's organization has one invoice, S-1.
-- =============================================================================
begin;
select plan(19);

create function pg_temp.org(who text) returns uuid
language sql stable as $$ select tests.personal_org(who) $$;
create function pg_temp.invoice(who text, num text, client_name text, issued date, total numeric)
returns uuid
language plpgsql as $$
declare
  new_id uuid;
begin
  insert into public.invoices (organization_id, client_id, invoice_number, issue_date, due_date)
  values (pg_temp.org(who),
          (select id from public.clients where company_name = client_name), num, issued, issued + 30)
  returning id into new_id;
  insert into public.invoice_items (invoice_id, description, quantity, rate)
  values (new_id, 'services', 1, total);
  return new_id;
end;
$$;
-- The invoice numbers of a page.
create function pg_temp.numbers(page json) returns text[]
language sql immutable as $$
  select coalesce(array_agg(r ->> 0 order by n), '{}') from json_array_elements(page) with ordinality e(r, n)
$$;

select tests.create_cast();

select tests.authenticate_as('owner');
insert into public.clients (organization_id, company_name, currency) values
  (pg_temp.org('owner'), 'Acme', 'USD'),
  (pg_temp.org('owner'), '50%_Off', 'USD'),
  (pg_temp.org('owner'), 'Yen', 'JPY');
select pg_temp.invoice('owner', 'X-1', 'Acme', '2025-01-10', 100);
select pg_temp.invoice('owner', 'X-2', 'Acme', '2025-02-10', 250.50);
update public.invoices set status = 'sent' where invoice_number = 'X-2';
select pg_temp.invoice('owner', 'X-3', '50%_Off', '2025-02-10', 40);
select pg_temp.invoice('owner', 'X-4', '50%_Off', '2025-02-10', 60);
select pg_temp.invoice('owner', 'X-5', 'Yen', '2025-03-01', 1500);
select tests.authenticate_as('stranger');
insert into public.clients (organization_id, company_name, currency)
values (pg_temp.org('stranger'), 'Stranger Client', 'USD');
select pg_temp.invoice('stranger', 'S-1', 'Stranger Client', '2025-02-10', 9999);

-- The function itself ----------------------------------------------------------
select is_empty(
  $$ select 1 from pg_catalog.pg_proc p
     where p.oid = 'public.export_invoice_page'::regproc
       and (p.prosecdef or p.provolatile <> 's'
            or not coalesce('search_path=""' = any (p.proconfig), false)) $$,
  'export_invoice_page is stable, security invoker, with an empty search_path'
);
select ok(
  has_function_privilege('authenticated', 'public.export_invoice_page'::regproc, 'execute')
  and not has_function_privilege('anon', 'public.export_invoice_page'::regproc, 'execute'),
  'authenticated may call it, anon may not'
);

-- A whole page, its order and its cells ----------------------------------------
select tests.authenticate_as('owner');
create temporary table all_rows on commit drop as
select e.r, e.n from json_array_elements(public.export_invoice_page(pg_temp.org('owner')))
  with ordinality e(r, n);
select is((select count(*)::int from all_rows), 5, 'one page holds every invoice of the organization');
select is(
  (select array_agg(r ->> 0 order by n) from all_rows where r ->> 0 in ('X-5', 'X-1')),
  array['X-5', 'X-1'], 'newest issue date first'
);
select ok(
  (select bool_and(a.r ->> 17 > b.r ->> 17) from all_rows a join all_rows b on b.n = a.n + 1
   where a.r ->> 4 = b.r ->> 4),
  'rows of one issue date come by id, descending'
);
select is(
  (select array[r ->> 1, r ->> 2, r ->> 3, r ->> 4, r ->> 7, r ->> 12, r ->> 14, json_typeof(r -> 12)]
   from all_rows where r ->> 0 = 'X-2'),
  array['Acme', 'sent', 'true', '2025-02-10', 'USD', '250.50', '250.50', 'string'],
  'a row: client name, status, is_overdue, dates, amounts as decimal strings at their scale'
);
select is((select r ->> 12 from all_rows where r ->> 0 = 'X-5'), '1500', 'JPY has no decimals');

-- Keyset pages ------------------------------------------------------------------
select is(
  pg_temp.numbers(public.export_invoice_page(pg_temp.org('owner'), page_rows => 2))
  || pg_temp.numbers(public.export_invoice_page(
       pg_temp.org('owner'),
       after_issue_date => (select (r ->> 4)::date from all_rows where n = 2),
       after_id => (select (r ->> 17)::uuid from all_rows where n = 2),
       page_rows => 2))
  || pg_temp.numbers(public.export_invoice_page(
       pg_temp.org('owner'),
       after_issue_date => (select (r ->> 4)::date from all_rows where n = 4),
       after_id => (select (r ->> 17)::uuid from all_rows where n = 4),
       page_rows => 2)),
  (select array_agg(r ->> 0 order by n) from all_rows),
  'pages of two, each after the last row of the one before, give every row once (a page breaks inside 2025-02-10)'
);
select is(
  public.export_invoice_page(
    pg_temp.org('owner'),
    after_issue_date => (select (r ->> 4)::date from all_rows where n = 5),
    after_id => (select (r ->> 17)::uuid from all_rows where n = 5))::text,
  '[]', 'after the last row: an empty page'
);

-- Filters (those of GET /api/invoices) -------------------------------------------
select is(
  pg_temp.numbers(public.export_invoice_page(pg_temp.org('owner'), statuses => array['sent'])),
  array['X-2'], 'status'
);
select is(
  (select array_agg(x order by x)
   from unnest(pg_temp.numbers(public.export_invoice_page(pg_temp.org('owner'), search => '%'))) x),
  array['X-3', 'X-4'], 'the search takes % literally (only the client 50%_Off has one)'
);
select is(
  pg_temp.numbers(public.export_invoice_page(pg_temp.org('owner'), search => 'x-5')),
  array['X-5'], 'the search finds the number, case-insensitively'
);
select is(
  (select array_agg(x order by x) from unnest(pg_temp.numbers(public.export_invoice_page(
     pg_temp.org('owner'), issue_from => '2025-02-01', issue_to => '2025-02-28',
     total_from => 50, total_to => 300))) x),
  array['X-2', 'X-4'], 'issue date and total ranges, inclusive'
);
select is(
  pg_temp.numbers(public.export_invoice_page(pg_temp.org('owner'), overdue => true)),
  array['X-2'], 'overdue: sent and past due'
);

-- Who may read ----------------------------------------------------------------------
select tests.authenticate_as('viewer');
select is(
  json_array_length(public.export_invoice_page(pg_temp.org('owner'))), 5,
  'a viewer reads the export'
);
select tests.authenticate_as('stranger');
select throws_ok(
  format('select public.export_invoice_page(%L)', pg_temp.org('owner')), '42501', null,
  'a stranger naming the organization is refused'
);
select is(
  pg_temp.numbers(public.export_invoice_page(pg_temp.org('stranger'))),
  array['S-1'], 'the stranger sees their own invoice only'
);

-- Parameters ------------------------------------------------------------------------
select tests.authenticate_as('owner');
select throws_ok(
  format('select public.export_invoice_page(%L, page_rows => 5001)', pg_temp.org('owner')),
  '22023', 'page_rows must be between 1 and 5000', 'at most 5,000 rows a page'
);
select throws_ok(
  format('select public.export_invoice_page(%L, after_issue_date => %L)',
         pg_temp.org('owner'), '2025-01-01'),
  '22023', 'after_issue_date and after_id go together', 'a key is a date and an id'
);

select * from finish();
rollback;
