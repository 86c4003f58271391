-- The client page's e-invoice download is its own client activity.
--
-- GET /p/{token}/einvoice (issue 19) recorded the download as 'client_link_pdf' ("PDF
-- downloaded by the client"), because private.portal_open took three events only: the
-- client's timeline said PDF for an XML file. The event 'client_link_einvoice' ("e-invoice
-- downloaded by the client") is added to portal_open's list and to the activity's text;
-- both functions are 20261206130100_client_links.sql's otherwise.

-- A client activity for something done through a link.
create or replace function private.record_portal_activity(link public.client_links, event text, doc jsonb)
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
  number text := coalesce(doc ->> 'invoice_number', doc ->> 'quote_number', '');
  label text := case link.document_type when 'invoice' then 'Invoice' else 'Quote' end;
begin
  if doc is null or (doc -> 'client' ->> 'id') is null then
    return;
  end if;
  insert into public.client_activities (organization_id, client_id, activity, type, metadata)
  values (link.organization_id, (doc -> 'client' ->> 'id')::uuid,
          case event
            when 'client_link_viewed' then pg_catalog.format('%s %s viewed by the client', label, number)
            when 'client_link_pdf' then pg_catalog.format('%s %s PDF downloaded by the client', label, number)
            when 'client_link_einvoice' then pg_catalog.format('%s %s e-invoice downloaded by the client', label, number)
            when 'client_link_pay' then pg_catalog.format('%s %s: the client started an online payment', label, number)
            when 'quote_accepted' then pg_catalog.format('Quote %s accepted by the client', number)
            when 'quote_declined' then pg_catalog.format('Quote %s declined by the client', number)
            else pg_catalog.format('%s %s: %s', label, number, event) end,
          'other',
          jsonb_build_object('event', event, 'link_id', link.id, 'document_type', link.document_type,
                             'document_id', coalesce(link.invoice_id, link.quote_id)));
end;
$$;
revoke execute on function
  private.record_portal_activity(public.client_links, text, jsonb)
  from public;

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
  if event is null
     or event not in ('client_link_viewed', 'client_link_pdf', 'client_link_einvoice', 'client_link_pay') then
    raise exception 'event must be client_link_viewed, client_link_pdf, client_link_einvoice or client_link_pay'
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
