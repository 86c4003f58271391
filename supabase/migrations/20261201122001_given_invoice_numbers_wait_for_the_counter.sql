-- =============================================================================
-- A number given by hand waits for the counter, so the counter never hands it out.
--
-- private.assign_invoice_number takes the organization's counter under a row lock
-- and skips numbers already used, but it cannot see a number given by hand in a
-- transaction not yet committed. An invoice created without a number while
-- another was being created (or a draft renumbered) with the counter's next
-- number by hand got that same number, waited on the unique index, and failed:
-- 23505, a 409 "duplicate key value violates unique constraint …" answered to
-- someone who gave no number (reliability/test_concurrency.py found it over HTTP;
-- tests/db/test_payment_races.py replays it deterministically).
--
-- Now a write that gives a number by hand first takes the same row lock as the
-- counter (the organization's settings row, FOR NO KEY UPDATE, as the counter's
-- UPDATE does): the counter waits for that transaction and then sees its number
-- as taken. Two hand-given numbers in one organization now wait for each other
-- too, as automatic ones always did, and the second is refused with create_invoice's
-- own message ("invoice number … is already used") instead of the unique index's
-- ("duplicate key value violates unique constraint …", which the race answered).
-- Security definer: members without the admin role may not lock the settings row.
-- =============================================================================

create or replace function private.given_number_waits_for_the_counter()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  given text := pg_catalog.btrim(new.invoice_number);
begin
  -- Someone writing into an organization they may not write into is refused by row
  -- level security after this trigger: no lock for them, and no answer about the
  -- numbers that organization uses.
  if auth.uid() is not null
     and not private.has_role_on_organization(new.organization_id, 'member') then
    return new;
  end if;
  perform 1
  from public.organization_settings s
  where s.organization_id = new.organization_id
  for no key update;
  -- Whoever held the lock has committed: a number it took is visible now. Refused
  -- here with the message create_invoice gives, rather than the unique index's.
  if exists (select 1 from public.invoices i
             where i.organization_id = new.organization_id and i.invoice_number = given
               and i.id is distinct from new.id) then
    raise exception 'invoice number % is already used in this organization', given
      using errcode = '23505', constraint = 'invoices_invoice_number_unique_in_organization',
            detail = pg_catalog.format(
              'Key (organization_id, invoice_number)=(%s, %s) already exists'
              ' (unique constraint invoices_invoice_number_unique_in_organization).',
              new.organization_id, given);
  end if;
  return new;
end;
$$;

-- Before a_complete_new_invoice (triggers of one kind fire in name order: '0' sorts
-- before '_'), which assigns the counter's number when none is given.
create trigger a0_given_number_waits_for_the_counter
  before insert on public.invoices
  for each row
  when (nullif(btrim(new.invoice_number), '') is not null)
  execute function private.given_number_waits_for_the_counter();

create trigger a0_renumbering_waits_for_the_counter
  before update of invoice_number on public.invoices
  for each row
  when (new.invoice_number is distinct from old.invoice_number)
  execute function private.given_number_waits_for_the_counter();

revoke all on function private.given_number_waits_for_the_counter() from public;
