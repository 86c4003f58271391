-- =============================================================================
-- The settings RPCs of the HTTP API: get_settings answers the three sections;
-- update_settings changes any of them in one transaction (a refused section
-- changes nothing), merges notification flags and reminder settings key by
-- key, refuses unknown keys, a read-only email, a lower invoice counter and an
-- unsafe prefix, and lets only admins and owners change the business. The JSON
-- columns keep their shape for every writer (constraints).
-- =============================================================================
begin;
select plan(35);

select tests.create_cast();
-- A last name, for the check that a change keeps the fields it does not name.
update public.profiles set last_name = 'Owner' where id = tests.actor('owner');

create function pg_temp.org() returns uuid
language sql stable as $$ select tests.org('main') $$;

-- get_settings ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select results_eq(
  $$ select s -> 'profile' ->> 'first_name', s -> 'business' ->> 'business_name',
            (s -> 'notifications' -> 'email_notifications' ->> 'weeklyReport')::boolean,
            (s -> 'business' -> 'reminder_settings' ->> 'repeatEveryDays')::integer
     from public.get_settings(pg_temp.org()) s $$,
  $$ values ('Olive'::text, 'Victim Co'::text, true, 1) $$,
  'get_settings answers the profile, the business and the notification preferences'
);
select is(
  public.get_settings() -> 'business', 'null'::jsonb,
  'without an organization there is no business section'
);

-- update_settings: each section ---------------------------------------------------------
select is(
  public.update_settings(profile => '{"first_name": " Olivia ", "phone": "+1 555"}') -> 'profile' ->> 'first_name',
  'Olivia', 'a profile change is trimmed and answered'
);
select results_eq(
  $$ select first_name, last_name, phone from public.profiles where id = tests.actor('owner') $$,
  $$ values ('Olivia'::text, 'Owner'::text, '+1 555'::text) $$,
  'fields absent from the change keep their value'
);
select is(
  public.update_settings(profile => '{"phone": null}') -> 'profile' -> 'phone', 'null'::jsonb,
  'null clears an optional field'
);
select throws_ok(
  $$ select public.update_settings(profile => '{"email": "new@example.com"}') $$,
  '22023', 'profile.email cannot be changed here; it is the account''s email',
  'the email is read-only'
);
select throws_ok(
  $$ select public.update_settings(profile => '{"nickname": "O"}') $$,
  '22023', 'profile.nickname is not a setting that can be changed', 'unknown profile keys are refused'
);

select is(
  public.update_settings(notifications => '{"email_notifications": {"weeklyReport": false}}')
    -> 'notifications' -> 'email_notifications',
  '{"paymentReceived": true, "invoiceOverdue": true, "paymentReminder": true, "newClient": true,
    "weeklyReport": false, "monthlyReport": true}'::jsonb,
  'notification flags merge key by key'
);
select throws_ok(
  $$ select public.update_settings(notifications => '{"email_notifications": {"smsSpam": true}}') $$,
  '22023', 'notifications.email_notifications.smsSpam is not a setting that can be changed',
  'unknown notification keys are refused'
);
select throws_ok(
  $$ select public.update_settings(notifications => '{"push_notifications": {"systemUpdates": "no"}}') $$,
  '22023', 'notifications.push_notifications.systemUpdates must be true or false',
  'notification flags are booleans'
);

select results_eq(
  $$ select b ->> 'default_currency', b ->> 'invoice_prefix', (b ->> 'default_tax_rate')::numeric,
            (b -> 'reminder_settings' ->> 'repeatEveryDays')::integer,
            jsonb_path_query_array(b -> 'reminder_settings', '$.levels[*].days')
     from (select public.update_settings(pg_temp.org(), business => '{"default_currency": "eur",
             "invoice_prefix": "SC/2026/", "default_tax_rate": "19.5",
             "reminder_settings": {"repeatEveryDays": 3}}') -> 'business' b) s $$,
  $$ values ('EUR'::text, 'SC/2026/'::text, 19.5, 3, '[-7, 1]'::jsonb) $$,
  'an owner changes the business; the currency is upper-cased; reminder settings merge'
);
select throws_like(
  $$ select public.update_settings(pg_temp.org(), business => '{"invoice_prefix": "<b>"}') $$,
  'business.invoice_prefix may hold%', 'an unsafe prefix is refused'
);
select throws_like(
  $$ select public.update_settings(pg_temp.org(), business => '{"invoice_prefix": "ABCDEFGHIJKLMNOPQRSTU"}') $$,
  'business.invoice_prefix may hold%', 'a prefix longer than 20 is refused'
);
select throws_like(
  $$ select public.update_settings(pg_temp.org(), business => '{"default_tax_rate": 100.5}') $$,
  'business.default_tax_rate must be between 0 and 100%', 'a tax rate above 100 is refused'
);
select throws_like(
  $$ select public.update_settings(pg_temp.org(), business => '{"default_tax_rate": 1.2345}') $$,
  'business.default_tax_rate must be between 0 and 100%', 'a tax rate with 4 decimals is refused'
);
select throws_ok(
  $$ select public.update_settings(pg_temp.org(), business => '{"tax_label": null}') $$,
  '23502', null, 'a required business field cannot be cleared'
);
select throws_ok(
  $$ select public.update_settings(pg_temp.org(), business => '{"default_template": "fancy"}') $$,
  '23514', null, 'an unknown template is refused'
);
select throws_ok(
  $$ select public.update_settings(pg_temp.org(), business => '{"reminder_settings": {"repeatEveryDays": 0}}') $$,
  '22023', 'business.reminder_settings.repeatEveryDays: must be a whole number of days from 1 to 365, or null',
  'a repeat out of range is refused, naming the field'
);
select throws_ok(
  $$ select public.update_settings(pg_temp.org(), business => '{"reminder_settings": {"snooze": true}}') $$,
  '22023', 'business.reminder_settings.snooze is not a setting that can be changed',
  'unknown reminder keys are refused'
);
select throws_ok(
  $$ select public.update_settings(pg_temp.org(), business => '{"reminder_settings": {"overdueFrequency": "daily"}}') $$,
  '22023', 'business.reminder_settings.overdueFrequency: replaced by levels and repeatEveryDays (docs/api.md, "Reminder levels")',
  'the old reminder keys are refused, saying what replaced them'
);
select throws_ok(
  $$ select public.update_settings(pg_temp.org(), business => '{"reminder_settings": {"lateFee": {"type": "fixed", "amount": 5, "levels": [3]}}}') $$,
  '22023', 'business.reminder_settings.lateFee.levels: there is no level 3 (2 levels)',
  'the merged settings are checked: a late fee names a level the stored settings have'
);

-- The counter only goes up.
select is(
  (public.update_settings(pg_temp.org(), business => '{"next_invoice_number": 1000}') -> 'business' ->> 'next_invoice_number')::bigint,
  1000::bigint, 'the invoice counter can go up'
);
select throws_ok(
  $$ select public.update_settings(pg_temp.org(), business => '{"next_invoice_number": 999}') $$,
  '23514', 'business.next_invoice_number can only go up; it is 1000 now', 'but not down'
);

-- One transaction ------------------------------------------------------------------
select throws_ok(
  $$ select public.update_settings(pg_temp.org(),
       profile => '{"first_name": "Changed"}',
       notifications => '{"push_notifications": {"systemUpdates": false}}',
       business => '{"next_invoice_number": 5}') $$,
  '23514', null, 'a refused business section refuses the whole change'
);
select results_eq(
  $$ select p.first_name, (s.push_notifications ->> 'systemUpdates')::boolean
     from public.profiles p join public.user_settings s on s.user_id = p.id
     where p.id = tests.actor('owner') $$,
  $$ values ('Olivia'::text, true) $$,
  'and nothing of the other sections was written'
);

-- Roles ----------------------------------------------------------------------------
select tests.authenticate_as('admin');
select is(
  public.update_settings(pg_temp.org(), business => '{"business_name": "Admin Renamed"}') -> 'business' ->> 'business_name',
  'Admin Renamed', 'an admin changes the business'
);

select tests.authenticate_as('member');
select is(
  public.get_settings(pg_temp.org()) -> 'business' ->> 'business_name', 'Admin Renamed',
  'a member reads the business'
);
select throws_ok(
  $$ select public.update_settings(pg_temp.org(), business => '{"business_name": "Member Co"}') $$,
  '42501', 'changing business settings needs the admin role or above', 'a member cannot change it'
);
select throws_ok(
  $$ select public.update_settings(pg_temp.org(), profile => '{"first_name": "Max"}',
                                   business => '{"business_name": "Member Co"}') $$,
  '42501', null, 'nor sneak a business change next to a profile change'
);
select isnt(
  (select first_name from public.profiles where id = tests.actor('member')), 'Max',
  'which left the member''s profile as it was'
);
select is(
  public.update_settings(pg_temp.org(), profile => '{"first_name": "Max"}') -> 'profile' ->> 'first_name',
  'Max', 'a member changes their own profile'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ select public.get_settings(pg_temp.org()) $$,
  '42501', 'you are not a member of this organization',
  'a stranger cannot read another organization''s settings'
);

select tests.clear_authentication();
select throws_ok(
  $$ select public.update_settings(profile => '{"first_name": "Anon"}') $$,
  '42501', null, 'anon cannot call update_settings'
);

-- Shapes for every writer ------------------------------------------------------------
select tests.authenticate_as('owner');
select throws_ok(
  $$ update public.user_settings set email_notifications = email_notifications || '{"weeklyReport": "yes"}'
     where user_id = tests.actor('owner') $$,
  '23514', null, 'a direct write of a non-boolean flag is refused'
);
select throws_ok(
  $$ update public.organization_settings set reminder_settings = '{"levels": [{"days": 366, "subject": "s", "message": "m"}]}'
     where organization_id = pg_temp.org() $$,
  '23514', null, 'a direct write of reminder settings out of range is refused'
);

select * from finish();
rollback;
