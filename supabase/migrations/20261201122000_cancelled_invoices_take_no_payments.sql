-- =============================================================================
-- A cancelled invoice takes no payments, whatever the order of events.
--
-- A payment's own row trigger (private.prepare_payment_row) refuses a cancelled
-- invoice, but it reads the invoice without a lock, in its statement's snapshot.
-- A payment inserted straight through PostgREST (RLS lets members insert) while
-- another transaction cancels the invoice (public.delete_invoice, or
-- update_invoice with status cancelled: both check "no payments" under the
-- invoice's lock) saw the invoice still sent, waited for the lock, and then
-- private.refresh_amounts_paid wrote its amount onto the now cancelled invoice:
-- a cancelled invoice with money paid (found reading the lock order for
-- reliability/test_concurrency.py; tests/db/test_payment_races.py replays the
-- race deterministically).
--
-- The rule now holds where the amount lands: once b_prepare_invoice_row has run,
-- an update that raises a cancelled invoice's amount_paid is refused (check
-- violation, as the other status rules; the API answers 422 rule_violation and
-- nothing of the payment is written). Lowering it (a payment removed) passes.
-- =============================================================================

create or replace function private.refuse_payments_on_cancelled_invoice()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'invoice % is cancelled and cannot receive payments', new.invoice_number
    using errcode = '23514',
          hint = 'The invoice was cancelled while the payment was being recorded.';
end;
$$;

-- After b_prepare_invoice_row (triggers of one kind fire in name order), so NEW
-- is the row as the status rules left it.
create trigger c_cancelled_invoice_takes_no_payments
  before update on public.invoices
  for each row
  when (new.status = 'cancelled' and new.amount_paid > old.amount_paid)
  execute function private.refuse_payments_on_cancelled_invoice();

revoke all on function private.refuse_payments_on_cancelled_invoice() from public;
