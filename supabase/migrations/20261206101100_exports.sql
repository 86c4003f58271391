-- =============================================================================
-- Report export (GET /api/reports/export, shared/exports/sources.py)
--
--   public.export_invoice_page   one page of the invoice list export
--
-- The invoice list export reads the whole filtered list of a tenant (100,000
-- rows and more) page by page. Through the invoice_list view each page was an
-- array of 1,000 JSON objects (PostgREST's cap), its keys repeated on every
-- row and its amounts numbers the client parsed into Decimal. This function
-- answers a page of up to 5,000 rows as one JSON array of arrays, amounts as
-- decimal strings, in the keyset order (issue_date desc, id desc) that the
-- (organization_id, issue_date desc) index gives: a page starts after the
-- last row of the previous one, so the last page costs what the first costs.
-- bench/export.py measures it against the view (bench/RESULTS.md).
--
-- SECURITY INVOKER, reading the invoices and clients tables (or the security-
-- invoker invoice_list view when searching): row-level security decides
-- what the caller sees, as for GET /api/invoices; a caller who is not a member
-- of the organization is refused (42501) rather than answered with nothing.
-- The filters are those of GET /api/invoices (docs/api.md, "Invoices").
-- =============================================================================

-- =============================================================================
-- Functions
-- =============================================================================

create or replace function public.export_invoice_page(
  organization_id uuid,
  after_issue_date date default null,
  after_id uuid default null,
  page_rows integer default 1000,
  statuses text[] default null,
  client_ids uuid[] default null,
  overdue boolean default null,
  issue_from date default null,
  issue_to date default null,
  due_from date default null,
  due_to date default null,
  total_from numeric default null,
  total_to numeric default null,
  search text default null
)
returns json
language plpgsql
stable
security invoker
set search_path = ''
set jit = off
as $$
declare
  pattern text;
  page json;
begin
  perform private.require_role(export_invoice_page.organization_id, 'viewer');
  if page_rows is null or page_rows < 1 or page_rows > 5000 then
    raise exception 'page_rows must be between 1 and 5000' using errcode = '22023';
  end if;
  if (after_issue_date is null) <> (after_id is null) then
    raise exception 'after_issue_date and after_id go together' using errcode = '22023';
  end if;
  if nullif(btrim(search), '') is not null then
    -- A substring, case-insensitive; the search's own % _ \ are literal.
    pattern := '%' || replace(replace(replace(btrim(search), '\', '\\'), '%', '\%'), '_', '\_') || '%';
  end if;

  if pattern is null then
    -- The page is taken from invoices alone, then joined to its clients: joined first,
    -- the planner misjudged how many rows the join keeps and, for pages above ~1,000
    -- rows, read every remaining invoice of the tenant with a bitmap scan and sorted
    -- them (150 ms a page halfway through 100,000 invoices, against 7 ms this way).
    select coalesce(json_agg(json_build_array(
             i.invoice_number, c.company_name, i.status,
             (i.status = 'overdue' or (i.status = 'sent' and i.due_date < current_date)),
             i.issue_date, i.due_date, i.payment_terms, i.currency, i.subtotal::text,
             i.discount::text, i.tax_rate::text, i.tax_amount::text, i.total_amount::text,
             i.amount_paid::text, i.balance_due::text, i.sent_at, i.paid_at, i.id
           ) order by i.issue_date desc, i.id desc), '[]'::json)
    into page
    from (
      select v.*
      from public.invoices v
      where v.organization_id = export_invoice_page.organization_id
        and (after_issue_date is null
             or (v.issue_date <= after_issue_date          -- the index range
                 and (v.issue_date, v.id) < (after_issue_date, after_id)))
        and (statuses is null or v.status = any (statuses))
        and (client_ids is null or v.client_id = any (client_ids))
        and (overdue is null
             or (v.status = 'overdue' or (v.status = 'sent' and v.due_date < current_date))
                = overdue)
        and (issue_from is null or v.issue_date >= issue_from)
        and (issue_to is null or v.issue_date <= issue_to)
        and (due_from is null or v.due_date >= due_from)
        and (due_to is null or v.due_date <= due_to)
        and (total_from is null or v.total_amount >= total_from)
        and (total_to is null or v.total_amount <= total_to)
      order by v.issue_date desc, v.id desc
      limit page_rows
    ) i
    join public.clients c on c.id = i.client_id and c.organization_id = i.organization_id;
    return page;
  end if;

  -- A search matches the client's name too: the view's join comes first.
  select coalesce(json_agg(json_build_array(
           i.invoice_number, i.client_company_name, i.status, i.is_overdue, i.issue_date,
           i.due_date, i.payment_terms, i.currency, i.subtotal::text, i.discount::text,
           i.tax_rate::text, i.tax_amount::text, i.total_amount::text, i.amount_paid::text,
           i.balance_due::text, i.sent_at, i.paid_at, i.id
         ) order by i.issue_date desc, i.id desc), '[]'::json)
  into page
  from (
    select l.*
    from public.invoice_list l
    where l.organization_id = export_invoice_page.organization_id
      and (after_issue_date is null
           or (l.issue_date <= after_issue_date
               and (l.issue_date, l.id) < (after_issue_date, after_id)))
      and (statuses is null or l.status = any (statuses))
      and (client_ids is null or l.client_id = any (client_ids))
      and (overdue is null or l.is_overdue = overdue)
      and (issue_from is null or l.issue_date >= issue_from)
      and (issue_to is null or l.issue_date <= issue_to)
      and (due_from is null or l.due_date >= due_from)
      and (due_to is null or l.due_date <= due_to)
      and (total_from is null or l.total_amount >= total_from)
      and (total_to is null or l.total_amount <= total_to)
      and (l.invoice_number ilike pattern or l.client_company_name ilike pattern)
    order by l.issue_date desc, l.id desc
    limit page_rows
  ) i;
  return page;
end;
$$;

comment on function public.export_invoice_page(
  uuid, date, uuid, integer, text[], uuid[], boolean, date, date, date, date, numeric, numeric, text
) is 'One keyset page of the invoice list export: an array of arrays, newest issue date first.';

-- =============================================================================
-- Grants
-- =============================================================================

revoke execute on function public.export_invoice_page(
  uuid, date, uuid, integer, text[], uuid[], boolean, date, date, date, date, numeric, numeric, text
) from public;

grant execute on function public.export_invoice_page(
  uuid, date, uuid, integer, text[], uuid[], boolean, date, date, date, date, numeric, numeric, text
) to authenticated, service_role;

revoke execute on all functions in schema private, public from public;
