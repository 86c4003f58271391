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
