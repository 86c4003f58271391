-- =============================================================================
-- RLS on public.organization_settings: every member reads them, admins and
-- owners change them, nobody but the service role inserts or deletes them
-- (the row comes with the organization).
-- =============================================================================
begin;
select plan(38);

-- Set-up ----------------------------------------------------------------------
select tests.create_cast();

-- SELECT ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select results_eq(
  $$ select business_name from public.organization_settings where organization_id = tests.org('main') $$,
  $$ values ('Victim Co'::text) $$,
  'owner can read the organization''s settings'
);

select tests.authenticate_as('admin');
select isnt_empty(
  $$ select 1 from public.organization_settings where organization_id = tests.org('main') $$,
  'admin can read the organization''s settings'
);

select tests.authenticate_as('member');
select isnt_empty(
  $$ select 1 from public.organization_settings where organization_id = tests.org('main') $$,
  'member can read the organization''s settings'
);

select tests.authenticate_as('viewer');
select isnt_empty(
  $$ select 1 from public.organization_settings where organization_id = tests.org('main') $$,
  'viewer can read the organization''s settings'
);

select tests.authenticate_as('stranger');
select is_empty(
  $$ select 1 from public.organization_settings where organization_id = tests.org('main') $$,
  'stranger cannot read the organization''s settings'
);
select isnt_empty(
  $$ select 1 from public.organization_settings where organization_id = tests.org('other') $$,
  'stranger can read their own organization''s settings'
);

select tests.clear_authentication();
select throws_ok(
  $$ select 1 from public.organization_settings $$,
  '42501', null,
  'anon cannot read organization settings'
);

select tests.authenticate_as_service_role();
select is(
  (select count(*)::int from public.organization_settings
   where organization_id in (tests.org('main'), tests.org('other'))),
  2, 'the service role can read every organization''s settings'
);

-- INSERT ----------------------------------------------------------------------
select tests.as_superuser();
delete from public.organization_settings where organization_id = tests.org('other');

select tests.authenticate_as('owner');
select throws_ok(
  $$ insert into public.organization_settings (organization_id) values (tests.org('main')) $$,
  '42501', null,
  'owner cannot insert a settings row'
);

select tests.authenticate_as('admin');
select throws_ok(
  $$ insert into public.organization_settings (organization_id) values (tests.org('main')) $$,
  '42501', null,
  'admin cannot insert a settings row'
);

select tests.authenticate_as('member');
select throws_ok(
  $$ insert into public.organization_settings (organization_id) values (tests.org('main')) $$,
  '42501', null,
  'member cannot insert a settings row'
);

select tests.authenticate_as('viewer');
select throws_ok(
  $$ insert into public.organization_settings (organization_id) values (tests.org('main')) $$,
  '42501', null,
  'viewer cannot insert a settings row'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ insert into public.organization_settings (organization_id) values (tests.org('other')) $$,
  '42501', null,
  'stranger cannot insert a settings row, even for their own organization missing one'
);

select tests.clear_authentication();
select throws_ok(
  $$ insert into public.organization_settings (organization_id) values (tests.org('other')) $$,
  '42501', null,
  'anon cannot insert a settings row'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ insert into public.organization_settings (organization_id, business_name)
     values (tests.org('other'), 'Stranger Co') $$,
  'the service role can insert a settings row'
);
select is(
  (select business_name from public.organization_settings where organization_id = tests.org('other')),
  'Stranger Co',
  'the settings row inserted by the service role is there'
);

-- UPDATE ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select lives_ok(
  $$ update public.organization_settings set business_name = 'Victim Holdings', invoice_prefix = 'VH-'
     where organization_id = tests.org('main') $$,
  'owner can change the organization''s settings'
);
select results_eq(
  $$ select business_name, invoice_prefix from public.organization_settings
     where organization_id = tests.org('main') $$,
  $$ values ('Victim Holdings'::text, 'VH-'::text) $$,
  'owner''s settings change is stored'
);

select tests.authenticate_as('admin');
select lives_ok(
  $$ update public.organization_settings set default_currency = 'EUR', default_tax_rate = 20
     where organization_id = tests.org('main') $$,
  'admin can change the organization''s settings'
);
select results_eq(
  $$ select default_currency, default_tax_rate from public.organization_settings
     where organization_id = tests.org('main') $$,
  $$ values ('EUR'::text, 20::numeric(6, 3)) $$,
  'admin''s settings change is stored'
);
select throws_ok(
  $$ update public.organization_settings set organization_id = tests.personal_org('admin')
     where organization_id = tests.org('main') $$,
  '42501', null,
  'admin cannot move the settings to another organization'
);
select throws_ok(
  $$ update public.organization_settings set created_at = now() - interval '1 year'
     where organization_id = tests.org('main') $$,
  '42501', null,
  'admin cannot rewrite when the settings were created'
);

select tests.authenticate_as('member');
select is(tests.rows_affected($$
  update public.organization_settings set business_name = 'Changed by member'
  where organization_id = tests.org('main') returning 1
$$), 0, 'member cannot change the organization''s settings');

select tests.authenticate_as('viewer');
select is(tests.rows_affected($$
  update public.organization_settings set business_name = 'Changed by viewer'
  where organization_id = tests.org('main') returning 1
$$), 0, 'viewer cannot change the organization''s settings');

select tests.authenticate_as('stranger');
select is(tests.rows_affected($$
  update public.organization_settings set business_email = 'pay-me@other.test', next_invoice_number = 1
  where organization_id = tests.org('main') returning 1
$$), 0, 'stranger cannot change the organization''s settings');

select tests.clear_authentication();
select throws_ok(
  $$ update public.organization_settings set business_name = 'Changed by anon' $$,
  '42501', null,
  'anon cannot change organization settings'
);

select tests.as_superuser();
select results_eq(
  $$ select business_name, business_email from public.organization_settings
     where organization_id = tests.org('main') $$,
  $$ values ('Victim Holdings'::text, 'owner@victim.test'::text) $$,
  'the refused changes left the settings as the owner and admin set them'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ update public.organization_settings set tax_label = 'VAT'
     where organization_id = tests.org('main') $$,
  'the service role can change any organization''s settings'
);
select is(
  (select tax_label from public.organization_settings where organization_id = tests.org('main')),
  'VAT',
  'the service role''s settings change is stored'
);

-- DELETE ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select throws_ok(
  $$ delete from public.organization_settings where organization_id = tests.org('main') $$,
  '42501', null,
  'owner cannot delete the settings row'
);

select tests.authenticate_as('admin');
select throws_ok(
  $$ delete from public.organization_settings where organization_id = tests.org('main') $$,
  '42501', null,
  'admin cannot delete the settings row'
);

select tests.authenticate_as('member');
select throws_ok(
  $$ delete from public.organization_settings where organization_id = tests.org('main') $$,
  '42501', null,
  'member cannot delete the settings row'
);

select tests.authenticate_as('viewer');
select throws_ok(
  $$ delete from public.organization_settings where organization_id = tests.org('main') $$,
  '42501', null,
  'viewer cannot delete the settings row'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ delete from public.organization_settings where organization_id = tests.org('main') $$,
  '42501', null,
  'stranger cannot delete the settings row'
);

select tests.clear_authentication();
select throws_ok(
  $$ delete from public.organization_settings $$,
  '42501', null,
  'anon cannot delete settings rows'
);

select tests.as_superuser();
select isnt_empty(
  $$ select 1 from public.organization_settings where organization_id = tests.org('main') $$,
  'the refused deletions left the settings row in place'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ delete from public.organization_settings where organization_id = tests.org('other') $$,
  'the service role can delete a settings row'
);
select is_empty(
  $$ select 1 from public.organization_settings where organization_id = tests.org('other') $$,
  'the settings row deleted by the service role is gone'
);

select * from finish();
rollback;
