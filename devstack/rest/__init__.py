"""The local stack's PostgREST-compatible server (see devstack/rest/app.py)."""
