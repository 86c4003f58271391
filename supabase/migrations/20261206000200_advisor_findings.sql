-- What Supabase's advisors (`supabase db advisors`) found, fixed where a fix is right.
-- tests/db/test_supabase_cli.py runs them with the pinned CLI on every `make test`.

-- =============================================================================
-- Deleting a user scans every table that refers to auth.users
-- =============================================================================
-- Each of these foreign keys is ON DELETE SET NULL or CASCADE: deleting a user (the
-- dashboard, auth.admin.deleteUser, a GDPR erasure) looks up the rows that name the user
-- in every one of these tables, which without an index is a sequential scan of all
-- invoices, payments, clients... of every tenant, under the row locks of the delete.
-- Partial indexes: most rows of a large tenant share a few creators, and the NULLs
-- (rows whose creator is gone) are never looked up.

create index organizations_created_by_idx on public.organizations (created_by) where created_by is not null;
create index clients_created_by_idx on public.clients (created_by) where created_by is not null;
create index client_activities_created_by_idx on public.client_activities (created_by) where created_by is not null;
create index invoices_created_by_idx on public.invoices (created_by) where created_by is not null;
create index payments_created_by_idx on public.payments (created_by) where created_by is not null;
create index idempotency_keys_user_id_idx on public.idempotency_keys (user_id);
create index bulk_jobs_created_by_idx on public.bulk_jobs (created_by) where created_by is not null;
create index invoice_sends_sent_by_idx on public.invoice_sends (sent_by) where sent_by is not null;
create index vendors_created_by_idx on public.vendors (created_by) where created_by is not null;
create index vendor_aliases_created_by_idx on public.vendor_aliases (created_by) where created_by is not null;
create index purchase_orders_created_by_idx on public.purchase_orders (created_by) where created_by is not null;
create index goods_receipts_created_by_idx on public.goods_receipts (created_by) where created_by is not null;
create index vendor_invoices_created_by_idx on public.vendor_invoices (created_by) where created_by is not null;
create index import_batches_created_by_idx on public.import_batches (created_by) where created_by is not null;
create index reconciliation_settings_updated_by_idx on public.reconciliation_settings (updated_by) where updated_by is not null;
create index vendor_merge_rejections_created_by_idx on public.vendor_merge_rejections (created_by) where created_by is not null;
create index reconciliation_exceptions_resolved_by_idx on public.reconciliation_exceptions (resolved_by) where resolved_by is not null;

-- =============================================================================
-- Functions whose search_path a caller could change
-- =============================================================================
-- Pinned where it costs nothing that matters (measured over 1,000,000 calls):
--   private.checked_money    PL/pgSQL, never inlined: 0.79 s -> 1.40 s; it checks the
--                            amounts a person types (a discount, a payment), a few a request
--   private.wants_email      0.44 s -> 1.9 s; once per recipient of a job's emails
alter function private.checked_money(numeric, text, text) set search_path = '';
alter function private.wants_email(jsonb, text) set search_path = '';

-- Left unpinned on purpose, because PostgreSQL inlines them into the query that calls
-- them and any SET clause stops the inlining:
--   private.round_money, private.currency_minor_unit, private.invoice_report_status:
--     immutable SQL helpers run once per row (every invoice item's generated amount,
--     every invoice of a five-year report): 0.21 s -> 2.3 s, 0.16 s -> 1.9 s and
--     0.10 s -> 1.5 s per million calls with a SET;
--   private.reminder_slots: inlined into private.open_reminder_slots, the chunk's
--     `invoice_id = any (ids)` reaches the invoices' primary key; with a SET it is a
--     function scan that computes every open invoice's slots for each chunk of 5,000.
-- The risk a mutable search_path brings is small here: they are SECURITY INVOKER (a
-- caller who changes their search_path fools only themselves), name every function and
-- type schema-qualified, run under the empty search_path of the definer functions that
-- call them, and the API roles may create no schema to shadow pg_catalog's operators
-- with. The advisors' finding for these four is excluded by name, with this reason, in
-- tests/db/test_supabase_cli.py (the CLI itself has no way to exclude one).
