"""Where an export's tables come from: `REPORTS`, each report's name (the ``report`` of
``GET /api/reports/export``) to the function that reads its table with a `ReportQuery`.

- `shared.exports.reports`: the reports (one RPC each, small);
- `shared.exports.lists`: the invoice and payment lists (pages of thousands of rows);
- `shared.exports.match_results`: the reconciliation match results;
- `shared.exports.lifecycle`: quotes, credit notes, refunds, recurring profiles and the
  client credit ledger (the billing lifecycle's lists);
- `shared.exports.audit`: the audit trail (admins and owners);
- `shared.exports.reading`: what they share: the query, typed values, keyset pages.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.exports import audit, lifecycle, lists, match_results, reports
from shared.exports.reading import ReportQuery
from shared.exports.table import Table

__all__ = ["REPORTS", "ReportQuery"]

REPORTS: dict[str, Callable[[ReportQuery], Table]] = {
    "overview": reports.overview,
    "revenue": reports.revenue,
    "revenue-by-client": reports.revenue_by_client,
    "payment-status": reports.payment_status,
    "client-performance": reports.client_performance,
    "invoices": lists.invoices,
    "payments": lists.payments,
    "match-results": match_results.match_results,
    "quotes": lifecycle.quotes,
    "credit-notes": lifecycle.credit_notes,
    "refunds": lifecycle.refunds,
    "recurring-profiles": lifecycle.recurring_profiles,
    "client-credit": lifecycle.client_credit,
    "audit": audit.audit,
}
