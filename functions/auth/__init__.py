"""Auth: the routes of /api/auth (signup, login, logout, me, MFA, sessions and account)."""

from __future__ import annotations

from shared.errors import ErrorResponses

error_responses = ErrorResponses(
    {
        401: (
            "Missing, invalid or expired token; at login, a wrong email or password "
            "(invalid_credentials)"
        ),
        403: (
            "At login, an address not confirmed yet (email_not_confirmed); a step that "
            "needs an aal2 session (mfa_required)"
        ),
        404: "The account has no profile; an unknown MFA factor",
        409: (
            "An account with this email address already exists; deleting the account of the "
            "last owner of an organization with other members (last_owner)"
        ),
        422: "Invalid input; details lists each field (a weak password names it)",
        429: "Supabase Auth's rate limit (rate_limited); see Retry-After",
        503: "Supabase Auth or the database is unavailable; retry after Retry-After",
    }
)
