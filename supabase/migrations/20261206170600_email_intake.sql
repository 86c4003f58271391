-- =============================================================================
-- Invoices in by email (issue 20): each organization's inbound address, the
-- messages SES received for it, a result per attachment, the quarantine of
-- senders it does not allow, and the drafts read from plain PDFs.
--
--   inbound_settings     one row per organization: its address token (the
--                        address is <token>@<the stage's inbound domain>), the
--                        allowed senders (addresses and @domains; members' own
--                        addresses when allow_members), the limits
--   inbound_messages     one row per message and organization (Message-ID
--                        unique per organization: a message is imported once);
--                        status received | imported | quarantined | rejected |
--                        released; the import batch (source 'email') it made
--   inbound_attachments  what became of each attachment; its SHA-256 is unique
--                        per organization among those imported or drafted, so
--                        the same file is never imported twice
--   inbound_drafts       invoices read from a PDF without an e-invoice inside:
--                        they wait for a member to confirm (or discard) them
--
-- The worker (functions/jobs/email_intake.py) runs as the service role and names
-- the organization its recipient address resolved to; nothing else in a message
-- chooses it. receive_inbound_message decides allowed / quarantined / rejected
-- (limits) in one statement; import_inbound_message opens the message's batch and
-- stores every attachment's documents with one call of the import
-- (private.import_vendor_invoices, whatever later migration defines it, called by
-- name), then records the attachments and drafts, in one transaction.
-- =============================================================================

-- =============================================================================
-- Tables
-- =============================================================================

-- An allowed-senders list: at most 100 entries, each a lower-case address or
-- @domain.
create or replace function private.valid_inbound_senders(senders text[])
returns boolean
language sql
immutable
set search_path = ''
as $$
  select coalesce(pg_catalog.cardinality(senders), 0) <= 100
     and coalesce(pg_catalog.array_position(
           array(select s ~ '^([a-z0-9!#$%&''*+/=?^_`{|}~.-]{1,64})?@[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$'
                          and length(s) <= 254
                 from pg_catalog.unnest(senders) s), false), 0) = 0
$$;

create table public.inbound_settings (
  organization_id uuid primary key references public.organizations (id) on delete cascade,
  -- 80 random bits: an address nobody guesses, that a rename does not change and
  -- an admin can replace when it leaks (rotate_inbound_address).
  address_token text not null unique check (address_token ~ '^ap-[0-9a-f]{20}$')
    default 'ap-' || left(replace(gen_random_uuid()::text, '-', ''), 20),
  allowed_senders text[] not null default '{}'
    check (private.valid_inbound_senders(allowed_senders)),
  allow_members boolean not null default true,
  max_message_bytes integer not null default 10485760
    check (max_message_bytes between 10240 and 31457280),
  max_attachments integer not null default 20 check (max_attachments between 1 and 50),
  max_attachment_bytes integer not null default 10485760
    check (max_attachment_bytes between 1024 and 31457280),
  updated_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

comment on table public.inbound_settings is
  'Each organization''s inbound email address (its token), allowed senders and limits.';

create table public.inbound_messages (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  message_id text not null check (length(message_id) between 1 and 998),
  s3_key text not null check (length(s3_key) between 1 and 1024),
  recipient text check (length(recipient) <= 320),
  from_address text check (length(from_address) <= 320),
  from_name text check (length(from_name) <= 320),
  subject text check (length(subject) <= 998),
  sent_at timestamptz,
  received_at timestamptz not null default now(),
  size_bytes bigint not null default 0 check (size_bytes >= 0),
  attachment_count integer not null default 0 check (attachment_count >= 0),
  status text not null default 'received'
    check (status in ('received', 'imported', 'quarantined', 'rejected', 'released')),
  reason text check (length(reason) <= 2000),
  import_batch_id uuid,
  -- The member the import is attributed to (separation of duties: they cannot
  -- approve what it imported): the sender when a member's address sent it, or
  -- the admin who released it from quarantine.
  imported_by uuid references auth.users (id) on delete set null,
  released_by uuid references auth.users (id) on delete set null,
  released_at timestamptz,
  discarded_by uuid references auth.users (id) on delete set null,
  discarded_at timestamptz,
  imported_at timestamptz,
  updated_at timestamptz not null default now(),
  unique (organization_id, id),
  unique (organization_id, message_id),
  foreign key (organization_id, import_batch_id)
    references public.import_batches (organization_id, id) on delete set null (import_batch_id)
);

comment on table public.inbound_messages is
  'Messages received at an organization''s inbound address: imported, quarantined or rejected.';

create table public.inbound_attachments (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  inbound_message_id uuid not null,
  position integer not null check (position between 1 and 1000),
  filename text check (length(filename) <= 255),
  content_type text check (length(content_type) <= 255),
  size_bytes bigint not null default 0 check (size_bytes >= 0),
  sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
  -- What it was read as: a CSV file, an e-invoice (UBL, CII, Factur-X/ZUGFeRD), a
  -- PDF read for a draft, or something else.
  kind text not null check (kind in ('csv', 'einvoice', 'pdf', 'other')),
  outcome text not null check (outcome in ('imported', 'partly_imported', 'rejected', 'duplicate',
                                           'draft', 'unsupported', 'too_large', 'unreadable')),
  message text check (length(message) <= 2000),
  first_row integer,
  last_row integer,
  vendor_invoice_ids uuid[] not null default '{}',
  errors jsonb not null default '[]' check (pg_catalog.jsonb_typeof(errors) = 'array'),
  created_at timestamptz not null default now(),
  unique (organization_id, id),
  unique (inbound_message_id, position),
  foreign key (organization_id, inbound_message_id)
    references public.inbound_messages (organization_id, id) on delete cascade
);

comment on table public.inbound_attachments is
  'What became of each attachment of an inbound message (the batch report per attachment).';

create table public.inbound_drafts (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  inbound_message_id uuid not null,
  inbound_attachment_id uuid not null,
  status text not null default 'needs_confirmation'
    check (status in ('needs_confirmation', 'confirmed', 'discarded')),
  vendor_name text check (length(vendor_name) <= 200),
  invoice_number text check (length(invoice_number) <= 50),
  invoice_date date,
  due_date date,
  po_number text check (length(po_number) <= 50),
  currency text check (currency ~ '^[A-Z]{3}$'),
  subtotal numeric check (subtotal >= 0 and subtotal < 1e12),
  tax_amount numeric check (tax_amount >= 0 and tax_amount < 1e12),
  total_amount numeric check (total_amount >= 0 and total_amount < 1e12),
  text_excerpt text check (length(text_excerpt) <= 4000),
  vendor_invoice_id uuid,
  decided_by uuid references auth.users (id) on delete set null,
  decided_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (organization_id, id),
  foreign key (organization_id, inbound_message_id)
    references public.inbound_messages (organization_id, id) on delete cascade,
  foreign key (organization_id, inbound_attachment_id)
    references public.inbound_attachments (organization_id, id) on delete cascade,
  foreign key (organization_id, vendor_invoice_id)
    references public.vendor_invoices (organization_id, id) on delete set null (vendor_invoice_id)
);

comment on table public.inbound_drafts is
  'Vendor invoices read from a PDF''s text: a member confirms (imports) or discards them.';

-- =============================================================================
-- Indexes
-- =============================================================================

create index inbound_messages_organization_received_idx
  on public.inbound_messages (organization_id, received_at desc, id);
create index inbound_messages_import_batch_idx
  on public.inbound_messages (organization_id, import_batch_id) where import_batch_id is not null;
create index inbound_messages_imported_by_idx on public.inbound_messages (imported_by) where imported_by is not null;
create index inbound_messages_released_by_idx on public.inbound_messages (released_by) where released_by is not null;
create index inbound_messages_discarded_by_idx on public.inbound_messages (discarded_by) where discarded_by is not null;
create index inbound_settings_updated_by_idx on public.inbound_settings (updated_by) where updated_by is not null;
create index inbound_attachments_message_idx
  on public.inbound_attachments (organization_id, inbound_message_id, position);
-- The same file is imported (or drafted) once per organization.
create unique index inbound_attachments_once_idx
  on public.inbound_attachments (organization_id, sha256)
  where outcome in ('imported', 'partly_imported', 'draft');
create index inbound_drafts_organization_status_idx
  on public.inbound_drafts (organization_id, status, created_at desc);
create index inbound_drafts_message_idx on public.inbound_drafts (organization_id, inbound_message_id);
create index inbound_drafts_attachment_idx on public.inbound_drafts (organization_id, inbound_attachment_id);
create index inbound_drafts_vendor_invoice_idx
  on public.inbound_drafts (organization_id, vendor_invoice_id) where vendor_invoice_id is not null;
create index inbound_drafts_decided_by_idx on public.inbound_drafts (decided_by) where decided_by is not null;

-- =============================================================================
-- Triggers
-- =============================================================================

-- Every organization has its address from the start.
create or replace function private.create_inbound_settings()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.inbound_settings (organization_id, updated_by)
  values (new.id, null)
  on conflict (organization_id) do nothing;
  return null;
end;
$$;

create trigger create_inbound_settings after insert on public.organizations
  for each row execute function private.create_inbound_settings();

insert into public.inbound_settings (organization_id, updated_by)
select o.id, null from public.organizations o
on conflict (organization_id) do nothing;

-- Senders are compared in lower case; the writer and the time are recorded.
create or replace function private.normalize_inbound_settings()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.allowed_senders := array(
    select distinct lower(btrim(s)) from pg_catalog.unnest(new.allowed_senders) s
    where btrim(s) <> '' order by 1);
  new.updated_at := now();
  new.updated_by := coalesce(auth.uid(), new.updated_by);
  return new;
end;
$$;

create trigger normalize_inbound_settings before insert or update on public.inbound_settings
  for each row execute function private.normalize_inbound_settings();

create trigger set_updated_at before update on public.inbound_messages
  for each row execute function private.set_updated_at();
create trigger set_updated_at before update on public.inbound_drafts
  for each row execute function private.set_updated_at();

select private.enable_audit('public.inbound_settings', array['updated_at']);
select private.enable_audit('public.inbound_messages', array['updated_at']);
select private.enable_audit('public.inbound_drafts', array['updated_at']);

-- =============================================================================
-- Functions: the worker's (service role)
-- =============================================================================

create or replace function private.require_service_role()
returns void
language plpgsql
stable
set search_path = ''
as $$
begin
  if auth.role() is distinct from 'service_role' then
    raise exception 'only the inbound mail worker may do this' using errcode = '42501';
  end if;
end;
$$;

-- The organizations whose address tokens a message was sent to, with their
-- settings (tokens compared in lower case).
create or replace function private.inbound_recipients(tokens text[])
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  perform private.require_service_role();
  return coalesce((
    select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(s) order by s.address_token)
    from public.inbound_settings s
    where s.address_token = any (array(select lower(t) from pg_catalog.unnest(tokens) t))
  ), '[]'::jsonb);
end;
$$;

-- A message for one organization: recorded once per Message-ID. message:
-- {"message_id", "s3_key", "recipient", "from_address", "from_name", "subject",
-- "sent_at", "size_bytes", "attachment_count"}. The sender is allowed when its
-- address or @domain is listed, or (allow_members) it is a member's address; else
-- the message is quarantined. Over the limits: rejected. Answers {"created",
-- "message", "settings"}; a Message-ID seen before answers the stored message.
create or replace function private.receive_inbound_message(organization_id uuid, message jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  org uuid := receive_inbound_message.organization_id;
  s public.inbound_settings;
  m public.inbound_messages;
  sender text := lower(btrim(message ->> 'from_address'));
  member uuid;
  size bigint := coalesce((message ->> 'size_bytes')::bigint, 0);
  attachments integer := coalesce((message ->> 'attachment_count')::integer, 0);
  verdict text;
  why text;
begin
  perform private.require_service_role();
  select * into s from public.inbound_settings x where x.organization_id = org;
  if not found then
    raise exception 'organization not found' using errcode = 'P0002';
  end if;
  if coalesce(btrim(message ->> 'message_id'), '') = '' then
    raise exception 'message_id is required' using errcode = '22023';
  end if;
  select * into m from public.inbound_messages x
  where x.organization_id = org and x.message_id = left(btrim(message ->> 'message_id'), 998);
  if found then
    return pg_catalog.jsonb_build_object('created', false, 'message', pg_catalog.to_jsonb(m),
                                         'settings', pg_catalog.to_jsonb(s));
  end if;

  select ms.user_id into member
  from public.memberships ms
  where ms.organization_id = org and ms.role >= 'member'
    and lower(private.account_email(ms.user_id)) = sender
  limit 1;

  if size > s.max_message_bytes then
    verdict := 'rejected';
    why := pg_catalog.format('the message is %s bytes; at most %s are accepted', size, s.max_message_bytes);
  elsif attachments > s.max_attachments then
    verdict := 'rejected';
    why := pg_catalog.format('the message has %s attachments; at most %s are accepted',
                             attachments, s.max_attachments);
  elsif sender is not null and sender <> '' and (
          sender = any (s.allowed_senders)
          or '@' || pg_catalog.split_part(sender, '@', 2) = any (s.allowed_senders)
          or (s.allow_members and member is not null)) then
    verdict := 'received';
  else
    verdict := 'quarantined';
    why := pg_catalog.format('the sender %s is not on the allowed senders list',
                             coalesce(nullif(sender, ''), '(none)'));
  end if;

  insert into public.inbound_messages
    (organization_id, message_id, s3_key, recipient, from_address, from_name, subject, sent_at,
     size_bytes, attachment_count, status, reason, imported_by)
  values (org, left(btrim(message ->> 'message_id'), 998), left(message ->> 's3_key', 1024),
          left(message ->> 'recipient', 320), left(sender, 320), left(message ->> 'from_name', 320),
          left(message ->> 'subject', 998), (message ->> 'sent_at')::timestamptz, size, attachments,
          verdict, why, case when verdict = 'received' then member end)
  on conflict on constraint inbound_messages_organization_id_message_id_key do nothing
  returning * into m;
  if m.id is null then  -- a concurrent delivery of the same message recorded it first
    select * into m from public.inbound_messages x
    where x.organization_id = org and x.message_id = left(btrim(message ->> 'message_id'), 998);
    return pg_catalog.jsonb_build_object('created', false, 'message', pg_catalog.to_jsonb(m),
                                         'settings', pg_catalog.to_jsonb(s));
  end if;
  return pg_catalog.jsonb_build_object('created', true, 'message', pg_catalog.to_jsonb(m),
                                       'settings', pg_catalog.to_jsonb(s));
end;
$$;

-- The SHA-256s among ``hashes`` already imported or drafted in the organization.
create or replace function private.inbound_seen_attachments(organization_id uuid, hashes text[])
returns text[]
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  perform private.require_service_role();
  return array(
    select distinct a.sha256 from public.inbound_attachments a
    where a.organization_id = inbound_seen_attachments.organization_id
      and a.sha256 = any (hashes)
      and a.outcome in ('imported', 'partly_imported', 'draft'));
end;
$$;

-- Imports a received (or released) message: its batch (source email, accept valid
-- rows, attributed to imported_by or released_by), every attachment's documents
-- in one import call (rows numbered per attachment: first_row..last_row), then
-- each attachment's result and the drafts. attachments: [{"position", "filename",
-- "content_type", "size_bytes", "sha256", "kind", "outcome" (null: decided here
-- from the import), "message", "first_row", "last_row"}]; drafts: [{"position"
-- (the attachment's), "vendor_name", "invoice_number", "invoice_date", "due_date",
-- "po_number", "currency", "subtotal", "tax_amount", "total_amount",
-- "text_excerpt"}]. A message already imported, quarantined or rejected answers
-- {"already": true, "message"} and changes nothing.
create or replace function private.import_inbound_message(
  organization_id uuid,
  inbound_message_id uuid,
  batch jsonb default '[]',
  errors jsonb default '[]',
  rows_total integer default 0,
  attachments jsonb default '[]',
  drafts jsonb default '[]'
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  org uuid := import_inbound_message.organization_id;
  m public.inbound_messages;
  b public.import_batches;
  report jsonb;
begin
  perform private.require_service_role();
  select * into m from public.inbound_messages x
  where x.organization_id = org and x.id = inbound_message_id
  for update;
  if not found then
    raise exception 'inbound message not found' using errcode = 'P0002';
  end if;
  if m.status not in ('received', 'released') then
    return pg_catalog.jsonb_build_object('already', true, 'message', pg_catalog.to_jsonb(m));
  end if;

  insert into public.import_batches
    (organization_id, kind, source, policy, status, file_name, started_at, rows_total,
     size_bytes, created_by)
  values (org, 'vendor_invoices', 'email', 'accept_valid_rows', 'processing',
          left(coalesce(nullif(btrim(m.subject), ''), '(no subject)'), 255), now(),
          greatest(coalesce(rows_total, 0), 0), m.size_bytes,
          coalesce(m.released_by, m.imported_by))
  returning * into b;

  report := private.import_vendor_invoices(
    organization_id => org,
    batch => coalesce(batch, '[]'::jsonb),
    policy => 'accept_valid_rows',
    errors => coalesce(errors, '[]'::jsonb),
    rows_total => greatest(coalesce(rows_total, 0), 0),
    import_batch_id => b.id);

  insert into public.inbound_attachments
    (organization_id, inbound_message_id, position, filename, content_type, size_bytes, sha256,
     kind, outcome, message, first_row, last_row, vendor_invoice_ids, errors)
  select org, m.id, a.position, left(a.filename, 255), left(a.content_type, 255),
         coalesce(a.size_bytes, 0), a.sha256, a.kind,
         coalesce(a.outcome,
                  case when pg_catalog.cardinality(acc.ids) > 0 and pg_catalog.jsonb_array_length(rej.errs) = 0 then 'imported'
                       when pg_catalog.cardinality(acc.ids) > 0 then 'partly_imported'
                       else 'rejected' end),
         left(a.message, 2000), a.first_row, a.last_row, acc.ids, rej.errs
  from pg_catalog.jsonb_to_recordset(coalesce(attachments, '[]'::jsonb)) as a (
    position integer, filename text, content_type text, size_bytes bigint, sha256 text,
    kind text, outcome text, message text, first_row integer, last_row integer)
  cross join lateral (
    select coalesce(array_agg((x ->> 'id')::uuid order by (x ->> 'index')::integer), '{}') as ids
    from pg_catalog.jsonb_array_elements(report -> 'accepted') x
    where a.outcome is null and (x ->> 'index')::integer between a.first_row and a.last_row
  ) acc
  cross join lateral (
    select coalesce(pg_catalog.jsonb_agg(x order by (x ->> 'row')::integer), '[]'::jsonb) as errs
    from pg_catalog.jsonb_array_elements(report -> 'rejected') x
    where a.outcome is null and (x ->> 'row')::integer between a.first_row and a.last_row
  ) rej;

  insert into public.inbound_drafts
    (organization_id, inbound_message_id, inbound_attachment_id, vendor_name, invoice_number,
     invoice_date, due_date, po_number, currency, subtotal, tax_amount, total_amount, text_excerpt)
  select org, m.id, ia.id, left(d.vendor_name, 200), left(d.invoice_number, 50), d.invoice_date,
         case when d.due_date >= d.invoice_date or d.invoice_date is null then d.due_date end,
         left(d.po_number, 50), d.currency, d.subtotal, d.tax_amount, d.total_amount,
         left(d.text_excerpt, 4000)
  from pg_catalog.jsonb_to_recordset(coalesce(drafts, '[]'::jsonb)) as d (
    position integer, vendor_name text, invoice_number text, invoice_date date, due_date date,
    po_number text, currency text, subtotal numeric, tax_amount numeric, total_amount numeric,
    text_excerpt text)
  join public.inbound_attachments ia
    on ia.inbound_message_id = m.id and ia.position = d.position;

  update public.inbound_messages x
  set status = 'imported', import_batch_id = b.id, imported_at = now(), reason = null,
      imported_by = coalesce(m.released_by, m.imported_by)
  where x.id = m.id
  returning * into m;

  return pg_catalog.jsonb_build_object(
    'already', false,
    'message', pg_catalog.to_jsonb(m),
    'report', report,
    'attachments', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(ia) order by ia.position)
      from public.inbound_attachments ia where ia.inbound_message_id = m.id), '[]'::jsonb));
end;
$$;

-- A message the worker could not read at all (not MIME, over the size limit
-- before parsing): rejected with the reason.
create or replace function private.reject_inbound_message(
  organization_id uuid, inbound_message_id uuid, reason text
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  m public.inbound_messages;
begin
  perform private.require_service_role();
  update public.inbound_messages x
  set status = 'rejected', reason = left(reject_inbound_message.reason, 2000)
  where x.organization_id = reject_inbound_message.organization_id
    and x.id = inbound_message_id and x.status in ('received', 'released')
  returning * into m;
  return pg_catalog.to_jsonb(m);
end;
$$;

-- =============================================================================
-- Functions: people's (admins release and discard; members confirm drafts)
-- =============================================================================

-- A new address token (the old address stops working at once).
create or replace function private.rotate_inbound_address(organization_id uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  s public.inbound_settings;
begin
  perform private.require_role(rotate_inbound_address.organization_id, 'admin',
                               'only admins may change the inbound address');
  update public.inbound_settings x
  set address_token = 'ap-' || left(replace(gen_random_uuid()::text, '-', ''), 20)
  where x.organization_id = rotate_inbound_address.organization_id
  returning * into s;
  return pg_catalog.to_jsonb(s);
end;
$$;

-- A quarantined message let in: released, and imported by the worker on the
-- event its re-stored object raises, attributed to the admin who released it.
create or replace function private.release_inbound_message(organization_id uuid, inbound_message_id uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  m public.inbound_messages;
begin
  perform private.require_role(release_inbound_message.organization_id, 'admin',
                               'only admins may release quarantined messages');
  select * into m from public.inbound_messages x
  where x.organization_id = release_inbound_message.organization_id and x.id = inbound_message_id
  for update;
  if not found then
    raise exception 'inbound message not found' using errcode = 'P0002';
  end if;
  if m.status <> 'quarantined' then
    raise exception 'the message is %, not quarantined', m.status using errcode = '22023';
  end if;
  update public.inbound_messages x
  set status = 'released', released_by = auth.uid(), released_at = now()
  where x.id = m.id
  returning * into m;
  return pg_catalog.to_jsonb(m);
end;
$$;

-- A quarantined message thrown away: rejected, never imported.
create or replace function private.discard_inbound_message(organization_id uuid, inbound_message_id uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  m public.inbound_messages;
begin
  perform private.require_role(discard_inbound_message.organization_id, 'admin',
                               'only admins may discard quarantined messages');
  select * into m from public.inbound_messages x
  where x.organization_id = discard_inbound_message.organization_id and x.id = inbound_message_id
  for update;
  if not found then
    raise exception 'inbound message not found' using errcode = 'P0002';
  end if;
  if m.status <> 'quarantined' then
    raise exception 'the message is %, not quarantined', m.status using errcode = '22023';
  end if;
  update public.inbound_messages x
  set status = 'rejected', reason = 'discarded from quarantine', discarded_by = auth.uid(),
      discarded_at = now()
  where x.id = m.id
  returning * into m;
  return pg_catalog.to_jsonb(m);
end;
$$;

-- A draft confirmed: document (the vendor-invoice import's document, validated by
-- the route) is imported in a batch of its own (source email, by the confirming
-- member, who becomes its importer), and the draft records the invoice. A document
-- the import rejects (a duplicate, ...) raises 22023 with the reason; the draft
-- stays to be corrected.
create or replace function private.confirm_inbound_draft(
  organization_id uuid, draft_id uuid, document jsonb
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  org uuid := confirm_inbound_draft.organization_id;
  d public.inbound_drafts;
  report jsonb;
  invoice uuid;
begin
  perform private.require_role(org, 'member', 'your role may not import in this organization');
  select * into d from public.inbound_drafts x
  where x.organization_id = org and x.id = draft_id
  for update;
  if not found then
    raise exception 'draft not found' using errcode = 'P0002';
  end if;
  if d.status <> 'needs_confirmation' then
    raise exception 'the draft is already %', d.status using errcode = '22023';
  end if;
  if document is null or pg_catalog.jsonb_typeof(document) <> 'object' then
    raise exception 'document must be an object' using errcode = '22023';
  end if;
  report := private.import_vendor_invoices(
    organization_id => org,
    batch => pg_catalog.jsonb_build_array(document || '{"index": 1, "rows": [1]}'::jsonb),
    policy => 'all_or_nothing',
    errors => '[]'::jsonb,
    rows_total => 1);
  invoice := (report #>> '{accepted,0,id}')::uuid;
  if invoice is null then
    raise exception '%', coalesce(report #>> '{rejected,0,message}', 'the invoice was not imported')
      using errcode = '22023';
  end if;
  update public.import_batches ib set source = 'email'
  where ib.organization_id = org and ib.id = (report #>> '{batch,id}')::uuid;
  update public.inbound_drafts x
  set status = 'confirmed', vendor_invoice_id = invoice, decided_by = auth.uid(), decided_at = now()
  where x.id = d.id
  returning * into d;
  return pg_catalog.jsonb_build_object('draft', pg_catalog.to_jsonb(d), 'report', report);
end;
$$;

create or replace function private.discard_inbound_draft(organization_id uuid, draft_id uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  d public.inbound_drafts;
begin
  perform private.require_role(discard_inbound_draft.organization_id, 'member',
                               'your role may not import in this organization');
  select * into d from public.inbound_drafts x
  where x.organization_id = discard_inbound_draft.organization_id and x.id = draft_id
  for update;
  if not found then
    raise exception 'draft not found' using errcode = 'P0002';
  end if;
  if d.status <> 'needs_confirmation' then
    raise exception 'the draft is already %', d.status using errcode = '22023';
  end if;
  update public.inbound_drafts x
  set status = 'discarded', decided_by = auth.uid(), decided_at = now()
  where x.id = d.id
  returning * into d;
  return pg_catalog.to_jsonb(d);
end;
$$;

-- =============================================================================
-- The RPCs: security invoker, each calling its definer core in private
-- =============================================================================

create function public.inbound_recipients(tokens text[])
returns jsonb language sql stable security invoker set search_path = ''
as $$ select private.inbound_recipients($1) $$;
comment on function public.inbound_recipients(text[]) is
  'The organizations (and settings) of inbound address tokens (the mail worker).';

create function public.receive_inbound_message(organization_id uuid, message jsonb)
returns jsonb language sql volatile security invoker set search_path = ''
as $$ select private.receive_inbound_message($1, $2) $$;
comment on function public.receive_inbound_message(uuid, jsonb) is
  'Records an inbound message once per Message-ID: received, quarantined or rejected.';

create function public.inbound_seen_attachments(organization_id uuid, hashes text[])
returns text[] language sql stable security invoker set search_path = ''
as $$ select private.inbound_seen_attachments($1, $2) $$;
comment on function public.inbound_seen_attachments(uuid, text[]) is
  'The attachment hashes already imported or drafted in the organization.';

create function public.import_inbound_message(
  organization_id uuid, inbound_message_id uuid, batch jsonb default '[]',
  errors jsonb default '[]', rows_total integer default 0, attachments jsonb default '[]',
  drafts jsonb default '[]'
)
returns jsonb language sql volatile security invoker set search_path = ''
as $$ select private.import_inbound_message($1, $2, $3, $4, $5, $6, $7) $$;
comment on function public.import_inbound_message(uuid, uuid, jsonb, jsonb, integer, jsonb, jsonb) is
  'Imports an inbound message''s attachments in one batch, with a result per attachment.';

create function public.reject_inbound_message(organization_id uuid, inbound_message_id uuid, reason text)
returns jsonb language sql volatile security invoker set search_path = ''
as $$ select private.reject_inbound_message($1, $2, $3) $$;
comment on function public.reject_inbound_message(uuid, uuid, text) is
  'Rejects an inbound message the worker could not read.';

create function public.rotate_inbound_address(organization_id uuid)
returns jsonb language sql volatile security invoker set search_path = ''
as $$ select private.rotate_inbound_address($1) $$;
comment on function public.rotate_inbound_address(uuid) is
  'Gives the organization a new inbound address (admins).';

create function public.release_inbound_message(organization_id uuid, inbound_message_id uuid)
returns jsonb language sql volatile security invoker set search_path = ''
as $$ select private.release_inbound_message($1, $2) $$;
comment on function public.release_inbound_message(uuid, uuid) is
  'Releases a quarantined inbound message for import (admins).';

create function public.discard_inbound_message(organization_id uuid, inbound_message_id uuid)
returns jsonb language sql volatile security invoker set search_path = ''
as $$ select private.discard_inbound_message($1, $2) $$;
comment on function public.discard_inbound_message(uuid, uuid) is
  'Discards a quarantined inbound message (admins).';

create function public.confirm_inbound_draft(organization_id uuid, draft_id uuid, document jsonb)
returns jsonb language sql volatile security invoker set search_path = ''
as $$ select private.confirm_inbound_draft($1, $2, $3) $$;
comment on function public.confirm_inbound_draft(uuid, uuid, jsonb) is
  'Imports a draft read from a PDF as a vendor invoice (members).';

create function public.discard_inbound_draft(organization_id uuid, draft_id uuid)
returns jsonb language sql volatile security invoker set search_path = ''
as $$ select private.discard_inbound_draft($1, $2) $$;
comment on function public.discard_inbound_draft(uuid, uuid) is
  'Discards a draft read from a PDF (members).';

-- =============================================================================
-- Policies
-- =============================================================================

alter table public.inbound_settings enable row level security;
alter table public.inbound_messages enable row level security;
alter table public.inbound_attachments enable row level security;
alter table public.inbound_drafts enable row level security;

create policy "Members can view their organization's inbound settings"
  on public.inbound_settings for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));
create policy "Admins can update their organization's inbound settings"
  on public.inbound_settings for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]));
create policy "Members can view their organization's inbound messages"
  on public.inbound_messages for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));
create policy "Members can view their organization's inbound attachments"
  on public.inbound_attachments for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));
create policy "Members can view their organization's inbound drafts"
  on public.inbound_drafts for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

-- Require MFA (migration 20261206140200): the restrictive policy on every table
-- with organization_id.
do $$
declare
  t text;
begin
  foreach t in array array['inbound_settings', 'inbound_messages', 'inbound_attachments',
                           'inbound_drafts'] loop
    execute pg_catalog.format(
      'create policy mfa_required on public.%I as restrictive for all to authenticated using (%s) with check (%s)',
      t, 'organization_id <> all ((select private.mfa_pending_organizations())::uuid[])',
      'organization_id <> all ((select private.mfa_pending_organizations())::uuid[])');
  end loop;
end;
$$;

-- =============================================================================
-- Grants
-- =============================================================================

revoke all on public.inbound_settings, public.inbound_messages, public.inbound_attachments,
  public.inbound_drafts from anon, authenticated;
grant select on public.inbound_settings, public.inbound_messages, public.inbound_attachments,
  public.inbound_drafts to authenticated;
grant update (allowed_senders, allow_members, max_message_bytes, max_attachments,
  max_attachment_bytes) on public.inbound_settings to authenticated;
grant all on public.inbound_settings, public.inbound_messages, public.inbound_attachments,
  public.inbound_drafts to service_role;

revoke execute on all functions in schema private, public from public;

grant execute on function public.rotate_inbound_address(uuid),
  public.release_inbound_message(uuid, uuid),
  public.discard_inbound_message(uuid, uuid),
  public.confirm_inbound_draft(uuid, uuid, jsonb),
  public.discard_inbound_draft(uuid, uuid),
  private.rotate_inbound_address(uuid),
  private.release_inbound_message(uuid, uuid),
  private.discard_inbound_message(uuid, uuid),
  private.confirm_inbound_draft(uuid, uuid, jsonb),
  private.discard_inbound_draft(uuid, uuid),
  private.valid_inbound_senders(text[]),
  private.require_service_role()
  to authenticated, service_role;

grant execute on function public.inbound_recipients(text[]),
  public.receive_inbound_message(uuid, jsonb),
  public.inbound_seen_attachments(uuid, text[]),
  public.import_inbound_message(uuid, uuid, jsonb, jsonb, integer, jsonb, jsonb),
  public.reject_inbound_message(uuid, uuid, text),
  private.inbound_recipients(text[]),
  private.receive_inbound_message(uuid, jsonb),
  private.inbound_seen_attachments(uuid, text[]),
  private.import_inbound_message(uuid, uuid, jsonb, jsonb, integer, jsonb, jsonb),
  private.reject_inbound_message(uuid, uuid, text)
  to service_role;

-- =============================================================================
-- Matching, completed (issue 20): the match mode of an imported purchase order
-- and its lines (CSV columns match_mode / line_match_mode; JSON match_mode on the
-- document and on lines[i]), and the organization's default mode, which decides
-- a line whose line, purchase order and vendor name none. The functions below are
-- their latest definitions (20261206101300_imports.sql, 20261206101400_matching.sql,
-- 20261206150200_two_way_matching.sql) with only that added.
-- =============================================================================

alter table public.reconciliation_settings
  add column default_match_mode text not null default 'three_way'
    check (default_match_mode in ('three_way', 'two_way'));

-- The admins' to write, as the other settings (the table's policies).
grant insert (default_match_mode), update (default_match_mode)
  on public.reconciliation_settings to authenticated;

create or replace function private.reconciliation_settings_of(organization_id uuid)
returns public.reconciliation_settings
language sql
stable
security invoker
set search_path = ''
as $$
  select (s.r).* from (
    select r, 1 as pref from public.reconciliation_settings r where r.organization_id = reconciliation_settings_of.organization_id
    union all
    select row(reconciliation_settings_of.organization_id, 0, 0, 0, 0.05, 0.4, true, null, now(), now(), 'three_way')::public.reconciliation_settings, 2
  ) s
  order by s.pref
  limit 1
$$;

create or replace function private.reconciliation_settings_json(organization_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select jsonb_build_object(
    'organization_id', reconciliation_settings_json.organization_id,
    'quantity_tolerance_percent', s.quantity_tolerance_percent::text,
    'price_tolerance_percent', s.price_tolerance_percent::text,
    'price_tolerance_amount', s.price_tolerance_amount::text,
    'total_tolerance_amount', s.total_tolerance_amount::text,
    'vendor_similarity_threshold', s.vendor_similarity_threshold::text,
    'auto_rematch', s.auto_rematch,
    'default_match_mode', s.default_match_mode,
    'saved', exists (select 1 from public.reconciliation_settings r where r.organization_id = reconciliation_settings_json.organization_id),
    'updated_by', s.updated_by,
    'updated_at', s.updated_at)
  from private.reconciliation_settings_of(reconciliation_settings_json.organization_id) s
$$;
grant execute on function private.reconciliation_settings_json(uuid) to authenticated, service_role;
revoke execute on function private.reconciliation_settings_json(uuid) from public;

-- Changes the fields present in `changes` (a partial update); admins and owners.
create or replace function public.update_reconciliation_settings(organization_id uuid, changes jsonb)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := update_reconciliation_settings.organization_id;
  cur public.reconciliation_settings;
  unknown text;
begin
  if auth.uid() is null then
    raise exception 'changing the matching settings needs the admin role or above'
      using errcode = '42501';
  end if;
  perform private.require_role(org, 'admin',
    'changing the matching settings needs the admin role or above');
  if changes is null or jsonb_typeof(changes) <> 'object' or changes = '{}' then
    raise exception 'give at least one setting to change' using errcode = '22023';
  end if;
  select k into unknown from jsonb_object_keys(changes) k
  where k not in ('quantity_tolerance_percent', 'price_tolerance_percent', 'price_tolerance_amount',
                  'total_tolerance_amount', 'vendor_similarity_threshold', 'auto_rematch',
                  'default_match_mode')
  limit 1;
  if unknown is not null then
    raise exception 'unknown setting %', unknown using errcode = '22023';
  end if;
  if exists (select 1 from jsonb_each(changes) e where jsonb_typeof(e.value) = 'null') then
    raise exception 'settings cannot be null' using errcode = '22023';
  end if;
  cur := private.reconciliation_settings_of(org);
  insert into public.reconciliation_settings as r (
    organization_id, quantity_tolerance_percent, price_tolerance_percent, price_tolerance_amount,
    total_tolerance_amount, vendor_similarity_threshold, auto_rematch, default_match_mode)
  values (
    org,
    coalesce((changes ->> 'quantity_tolerance_percent')::numeric, cur.quantity_tolerance_percent),
    coalesce((changes ->> 'price_tolerance_percent')::numeric, cur.price_tolerance_percent),
    coalesce((changes ->> 'price_tolerance_amount')::numeric, cur.price_tolerance_amount),
    coalesce((changes ->> 'total_tolerance_amount')::numeric, cur.total_tolerance_amount),
    coalesce((changes ->> 'vendor_similarity_threshold')::numeric, cur.vendor_similarity_threshold),
    coalesce((changes ->> 'auto_rematch')::boolean, cur.auto_rematch),
    coalesce(changes ->> 'default_match_mode', cur.default_match_mode))
  on conflict on constraint reconciliation_settings_pkey do update
  set quantity_tolerance_percent = excluded.quantity_tolerance_percent,
      price_tolerance_percent = excluded.price_tolerance_percent,
      price_tolerance_amount = excluded.price_tolerance_amount,
      total_tolerance_amount = excluded.total_tolerance_amount,
      vendor_similarity_threshold = excluded.vendor_similarity_threshold,
      auto_rematch = excluded.auto_rematch,
      default_match_mode = excluded.default_match_mode;
  return private.reconciliation_settings_json(org);
end;
$$;
grant execute on function
  public.update_reconciliation_settings(uuid, jsonb)
  to authenticated, service_role;
revoke execute on function public.update_reconciliation_settings(uuid, jsonb) from public;

create or replace function private.match_vendor_invoices(
  organization_id uuid, invoice_ids uuid[] default null
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
set client_min_messages = warning
set jit = off
as $$
declare
  org uuid := match_vendor_invoices.organization_id;
  ids uuid[] := match_vendor_invoices.invoice_ids;
  cfg public.reconciliation_settings;
  skipped jsonb := '[]';
  counts jsonb;
  n integer;
begin
  perform private.require_role(org, 'member',
    'reconciliation changes need the member role or above in the organization');
  if ids is not null and cardinality(ids) > 50000 then
    raise exception 'at most 50000 invoices can be matched at once; % were given', cardinality(ids)
      using errcode = '22023';
  end if;
  cfg := private.reconciliation_settings_of(org);

  drop table if exists pg_temp.recon_ids, pg_temp.recon_mi, pg_temp.recon_ml,
    pg_temp.recon_lr, pg_temp.recon_mx, pg_temp.recon_old, pg_temp.recon_ex, pg_temp.recon_ir,
    pg_temp.recon_lines, pg_temp.recon_pol;

  -- 1. The invoices, locked (id order: concurrent matchings cannot deadlock).
  create temp table recon_ids on commit drop as
  select vi.id
  from public.vendor_invoices vi
  where vi.organization_id = org
    and vi.status not in ('approved', 'rejected')
    and (case when ids is null then vi.status in ('pending', 'exception')
              else vi.id = any (ids) end)
  order by vi.id
  for update;
  perform 'PRAGMA:TABLE: recon_ids (id uuid)';  -- its columns, for plpgsql_check (supabase db lint)
  create unique index on recon_ids (id);
  analyze recon_ids;

  if ids is not null then
    select coalesce(jsonb_agg(jsonb_build_object('id', x.id, 'reason',
             case when vi.status in ('approved', 'rejected')
                  then 'the invoice was ' || vi.status || ' by a person and is not re-matched'
                  else 'no such vendor invoice in the organization' end)), '[]')
    into skipped
    from (select distinct u.id from unnest(ids) u(id) where u.id is not null) x
    left join public.vendor_invoices vi on vi.id = x.id and vi.organization_id = org
    where not exists (select 1 from recon_ids r where r.id = x.id);
  end if;

  -- 2. Each invoice with its purchase order and effective tolerances.
  create temp table recon_mi on commit drop as
  select vi.id as invoice_id, vi.vendor_id, vi.vendor_name, vi.invoice_number,
         vi.normalized_invoice_number, vi.invoice_date, vi.created_at, vi.currency,
         vi.subtotal, vi.tax_amount, vi.total_amount, vi.po_number, vi.po_linked_manually,
         po.id as po_id, po.po_number as po_number_found, po.status as po_status,
         po.vendor_id as po_vendor_id, po.currency as po_currency,
         case when po.id is null then null
              when vi.po_linked_manually then 'manual' else 'po_number' end as po_matched_by,
         coalesce(tv.quantity_tolerance_percent, cfg.quantity_tolerance_percent) as qty_pct,
         coalesce(tv.price_tolerance_percent, cfg.price_tolerance_percent) as price_pct,
         coalesce(tv.price_tolerance_amount, cfg.price_tolerance_amount) as price_amt,
         coalesce(tv.total_tolerance_amount, cfg.total_tolerance_amount) as total_tol,
         po.match_mode as po_mode, tv.match_mode as vendor_mode
  from recon_ids r
  join public.vendor_invoices vi on vi.id = r.id
  left join public.purchase_orders by_link on vi.po_linked_manually
    and by_link.organization_id = org and by_link.id = vi.purchase_order_id
  left join public.purchase_orders by_number on not vi.po_linked_manually
    and by_number.organization_id = org
    and by_number.normalized_po_number = private.normalize_document_number(vi.po_number)
  cross join lateral (
    select coalesce(by_link.id, by_number.id) as id,
           coalesce(by_link.po_number, by_number.po_number) as po_number,
           coalesce(by_link.status, by_number.status) as status,
           coalesce(by_link.vendor_id, by_number.vendor_id) as vendor_id,
           coalesce(by_link.currency, by_number.currency) as currency,
           coalesce(by_link.match_mode, by_number.match_mode) as match_mode
  ) po
  left join public.vendors tv on tv.organization_id = org
    and tv.id = coalesce(vi.vendor_id, po.vendor_id);
  perform 'PRAGMA:TABLE: recon_mi (invoice_id uuid, vendor_id uuid, vendor_name text, invoice_number text, normalized_invoice_number text, invoice_date date, created_at timestamp with time zone, currency text, subtotal numeric, tax_amount numeric, total_amount numeric, po_number text, po_linked_manually boolean, po_id uuid, po_number_found text, po_status text, po_vendor_id uuid, po_currency text, po_matched_by text, qty_pct numeric, price_pct numeric, price_amt numeric, total_tol numeric, po_mode text, vendor_mode text)';  -- its columns, for plpgsql_check (supabase db lint)
  analyze recon_mi;

  -- 3. Each line with its PO line, received and earlier-billed quantities.
  create temp table recon_lines on commit drop as
    select l.id as line_id, m.invoice_id, l.line_number, l.item_code, l.description,
           l.quantity, l.unit_price, l.amount, m.currency, m.invoice_date, m.created_at,
           m.qty_pct, m.price_pct, m.price_amt, m.total_tol, m.po_id,
           pl.id as po_line_id, pl.matched_by, pl.line_number as po_line_number,
           pl.quantity as ordered, pl.unit_price as po_price,
           coalesce(pl.match_mode, m.po_mode, m.vendor_mode, cfg.default_match_mode, 'three_way') as match_mode
    from recon_mi m
    join public.vendor_invoice_lines l on l.vendor_invoice_id = m.invoice_id
    left join lateral (
      select c.id, c.matched_by, c.line_number, c.quantity, c.unit_price, p2.match_mode
      from (
        select p.id, 'manual'::text as matched_by, p.line_number, p.quantity, p.unit_price, 1 as pref
        from public.purchase_order_lines p
        where l.po_line_linked_manually and p.organization_id = org
          and p.id = l.purchase_order_line_id
        union all
        select p.id, 'item_code', p.line_number, p.quantity, p.unit_price, 2
        from public.purchase_order_lines p
        where not l.po_line_linked_manually and p.purchase_order_id = m.po_id
          and l.normalized_item_code <> '' and p.normalized_item_code = l.normalized_item_code
        union all
        select p.id, 'description', p.line_number, p.quantity, p.unit_price, 3
        from public.purchase_order_lines p
        where not l.po_line_linked_manually and p.purchase_order_id = m.po_id
          and lower(btrim(p.description)) = lower(btrim(l.description))
      ) c
      join public.purchase_order_lines p2 on p2.id = c.id
      order by c.pref, c.line_number
      limit 1
    ) pl on true
;
  perform 'PRAGMA:TABLE: recon_lines (line_id uuid, invoice_id uuid, line_number integer, item_code text, description text, quantity numeric, unit_price numeric, amount numeric, currency text, invoice_date date, created_at timestamp with time zone, qty_pct numeric, price_pct numeric, price_amt numeric, total_tol numeric, po_id uuid, po_line_id uuid, matched_by text, po_line_number integer, ordered numeric, po_price numeric, match_mode text)';  -- its columns, for plpgsql_check (supabase db lint)
  analyze recon_lines;
  -- The PO lines concerned, keyed: what other invoices billed against them and
  -- what was received are read through this index, whatever the statistics of
  -- vendor_invoice_line_matches (perhaps written earlier in this transaction).
  create temp table recon_pol on commit drop as
  select distinct x.po_line_id as id from recon_lines x where x.po_line_id is not null;
  perform 'PRAGMA:TABLE: recon_pol (id uuid)';  -- its columns, for plpgsql_check (supabase db lint)
  create unique index on recon_pol (id);
  analyze recon_pol;

  create temp table recon_ml on commit drop as
  with received as (
    select g.purchase_order_line_id as po_line_id, sum(g.quantity_received) as qty
    from recon_pol p
    join public.goods_receipt_lines g on g.purchase_order_line_id = p.id
    where g.organization_id = org
    group by g.purchase_order_line_id
  ),
  billing as (
    select x.line_id, x.po_line_id, x.quantity, x.invoice_date, x.created_at, x.invoice_id,
           x.line_number, true as mine
    from recon_lines x where x.po_line_id is not null
    union all
    select lm.vendor_invoice_line_id, lm.purchase_order_line_id, lm.billed_quantity,
           vi.invoice_date, vi.created_at, vi.id, lm.line_number, false
    from recon_pol p
    join public.vendor_invoice_line_matches lm on lm.purchase_order_line_id = p.id
    join public.vendor_invoices vi on vi.id = lm.vendor_invoice_id
    where lm.organization_id = org
      and vi.status <> 'rejected'
      and not exists (select 1 from recon_ids r where r.id = vi.id)
  ),
  earlier as (
    select b.line_id, b.mine,
           coalesce(sum(b.quantity) over (
             partition by b.po_line_id
             order by b.invoice_date, b.created_at, b.invoice_id, b.line_number
             rows between unbounded preceding and 1 preceding), 0) as billed_before
    from billing b
  )
  select x.*, coalesce(rc.qty, 0) as received, e.billed_before,
         case when x.match_mode = 'two_way' then x.ordered else coalesce(rc.qty, 0) end as basis
  from recon_lines x
  left join received rc on rc.po_line_id = x.po_line_id
  left join earlier e on e.line_id = x.line_id and e.mine;
  perform 'PRAGMA:TABLE: recon_ml (line_id uuid, invoice_id uuid, line_number integer, item_code text, description text, quantity numeric, unit_price numeric, amount numeric, currency text, invoice_date date, created_at timestamp with time zone, qty_pct numeric, price_pct numeric, price_amt numeric, total_tol numeric, po_id uuid, po_line_id uuid, matched_by text, po_line_number integer, ordered numeric, po_price numeric, match_mode text, received numeric, billed_before numeric, basis numeric)';  -- its columns, for plpgsql_check (supabase db lint)
  analyze recon_ml;

  -- 4. Each line's checks.
  create temp table recon_lr on commit drop as
  with c as (
    select ml.*,
           case when ml.po_line_id is null then null
                else pg_catalog.trim_scale(ml.basis * (1 + ml.qty_pct / 100) - ml.billed_before)
           end as allowed_qty,
           case when ml.po_line_id is null then null
                else ml.basis - ml.billed_before end as available_qty,
           case when ml.po_line_id is null then null
                else ml.unit_price - ml.po_price end as price_var,
           case when ml.po_line_id is null then null
                else pg_catalog.trim_scale(greatest(ml.po_price * ml.price_pct / 100, ml.price_amt))
           end as price_allow,
           private.round_money(ml.quantity * ml.unit_price, ml.currency) as expected_amount
    from recon_ml ml
  ),
  d as (
  select c.*,
         c.amount - c.expected_amount as amount_var,
         case when c.po_line_id is null then 'exception'
              when c.basis = 0 or c.quantity > c.allowed_qty then 'exception'
              when c.quantity > c.available_qty then 'matched_with_tolerance'
              else 'matched' end as qty_outcome,
         case when c.po_line_id is null then 'exception'
              when c.price_var > c.price_allow then 'exception'
              when c.price_var <> 0 then 'matched_with_tolerance'
              else 'matched' end as price_outcome,
         case when abs(c.amount - c.expected_amount) > c.total_tol then 'exception'
              when c.amount <> c.expected_amount then 'matched_with_tolerance'
              else 'matched' end as amount_outcome
  from c
  )
  select d.*,
         case when 'exception' in (d.qty_outcome, d.price_outcome, d.amount_outcome) then 'exception'
              when 'matched_with_tolerance' in (d.qty_outcome, d.price_outcome, d.amount_outcome)
                then 'matched_with_tolerance'
              else 'matched' end as line_outcome,
         case when d.po_line_id is null then 'po_line'
              when d.qty_outcome = 'exception' then 'quantity'
              when d.price_outcome = 'exception' then 'price'
              when d.amount_outcome = 'exception' then 'line_amount'
              when d.qty_outcome <> 'matched' then 'quantity'
              when d.price_outcome <> 'matched' then 'price'
              when d.amount_outcome <> 'matched' then 'line_amount'
              else 'exact' end as line_rule
  from d;
  perform 'PRAGMA:TABLE: recon_lr (line_id uuid, invoice_id uuid, line_number integer, item_code text, description text, quantity numeric, unit_price numeric, amount numeric, currency text, invoice_date date, created_at timestamp with time zone, qty_pct numeric, price_pct numeric, price_amt numeric, total_tol numeric, po_id uuid, po_line_id uuid, matched_by text, po_line_number integer, ordered numeric, po_price numeric, match_mode text, received numeric, billed_before numeric, basis numeric, allowed_qty numeric, available_qty numeric, price_var numeric, price_allow numeric, expected_amount numeric, amount_var numeric, qty_outcome text, price_outcome text, amount_outcome text, line_outcome text, line_rule text)';  -- its columns, for plpgsql_check (supabase db lint)

  -- 5. The exceptions detected now.
  create temp table recon_mx on commit drop as
  -- unknown vendor, with suggestions
  select m.invoice_id, null::uuid as line_id, null::integer as line_number,
         'unknown_vendor'::text as type, 'vendor'::text as check_name, 'high'::text as severity,
         'a vendor of the organization'::text as expected, m.vendor_name as actual,
         null::numeric as variance,
         format('The vendor %s is not one of the organization''s vendors (nor a confirmed alias)%s',
                pg_catalog.quote_literal(m.vendor_name),
                case when jsonb_array_length(s.candidates) > 0
                     then '; did you mean ' || (s.candidates -> 0 ->> 'name') || '?' else '' end)
           as message,
         jsonb_build_object('vendor_name', m.vendor_name,
                            'normalized_name', private.normalize_vendor_name(m.vendor_name),
                            'suggestions', s.candidates) as evidence
  from recon_mi m
  cross join lateral (
    select private.vendor_candidates(org, m.vendor_name, cfg.vendor_similarity_threshold) as candidates
  ) s
  where m.vendor_id is null
  union all
  -- duplicate invoice
  select m.invoice_id, null, null, 'duplicate_invoice', 'duplicate', 'high',
         'no other invoice of this vendor with this number, or with this total and date',
         format('%s of %s, %s %s', d.invoice_number, d.invoice_date, d.total_amount, d.currency),
         null,
         format('Invoice %s looks like a duplicate of invoice %s (%s) of the same vendor: %s',
                m.invoice_number, d.invoice_number, d.invoice_date,
                case when d.normalized_invoice_number = m.normalized_invoice_number
                     then 'the same invoice number'
                     else format('the same total %s %s and date under another number',
                                 m.total_amount, m.currency) end),
         jsonb_build_object('duplicate_of', d.id, 'invoice_number', d.invoice_number,
                            'invoice_date', d.invoice_date, 'total_amount', d.total_amount::text,
                            'status', d.status)
  from recon_mi m
  cross join lateral (
    select o.* from (
      select o.id, o.invoice_number, o.normalized_invoice_number, o.invoice_date,
             o.total_amount, o.currency, o.status, o.created_at
      from public.vendor_invoices o
      where m.vendor_id is not null and o.organization_id = org and o.vendor_id = m.vendor_id
        and o.id <> m.invoice_id and o.status <> 'rejected'
        and (o.normalized_invoice_number = m.normalized_invoice_number
             or (o.total_amount = m.total_amount and o.invoice_date = m.invoice_date
                 and o.currency = m.currency))
        and (o.created_at, o.normalized_invoice_number, o.id)
            < (m.created_at, m.normalized_invoice_number, m.invoice_id)
      union all
      select o.id, o.invoice_number, o.normalized_invoice_number, o.invoice_date,
             o.total_amount, o.currency, o.status, o.created_at
      from public.vendor_invoices o
      where m.vendor_id is null and o.organization_id = org and o.vendor_id is null
        and private.normalize_vendor_name(o.vendor_name) = private.normalize_vendor_name(m.vendor_name)
        and o.id <> m.invoice_id and o.status <> 'rejected'
        and (o.normalized_invoice_number = m.normalized_invoice_number
             or (o.total_amount = m.total_amount and o.invoice_date = m.invoice_date
                 and o.currency = m.currency))
        and (o.created_at, o.normalized_invoice_number, o.id)
            < (m.created_at, m.normalized_invoice_number, m.invoice_id)
    ) o
    order by o.created_at, o.normalized_invoice_number, o.id
    limit 1
  ) d
  union all
  -- missing purchase order
  select m.invoice_id, null, null, 'missing_po', 'po_number', 'high',
         'a purchase order of the organization', coalesce(m.po_number, 'none'), null,
         case when coalesce(btrim(m.po_number), '') = ''
              then format('Invoice %s names no purchase order', m.invoice_number)
              else format('Invoice %s names purchase order %s, which the organization does not have',
                          m.invoice_number, m.po_number) end,
         jsonb_build_object('po_number', m.po_number)
  from recon_mi m
  where m.po_id is null
  union all
  -- the purchase order is another vendor's
  select m.invoice_id, null, null, 'missing_po', 'po_vendor', 'high',
         pv.name, m.vendor_name, null,
         format('Purchase order %s is for vendor %s, not for %s',
                m.po_number_found, pv.name, m.vendor_name),
         jsonb_build_object('purchase_order_id', m.po_id, 'po_vendor_id', m.po_vendor_id,
                            'invoice_vendor_id', m.vendor_id)
  from recon_mi m
  join public.vendors pv on pv.id = m.po_vendor_id
  where m.po_id is not null and m.vendor_id is not null and m.vendor_id <> m.po_vendor_id
  union all
  -- the purchase order is closed or cancelled
  select m.invoice_id, null, null, 'po_closed', 'po_status', 'medium', 'open', m.po_status, null,
         format('Purchase order %s is %s: it takes no more invoices', m.po_number_found, m.po_status),
         jsonb_build_object('purchase_order_id', m.po_id, 'po_status', m.po_status)
  from recon_mi m
  where m.po_id is not null and m.po_status <> 'open'
  union all
  select m.invoice_id, null, null, 'currency_mismatch', 'currency', 'high', m.po_currency,
         m.currency, null,
         format('Invoice %s is in %s but purchase order %s is in %s',
                m.invoice_number, m.currency, m.po_number_found, m.po_currency),
         jsonb_build_object('purchase_order_id', m.po_id)
  from recon_mi m
  where m.po_id is not null and m.po_currency <> m.currency
  union all
  -- lines: no PO line
  select r.invoice_id, r.line_id, r.line_number, 'missing_po_line', 'po_line', 'high',
         'a line of the purchase order with this item code or description',
         coalesce(r.item_code || ' ', '') || r.description, null,
         format('Line %s (%s) is on no line of purchase order %s (no line with item code %s or description %s)',
                r.line_number, r.description, m.po_number_found,
                coalesce(r.item_code, 'none'), pg_catalog.quote_literal(r.description)),
         jsonb_build_object('item_code', r.item_code, 'description', r.description,
                            'purchase_order_id', r.po_id)
  from recon_lr r join recon_mi m on m.invoice_id = r.invoice_id
  where r.po_line_id is null and r.po_id is not null
  union all
  -- lines: quantity
  select r.invoice_id, r.line_id, r.line_number, 'over_billed_quantity',
         case when r.match_mode = 'two_way' then 'ordered'
              when r.received = 0 then 'received' else 'quantity' end, 'high',
         private.recon_num(greatest(r.allowed_qty, 0)), private.recon_num(r.quantity),
         r.quantity - greatest(r.available_qty, 0),
         case when r.match_mode = 'two_way'
              then format('Line %s (%s): %s billed but PO %s line %s orders %s%s; at most %s may be billed with the %s%% quantity tolerance (2-way matching: receipts are not required)',
                          r.line_number, r.description, private.recon_num(r.quantity),
                          m.po_number_found, r.po_line_number, private.recon_num(r.ordered),
                          case when r.billed_before > 0
                               then format(' of which %s already billed by earlier invoices',
                                           private.recon_num(r.billed_before))
                               else '' end,
                          private.recon_num(greatest(r.allowed_qty, 0)), private.recon_num(r.qty_pct))
              when r.received = 0
              then format('Line %s (%s): %s billed but nothing has been received yet against PO %s line %s',
                          r.line_number, r.description, private.recon_num(r.quantity),
                          m.po_number_found, r.po_line_number)
              else format('Line %s (%s): %s billed but only %s received against PO %s line %s%s; at most %s may be billed with the %s%% quantity tolerance',
                          r.line_number, r.description, private.recon_num(r.quantity),
                          private.recon_num(r.received), m.po_number_found, r.po_line_number,
                          case when r.billed_before > 0
                               then format(' of which %s already billed by earlier invoices',
                                           private.recon_num(r.billed_before))
                               else '' end,
                          private.recon_num(greatest(r.allowed_qty, 0)), private.recon_num(r.qty_pct))
         end,
         jsonb_build_object('purchase_order_line_id', r.po_line_id,
                            'ordered', r.ordered::text, 'received', r.received::text,
                            'billed_before', r.billed_before::text,
                            'billed', r.quantity::text, 'allowed', r.allowed_qty::text,
                            'tolerance_percent', r.qty_pct::text, 'match_mode', r.match_mode)
  from recon_lr r join recon_mi m on m.invoice_id = r.invoice_id
  where r.po_line_id is not null and r.qty_outcome = 'exception'
  union all
  -- lines: unit price
  select r.invoice_id, r.line_id, r.line_number, 'price_variance', 'price',
         case when r.price_var > r.po_price * 0.1 then 'high' else 'medium' end,
         private.recon_num(r.po_price), private.recon_num(r.unit_price), r.price_var,
         format('Line %s (%s): unit price %s is %s above the PO %s price %s; the tolerance allows %s (the larger of %s%% and %s)',
                r.line_number, r.description, private.recon_num(r.unit_price),
                private.recon_num(r.price_var), m.po_number_found, private.recon_num(r.po_price),
                private.recon_num(r.price_allow), private.recon_num(r.price_pct),
                private.recon_num(r.price_amt)),
         jsonb_build_object('purchase_order_line_id', r.po_line_id,
                            'po_unit_price', r.po_price::text, 'billed_unit_price', r.unit_price::text,
                            'variance', r.price_var::text, 'allowance', r.price_allow::text,
                            'tolerance_percent', r.price_pct::text,
                            'tolerance_amount', r.price_amt::text)
  from recon_lr r join recon_mi m on m.invoice_id = r.invoice_id
  where r.price_outcome = 'exception' and r.po_line_id is not null
  union all
  -- lines: amount vs quantity x price
  select r.invoice_id, r.line_id, r.line_number, 'total_variance', 'line_amount', 'medium',
         r.expected_amount::text, r.amount::text, r.amount_var,
         format('Line %s (%s): amount %s is not quantity %s x unit price %s = %s (off by %s; the rounding tolerance is %s)',
                r.line_number, r.description, r.amount, private.recon_num(r.quantity),
                private.recon_num(r.unit_price), r.expected_amount, r.amount_var, r.total_tol),
         jsonb_build_object('expected_amount', r.expected_amount::text,
                            'billed_amount', r.amount::text, 'tolerance', r.total_tol::text)
  from recon_lr r
  where r.amount_outcome = 'exception';
  perform 'PRAGMA:TABLE: recon_mx (invoice_id uuid, line_id uuid, line_number integer, type text, check_name text, severity text, expected text, actual text, variance numeric, message text, evidence jsonb)';  -- its columns, for plpgsql_check (supabase db lint)

  -- Document totals (needs the line sums).
  insert into recon_mx
  select t.invoice_id, null, null, 'total_variance', t.check_name, 'medium',
         t.expected::text, t.actual::text, t.actual - t.expected, t.message,
         jsonb_build_object('lines_total', t.lines_total::text, 'subtotal', t.subtotal::text,
                            'tax_amount', t.tax_amount::text, 'total_amount', t.total_amount::text,
                            'tolerance', t.total_tol::text)
  from (
    select m.invoice_id, 'subtotal' as check_name, coalesce(s.total, 0) as expected,
           m.subtotal as actual, m.total_tol, coalesce(s.total, 0) as lines_total, m.subtotal,
           m.tax_amount, m.total_amount,
           format('Invoice %s: the subtotal %s is not the sum of its lines %s (off by %s; the tolerance is %s)',
                  m.invoice_number, m.subtotal, coalesce(s.total, 0),
                  m.subtotal - coalesce(s.total, 0), m.total_tol) as message
    from recon_mi m
    left join (select invoice_id, sum(amount) as total from recon_ml group by invoice_id) s
      on s.invoice_id = m.invoice_id
    union all
    select m.invoice_id, 'total', coalesce(s.total, 0) + m.tax_amount, m.total_amount, m.total_tol,
           coalesce(s.total, 0), m.subtotal, m.tax_amount, m.total_amount,
           format('Invoice %s: the total %s is not the lines %s + tax %s = %s (off by %s; the tolerance is %s)',
                  m.invoice_number, m.total_amount, coalesce(s.total, 0), m.tax_amount,
                  coalesce(s.total, 0) + m.tax_amount,
                  m.total_amount - coalesce(s.total, 0) - m.tax_amount, m.total_tol)
    from recon_mi m
    left join (select invoice_id, sum(amount) as total from recon_ml group by invoice_id) s
      on s.invoice_id = m.invoice_id
  ) t
  where abs(t.actual - t.expected) > t.total_tol;

  -- 6. Write: resolved links, results, exceptions, statuses. Every statement
  -- joins the analyzed temp tables by their keys, never a table written in
  -- this call (its statistics would not know the rows just written).
  create index on recon_lr (line_id);
  analyze recon_lr;
  analyze recon_mx;

  delete from public.vendor_invoice_line_matches lm
  using recon_ids r where lm.vendor_invoice_id = r.id;

  insert into public.vendor_invoice_line_matches (
    vendor_invoice_line_id, organization_id, vendor_invoice_id, line_number,
    purchase_order_line_id, matched_by, outcome, rule, ordered_quantity, received_quantity,
    previously_billed_quantity, billed_quantity, allowed_quantity, quantity_variance,
    po_unit_price, billed_unit_price, price_variance, price_allowance, expected_amount,
    billed_amount, amount_variance, match_mode)
  select r.line_id, org, r.invoice_id, r.line_number, r.po_line_id, r.matched_by,
         r.line_outcome, r.line_rule,
         r.ordered, case when r.po_line_id is null then null else r.received end,
         case when r.po_line_id is null then null else r.billed_before end,
         r.quantity, r.allowed_qty, r.quantity - r.available_qty, r.po_price, r.unit_price,
         r.price_var, r.price_allow, r.expected_amount, r.amount, r.amount_var,
         case when r.po_line_id is null then null else r.match_mode end
  from recon_lr r;

  -- The invoices' exceptions as they were, and as they are after this matching:
  -- one detected again stays (a person's accepted or dismissed decision stands
  -- while its expected and actual figures are unchanged; after an automatic or
  -- linked resolution it reopens); a new one opens; an open one no longer
  -- detected resolves itself.
  create temp table recon_old on commit drop as
  select e.id, e.vendor_invoice_id, e.dedupe_key, e.status, e.resolution, e.expected, e.actual
  from public.reconciliation_exceptions e
  where e.vendor_invoice_id in (select r.id from recon_ids r);
  perform 'PRAGMA:TABLE: recon_old (id uuid, vendor_invoice_id uuid, dedupe_key text, status text, resolution text, expected text, actual text)';  -- its columns, for plpgsql_check (supabase db lint)
  create index on recon_old (vendor_invoice_id, dedupe_key);
  analyze recon_old;

  create temp table recon_ex on commit drop as
  select x.*, m.vendor_id, o.id as old_id,
         case when o.id is null then 'open'
              when o.status = 'open' or o.resolution in ('auto_resolved', 'linked')
                   or o.expected is distinct from x.expected
                   or o.actual is distinct from x.actual then 'open'
              else o.status end as new_status
  from recon_mx x
  join recon_mi m on m.invoice_id = x.invoice_id
  left join recon_old o on o.vendor_invoice_id = x.invoice_id
    and o.dedupe_key = x.type || '/' || x.check_name || '/' || coalesce(x.line_id::text, '-');
  perform 'PRAGMA:TABLE: recon_ex (invoice_id uuid, line_id uuid, line_number integer, type text, check_name text, severity text, expected text, actual text, variance numeric, message text, evidence jsonb, vendor_id uuid, old_id uuid, new_status text)';  -- its columns, for plpgsql_check (supabase db lint)
  analyze recon_ex;

  insert into public.reconciliation_exceptions as e (
    organization_id, vendor_invoice_id, vendor_invoice_line_id, vendor_id, type, check_name,
    severity, line_number, expected, actual, variance, message, evidence)
  select org, x.invoice_id, x.line_id, x.vendor_id, x.type, x.check_name, x.severity,
         x.line_number, x.expected, x.actual, x.variance, x.message, x.evidence
  from recon_ex x
  on conflict (vendor_invoice_id, dedupe_key) do update
  set vendor_id = excluded.vendor_id,
      severity = excluded.severity,
      line_number = excluded.line_number,
      expected = excluded.expected,
      actual = excluded.actual,
      variance = excluded.variance,
      message = excluded.message,
      evidence = excluded.evidence,
      last_detected_at = now(),
      status = case when e.status = 'open' or e.resolution in ('auto_resolved', 'linked')
                      or e.expected is distinct from excluded.expected
                      or e.actual is distinct from excluded.actual
                    then 'open' else e.status end,
      resolution = case when e.status = 'open' or e.resolution in ('auto_resolved', 'linked')
                          or e.expected is distinct from excluded.expected
                          or e.actual is distinct from excluded.actual
                        then null else e.resolution end,
      resolution_reason = case when e.status = 'open' or e.resolution in ('auto_resolved', 'linked')
                                 or e.expected is distinct from excluded.expected
                                 or e.actual is distinct from excluded.actual
                               then null else e.resolution_reason end,
      resolved_by = case when e.status = 'open' or e.resolution in ('auto_resolved', 'linked')
                           or e.expected is distinct from excluded.expected
                           or e.actual is distinct from excluded.actual
                         then null else e.resolved_by end,
      resolved_at = case when e.status = 'open' or e.resolution in ('auto_resolved', 'linked')
                           or e.expected is distinct from excluded.expected
                           or e.actual is distinct from excluded.actual
                         then null else e.resolved_at end
  -- Unchanged and staying as it is: not written (no audit entry, no churn).
  where (e.vendor_id, e.severity, e.line_number, e.expected, e.actual, e.variance, e.message,
         e.evidence)
        is distinct from
        (excluded.vendor_id, excluded.severity, excluded.line_number, excluded.expected,
         excluded.actual, excluded.variance, excluded.message, excluded.evidence)
     or (e.status <> 'open' and e.resolution in ('auto_resolved', 'linked'));

  update public.reconciliation_exceptions e
  set status = 'resolved', resolution = 'auto_resolved', resolved_by = null, resolved_at = now(),
      resolution_reason = 'no longer detected when the invoice was matched again'
  from recon_old o
  where e.id = o.id and o.status = 'open'
    and not exists (select 1 from recon_ex x where x.old_id = o.id);

  -- 7. Each invoice's result, from the temp tables.
  create temp table recon_ir on commit drop as
  select m.invoice_id,
         case when coalesce(ex.open, 0) > 0 then 'exception'
              when coalesce(ex.closed, 0) > 0 or coalesce(ls.tolerance, 0) > 0
                   or coalesce(ls.exception, 0) > 0 then 'matched_with_tolerance'
              else 'matched' end as outcome,
         m.po_id, m.po_matched_by, m.currency,
         coalesce(ls.total, 0) as lines_total, ls.expected as expected_lines_total,
         m.subtotal, m.tax_amount, m.total_amount,
         m.subtotal - coalesce(ls.total, 0) as subtotal_variance,
         m.total_amount - coalesce(ls.total, 0) - m.tax_amount as total_variance,
         coalesce(ls.n, 0)::integer as lines_count, coalesce(ls.matched, 0)::integer as lines_matched,
         coalesce(ls.tolerance, 0)::integer as lines_within_tolerance,
         coalesce(ls.exception, 0)::integer as lines_exception,
         coalesce(ex.open, 0)::integer as open_exceptions,
         jsonb_build_object('quantity_tolerance_percent', m.qty_pct::text,
                            'price_tolerance_percent', m.price_pct::text,
                            'price_tolerance_amount', m.price_amt::text,
                            'total_tolerance_amount', m.total_tol::text) as tolerances
  from recon_mi m
  left join (
    select r.invoice_id, count(*) as n, sum(r.amount) as total,
           sum(private.round_money(r.quantity * r.po_price, r.currency)) as expected,
           count(*) filter (where r.line_outcome = 'matched') as matched,
           count(*) filter (where r.line_outcome = 'matched_with_tolerance') as tolerance,
           count(*) filter (where r.line_outcome = 'exception') as exception
    from recon_lr r
    group by r.invoice_id
  ) ls on ls.invoice_id = m.invoice_id
  left join (
    select x.invoice_id, count(*) filter (where x.new_status = 'open') as open,
           count(*) filter (where x.new_status <> 'open') as closed
    from recon_ex x
    group by x.invoice_id
  ) ex on ex.invoice_id = m.invoice_id;
  perform 'PRAGMA:TABLE: recon_ir (invoice_id uuid, outcome text, po_id uuid, po_matched_by text, currency text, lines_total numeric, expected_lines_total numeric, subtotal numeric, tax_amount numeric, total_amount numeric, subtotal_variance numeric, total_variance numeric, lines_count integer, lines_matched integer, lines_within_tolerance integer, lines_exception integer, open_exceptions integer, tolerances jsonb)';  -- its columns, for plpgsql_check (supabase db lint)
  create unique index on recon_ir (invoice_id);
  analyze recon_ir;

  insert into public.vendor_invoice_matches as vm (
    vendor_invoice_id, organization_id, outcome, purchase_order_id, po_matched_by, currency,
    lines_total, expected_lines_total, subtotal, tax_amount, total_amount, subtotal_variance,
    total_variance, lines_count, lines_matched, lines_within_tolerance, lines_exception,
    open_exceptions, tolerances, matched_at)
  select i.invoice_id, org, i.outcome, i.po_id, i.po_matched_by, i.currency, i.lines_total,
         i.expected_lines_total, i.subtotal, i.tax_amount, i.total_amount, i.subtotal_variance,
         i.total_variance, i.lines_count, i.lines_matched, i.lines_within_tolerance,
         i.lines_exception, i.open_exceptions, i.tolerances, now()
  from recon_ir i
  on conflict (vendor_invoice_id) do update
  set outcome = excluded.outcome, purchase_order_id = excluded.purchase_order_id,
      po_matched_by = excluded.po_matched_by, currency = excluded.currency,
      lines_total = excluded.lines_total, expected_lines_total = excluded.expected_lines_total,
      subtotal = excluded.subtotal, tax_amount = excluded.tax_amount,
      total_amount = excluded.total_amount, subtotal_variance = excluded.subtotal_variance,
      total_variance = excluded.total_variance, lines_count = excluded.lines_count,
      lines_matched = excluded.lines_matched,
      lines_within_tolerance = excluded.lines_within_tolerance,
      lines_exception = excluded.lines_exception, open_exceptions = excluded.open_exceptions,
      tolerances = excluded.tolerances, matched_at = excluded.matched_at;

  -- The resolved purchase order, the outcome and the time: one update per invoice.
  update public.vendor_invoices vi
  set status = i.outcome, matched_at = now(), purchase_order_id = i.po_id
  from recon_ir i
  where vi.id = i.invoice_id;

  select jsonb_build_object(
           'invoices', count(*),
           'matched', count(*) filter (where i.outcome = 'matched'),
           'matched_with_tolerance', count(*) filter (where i.outcome = 'matched_with_tolerance'),
           'exception', count(*) filter (where i.outcome = 'exception'))
  into counts
  from recon_ir i;

  drop table if exists pg_temp.recon_ids, pg_temp.recon_mi, pg_temp.recon_ml,
    pg_temp.recon_lr, pg_temp.recon_mx, pg_temp.recon_old, pg_temp.recon_ex, pg_temp.recon_ir,
    pg_temp.recon_lines, pg_temp.recon_pol;
  return counts || jsonb_build_object('skipped', skipped);
end;
$$;

create or replace function private.purchase_order_match_modes(organization_id uuid, purchase_order_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select jsonb_build_object(
           'purchase_order_id', p.id, 'po_number', p.po_number, 'vendor_id', p.vendor_id,
           'match_mode', p.match_mode, 'vendor_match_mode', v.match_mode,
           'default_match_mode', coalesce(d.default_match_mode, 'three_way'),
           'effective_match_mode', coalesce(p.match_mode, v.match_mode, d.default_match_mode, 'three_way'),
           'lines', coalesce((
             select jsonb_agg(jsonb_build_object(
                      'id', l.id, 'line_number', l.line_number, 'item_code', l.item_code,
                      'description', l.description, 'match_mode', l.match_mode,
                      'effective_match_mode', coalesce(l.match_mode, p.match_mode, v.match_mode, d.default_match_mode, 'three_way'),
                      'decided_by', case when l.match_mode is not null then 'line'
                                         when p.match_mode is not null then 'purchase_order'
                                         when v.match_mode is not null then 'vendor'
                                         else 'organization' end)
                      order by l.line_number, l.id)
             from public.purchase_order_lines l
             where l.organization_id = purchase_order_match_modes.organization_id
               and l.purchase_order_id = p.id), '[]'))
  from public.purchase_orders p
  left join public.vendors v on v.organization_id = p.organization_id and v.id = p.vendor_id
  cross join private.reconciliation_settings_of(p.organization_id) d
  where p.organization_id = purchase_order_match_modes.organization_id
    and p.id = purchase_order_match_modes.purchase_order_id
$$;

create or replace function private.import_purchase_orders(
  organization_id uuid,
  batch jsonb,
  policy text default 'all_or_nothing',
  errors jsonb default '[]',
  rows_total integer default null,
  import_batch_id uuid default null,
  columns jsonb default '{}'
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  org uuid := import_purchase_orders.organization_id;
  b public.import_batches;
  store boolean;
  who uuid;
begin
  b := private.import_begin(org, 'purchase_orders', import_purchase_orders.policy,
                            import_batch_id, rows_total);
  if b.status <> 'processing' then
    return private.import_report(b);
  end if;
  who := coalesce(auth.uid(), b.created_by);

  if pg_catalog.to_regclass('pg_temp.import_docs') is not null then
    drop table pg_temp.import_docs;
  end if;
  create temp table import_docs on commit drop as
  select gen_random_uuid() as id, d.*,
         pg_catalog.format('purchase order %s', d.po_number) as label,
         private.normalize_vendor_name(d.vendor_name) as vendor_key,
         private.normalize_document_number(d.po_number) as number_key,
         private.resolve_vendor(org, private.normalize_vendor_name(d.vendor_name)) as vendor_id,
         false as stored
  from pg_catalog.jsonb_to_recordset(coalesce(batch, '[]'::jsonb)) as d (
    index integer, rows jsonb, po_number text, vendor_name text, order_date date,
    currency text, status text, notes text, lines jsonb, match_mode text);
  perform 'PRAGMA:TABLE: import_docs (id uuid, index integer, rows jsonb, po_number text, vendor_name text, order_date date, currency text, status text, notes text, lines jsonb, match_mode text, label text, vendor_key text, number_key text, vendor_id uuid, stored boolean)';  -- its columns, for plpgsql_check (supabase db lint)
  perform 'PRAGMA:TABLE: import_problems (doc_id uuid, row_number integer, column_name text, value text, message text)';  -- import_begin's
  analyze pg_temp.import_docs;

  perform private.import_problem_rows(d.id, d.rows, coalesce(columns ->> 'po_number', 'po_number'),
    d.po_number,
    pg_catalog.format('%s appears twice in this import (first at %s %s): a duplicate', d.label,
                      case when b.source = 'csv' then 'row' else 'index' end, d.first_index))
  from (
    select e.*, min(e.index) over (partition by e.number_key) as first_index
    from pg_temp.import_docs e
  ) d
  where d.first_index < d.index;

  perform private.import_problem_rows(d.id, d.rows, coalesce(columns ->> 'po_number', 'po_number'),
    d.po_number,
    pg_catalog.format('%s already exists (since %s): a duplicate; it is not changed by an import',
                      d.label, pg_catalog.to_char(po.created_at, 'YYYY-MM-DD')))
  from pg_temp.import_docs d
  join public.purchase_orders po
    on po.organization_id = org and po.normalized_po_number = d.number_key;

  store := b.policy = 'accept_valid_rows'
           or (pg_catalog.jsonb_array_length(coalesce(errors, '[]'::jsonb)) = 0
               and not exists (select 1 from pg_temp.import_problems));
  if store then
    update pg_temp.import_docs d set stored = true
    where not exists (select 1 from pg_temp.import_problems p where p.doc_id = d.id);

    with created as (
      insert into public.vendors (organization_id, name, default_currency, created_by)
      select distinct on (d.vendor_key) org, d.vendor_name, d.currency, who
      from pg_temp.import_docs d
      where d.stored and d.vendor_id is null
      order by d.vendor_key, d.index
      returning id, normalized_name
    )
    update pg_temp.import_docs d set vendor_id = c.id
    from created c
    where d.stored and d.vendor_id is null and c.normalized_name = d.vendor_key;

    insert into public.purchase_orders
      (id, organization_id, vendor_id, po_number, order_date, currency, status, notes,
       import_batch_id, created_by, match_mode)
    select d.id, org, d.vendor_id, d.po_number, coalesce(d.order_date, current_date), d.currency,
           coalesce(d.status, 'open'), d.notes, b.id, who, d.match_mode
    from pg_temp.import_docs d
    where d.stored;

    insert into public.purchase_order_lines
      (organization_id, purchase_order_id, currency, line_number, item_code, description,
       quantity, unit_price, match_mode)
    select org, d.id, d.currency, l.line_number, l.item_code, l.description, l.quantity,
           l.unit_price, l.line_match_mode
    from pg_temp.import_docs d
    cross join lateral pg_catalog.jsonb_to_recordset(d.lines) as l (
      line_number integer, item_code text, description text, quantity numeric,
      unit_price numeric, line_match_mode text)
    where d.stored;
  end if;

  return private.import_finish(b, errors, rows_total, 'a purchase order');
end;
$$;
