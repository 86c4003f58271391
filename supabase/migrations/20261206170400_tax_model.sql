-- =============================================================================
-- The tax model (issue 19): tax per line and the EN 16931 totals.
--
-- Lines (invoice_items, quote_items, recurring_profile_items, credit_note_items)
-- carry a VAT category (UNCL5305: S standard, Z zero rated, E exempt, AE reverse
-- charge, K intra-community supply, G export, O outside the scope of VAT, L
-- Canary Islands IGIC, M Ceuta and Melilla IPSI), a rate in percent, and the
-- exemption reason (a VATEX code and/or a text) the categories E, AE, K, G and O
-- require. NULL in storage means "the document's":
--   effective rate      = the line's rate; else 0 for a category that carries no
--                         rate (Z, E, AE, K, G, O); else the document's tax_rate
--                         (today's per-invoice rate becomes the lines' default).
--   effective category  = the line's category; else, when the effective rate is
--                         above 0, the document's default_vat_category if it is
--                         S, L or M, else S; when it is 0, the document's default
--                         if it is one of Z, E, AE, K, G, O, else Z.
-- Rules on a line (private.line_tax_problem, a CHECK on the lines people write,
-- and the API's 422 with the same words): category one of the nine codes; rate 0
-- to 100 with at most 3 decimals; Z, E, AE, K, G, O carry rate 0 (BR-Z-05,
-- BR-E-05, BR-AE-05, BR-IC-05, BR-G-05, BR-O-05), S, L, M a rate above 0
-- (BR-S-05, BR-AF-05, BR-AG-05); an exemption reason (code or text) is required
-- for E, AE, K, G, O (BR-E-10, BR-AE-10, BR-IC-10, BR-G-10, BR-O-10) and not
-- allowed for S, Z, L, M (BR-S-10, BR-Z-10, BR-AF-10, BR-AG-10).
--
-- The totals (EN 16931's, BR-CO-10..17), at the currency's minor unit:
--   line amount      = round_half_up(quantity x rate)               (as before)
--   subtotal         = sum of the line amounts (BT-106)
--   groups           = the lines grouped by effective (category, rate) (BG-23)
--   allowance        = the document's discount (BG-20) split over the groups in
--                      proportion to their line net totals: the groups ordered
--                      by net total ascending (ties: the later category/rate
--                      first), each takes round(discount x running net / subtotal)
--                      minus what the groups before it took, so the largest group
--                      comes last and takes the remainder, every share lies
--                      between 0 and its group's net, and the shares sum exactly
--                      to the discount. (Rounding each share on its own and
--                      leaving the remainder to the largest can leave that one
--                      below 0 or above its net with five groups or more.)
--   taxable amount   = group net - group allowance (BT-116)
--   group tax        = round_half_up(taxable x rate / 100) (BT-117, BR-CO-17)
--   tax_amount       = sum of the groups' tax (BT-110)
--   total_amount     = subtotal - discount + tax_amount (BT-112)
-- With one group this is the previous formula, round((subtotal - discount) x
-- tax_rate / 100): existing invoices, quotes and credit notes keep their totals
-- (their lines name no category or rate).
--
-- Invoices and quotes keep their lines' raw groups (line_tax_groups, a cache the
-- item triggers' subtotal refresh writes: [{c, r, n}] by stored category and
-- rate) so that the row trigger derives tax and total from the discount, the
-- rate and the default category without reading the items again; NULL (rows
-- from before this migration) is one group at the document's rate. Each raw
-- group carries the reason of its first line naming one, and the trigger keeps
-- the breakdown it derives (tax_breakdown, written when the groups, the
-- discount, the rate, the default category or the currency change) for the
-- documents to answer; NULL there (rows whose items were not written since) is
-- computed from the items when asked.
--
-- Documents gain default_vat_category, buyer_reference (BT-10, XRechnung's
-- Leitweg-ID) and purchase_order_reference (BT-13), copied quote -> invoice,
-- recurring profile -> invoice and invoice -> credit note; a credit note's lines
-- keep the invoice lines' effective categories, rates and reasons.
--
-- private.invoice_tax_breakdown(organization_id, invoice_id) and the credit note
-- and quote ones answer the breakdown; the document JSON functions add it with
-- the lines' effective values (docs/einvoicing.md, "Tax model").
-- =============================================================================

-- =============================================================================
-- Helpers
-- =============================================================================

-- The line's rate, else 0 for a category without a rate, else the document's.
-- This function and the next carry no `set search_path` on purpose (as
-- private.round_money): a SET clause stops PostgreSQL from inlining an SQL
-- function, and they run once per line of every document answered (12 us a call
-- with the clause, the whole items' JSON of 20 lines 0.5 ms slower). Their bodies
-- name nothing outside pg_catalog.
create or replace function private.effective_tax_rate(category text, rate numeric, document_rate numeric)
returns numeric
language sql
immutable
parallel safe
as $$
  select coalesce(rate, case when category in ('Z', 'E', 'AE', 'K', 'G', 'O') then 0 end, document_rate, 0)
$$;

-- The line's category, else the document's default that fits the rate, else S
-- (rate above 0) or Z (rate 0).
create or replace function private.effective_vat_category(
  category text, rate numeric, document_rate numeric, document_category text
)
returns text
language sql
immutable
parallel safe
as $$
  select coalesce(category,
    case when coalesce(rate, document_rate, 0) > 0
         then case when document_category in ('S', 'L', 'M') then document_category else 'S' end
         else case when document_category in ('Z', 'E', 'AE', 'K', 'G', 'O') then document_category else 'Z' end
    end)
$$;

-- What is wrong with a line's tax fields (the field and the rule, EN 16931's
-- BR-* identifier), or null. The CHECK of the lines people write and the RPCs'
-- messages (prefixed with the item) share it. No `set search_path`, as the two
-- above: inlined into the CHECK it costs nothing a line (45 us a call with the
-- clause); its body names pg_catalog's functions in full.
create or replace function private.line_tax_problem(
  category text, rate numeric, reason_code text, reason text
)
returns text
language sql
immutable
parallel safe
as $$
  select case
    when category is not null and category not in ('S', 'Z', 'E', 'AE', 'K', 'G', 'O', 'L', 'M') then
      'vat_category: must be one of S, Z, E, AE, K, G, O, L, M (UNCL5305)'
    when rate is not null and (rate < 0 or rate > 100 or pg_catalog.scale(rate) > 3) then
      'tax_rate: must be 0 to 100 with at most 3 decimals'
    when category in ('Z', 'E', 'AE', 'K', 'G', 'O') and rate is not null and rate <> 0 then
      pg_catalog.format('tax_rate: must be 0 for category %s (BR-%s-05)', category,
                        case category when 'K' then 'IC' else category end)
    when category in ('S', 'L', 'M') and rate is not null and rate = 0 then
      pg_catalog.format('tax_rate: must be above 0 for category %s (BR-%s-05)', category,
                        case category when 'L' then 'AF' when 'M' then 'AG' else category end)
    when reason_code is not null and (reason_code !~ '^VATEX-[A-Z0-9-]+$' or pg_catalog.length(reason_code) > 50) then
      'tax_exemption_reason_code: must be a VATEX code such as VATEX-EU-AE (CEF VATEX list)'
    when reason is not null and (pg_catalog.length(pg_catalog.btrim(reason)) = 0 or pg_catalog.length(reason) > 1000) then
      'tax_exemption_reason: must be 1 to 1000 characters'
    when category in ('E', 'AE', 'K', 'G', 'O') and reason_code is null and reason is null then
      pg_catalog.format('tax_exemption_reason: required for category %s (BR-%s-10)', category,
                        case category when 'K' then 'IC' else category end)
    when category in ('S', 'Z', 'L', 'M') and (reason_code is not null or reason is not null) then
      pg_catalog.format('tax_exemption_reason: not allowed for category %s (BR-%s-10)', category,
                        case category when 'L' then 'AF' when 'M' then 'AG' else category end)
  end
$$;

-- The breakdown of a document's lines (EN 16931 BG-23) as JSON, from `lines` =
-- [{"c": category|null, "r": rate|null, "n": amount, "p": position,
--   "code": reason code, "reason": reason text}] (the lines' stored values, NULL =
-- the document's; a cache of raw groups has c, r and n only), the document's
-- rate, default category, discount and currency. One object per effective
-- (category, rate), ordered by them: vat_category, tax_rate, line_net_total,
-- allowance_amount, taxable_amount, tax_amount, tax_exemption_reason_code,
-- tax_exemption_reason (the group's first line by position naming a reason).
-- The header explains the split of the discount. PL/pgSQL: its two statements
-- keep their plans for the session (an SQL function of CTEs and windows was
-- planned again on every call: 0.8-3 ms a document).
create or replace function private.tax_breakdown_json_of(
  lines jsonb, document_rate numeric, document_category text, discount numeric, currency text
)
returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
declare
  cats text[];
  rates numeric[];
  nets numeric[];
  reasons jsonb[];
  total numeric;
  upto numeric := 0;
  allowances numeric[] := '{}';
  k integer;
begin
  select array_agg(g.cat order by g.net, g.cat desc, g.rate desc),
         array_agg(g.rate order by g.net, g.cat desc, g.rate desc),
         array_agg(g.net order by g.net, g.cat desc, g.rate desc),
         array_agg(g.reason order by g.net, g.cat desc, g.rate desc),
         sum(g.net)
  into cats, rates, nets, reasons, total
  from (
    select l.cat, l.rate, sum(l.n) as net,
           (array_agg(jsonb_build_object('code', l.code, 'reason', l.reason) order by l.p)
              filter (where l.code is not null or l.reason is not null))[1] as reason
    from (
      select private.effective_vat_category(x ->> 'c', (x ->> 'r')::numeric, document_rate, document_category) as cat,
             private.effective_tax_rate(x ->> 'c', (x ->> 'r')::numeric, document_rate) as rate,
             (x ->> 'n')::numeric as n, (x ->> 'p')::integer as p, x ->> 'code' as code, x ->> 'reason' as reason
      from jsonb_array_elements(coalesce(lines, '[]'::jsonb)) x
    ) l
    group by l.cat, l.rate
  ) g;
  if cats is null then
    return '[]'::jsonb;
  end if;
  for k in 1 .. cardinality(cats) loop
    upto := upto + nets[k];
    if coalesce(discount, 0) = 0 or total = 0 then
      allowances[k] := 0;
    else
      allowances[k] := private.round_money(discount * upto / total, currency)
                       - private.round_money(discount * (upto - nets[k]) / total, currency);
    end if;
  end loop;
  return (
    select jsonb_agg(jsonb_build_object(
             'vat_category', g.cat, 'tax_rate', g.rate,
             'line_net_total', private.round_money(g.net, currency),
             'allowance_amount', private.round_money(g.allowance, currency),
             'taxable_amount', private.round_money(g.net - g.allowance, currency),
             'tax_amount', private.round_money((g.net - g.allowance) * g.rate / 100, currency),
             'tax_exemption_reason_code', g.reason ->> 'code',
             'tax_exemption_reason', g.reason ->> 'reason')
           order by g.cat, g.rate)
    from unnest(cats, rates, nets, allowances, reasons) as g (cat, rate, net, allowance, reason));
end;
$$;

-- The same as rows (groups without reasons: the raw groups of a document).
create or replace function private.tax_breakdown_of(
  groups jsonb, document_rate numeric, document_category text, discount numeric, currency text
)
returns table (
  vat_category text, tax_rate numeric, line_net_total numeric, allowance_amount numeric,
  taxable_amount numeric, tax_amount numeric
)
language sql
immutable
set search_path = ''
as $$
  select t.vat_category, t.tax_rate, t.line_net_total, t.allowance_amount, t.taxable_amount, t.tax_amount
  from jsonb_to_recordset(private.tax_breakdown_json_of(groups, document_rate, document_category, discount, currency))
    as t (vat_category text, tax_rate numeric, line_net_total numeric, allowance_amount numeric,
          taxable_amount numeric, tax_amount numeric)
$$;

-- The tax of a document: one group is the previous formula without reading the
-- breakdown; several go through it.
create or replace function private.document_tax_amount(
  groups jsonb, subtotal numeric, document_rate numeric, document_category text, discount numeric,
  currency text
)
returns numeric
language plpgsql
immutable
set search_path = ''
as $$
begin
  if groups is null or jsonb_array_length(groups) = 0 then
    return private.round_money((subtotal - discount) * document_rate / 100, currency);
  elsif jsonb_array_length(groups) = 1 then
    return private.round_money(
      (subtotal - discount)
        * private.effective_tax_rate(groups -> 0 ->> 'c', (groups -> 0 ->> 'r')::numeric, document_rate) / 100,
      currency);
  end if;
  return (select coalesce(sum((g ->> 'tax_amount')::numeric), 0)
          from jsonb_array_elements(private.tax_breakdown_json_of(
                 groups, document_rate, document_category, discount, currency)) g);
end;
$$;

-- A document's breakdown from its raw groups (the row triggers'): one group is
-- built directly (the whole discount is its allowance), several go through
-- private.tax_breakdown_json_of; the same answer either way.
create or replace function private.document_breakdown(
  groups jsonb, subtotal numeric, document_rate numeric, document_category text, discount numeric,
  currency text
)
returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
declare
  g jsonb;
  rate numeric;
begin
  if groups is null or jsonb_array_length(groups) <> 1 then
    return private.tax_breakdown_json_of(groups, document_rate, document_category, discount, currency);
  end if;
  g := groups -> 0;
  rate := private.effective_tax_rate(g ->> 'c', (g ->> 'r')::numeric, document_rate);
  return jsonb_build_array(jsonb_build_object(
    'vat_category', private.effective_vat_category(g ->> 'c', (g ->> 'r')::numeric, document_rate, document_category),
    'tax_rate', rate,
    'line_net_total', private.round_money(subtotal, currency),
    'allowance_amount', private.round_money(discount, currency),
    'taxable_amount', private.round_money(subtotal - discount, currency),
    'tax_amount', private.round_money((subtotal - discount) * rate / 100, currency),
    'tax_exemption_reason_code', g ->> 'code',
    'tax_exemption_reason', g ->> 'reason'));
end;
$$;

-- The tax of a breakdown (the sum of its groups'), at the currency's scale.
create or replace function private.breakdown_tax(breakdown jsonb, currency text)
returns numeric
language sql
immutable
set search_path = ''
as $$
  select private.round_money(coalesce(sum((g ->> 'tax_amount')::numeric), 0), currency)
  from jsonb_array_elements(breakdown) g
$$;

-- =============================================================================
-- Columns
-- =============================================================================

alter table public.invoice_items
  add column vat_category text,
  add column tax_rate numeric,
  add column tax_exemption_reason_code text,
  add column tax_exemption_reason text,
  add constraint invoice_items_tax_rules
    check (private.line_tax_problem(vat_category, tax_rate, tax_exemption_reason_code, tax_exemption_reason) is null);

alter table public.quote_items
  add column vat_category text,
  add column tax_rate numeric,
  add column tax_exemption_reason_code text,
  add column tax_exemption_reason text,
  add constraint quote_items_tax_rules
    check (private.line_tax_problem(vat_category, tax_rate, tax_exemption_reason_code, tax_exemption_reason) is null);

alter table public.recurring_profile_items
  add column vat_category text,
  add column tax_rate numeric,
  add column tax_exemption_reason_code text,
  add column tax_exemption_reason text,
  add constraint recurring_profile_items_tax_rules
    check (private.line_tax_problem(vat_category, tax_rate, tax_exemption_reason_code, tax_exemption_reason) is null);

-- A credit note's lines hold the effective values of the invoice's lines at
-- issue (a reason the invoice lacked stays lacking: the note credits what was
-- invoiced).
alter table public.credit_note_items
  add column vat_category text check (vat_category in ('S', 'Z', 'E', 'AE', 'K', 'G', 'O', 'L', 'M')),
  add column tax_rate numeric check (tax_rate >= 0 and tax_rate <= 100 and scale(tax_rate) <= 3),
  add column tax_exemption_reason_code text check (length(tax_exemption_reason_code) <= 50),
  add column tax_exemption_reason text check (length(tax_exemption_reason) <= 1000);

alter table public.invoices
  add column default_vat_category text check (default_vat_category in ('S', 'Z', 'E', 'AE', 'K', 'G', 'O', 'L', 'M')),
  add column buyer_reference text check (length(btrim(buyer_reference)) between 1 and 200),
  add column purchase_order_reference text check (length(btrim(purchase_order_reference)) between 1 and 200),
  add column line_tax_groups jsonb,
  add column tax_breakdown jsonb;

alter table public.quotes
  add column default_vat_category text check (default_vat_category in ('S', 'Z', 'E', 'AE', 'K', 'G', 'O', 'L', 'M')),
  add column buyer_reference text check (length(btrim(buyer_reference)) between 1 and 200),
  add column purchase_order_reference text check (length(btrim(purchase_order_reference)) between 1 and 200),
  add column line_tax_groups jsonb,
  add column tax_breakdown jsonb;

alter table public.recurring_profiles
  add column default_vat_category text check (default_vat_category in ('S', 'Z', 'E', 'AE', 'K', 'G', 'O', 'L', 'M')),
  add column buyer_reference text check (length(btrim(buyer_reference)) between 1 and 200),
  add column purchase_order_reference text check (length(btrim(purchase_order_reference)) between 1 and 200);

alter table public.credit_notes
  add column default_vat_category text check (default_vat_category in ('S', 'Z', 'E', 'AE', 'K', 'G', 'O', 'L', 'M')),
  add column buyer_reference text check (length(btrim(buyer_reference)) between 1 and 200),
  add column purchase_order_reference text check (length(btrim(purchase_order_reference)) between 1 and 200);

comment on column public.invoices.line_tax_groups is
  'The items'' net totals by stored (vat_category, tax_rate): a cache the item triggers write (tax model migration).';
comment on column public.quotes.line_tax_groups is
  'The items'' net totals by stored (vat_category, tax_rate): a cache the item triggers write (tax model migration).';
comment on column public.invoices.tax_breakdown is
  'The breakdown by (vat_category, tax_rate) the row trigger derives from line_tax_groups (tax model migration).';
comment on column public.quotes.tax_breakdown is
  'The breakdown by (vat_category, tax_rate) the row trigger derives from line_tax_groups (tax model migration).';

-- =============================================================================
-- Invoices: the totals
-- =============================================================================

-- Sums the subtotal and the raw tax groups of every invoice whose items a
-- statement touched, once per invoice; the invoice's row trigger derives tax,
-- total and status. (The invoices migration's function, with the groups.)
create or replace function private.refresh_invoice_subtotals(invoice_ids uuid[])
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  settled record;
begin
  if coalesce(cardinality(invoice_ids), 0) = 0 then
    return;  -- a statement that touched no item (the writers' no-op update and delete)
  end if;
  select i.invoice_number, i.status into settled
  from (
    select i.invoice_number, i.status
    from public.invoices i
    where i.id = any (invoice_ids)
    order by i.id
    for no key update
  ) i
  where i.status in ('paid', 'cancelled') and pg_trigger_depth() <= 1
  limit 1;
  if found then
    raise exception 'the items of % invoice % cannot change', settled.status, settled.invoice_number
      using errcode = '23514';
  end if;
  update public.invoices i
  set subtotal = t.subtotal, line_tax_groups = t.groups
  from (
    select g.invoice_id, coalesce(sum(g.net), 0) as subtotal,
           coalesce(jsonb_agg(jsonb_build_object('c', g.c, 'r', g.r, 'n', g.net) || coalesce(g.why, '{}'::jsonb)
                              order by g.c nulls first, g.r nulls first)
                      filter (where g.net is not null), '[]'::jsonb) as groups
    from (
      select iid as invoice_id, it.vat_category as c, it.tax_rate as r, sum(it.amount) as net,
             (array_agg(jsonb_build_object('p', it.position, 'code', it.tax_exemption_reason_code,
                                           'reason', it.tax_exemption_reason) order by it.position)
                filter (where it.tax_exemption_reason_code is not null or it.tax_exemption_reason is not null))[1]
               as why
      from unnest(invoice_ids) iid
      left join public.invoice_items it on it.invoice_id = iid
      group by iid, it.vat_category, it.tax_rate
    ) g
    group by g.invoice_id
  ) t
  where i.id = t.invoice_id
    and (i.subtotal, i.line_tax_groups) is distinct from (t.subtotal, t.groups);
end;
$$;

-- The lifecycle reports migration's rules, the tax by the lines' groups
-- (private.document_tax_amount).
create or replace function private.prepare_invoice_row()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  balance numeric;
begin
  new.discount := private.checked_money(new.discount, new.currency, 'discount');
  new.subtotal := private.round_money(new.subtotal, new.currency);
  new.amount_paid := private.round_money(new.amount_paid, new.currency);
  new.credit_notes_total := private.round_money(new.credit_notes_total, new.currency);
  new.credit_applied := private.round_money(new.credit_applied, new.currency);
  new.amount_credited := private.round_money(new.amount_credited, new.currency);
  if new.discount > new.subtotal then
    raise exception 'discount (%) exceeds the subtotal (%)', new.discount, new.subtotal
      using errcode = '23514', constraint = 'invoices_discount_not_above_subtotal';
  end if;
  if tg_op = 'INSERT'
     or (new.subtotal, new.line_tax_groups, new.discount, new.tax_rate, new.default_vat_category, new.currency)
        is distinct from (old.subtotal, old.line_tax_groups, old.discount, old.tax_rate,
                          old.default_vat_category, old.currency) then
    if new.line_tax_groups is null then
      new.tax_breakdown := null;
      new.tax_amount := private.round_money((new.subtotal - new.discount) * new.tax_rate / 100, new.currency);
    else
      new.tax_breakdown := private.document_breakdown(new.line_tax_groups, new.subtotal, new.tax_rate,
                                                      new.default_vat_category, new.discount, new.currency);
      new.tax_amount := private.round_money(
        (select coalesce(sum((g ->> 'tax_amount')::numeric), 0) from jsonb_array_elements(new.tax_breakdown) g),
        new.currency);
    end if;
  end if;
  new.total_amount := new.subtotal - new.discount + new.tax_amount;
  balance := new.total_amount - new.amount_paid - new.amount_credited;
  if balance < 0 then
    if new.amount_credited > 0 then
      raise exception 'the invoice total (%) cannot be less than what has been paid and credited (%)',
        new.total_amount, new.amount_paid + new.amount_credited
        using errcode = '23514', constraint = 'invoices_amount_paid_not_above_total';
    end if;
    raise exception 'the invoice total (%) cannot be less than what has been paid (%)',
      new.total_amount, new.amount_paid
      using errcode = '23514', constraint = 'invoices_amount_paid_not_above_total';
  end if;

  if tg_op = 'UPDATE' and new.status is distinct from old.status then
    if old.status = 'cancelled' then
      raise exception 'a cancelled invoice cannot change status' using errcode = '23514';
    elsif new.status = 'draft' then
      raise exception 'an invoice cannot go back to draft once it has left it'
        using errcode = '23514', hint = 'Cancel it and create a new one.';
    elsif new.status = 'cancelled' and new.amount_paid > 0 then
      raise exception 'an invoice with payments cannot be cancelled'
        using errcode = '23514',
              hint = 'Issue a credit note for the whole invoice: it cancels the invoice and keeps what was paid as the client''s credit.';
    elsif new.status = 'cancelled' and new.credit_applied > 0 then
      raise exception 'an invoice with client credit applied to it cannot be cancelled'
        using errcode = '23514',
              hint = 'Issue a credit note for the whole invoice: it cancels the invoice and gives the credit back to the client.';
    elsif new.status = 'paid' and balance > 0 then
      raise exception 'an invoice is paid when its payments cover the total; % is still due', balance
        using errcode = '23514', hint = 'Record a payment for the balance.';
    elsif new.status = 'overdue' and old.status = 'draft' then
      raise exception 'a draft cannot be overdue; send it first' using errcode = '23514';
    end if;
  end if;

  -- Money decides between sent/overdue, paid and (credited in full) cancelled.
  if new.status in ('sent', 'overdue', 'paid') and balance = 0
     and new.credit_notes_total > 0 and new.credit_notes_total = new.total_amount then
    new.status := 'cancelled';
  elsif new.status in ('sent', 'overdue') and balance = 0 then
    new.status := 'paid';
  elsif new.status = 'paid' and balance > 0 then
    -- Reopened by a removed or refunded payment, or a larger total.
    new.status := case when new.due_date < private.organization_today(new.organization_id) then 'overdue' else 'sent' end;
  end if;

  if new.status = 'draft' and (new.amount_paid > 0 or new.amount_credited > 0) then
    raise exception 'a draft invoice cannot have payments' using errcode = '23514';
  end if;

  if new.status <> 'draft' and (tg_op = 'INSERT' or old.status = 'draft') then
    new.sent_at := coalesce(new.sent_at, now());
  end if;
  new.paid_at := case when new.status = 'paid'
                      then coalesce(case when tg_op = 'UPDATE' then old.paid_at end, now()) end;
  new.cancelled_at := case when new.status = 'cancelled'
                           then coalesce(case when tg_op = 'UPDATE' then old.cancelled_at end, now()) end;
  return new;
end;
$$;

-- The items of an invoice as they print (place, description, quantity, rate;
-- ids aside): what "the items changed" means for the post-send rules.
--
-- The items as they print, with their tax fields: what "the items changed"
-- means for the post-send rules.
create or replace function private.invoice_items_content(target uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select coalesce(jsonb_agg(jsonb_build_array(it.position, it.description, it.quantity, it.rate,
                                              it.vat_category, it.tax_rate, it.tax_exemption_reason_code,
                                              it.tax_exemption_reason)
                            order by it.position, it.description, it.quantity, it.rate), '[]'::jsonb)
  from public.invoice_items it
  where it.invoice_id = target
$$;
grant execute on function private.invoice_items_content(uuid) to authenticated;
revoke execute on function private.invoice_items_content(uuid) from public;

-- Refuses a list of lines whose tax fields break a rule, naming the line as the
-- API does ("items[2].tax_exemption_reason: required for category AE
-- (BR-AE-10)"); 22023 -> 422. Blank texts are null. The item writers call it
-- only when their write broke a CHECK (the lines' CHECK holds the rule; reading
-- the list again costs 0.8 ms a document of 20 lines).
create or replace function private.refuse_bad_line_tax(items jsonb, what text default 'items')
returns void
language plpgsql
immutable
set search_path = ''
as $$
declare
  bad record;
begin
  if items is null or jsonb_typeof(items) <> 'array' then
    return;
  end if;
  select t.ord, private.line_tax_problem(
           nullif(btrim(t.x ->> 'vat_category'), ''), (t.x ->> 'tax_rate')::numeric,
           nullif(btrim(t.x ->> 'tax_exemption_reason_code'), ''), nullif(btrim(t.x ->> 'tax_exemption_reason'), ''))
         as problem
  into bad
  from jsonb_array_elements(items) with ordinality as t (x, ord)
  where jsonb_typeof(t.x) = 'object'
    and (t.x ? 'vat_category' or t.x ? 'tax_rate' or t.x ? 'tax_exemption_reason_code'
         or t.x ? 'tax_exemption_reason')
    and private.line_tax_problem(
          nullif(btrim(t.x ->> 'vat_category'), ''), (t.x ->> 'tax_rate')::numeric,
          nullif(btrim(t.x ->> 'tax_exemption_reason_code'), ''), nullif(btrim(t.x ->> 'tax_exemption_reason'), ''))
        is not null
  order by t.ord
  limit 1;
  if found then
    raise exception '%[%].%', what, bad.ord - 1, bad.problem using errcode = '22023';
  end if;
end;
$$;

-- A line of category S, L or M whose rate is the document's must find a rate
-- above 0 there (BR-S-05): checked once the lines and the rate are written.
create or replace function private.refuse_standard_lines_without_rate(
  lines_category text[], lines_rate numeric[], document_rate numeric, what text
)
returns void
language plpgsql
immutable
set search_path = ''
as $$
declare
  i integer;
begin
  for i in 1 .. coalesce(cardinality(lines_category), 0) loop
    if lines_category[i] in ('S', 'L', 'M') and lines_rate[i] is null and coalesce(document_rate, 0) = 0 then
      raise exception 'items[%].tax_rate: category % needs a rate above 0 (BR-%-05) and the %''s tax_rate is 0',
        i - 1, lines_category[i], case lines_category[i] when 'L' then 'AF' when 'M' then 'AG' else 'S' end, what
        using errcode = '23514', hint = 'Give the line its rate, or the document a tax_rate.';
    end if;
  end loop;
end;
$$;

-- The invoices migration's item writer, with the lines' tax fields (a key left
-- out of a patch keeps the item's value; null gives it back to the document).
create or replace function private.apply_invoice_items(target uuid, items jsonb, mode text)
returns void
language plpgsql
security invoker
set search_path = ''
as $$
declare
  inv record;
  listed uuid[];
  existing uuid[];
  stray uuid;
  base integer;
  remaining integer;
begin
  if items is null then
    return;
  end if;
  if mode is null or mode not in ('replace', 'patch') then
    raise exception 'items_mode must be replace or patch' using errcode = '22023';
  end if;
  if jsonb_typeof(items) <> 'array' then
    raise exception 'items must be a list' using errcode = '22023';
  end if;
  if jsonb_array_length(items) > 200 then
    raise exception 'an invoice has at most 200 items' using errcode = '22023';
  end if;
  perform private.refuse_unknown_keys(
    e, array['id', 'description', 'quantity', 'rate', 'position', '_delete', 'vat_category', 'tax_rate',
            'tax_exemption_reason_code', 'tax_exemption_reason'], 'item')
  from jsonb_array_elements(items) e;
  if exists (select 1 from jsonb_array_elements(items) e where e ? '_delete') then
    if mode = 'replace' then
      raise exception '"_delete" is for items_mode patch; in replace mode leave the item out'
        using errcode = '22023';
    elsif exists (select 1 from jsonb_array_elements(items) e
                  where e ? '_delete' and e ->> 'id' is null) then
      raise exception 'an item to delete needs its id' using errcode = '22023';
    end if;
  end if;

  select i.organization_id, i.currency into inv from public.invoices i where i.id = target;

  select coalesce(array_agg((e ->> 'id')::uuid), '{}') into listed
  from jsonb_array_elements(items) e
  where e ->> 'id' is not null;
  if cardinality(listed) <> (select count(distinct x) from unnest(listed) x) then
    raise exception 'an item is listed twice' using errcode = '22023';
  end if;
  select x into stray
  from unnest(listed) x
  where not exists (select 1 from public.invoice_items it where it.id = x and it.invoice_id = target)
  limit 1;
  if found then
    raise exception 'item % is not an item of this invoice', stray using errcode = '23503';
  end if;

  -- New items first, then changes, then deletions.
  select coalesce(array_agg(it.id), '{}'), coalesce(max(it.position) + 1, 0) into existing, base
  from public.invoice_items it
  where it.invoice_id = target;
  begin
  insert into public.invoice_items
    (organization_id, invoice_id, currency, position, description, quantity, rate, vat_category, tax_rate,
     tax_exemption_reason_code, tax_exemption_reason)
  select inv.organization_id, target, inv.currency,
         case when mode = 'replace' then t.ord::integer - 1
              else coalesce((t.x ->> 'position')::integer,
                            base + (row_number() over (order by t.ord))::integer - 1) end,
         t.x ->> 'description', (t.x ->> 'quantity')::numeric, (t.x ->> 'rate')::numeric,
         nullif(btrim(t.x ->> 'vat_category'), ''), (t.x ->> 'tax_rate')::numeric,
         nullif(btrim(t.x ->> 'tax_exemption_reason_code'), ''), nullif(btrim(t.x ->> 'tax_exemption_reason'), '')
  from jsonb_array_elements(items) with ordinality as t(x, ord)
  where t.x ->> 'id' is null
  order by t.ord;

  update public.invoice_items it
  set description = coalesce(e.description, it.description),
      quantity = coalesce(e.quantity, it.quantity),
      rate = coalesce(e.rate, it.rate),
      position = coalesce(e.pos, it.position),
      vat_category = case when e.x ? 'vat_category' then e.vat_category else it.vat_category end,
      tax_rate = case when e.x ? 'tax_rate' then e.tax_rate else it.tax_rate end,
      tax_exemption_reason_code = case when e.x ? 'tax_exemption_reason_code' then e.reason_code
                                       else it.tax_exemption_reason_code end,
      tax_exemption_reason = case when e.x ? 'tax_exemption_reason' then e.reason else it.tax_exemption_reason end
  from (
    select x, (x ->> 'id')::uuid as id,
           nullif(btrim(x ->> 'vat_category'), '') as vat_category, (x ->> 'tax_rate')::numeric as tax_rate,
           nullif(btrim(x ->> 'tax_exemption_reason_code'), '') as reason_code,
           nullif(btrim(x ->> 'tax_exemption_reason'), '') as reason,
           x ->> 'description' as description,
           (x ->> 'quantity')::numeric as quantity,
           (x ->> 'rate')::numeric as rate,
           case when mode = 'replace' then ord::integer - 1 else (x ->> 'position')::integer end as pos
    from jsonb_array_elements(items) with ordinality as t(x, ord)
    where x ->> 'id' is not null and not coalesce((x ->> '_delete')::boolean, false)
  ) e
  where it.id = e.id
    and it.invoice_id = target
    and (it.description, it.quantity, it.rate, it.position, it.vat_category, it.tax_rate,
         it.tax_exemption_reason_code, it.tax_exemption_reason)
        is distinct from (coalesce(e.description, it.description), coalesce(e.quantity, it.quantity),
                          coalesce(e.rate, it.rate), coalesce(e.pos, it.position),
                          case when e.x ? 'vat_category' then e.vat_category else it.vat_category end,
                          case when e.x ? 'tax_rate' then e.tax_rate else it.tax_rate end,
                          case when e.x ? 'tax_exemption_reason_code' then e.reason_code
                               else it.tax_exemption_reason_code end,
                          case when e.x ? 'tax_exemption_reason' then e.reason else it.tax_exemption_reason end);
  exception when check_violation then
    -- The tax fields' rule broken, named with its line; else the refusal as it was.
    perform private.refuse_bad_line_tax(items);
    raise;
  end;

  -- Deletions last: the subtotal never passes through zero on the way, which
  -- would make a sent invoice paid.
  if mode = 'replace' then
    delete from public.invoice_items it
    where it.invoice_id = target and it.id = any (existing) and it.id <> all (listed);
  else
    delete from public.invoice_items it
    where it.invoice_id = target
      and it.id in (select (e ->> 'id')::uuid from jsonb_array_elements(items) e
                    where coalesce((e ->> '_delete')::boolean, false));
  end if;

  select count(*) into remaining from public.invoice_items it where it.invoice_id = target;
  if remaining = 0 then
    raise exception 'an invoice needs at least one item' using errcode = '23514';
  elsif remaining > 200 then
    raise exception 'an invoice has at most 200 items; this one would have %', remaining
      using errcode = '23514';
  end if;
end;
$$;


-- private.invoice_changed_fields: defined in 20261206171200 (its final form; nothing is deployed)


create or replace function private.issued_invoice_keeps_its_identity()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if current_user in ('anon', 'authenticated') then
    perform private.refuse_change_by_status(
      old, private.invoice_changed_fields(old, new), old.amount_paid > 0, array['tax_rate', 'default_vat_category']);
  end if;
  return new;
end;
$$;


-- public.create_invoice: defined in 20261206171200 (its final form; nothing is deployed)


-- public.update_invoice: defined in 20261206171200 (its final form; nothing is deployed)


-- =============================================================================
-- The breakdowns
-- =============================================================================

-- The breakdown of a document's lines as rows (private.tax_breakdown_json_of).
create or replace function private.lines_tax_breakdown(
  lines jsonb, document_rate numeric, document_category text, discount numeric, currency text
)
returns table (
  vat_category text, tax_rate numeric, line_net_total numeric, allowance_amount numeric,
  taxable_amount numeric, tax_amount numeric, tax_exemption_reason_code text, tax_exemption_reason text
)
language sql
immutable
set search_path = ''
as $$
  select t.*
  from jsonb_to_recordset(private.tax_breakdown_json_of(lines, document_rate, document_category, discount, currency))
    as t (vat_category text, tax_rate numeric, line_net_total numeric, allowance_amount numeric,
          taxable_amount numeric, tax_amount numeric, tax_exemption_reason_code text, tax_exemption_reason text)
$$;

-- The breakdown as the document JSON has it (a list, in order).
create or replace function private.tax_breakdown_json(kind text, organization_id uuid, document_id uuid)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
  if kind = 'credit_note' then
    return (
      select coalesce(jsonb_agg(to_jsonb(b) order by b.vat_category, b.tax_rate), '[]'::jsonb)
      from private.credit_note_tax_breakdown(tax_breakdown_json.organization_id, document_id) b);
  elsif kind = 'quote' then
    return (
      select coalesce(q.tax_breakdown, private.tax_breakdown_json_of(
               (select jsonb_agg(jsonb_build_object('c', it.vat_category, 'r', it.tax_rate, 'n', it.amount,
                                                    'p', it.position, 'code', it.tax_exemption_reason_code,
                                                    'reason', it.tax_exemption_reason))
                from public.quote_items it where it.quote_id = q.id),
               q.tax_rate, q.default_vat_category, q.discount, q.currency))
      from public.quotes q
      where q.id = document_id and q.organization_id = tax_breakdown_json.organization_id);
  end if;
  return (
    select coalesce(i.tax_breakdown, private.tax_breakdown_json_of(
             (select jsonb_agg(jsonb_build_object('c', it.vat_category, 'r', it.tax_rate, 'n', it.amount,
                                                  'p', it.position, 'code', it.tax_exemption_reason_code,
                                                  'reason', it.tax_exemption_reason))
              from public.invoice_items it where it.invoice_id = i.id),
             i.tax_rate, i.default_vat_category, i.discount, i.currency))
    from public.invoices i
    where i.id = document_id and i.organization_id = tax_breakdown_json.organization_id);
end;
$$;

-- The breakdown of one invoice of the organization (security invoker: RLS
-- decides; another tenant's invoice has none). Its tax_amount column sums to the
-- invoice's tax_amount.
create or replace function private.invoice_tax_breakdown(organization_id uuid, invoice_id uuid)
returns table (
  vat_category text, tax_rate numeric, line_net_total numeric, allowance_amount numeric,
  taxable_amount numeric, tax_amount numeric, tax_exemption_reason_code text, tax_exemption_reason text
)
language sql
stable
security invoker
set search_path = ''
as $$
  select b.*
  from jsonb_to_recordset(private.tax_breakdown_json('invoice', invoice_tax_breakdown.organization_id,
                                                     invoice_tax_breakdown.invoice_id))
    as b (vat_category text, tax_rate numeric, line_net_total numeric, allowance_amount numeric,
          taxable_amount numeric, tax_amount numeric, tax_exemption_reason_code text, tax_exemption_reason text)
  order by b.vat_category, b.tax_rate
$$;

create or replace function private.quote_tax_breakdown(organization_id uuid, quote_id uuid)
returns table (
  vat_category text, tax_rate numeric, line_net_total numeric, allowance_amount numeric,
  taxable_amount numeric, tax_amount numeric, tax_exemption_reason_code text, tax_exemption_reason text
)
language sql
stable
security invoker
set search_path = ''
as $$
  select b.*
  from jsonb_to_recordset(private.tax_breakdown_json('quote', quote_tax_breakdown.organization_id,
                                                     quote_tax_breakdown.quote_id))
    as b (vat_category text, tax_rate numeric, line_net_total numeric, allowance_amount numeric,
          taxable_amount numeric, tax_amount numeric, tax_exemption_reason_code text, tax_exemption_reason text)
  order by b.vat_category, b.tax_rate
$$;

-- A credit note's breakdown: its lines' groups with its discount split as an
-- invoice's; what its stored tax differs from the groups' (a note crediting an
-- amount tax included, or the last of an invoice absorbing the roundings of the
-- notes before) is on its largest group, so the groups sum to its tax_amount.
create or replace function private.credit_note_tax_breakdown(organization_id uuid, credit_note_id uuid)
returns table (
  vat_category text, tax_rate numeric, line_net_total numeric, allowance_amount numeric,
  taxable_amount numeric, tax_amount numeric, tax_exemption_reason_code text, tax_exemption_reason text
)
language sql
stable
security invoker
set search_path = ''
as $$
  with cn as (
    select * from public.credit_notes c
    where c.id = credit_note_tax_breakdown.credit_note_id
      and c.organization_id = credit_note_tax_breakdown.organization_id
  ), b as (
    select b.*, cn.tax_amount as note_tax,
           row_number() over (order by b.line_net_total desc, b.vat_category, b.tax_rate) as rank,
           sum(b.tax_amount) over () as groups_tax
    from cn
    cross join lateral private.lines_tax_breakdown(
      (select jsonb_agg(jsonb_build_object('c', it.vat_category, 'r', it.tax_rate, 'n', it.amount,
                                           'p', it.position, 'code', it.tax_exemption_reason_code,
                                           'reason', it.tax_exemption_reason))
       from public.credit_note_items it where it.credit_note_id = cn.id),
      cn.tax_rate, cn.default_vat_category, cn.discount, cn.currency) b
  )
  select b.vat_category, b.tax_rate, b.line_net_total, b.allowance_amount, b.taxable_amount,
         b.tax_amount + case when b.rank = 1 then b.note_tax - b.groups_tax else 0 end,
         b.tax_exemption_reason_code, b.tax_exemption_reason
  from b
  order by b.vat_category, b.tax_rate
$$;


-- =============================================================================
-- Invoices: the documents (the invoice documents migration's, with the tax model)
-- =============================================================================

create or replace function private.invoice_document(target uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select (to_jsonb(i) - 'line_tax_groups' - 'tax_breakdown') || jsonb_build_object(
    'items', x.items,
    'tax_breakdown', x.tax_breakdown,
    'payments', coalesce((
      select jsonb_agg(jsonb_build_object(
               'id', p.id, 'amount', p.amount, 'currency', p.currency,
               'payment_date', p.payment_date, 'payment_method', p.payment_method,
               'reference_number', p.reference_number, 'notes', p.notes,
               'created_at', p.created_at)
             order by p.payment_date, p.created_at, p.id)
      from public.payments p
      where p.invoice_id = i.id), '[]'::jsonb),
    'client', (
      select jsonb_build_object(
               'id', c.id, 'company_name', c.company_name, 'contact_person', c.contact_person,
               'email', c.email, 'phone', c.phone, 'address', c.address, 'currency', c.currency)
      from public.clients c
      where c.id = i.client_id))
  from public.invoices i
  cross join lateral (
    select coalesce(jsonb_agg(jsonb_build_object(
             'id', it.id, 'position', it.position, 'description', it.description,
             'quantity', it.quantity, 'rate', it.rate, 'amount', it.amount,
             'vat_category', private.effective_vat_category(it.vat_category, it.tax_rate, i.tax_rate,
                                                            i.default_vat_category),
             'tax_rate', private.effective_tax_rate(it.vat_category, it.tax_rate, i.tax_rate),
             'tax_exemption_reason_code', it.tax_exemption_reason_code,
             'tax_exemption_reason', it.tax_exemption_reason,
             'created_at', it.created_at, 'updated_at', it.updated_at)
           order by it.position, it.created_at, it.id), '[]'::jsonb) as items,
           coalesce(i.tax_breakdown, private.tax_breakdown_json_of(
             jsonb_agg(jsonb_build_object('c', it.vat_category, 'r', it.tax_rate, 'n', it.amount,
                                          'p', it.position, 'code', it.tax_exemption_reason_code,
                                          'reason', it.tax_exemption_reason)),
             i.tax_rate, i.default_vat_category, i.discount, i.currency)) as tax_breakdown
    from public.invoice_items it
    where it.invoice_id = i.id and it.organization_id = i.organization_id
  ) x
  where i.id = target
$$;

create or replace function public.invoice_document(organization_id uuid, invoice_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select (to_jsonb(i) - 'line_tax_groups' - 'tax_breakdown') || jsonb_build_object(
    'items', x.items,
    'tax_breakdown', x.tax_breakdown,
    'payments', coalesce((
      select jsonb_agg(jsonb_build_object(
               'id', p.id, 'amount', p.amount, 'currency', p.currency,
               'payment_date', p.payment_date, 'payment_method', p.payment_method,
               'reference_number', p.reference_number)
             order by p.payment_date, p.created_at, p.id)
      from public.payments p
      where p.invoice_id = i.id and p.organization_id = i.organization_id), '[]'::jsonb),
    'client', (
      select jsonb_build_object(
               'id', c.id, 'company_name', c.company_name, 'contact_person', c.contact_person,
               'email', c.email, 'phone', c.phone, 'address', c.address, 'currency', c.currency)
      from public.clients c
      where c.id = i.client_id and c.organization_id = i.organization_id),
    'organization', (
      select jsonb_build_object(
               'name', o.name,
               'settings', (
                 select jsonb_build_object(
                          'business_name', s.business_name,
                          'business_email', s.business_email,
                          'business_phone', s.business_phone,
                          'business_address', s.business_address,
                          'city', s.city, 'state', s.state, 'zip_code', s.zip_code,
                          'country', s.country, 'tax_id', s.tax_id, 'website', s.website,
                          'company_logo_url', s.company_logo_url, 'tax_label', s.tax_label,
                          'invoice_footer', s.invoice_footer,
                          'default_payment_instructions', s.default_payment_instructions)
                 from public.organization_settings s
                 where s.organization_id = o.id))
      from public.organizations o
      where o.id = i.organization_id))
  from public.invoices i
  cross join lateral (
    select coalesce(jsonb_agg(jsonb_build_object(
             'id', it.id, 'position', it.position, 'description', it.description,
             'quantity', it.quantity, 'rate', it.rate, 'amount', it.amount,
             'vat_category', private.effective_vat_category(it.vat_category, it.tax_rate, i.tax_rate,
                                                            i.default_vat_category),
             'tax_rate', private.effective_tax_rate(it.vat_category, it.tax_rate, i.tax_rate),
             'tax_exemption_reason_code', it.tax_exemption_reason_code,
             'tax_exemption_reason', it.tax_exemption_reason)
           order by it.position, it.created_at, it.id), '[]'::jsonb) as items,
           coalesce(i.tax_breakdown, private.tax_breakdown_json_of(
             jsonb_agg(jsonb_build_object('c', it.vat_category, 'r', it.tax_rate, 'n', it.amount,
                                          'p', it.position, 'code', it.tax_exemption_reason_code,
                                          'reason', it.tax_exemption_reason)),
             i.tax_rate, i.default_vat_category, i.discount, i.currency)) as tax_breakdown
    from public.invoice_items it
    where it.invoice_id = i.id and it.organization_id = i.organization_id
  ) x
  where i.id = invoice_id and i.organization_id = invoice_document.organization_id
$$;


-- =============================================================================
-- Quotes (the quotes migration's functions, with the tax model)
-- =============================================================================

create or replace function private.refresh_quote_subtotals(quote_ids uuid[])
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  issued record;
begin
  if coalesce(cardinality(quote_ids), 0) = 0 then
    return;  -- a statement that touched no item
  end if;
  select q.quote_number, q.status into issued
  from (
    select q.quote_number, q.status
    from public.quotes q
    where q.id = any (quote_ids)
    order by q.id
    for no key update
  ) q
  where q.status <> 'draft' and pg_trigger_depth() <= 1
  limit 1;
  if found then
    raise exception 'quote % is %: its items can no longer change', issued.quote_number, issued.status
      using errcode = '23514', hint = 'Create a new quote for a different offer.';
  end if;
  update public.quotes q
  set subtotal = t.subtotal, line_tax_groups = t.groups
  from (
    select g.quote_id, coalesce(sum(g.net), 0) as subtotal,
           coalesce(jsonb_agg(jsonb_build_object('c', g.c, 'r', g.r, 'n', g.net) || coalesce(g.why, '{}'::jsonb)
                              order by g.c nulls first, g.r nulls first)
                      filter (where g.net is not null), '[]'::jsonb) as groups
    from (
      select qid as quote_id, it.vat_category as c, it.tax_rate as r, sum(it.amount) as net,
             (array_agg(jsonb_build_object('p', it.position, 'code', it.tax_exemption_reason_code,
                                           'reason', it.tax_exemption_reason) order by it.position)
                filter (where it.tax_exemption_reason_code is not null or it.tax_exemption_reason is not null))[1]
               as why
      from unnest(quote_ids) qid
      left join public.quote_items it on it.quote_id = qid
      group by qid, it.vat_category, it.tax_rate
    ) g
    group by g.quote_id
  ) t
  where q.id = t.quote_id and (q.subtotal, q.line_tax_groups) is distinct from (t.subtotal, t.groups);
end;
$$;


create or replace function private.prepare_quote_row()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  today date;
begin
  new.discount := private.checked_money(new.discount, new.currency, 'discount');
  new.subtotal := private.round_money(new.subtotal, new.currency);
  if new.discount > new.subtotal then
    raise exception 'discount (%) exceeds the subtotal (%)', new.discount, new.subtotal
      using errcode = '23514', constraint = 'quotes_discount_not_above_subtotal';
  end if;
  if tg_op = 'INSERT'
     or (new.subtotal, new.line_tax_groups, new.discount, new.tax_rate, new.default_vat_category, new.currency)
        is distinct from (old.subtotal, old.line_tax_groups, old.discount, old.tax_rate,
                          old.default_vat_category, old.currency) then
    if new.line_tax_groups is null then
      new.tax_breakdown := null;
      new.tax_amount := private.round_money((new.subtotal - new.discount) * new.tax_rate / 100, new.currency);
    else
      new.tax_breakdown := private.document_breakdown(new.line_tax_groups, new.subtotal, new.tax_rate,
                                                      new.default_vat_category, new.discount, new.currency);
      new.tax_amount := private.round_money(
        (select coalesce(sum((g ->> 'tax_amount')::numeric), 0) from jsonb_array_elements(new.tax_breakdown) g),
        new.currency);
    end if;
  end if;
  new.total_amount := new.subtotal - new.discount + new.tax_amount;

  if tg_op = 'UPDATE' then
    -- The invoice made from it was deleted (its foreign key set invoice_id to null).
    if old.status = 'converted' and new.invoice_id is null then
      new.status := 'accepted';
    end if;
    if new.status is distinct from old.status then
      today := private.organization_today(new.organization_id);
      if old.status = 'draft' and new.status = 'sent' then
        null;
      elsif old.status = 'sent' and new.status in ('accepted', 'declined') then
        if new.valid_until < today then
          raise exception 'quote % expired on %: it can no longer be %',
            old.quote_number, new.valid_until, new.status
            using errcode = '23514', hint = 'Create a new quote, or extend valid_until first.';
        end if;
      elsif old.status = 'sent' and new.status = 'expired' then
        if new.valid_until >= today then
          raise exception 'quote % is valid until %: it has not expired', old.quote_number, new.valid_until
            using errcode = '23514';
        end if;
      elsif old.status = 'accepted' and new.status = 'converted' then
        null;  -- the check constraint wants its invoice
      elsif old.status = 'converted' and new.status = 'accepted' and new.invoice_id is null then
        new.converted_at := null;
      elsif new.status in ('accepted', 'declined') then
        raise exception 'only a sent quote can be %; quote % is %', new.status, old.quote_number, old.status
          using errcode = '23514';
      elsif new.status = 'draft' or new.status = 'sent' then
        raise exception 'quote % is %: it cannot go back to %', old.quote_number, old.status, new.status
          using errcode = '23514', hint = 'Create a new quote.';
      elsif new.status = 'converted' then
        raise exception 'only an accepted quote can be converted; quote % is %', old.quote_number, old.status
          using errcode = '23514';
      else
        raise exception 'a % quote cannot become %', old.status, new.status using errcode = '23514';
      end if;
    end if;
  end if;

  if new.status <> 'draft' then
    new.sent_at := coalesce(new.sent_at, now());
  end if;
  new.accepted_at := case when new.status in ('accepted', 'converted')
                          then coalesce(case when tg_op = 'UPDATE' then old.accepted_at end, now()) end;
  new.declined_at := case when new.status = 'declined'
                          then coalesce(case when tg_op = 'UPDATE' then old.declined_at end, now()) end;
  new.expired_at := case when new.status = 'expired'
                         then coalesce(case when tg_op = 'UPDATE' then old.expired_at end, now()) end;
  new.converted_at := case when new.status = 'converted'
                           then coalesce(case when tg_op = 'UPDATE' then old.converted_at end, now()) end;
  return new;
end;
$$;


create or replace function private.quote_changed_fields(before public.quotes, after public.quotes)
returns text[]
language sql
immutable
set search_path = ''
as $$
  select array_remove(array[
    case when after.client_id is distinct from before.client_id then 'client_id' end,
    case when after.quote_number is distinct from before.quote_number then 'quote_number' end,
    case when after.issue_date is distinct from before.issue_date then 'issue_date' end,
    case when after.valid_until is distinct from before.valid_until then 'valid_until' end,
    case when after.tax_rate is distinct from before.tax_rate then 'tax_rate' end,
    case when after.discount is distinct from before.discount then 'discount' end,
    case when after.notes is distinct from before.notes then 'notes' end,
    case when after.terms is distinct from before.terms then 'terms' end,
    case when after.template is distinct from before.template then 'template' end,
    case when after.default_vat_category is distinct from before.default_vat_category
         then 'default_vat_category' end,
    case when after.buyer_reference is distinct from before.buyer_reference then 'buyer_reference' end,
    case when after.purchase_order_reference is distinct from before.purchase_order_reference
         then 'purchase_order_reference' end
  ], null)
$$;


create or replace function private.replace_quote_items(target uuid, items jsonb)
returns void
language plpgsql
security invoker
set search_path = ''
as $$
declare
  q record;
  old_ids uuid[];
begin
  if items is null then
    return;
  end if;
  if jsonb_typeof(items) <> 'array' then
    raise exception 'items must be a list' using errcode = '22023';
  end if;
  if jsonb_array_length(items) = 0 then
    raise exception 'a quote needs at least one item' using errcode = '22023';
  end if;
  if jsonb_array_length(items) > 200 then
    raise exception 'a quote has at most 200 items' using errcode = '22023';
  end if;
  perform private.refuse_unknown_keys(e, array['description', 'quantity', 'rate', 'vat_category', 'tax_rate',
                                                'tax_exemption_reason_code', 'tax_exemption_reason'], 'item')
  from jsonb_array_elements(items) e;

  select qt.organization_id, qt.currency into q from public.quotes qt where qt.id = target;
  select coalesce(array_agg(it.id), '{}') into old_ids
  from public.quote_items it where it.quote_id = target;

  begin
  insert into public.quote_items (organization_id, quote_id, currency, position, description, quantity, rate,
                                 vat_category, tax_rate, tax_exemption_reason_code, tax_exemption_reason)
  select q.organization_id, target, q.currency, t.ord::integer - 1,
         t.x ->> 'description', (t.x ->> 'quantity')::numeric, (t.x ->> 'rate')::numeric,
         nullif(btrim(t.x ->> 'vat_category'), ''), (t.x ->> 'tax_rate')::numeric,
         nullif(btrim(t.x ->> 'tax_exemption_reason_code'), ''), nullif(btrim(t.x ->> 'tax_exemption_reason'), '')
  from jsonb_array_elements(items) with ordinality as t(x, ord)
  order by t.ord;
  exception when check_violation then
    -- The tax fields' rule broken, named with its line; else the refusal as it was.
    perform private.refuse_bad_line_tax(items);
    raise;
  end;

  delete from public.quote_items it where it.quote_id = target and it.id = any (old_ids);
end;
$$;


create or replace function public.create_quote(organization_id uuid, quote jsonb, items jsonb)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := create_quote.organization_id;
  doc jsonb := coalesce(create_quote.quote, '{}'::jsonb);
  defaults record;
  given_client uuid;
  issued date;
  valid date;
  wanted_discount numeric;
  new_id uuid;
  new_rate numeric;
begin
  perform private.require_role(org, 'member', 'your role may not create quotes in this organization');
  perform private.refuse_unknown_keys(doc, array[
    'client_id', 'issue_date', 'valid_until', 'tax_rate', 'discount', 'notes', 'terms', 'template',
    'default_vat_category', 'buyer_reference', 'purchase_order_reference'],
    'quote');
  if items is null or jsonb_typeof(items) <> 'array' or jsonb_array_length(items) = 0 then
    raise exception 'a quote needs at least one item' using errcode = '22023';
  end if;
  given_client := (doc ->> 'client_id')::uuid;
  if given_client is null then
    raise exception 'client_id is required' using errcode = '23502';
  end if;
  if not exists (select 1 from public.clients c where c.id = given_client and c.organization_id = org) then
    raise exception 'client % is not a client of this organization', given_client
      using errcode = '23503';
  end if;

  select s.default_tax_rate, s.default_template, s.default_notes, s.default_terms
  into defaults
  from public.organization_settings s
  where s.organization_id = org;

  issued := coalesce((doc ->> 'issue_date')::date, private.organization_today(org));
  valid := coalesce((doc ->> 'valid_until')::date, issued + private.quote_validity_days());
  if valid < issued then
    raise exception 'valid_until (%) is before the issue date (%)', valid, issued
      using errcode = '23514', constraint = 'quotes_valid_until_not_before_issue_date';
  end if;

  insert into public.quotes (organization_id, client_id, issue_date, valid_until, tax_rate, notes, terms, template,
                             default_vat_category, buyer_reference, purchase_order_reference)
  values (
    org, given_client, issued, valid,
    coalesce((doc ->> 'tax_rate')::numeric, defaults.default_tax_rate, 0),
    case when doc ? 'notes' then doc ->> 'notes' else defaults.default_notes end,
    case when doc ? 'terms' then doc ->> 'terms' else defaults.default_terms end,
    coalesce(doc ->> 'template', defaults.default_template, 'professional'),
    nullif(btrim(doc ->> 'default_vat_category'), ''),
    nullif(btrim(doc ->> 'buyer_reference'), ''),
    nullif(btrim(doc ->> 'purchase_order_reference'), '')
  )
  returning id, tax_rate into new_id, new_rate;

  perform private.replace_quote_items(new_id, items);
  if new_rate = 0 then
    perform private.refuse_standard_lines_without_rate(
    array(select it.vat_category from public.quote_items it where it.quote_id = new_id order by it.position),
    array(select it.tax_rate from public.quote_items it where it.quote_id = new_id order by it.position),
    new_rate, 'quote');
  end if;

  wanted_discount := coalesce((doc ->> 'discount')::numeric, 0);
  if wanted_discount <> 0 then
    update public.quotes q set discount = wanted_discount where q.id = new_id;
  end if;
  return private.quote_document(new_id);
end;
$$;


create or replace function public.update_quote(
  organization_id uuid, quote_id uuid, changes jsonb, items jsonb default null
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := update_quote.organization_id;
  target uuid := update_quote.quote_id;
  doc jsonb := coalesce(update_quote.changes, '{}'::jsonb);
  cur public.quotes;
  nxt public.quotes;
  changed text[];
  wanted_status text;
begin
  perform private.require_role(org, 'member', 'your role may not change quotes in this organization');
  perform private.refuse_unknown_keys(doc, array[
    'client_id', 'issue_date', 'valid_until', 'status', 'tax_rate', 'discount', 'notes', 'terms',
    'template', 'default_vat_category', 'buyer_reference', 'purchase_order_reference'], 'changes');

  select * into cur from public.quotes q where q.id = target and q.organization_id = org for no key update;
  if not found then
    raise exception 'quote not found' using errcode = 'P0002';
  end if;

  nxt := cur;
  if doc ? 'client_id' then nxt.client_id := (doc ->> 'client_id')::uuid; end if;
  if doc ? 'issue_date' then nxt.issue_date := (doc ->> 'issue_date')::date; end if;
  if doc ? 'valid_until' then nxt.valid_until := (doc ->> 'valid_until')::date; end if;
  if doc ? 'tax_rate' then nxt.tax_rate := (doc ->> 'tax_rate')::numeric; end if;
  if doc ? 'discount' then nxt.discount := (doc ->> 'discount')::numeric; end if;
  if doc ? 'notes' then nxt.notes := doc ->> 'notes'; end if;
  if doc ? 'terms' then nxt.terms := doc ->> 'terms'; end if;
  if doc ? 'template' then nxt.template := doc ->> 'template'; end if;
  if doc ? 'default_vat_category' then
    nxt.default_vat_category := nullif(btrim(doc ->> 'default_vat_category'), '');
  end if;
  if doc ? 'buyer_reference' then nxt.buyer_reference := nullif(btrim(doc ->> 'buyer_reference'), ''); end if;
  if doc ? 'purchase_order_reference' then
    nxt.purchase_order_reference := nullif(btrim(doc ->> 'purchase_order_reference'), '');
  end if;
  changed := private.quote_changed_fields(cur, nxt);
  if items is not null and cur.status <> 'draft' then
    changed := changed || array['items'];
  end if;

  wanted_status := coalesce(doc ->> 'status', cur.status);
  if wanted_status <> cur.status and not (cur.status = 'draft' and wanted_status = 'sent') then
    if wanted_status not in ('draft', 'sent', 'accepted', 'declined', 'expired', 'converted') then
      raise exception 'unknown status %', wanted_status using errcode = '22023';
    end if;
    raise exception 'a % quote cannot be made % here', cur.status, wanted_status
      using errcode = '23514',
            hint = 'Send a draft (status sent); accept, decline and convert have their own routes.';
  end if;

  perform private.refuse_quote_change_by_status(cur, changed);

  if nxt.valid_until < nxt.issue_date then
    raise exception 'valid_until (%) is before the issue date (%)', nxt.valid_until, nxt.issue_date
      using errcode = '23514', constraint = 'quotes_valid_until_not_before_issue_date';
  end if;
  if 'client_id' = any (changed) then
    select c.currency into nxt.currency from public.clients c
    where c.id = nxt.client_id and c.organization_id = org;
    if not found then
      raise exception 'client % is not a client of this organization', nxt.client_id
        using errcode = '23503';
    end if;
  end if;

  -- 1. The fields, the discount out of the way while the items change (a draft's).
  if cardinality(changed) > 0 or (items is not null and cur.discount <> 0) then
    update public.quotes q
    set client_id = nxt.client_id, currency = nxt.currency, issue_date = nxt.issue_date,
        valid_until = nxt.valid_until, tax_rate = nxt.tax_rate,
        discount = case when items is not null then 0 else nxt.discount end,
        notes = nxt.notes, terms = nxt.terms, template = nxt.template,
        default_vat_category = nxt.default_vat_category, buyer_reference = nxt.buyer_reference,
        purchase_order_reference = nxt.purchase_order_reference
    where q.id = target;
  end if;
  -- 2. The items.
  perform private.replace_quote_items(target, items);
  if nxt.tax_rate = 0 and (items is not null or 'tax_rate' = any (changed)) then
    perform private.refuse_standard_lines_without_rate(
      array(select it.vat_category from public.quote_items it where it.quote_id = target order by it.position),
      array(select it.tax_rate from public.quote_items it where it.quote_id = target order by it.position),
      nxt.tax_rate, 'quote');
  end if;
  -- 3. The discount on the new subtotal, then the status.
  update public.quotes q
  set discount = nxt.discount, status = wanted_status
  where q.id = target and (q.discount, q.status) is distinct from (nxt.discount, wanted_status);
  return private.quote_document(target);
end;
$$;


create or replace function private.quote_document(target uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select (to_jsonb(q) - 'line_tax_groups' - 'tax_breakdown') || jsonb_build_object(
    'items', coalesce((
      select jsonb_agg(jsonb_build_object(
               'id', it.id, 'position', it.position, 'description', it.description,
               'quantity', it.quantity, 'rate', it.rate, 'amount', it.amount,
               'vat_category', private.effective_vat_category(it.vat_category, it.tax_rate, q.tax_rate,
                                                              q.default_vat_category),
               'tax_rate', private.effective_tax_rate(it.vat_category, it.tax_rate, q.tax_rate),
               'tax_exemption_reason_code', it.tax_exemption_reason_code,
               'tax_exemption_reason', it.tax_exemption_reason)
             order by it.position, it.created_at, it.id)
      from public.quote_items it
      where it.quote_id = q.id), '[]'::jsonb),
    'tax_breakdown', private.tax_breakdown_json('quote', q.organization_id, q.id),
    'client', (
      select jsonb_build_object(
               'id', c.id, 'company_name', c.company_name, 'contact_person', c.contact_person,
               'email', c.email, 'phone', c.phone, 'address', c.address, 'currency', c.currency)
      from public.clients c
      where c.id = q.client_id),
    'invoice', (
      select jsonb_build_object('id', i.id, 'invoice_number', i.invoice_number, 'status', i.status)
      from public.invoices i
      where i.id = q.invoice_id))
  from public.quotes q
  where q.id = target
$$;

-- public.convert_quote: defined in 20261206171200 (its final form; nothing is deployed)


-- =============================================================================
-- Recurring profiles (the recurring migration's functions, with the tax model)
-- =============================================================================

create or replace function private.replace_recurring_items(target uuid, items jsonb)
returns void
language plpgsql
security invoker
set search_path = ''
as $$
declare
  prof record;
  subtotal numeric;
begin
  if items is null or jsonb_typeof(items) <> 'array' or jsonb_array_length(items) = 0 then
    raise exception 'items: a recurring profile needs at least one item' using errcode = '22023';
  end if;
  if jsonb_array_length(items) > 200 then
    raise exception 'items: a recurring profile has at most 200 items' using errcode = '22023';
  end if;
  perform private.refuse_unknown_keys(e, array['description', 'quantity', 'rate', 'vat_category', 'tax_rate',
                                                'tax_exemption_reason_code', 'tax_exemption_reason'], 'item')
  from jsonb_array_elements(items) e;
  select p.organization_id, p.currency, p.discount into prof
  from public.recurring_profiles p where p.id = target;
  delete from public.recurring_profile_items it where it.profile_id = target;
  begin
  insert into public.recurring_profile_items
    (organization_id, profile_id, currency, position, description, quantity, rate, vat_category, tax_rate,
     tax_exemption_reason_code, tax_exemption_reason)
  select prof.organization_id, target, prof.currency, (t.ord - 1)::integer,
         t.x ->> 'description', (t.x ->> 'quantity')::numeric, (t.x ->> 'rate')::numeric,
         nullif(btrim(t.x ->> 'vat_category'), ''), (t.x ->> 'tax_rate')::numeric,
         nullif(btrim(t.x ->> 'tax_exemption_reason_code'), ''), nullif(btrim(t.x ->> 'tax_exemption_reason'), '')
  from jsonb_array_elements(items) with ordinality as t(x, ord)
  order by t.ord;
  exception when check_violation then
    -- The tax fields' rule broken, named with its line; else the refusal as it was.
    perform private.refuse_bad_line_tax(items);
    raise;
  end;
  select coalesce(sum(it.amount), 0) into subtotal
  from public.recurring_profile_items it where it.profile_id = target;
  if prof.discount > subtotal then
    raise exception 'discount (%) exceeds the items'' subtotal (%)', prof.discount, subtotal
      using errcode = '23514', constraint = 'recurring_profiles_discount_not_above_subtotal';
  end if;
end;
$$;


-- private.apply_recurring_template: defined in 20261206171200 (its final form; nothing is deployed)


-- public.create_recurring_profile: defined in 20261206171200 (its final form; nothing is deployed)


-- public.update_recurring_profile: defined in 20261206171200 (its final form; nothing is deployed)


create or replace function private.issue_recurring_periods(chosen jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  made jsonb;
  jobs jsonb;
begin
  if (select auth.uid()) is not null and exists (
       select 1
       from jsonb_to_recordset(chosen) as c (profile_id uuid)
       join public.recurring_profiles p on p.id = c.profile_id
       where not private.has_role_on_organization(p.organization_id, 'member')) then
    raise exception 'your role may not issue invoices in this organization' using errcode = '42501';
  end if;

  with wanted as (
    select c.profile_id, c.k, c.period_start, c.issue_date, coalesce(c.email, false) as email,
           p.organization_id, p.client_id, p.currency, p.payment_terms, p.due_days, p.tax_rate,
           p.notes, p.terms, p.payment_instructions, p.template, p.default_vat_category,
           coalesce(p.buyer_reference, nullif(pg_catalog.btrim(cl.buyer_reference), '')) as buyer_reference,
           p.purchase_order_reference
    from jsonb_to_recordset(chosen) as c (profile_id uuid, k integer, period_start date,
                                          issue_date date, email boolean)
    join public.recurring_profiles p on p.id = c.profile_id
    join public.clients cl on cl.id = p.client_id
  ), inserted as (
    insert into public.invoices (
      organization_id, client_id, currency, issue_date, due_date, payment_terms, tax_rate,
      notes, terms, payment_instructions, template, recurring_profile_id, recurring_period_start,
      default_vat_category, buyer_reference, purchase_order_reference)
    select w.organization_id, w.client_id, w.currency, w.issue_date,
           private.recurring_due_date(w.payment_terms, w.due_days, w.issue_date), w.payment_terms,
           w.tax_rate, w.notes, w.terms, w.payment_instructions, w.template, w.profile_id,
           w.period_start, w.default_vat_category, w.buyer_reference, w.purchase_order_reference
    from wanted w
    order by w.organization_id, w.issue_date, w.profile_id, w.k
    returning id, organization_id, recurring_profile_id, recurring_period_start, currency
  )
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'id', i.id, 'organization_id', i.organization_id, 'profile_id', i.recurring_profile_id,
           'period_start', i.recurring_period_start, 'currency', i.currency, 'email', w.email)
           order by i.organization_id, i.recurring_period_start), '[]'::jsonb)
  into made
  from inserted i
  join wanted w on w.profile_id = i.recurring_profile_id and w.period_start = i.recurring_period_start;

  insert into public.invoice_items
    (organization_id, invoice_id, currency, position, description, quantity, rate, vat_category, tax_rate,
     tax_exemption_reason_code, tax_exemption_reason)
  select m.organization_id, m.id, m.currency, it.position, it.description, it.quantity, it.rate,
         it.vat_category, it.tax_rate, it.tax_exemption_reason_code, it.tax_exemption_reason
  from jsonb_to_recordset(made) as m (id uuid, organization_id uuid, profile_id uuid, currency text)
  join public.recurring_profile_items it
    on it.profile_id = m.profile_id and it.organization_id = m.organization_id
  order by m.id, it.position;

  update public.invoices i
  set discount = p.discount
  from jsonb_to_recordset(made) as m (id uuid, profile_id uuid)
  join public.recurring_profiles p on p.id = m.profile_id
  where i.id = m.id and p.discount <> 0;

  -- The emails: one bulk send per organization (and per 500 invoices, a bulk send's
  -- most), its items claimed once by the worker.
  with numbered as (
    select m.organization_id, m.id, m.period_start,
           (pg_catalog.row_number() over (partition by m.organization_id
                                          order by m.period_start, m.id) - 1) / 500 as part
    from jsonb_to_recordset(made) as m (id uuid, organization_id uuid, period_start date, email boolean)
    where m.email
  ), orgs as (
    select pg_catalog.gen_random_uuid() as job_id, n.organization_id,
           pg_catalog.array_agg(n.id order by n.period_start, n.id) as ids
    from numbered n
    group by n.organization_id, n.part
  ), created as (
    insert into public.bulk_jobs as j (id, organization_id, created_by, action, options, total, queued)
    select o.job_id, o.organization_id, null, 'send', '{"origin": "recurring"}'::jsonb,
           cardinality(o.ids), true
    from orgs o
    order by o.organization_id
    returning j.id, j.organization_id
  ), items as (
    insert into public.bulk_job_items (job_id, organization_id, invoice_id, position, status, reason, message)
    select c.id, c.organization_id, x.invoice_id, (x.ord - 1)::integer,
           case when nullif(pg_catalog.btrim(cl.email), '') is null then 'failed' else 'pending' end,
           case when nullif(pg_catalog.btrim(cl.email), '') is null then 'no_email' end,
           case when nullif(pg_catalog.btrim(cl.email), '') is null
                then pg_catalog.format('client %s has no email address (client.email); the invoice stays a draft',
                                       cl.company_name) end
    from created c
    join orgs o on o.job_id = c.id
    cross join lateral unnest(o.ids) with ordinality as x (invoice_id, ord)
    join public.invoices i on i.id = x.invoice_id
    join public.clients cl on cl.id = i.client_id
    returning job_id, organization_id, invoice_id, status
  )
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'job_id', t.job_id, 'organization_id', t.organization_id, 'invoice_ids', t.ids)), '[]'::jsonb)
  into jobs
  from (select it.job_id, it.organization_id,
               pg_catalog.array_agg(it.invoice_id order by it.invoice_id)
                 filter (where it.status = 'pending') as ids
        from items it group by it.job_id, it.organization_id) t;

  -- Jobs whose every item failed (no email anywhere) are finished at once.
  update public.bulk_jobs j
  set finished_at = pg_catalog.now()
  from jsonb_to_recordset(jobs) as b (job_id uuid, invoice_ids uuid[])
  where j.id = b.job_id and b.invoice_ids is null;

  -- The profiles move past what was issued.
  with issued as (
    select m.profile_id, max(m.k) as last_k, count(*) as n
    from jsonb_to_recordset(chosen) as m (profile_id uuid, k integer)
    group by m.profile_id
  ), moved as (
    select p.id, s.last_k, s.n,
           case when (p.end_date is null or x.d <= p.end_date)
                     and (p.max_cycles is null or p.cycles_issued + s.n < p.max_cycles)
                then x.d end as next_date
    from issued s
    join public.recurring_profiles p on p.id = s.profile_id
    cross join lateral (select private.recurring_billing_date(
      p.first_billing_date, p.interval_unit, p.interval_count, p.billing_day, s.last_k + 1) as d) x
  )
  update public.recurring_profiles p
  set next_period_index = m.last_k + 1,
      cycles_issued = p.cycles_issued + m.n,
      next_billing_date = m.next_date,
      last_issued_at = pg_catalog.now(),
      status = case when m.next_date is null then 'ended' else p.status end,
      ended_reason = case when m.next_date is null then 'completed' else p.ended_reason end,
      ended_at = case when m.next_date is null then pg_catalog.now() else p.ended_at end,
      paused_at = case when m.next_date is null then null else p.paused_at end
  from moved m
  where p.id = m.id;

  return pg_catalog.jsonb_build_object('invoices', made, 'bulk_jobs', jobs,
                                       'ended', (select count(distinct p.id)
                                                 from jsonb_to_recordset(chosen) as m (profile_id uuid)
                                                 join public.recurring_profiles p on p.id = m.profile_id
                                                 where p.status = 'ended'));
end;
$$;


-- The next `count` (1 to 36) invoices a profile would issue, without writing:
-- their period, issue and due dates and amounts (the template's totals as the
-- invoice triggers would compute them). A paused profile shows what resuming
-- today would issue; an ended one nothing. Numbers are given at issue.
create or replace function public.preview_recurring_profile(
  organization_id uuid, profile_id uuid, count integer default 3, now timestamptz default null
)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  org uuid := preview_recurring_profile.organization_id;
  cur public.recurring_profiles;
  today date;
  start_k integer;
  sub numeric;
  tax numeric;
  periods jsonb;
begin
  perform private.require_role(org, 'viewer');
  if count is null or count not between 1 and 36 then
    raise exception 'count must be 1 to 36' using errcode = '22023';
  end if;
  if preview_recurring_profile.now is not null and (select auth.uid()) is not null then
    raise exception 'now: a fixed clock is not for API callers' using errcode = '22023';
  end if;
  select * into cur
  from public.recurring_profiles rp
  where rp.id = preview_recurring_profile.profile_id and rp.organization_id = org;
  if not found then
    raise exception 'recurring profile not found' using errcode = 'P0002';
  end if;
  select (coalesce(preview_recurring_profile.now, pg_catalog.now()) at time zone s.time_zone)::date
  into today
  from public.organization_settings s where s.organization_id = org;
  start_k := cur.next_period_index;
  if cur.status = 'paused' then
    start_k := private.recurring_index_on_or_after(cur, today);
    cur.next_period_index := start_k;
  end if;
  select coalesce(sum(it.amount), 0) into sub
  from public.recurring_profile_items it where it.profile_id = cur.id;
  tax := private.document_tax_amount(
    (select jsonb_agg(jsonb_build_object('c', g.c, 'r', g.r, 'n', g.n))
     from (select it.vat_category as c, it.tax_rate as r, sum(it.amount) as n
           from public.recurring_profile_items it where it.profile_id = cur.id
           group by it.vat_category, it.tax_rate) g),
    sub, cur.tax_rate, cur.default_vat_category, cur.discount, cur.currency);

  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'period', x.k - start_k + 1,
           'period_start', x.d,
           'period_end', private.recurring_billing_date(cur.first_billing_date, cur.interval_unit,
                                                        cur.interval_count, cur.billing_day, x.k + 1) - 1,
           'issue_date', x.d,
           'due_date', private.recurring_due_date(cur.payment_terms, cur.due_days, x.d),
           'due_now', x.d <= today,
           'currency', cur.currency,
           'subtotal', sub, 'discount', cur.discount, 'tax_rate', cur.tax_rate,
           'tax_amount', tax, 'total_amount', sub - cur.discount + tax)
           order by x.k), '[]'::jsonb)
  into periods
  from (select g.k, private.recurring_period_date(cur, g.k) as d
        from pg_catalog.generate_series(start_k, start_k + count - 1) as g (k)) x
  where cur.status <> 'ended' and x.d is not null;

  return pg_catalog.jsonb_build_object('profile_id', cur.id, 'status', cur.status,
                                       'today', today, 'invoices', periods);
end;
$$;
grant execute on function
  public.preview_recurring_profile(uuid, uuid, integer, timestamptz)
  to authenticated;
revoke execute on function
  public.preview_recurring_profile(uuid, uuid, integer, timestamp with time zone)
  from public;


-- private.recurring_profile_document: defined in 20261206171200 (its final form; nothing is deployed)


-- =============================================================================
-- Credit notes (the credit notes migration's functions, with the tax model)
-- =============================================================================

-- The credit note's JSON: its lines' effective categories and rates and its
-- breakdown.
create or replace function private.credit_note_document(target uuid)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select to_jsonb(cn) || jsonb_build_object(
    'items', coalesce((
      select jsonb_agg(jsonb_build_object(
               'id', it.id, 'invoice_item_id', it.invoice_item_id, 'position', it.position,
               'description', it.description, 'quantity', it.quantity, 'rate', it.rate,
               'amount', it.amount,
               'vat_category', private.effective_vat_category(it.vat_category, it.tax_rate, cn.tax_rate,
                                                              cn.default_vat_category),
               'tax_rate', private.effective_tax_rate(it.vat_category, it.tax_rate, cn.tax_rate),
               'tax_exemption_reason_code', it.tax_exemption_reason_code,
               'tax_exemption_reason', it.tax_exemption_reason) order by it.position, it.id)
      from public.credit_note_items it where it.credit_note_id = cn.id), '[]'::jsonb),
    'tax_breakdown', private.tax_breakdown_json('credit_note', cn.organization_id, cn.id),
    'invoice', (
      select jsonb_build_object(
               'id', i.id, 'invoice_number', i.invoice_number, 'status', i.status,
               'issue_date', i.issue_date, 'due_date', i.due_date,
               'total_amount', i.total_amount, 'amount_paid', i.amount_paid,
               'amount_credited', i.amount_credited, 'balance_due', i.balance_due)
      from public.invoices i where i.id = cn.invoice_id),
    'client', (
      select jsonb_build_object('id', c.id, 'company_name', c.company_name,
                                'contact_person', c.contact_person, 'email', c.email,
                                'address', c.address, 'currency', c.currency)
      from public.clients c where c.id = cn.client_id))
  from public.credit_notes cn
  where cn.id = target
$$;


-- issue_credit_note, with the tax model: a note's lines keep the invoice lines'
-- effective category, rate and reason; 'lines' is taxed by its lines' groups
-- (the invoice's discount shared out as before, then split over the groups);
-- 'amount' (and 'whole' after earlier notes) is spread over the invoice's groups
-- (one line a group); the references and default category are the invoice's.
create or replace function private.issue_credit_note(organization_id uuid, invoice_id uuid, doc jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  org uuid := issue_credit_note.organization_id;
  inv public.invoices;
  kind text;
  issued date;
  today date;
  remaining numeric;
  net numeric;
  disc numeric := 0;
  tax numeric;
  total numeric;
  given numeric;
  lines jsonb;
  bad record;
  everything_credited boolean := false;
  excess numeric;
  from_payments numeric;
  number text;
  new_id uuid;
  label text;
  many boolean;
begin
  perform private.require_role(org, 'member', 'your role may not issue credit notes in this organization');
  doc := coalesce(doc, '{}'::jsonb);
  perform private.refuse_unknown_keys(doc, array[
    'kind', 'lines', 'amount', 'description', 'issue_date', 'reason', 'notes'], 'credit_note');
  kind := doc ->> 'kind';
  if kind is null then
    raise exception 'kind is required: whole, lines or amount' using errcode = '22023';
  elsif kind not in ('whole', 'lines', 'amount') then
    raise exception 'kind must be whole, lines or amount, not %', kind using errcode = '22023';
  end if;
  if kind <> 'lines' and doc ? 'lines' then
    raise exception 'lines are for a credit note of kind lines' using errcode = '22023';
  end if;
  if kind <> 'amount' and (doc ? 'amount' or doc ? 'description') then
    raise exception 'amount and description are for a credit note of kind amount' using errcode = '22023';
  end if;
  if length(doc ->> 'reason') > 500 then
    raise exception 'reason is longer than 500 characters' using errcode = '22023';
  end if;
  if length(doc ->> 'notes') > 5000 then
    raise exception 'notes are longer than 5000 characters' using errcode = '22023';
  end if;

  -- Lock order, step 1: the invoice.
  select * into inv
  from public.invoices i
  where i.id = issue_credit_note.invoice_id and i.organization_id = org
  for no key update;
  if not found then
    raise exception 'invoice not found' using errcode = 'P0002';
  end if;
  if inv.status = 'draft' then
    raise exception 'invoice % is a draft: change or delete it instead of crediting it', inv.invoice_number
      using errcode = '23514';
  elsif inv.status = 'cancelled' then
    raise exception 'invoice % is cancelled: nothing is left to credit', inv.invoice_number
      using errcode = '23514';
  end if;
  remaining := inv.total_amount - inv.credit_notes_total;
  if remaining <= 0 then
    raise exception 'invoice % is already credited in full', inv.invoice_number using errcode = '23514';
  end if;

  today := private.organization_today(org);
  issued := coalesce((doc ->> 'issue_date')::date, today);
  if issued < inv.issue_date then
    raise exception 'issue_date % is before the invoice''s issue date %', issued, inv.issue_date
      using errcode = '23514';
  elsif issued > today + 1 then
    raise exception 'issue_date % is in the future', issued
      using errcode = '23514', hint = 'A credit note is dated at most one day ahead.';
  end if;

  perform 'PRAGMA:TABLE: credit_lines (invoice_item_id uuid, position integer, description text, quantity numeric, rate numeric, vat_category text, tax_rate numeric, reason_code text, reason text)';  -- for plpgsql_check
  if to_regclass('pg_temp.credit_lines') is null then
    create temporary table credit_lines (
      invoice_item_id uuid, position integer, description text, quantity numeric, rate numeric,
      vat_category text, tax_rate numeric, reason_code text, reason text
    ) on commit drop;
  end if;
  truncate credit_lines;

  if kind = 'whole' and inv.credit_notes_total = 0 then
    insert into credit_lines
    select it.id, it.position, it.description, it.quantity, it.rate,
           private.effective_vat_category(it.vat_category, it.tax_rate, inv.tax_rate, inv.default_vat_category),
           private.effective_tax_rate(it.vat_category, it.tax_rate, inv.tax_rate),
           it.tax_exemption_reason_code, it.tax_exemption_reason
    from public.invoice_items it where it.invoice_id = inv.id;
    net := inv.subtotal;
    disc := inv.discount;
    tax := inv.tax_amount;
    total := inv.total_amount;
  elsif kind = 'lines' then
    lines := doc -> 'lines';
    if lines is null or jsonb_typeof(lines) <> 'array' or jsonb_array_length(lines) = 0 then
      raise exception 'lines must be a list of {invoice_item_id, quantity}' using errcode = '22023';
    elsif jsonb_array_length(lines) > 200 then
      raise exception 'a credit note has at most 200 lines' using errcode = '22023';
    end if;
    perform private.refuse_unknown_keys(e, array['invoice_item_id', 'quantity'], 'line')
    from jsonb_array_elements(lines) e;
    if exists (select 1 from jsonb_array_elements(lines) e
               where e ->> 'invoice_item_id' is null or e ->> 'quantity' is null) then
      raise exception 'every line needs invoice_item_id and quantity' using errcode = '22023';
    end if;
    if (select count(*) from jsonb_array_elements(lines)) <>
       (select count(distinct e ->> 'invoice_item_id') from jsonb_array_elements(lines) e) then
      raise exception 'an item is listed twice' using errcode = '22023';
    end if;
    select t.ord, t.item into bad
    from (select ord, (e ->> 'invoice_item_id')::uuid as item
          from jsonb_array_elements(lines) with ordinality as x (e, ord)) t
    where not exists (select 1 from public.invoice_items it
                      where it.id = t.item and it.invoice_id = inv.id)
    order by t.ord limit 1;
    if found then
      raise exception 'line %: item % is not an item of invoice %', bad.ord, bad.item, inv.invoice_number
        using errcode = '23503';
    end if;
    select t.ord, t.quantity into bad
    from (select ord, (e ->> 'quantity')::numeric as quantity
          from jsonb_array_elements(lines) with ordinality as x (e, ord)) t
    where t.quantity <= 0 or scale(t.quantity) > 4
    order by t.ord limit 1;
    if found then
      raise exception 'line %: quantity % must be greater than zero with at most 4 decimals', bad.ord, bad.quantity
        using errcode = '22023';
    end if;
    insert into credit_lines
    select it.id, (t.ord - 1)::integer, it.description, t.quantity, it.rate,
           private.effective_vat_category(it.vat_category, it.tax_rate, inv.tax_rate, inv.default_vat_category),
           private.effective_tax_rate(it.vat_category, it.tax_rate, inv.tax_rate),
           it.tax_exemption_reason_code, it.tax_exemption_reason
    from (select ord, (e ->> 'invoice_item_id')::uuid as item, (e ->> 'quantity')::numeric as quantity
          from jsonb_array_elements(lines) with ordinality as x (e, ord)) t
    join public.invoice_items it on it.id = t.item;
    select l.position + 1 as ord, it.description, l.quantity, it.quantity - coalesce(c.credited, 0) as left_over
    into bad
    from credit_lines l
    join public.invoice_items it on it.id = l.invoice_item_id
    left join (select ci.invoice_item_id, sum(ci.quantity) as credited
               from public.credit_note_items ci
               where ci.invoice_item_id in (select invoice_item_id from credit_lines)
               group by ci.invoice_item_id) c on c.invoice_item_id = l.invoice_item_id
    where l.quantity > it.quantity - coalesce(c.credited, 0)
    order by l.position limit 1;
    if found then
      raise exception 'line %: a quantity of % is more than the % of "%" not yet credited',
        bad.ord, bad.quantity, bad.left_over, bad.description
        using errcode = '23514';
    end if;
    select coalesce(sum(private.round_money(l.quantity * l.rate, inv.currency)), 0) into net
    from credit_lines l;
    if inv.discount > 0 and inv.subtotal > 0 then
      disc := private.round_money(inv.discount * net / inv.subtotal, inv.currency);
    end if;
    -- The tax of the lines' groups (each line keeps its invoice line's category and rate).
    select coalesce(sum(b.tax_amount), 0) into tax
    from private.lines_tax_breakdown(
      (select jsonb_agg(jsonb_build_object('c', l.vat_category, 'r', l.tax_rate,
                                           'n', private.round_money(l.quantity * l.rate, inv.currency),
                                           'p', l.position))
       from credit_lines l),
      inv.tax_rate, inv.default_vat_category, private.round_money(disc, inv.currency), inv.currency) b;
    total := net - disc + tax;
    -- The last of every line, and only lines credited before: exactly what is left.
    everything_credited := not exists (
        select 1 from public.invoice_items it
        where it.invoice_id = inv.id
          and it.quantity > coalesce((select sum(ci.quantity) from public.credit_note_items ci
                                      where ci.invoice_item_id = it.id), 0)
                            + coalesce((select l.quantity from credit_lines l
                                        where l.invoice_item_id = it.id), 0))
      and not exists (select 1 from public.credit_notes cn
                      where cn.invoice_id = inv.id and cn.kind <> 'lines');
    if everything_credited and total <> remaining then
      total := remaining;
      tax := greatest(0, remaining - (net - disc));
      net := remaining - tax + disc;
    end if;
  else
    -- 'amount', or 'whole' after earlier credit notes: what is left.
    if kind = 'whole' then
      given := remaining;
    else
      begin
        given := (doc ->> 'amount')::numeric;
      exception when invalid_text_representation then
        raise exception 'amount must be a number' using errcode = '22023';
      end;
      if given is null then
        raise exception 'amount is required for a credit note of kind amount' using errcode = '22023';
      elsif given <= 0 then
        raise exception 'amount must be greater than zero' using errcode = '23514';
      end if;
      given := private.checked_money(given, inv.currency, 'amount');
    end if;
    label := coalesce(nullif(btrim(doc ->> 'description'), ''),
                      case when kind = 'whole' then 'Remaining amount of invoice ' || inv.invoice_number
                           else 'Credit on invoice ' || inv.invoice_number end);
    if length(label) > 2000 then
      raise exception 'description is longer than 2000 characters' using errcode = '22023';
    end if;
    -- The amount over the invoice's tax groups in proportion to their totals
    -- (taxable + tax; the largest last takes the remainder, as the discount's
    -- split), each share's tax = round(share x rate / (100 + rate)): one line a
    -- group, with its category, rate and reason. One group: as before.
    many := (select count(*) from private.invoice_tax_breakdown(org, inv.id)) > 1;
    insert into credit_lines
    select null, (row_number() over (order by s.vat_category, s.tax_rate) - 1)::integer,
           case when many then pg_catalog.format('%s (%s %s%%)', label, s.vat_category, pg_catalog.trim_scale(s.tax_rate))
                else label end,
           1, s.share - private.round_money(s.share * s.tax_rate / (100 + s.tax_rate), inv.currency),
           s.vat_category, s.tax_rate, s.tax_exemption_reason_code, s.tax_exemption_reason
    from (
      select r.*,
             private.round_money(given * r.upto / r.everything, inv.currency)
               - private.round_money(given * (r.upto - r.gross) / r.everything, inv.currency) as share
      from (
        select b.*, b.taxable_amount + b.tax_amount as gross,
               sum(b.taxable_amount + b.tax_amount) over (
                 order by b.taxable_amount + b.tax_amount, b.vat_category desc, b.tax_rate desc
                 rows between unbounded preceding and current row) as upto,
               sum(b.taxable_amount + b.tax_amount) over () as everything
        from private.invoice_tax_breakdown(org, inv.id) b
      ) r
      where r.everything > 0
    ) s
    where s.share > 0;
    if not found then
      insert into credit_lines values (null, 0, label, 1, given - private.round_money(given * inv.tax_rate / (100 + inv.tax_rate), inv.currency),
                                       null, null, null, null);
    end if;
    select coalesce(sum(l.rate), 0) into net from credit_lines l;
    tax := given - net;
    total := given;
  end if;

  if total <= 0 then
    raise exception 'a credit note must credit something: these lines come to 0 %', inv.currency
      using errcode = '23514';
  end if;
  if total > remaining then
    raise exception 'a credit of % % is more than what invoice % has not yet credited (% % of its total % %)',
      total, inv.currency, inv.invoice_number, remaining, inv.currency, inv.total_amount, inv.currency
      using errcode = '23514', constraint = 'invoices_credit_notes_not_above_total',
            hint = pg_catalog.format('A credit note on this invoice can be at most %s %s.', remaining, inv.currency);
  end if;

  -- What would pass the total goes to the client's credit.
  excess := greatest(0, inv.amount_paid + inv.amount_credited + total - inv.total_amount);
  if excess > 0 then
    -- Lock order, steps 2 and 3: the payments, then the credit row.
    perform 1 from public.payments p where p.invoice_id = inv.id order by p.id for update;
    perform private.lock_client_credit(org, inv.client_id, inv.currency);
  end if;

  number := private.next_document_number(org, 'credit_note', issued);
  insert into public.credit_notes
    (organization_id, invoice_id, client_id, currency, credit_note_number, kind, issue_date,
     reason, notes, subtotal, discount, tax_rate, tax_amount, total_amount, credit_amount,
     default_vat_category, buyer_reference, purchase_order_reference)
  values
    (org, inv.id, inv.client_id, inv.currency, number, kind, issued,
     nullif(btrim(doc ->> 'reason'), ''), nullif(btrim(doc ->> 'notes'), ''),
     net, private.round_money(disc, inv.currency), inv.tax_rate, tax, total,
     private.round_money(excess, inv.currency), inv.default_vat_category, inv.buyer_reference,
     inv.purchase_order_reference)
  returning id into new_id;
  insert into public.credit_note_items
    (organization_id, credit_note_id, currency, invoice_item_id, position, description, quantity, rate,
     vat_category, tax_rate, tax_exemption_reason_code, tax_exemption_reason)
  select org, new_id, inv.currency, l.invoice_item_id, l.position, l.description, l.quantity, l.rate,
         l.vat_category, l.tax_rate, l.reason_code, l.reason
  from credit_lines l
  order by l.position;

  -- The invoice first (its amount_paid as it will be), then the payments, whose
  -- own refresh then finds nothing to change: the invoice passes through no
  -- state in between (a paid invoice keeps its paid_at).
  from_payments := 0;
  if excess > 0 then
    from_payments := excess - least(excess, inv.credit_applied);
  end if;
  update public.invoices i
  set amount_paid = i.amount_paid - from_payments,
      credit_applied = i.credit_applied - least(excess, inv.credit_applied),
      credit_notes_total = i.credit_notes_total + total,
      amount_credited = i.credit_notes_total + total + i.credit_applied - least(excess, inv.credit_applied)
  where i.id = inv.id;
  if excess > 0 then
    perform private.release_to_credit(inv, excess);
    perform private.post_client_credit(org, inv.client_id, inv.currency, 'credit_note', excess,
                                       credit_note_id => new_id);
  end if;

  insert into public.client_activities (organization_id, client_id, created_by, activity, type, metadata)
  values (org, inv.client_id, auth.uid(),
          pg_catalog.format('Credit note %s of %s %s issued for invoice %s', number, total, inv.currency,
                            inv.invoice_number),
          'other',
          jsonb_build_object('credit_note_id', new_id, 'invoice_id', inv.id, 'amount', total,
                             'currency', inv.currency, 'to_client_credit', excess));

  return private.credit_note_document(new_id);
end;
$$;


-- =============================================================================
-- Grants
-- =============================================================================

grant insert (default_vat_category, buyer_reference, purchase_order_reference),
      update (default_vat_category, buyer_reference, purchase_order_reference)
  on public.invoices, public.quotes, public.recurring_profiles to authenticated;

grant insert (vat_category, tax_rate, tax_exemption_reason_code, tax_exemption_reason),
      update (vat_category, tax_rate, tax_exemption_reason_code, tax_exemption_reason)
  on public.invoice_items, public.quote_items, public.recurring_profile_items to authenticated;

revoke execute on function
  private.effective_tax_rate(text, numeric, numeric),
  private.effective_vat_category(text, numeric, numeric, text),
  private.line_tax_problem(text, numeric, text, text),
  private.tax_breakdown_json_of(jsonb, numeric, text, numeric, text),
  private.tax_breakdown_of(jsonb, numeric, text, numeric, text),
  private.document_tax_amount(jsonb, numeric, numeric, text, numeric, text),
  private.breakdown_tax(jsonb, text),
  private.document_breakdown(jsonb, numeric, numeric, text, numeric, text),
  private.refuse_bad_line_tax(jsonb, text),
  private.refuse_standard_lines_without_rate(text[], numeric[], numeric, text),
  private.lines_tax_breakdown(jsonb, numeric, text, numeric, text),
  private.invoice_tax_breakdown(uuid, uuid),
  private.quote_tax_breakdown(uuid, uuid),
  private.credit_note_tax_breakdown(uuid, uuid),
  private.tax_breakdown_json(text, uuid, uuid)
  from public, anon;

grant execute on function
  private.effective_tax_rate(text, numeric, numeric),
  private.effective_vat_category(text, numeric, numeric, text),
  private.line_tax_problem(text, numeric, text, text),
  private.tax_breakdown_json_of(jsonb, numeric, text, numeric, text),
  private.tax_breakdown_of(jsonb, numeric, text, numeric, text),
  private.document_tax_amount(jsonb, numeric, numeric, text, numeric, text),
  private.breakdown_tax(jsonb, text),
  private.document_breakdown(jsonb, numeric, numeric, text, numeric, text),
  private.refuse_bad_line_tax(jsonb, text),
  private.refuse_standard_lines_without_rate(text[], numeric[], numeric, text),
  private.lines_tax_breakdown(jsonb, numeric, text, numeric, text),
  private.invoice_tax_breakdown(uuid, uuid),
  private.quote_tax_breakdown(uuid, uuid),
  private.credit_note_tax_breakdown(uuid, uuid),
  private.tax_breakdown_json(text, uuid, uuid)
  to authenticated, service_role;

-- =============================================================================
-- Reports: a recurring profile's cycle with its lines' groups
-- =============================================================================

-- A recurring profile's amount per cycle: its items' amounts less the discount,
-- plus tax on the rest, rounded as an invoice issued from it would be.
-- Per month: every N months / N; every N weeks * 52 / 12 / N; every N days
-- * 365 / 12 / N (so quarterly = / 3, annually = / 12, weekly = * 4.333...).
-- Active profiles only (a paused profile issues nothing; an ended one never
-- again). Security invoker: the caller's RLS decides what it sees.
--
-- The lifecycle reports migration's MRR, each profile's tax by its lines' groups
-- (private.document_tax_amount) instead of the profile's one rate.
create or replace function private.recurring_mrr(organization_id uuid)
returns table (currency text, mrr numeric, profiles bigint)
language sql
stable
set search_path = ''
as $$
  -- The items summed per profile and per stored (category, rate) in one pass over
  -- the organization's items (a lateral sum per profile cost ~35 us a profile under RLS).
  with lines as (
    select it.profile_id, it.vat_category, it.tax_rate, sum(it.amount) as net
    from public.recurring_profile_items it
    where it.organization_id = recurring_mrr.organization_id
    group by it.profile_id, it.vat_category, it.tax_rate
  ),
  subtotals as (
    select l.profile_id, sum(l.net) as subtotal,
           jsonb_agg(jsonb_build_object('c', l.vat_category, 'r', l.tax_rate, 'n', l.net)) as groups
    from lines l
    group by l.profile_id
  ),
  cycles as (
    select p.currency, p.interval_unit, p.interval_count,
           greatest(coalesce(t.subtotal, 0) - p.discount, 0) as taxable,
           private.document_tax_amount(t.groups, coalesce(t.subtotal, 0), p.tax_rate, p.default_vat_category,
                                       least(p.discount, coalesce(t.subtotal, 0)), p.currency) as tax
    from public.recurring_profiles p
    left join subtotals t on t.profile_id = p.id
    where p.organization_id = recurring_mrr.organization_id and p.status = 'active'
  )
  select c.currency,
         private.round_money(sum(
           (c.taxable + c.tax)
           * case c.interval_unit
               when 'month' then 1.0 / c.interval_count
               when 'week' then 52.0 / 12 / c.interval_count
               else 365.0 / 12 / c.interval_count
             end), c.currency),
         count(*)
  from cycles c
  group by c.currency
$$;
comment on function private.recurring_mrr(uuid) is
  'Monthly recurring revenue of the active recurring profiles, per currency (docs/api.md).';
grant execute on function private.recurring_mrr(uuid) to authenticated, service_role;
revoke execute on function private.recurring_mrr(uuid) from public;
