-- =============================================================================
-- Teams (migration 20261206140100_teams.sql): members managed by the rules (admins
-- manage viewers and members, owners everyone, nobody raises their own role, the last
-- owner stays, also against Auth's delete), organizations deleted or closed (read-only,
-- hidden from api_context), invitations (rights, one pending per address, hashed
-- tokens, every refusal of accept its own status, the failed-attempt window, the
-- preview for the service role only), the audit entries of organizations, members and
-- invitations with their actor, audit_history for admins only.
-- =============================================================================
begin;
select plan(94);

select tests.create_cast();
select tests.create_supabase_user('admin2', 'admin2@victim.test');
select tests.create_supabase_user('guest', 'Guest@Invited.test');
select tests.create_supabase_user('unconfirmed', 'unconfirmed@invited.test');
select tests.create_supabase_user('solo', 'solo@alone.test');
select tests.add_member(tests.org('main'), 'admin2', 'admin');
update auth.users set email_confirmed_at = null where id = tests.actor('unconfirmed');

create function pg_temp.role_of(identifier text)
returns public.membership_role
language sql
security definer
set search_path = ''
as $$
  select m.role from public.memberships m
  where m.organization_id = tests.org('main') and m.user_id = tests.actor(identifier)
$$;
grant execute on function pg_temp.role_of(text) to anon, authenticated, service_role;

-- Role changes ------------------------------------------------------------------
select tests.authenticate_as('admin');
select is(public.change_member_role(tests.org('main'), tests.actor('viewer'), 'member') ->> 'role',
          'member', 'an admin makes a viewer a member');
select is(public.change_member_role(tests.org('main'), tests.actor('viewer'), 'admin') ->> 'role',
          'admin', 'an admin makes a member an admin');
select throws_ok($$ select public.change_member_role(tests.org('main'), tests.actor('admin2'), 'viewer') $$,
                 '42501', 'only owners change the role of admins and owners',
                 'an admin cannot demote another admin');
select throws_ok($$ select public.change_member_role(tests.org('main'), tests.actor('member'), 'owner') $$,
                 '42501', 'only owners make owners', 'an admin cannot make an owner');
select throws_ok($$ select public.change_member_role(tests.org('main'), tests.actor('owner'), 'viewer') $$,
                 '42501', null, 'an admin cannot demote an owner');
select throws_ok($$ select public.change_member_role(tests.org('main'), tests.actor('admin'), 'owner') $$,
                 '42501', 'nobody can raise their own role', 'an admin cannot raise their own role');
select throws_ok($$ select public.change_member_role(tests.org('main'), tests.actor('stranger'), 'viewer') $$,
                 'P0002', 'member not found', 'a non-member is not found');
select is(tests.rows_affected($$
  update public.memberships set role = 'viewer'
  where organization_id = tests.org('main') and user_id = tests.actor('admin2') returning 1 $$),
  0, 'through PostgREST too, an admin changes no other admin''s role');
select is(tests.rows_affected($$
  delete from public.memberships
  where organization_id = tests.org('main') and user_id = tests.actor('admin2') returning 1 $$),
  0, 'through PostgREST too, an admin removes no other admin');

select tests.authenticate_as('member');
select throws_ok($$ select public.change_member_role(tests.org('main'), tests.actor('viewer'), 'viewer') $$,
                 '42501', 'changing roles needs the admin role or above', 'a member changes no role');

select tests.authenticate_as('stranger');
select throws_ok($$ select public.change_member_role(tests.org('main'), tests.actor('viewer'), 'viewer') $$,
                 '42501', 'you are not a member of this organization', 'a stranger changes no role');

select tests.clear_authentication();
select throws_ok($$ select public.change_member_role(tests.org('main'), tests.actor('viewer'), 'viewer') $$,
                 '42501', null, 'anon may not call it');

select tests.authenticate_as('owner');
select is(public.change_member_role(tests.org('main'), tests.actor('admin2'), 'member') ->> 'role',
          'member', 'an owner demotes an admin');
select throws_ok($$ select public.change_member_role(tests.org('main'), tests.actor('owner'), 'admin') $$,
                 '23514', 'the last owner of an organization cannot be demoted',
                 'the last owner cannot be demoted');
select is(pg_temp.role_of('owner'), 'owner', 'and stays owner');

-- The trigger, whatever the path: a session past RLS speaking as the member.
select tests.as_superuser();
select set_config('request.jwt.claims', json_build_object('sub', tests.actor('member'))::text, true);
select throws_ok($$ update public.memberships set role = 'admin'
                    where organization_id = tests.org('main') and user_id = tests.actor('member') $$,
                 '42501', 'nobody can raise their own role', 'nobody raises their own role, by any path');
select lives_ok($$ update public.memberships set role = 'viewer'
                   where organization_id = tests.org('main') and user_id = tests.actor('member') $$,
                'lowering one''s own role is allowed');
select set_config('request.jwt.claims', '', true);
update public.memberships set role = 'member'
where organization_id = tests.org('main') and user_id = tests.actor('member');

-- Remove, leave, transfer ------------------------------------------------------
select tests.authenticate_as('member');
select throws_ok($$ select public.remove_member(tests.org('main'), tests.actor('viewer')) $$,
                 '42501', 'removing members needs the admin role or above', 'a member removes nobody');
select tests.authenticate_as('admin');
select throws_ok($$ select public.remove_member(tests.org('main'), tests.actor('owner')) $$,
                 '42501', 'only owners remove admins and owners', 'an admin cannot remove an owner');
select tests.authenticate_as('owner');
select throws_ok($$ select public.remove_member(tests.org('main'), tests.actor('owner')) $$,
                 '23514', 'the last owner of an organization cannot be removed',
                 'the last owner cannot be removed');
select throws_ok($$ select public.leave_organization(tests.org('main')) $$,
                 '23514', 'the last owner of an organization cannot leave it',
                 'the last owner cannot leave');
select lives_ok($$ select public.remove_member(tests.org('main'), tests.actor('admin2')) $$,
                'an owner removes a member');
select is(pg_temp.role_of('admin2'), null, 'who is gone');

select tests.authenticate_as('owner');
select throws_ok($$ select public.transfer_ownership(tests.org('main'), tests.actor('owner')) $$,
                 '22023', null, 'the ownership goes to someone else');
select tests.authenticate_as('admin');
select throws_ok($$ select public.transfer_ownership(tests.org('main'), tests.actor('member')) $$,
                 '42501', 'only owners transfer the ownership', 'an admin transfers nothing');
select tests.authenticate_as('owner');
select is(public.transfer_ownership(tests.org('main'), tests.actor('admin')) ->> 'role', 'owner',
          'the owner hands the ownership to the admin');
select results_eq($$ select pg_temp.role_of('owner'), pg_temp.role_of('admin') $$,
                  $$ values ('admin'::public.membership_role, 'owner'::public.membership_role) $$,
                  'the former owner is an admin, the admin an owner');
select lives_ok($$ select public.leave_organization(tests.org('main')) $$,
                'the former owner may now leave');
select tests.authenticate_as('viewer');
select lives_ok($$ select public.leave_organization(tests.org('main')) $$, 'a viewer leaves');
select is(pg_temp.role_of('viewer'), null, 'and is out');
select tests.as_superuser();
select tests.add_member(tests.org('main'), 'owner', 'owner');
select tests.add_member(tests.org('main'), 'viewer', 'viewer');
update public.memberships set role = 'admin'
where organization_id = tests.org('main') and user_id = tests.actor('admin');

-- Deleting users from Auth -------------------------------------------------------
select throws_ok($$ delete from auth.users where id = tests.actor('owner') $$,
                 '23514', 'this user is the last owner of the organization "Victim Co", which has other members',
                 'the last owner of an organization with members cannot be deleted from Auth');
select lives_ok($$ delete from auth.users where id = tests.actor('solo') $$,
                'a user alone in their organization can be deleted');

-- Invitations ------------------------------------------------------------------
select tests.authenticate_as('member');
select throws_ok($$ select public.create_invitation(tests.org('main'), 'x@invited.test', 'viewer', repeat('1', 64)) $$,
                 '42501', 'invitations need the admin role or above', 'a member invites nobody');
select tests.authenticate_as('admin');
select throws_ok($$ select public.create_invitation(tests.org('main'), 'x@invited.test', 'owner', repeat('1', 64)) $$,
                 '42501', 'only owners invite owners', 'an admin invites no owner');
select throws_ok($$ select public.create_invitation(tests.org('main'), 'not-an-address', 'viewer', repeat('1', 64)) $$,
                 '22023', 'email: not an e-mail address', 'a bad address is refused naming the field');
select throws_ok($$ select public.create_invitation(tests.org('main'), 'x@invited.test', 'viewer', 'plain-token') $$,
                 '23514', null, 'only a SHA-256 (hex) is stored, never a token');
select throws_ok($$ select public.create_invitation(tests.org('main'), 'MEMBER@victim.test', 'viewer', repeat('1', 64)) $$,
                 '23505', null, 'a member''s address is not invited');
select is(public.create_invitation(tests.org('main'), ' guest@INVITED.test ', 'viewer', repeat('a', 64)) ->> 'email',
          'guest@invited.test', 'an admin invites an address, kept lower-cased');
select throws_ok($$ select public.create_invitation(tests.org('main'), 'guest@invited.test', 'member', repeat('b', 64)) $$,
                 '23505', null, 'one pending invitation per address');
select is(public.create_invitation(tests.org('main'), 'other@invited.test', 'member', repeat('c', 64)) ->> 'status',
          'pending', 'a second address');
select is((select count(*)::int from public.invitations where organization_id = tests.org('main')),
          2, 'admins see their organization''s invitations');
select throws_ok($$ select token_hash from public.invitations $$, '42501', null,
                 'nobody reads the token hashes through the API');

select tests.authenticate_as('member');
select is_empty($$ select 1 from public.invitations $$, 'members see no invitations');
select tests.authenticate_as('stranger');
select is_empty($$ select 1 from public.invitations $$, 'strangers see no invitations');
select throws_ok($$ select public.revoke_invitation((select id from public.invitations limit 1)) $$,
                 'P0002', null, 'a stranger revokes nothing');

-- Accepting
select tests.authenticate_as('stranger');
select is(public.accept_invitation(repeat('a', 64)) ->> 'status', 'wrong_user',
          'another user''s invitation is refused');
select tests.authenticate_as('guest');
select is(public.accept_invitation(repeat('f', 64)) ->> 'status', 'not_found', 'an unknown token');
select is(public.accept_invitation('short') ->> 'status', 'not_found', 'a malformed token');
select tests.as_superuser();
update public.invitations set expires_at = now() - interval '1 minute' where token_hash = repeat('a', 64);
select tests.authenticate_as('guest');
select is(public.accept_invitation(repeat('a', 64)) ->> 'status', 'expired', 'an expired invitation');
select tests.authenticate_as('admin');
select is(public.resend_invitation((select id from public.invitations where email = 'guest@invited.test'),
                                   repeat('d', 64)) ->> 'status',
          'pending', 'resending renews an expired invitation');
select tests.authenticate_as('guest');
select is(public.accept_invitation(repeat('a', 64)) ->> 'status', 'not_found', 'the old token is dead');
select is(public.accept_invitation(repeat('d', 64)) ->> 'status', 'accepted',
          'the invited user accepts (their address in another case)');
select is(pg_temp.role_of('guest'), 'viewer', 'with the invitation''s role');
select is(public.accept_invitation(repeat('d', 64)) ->> 'status', 'already_accepted', 'accepting twice');
select tests.authenticate_as('stranger');
select is(public.accept_invitation(repeat('d', 64)) ->> 'status', 'not_found',
          'an accepted invitation is nobody else''s');
select tests.authenticate_as('admin');
select throws_ok($$ select public.resend_invitation((select id from public.invitations where email = 'guest@invited.test'), repeat('e', 64)) $$,
                 '23505', 'the invitation was already accepted', 'an accepted invitation is not resent');
select is(public.revoke_invitation((select id from public.invitations where email = 'other@invited.test')) ->> 'status',
          'revoked', 'an admin revokes an invitation');
select tests.as_superuser();
update auth.users set email = 'other@invited.test' where id = tests.actor('stranger');
select tests.authenticate_as('stranger');
select is(public.accept_invitation(repeat('c', 64)) ->> 'status', 'revoked', 'a revoked invitation');
select tests.as_superuser();
update auth.users set email = 'stranger@other.test' where id = tests.actor('stranger');
select tests.authenticate_as('admin');
select is(public.create_invitation(tests.org('main'), 'unconfirmed@invited.test', 'member', repeat('9', 64)) ->> 'role',
          'member', 'an invitation for an unconfirmed address');
select tests.authenticate_as('unconfirmed');
select is(public.accept_invitation(repeat('9', 64)) ->> 'status', 'email_unconfirmed',
          'an unconfirmed address accepts nothing');
select tests.authenticate_as('admin');
select is(public.create_invitation(tests.org('main'), 'member-alias@victim.test', 'viewer', repeat('8', 64)) ->> 'status',
          'pending', 'an invitation for an address about to become the member''s');
select tests.as_superuser();
update auth.users set email = 'member-alias@victim.test' where id = tests.actor('member');
select tests.authenticate_as('member');
select is(public.accept_invitation(repeat('8', 64)) ->> 'status', 'already_member', 'a member already');

-- The failed-attempt window: 10 a minute, then limited.
select tests.authenticate_as('viewer');
select is((select count(*)::int from generate_series(1, 10) n
           where public.accept_invitation(repeat('7', 64)) ->> 'status' = 'not_found'),
          10, 'ten failed attempts are answered');
select is(public.accept_invitation(repeat('d', 64)) ->> 'status', 'limited',
          'the eleventh is limited, whatever the token');

-- The preview: the service role only, minimal data.
select tests.as_superuser();
update auth.users set email = 'member@victim.test' where id = tests.actor('member');
select tests.authenticate_as('admin');
select lives_ok($$ select public.create_invitation(tests.org('main'), 'preview@invited.test', 'member', repeat('6', 64)) $$,
                'an invitation to preview');
select throws_ok($$ select public.invitation_preview(repeat('6', 64), '203.0.113.9') $$, '42501', null,
                 'a signed-in user cannot call the preview');
select tests.clear_authentication();
select throws_ok($$ select public.invitation_preview(repeat('6', 64), '203.0.113.9') $$, '42501', null,
                 'anon cannot call the preview');
select tests.authenticate_as_service_role();
select is(public.invitation_preview(repeat('6', 64), '203.0.113.9') - 'expires_at',
          '{"found": true, "organization_name": "Victim Co", "role": "member", "invited_by": "Ada", "email_hint": "p******@invited.test"}'::jsonb,
          'the preview: organization, role, inviter, masked address');
select is(public.invitation_preview(repeat('5', 64), '203.0.113.9'), '{"found": false}'::jsonb,
          'an unknown token is not found');
select is(public.invitation_preview(repeat('d', 64), '203.0.113.9'), '{"found": false}'::jsonb,
          'a used token is not found either');
select is(public.invitation_preview(repeat('6', 64), '203.0.113.10', 2) ->> 'found', 'true', 'first of two');
select is(public.invitation_preview(repeat('6', 64), '203.0.113.10', 2) ->> 'found', 'true', 'second of two');
select is(public.invitation_preview(repeat('6', 64), '203.0.113.10', 2) ->> 'limited', 'true',
          'the third from that address in the minute is limited');

-- Require MFA (migration 20261206140200): the member and invitation RPCs obey it -------
select tests.authenticate_as('owner');
select set_config('request.jwt.claims', (current_setting('request.jwt.claims')::jsonb || '{"aal": "aal2"}')::text, true);
update public.organization_settings set require_mfa = true where organization_id = tests.org('main');
select tests.authenticate_as('admin');
select throws_ok($$ select public.change_member_role(tests.org('main'), tests.actor('viewer'), 'member') $$,
                 '42501', 'this organization requires multi-factor authentication: your session is not at aal2',
                 'an admin below aal2 changes no role where MFA is required');
select throws_ok($$ select public.create_invitation(tests.org('main'), 'mfa@invited.test', 'viewer', repeat('3', 64)) $$,
                 '42501', 'this organization requires multi-factor authentication: your session is not at aal2',
                 'nor invites');
select throws_ok($$ select public.list_members(tests.org('main')) $$,
                 '42501', 'this organization requires multi-factor authentication: your session is not at aal2',
                 'nor lists the members');
select set_config('request.jwt.claims', (current_setting('request.jwt.claims')::jsonb || '{"aal": "aal2"}')::text, true);
select is(jsonb_array_length(public.list_members(tests.org('main'))) > 0, true, 'at aal2 it lists them');
select tests.as_superuser();
update public.organization_settings set require_mfa = false where organization_id = tests.org('main');

-- History ------------------------------------------------------------------------
select tests.as_superuser();
insert into public.clients (id, organization_id, company_name, currency)
values ('c0000000-0000-4000-8000-800000000001', tests.org('main'), 'Kept Client', 'USD');
insert into public.invoices (organization_id, client_id, currency, due_date)
values (tests.org('main'), 'c0000000-0000-4000-8000-800000000001', 'USD', current_date + 30);
select tests.authenticate_as('member');
select throws_ok($$ select public.audit_history(tests.org('main'), 'client', 'c0000000-0000-4000-8000-800000000001') $$,
                 '42501', 'the audit trail is for admins and owners', 'members read no history');
select tests.authenticate_as('owner');
select throws_ok($$ select public.audit_history(tests.org('main'), 'vendor', 'c0000000-0000-4000-8000-800000000001') $$,
                 '22023', 'entity: give invoice or client', 'an unknown entity');
select is((public.audit_history(tests.org('main'), 'client', 'c0000000-0000-4000-8000-800000000001', 1, 0) -> 'total')::int,
          2, 'a client''s history: the client and its invoice');
select is(jsonb_array_length(public.audit_history(tests.org('main'), 'client', 'c0000000-0000-4000-8000-800000000001', 1, 0) -> 'data'),
          1, 'paged');

-- Closing an organization -------------------------------------------------------
select tests.authenticate_as('admin');
select throws_ok($$ select public.delete_organization(tests.org('main')) $$,
                 '42501', 'only owners delete an organization', 'an admin deletes no organization');
select tests.authenticate_as('stranger');
select is(public.delete_organization(tests.personal_org('stranger')) ->> 'closed', 'false',
          'an organization without records is deleted');
select tests.as_superuser();
select is((select count(*)::int from public.organizations where id = tests.personal_org('stranger')), 0,
          'and is gone');
select tests.authenticate_as('owner');
select is(public.delete_organization(tests.org('main')) ->> 'closed', 'true',
          'an organization with financial records is closed');
select tests.authenticate_as('member');
select is(jsonb_array_length(public.api_context() -> 'organizations'), 1,
          'api_context no longer lists it (the member''s personal organization is left)');
select tests.authenticate_as('owner');
select is((select count(*)::int from public.invoices where organization_id = tests.org('main')), 1,
          'its records are kept and readable');
select tests.authenticate_as('member');
select throws_ok($$ insert into public.clients (organization_id, company_name, currency)
                    values (tests.org('main'), 'After closing', 'USD') $$,
                 '42501', null, 'nobody writes in a closed organization');
select is(tests.rows_affected($$ update public.clients set notes = 'x'
                                  where organization_id = tests.org('main') returning 1 $$),
          0, 'nor changes its records');
select tests.authenticate_as('admin');
select throws_ok($$ select public.create_invitation(tests.org('main'), 'late@invited.test', 'viewer', repeat('4', 64)) $$,
                 '42501', null, 'nor invites anyone');
select is((select count(*)::int from public.invitations
           where organization_id = tests.org('main') and accepted_at is null and revoked_at is null),
          0, 'its pending invitations were revoked');

-- Audit --------------------------------------------------------------------------
select tests.as_superuser();
select results_eq(
  $$ select operation, changed_by from public.audit_log
     where table_name = 'public.organizations' and record_id = tests.org('main') and operation = 'UPDATE' $$,
  $$ values ('UPDATE'::text, tests.actor('owner')) $$,
  'closing is audited with who closed it');
select is((select count(*)::int from public.audit_log
           where table_name = 'public.invitations' and organization_id = tests.org('main')
             and changed_by = tests.actor('admin')),
          7, 'the admin''s five invitations, a resend and a revocation are audited as theirs');
select ok((select count(*) from public.audit_log
           where table_name = 'public.memberships' and organization_id = tests.org('main')
             and operation = 'INSERT' and changed_by = tests.actor('guest')) = 1,
          'accepting an invitation is audited as the invitee''s');

select * from finish();
rollback;
