-- =============================================================================
-- Data protection (migration 20261206140300): sealed vendor tax ids never beside
-- their clear value, the keyed hash with its seal; uploads written by the roles
-- allowed (admins logos, members avatars), only pending and in the organization's
-- prefix, finished by the service role alone, once; the logo's inline data: URL;
-- retention purging settled system logs after 90 days and closed organizations
-- after 7 years only, in chunks, recorded, for the service role alone.
-- =============================================================================
begin;
select plan(32);

select tests.create_cast();

insert into public.clients (id, organization_id, company_name, currency) values
  ('c0000000-0000-4000-8000-840000000001', tests.org('main'), 'Avatar Client', 'EUR'),
  ('c0000000-0000-4000-8000-840000000002', tests.org('other'), 'Other Client', 'EUR');
insert into public.vendors (id, organization_id, name) values
  ('b0000000-0000-4000-8000-840000000001', tests.org('main'), 'Sealed Vendor');

-- Vendors' tax ids ----------------------------------------------------------------
select tests.authenticate_as('member');
select lives_ok($$
  update public.vendors set tax_id_sealed = '{"v":1,"kid":"k","dk":"a","n":"b","c":"c"}',
         tax_id_hash = repeat('ab', 32)
   where id = 'b0000000-0000-4000-8000-840000000001' $$,
  'a member writes a sealed tax id and its hash');
select throws_ok($$
  update public.vendors set tax_id = 'DE123' where id = 'b0000000-0000-4000-8000-840000000001' $$,
  '23514', null, 'the clear tax id never sits beside a sealed one');
select throws_ok($$
  update public.vendors set tax_id_hash = null where id = 'b0000000-0000-4000-8000-840000000001' $$,
  '23514', null, 'a seal keeps its hash');
select throws_ok($$
  update public.vendors set tax_id_hash = 'DE123456789' where id = 'b0000000-0000-4000-8000-840000000001' $$,
  '23514', null, 'a hash is 64 hex digits, never a clear value');
select throws_ok($$
  update public.vendors set tax_id_sealed = '"DE123"' where id = 'b0000000-0000-4000-8000-840000000001' $$,
  '23514', null, 'a seal is an envelope object');
select is(
  (select count(*)::int from public.vendors where organization_id = tests.org('main')
      and tax_id_hash = repeat('ab', 32)), 1, 'vendors are found by their hash');
select is(
  public.reconciliation_vendor(tests.org('main'), 'b0000000-0000-4000-8000-840000000001')
    ?| array['tax_id_sealed', 'tax_id_hash'],
  false, 'a vendor''s answer carries neither the seal nor the hash');

-- Uploads ---------------------------------------------------------------------
select tests.authenticate_as('admin');
select lives_ok($$
  insert into public.uploads (id, organization_id, kind, content_type, size_bytes, object_key)
  values ('d0000000-0000-4000-8000-840000000001', tests.org('main'), 'logo', 'image/png', 1000,
          tests.org('main')::text || '/logos/d0000000-0000-4000-8000-840000000001.png') $$,
  'an admin uploads a logo');
select tests.authenticate_as('member');
select throws_ok($$
  insert into public.uploads (organization_id, kind, content_type, size_bytes, object_key)
  values (tests.org('main'), 'logo', 'image/png', 1000, tests.org('main')::text || '/logos/x.png') $$,
  '42501', null, 'a member cannot upload a logo');
select lives_ok($$
  insert into public.uploads (id, organization_id, kind, client_id, content_type, size_bytes, object_key)
  values ('d0000000-0000-4000-8000-840000000002', tests.org('main'), 'avatar',
          'c0000000-0000-4000-8000-840000000001', 'image/webp', 2000,
          tests.org('main')::text || '/avatars/d0000000-0000-4000-8000-840000000002.webp') $$,
  'a member uploads a client''s avatar');
select throws_ok($$
  insert into public.uploads (organization_id, kind, client_id, content_type, size_bytes, object_key)
  values (tests.org('main'), 'avatar', 'c0000000-0000-4000-8000-840000000001', 'image/webp', 2000,
          tests.org('other')::text || '/avatars/y.webp') $$,
  '23514', null, 'an object key outside the organization''s prefix is refused');
select throws_ok($$
  insert into public.uploads (organization_id, kind, client_id, content_type, size_bytes, object_key)
  values (tests.org('main'), 'avatar', 'c0000000-0000-4000-8000-840000000001', 'image/svg+xml', 2000,
          tests.org('main')::text || '/avatars/z.svg') $$,
  '23514', null, 'SVG is not an accepted type');
select throws_ok($$
  insert into public.uploads (organization_id, kind, client_id, content_type, size_bytes, object_key)
  values (tests.org('main'), 'avatar', 'c0000000-0000-4000-8000-840000000002', 'image/png', 10,
          tests.org('main')::text || '/avatars/w.png') $$,
  '23503', null, 'another organization''s client is refused');
select throws_ok($$
  update public.uploads set status = 'ready' where id = 'd0000000-0000-4000-8000-840000000002' $$,
  '42501', null, 'a member cannot mark an upload ready');
select throws_ok($$ select public.finish_upload('k', true) $$,
  '42501', null, 'a member cannot finish an upload');
select tests.authenticate_as('viewer');
select throws_ok($$
  insert into public.uploads (organization_id, kind, client_id, content_type, size_bytes, object_key)
  values (tests.org('main'), 'avatar', 'c0000000-0000-4000-8000-840000000001', 'image/png', 10,
          tests.org('main')::text || '/avatars/v.png') $$,
  '42501', null, 'a viewer cannot upload');
select is((select count(*)::int from public.uploads), 2, 'a viewer sees the organization''s uploads');
select tests.authenticate_as('stranger');
select is_empty($$ select 1 from public.uploads where organization_id = tests.org('main') $$,
  'a stranger sees none of them');

select tests.authenticate_as_service_role();
select is(
  public.finish_upload(tests.org('main')::text || '/logos/d0000000-0000-4000-8000-840000000001.png',
    true, tests.org('main')::text || '/logos/d0000000-0000-4000-8000-840000000001.clean.png',
    null, 64, 32, 'data:image/png;base64,' || repeat('A', 10000)) ->> 'status',
  'ready', 'the service role finishes a logo');
select is(
  (select logo_object_key || ' ' || length(company_logo_url) from public.organization_settings
    where organization_id = tests.org('main')),
  tests.org('main')::text || '/logos/d0000000-0000-4000-8000-840000000001.clean.png 10022',
  'the settings hold the logo''s key and its inline data: URL beyond 2048 characters');
select is(
  public.finish_upload(tests.org('main')::text || '/logos/d0000000-0000-4000-8000-840000000001.png', true),
  null, 'a second event for the same object changes nothing');
select is(
  public.finish_upload(tests.org('main')::text || '/avatars/d0000000-0000-4000-8000-840000000002.webp',
    false, null, 'not an image') ->> 'status', 'rejected', 'a rejected avatar');
select is(
  (select avatar_object_key from public.clients where id = 'c0000000-0000-4000-8000-840000000001'),
  null, 'a rejected avatar is not the client''s');

-- Retention -------------------------------------------------------------------
select tests.authenticate_as('owner');
select throws_ok($$ select public.retention_purge(10) $$, '42501', null,
  'an owner cannot run the retention purge');
select throws_ok($$ select * from public.retention_purges $$, '42501', null,
  'nor read what it purged');
select throws_ok($$ select private.retention_purge(10, now() + interval '50 years') $$, '42501', null,
  'nor call its core with another clock');

select tests.authenticate_as_service_role();
select throws_ok($$ select public.retention_purge(0) $$, '22023', null, 'a chunk of 0 is refused');

select tests.as_superuser();
insert into public.email_deliveries (kind, organization_id, user_id, period_start, period_end, status, created_at)
select 'weekly_summary', tests.org('main'), tests.actor('owner'), current_date - 200 - n * 7,
       current_date - 194 - n * 7, case when n = 4 then 'pending' else 'sent' end,
       now() - interval '100 days'
  from generate_series(1, 4) as n;
insert into public.email_deliveries (kind, organization_id, user_id, period_start, period_end, status, created_at)
values ('weekly_summary', tests.org('main'), tests.actor('owner'), current_date - 14, current_date - 8,
        'sent', now() - interval '80 days');
update public.organizations set closed_at = now() - interval '7 years 1 day'
 where id = tests.org('other');
create temp table closed_org as select tests.org('other') as id, tests.org('main') as main;
grant select on closed_org to service_role;

select tests.authenticate_as_service_role();
select is(public.retention_purge(2) -> 'email_deliveries', '2'::jsonb,
  'a chunk purges at most its size');
select is(public.retention_purge(2) -> 'email_deliveries', '1'::jsonb,
  'the next chunk the rest: settled rows older than 90 days only');
select tests.as_superuser();
select is(
  (select array_agg(status || ':' || (created_at > now() - interval '90 days')::text order by status)
     from public.email_deliveries where organization_id = tests.org('main')),
  array['pending:false', 'sent:true'], 'the pending row and the recent one stay');
select is(
  (select array_agg(o.id = c.main) from public.organizations o, closed_org c where o.id in (c.id, c.main)),
  array[true], 'the organization closed more than 7 years ago is gone, the open one stays');
select is(
  (select array_agg(rule || '/' || table_name || '/' || row_count order by id) from public.retention_purges),
  array['system_logs_90_days/email_deliveries/2', 'closed_organization_7_years/organizations/1',
        'system_logs_90_days/email_deliveries/1'],
  'every purge is recorded');

select * from finish();
rollback;
