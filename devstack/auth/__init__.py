"""A Supabase-Auth (GoTrue v2.18x)-compatible server for the local stack.

Mounted by the gateway at ``/auth/v1``. It keeps its state where GoTrue keeps it — the
``auth`` schema (users, identities, sessions, refresh tokens, MFA factors/challenges/AMR
claims) — so the project's triggers on ``auth.users`` run exactly as on Supabase, and it
speaks GoTrue's wire format (sessions, users, errors, the ``X-Supabase-Api-Version``
header) so that the official ``supabase_auth`` client cannot tell the difference.
"""
