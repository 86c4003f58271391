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

-- public.export_invoice_page: defined in 20261206110600 (its final form; nothing is deployed)

-- =============================================================================
-- Grants
-- =============================================================================

revoke execute on all functions in schema private, public from public;
