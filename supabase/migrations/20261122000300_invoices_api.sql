-- =============================================================================
-- The invoices routes of the HTTP API: the writes that touch more than one row
-- are one SQL function each, so they commit or fail whole.
--
--   public.create_invoice(organization_id, invoice, items)       -> the invoice
--   public.update_invoice(organization_id, invoice_id, changes,
--                         items, items_mode)                      -> the invoice
--   public.delete_invoice(organization_id, invoice_id)
--        -> {"action": "deleted"} | {"action": "cancelled", "invoice": ...}
--   public.invoice_list                 (a view for GET /api/invoices)
--
-- Every function is SECURITY INVOKER: row level security and the column grants
-- of the invoices migration decide what the caller may touch, and the triggers
-- there keep the money, the numbering and the status rules. What is added here
-- is the order of the writes (items before the discount, status last), the
-- rules of what may still change once an invoice has been sent (docs/api.md,
-- "Invoices"), and messages written for people.
--
-- What may change, by status (a field given with its current value is not a
-- change, so a whole invoice sent back unchanged is accepted):
--   draft            everything; status -> sent or cancelled
--   sent, overdue    notes, terms, payment_instructions, template, due_date and
--                    payment_terms; items, tax_rate and discount only while no
--                    payment is recorded; status -> cancelled (no payments).
--                    client, number and issue date are what the client received:
--                    they never change (cancel and issue a new invoice).
--   paid, cancelled  notes only.
-- Errors: unknown or other-tenant invoice -> P0002 (404); a refused change ->
-- 23514 (422 rule_violation); a client or item that is not the organization's
-- or the invoice's -> 23503 (422 invalid_reference); a number already taken ->
-- 23505 (409); a malformed argument -> 22023 (422 validation_failed).
-- =============================================================================

-- =============================================================================
-- Helpers
-- =============================================================================

-- Days from issue to due date of the payment terms; null for 'custom'.
create or replace function private.payment_terms_days(terms text)
returns integer
language sql
immutable
parallel safe
set search_path = ''
as $$
  select case terms
    when 'due_on_receipt' then 0 when 'net7' then 7 when 'net15' then 15 when 'net30' then 30
    when 'net45' then 45 when 'net60' then 60 when 'net90' then 90
  end
$$;

-- Refuses a JSON argument that is not an object or has keys outside `allowed`
-- (the API validates first; this guards direct RPC callers).
create or replace function private.refuse_unknown_keys(doc jsonb, allowed text[], what text)
returns void
language plpgsql
immutable
set search_path = ''
as $$
declare
  unknown text;
begin
  if doc is null then
    return;
  end if;
  if jsonb_typeof(doc) <> 'object' then
    raise exception '% must be an object', what using errcode = '22023';
  end if;
  select k into unknown from jsonb_object_keys(doc) k where k <> all (allowed) order by k limit 1;
  if found then
    raise exception '%: unknown field %', what, unknown using errcode = '22023';
  end if;
end;
$$;

-- The invoice as the API returns it: its columns, its items (in position
-- order), its payments (oldest first) and a summary of its client -- the same
-- shape GET /api/invoices/{id} builds with PostgREST embedding. Security
-- invoker: another tenant's invoice is null.
create or replace function private.invoice_document(target uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select to_jsonb(i) || jsonb_build_object(
    'items', coalesce((
      select jsonb_agg(jsonb_build_object(
               'id', it.id, 'position', it.position, 'description', it.description,
               'quantity', it.quantity, 'rate', it.rate, 'amount', it.amount,
               'created_at', it.created_at, 'updated_at', it.updated_at)
             order by it.position, it.created_at, it.id)
      from public.invoice_items it
      where it.invoice_id = i.id), '[]'::jsonb),
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
  where i.id = target
$$;

-- The items of an invoice as they print (place, description, quantity, rate;
-- ids aside): what "the items changed" means for the post-send rules.
create or replace function private.invoice_items_content(target uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select coalesce(jsonb_agg(jsonb_build_array(it.position, it.description, it.quantity, it.rate)
                            order by it.position, it.description, it.quantity, it.rate), '[]'::jsonb)
  from public.invoice_items it
  where it.invoice_id = target
$$;

-- Writes the items of one invoice from a JSON list.
--   replace: the list is the whole new list, in order (positions 0..n-1). An
--            entry with "id" updates that item with the fields it gives, an
--            entry without is a new item, and items not listed are removed.
--   patch:   only the listed items are touched. With "id": the fields given
--            change ("_delete": true removes it); without: a new item,
--            appended after the others unless it gives a position.
-- Afterwards the invoice has 1 to 200 items. The item triggers recompute the
-- subtotal (and refuse changes to paid or cancelled invoices).
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
    e, array['id', 'description', 'quantity', 'rate', 'position', '_delete'], 'item')
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
  insert into public.invoice_items
    (organization_id, invoice_id, currency, position, description, quantity, rate)
  select inv.organization_id, target, inv.currency,
         case when mode = 'replace' then t.ord::integer - 1
              else coalesce((t.x ->> 'position')::integer,
                            base + (row_number() over (order by t.ord))::integer - 1) end,
         t.x ->> 'description', (t.x ->> 'quantity')::numeric, (t.x ->> 'rate')::numeric
  from jsonb_array_elements(items) with ordinality as t(x, ord)
  where t.x ->> 'id' is null
  order by t.ord;

  update public.invoice_items it
  set description = coalesce(e.description, it.description),
      quantity = coalesce(e.quantity, it.quantity),
      rate = coalesce(e.rate, it.rate),
      position = coalesce(e.pos, it.position)
  from (
    select (x ->> 'id')::uuid as id,
           x ->> 'description' as description,
           (x ->> 'quantity')::numeric as quantity,
           (x ->> 'rate')::numeric as rate,
           case when mode = 'replace' then ord::integer - 1 else (x ->> 'position')::integer end as pos
    from jsonb_array_elements(items) with ordinality as t(x, ord)
    where x ->> 'id' is not null and not coalesce((x ->> '_delete')::boolean, false)
  ) e
  where it.id = e.id
    and it.invoice_id = target
    and (it.description, it.quantity, it.rate, it.position)
        is distinct from (coalesce(e.description, it.description), coalesce(e.quantity, it.quantity),
                          coalesce(e.rate, it.rate), coalesce(e.pos, it.position));

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

-- =============================================================================
-- create_invoice
-- =============================================================================

-- One invoice with its items, in one transaction. `invoice` keys: client_id
-- (required), invoice_number, issue_date, due_date, payment_terms, status
-- ('draft' or 'sent'), tax_rate, discount, notes, terms, payment_instructions,
-- template. Left out: the number comes from the organization's counter, the
-- issue date is today, the terms, tax rate, template, notes, terms and payment
-- instructions are the organization's defaults, and the due date follows the
-- terms (a due date given without terms makes them 'custom' unless it is what
-- the default terms give). A failed creation rolls the counter back with it:
-- it consumes no number.
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
begin
  perform private.require_role(org, 'member', 'your role may not create invoices in this organization');
  perform private.refuse_unknown_keys(doc, array[
    'client_id', 'invoice_number', 'issue_date', 'due_date', 'payment_terms', 'status', 'tax_rate',
    'discount', 'notes', 'terms', 'payment_instructions', 'template'], 'invoice');
  if items is null or jsonb_typeof(items) <> 'array' or jsonb_array_length(items) = 0 then
    raise exception 'an invoice needs at least one item' using errcode = '22023';
  end if;

  given_client := (doc ->> 'client_id')::uuid;
  if given_client is null then
    raise exception 'client_id is required' using errcode = '23502';
  end if;
  if not exists (select 1 from public.clients c
                 where c.id = given_client and c.organization_id = org) then
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
         s.default_terms, s.default_payment_instructions
  into defaults
  from public.organization_settings s
  where s.organization_id = org;

  issued := coalesce((doc ->> 'issue_date')::date, current_date);
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
    notes, terms, payment_instructions, template
  ) values (
    org, given_client, given_number, issued, due, terms_given,
    coalesce((doc ->> 'tax_rate')::numeric, defaults.default_tax_rate, 0),
    case when doc ? 'notes' then doc ->> 'notes' else defaults.default_notes end,
    case when doc ? 'terms' then doc ->> 'terms' else defaults.default_terms end,
    case when doc ? 'payment_instructions' then doc ->> 'payment_instructions'
         else defaults.default_payment_instructions end,
    coalesce(doc ->> 'template', defaults.default_template, 'professional')
  )
  returning id into new_id;

  -- Items first: the discount may not exceed the subtotal they make.
  perform private.apply_invoice_items(new_id, items, 'replace');

  wanted_discount := coalesce((doc ->> 'discount')::numeric, 0);
  if wanted_discount <> 0 or wanted_status <> 'draft' then
    update public.invoices i
    set discount = wanted_discount, status = wanted_status
    where i.id = new_id;
  end if;

  return private.invoice_document(new_id);
end;
$$;

-- =============================================================================
-- update_invoice
-- =============================================================================

-- Changes the fields present in `changes` (null clears notes, terms and
-- payment_instructions; the other fields cannot be null) and, when `items` is
-- given, the items (see private.apply_invoice_items for the two modes), under
-- the rules of the invoice's status (see the head of this file). Changing the
-- issue date or the terms moves the due date with them unless a due date is
-- given or the terms are 'custom'; a due date given without terms makes them
-- 'custom' unless the terms give that date. The client of a draft may change:
-- its currency then becomes the invoice's. An open invoice's status follows a
-- changed due date (overdue when past, sent when not).
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
  refused text[];
  wanted_status text;
  final_status text;
  items_before jsonb;
begin
  perform private.require_role(org, 'member', 'your role may not change invoices in this organization');
  perform private.refuse_unknown_keys(doc, array[
    'client_id', 'invoice_number', 'issue_date', 'due_date', 'payment_terms', 'status', 'tax_rate',
    'discount', 'notes', 'terms', 'payment_instructions', 'template'], 'changes');

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
    nxt.payment_instructions := doc ->> 'payment_instructions';
  end if;
  if doc ? 'template' then
    nxt.template := doc ->> 'template';
  end if;

  changed := array_remove(array[
    case when nxt.client_id is distinct from cur.client_id then 'client_id' end,
    case when nxt.invoice_number is distinct from cur.invoice_number then 'invoice_number' end,
    case when nxt.issue_date is distinct from cur.issue_date then 'issue_date' end,
    case when nxt.due_date is distinct from cur.due_date then 'due_date' end,
    case when nxt.payment_terms is distinct from cur.payment_terms then 'payment_terms' end,
    case when nxt.tax_rate is distinct from cur.tax_rate then 'tax_rate' end,
    case when nxt.discount is distinct from cur.discount then 'discount' end,
    case when nxt.notes is distinct from cur.notes then 'notes' end,
    case when nxt.terms is distinct from cur.terms then 'terms' end,
    case when nxt.payment_instructions is distinct from cur.payment_instructions
         then 'payment_instructions' end,
    case when nxt.template is distinct from cur.template then 'template' end
  ], null);

  -- The status asked for. Paid follows payments and overdue the due date; a
  -- sent or overdue invoice asked to be "sent" or "overdue" stays open.
  wanted_status := coalesce(doc ->> 'status', cur.status);
  final_status := cur.status;
  if wanted_status <> cur.status then
    if wanted_status = 'cancelled' then
      if cur.status = 'paid' then
        raise exception 'invoice % is paid and cannot be cancelled', cur.invoice_number
          using errcode = '23514', hint = 'Delete its payments first.';
      elsif paid_something then
        raise exception 'invoice % has payments and cannot be cancelled', cur.invoice_number
          using errcode = '23514', hint = 'Delete its payments first.';
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
    final_status := case when nxt.due_date < current_date then 'overdue' else 'sent' end;
  end if;

  -- What may change, by status.
  if cur.status in ('sent', 'overdue') then
    refused := array(select f from unnest(changed) f
                     where f in ('client_id', 'invoice_number', 'issue_date'));
    if cardinality(refused) > 0 then
      raise exception 'invoice % has been sent: its % can no longer change',
        cur.invoice_number, array_to_string(refused, ', ')
        using errcode = '23514', hint = 'Cancel it and create a new invoice.';
    end if;
    refused := array(select f from unnest(changed) f where f in ('tax_rate', 'discount'));
    if paid_something and cardinality(refused) > 0 then
      raise exception 'invoice % has payments: its % can no longer change',
        cur.invoice_number, array_to_string(refused, ', ')
        using errcode = '23514', hint = 'Delete its payments first.';
    end if;
  elsif cur.status in ('paid', 'cancelled') then
    refused := array(select f from unnest(changed) f where f <> 'notes');
    if cardinality(refused) > 0 then
      raise exception 'invoice % is %: only its notes can change; not its %',
        cur.invoice_number, cur.status, array_to_string(refused, ', ')
        using errcode = '23514';
    end if;
  end if;

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
        template = nxt.template
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

  -- 3. The discount on the new subtotal, then the status.
  update public.invoices i
  set discount = nxt.discount, status = final_status
  where i.id = target
    and (i.discount, i.status) is distinct from (nxt.discount, final_status);

  return private.invoice_document(target);
end;
$$;

-- =============================================================================
-- delete_invoice
-- =============================================================================

-- A draft is deleted ({"action": "deleted"}). A sent or overdue invoice
-- reached its client and stays on record: without payments it is cancelled
-- instead ({"action": "cancelled", "invoice": ...}); one already cancelled is
-- answered the same way. One with payments, or paid, is refused (23514).
create or replace function public.delete_invoice(organization_id uuid, invoice_id uuid)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := delete_invoice.organization_id;
  target uuid := delete_invoice.invoice_id;
  cur public.invoices;
begin
  perform private.require_role(org, 'member', 'your role may not delete invoices in this organization');
  select * into cur
  from public.invoices i
  where i.id = target and i.organization_id = org
  for update;
  if not found then
    raise exception 'invoice not found' using errcode = 'P0002';
  end if;

  if cur.status = 'draft' then
    delete from public.invoices i where i.id = target;
    return jsonb_build_object('action', 'deleted');
  elsif cur.status = 'paid' then
    raise exception 'invoice % is paid and cannot be deleted or cancelled', cur.invoice_number
      using errcode = '23514', hint = 'Delete its payments first.';
  elsif cur.status in ('sent', 'overdue') then
    if exists (select 1 from public.payments p where p.invoice_id = target) then
      raise exception 'invoice % has payments and cannot be deleted or cancelled', cur.invoice_number
        using errcode = '23514', hint = 'Delete its payments first.';
    end if;
    update public.invoices i set status = 'cancelled' where i.id = target;
  end if;
  return jsonb_build_object('action', 'cancelled', 'invoice', private.invoice_document(target));
end;
$$;

-- =============================================================================
-- invoice_list: GET /api/invoices reads this view, so that one query can
-- search the client's name next to the number, sort by it, and filter the
-- invoices that are overdue in fact (status overdue, or sent and past due
-- before the daily job has marked them). Security invoker: the caller's row
-- level security applies to both tables.
-- =============================================================================

create or replace view public.invoice_list with (security_invoker = true) as
select
  i.id, i.organization_id, i.client_id, c.company_name as client_company_name,
  i.invoice_number, i.issue_date, i.due_date, i.payment_terms, i.status, i.currency,
  i.subtotal, i.tax_rate, i.tax_amount, i.discount, i.total_amount, i.amount_paid,
  i.balance_due, i.template, i.sent_at, i.paid_at, i.cancelled_at, i.created_at, i.updated_at,
  (i.status = 'overdue' or (i.status = 'sent' and i.due_date < current_date)) as is_overdue
from public.invoices i
join public.clients c on c.id = i.client_id and c.organization_id = i.organization_id;

revoke all on public.invoice_list from anon, authenticated, service_role;
grant select on public.invoice_list to authenticated, service_role;

-- =============================================================================
-- Grants
-- =============================================================================

grant execute on function
  private.payment_terms_days(text),
  private.refuse_unknown_keys(jsonb, text[], text),
  private.invoice_document(uuid),
  private.invoice_items_content(uuid),
  private.apply_invoice_items(uuid, jsonb, text)
  to authenticated;
grant execute on function
  public.create_invoice(uuid, jsonb, jsonb),
  public.update_invoice(uuid, uuid, jsonb, jsonb, text),
  public.delete_invoice(uuid, uuid)
  to authenticated;
revoke execute on function
  public.create_invoice(uuid, jsonb, jsonb),
  public.update_invoice(uuid, uuid, jsonb, jsonb, text),
  public.delete_invoice(uuid, uuid)
  from anon, service_role;

-- Nothing created above is executable by PUBLIC; the grants above say who may.
revoke execute on all functions in schema private, public from public;
