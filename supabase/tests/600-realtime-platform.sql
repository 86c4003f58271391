-- =============================================================================
-- The realtime schema's objects the project's realtime design uses, as Supabase
-- Realtime makes them (devstack/sql/platform.sql reproduces them locally; a real
-- Supabase project has them): realtime.messages partitioned by day on inserted_at,
-- RLS on, owned by supabase_realtime_admin, the API roles' select/insert/update;
-- realtime.topic(), realtime.send() (a failure is a warning, never the caller's
-- error) and realtime.broadcast_changes(); and the migrations' policies (the realtime
-- migration's two, 20261206140200_require_mfa's restrictive one), nothing else changed
-- on the table.
-- =============================================================================
begin;
select plan(19);

select has_table('realtime', 'messages', 'realtime.messages exists');
select is((select relkind::text from pg_class where oid = 'realtime.messages'::regclass), 'p',
  'it is partitioned');
select is(pg_get_partkeydef('realtime.messages'::regclass), 'RANGE (inserted_at)',
  'by range of inserted_at');
select ok((select relrowsecurity from pg_class where oid = 'realtime.messages'::regclass),
  'with row level security enabled');
select is((select pg_get_userbyid(relowner)::text from pg_class where oid = 'realtime.messages'::regclass),
  'supabase_realtime_admin', 'owned by supabase_realtime_admin, not by the migrations');
select columns_are('realtime', 'messages',
  array['topic', 'extension', 'payload', 'event', 'private', 'updated_at', 'inserted_at', 'id',
        'binary_payload'],
  'with the columns Realtime gives it (the migrations add none)');
select table_privs_are('realtime', 'messages', 'authenticated', array['SELECT', 'INSERT', 'UPDATE'],
  'authenticated may select, insert and update it (RLS decides which rows)');
select table_privs_are('realtime', 'messages', 'anon', array['SELECT', 'INSERT', 'UPDATE'],
  'anon likewise (and no policy lets it see or send anything)');
select ok(not has_schema_privilege('postgres', 'realtime', 'CREATE'),
  'postgres may not create objects in the realtime schema');

select has_function('realtime', 'topic', array[]::text[], 'realtime.topic() exists');
select has_function('realtime', 'send', array['jsonb', 'text', 'text', 'boolean'],
  'realtime.send(payload, event, topic, private) exists');
select has_function('realtime', 'broadcast_changes',
  array['text', 'text', 'text', 'text', 'text', 'record', 'record', 'text'],
  'realtime.broadcast_changes(...) exists');

select policies_are('realtime', 'messages', array[
  'Members receive their organization''s realtime messages',
  'Members and above send on their organization''s team channel',
  'mfa_required'],
  'the policies on realtime.messages are the realtime migration''s two and the MFA requirement''s');

-- realtime.send stores a private broadcast with an id in its payload, and sets the topic.
select realtime.send('{"hello": "world"}', 'greeting', 'org:00000000-0000-4000-8000-7e5700000600:team');
select results_eq(
  $$ select extension, event, private, payload ->> 'hello', (payload ->> 'id')::uuid = id
     from realtime.messages where topic = 'org:00000000-0000-4000-8000-7e5700000600:team' $$,
  $$ values ('broadcast'::text, 'greeting'::text, true, 'world'::text, true) $$,
  'realtime.send stores a private broadcast whose payload carries the message id');
select is(realtime.topic(), 'org:00000000-0000-4000-8000-7e5700000600:team',
  'and sets realtime.topic for the rest of the transaction');
select realtime.send('{"id": "given"}', 'greeting', 'org:00000000-0000-4000-8000-7e5700000600:team', false);
select is((select count(*)::int from realtime.messages
           where topic = 'org:00000000-0000-4000-8000-7e5700000600:team' and not private
             and payload ->> 'id' = 'given'), 1,
  'a payload with its own id keeps it; private false is stored as given');

-- A message that cannot be stored is a warning, not the caller's error.
select lives_ok($$ select realtime.send('{}', 'lost', null) $$,
  'realtime.send does not raise when the message cannot be stored');
select is((select count(*)::int from realtime.messages where event = 'lost'), 0, 'and stores nothing');

select throws_ok(
  $$ select realtime.broadcast_changes('t', 'e', 'INSERT', 'x', 'public', null::record, null::record, 'STATEMENT') $$,
  'P0001', null, 'broadcast_changes refuses statement level, as on Supabase');

select * from finish();
rollback;
