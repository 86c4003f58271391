-- =============================================================================
-- Client links (issue 16): the page a client opens without signing in.
--
-- A sent invoice or quote gets links; each link is an unguessable token
-- (secrets.token_urlsafe(32), made by the API) of which only the SHA-256 is kept
-- here, so a leak of this table opens no page. A link expires (the organization's
-- client_link_days, default 90), can be revoked, and "rotating" revokes the
-- document's live links and makes a new one. Sending a document makes a link for
-- the e-mail; earlier links stay valid until they expire or are revoked.
--
-- The public routes speak as `anon`, the project's only unauthenticated surface,
-- through a few narrow functions: each takes the token's hash (never an id), is a
-- SECURITY DEFINER core in private with a SECURITY INVOKER wrapper in public (no
-- definer is exposed: pgTAP 005), and answers the same for a wrong, revoked or
-- expired token ({"found": false}: the API's one 404). Each call is counted
-- against two fixed windows, one per token and one per client address, in
-- private.rate_limit_windows (the API's own rate limit, api_context migration),
-- before the token is looked up, so guessing tokens is limited by address. The
-- address is the API Gateway's source IP as the route passes it; anon could call
-- the RPC itself with another address, but still meets the per-token window and
-- a token space of 256 bits.
--
-- Every view, PDF download, payment started and answer to a quote is a client
-- activity (type 'other', metadata.event 'client_link_viewed' | 'client_link_pdf' |
-- 'client_link_pay' | 'quote_accepted' | 'quote_declined'), so the business sees it on the client's
-- timeline. A quote's answer goes through the quotes' own rules (the row trigger
-- private.prepare_quote_row: only a sent quote, through valid_until in the
-- organization's time zone).
-- =============================================================================

-- =============================================================================
-- Settings
-- =============================================================================

alter table public.organization_settings
  add column client_link_days integer not null default 90
    constraint organization_settings_client_link_days_check check (client_link_days between 1 and 730),
  add column brand_color text not null default '#1f4e79'
    constraint organization_settings_brand_color_check check (brand_color ~ '^#[0-9a-fA-F]{6}$');

comment on column public.organization_settings.client_link_days is
  'How long a client link lives, in days (1-730): the page a client opens without signing in.';
comment on column public.organization_settings.brand_color is
  'The colour of the client page''s header and buttons (#rrggbb).';

-- =============================================================================
-- Tables
-- =============================================================================

create table public.client_links (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  document_type text not null check (document_type in ('invoice', 'quote')),
  invoice_id uuid references public.invoices (id) on delete cascade,
  quote_id uuid references public.quotes (id) on delete cascade,
  token_hash text not null unique check (token_hash ~ '^[0-9a-f]{64}$'),
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz,
  last_viewed_at timestamptz,
  view_count integer not null default 0,
  constraint client_links_names_its_document check (
    (document_type = 'invoice') = (invoice_id is not null)
    and (document_type = 'quote') = (quote_id is not null)),
  unique (organization_id, id)
);

alter table public.client_links enable row level security;

comment on table public.client_links is
  'Links to the client page of a sent invoice or quote: the SHA-256 of the token only.';

create index client_links_organization_idx on public.client_links (organization_id, created_at desc);
create index client_links_invoice_idx on public.client_links (invoice_id) where invoice_id is not null;
create index client_links_quote_idx on public.client_links (quote_id) where quote_id is not null;
create index client_links_created_by_idx on public.client_links (created_by) where created_by is not null;

-- =============================================================================
-- Functions: members
-- =============================================================================

create or replace function private.client_link_json(link public.client_links)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', link.id, 'document_type', link.document_type,
    'document_id', coalesce(link.invoice_id, link.quote_id),
    'created_at', link.created_at, 'expires_at', link.expires_at,
    'revoked_at', link.revoked_at, 'last_viewed_at', link.last_viewed_at,
    'view_count', link.view_count,
    'active', link.revoked_at is null and link.expires_at > pg_catalog.now())
$$;

-- A new link for a sent invoice or quote of the organization (the API made the
-- token and passes its SHA-256). rotate: the document's live links are revoked
-- first. Drafts get none (nothing was sent) unless for_send: the send routes
-- make the e-mail's link before the send marks the draft sent, and a draft's
-- link opens nothing until then (private.portal_document). A cancelled invoice
-- or a declined/expired quote still can (the page shows its status).
create or replace function public.create_client_link(
  organization_id uuid, document_type text, document_id uuid, token_hash text,
  rotate boolean default false, for_send boolean default false
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := create_client_link.organization_id;
  doc_status text;
  days integer;
  created public.client_links;
begin
  perform private.require_role(org, 'member', 'your role may not share documents in this organization');
  if document_type is null or document_type not in ('invoice', 'quote') then
    raise exception 'document_type must be invoice or quote' using errcode = '22023';
  end if;
  if token_hash is null or token_hash !~ '^[0-9a-f]{64}$' then
    raise exception 'token_hash must be a SHA-256 in hex' using errcode = '22023';
  end if;
  if document_type = 'invoice' then
    select i.status into doc_status from public.invoices i
    where i.id = document_id and i.organization_id = org for key share;
  else
    select q.status into doc_status from public.quotes q
    where q.id = document_id and q.organization_id = org for key share;
  end if;
  if doc_status is null then
    raise exception '% not found', document_type using errcode = 'P0002';
  end if;
  if doc_status = 'draft' and not coalesce(for_send, false) then
    raise exception 'the % is a draft: send it before sharing its link', document_type
      using errcode = '23514';
  end if;
  if rotate then
    update public.client_links l set revoked_at = now()
    where l.organization_id = org and l.revoked_at is null
      and (l.invoice_id = document_id or l.quote_id = document_id);
  end if;
  select s.client_link_days into days from public.organization_settings s where s.organization_id = org;
  insert into public.client_links as l
    (organization_id, document_type, invoice_id, quote_id, token_hash, expires_at)
  values (org, document_type,
          case when document_type = 'invoice' then document_id end,
          case when document_type = 'quote' then document_id end,
          token_hash, now() + make_interval(days => coalesce(days, 90)))
  returning l.* into created;
  return private.client_link_json(created);
end;
$$;

-- Revokes one link (already revoked: answered as it is).
create or replace function public.revoke_client_link(organization_id uuid, link_id uuid)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  cur public.client_links;
begin
  perform private.require_role(revoke_client_link.organization_id, 'member',
                               'your role may not revoke links in this organization');
  update public.client_links l set revoked_at = coalesce(l.revoked_at, now())
  where l.id = link_id and l.organization_id = revoke_client_link.organization_id
  returning l.* into cur;
  if not found then
    raise exception 'client link not found' using errcode = 'P0002';
  end if;
  return private.client_link_json(cur);
end;
$$;

-- The links of one document, newest first.
create or replace function public.client_links_of(organization_id uuid, document_type text, document_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select coalesce(jsonb_agg(private.client_link_json(l) order by l.created_at desc, l.id), '[]'::jsonb)
  from public.client_links l
  where l.organization_id = client_links_of.organization_id
    and l.document_type = client_links_of.document_type
    and (l.invoice_id = document_id or l.quote_id = document_id)
$$;

-- =============================================================================
-- Functions: the public page (anon)
-- =============================================================================

-- One hit in the fixed window of `key` (kept in the API's rate-limit table under a
-- uuid made from the key); answers the window's count. Called by the definer cores
-- below only.
create or replace function private.count_public_request(key text, window_seconds integer)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  counted integer;
begin
  insert into private.rate_limit_windows as w (user_id, window_start)
  values (pg_catalog.md5(key)::uuid,
          pg_catalog.date_bin(pg_catalog.make_interval(secs => window_seconds),
                              pg_catalog.now(), timestamptz '2000-01-01'))
  on conflict (user_id, window_start) do update set hits = w.hits + 1
  returning w.hits into counted;
  return counted;
end;
$$;

-- The checks every public call starts with: the arguments' shape, the two rate
-- windows (per address, then per token), the live link. Answers the link, or a
-- jsonb refusal ({"found": false} or {"limited": true, "retry_after": n}).
create or replace function private.portal_gate(
  token_hash text, client_address text, token_limit integer, address_limit integer,
  window_seconds integer, out link public.client_links, out refusal jsonb
)
language plpgsql
volatile
set search_path = ''
as $$
declare
  started timestamptz;
  retry integer;
begin
  if window_seconds is null or window_seconds < 1 or window_seconds > 3600 then
    raise exception 'window_seconds must be between 1 and 3600' using errcode = '22023';
  end if;
  started := pg_catalog.date_bin(pg_catalog.make_interval(secs => window_seconds),
                                 pg_catalog.now(), timestamptz '2000-01-01');
  retry := greatest(1, ceil(extract(epoch from
             started + pg_catalog.make_interval(secs => window_seconds) - pg_catalog.now()))::integer);
  if coalesce(address_limit, 0) > 0 and private.count_public_request(
       'portal:address:' || coalesce(left(client_address, 64), ''), window_seconds) > address_limit then
    refusal := jsonb_build_object('limited', true, 'retry_after', retry);
    return;
  end if;
  if token_hash is null or token_hash !~ '^[0-9a-f]{64}$' then
    refusal := jsonb_build_object('found', false);
    return;
  end if;
  if coalesce(token_limit, 0) > 0 and private.count_public_request(
       'portal:token:' || token_hash, window_seconds) > token_limit then
    refusal := jsonb_build_object('limited', true, 'retry_after', retry);
    return;
  end if;
  select * into link from public.client_links l
  where l.token_hash = portal_gate.token_hash
    and l.revoked_at is null and l.expires_at > pg_catalog.now();
  if not found then
    link := null;
    refusal := jsonb_build_object('found', false);
  end if;
end;
$$;

-- private.portal_document: defined in 20261206170200 (its final form; nothing is deployed)

-- private.record_portal_activity: defined in 20261206171100 (its final form; nothing is deployed)

-- GET /p/{token} (the page, its JSON and its PDF): the document behind a live
-- link, the view counted and recorded (event 'client_link_viewed' or
-- 'client_link_pdf'). SECURITY DEFINER: anon reads nothing by itself; this reads
-- one document, found by the token's hash alone.
create or replace function private.portal_open(
  token_hash text, client_address text, event text,
  token_limit integer, address_limit integer, window_seconds integer
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  gate record;
  answer jsonb;
begin
  if event is null or event not in ('client_link_viewed', 'client_link_pdf', 'client_link_pay') then
    raise exception 'event must be client_link_viewed, client_link_pdf or client_link_pay'
      using errcode = '22023';
  end if;
  gate := private.portal_gate(token_hash, client_address, token_limit, address_limit, window_seconds);
  if gate.refusal is not null then
    return gate.refusal;
  end if;
  answer := private.portal_document(gate.link);
  if answer is null then
    return jsonb_build_object('found', false);
  end if;
  update public.client_links l
  set view_count = l.view_count + 1, last_viewed_at = pg_catalog.now()
  where l.id = (gate.link).id;
  perform private.record_portal_activity(gate.link, event, answer -> 'document');
  return answer;
end;
$$;

-- POST /p/{token}/accept and /decline: the client's answer to a sent quote,
-- through the quotes' rules (the row trigger; "already" as decide_quote says
-- it). A link to an invoice answers {"found": false}, as a wrong token does.
create or replace function private.portal_decide_quote(
  token_hash text, client_address text, decision text,
  token_limit integer, address_limit integer, window_seconds integer
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  gate record;
  cur public.quotes;
  answer jsonb;
begin
  if decision is null or decision not in ('accepted', 'declined') then
    raise exception 'decision must be accepted or declined' using errcode = '22023';
  end if;
  gate := private.portal_gate(token_hash, client_address, token_limit, address_limit, window_seconds);
  if gate.refusal is not null then
    return gate.refusal;
  end if;
  if (gate.link).document_type <> 'quote' then
    return jsonb_build_object('found', false);
  end if;
  select * into cur from public.quotes q
  where q.id = (gate.link).quote_id and q.organization_id = (gate.link).organization_id
  for update;
  if not found then
    return jsonb_build_object('found', false);
  end if;
  if cur.status = decision or (cur.status = 'converted' and decision = 'accepted') then
    raise exception 'quote % is already %', cur.quote_number, cur.status using errcode = '23514';
  end if;
  update public.quotes q set status = decision where q.id = cur.id;
  answer := private.portal_document(gate.link);
  perform private.record_portal_activity(gate.link, 'quote_' || decision, answer -> 'document');
  return answer;
end;
$$;

-- The public wrappers PostgREST exposes to anon (SECURITY INVOKER, as every RPC
-- in public): the same parameters, results and meaning as their cores.
create or replace function public.portal_open(
  token_hash text, client_address text default null, event text default 'client_link_viewed',
  token_limit integer default 60, address_limit integer default 120, window_seconds integer default 60
)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$
  select private.portal_open(token_hash, client_address, event, token_limit, address_limit, window_seconds)
$$;

create or replace function public.portal_decide_quote(
  token_hash text, client_address text default null, decision text default null,
  token_limit integer default 60, address_limit integer default 120, window_seconds integer default 60
)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$
  select private.portal_decide_quote(token_hash, client_address, decision, token_limit,
                                     address_limit, window_seconds)
$$;

comment on function public.portal_open(text, text, text, integer, integer, integer) is
  'The client page: the document behind a live link (by the token''s SHA-256), the view recorded.';
comment on function public.portal_decide_quote(text, text, text, integer, integer, integer) is
  'The client page: a client''s answer to a sent quote (accepted or declined).';

-- =============================================================================
-- Audit, policies, grants
-- =============================================================================

select private.enable_audit('public.client_links', array['view_count', 'last_viewed_at']);

create policy "Members can view their organization's client links"
  on public.client_links for select to authenticated
  using (organization_id = any ((select private.my_organization_ids('viewer'))::uuid[]));

create policy "Members can create client links in their organization"
  on public.client_links for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can revoke their organization's client links"
  on public.client_links for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

revoke all on public.client_links from anon, authenticated;
grant select on public.client_links to authenticated;
grant insert (organization_id, document_type, invoice_id, quote_id, token_hash, expires_at)
  on public.client_links to authenticated;
grant update (revoked_at) on public.client_links to authenticated;
grant all on public.client_links to service_role;

grant update (client_link_days, brand_color) on public.organization_settings to authenticated;

revoke execute on all functions in schema private, public from public;

grant execute on function
  public.create_client_link(uuid, text, uuid, text, boolean, boolean),
  public.revoke_client_link(uuid, uuid),
  public.client_links_of(uuid, text, uuid),
  private.client_link_json(public.client_links)
  to authenticated, service_role;

-- anon: the two public wrappers and their two cores, nothing else (pgTAP 005 names them).
grant usage on schema private to anon;
grant execute on function
  public.portal_open(text, text, text, integer, integer, integer),
  public.portal_decide_quote(text, text, text, integer, integer, integer),
  private.portal_open(text, text, text, integer, integer, integer),
  private.portal_decide_quote(text, text, text, integer, integer, integer)
  to anon, authenticated, service_role;
