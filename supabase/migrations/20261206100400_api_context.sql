-- =============================================================================
-- The HTTP API's per-request context: who the caller is, which organizations they
-- belong to and with what role, and whether they are within their rate limit --
-- all in one round trip, called by every authenticated route before its work.
--
-- The rate limit is a fixed window per user whose state lives here (not in a
-- Lambda's memory), so every Lambda instance sees the same count.
--
-- A token whose session has ended (logout, "sign out everywhere", a deleted user)
-- is refused here: a JWT stays valid until it expires, but its `session_id` names a
-- row of auth.sessions that logout deletes. Tokens without a session id (minted by
-- a server, not by a sign-in) are judged by their signature and expiry alone.
-- =============================================================================

-- =============================================================================
-- Tables
-- =============================================================================

-- Unlogged: a counter lost in a crash costs nothing but a fresh window, and
-- unlogged writes skip the WAL on the hottest row of every request.
create unlogged table private.rate_limit_windows (
  user_id uuid not null,
  window_start timestamptz not null,
  hits integer not null default 1,
  primary key (user_id, window_start)
);

alter table private.rate_limit_windows enable row level security;

-- =============================================================================
-- Functions
-- =============================================================================

-- Whether the caller's token names a session that has ended (logout deleted its row
-- of auth.sessions). SECURITY DEFINER: auth.sessions is the Auth server's, readable by
-- no API role; this answers for the caller's own session only (its id comes from the
-- verified JWT, never from an argument).
create or replace function private.session_has_ended()
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  session_id text := auth.jwt() ->> 'session_id';
begin
  return session_id is not null and (
    session_id !~ '^[0-9a-fA-F-]{36}$'
    or not exists (select 1 from auth.sessions s where s.id = session_id::uuid));
end;
$$;

-- Counts one request of the signed-in caller in the window of `window_seconds` that
-- holds now() and answers the window's count. SECURITY DEFINER: the counters live in
-- private.rate_limit_windows, which no API role may read or write (a caller could
-- otherwise reset their own count); it counts for auth.uid() only.
create or replace function private.count_request(window_seconds integer)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  uid uuid := auth.uid();
  counted integer;
begin
  if uid is null then
    raise exception 'a signed-in user is required' using errcode = '42501';
  end if;
  insert into private.rate_limit_windows as w (user_id, window_start)
  values (uid, pg_catalog.date_bin(pg_catalog.make_interval(secs => window_seconds),
                                   pg_catalog.now(), timestamptz '2000-01-01'))
  on conflict (user_id, window_start) do update set hits = w.hits + 1
  returning w.hits into counted;
  -- Old windows are swept now and then by whoever happens to pass.
  if pg_catalog.random() < 0.01 then
    delete from private.rate_limit_windows
    where window_start < pg_catalog.now() - pg_catalog.make_interval(secs => window_seconds * 2);
  end if;
  return counted;
end;
$$;

-- Returns
--   {"user_id": ..., "organizations": [{"id", "name", "role", "personal"}, ...],
--    "limited": bool, "retry_after": seconds, "hits": n}
-- `rate_limit` <= 0 disables the limit. Counting happens even when limited, so a
-- caller hammering the API stays limited until the window turns over. It runs as its
-- caller: RLS shows the caller's memberships and organizations; the session check and
-- the counter are the two definer helpers above.
create or replace function public.api_context(
  rate_limit integer default 0,
  window_seconds integer default 60
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  uid uuid := auth.uid();
  started timestamptz;
  counted integer := 0;
  orgs jsonb;
begin
  if uid is null then
    raise exception 'a signed-in user is required' using errcode = '42501';
  end if;
  if private.session_has_ended() then
    raise exception 'the session has ended; sign in again' using errcode = '28000';
  end if;
  if window_seconds < 1 or window_seconds > 86400 then
    raise exception 'window_seconds must be between 1 and 86400' using errcode = '22023';
  end if;

  if rate_limit > 0 then
    started := date_bin(make_interval(secs => window_seconds), now(), timestamptz '2000-01-01');
    counted := private.count_request(window_seconds);
  end if;

  select coalesce(jsonb_agg(jsonb_build_object(
           'id', o.id, 'name', o.name, 'role', m.role, 'personal', o.personal)
           order by o.personal desc, o.created_at, o.id), '[]'::jsonb)
  into orgs
  from public.memberships m
  join public.organizations o on o.id = m.organization_id
  where m.user_id = uid;

  return jsonb_build_object(
    'user_id', uid,
    'organizations', orgs,
    'hits', counted,
    'limited', rate_limit > 0 and counted > rate_limit,
    'retry_after', case
      when rate_limit > 0 and counted > rate_limit
        then greatest(1, ceil(extract(epoch from
               started + make_interval(secs => window_seconds) - now()))::integer)
      else 0 end
  );
end;
$$;

-- =============================================================================
-- Grants
-- =============================================================================

grant execute on function public.api_context(integer, integer) to authenticated;

grant execute on function private.session_has_ended(), private.count_request(integer)
  to authenticated;

revoke execute on all functions in schema private, public from public;
