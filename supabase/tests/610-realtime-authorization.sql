-- =============================================================================
-- Realtime Authorization on the organizations' private topics, checked the way the
-- Realtime server checks a join (Realtime.Tenants.Authorization): receiving, a probe
-- row for the topic inserted by the server and selected back as the user with
-- realtime.topic set; sending (client broadcast, Presence track), a row inserted as
-- the user. Every member receives their organization's topics, viewers included; only
-- members and above send, on the team channel alone; a stranger, anon, another
-- organization's topic and a malformed one get nothing.
-- =============================================================================
begin;
select plan(30);

select tests.create_cast();

-- may_receive(actor, topic, extension): the server's read check.
create function pg_temp.may_receive(who text, topic text, ext text default 'broadcast')
returns boolean language plpgsql as $$
declare
  probe uuid := gen_random_uuid();
  seen boolean;
begin
  perform tests.as_superuser();
  insert into realtime.messages (id, topic, extension) values (probe, topic, ext);
  perform tests.authenticate_as(who);
  perform set_config('realtime.topic', topic, true);
  seen := exists (select 1 from realtime.messages m where m.id = probe);
  perform tests.as_superuser();
  return seen;
end;
$$;

-- may_send(actor, topic, extension): the server's write check (42501 = refused).
create function pg_temp.may_send(who text, topic text, ext text default 'broadcast')
returns boolean language plpgsql as $$
begin
  perform tests.authenticate_as(who);
  perform set_config('realtime.topic', topic, true);
  begin
    insert into realtime.messages (topic, extension) values (topic, ext);
  exception when insufficient_privilege then
    perform tests.as_superuser();
    return false;
  end;
  perform tests.as_superuser();
  return true;
end;
$$;

create function pg_temp.topic(which text, channel text) returns text language sql as $$
  select 'org:' || tests.org(which)::text || ':' || channel
$$;

-- Receiving: every member of main, on every channel.
select ok(pg_temp.may_receive('owner', pg_temp.topic('main', 'imports')), 'the owner receives imports');
select ok(pg_temp.may_receive('admin', pg_temp.topic('main', 'matching')), 'an admin receives match results');
select ok(pg_temp.may_receive('member', pg_temp.topic('main', 'exceptions')), 'a member receives exception changes');
select ok(pg_temp.may_receive('viewer', pg_temp.topic('main', 'dashboard')), 'a viewer receives dashboard signals');
select ok(pg_temp.may_receive('viewer', pg_temp.topic('main', 'imports')), 'a viewer receives imports');
select ok(pg_temp.may_receive('viewer', pg_temp.topic('main', 'team')), 'a viewer receives the team channel''s broadcasts');
select ok(pg_temp.may_receive('viewer', pg_temp.topic('main', 'team'), 'presence'), 'and its presence');
select ok(pg_temp.may_receive('stranger', pg_temp.topic('other', 'imports')), 'the stranger receives its own organization''s topics');

-- Not receiving: outsiders, other topics.
select ok(not pg_temp.may_receive('stranger', pg_temp.topic('main', 'imports')), 'a stranger does not receive main''s imports');
select ok(not pg_temp.may_receive('stranger', pg_temp.topic('main', 'dashboard')), 'nor its dashboard signals');
select ok(not pg_temp.may_receive('stranger', pg_temp.topic('main', 'team'), 'presence'), 'nor its presence');
select ok(not pg_temp.may_receive('owner', pg_temp.topic('other', 'exceptions')), 'main''s owner does not receive other''s exceptions');
select ok(not pg_temp.may_receive('anon', pg_temp.topic('main', 'imports')), 'anon receives nothing');
select ok(not pg_temp.may_receive('owner', pg_temp.topic('main', 'payroll')), 'an unknown channel is nobody''s');
select ok(not pg_temp.may_receive('owner', 'org:' || tests.org('main')::text), 'nor a topic without a channel');
select ok(not pg_temp.may_receive('owner', 'org:not-a-uuid:imports'), 'a malformed topic is refused, not an error');
select ok(not pg_temp.may_receive('owner', pg_temp.topic('main', 'imports') || ':x'), 'nor one with a tail');
select ok(not pg_temp.may_receive('owner', pg_temp.topic('main', 'imports'), 'postgres_changes'), 'only the broadcast and presence extensions');

-- Sending: members and above, on the team channel.
select ok(pg_temp.may_send('owner', pg_temp.topic('main', 'team')), 'the owner sends on the team channel');
select ok(pg_temp.may_send('admin', pg_temp.topic('main', 'team')), 'an admin too');
select ok(pg_temp.may_send('member', pg_temp.topic('main', 'team')), 'a member too');
select ok(pg_temp.may_send('member', pg_temp.topic('main', 'team'), 'presence'), 'and tracks its presence there');
select ok(not pg_temp.may_send('viewer', pg_temp.topic('main', 'team')), 'a viewer never sends');
select ok(not pg_temp.may_send('viewer', pg_temp.topic('main', 'team'), 'presence'), 'nor tracks its presence');
select ok(not pg_temp.may_send('member', pg_temp.topic('main', 'imports')), 'nobody sends on what the database broadcasts (imports)');
select ok(not pg_temp.may_send('owner', pg_temp.topic('main', 'dashboard')), 'not even the owner (dashboard)');
select ok(not pg_temp.may_send('stranger', pg_temp.topic('main', 'team')), 'a stranger does not send on main''s team channel');
select ok(not pg_temp.may_send('anon', pg_temp.topic('main', 'team')), 'anon sends nothing');
select ok(pg_temp.may_send('stranger', pg_temp.topic('other', 'team')), 'the stranger sends on its own team channel');

-- The service role (the server's own work) is not held by the policies.
select tests.authenticate_as_service_role();
select lives_ok(
  format($$ insert into realtime.messages (topic, extension) values (%L, 'broadcast') $$,
         pg_temp.topic('main', 'imports')),
  'the service role bypasses them');
select tests.as_superuser();

select * from finish();
rollback;
