-- =============================================================================
-- Realtime and an organization that requires MFA (migration 20261206140200): the
-- restrictive mfa_required policy on realtime.messages, checked the way the Realtime
-- server checks a join and a send (as 610 does): below aal2 a member neither receives
-- nor sends on the organization's topics; at aal2 the roles decide as before; other
-- organizations' topics and the member's own organization are unaffected.
-- =============================================================================
begin;
select plan(8);

select tests.create_cast();

create function pg_temp.act_as(who text, aal text) returns void language plpgsql as $$
begin
  perform tests.authenticate_as(who);
  perform set_config('request.jwt.claims',
    (current_setting('request.jwt.claims')::jsonb || jsonb_build_object('aal', aal))::text, true);
end;
$$;

create function pg_temp.may_receive(who text, aal text, topic text) returns boolean
language plpgsql as $$
declare
  probe uuid := gen_random_uuid();
  seen boolean;
begin
  perform tests.as_superuser();
  insert into realtime.messages (id, topic, extension) values (probe, topic, 'broadcast');
  perform pg_temp.act_as(who, aal);
  perform set_config('realtime.topic', topic, true);
  seen := exists (select 1 from realtime.messages m where m.id = probe);
  perform tests.as_superuser();
  return seen;
end;
$$;

create function pg_temp.may_send(who text, aal text, topic text) returns boolean
language plpgsql as $$
begin
  perform pg_temp.act_as(who, aal);
  perform set_config('realtime.topic', topic, true);
  begin
    insert into realtime.messages (topic, extension) values (topic, 'broadcast');
  exception when insufficient_privilege then
    perform tests.as_superuser();
    return false;
  end;
  perform tests.as_superuser();
  return true;
end;
$$;

create function pg_temp.topic(org uuid, channel text) returns text language sql as $$
  select 'org:' || org::text || ':' || channel
$$;

update public.organization_settings set require_mfa = true where organization_id = tests.org('main');

select ok(not pg_temp.may_receive('member', 'aal1', pg_temp.topic(tests.org('main'), 'dashboard')),
  'below aal2 a member does not receive the organization''s topics');
select ok(not pg_temp.may_send('member', 'aal1', pg_temp.topic(tests.org('main'), 'team')),
  'nor sends on its team channel');
select ok(not pg_temp.may_receive('owner', 'aal1', pg_temp.topic(tests.org('main'), 'team')),
  'the owner below aal2 neither');
select ok(pg_temp.may_receive('member', 'aal2', pg_temp.topic(tests.org('main'), 'dashboard')),
  'at aal2 the member receives');
select ok(pg_temp.may_send('member', 'aal2', pg_temp.topic(tests.org('main'), 'team')),
  'and sends on the team channel');
select ok(not pg_temp.may_send('viewer', 'aal2', pg_temp.topic(tests.org('main'), 'team')),
  'a viewer at aal2 still does not send');
select ok(pg_temp.may_send('member', 'aal1', pg_temp.topic(tests.personal_org('member'), 'team')),
  'the member''s own organization is unaffected at aal1');
select ok(pg_temp.may_receive('stranger', 'aal1', pg_temp.topic(tests.org('other'), 'dashboard')),
  'another organization''s member is unaffected');

select * from finish();
rollback;
