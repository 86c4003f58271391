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

-- public.api_context: defined in 20261206140200 (its final form; nothing is deployed)

-- =============================================================================
-- Grants
-- =============================================================================

grant execute on function private.session_has_ended(), private.count_request(integer)
  to authenticated;

revoke execute on all functions in schema private, public from public;
