-- =============================================================================
-- What may change on an invoice, by status, holds for every write of the API
-- roles, not only for public.update_invoice.
--
-- update_invoice refuses a new number, issue date or client once an invoice has
-- been sent, any change but its notes once it is paid or cancelled, and a new tax
-- rate once it has payments. Members may also update invoices straight through
-- PostgREST (RLS and the column grants let them: the frontend may), and those
-- rules were not checked there: a member could renumber a sent invoice, or move
-- it to another client, behind the API's back (found while writing
-- reliability/test_concurrency.py). The same rules now hold on the table, with
-- update_invoice's messages (update_invoice, security invoker, meets them too,
-- after its own checks have already answered).
--
-- Only the API roles (anon, authenticated) are held: the service role and the
-- database owner keep the means to correct a record. The discount rule (no new
-- discount once paid something) stays in update_invoice alone: it clears the
-- discount for a moment while it replaces the items, which this row trigger
-- cannot tell from a change.
-- =============================================================================

create or replace function private.issued_invoice_keeps_its_identity()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  refused text[];
begin
  if current_user not in ('anon', 'authenticated') then
    return new;
  end if;
  if old.status in ('paid', 'cancelled') then
    refused := array_remove(array[
      case when new.client_id is distinct from old.client_id then 'client_id' end,
      case when new.invoice_number is distinct from old.invoice_number then 'invoice_number' end,
      case when new.issue_date is distinct from old.issue_date then 'issue_date' end,
      case when new.due_date is distinct from old.due_date then 'due_date' end,
      case when new.payment_terms is distinct from old.payment_terms then 'payment_terms' end,
      case when new.tax_rate is distinct from old.tax_rate then 'tax_rate' end,
      case when new.discount is distinct from old.discount then 'discount' end,
      case when new.terms is distinct from old.terms then 'terms' end,
      case when new.payment_instructions is distinct from old.payment_instructions
           then 'payment_instructions' end,
      case when new.template is distinct from old.template then 'template' end
    ], null);
    if cardinality(refused) > 0 then
      raise exception 'invoice % is %: only its notes can change; not its %',
        old.invoice_number, old.status, array_to_string(refused, ', ')
        using errcode = '23514';
    end if;
  elsif old.status in ('sent', 'overdue') then
    refused := array_remove(array[
      case when new.client_id is distinct from old.client_id then 'client_id' end,
      case when new.invoice_number is distinct from old.invoice_number then 'invoice_number' end,
      case when new.issue_date is distinct from old.issue_date then 'issue_date' end
    ], null);
    if cardinality(refused) > 0 then
      raise exception 'invoice % has been sent: its % can no longer change',
        old.invoice_number, array_to_string(refused, ', ')
        using errcode = '23514', hint = 'Cancel it and create a new invoice.';
    end if;
    if new.tax_rate is distinct from old.tax_rate and old.amount_paid > 0 then
      raise exception 'invoice % has payments: its tax_rate can no longer change',
        old.invoice_number
        using errcode = '23514', hint = 'Delete its payments first.';
    end if;
  end if;
  return new;
end;
$$;

revoke execute on function private.issued_invoice_keeps_its_identity() from public;

-- Before b_prepare_invoice_row (triggers of one kind fire in name order): the row
-- as the caller wrote it.
create trigger a_issued_invoice_keeps_its_identity
  before update on public.invoices
  for each row
  when (old.status <> 'draft')
  execute function private.issued_invoice_keeps_its_identity();
