-- =============================================================================
-- Invoices in by email, continued (issue 20; docs/payables.md, "Invoices in by
-- email"):
--
-- 1. The sender's authentication. The worker reads SES's verdicts (the topmost
--    Authentication-Results header of the stage's authserv-id, X-SES-Spam-Verdict,
--    X-SES-Virus-Verdict) and sends them with its decision as
--    message.authentication {"authenticated", "reason", "spf", "dkim", "dmarc", ...};
--    receive_inbound_message rejects a message SES found a virus in (message.virus),
--    and matches the allowed senders and the members' own addresses only for an
--    authenticated From: anything else is quarantined with the reason (a message
--    without the verdicts too). The verdicts are kept on the message.
-- 2. Attached CSV files of purchase orders and goods receipts: each imported through
--    its own import (a batch per kind of the message, source email), before the
--    vendor invoices so that those match them; an attachment records its kind, its
--    batch and the documents it made; a CSV file whose header row fits more than one
--    kind is 'ambiguous'.
-- 3. The open invoices whose match mode the organization's default decides (the
--    settings route re-matches them in bounded calls when the default changes).
-- =============================================================================

-- =============================================================================
-- 1. Authentication
-- =============================================================================

alter table public.inbound_messages
  add column authentication jsonb
    check (authentication is null or pg_catalog.jsonb_typeof(authentication) = 'object');

comment on column public.inbound_messages.authentication is
  'SES''s verdicts on the sender as the worker read them (spf, dkim, dmarc, spam, virus) and its decision.';

-- A message for one organization: recorded once per Message-ID. message:
-- {"message_id", "s3_key", "recipient", "from_address", "from_name", "subject",
-- "sent_at", "size_bytes", "attachment_count", "virus", "authentication"}.
-- Rejected: SES found a virus, or over the limits. Quarantined: the sender is not
-- authenticated (authentication.authenticated not true: the reason is
-- authentication.reason), or its address or @domain is not listed and it is not a
-- member's own address (allow_members). Answers {"created", "message",
-- "settings"}; a Message-ID seen before answers the stored message.
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
  auth jsonb := message -> 'authentication';
  authenticated boolean;
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
  if auth is not null and pg_catalog.jsonb_typeof(auth) <> 'object' then
    raise exception 'authentication must be an object' using errcode = '22023';
  end if;
  select * into m from public.inbound_messages x
  where x.organization_id = org and x.message_id = left(btrim(message ->> 'message_id'), 998);
  if found then
    return pg_catalog.jsonb_build_object('created', false, 'message', pg_catalog.to_jsonb(m),
                                         'settings', pg_catalog.to_jsonb(s));
  end if;

  authenticated := coalesce(pg_catalog.jsonb_typeof(auth -> 'authenticated') = 'boolean'
                            and (auth ->> 'authenticated')::boolean, false);
  if authenticated then
    select ms.user_id into member
    from public.memberships ms
    where ms.organization_id = org and ms.role >= 'member'
      and lower(private.account_email(ms.user_id)) = sender
    limit 1;
  end if;

  if coalesce(message ->> 'virus', 'false') = 'true' then
    verdict := 'rejected';
    why := 'SES found a virus in the message (X-SES-Virus-Verdict: FAIL)';
  elsif size > s.max_message_bytes then
    verdict := 'rejected';
    why := pg_catalog.format('the message is %s bytes; at most %s are accepted', size, s.max_message_bytes);
  elsif attachments > s.max_attachments then
    verdict := 'rejected';
    why := pg_catalog.format('the message has %s attachments; at most %s are accepted',
                             attachments, s.max_attachments);
  elsif not authenticated then
    verdict := 'quarantined';
    why := pg_catalog.format('the sender %s is not authenticated: %s',
                             coalesce(nullif(sender, ''), '(none)'),
                             coalesce(nullif(btrim(auth ->> 'reason'), ''),
                                      'the message carries no verdict on its sender'));
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
     size_bytes, attachment_count, status, reason, imported_by, authentication)
  values (org, left(btrim(message ->> 'message_id'), 998), left(message ->> 's3_key', 1024),
          left(message ->> 'recipient', 320), left(sender, 320), left(message ->> 'from_name', 320),
          left(message ->> 'subject', 998), (message ->> 'sent_at')::timestamptz, size, attachments,
          verdict, left(why, 2000), case when verdict = 'received' then member end, auth)
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

-- =============================================================================
-- 2. Purchase orders and goods receipts by email
-- =============================================================================

alter table public.inbound_attachments drop constraint inbound_attachments_outcome_check;
alter table public.inbound_attachments add constraint inbound_attachments_outcome_check
  check (outcome in ('imported', 'partly_imported', 'rejected', 'duplicate', 'draft',
                     'unsupported', 'too_large', 'unreadable', 'ambiguous'));
alter table public.inbound_attachments
  add column document_kind text
    check (document_kind in ('vendor_invoices', 'purchase_orders', 'goods_receipts')),
  add column import_batch_id uuid,
  add column purchase_order_ids uuid[] not null default '{}',
  add column goods_receipt_ids uuid[] not null default '{}',
  add foreign key (organization_id, import_batch_id)
    references public.import_batches (organization_id, id) on delete set null (import_batch_id);

create index inbound_attachments_import_batch_idx
  on public.inbound_attachments (organization_id, import_batch_id) where import_batch_id is not null;

comment on column public.inbound_attachments.document_kind is
  'What the attachment''s documents were imported as (its batch: import_batch_id).';

-- Imports a received (or released) message: the vendor invoices' batch (the
-- message's import_batch_id) as before, and for the purchase orders and goods
-- receipts in others ({"purchase_orders": {"batch", "errors", "rows_total"},
-- "goods_receipts": {...}}, rows numbered per kind) a batch of that kind each,
-- imported first; every attachment's result from its kind's report
-- (attachments[i].document_kind, vendor_invoices when not given).
drop function public.import_inbound_message(uuid, uuid, jsonb, jsonb, integer, jsonb, jsonb);
drop function private.import_inbound_message(uuid, uuid, jsonb, jsonb, integer, jsonb, jsonb);

create function private.import_inbound_message(
  organization_id uuid,
  inbound_message_id uuid,
  batch jsonb default '[]',
  errors jsonb default '[]',
  rows_total integer default 0,
  attachments jsonb default '[]',
  drafts jsonb default '[]',
  others jsonb default '{}'
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
  ob public.import_batches;
  report jsonb;
  reports jsonb := '{}';
  batches jsonb := '{}';
  kind text;
  part jsonb;
  who uuid;
begin
  perform private.require_service_role();
  if others is not null and pg_catalog.jsonb_typeof(others) <> 'object' then
    raise exception 'others must be an object' using errcode = '22023';
  end if;
  select * into m from public.inbound_messages x
  where x.organization_id = org and x.id = inbound_message_id
  for update;
  if not found then
    raise exception 'inbound message not found' using errcode = 'P0002';
  end if;
  if m.status not in ('received', 'released') then
    return pg_catalog.jsonb_build_object('already', true, 'message', pg_catalog.to_jsonb(m));
  end if;
  who := coalesce(m.released_by, m.imported_by);

  -- Purchase orders, then receipts: the invoices below match what they bring.
  foreach kind in array array['purchase_orders', 'goods_receipts'] loop
    part := coalesce(others, '{}'::jsonb) -> kind;
    continue when part is null or pg_catalog.jsonb_typeof(part) <> 'object';
    insert into public.import_batches
      (organization_id, kind, source, policy, status, file_name, started_at, rows_total,
       size_bytes, created_by)
    values (org, kind, 'email', 'accept_valid_rows', 'processing',
            left(coalesce(nullif(btrim(m.subject), ''), '(no subject)'), 255), now(),
            greatest(coalesce((part ->> 'rows_total')::integer, 0), 0), m.size_bytes, who)
    returning * into ob;
    if kind = 'purchase_orders' then
      report := private.import_purchase_orders(
        organization_id => org,
        batch => coalesce(part -> 'batch', '[]'::jsonb),
        policy => 'accept_valid_rows',
        errors => coalesce(part -> 'errors', '[]'::jsonb),
        rows_total => greatest(coalesce((part ->> 'rows_total')::integer, 0), 0),
        import_batch_id => ob.id);
    else
      report := private.import_goods_receipts(
        organization_id => org,
        batch => coalesce(part -> 'batch', '[]'::jsonb),
        policy => 'accept_valid_rows',
        errors => coalesce(part -> 'errors', '[]'::jsonb),
        rows_total => greatest(coalesce((part ->> 'rows_total')::integer, 0), 0),
        import_batch_id => ob.id);
    end if;
    reports := reports || pg_catalog.jsonb_build_object(kind, report);
    batches := batches || pg_catalog.jsonb_build_object(kind, ob.id);
  end loop;

  insert into public.import_batches
    (organization_id, kind, source, policy, status, file_name, started_at, rows_total,
     size_bytes, created_by)
  values (org, 'vendor_invoices', 'email', 'accept_valid_rows', 'processing',
          left(coalesce(nullif(btrim(m.subject), ''), '(no subject)'), 255), now(),
          greatest(coalesce(rows_total, 0), 0), m.size_bytes, who)
  returning * into b;

  report := private.import_vendor_invoices(
    organization_id => org,
    batch => coalesce(batch, '[]'::jsonb),
    policy => 'accept_valid_rows',
    errors => coalesce(errors, '[]'::jsonb),
    rows_total => greatest(coalesce(rows_total, 0), 0),
    import_batch_id => b.id);
  reports := reports || pg_catalog.jsonb_build_object('vendor_invoices', report);
  batches := batches || pg_catalog.jsonb_build_object('vendor_invoices', b.id);

  insert into public.inbound_attachments
    (organization_id, inbound_message_id, position, filename, content_type, size_bytes, sha256,
     kind, outcome, message, first_row, last_row, vendor_invoice_ids, purchase_order_ids,
     goods_receipt_ids, errors, document_kind, import_batch_id)
  select org, m.id, a.position, left(a.filename, 255), left(a.content_type, 255),
         coalesce(a.size_bytes, 0), a.sha256, a.kind,
         coalesce(a.outcome,
                  case when pg_catalog.cardinality(acc.ids) > 0 and pg_catalog.jsonb_array_length(rej.errs) = 0 then 'imported'
                       when pg_catalog.cardinality(acc.ids) > 0 then 'partly_imported'
                       else 'rejected' end),
         left(a.message, 2000), a.first_row, a.last_row,
         case when dk.kind = 'vendor_invoices' then acc.ids else '{}' end,
         case when dk.kind = 'purchase_orders' then acc.ids else '{}' end,
         case when dk.kind = 'goods_receipts' then acc.ids else '{}' end,
         rej.errs,
         case when a.outcome is null then dk.kind end,
         case when a.outcome is null then (batches ->> dk.kind)::uuid end
  from pg_catalog.jsonb_to_recordset(coalesce(attachments, '[]'::jsonb)) as a (
    position integer, filename text, content_type text, size_bytes bigint, sha256 text,
    kind text, outcome text, message text, first_row integer, last_row integer,
    document_kind text)
  cross join lateral (
    select case when a.document_kind in ('purchase_orders', 'goods_receipts')
                     and reports ? a.document_kind
                then a.document_kind else 'vendor_invoices' end as kind
  ) dk
  cross join lateral (
    select coalesce(array_agg((x ->> 'id')::uuid order by (x ->> 'index')::integer), '{}') as ids
    from pg_catalog.jsonb_array_elements(reports -> dk.kind -> 'accepted') x
    where a.outcome is null and (x ->> 'index')::integer between a.first_row and a.last_row
  ) acc
  cross join lateral (
    select coalesce(pg_catalog.jsonb_agg(x order by (x ->> 'row')::integer), '[]'::jsonb) as errs
    from pg_catalog.jsonb_array_elements(reports -> dk.kind -> 'rejected') x
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
      imported_by = who
  where x.id = m.id
  returning * into m;

  return pg_catalog.jsonb_build_object(
    'already', false,
    'message', pg_catalog.to_jsonb(m),
    'report', report,
    'reports', reports,
    'batches', batches,
    'attachments', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(ia) order by ia.position)
      from public.inbound_attachments ia where ia.inbound_message_id = m.id), '[]'::jsonb));
end;
$$;

create function public.import_inbound_message(
  organization_id uuid, inbound_message_id uuid, batch jsonb default '[]',
  errors jsonb default '[]', rows_total integer default 0, attachments jsonb default '[]',
  drafts jsonb default '[]', others jsonb default '{}'
)
returns jsonb language sql volatile security invoker set search_path = ''
as $$ select private.import_inbound_message($1, $2, $3, $4, $5, $6, $7, $8) $$;
comment on function public.import_inbound_message(uuid, uuid, jsonb, jsonb, integer, jsonb, jsonb, jsonb) is
  'Imports an inbound message''s attachments (vendor invoices, purchase orders, goods receipts), with a result per attachment.';

revoke execute on function public.import_inbound_message(uuid, uuid, jsonb, jsonb, integer, jsonb, jsonb, jsonb),
  private.import_inbound_message(uuid, uuid, jsonb, jsonb, integer, jsonb, jsonb, jsonb)
  from public, anon, authenticated;
grant execute on function public.import_inbound_message(uuid, uuid, jsonb, jsonb, integer, jsonb, jsonb, jsonb),
  private.import_inbound_message(uuid, uuid, jsonb, jsonb, integer, jsonb, jsonb, jsonb)
  to service_role;

-- =============================================================================
-- 3. The invoices the organization's default match mode decides
-- =============================================================================

-- The organization's invoices not yet approved, rejected or paid whose purchase
-- order (linked, else by its number) has a line matched in the organization's
-- default mode: no mode on the line, the purchase order or the vendor (the
-- invoice's, for an unknown vendor the PO's). Id order. The caller's rights
-- (security invoker: RLS).
create or replace function public.invoices_on_default_match_mode(organization_id uuid)
returns uuid[]
language sql
stable
security invoker
set search_path = ''
as $$
  select coalesce(array_agg(vi.id order by vi.id), '{}')
  from public.vendor_invoices vi
  left join public.purchase_orders by_link on vi.po_linked_manually
    and by_link.organization_id = vi.organization_id and by_link.id = vi.purchase_order_id
  left join public.purchase_orders by_number on not vi.po_linked_manually
    and by_number.organization_id = vi.organization_id
    and by_number.normalized_po_number = private.normalize_document_number(vi.po_number)
  cross join lateral (select coalesce(by_link.id, by_number.id) as id,
                             coalesce(by_link.vendor_id, by_number.vendor_id) as vendor_id,
                             coalesce(by_link.match_mode, by_number.match_mode) as match_mode) po
  left join public.vendors v on v.organization_id = vi.organization_id
    and v.id = coalesce(vi.vendor_id, po.vendor_id)
  where vi.organization_id = invoices_on_default_match_mode.organization_id
    and vi.status in ('pending', 'exception', 'matched', 'matched_with_tolerance')
    and po.id is not null and po.match_mode is null and v.match_mode is null
    and exists (select 1 from public.purchase_order_lines pl
                where pl.organization_id = vi.organization_id and pl.purchase_order_id = po.id
                  and pl.match_mode is null)
$$;

comment on function public.invoices_on_default_match_mode(uuid) is
  'The open invoices matched in the organization''s default match mode (re-matched when it changes).';

revoke execute on function public.invoices_on_default_match_mode(uuid) from public, anon;
grant execute on function public.invoices_on_default_match_mode(uuid) to authenticated, service_role;
