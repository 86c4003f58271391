"""The audit trail as a feature (docs/api.md, "Audit trail"): the organization's entries,
filtered, and the history of one invoice or client. Admins and owners only, as the audit
log's row-level security already says (migration 20261206100200_organizations.sql): the
entries hold whole rows before and after, including what members do not manage. One
Lambda function for the area (``api.py``), a module per route.
"""

from __future__ import annotations

from shared.errors import ErrorResponses

AUDIT_COLUMNS = (
    "id,organization_id,table_name,record_id,operation,old_record,new_record,changed_by,"
    "changed_by_role,transaction_id,changed_at"
)

error_responses = ErrorResponses(
    {
        403: "Not an admin or owner of the organization",
        404: "No audit entry of that invoice or client in the organization",
        422: "Invalid filter (validation_failed, details name the field)",
    }
)


def entry(row: dict[str, object]) -> dict[str, object]:
    """An audit_log row as the API answers it (``operation`` as ``action``, lower-case)."""
    out = dict(row)
    out["action"] = str(out.pop("operation", "")).lower()
    return out
