-- Documents' payment instructions, sealed at rest (issues 17 and 19).
--
-- The parties migration (20261206170200) sealed organization_settings'
-- default_payment_instructions; the document writers copied the clear default, so new
-- documents got none and printed the organization's CURRENT default: an issued invoice
-- changed with the settings. Now:
--   * invoices, quotes, credit_notes and recurring_profiles have
--     payment_instructions_sealed (an envelope, shared/envelope.py, context
--     "payment_instructions:<org id>", the settings' context, so a seal copies as it is);
--     never both the clear and the sealed form on a row;
--   * without instructions of its own, a new invoice, quote or recurring profile copies
--     the settings' sealed default; quote -> invoice, profile -> invoice and
--     invoice -> credit note copy the document's seal;
--   * the API sends instructions sealed (payment_instructions_sealed); from the API roles
--     a clear value is refused (only null, which clears both forms); the seal job
--     (functions/jobs/seal_fields.py) seals the clear values written before;
--   * the audit log redacts documents' clear payment_instructions.
-- Documents with neither form (written before the settings' seal) still print the
-- organization's default (shared/parties.py).

alter table public.invoices
  add column payment_instructions_sealed jsonb
    constraint invoices_payment_instructions_sealed_shape
      check (private.is_envelope(payment_instructions_sealed)),
  add constraint invoices_payment_instructions_sealed_or_clear
    check (payment_instructions is null or payment_instructions_sealed is null);
alter table public.quotes
  add column payment_instructions_sealed jsonb
    constraint quotes_payment_instructions_sealed_shape
      check (private.is_envelope(payment_instructions_sealed));
alter table public.credit_notes
  add column payment_instructions_sealed jsonb
    constraint credit_notes_payment_instructions_sealed_shape
      check (private.is_envelope(payment_instructions_sealed));
alter table public.recurring_profiles
  add column payment_instructions_sealed jsonb
    constraint recurring_profiles_payment_instructions_sealed_shape
      check (private.is_envelope(payment_instructions_sealed)),
  add constraint recurring_profiles_payment_instructions_sealed_or_clear
    check (payment_instructions is null or payment_instructions_sealed is null);

comment on column public.invoices.payment_instructions_sealed is
  'The invoice''s payment instructions, sealed (context payment_instructions:<org id>); copied from the settings'' default, the quote or the recurring profile when the request names none.';
comment on column public.quotes.payment_instructions_sealed is
  'The settings'' default payment instructions when the quote was made, sealed (context payment_instructions:<org id>); its invoice keeps them.';
comment on column public.credit_notes.payment_instructions_sealed is
  'The credited invoice''s payment instructions (else the settings'' default), sealed (context payment_instructions:<org id>).';
comment on column public.recurring_profiles.payment_instructions_sealed is
  'The payment instructions of the profile''s invoices, sealed (context payment_instructions:<org id>).';

grant insert (payment_instructions_sealed), update (payment_instructions_sealed)
  on public.invoices, public.recurring_profiles to authenticated;


-- Invoices and recurring profiles: a clear value from the API roles is refused (the API
-- seals it first); a seal written empties the clear column; an invoice issued from a
-- profile without its own copies the profile's seal (private.issue_recurring_periods
-- copies the clear column only).
create or replace function private.document_payment_instructions()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.payment_instructions := nullif(pg_catalog.btrim(new.payment_instructions), '');
  if new.payment_instructions is not null
     and current_user in ('anon', 'authenticated')
     and (tg_op = 'INSERT' or new.payment_instructions is distinct from old.payment_instructions) then
    raise exception 'payment_instructions is stored sealed: send payment_instructions_sealed (the API seals it)'
      using errcode = '22023';
  end if;
  if new.payment_instructions_sealed is not null
     and (tg_op = 'INSERT' or new.payment_instructions_sealed is distinct from old.payment_instructions_sealed) then
    new.payment_instructions := null;
  end if;
  if tg_op = 'INSERT' and tg_table_name = 'invoices'
     and new.payment_instructions is null and new.payment_instructions_sealed is null then
    -- (a separate IF: recurring_profiles rows have no recurring_profile_id)
    if new.recurring_profile_id is not null then
      select p.payment_instructions_sealed into new.payment_instructions_sealed
      from public.recurring_profiles p
      where p.id = new.recurring_profile_id and p.organization_id = new.organization_id;
    end if;
  end if;
  return new;
end;
$$;
revoke execute on function private.document_payment_instructions() from public;

create trigger invoices_payment_instructions
  before insert or update of payment_instructions, payment_instructions_sealed on public.invoices
  for each row execute function private.document_payment_instructions();
create trigger recurring_profiles_payment_instructions
  before insert or update of payment_instructions, payment_instructions_sealed on public.recurring_profiles
  for each row execute function private.document_payment_instructions();


-- Quotes (no instructions in their API) copy the settings' sealed default when made; a
-- credit note copies its invoice's seal, else the settings' default.
create or replace function private.copy_payment_instructions()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.payment_instructions_sealed is null then
    if tg_table_name = 'credit_notes' then
      select i.payment_instructions_sealed into new.payment_instructions_sealed
      from public.invoices i
      where i.id = new.invoice_id and i.organization_id = new.organization_id;
    end if;
    if new.payment_instructions_sealed is null then
      select s.default_payment_instructions_sealed into new.payment_instructions_sealed
      from public.organization_settings s
      where s.organization_id = new.organization_id;
    end if;
  end if;
  return new;
end;
$$;
revoke execute on function private.copy_payment_instructions() from public;

create trigger quotes_copy_payment_instructions
  before insert on public.quotes
  for each row execute function private.copy_payment_instructions();
create trigger credit_notes_copy_payment_instructions
  before insert on public.credit_notes
  for each row execute function private.copy_payment_instructions();

-- The numbering migration's create_invoice, with the tax model's fields:
-- default_vat_category, buyer_reference (default: the client's, parties
-- migration), purchase_order_reference; the lines' tax fields.
--
-- The tax model's create_invoice: instructions the request names arrive sealed
-- (payment_instructions_sealed; a clear payment_instructions only as null, which clears
-- them); without either, the organization's sealed default is copied.
create or replace function public.create_invoice(organization_id uuid, invoice jsonb, items jsonb)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := create_invoice.organization_id;
  doc jsonb := coalesce(create_invoice.invoice, '{}'::jsonb);
  defaults record;
  given_client uuid;
  given_number text;
  issued date;
  due date;
  terms_given text;
  wanted_status text;
  wanted_discount numeric;
  new_id uuid;
  new_rate numeric;
  client_reference text;
begin
  perform private.require_role(org, 'member', 'your role may not create invoices in this organization');
  perform private.refuse_unknown_keys(doc, array[
    'client_id', 'invoice_number', 'issue_date', 'due_date', 'payment_terms', 'status', 'tax_rate',
    'discount', 'notes', 'terms', 'payment_instructions', 'template', 'default_vat_category',
    'buyer_reference', 'purchase_order_reference', 'payment_instructions_sealed'], 'invoice');
  if doc ? 'payment_instructions_sealed'
     and not private.is_envelope(nullif(doc -> 'payment_instructions_sealed', 'null'::jsonb)) then
    raise exception '%.payment_instructions_sealed must be an envelope {v, kid, dk, n, c} or null', 'invoice'
      using errcode = '22023';
  end if;
  if items is null or jsonb_typeof(items) <> 'array' or jsonb_array_length(items) = 0 then
    raise exception 'an invoice needs at least one item' using errcode = '22023';
  end if;

  given_client := (doc ->> 'client_id')::uuid;
  if given_client is null then
    raise exception 'client_id is required' using errcode = '23502';
  end if;
  -- The client's buyer reference (BT-10) is the invoice's default.
  select c.buyer_reference into client_reference
  from public.clients c
  where c.id = given_client and c.organization_id = org;
  if not found then
    raise exception 'client % is not a client of this organization', given_client
      using errcode = '23503';
  end if;

  given_number := nullif(btrim(doc ->> 'invoice_number'), '');
  if given_number is not null and exists (
       select 1 from public.invoices i
       where i.organization_id = org and i.invoice_number = given_number) then
    raise exception 'invoice number % is already used in this organization', given_number
      using errcode = '23505', constraint = 'invoices_invoice_number_unique_in_organization';
  end if;

  wanted_status := coalesce(doc ->> 'status', 'draft');
  if wanted_status not in ('draft', 'sent') then
    raise exception 'a new invoice is a draft or sent, not %', wanted_status
      using errcode = '23514', hint = 'Payments make an invoice paid; the daily job marks it overdue.';
  end if;

  select s.default_payment_terms, s.default_tax_rate, s.default_template, s.default_notes,
         s.default_terms, s.default_payment_instructions_sealed
  into defaults
  from public.organization_settings s
  where s.organization_id = org;

  issued := coalesce((doc ->> 'issue_date')::date, private.organization_today(org));
  due := (doc ->> 'due_date')::date;
  terms_given := doc ->> 'payment_terms';
  if terms_given is null then
    terms_given := coalesce(defaults.default_payment_terms, 'net30');
    if due is not null and due <> issued + private.payment_terms_days(terms_given) then
      terms_given := 'custom';
    end if;
  end if;
  if due is null and terms_given = 'custom' then
    raise exception 'custom payment terms need a due_date' using errcode = '23514';
  end if;
  due := coalesce(due, issued + private.payment_terms_days(terms_given));
  if due < issued then
    raise exception 'the due date (%) is before the issue date (%)', due, issued
      using errcode = '23514', constraint = 'invoices_due_date_not_before_issue_date';
  end if;

  insert into public.invoices (
    organization_id, client_id, invoice_number, issue_date, due_date, payment_terms, tax_rate,
    notes, terms, payment_instructions, payment_instructions_sealed, template, default_vat_category,
    buyer_reference, purchase_order_reference
  ) values (
    org, given_client, given_number, issued, due, terms_given,
    coalesce((doc ->> 'tax_rate')::numeric, defaults.default_tax_rate, 0),
    case when doc ? 'notes' then doc ->> 'notes' else defaults.default_notes end,
    case when doc ? 'terms' then doc ->> 'terms' else defaults.default_terms end,
    case when doc ? 'payment_instructions_sealed' then null
         else nullif(doc ->> 'payment_instructions', '') end,
    case when doc ? 'payment_instructions_sealed' then nullif(doc -> 'payment_instructions_sealed', 'null'::jsonb)
         when doc ? 'payment_instructions' then null
         else defaults.default_payment_instructions_sealed end,
    coalesce(doc ->> 'template', defaults.default_template, 'professional'),
    nullif(btrim(doc ->> 'default_vat_category'), ''),
    case when doc ? 'buyer_reference' then nullif(btrim(doc ->> 'buyer_reference'), '')
         else nullif(btrim(client_reference), '') end,
    nullif(btrim(doc ->> 'purchase_order_reference'), '')
  )
  returning id, tax_rate into new_id, new_rate;

  -- Items first: the discount may not exceed the subtotal they make.
  perform private.apply_invoice_items(new_id, items, 'replace');
  if new_rate = 0 then
    perform private.refuse_standard_lines_without_rate(
    array(select it.vat_category from public.invoice_items it where it.invoice_id = new_id order by it.position),
    array(select it.tax_rate from public.invoice_items it where it.invoice_id = new_id order by it.position),
    new_rate, 'invoice');
  end if;

  wanted_discount := coalesce((doc ->> 'discount')::numeric, 0);
  if wanted_discount <> 0 or wanted_status <> 'draft' then
    update public.invoices i
    set discount = wanted_discount, status = wanted_status
    where i.id = new_id;
  end if;

  return private.invoice_document(new_id);
end;
$$;

-- Changes the fields present in `changes` (null clears notes, terms and
-- payment_instructions; the other fields cannot be null) and, when `items` is
-- given, the items (see private.apply_invoice_items for the two modes), under
-- the rules of the invoice's status (see the head of this file). Changing the
-- issue date or the terms moves the due date with them unless a due date is
-- given or the terms are 'custom'; a due date given without terms makes them
-- 'custom' unless the terms give that date. The client of a draft may change:
-- its currency then becomes the invoice's. An open invoice's status follows a
-- changed due date (overdue when past, sent when not).
--
-- The lifecycle reports migration's update_invoice, with the tax model's fields
-- (default_vat_category is frozen by payments as the tax rate is; the references
-- change while the invoice is open, as its notes do).
--
-- The tax model's update_invoice, with payment_instructions_sealed (a seal written
-- empties the clear column; a clear null clears both).
create or replace function public.update_invoice(
  organization_id uuid,
  invoice_id uuid,
  changes jsonb,
  items jsonb default null,
  items_mode text default 'replace'
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := update_invoice.organization_id;
  target uuid := update_invoice.invoice_id;
  doc jsonb := coalesce(update_invoice.changes, '{}'::jsonb);
  cur public.invoices;
  nxt public.invoices;
  paid_something boolean;
  changed text[];
  wanted_status text;
  final_status text;
  items_before jsonb;
begin
  perform private.require_role(org, 'member', 'your role may not change invoices in this organization');
  perform private.refuse_unknown_keys(doc, array[
    'client_id', 'invoice_number', 'issue_date', 'due_date', 'payment_terms', 'status', 'tax_rate',
    'discount', 'notes', 'terms', 'payment_instructions', 'template', 'default_vat_category',
    'buyer_reference', 'purchase_order_reference', 'payment_instructions_sealed'], 'changes');
  if doc ? 'payment_instructions_sealed'
     and not private.is_envelope(nullif(doc -> 'payment_instructions_sealed', 'null'::jsonb)) then
    raise exception '%.payment_instructions_sealed must be an envelope {v, kid, dk, n, c} or null', 'changes'
      using errcode = '22023';
  end if;

  select * into cur
  from public.invoices i
  where i.id = target and i.organization_id = org
  for no key update;
  if not found then
    raise exception 'invoice not found' using errcode = 'P0002';
  end if;
  paid_something := exists (select 1 from public.payments p where p.invoice_id = target);

  nxt := cur;
  if doc ? 'client_id' then
    nxt.client_id := (doc ->> 'client_id')::uuid;
  end if;
  if doc ? 'invoice_number' then
    nxt.invoice_number := btrim(doc ->> 'invoice_number');
    if nxt.invoice_number = '' then
      raise exception 'invoice_number cannot be empty' using errcode = '22023';
    end if;
  end if;
  if doc ? 'issue_date' then
    nxt.issue_date := (doc ->> 'issue_date')::date;
  end if;
  if doc ? 'payment_terms' then
    nxt.payment_terms := doc ->> 'payment_terms';
  end if;
  if doc ? 'due_date' then
    nxt.due_date := (doc ->> 'due_date')::date;
    if not doc ? 'payment_terms' and nxt.due_date is distinct from
         nxt.issue_date + private.payment_terms_days(nxt.payment_terms) then
      nxt.payment_terms := 'custom';
    end if;
  elsif (doc ? 'issue_date' or doc ? 'payment_terms') and nxt.payment_terms <> 'custom' then
    nxt.due_date := nxt.issue_date + private.payment_terms_days(nxt.payment_terms);
  end if;
  if doc ? 'tax_rate' then
    nxt.tax_rate := (doc ->> 'tax_rate')::numeric;
  end if;
  if doc ? 'discount' then
    nxt.discount := (doc ->> 'discount')::numeric;
  end if;
  if doc ? 'notes' then
    nxt.notes := doc ->> 'notes';
  end if;
  if doc ? 'terms' then
    nxt.terms := doc ->> 'terms';
  end if;
  if doc ? 'payment_instructions' then
    nxt.payment_instructions := nullif(doc ->> 'payment_instructions', '');
    nxt.payment_instructions_sealed := null;
  end if;
  if doc ? 'payment_instructions_sealed' then
    nxt.payment_instructions_sealed := nullif(doc -> 'payment_instructions_sealed', 'null'::jsonb);
    nxt.payment_instructions := null;
  end if;
  if doc ? 'template' then
    nxt.template := doc ->> 'template';
  end if;
  if doc ? 'default_vat_category' then
    nxt.default_vat_category := nullif(btrim(doc ->> 'default_vat_category'), '');
  end if;
  if doc ? 'buyer_reference' then
    nxt.buyer_reference := nullif(btrim(doc ->> 'buyer_reference'), '');
  end if;
  if doc ? 'purchase_order_reference' then
    nxt.purchase_order_reference := nullif(btrim(doc ->> 'purchase_order_reference'), '');
  end if;

  changed := private.invoice_changed_fields(cur, nxt);

  -- The status asked for. Paid follows payments and overdue the due date; a
  -- sent or overdue invoice asked to be "sent" or "overdue" stays open.
  wanted_status := coalesce(doc ->> 'status', cur.status);
  final_status := cur.status;
  if wanted_status <> cur.status then
    if wanted_status = 'cancelled' then
      if cur.status = 'paid' then
        raise exception 'invoice % is paid and cannot be cancelled', cur.invoice_number
          using errcode = '23514', hint = 'Issue a credit note for the whole invoice: it cancels the invoice and keeps what was paid as the client''s credit.';
      elsif paid_something then
        raise exception 'invoice % has payments and cannot be cancelled', cur.invoice_number
          using errcode = '23514', hint = 'Issue a credit note for the whole invoice: it cancels the invoice and keeps what was paid as the client''s credit.';
      end if;
      final_status := 'cancelled';
    elsif wanted_status = 'sent' and cur.status = 'draft' then
      final_status := 'sent';
    elsif wanted_status in ('sent', 'overdue') and cur.status in ('sent', 'overdue') then
      final_status := cur.status;
    elsif wanted_status = 'paid' then
      raise exception 'an invoice becomes paid when its payments cover the total'
        using errcode = '23514', hint = 'Record a payment for the balance.';
    elsif wanted_status = 'draft' then
      raise exception 'invoice % cannot go back to draft once it has left it', cur.invoice_number
        using errcode = '23514', hint = 'Cancel it and create a new one.';
    elsif wanted_status = 'overdue' and cur.status = 'draft' then
      raise exception 'a draft cannot be overdue; send it first' using errcode = '23514';
    elsif wanted_status in ('draft', 'sent', 'paid', 'overdue', 'cancelled') then
      raise exception 'a % invoice cannot become %', cur.status, wanted_status using errcode = '23514';
    else
      raise exception 'unknown status %', wanted_status using errcode = '22023';
    end if;
  end if;
  if final_status in ('sent', 'overdue') and cur.status in ('sent', 'overdue')
     and 'due_date' = any (changed) then
    final_status := case when nxt.due_date < private.organization_today(org) then 'overdue' else 'sent' end;
  end if;

  -- What may change, by status: the rule the table's trigger holds for every write
  -- (private.refuse_change_by_status), asked here first so that it answers before
  -- the checks below, with the discount among what payments freeze.
  perform private.refuse_change_by_status(cur, changed, paid_something,
                                          array['tax_rate', 'discount', 'default_vat_category']);

  if nxt.due_date < nxt.issue_date then
    raise exception 'the due date (%) is before the issue date (%)', nxt.due_date, nxt.issue_date
      using errcode = '23514', constraint = 'invoices_due_date_not_before_issue_date';
  end if;
  if 'client_id' = any (changed) then
    select c.currency into nxt.currency
    from public.clients c
    where c.id = nxt.client_id and c.organization_id = org;
    if not found then
      raise exception 'client % is not a client of this organization', nxt.client_id
        using errcode = '23503';
    end if;
  end if;
  if 'invoice_number' = any (changed) and exists (
       select 1 from public.invoices i
       where i.organization_id = org and i.invoice_number = nxt.invoice_number and i.id <> target) then
    raise exception 'invoice number % is already used in this organization', nxt.invoice_number
      using errcode = '23505', constraint = 'invoices_invoice_number_unique_in_organization';
  end if;

  -- 1. The fields, with the discount out of the way while the items change.
  if cardinality(changed) > 0 or (items is not null and cur.discount <> 0
                                  and cur.status not in ('paid', 'cancelled')) then
    update public.invoices i
    set client_id = nxt.client_id,
        currency = nxt.currency,
        invoice_number = nxt.invoice_number,
        issue_date = nxt.issue_date,
        due_date = nxt.due_date,
        payment_terms = nxt.payment_terms,
        tax_rate = nxt.tax_rate,
        discount = case when items is not null and cur.status not in ('paid', 'cancelled')
                        then 0 else nxt.discount end,
        notes = nxt.notes,
        terms = nxt.terms,
        payment_instructions = nxt.payment_instructions,
        payment_instructions_sealed = nxt.payment_instructions_sealed,
        template = nxt.template,
        default_vat_category = nxt.default_vat_category,
        buyer_reference = nxt.buyer_reference,
        purchase_order_reference = nxt.purchase_order_reference
    where i.id = target;
  end if;

  -- 2. The items.
  if items is not null then
    items_before := private.invoice_items_content(target);
    perform private.apply_invoice_items(target, items, coalesce(items_mode, 'replace'));
    if cur.status in ('sent', 'overdue') and paid_something
       and private.invoice_items_content(target) is distinct from items_before then
      raise exception 'invoice % has payments: its items can no longer change', cur.invoice_number
        using errcode = '23514', hint = 'Delete its payments first.';
    end if;
  end if;

  if nxt.tax_rate = 0 and (items is not null or 'tax_rate' = any (changed)) then
    perform private.refuse_standard_lines_without_rate(
      array(select it.vat_category from public.invoice_items it where it.invoice_id = target order by it.position),
      array(select it.tax_rate from public.invoice_items it where it.invoice_id = target order by it.position),
      nxt.tax_rate, 'invoice');
  end if;

  -- 3. The discount on the new subtotal, then the status.
  update public.invoices i
  set discount = nxt.discount, status = final_status
  where i.id = target
    and (i.discount, i.status) is distinct from (nxt.discount, final_status);

  return private.invoice_document(target);
end;
$$;
grant execute on function public.update_invoice(uuid, uuid, jsonb, jsonb, text) to authenticated;
revoke execute on function
  public.update_invoice(uuid, uuid, jsonb, jsonb, text)
  from anon, service_role;
grant execute on function public.update_invoice(uuid, uuid, jsonb, jsonb, text) to authenticated;
revoke execute on function public.update_invoice(uuid, uuid, jsonb, jsonb, text) from public;

-- The tax model's invoice_changed_fields: the instructions changed when either form did.
create or replace function private.invoice_changed_fields(before public.invoices, after public.invoices)
returns text[]
language sql
immutable
set search_path = ''
as $$
  select array_remove(array[
    case when after.client_id is distinct from before.client_id then 'client_id' end,
    case when after.invoice_number is distinct from before.invoice_number then 'invoice_number' end,
    case when after.issue_date is distinct from before.issue_date then 'issue_date' end,
    case when after.due_date is distinct from before.due_date then 'due_date' end,
    case when after.payment_terms is distinct from before.payment_terms then 'payment_terms' end,
    case when after.tax_rate is distinct from before.tax_rate then 'tax_rate' end,
    case when after.discount is distinct from before.discount then 'discount' end,
    case when after.notes is distinct from before.notes then 'notes' end,
    case when after.terms is distinct from before.terms then 'terms' end,
    case when after.payment_instructions is distinct from before.payment_instructions
           or after.payment_instructions_sealed is distinct from before.payment_instructions_sealed
         then 'payment_instructions' end,
    case when after.template is distinct from before.template then 'template' end,
    case when after.default_vat_category is distinct from before.default_vat_category
         then 'default_vat_category' end,
    case when after.buyer_reference is distinct from before.buyer_reference then 'buyer_reference' end,
    case when after.purchase_order_reference is distinct from before.purchase_order_reference
         then 'purchase_order_reference' end
  ], null)
$$;

-- The tax model's convert_quote: the invoice keeps the quote's sealed instructions.
create or replace function public.convert_quote(organization_id uuid, quote_id uuid)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := convert_quote.organization_id;
  cur public.quotes;
  made jsonb;
  invoice_doc jsonb;
  items jsonb;
begin
  perform private.require_role(org, 'member', 'your role may not convert quotes in this organization');
  -- The quote's lock serializes conversions: a second one waits here, then reads
  -- the quote as the first left it.
  select * into cur from public.quotes q
  where q.id = convert_quote.quote_id and q.organization_id = org
  for update;
  if not found then
    raise exception 'quote not found' using errcode = 'P0002';
  end if;
  if cur.status = 'converted' then
    raise exception 'quote % was already converted into invoice %', cur.quote_number,
      (select i.invoice_number from public.invoices i where i.id = cur.invoice_id)
      using errcode = '23505', constraint = 'invoices_quote_id_unique_idx',
            hint = 'Open the invoice it was converted into.';
  elsif cur.status <> 'accepted' then
    raise exception 'only an accepted quote can be converted into an invoice; quote % is %',
      cur.quote_number, cur.status
      using errcode = '23514',
            hint = case cur.status when 'sent' then 'Record the client''s acceptance first.'
                                   when 'draft' then 'Send it and record the client''s acceptance first.'
                                   else 'Create a new quote.' end;
  end if;

  select jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
           'description', it.description, 'quantity', it.quantity, 'rate', it.rate,
           'vat_category', it.vat_category, 'tax_rate', it.tax_rate,
           'tax_exemption_reason_code', it.tax_exemption_reason_code,
           'tax_exemption_reason', it.tax_exemption_reason)) order by it.position, it.created_at, it.id)
  into items
  from public.quote_items it
  where it.quote_id = cur.id;

  made := public.create_invoice(
    org,
    jsonb_strip_nulls(jsonb_build_object(
      'client_id', cur.client_id,
      'issue_date', private.organization_today(org),
      'tax_rate', cur.tax_rate,
      'discount', cur.discount,
      'notes', cur.notes,
      'terms', cur.terms,
      'template', cur.template,
      'default_vat_category', cur.default_vat_category,
      'buyer_reference', cur.buyer_reference,
      'purchase_order_reference', cur.purchase_order_reference,
      'payment_instructions_sealed', cur.payment_instructions_sealed)),
    items);
  perform private.link_quote_and_invoice(org, cur.id, (made ->> 'id')::uuid);
  invoice_doc := private.invoice_document((made ->> 'id')::uuid);
  return jsonb_build_object('quote', private.quote_document(cur.id), 'invoice', invoice_doc);
end;
$$;

-- The tax model's recurring template: payment_instructions_sealed as on invoices.
create or replace function private.apply_recurring_template(p public.recurring_profiles, doc jsonb)
returns public.recurring_profiles
language plpgsql
stable
set search_path = ''
as $$
begin
  if doc ? 'name' then
    p.name := nullif(pg_catalog.btrim(doc ->> 'name'), '');
  end if;
  if doc ? 'payment_terms' then
    p.payment_terms := doc ->> 'payment_terms';
    if p.payment_terms is null then
      raise exception 'payment_terms cannot be null' using errcode = '22023';
    end if;
    if p.payment_terms <> 'custom' and not doc ? 'due_days' then
      p.due_days := null;
    end if;
  end if;
  if doc ? 'due_days' then
    p.due_days := (doc ->> 'due_days')::integer;
    if p.due_days is not null and not doc ? 'payment_terms' then
      p.payment_terms := 'custom';
    end if;
  end if;
  if p.payment_terms = 'custom' and p.due_days is null then
    raise exception 'due_days: custom payment terms need due_days (0 to 365)' using errcode = '22023';
  end if;
  if p.payment_terms <> 'custom' and p.due_days is not null then
    raise exception 'due_days is for custom payment terms (payment_terms is %)', p.payment_terms
      using errcode = '22023';
  end if;
  if doc ? 'tax_rate' then
    p.tax_rate := coalesce((doc ->> 'tax_rate')::numeric, 0);
  end if;
  if doc ? 'discount' then
    p.discount := private.checked_money(coalesce((doc ->> 'discount')::numeric, 0), p.currency, 'discount');
  end if;
  if doc ? 'notes' then
    p.notes := doc ->> 'notes';
  end if;
  if doc ? 'terms' then
    p.terms := doc ->> 'terms';
  end if;
  if doc ? 'payment_instructions' then
    p.payment_instructions := nullif(doc ->> 'payment_instructions', '');
    p.payment_instructions_sealed := null;
  end if;
  if doc ? 'payment_instructions_sealed' then
    if not private.is_envelope(nullif(doc -> 'payment_instructions_sealed', 'null'::jsonb)) then
      raise exception 'payment_instructions_sealed must be an envelope {v, kid, dk, n, c} or null'
        using errcode = '22023';
    end if;
    p.payment_instructions_sealed := nullif(doc -> 'payment_instructions_sealed', 'null'::jsonb);
    p.payment_instructions := null;
  end if;
  if doc ? 'template' then
    p.template := coalesce(doc ->> 'template', 'professional');
  end if;
  if doc ? 'default_vat_category' then
    p.default_vat_category := nullif(pg_catalog.btrim(doc ->> 'default_vat_category'), '');
  end if;
  if doc ? 'buyer_reference' then
    p.buyer_reference := nullif(pg_catalog.btrim(doc ->> 'buyer_reference'), '');
  end if;
  if doc ? 'purchase_order_reference' then
    p.purchase_order_reference := nullif(pg_catalog.btrim(doc ->> 'purchase_order_reference'), '');
  end if;
  if doc ? 'auto_send' then
    p.auto_send := coalesce((doc ->> 'auto_send')::boolean, false);
  end if;
  return p;
end;
$$;

-- The tax model's create_recurring_profile: the organization's sealed default.
create or replace function public.create_recurring_profile(
  organization_id uuid, profile jsonb, items jsonb
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := create_recurring_profile.organization_id;
  doc jsonb := coalesce(create_recurring_profile.profile, '{}'::jsonb);
  p public.recurring_profiles;
  cl record;
  defaults record;
begin
  perform private.require_role(org, 'member', 'your role may not create recurring profiles in this organization');
  perform private.refuse_unknown_keys(doc, array[
    'client_id', 'name', 'frequency', 'interval_unit', 'interval_count', 'billing_day', 'start_date',
    'end_date', 'max_cycles', 'payment_terms', 'due_days', 'tax_rate', 'discount', 'notes', 'terms',
    'payment_instructions', 'template', 'auto_send', 'default_vat_category', 'buyer_reference',
    'purchase_order_reference', 'payment_instructions_sealed'], 'profile');
  if doc ->> 'client_id' is null then
    raise exception 'client_id is required' using errcode = '23502';
  end if;
  select c.id, c.currency, c.billing_frequency into cl
  from public.clients c
  where c.id = (doc ->> 'client_id')::uuid and c.organization_id = org;
  if not found then
    raise exception 'client_id: client % is not a client of this organization', doc ->> 'client_id'
      using errcode = '23503';
  end if;
  select s.default_payment_terms, s.default_tax_rate, s.default_template, s.default_notes,
         s.default_terms, s.default_payment_instructions_sealed
  into defaults
  from public.organization_settings s
  where s.organization_id = org;

  p.id := gen_random_uuid();
  p.organization_id := org;
  p.client_id := cl.id;
  p.currency := cl.currency;
  p.status := 'active';
  p.next_period_index := 0;
  p.cycles_issued := 0;
  p.payment_terms := coalesce(nullif(defaults.default_payment_terms, 'custom'), 'net30');
  p.tax_rate := coalesce(defaults.default_tax_rate, 0);
  p.discount := 0;
  p.template := coalesce(defaults.default_template, 'professional');
  p.notes := defaults.default_notes;
  p.terms := defaults.default_terms;
  p.payment_instructions_sealed := defaults.default_payment_instructions_sealed;
  p.auto_send := false;
  p := private.apply_recurring_template(p, doc);
  p := private.apply_recurring_schedule(p, doc, private.organization_today(org), cl.billing_frequency);

  insert into public.recurring_profiles (
    id, organization_id, client_id, currency, name, interval_unit, interval_count, billing_day,
    start_date, end_date, max_cycles, payment_terms, due_days, tax_rate, discount, notes, terms,
    payment_instructions, template, auto_send, status, ended_reason, first_billing_date,
    next_period_index, next_billing_date, cycles_issued, ended_at, default_vat_category,
    buyer_reference, purchase_order_reference, payment_instructions_sealed)
  values (
    p.id, p.organization_id, p.client_id, p.currency, p.name, p.interval_unit, p.interval_count,
    p.billing_day, p.start_date, p.end_date, p.max_cycles, p.payment_terms, p.due_days, p.tax_rate,
    p.discount, p.notes, p.terms, p.payment_instructions, p.template, p.auto_send, p.status,
    p.ended_reason, p.first_billing_date, p.next_period_index, p.next_billing_date, p.cycles_issued,
    p.ended_at, p.default_vat_category, p.buyer_reference, p.purchase_order_reference,
    p.payment_instructions_sealed);
  perform private.replace_recurring_items(p.id, items);
  return private.recurring_profile_document(p.id);
end;
$$;

-- Changes the fields present in `changes` and, when `items` is given, replaces
-- the items. The template (terms, tax, discount, notes, ..., auto_send, name)
-- changes the invoices to come; the schedule (frequency, interval, billing day,
-- start date) and the client only until the first invoice is issued; the end
-- (end_date or max_cycles) any time (moved before the next period, the profile
-- ends). An ended profile does not change.
--
-- The tax model's update_recurring_profile, with payment_instructions_sealed.
create or replace function public.update_recurring_profile(
  organization_id uuid, profile_id uuid, changes jsonb, items jsonb default null
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := update_recurring_profile.organization_id;
  doc jsonb := coalesce(update_recurring_profile.changes, '{}'::jsonb);
  cur public.recurring_profiles;
  p public.recurring_profiles;
  cl record;
  issued boolean;
  refused text;
begin
  perform private.require_role(org, 'member', 'your role may not change recurring profiles in this organization');
  perform private.refuse_unknown_keys(doc, array[
    'client_id', 'name', 'frequency', 'interval_unit', 'interval_count', 'billing_day', 'start_date',
    'end_date', 'max_cycles', 'payment_terms', 'due_days', 'tax_rate', 'discount', 'notes', 'terms',
    'payment_instructions', 'template', 'auto_send', 'default_vat_category', 'buyer_reference',
    'purchase_order_reference', 'payment_instructions_sealed'], 'changes');
  select * into cur
  from public.recurring_profiles rp
  where rp.id = update_recurring_profile.profile_id and rp.organization_id = org
  for update;
  if not found then
    raise exception 'recurring profile not found' using errcode = 'P0002';
  end if;
  if cur.status = 'ended' then
    raise exception 'recurring profile is % (%): it no longer changes', cur.status, cur.ended_reason
      using errcode = '23514', hint = 'Create a new profile.';
  end if;
  issued := cur.cycles_issued > 0 or exists (
    select 1 from public.invoices i
    where i.organization_id = org and i.recurring_profile_id = cur.id);
  if issued then
    select k into refused
    from unnest(array['client_id', 'frequency', 'interval_unit', 'interval_count', 'billing_day',
                      'start_date']) k
    where doc ? k
      and (k <> 'client_id' or (doc ->> k) is distinct from cur.client_id::text)
      and (k <> 'start_date' or (doc ->> k)::date is distinct from cur.start_date)
      and (k <> 'billing_day' or (doc ->> k)::integer is distinct from cur.billing_day)
      and (k <> 'interval_unit' or (doc ->> k) is distinct from cur.interval_unit)
      and (k <> 'interval_count' or (doc ->> k)::integer is distinct from cur.interval_count)
      and (k <> 'frequency' or (doc ->> k) is distinct from
             private.recurring_frequency(cur.interval_unit, cur.interval_count))
    limit 1;
    if found then
      raise exception '%: the schedule and the client of a profile that has issued invoices no longer change', refused
        using errcode = '23514', hint = 'Cancel it and create a new profile.';
    end if;
  end if;

  p := cur;
  if doc ? 'client_id' and (doc ->> 'client_id') is distinct from cur.client_id::text then
    select c.id, c.currency into cl
    from public.clients c
    where c.id = (doc ->> 'client_id')::uuid and c.organization_id = org;
    if not found then
      raise exception 'client_id: client % is not a client of this organization', doc ->> 'client_id'
        using errcode = '23503';
    end if;
    p.client_id := cl.id;
    p.currency := cl.currency;
  end if;
  p := private.apply_recurring_template(p, doc);
  if not issued then
    p.first_billing_date := null;  -- recomputed from the (new) schedule
  end if;
  p := private.apply_recurring_schedule(p, doc - 'client_id', private.organization_today(org), null);

  update public.recurring_profiles rp
  set client_id = p.client_id, currency = p.currency, name = p.name,
      interval_unit = p.interval_unit, interval_count = p.interval_count, billing_day = p.billing_day,
      start_date = p.start_date, end_date = p.end_date, max_cycles = p.max_cycles,
      payment_terms = p.payment_terms, due_days = p.due_days, tax_rate = p.tax_rate,
      discount = p.discount, notes = p.notes, terms = p.terms,
      payment_instructions = p.payment_instructions,
      payment_instructions_sealed = p.payment_instructions_sealed,
      template = p.template, auto_send = p.auto_send,
      status = p.status, ended_reason = p.ended_reason, ended_at = p.ended_at, paused_at = p.paused_at,
      first_billing_date = p.first_billing_date, next_period_index = p.next_period_index,
      next_billing_date = p.next_billing_date,
      default_vat_category = p.default_vat_category, buyer_reference = p.buyer_reference,
      purchase_order_reference = p.purchase_order_reference
  where rp.id = cur.id;

  if items is not null then
    perform private.replace_recurring_items(cur.id, items);
  elsif p.discount > (select coalesce(sum(it.amount), 0) from public.recurring_profile_items it
                      where it.profile_id = cur.id) then
    raise exception 'discount (%) exceeds the items'' subtotal (%)', p.discount,
      (select coalesce(sum(it.amount), 0) from public.recurring_profile_items it where it.profile_id = cur.id)
      using errcode = '23514', constraint = 'recurring_profiles_discount_not_above_subtotal';
  end if;
  return private.recurring_profile_document(cur.id);
end;
$$;
grant execute on function
  public.update_recurring_profile(uuid, uuid, jsonb, jsonb)
  to authenticated;
revoke execute on function public.update_recurring_profile(uuid, uuid, jsonb, jsonb) from public;

-- The tax model's recurring_profile_document, with the sealed instructions.
create or replace function private.recurring_profile_document(target uuid)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
  return (select pg_catalog.jsonb_build_object(
    'id', p.id, 'organization_id', p.organization_id, 'client_id', p.client_id,
    'client', pg_catalog.jsonb_build_object('id', c.id, 'company_name', c.company_name,
                                            'email', c.email, 'billing_frequency', c.billing_frequency),
    'name', p.name, 'currency', p.currency,
    'frequency', private.recurring_frequency(p.interval_unit, p.interval_count),
    'interval_unit', p.interval_unit, 'interval_count', p.interval_count,
    'billing_day', p.billing_day, 'start_date', p.start_date, 'end_date', p.end_date,
    'max_cycles', p.max_cycles, 'payment_terms', p.payment_terms, 'due_days', p.due_days,
    'tax_rate', p.tax_rate, 'discount', p.discount, 'notes', p.notes, 'terms', p.terms,
    'payment_instructions', p.payment_instructions, 'template', p.template,
    'default_vat_category', p.default_vat_category, 'buyer_reference', p.buyer_reference,
    'purchase_order_reference', p.purchase_order_reference,
    'auto_send', p.auto_send, 'status', p.status, 'ended_reason', p.ended_reason,
    'first_billing_date', p.first_billing_date, 'next_billing_date', p.next_billing_date,
    'cycles_issued', p.cycles_issued, 'last_issued_at', p.last_issued_at,
    'paused_at', p.paused_at, 'ended_at', p.ended_at,
    'created_at', p.created_at, 'updated_at', p.updated_at,
    'subtotal', t.subtotal,
    'items', t.items,
    'invoice_count', (select count(*) from public.invoices i
                      where i.organization_id = p.organization_id and i.recurring_profile_id = p.id),
    'recent_invoices', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'id', i.id, 'invoice_number', i.invoice_number,
               'recurring_period_start', i.recurring_period_start, 'issue_date', i.issue_date,
               'due_date', i.due_date, 'status', i.status, 'total_amount', i.total_amount)
             order by i.recurring_period_start desc)
      from (select * from public.invoices i
            where i.organization_id = p.organization_id and i.recurring_profile_id = p.id
            order by i.recurring_period_start desc limit 12) i), '[]'::jsonb))
    -- (jsonb_build_object takes 100 arguments at most)
    || pg_catalog.jsonb_build_object('payment_instructions_sealed', p.payment_instructions_sealed)
  from public.recurring_profiles p
  join public.clients c on c.id = p.client_id and c.organization_id = p.organization_id
  cross join lateral (
    select coalesce(sum(it.amount), 0) as subtotal,
           coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
             'id', it.id, 'position', it.position, 'description', it.description,
             'quantity', it.quantity, 'rate', it.rate, 'amount', it.amount,
             'vat_category', private.effective_vat_category(it.vat_category, it.tax_rate, p.tax_rate,
                                                            p.default_vat_category),
             'tax_rate', private.effective_tax_rate(it.vat_category, it.tax_rate, p.tax_rate),
             'tax_exemption_reason_code', it.tax_exemption_reason_code,
             'tax_exemption_reason', it.tax_exemption_reason)
             order by it.position, it.id), '[]'::jsonb) as items
    from public.recurring_profile_items it
    where it.organization_id = p.organization_id and it.profile_id = p.id
  ) t
  where p.id = target);
end;
$$;

-- The parties migration's audit_redacted, with the documents' clear payment_instructions
-- (invoices, recurring profiles) redacted too; the seals stay.
create or replace function private.audit_redacted(r jsonb)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select case
    when r is null or not (r ?| array['tax_id', 'iban', 'debtor_iban', 'default_payment_instructions',
                                      'payment_instructions'])
      then r
    else (select pg_catalog.jsonb_object_agg(
                   e.k, case when e.k = any (array['tax_id', 'iban', 'debtor_iban',
                                                   'default_payment_instructions',
                                                   'payment_instructions'])
                              and pg_catalog.jsonb_typeof(e.v) <> 'null'
                             then '"[redacted]"'::jsonb else e.v end)
          from pg_catalog.jsonb_each(r) e(k, v))
  end
$$;
