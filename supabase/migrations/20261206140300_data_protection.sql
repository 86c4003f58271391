-- Data protection (issue 17): sensitive fields sealed at rest, uploads of logos and
-- avatars, and retention.
--
--   * vendors.tax_id_sealed / tax_id_hash: a vendor's tax id sealed by the API with KMS
--     envelope encryption (shared/envelope.py; jsonb {v, kid, dk, n, c}) and its keyed
--     hash (HMAC-SHA256 under the stage's secret, hex) for matching vendors by tax id in
--     SQL without the clear value. The clear column stays for rows written before this
--     migration until functions/jobs/seal_fields.py has sealed them (it nulls tax_id as it
--     goes); a row never holds both.
--   * public.uploads: a presigned upload of an organization's logo or a client's avatar,
--     pending until the bucket's event has checked and re-encoded the image
--     (functions/uploads/worker.py) and then ready (its object key) or rejected.
--     organization_settings.logo_object_key and clients.avatar_object_key name the
--     current image; the logo is also kept inline as a bounded data: URL in
--     company_logo_url (PDFs print nothing fetched), so its length check is widened for
--     that form only.
--   * Retention (docs/security.md): private.retention_purge removes, in bounded chunks,
--     the system logs older than 90 days (sent/failed/superseded email deliveries, the
--     row errors of imports) and organizations closed more than 7 years ago with
--     everything they hold; each chunk is recorded in public.retention_purges. Audit
--     entries are append-only and not purged (kept beyond their 3 years).

-- =============================================================================
-- Sealed tax ids of vendors
-- =============================================================================

alter table public.vendors
  add column tax_id_sealed jsonb
    check (tax_id_sealed is null or (jsonb_typeof(tax_id_sealed) = 'object'
                                     and tax_id_sealed ?& array['v', 'kid', 'dk', 'n', 'c'])),
  add column tax_id_hash text check (tax_id_hash ~ '^[0-9a-f]{64}$'),
  add constraint vendors_tax_id_sealed_or_clear
    check (tax_id is null or tax_id_sealed is null),
  add constraint vendors_tax_id_hash_with_seal
    check ((tax_id_sealed is null) = (tax_id_hash is null));

-- Vendors of an organization by tax id (the keyed hash): matching and lookups.
create index vendors_organization_tax_id_hash_idx
  on public.vendors (organization_id, tax_id_hash) where tax_id_hash is not null;

grant insert (tax_id_sealed, tax_id_hash) on public.vendors to authenticated;
grant update (tax_id_sealed, tax_id_hash) on public.vendors to authenticated;

-- private.vendor_json: defined in 20261206170200 (its final form; nothing is deployed)

-- =============================================================================
-- Uploads: logos and avatars
-- =============================================================================

alter table public.organization_settings
  add column logo_object_key text check (length(logo_object_key) <= 300);

-- The logo the upload worker re-encoded is kept inline (a data: URL of at most ~192 KB)
-- so PDFs never fetch while rendering; any other URL keeps its 2048 characters.
alter table public.organization_settings
  drop constraint if exists organization_settings_company_logo_url_check;
alter table public.organization_settings
  add constraint organization_settings_company_logo_url_check
    check (length(company_logo_url) <= 2048
           or (company_logo_url like 'data:image/%' and length(company_logo_url) <= 262144));

alter table public.clients
  add column avatar_object_key text check (length(avatar_object_key) <= 300);

create table public.uploads (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  kind text not null check (kind in ('logo', 'avatar')),
  client_id uuid,
  content_type text not null check (content_type in ('image/png', 'image/jpeg', 'image/webp')),
  size_bytes integer not null check (size_bytes between 1 and 5242880),
  -- <organization_id>/<kind>s/<id>.<ext>: the object the browser sends; the worker
  -- writes the re-encoded image beside it (<id>.clean.<ext>) and removes the original.
  object_key text not null check (length(object_key) <= 300),
  status text not null default 'pending' check (status in ('pending', 'ready', 'rejected')),
  reason text check (length(reason) <= 500),
  width integer check (width > 0),
  height integer check (height > 0),
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  processed_at timestamptz,
  constraint uploads_avatar_has_client check ((kind = 'avatar') = (client_id is not null)),
  constraint uploads_client_fkey foreign key (organization_id, client_id)
    references public.clients (organization_id, id) on delete cascade,
  constraint uploads_object_key_unique unique (object_key),
  constraint uploads_object_key_in_organization
    check (object_key like organization_id::text || '/%')
);

comment on table public.uploads is
  'Presigned uploads of logos and avatars, pending until the bucket event checked and re-encoded them.';

create index uploads_organization_created_idx on public.uploads (organization_id, created_at desc);
create index uploads_client_idx on public.uploads (organization_id, client_id) where client_id is not null;
create index uploads_created_by_idx on public.uploads (created_by) where created_by is not null;

alter table public.uploads enable row level security;

create policy "Members can view their organization's uploads"
  on public.uploads for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

-- A logo is the organization's settings (admins); an avatar a client's detail (members).
create policy "Admins add logos and members add avatars"
  on public.uploads for insert to authenticated
  with check (
    status = 'pending' and created_by = (select auth.uid())
    and organization_id = any ((select private.my_organization_ids(
      case when kind = 'logo' then 'admin' else 'member' end::public.membership_role))::uuid[]));

revoke all on public.uploads from anon, authenticated, service_role;
grant select on public.uploads to authenticated, service_role;
grant insert (id, organization_id, kind, client_id, content_type, size_bytes, object_key)
  on public.uploads to authenticated;
grant insert, update on public.uploads to service_role;

-- Require MFA (migration 20261206140200): the restrictive policy every table with an
-- organization_id carries, when that migration is there.
do $$
begin
  if to_regprocedure('private.mfa_pending_organizations()') is not null then
    execute 'create policy mfa_required on public.uploads as restrictive for all to authenticated '
      'using (organization_id <> all ((select private.mfa_pending_organizations())::uuid[])) '
      'with check (organization_id <> all ((select private.mfa_pending_organizations())::uuid[]))';
  end if;
end;
$$;

-- The worker's verdict on a landed object (service role): ready sets the organization's
-- logo (inline data: URL and object key) or the client's avatar; rejected says why.
-- Unknown or already-processed keys answer null (an S3 event delivered twice).
create or replace function public.finish_upload(
  object_key text, ready boolean, clean_key text default null, reason text default null,
  width integer default null, height integer default null, logo_data_url text default null
)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  u public.uploads;
begin
  update public.uploads as x
     set status = case when finish_upload.ready then 'ready' else 'rejected' end,
         reason = finish_upload.reason,
         width = finish_upload.width,
         height = finish_upload.height,
         object_key = coalesce(finish_upload.clean_key, x.object_key),
         processed_at = now()
   where x.object_key = finish_upload.object_key and x.status = 'pending'
  returning x.* into u;
  if not found then
    return null;
  end if;
  if u.status = 'ready' and u.kind = 'logo' then
    update public.organization_settings as s
       set logo_object_key = u.object_key,
           company_logo_url = coalesce(finish_upload.logo_data_url, s.company_logo_url)
     where s.organization_id = u.organization_id;
  elsif u.status = 'ready' then
    update public.clients as c
       set avatar_object_key = u.object_key
     where c.organization_id = u.organization_id and c.id = u.client_id;
  end if;
  return jsonb_build_object('id', u.id, 'organization_id', u.organization_id, 'kind', u.kind,
                            'status', u.status, 'object_key', u.object_key);
end;
$$;

revoke execute on function public.finish_upload(text, boolean, text, text, integer, integer, text) from public;
grant execute on function public.finish_upload(text, boolean, text, text, integer, integer, text) to service_role;

-- =============================================================================
-- Retention
-- =============================================================================

-- What the retention job removed, one row per table per chunk.
create table public.retention_purges (
  id bigint generated always as identity primary key,
  rule text not null check (rule in ('system_logs_90_days', 'closed_organization_7_years')),
  table_name text not null check (length(table_name) <= 63),
  purged_organization uuid,
  cutoff timestamptz not null,
  row_count integer not null check (row_count >= 0),
  purged_at timestamptz not null default now()
);

comment on table public.retention_purges is
  'What the retention job purged: the rule, the table, how many rows older than the cutoff.';

create index retention_purges_purged_at_idx on public.retention_purges (purged_at desc);

alter table public.retention_purges enable row level security;
revoke all on public.retention_purges from anon, authenticated, service_role;
grant select on public.retention_purges to service_role;
revoke all on sequence public.retention_purges_id_seq from anon, authenticated, service_role;

-- One chunk of each rule (at most chunk rows a table, one closed organization): the
-- purged counts as jsonb {rule: {table: rows}}. Called again until it purges nothing.
-- Rows are taken with SKIP LOCKED, so two runs never wait on each other.
create or replace function private.retention_purge(
  chunk integer default 1000, now_at timestamptz default now()
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  logs_cutoff constant timestamptz := now_at - interval '90 days';
  closed_cutoff constant timestamptz := now_at - interval '7 years';
  n integer;
  org uuid;
  result jsonb := '{}'::jsonb;
begin
  if chunk is null or chunk < 1 or chunk > 10000 then
    raise exception 'chunk must be between 1 and 10000' using errcode = '22023';
  end if;

  -- System logs, 90 days: the job mail ledger's settled rows (pending ones are still
  -- the outbox) and the row errors of imports.
  with gone as (
    delete from public.email_deliveries d
     where d.id in (select e.id from public.email_deliveries e
                     where e.created_at < logs_cutoff and e.status <> 'pending'
                     limit chunk for update skip locked)
    returning 1)
  select count(*) into n from gone;
  if n > 0 then
    insert into public.retention_purges (rule, table_name, cutoff, row_count)
    values ('system_logs_90_days', 'email_deliveries', logs_cutoff, n);
    result := jsonb_set(result, '{email_deliveries}', to_jsonb(n));
  end if;

  with gone as (
    delete from public.import_row_errors r
     where r.id in (select e.id from public.import_row_errors e
                     where e.created_at < logs_cutoff
                     limit chunk for update skip locked)
    returning 1)
  select count(*) into n from gone;
  if n > 0 then
    insert into public.retention_purges (rule, table_name, cutoff, row_count)
    values ('system_logs_90_days', 'import_row_errors', logs_cutoff, n);
    result := jsonb_set(result, '{import_row_errors}', to_jsonb(n));
  end if;

  -- Financial records, 7 years: an organization closed (teams migration's closed_at)
  -- more than 7 years ago goes with everything it holds; open organizations keep theirs.
  if exists (select from pg_catalog.pg_attribute
              where attrelid = 'public.organizations'::regclass and attname = 'closed_at'
                and not attisdropped) then
    execute 'select o.id from public.organizations o where o.closed_at < $1 '
            'order by o.closed_at limit 1 for update skip locked'
      into org using closed_cutoff;
    if org is not null then
      delete from public.organizations o where o.id = org;
      insert into public.retention_purges (rule, table_name, purged_organization, cutoff, row_count)
      values ('closed_organization_7_years', 'organizations', org, closed_cutoff, 1);
      result := jsonb_set(result, '{organizations}', to_jsonb(1));
    end if;
  end if;
  return result;
end;
$$;

-- The job's entry (service role).
create or replace function public.retention_purge(chunk integer default 1000)
returns jsonb
language sql
security invoker
set search_path = ''
as $$ select private.retention_purge(chunk) $$;

revoke execute on function private.retention_purge(integer, timestamptz) from public;
revoke execute on function public.retention_purge(integer) from public;
grant execute on function private.retention_purge(integer, timestamptz) to service_role;
grant execute on function public.retention_purge(integer) to service_role;
