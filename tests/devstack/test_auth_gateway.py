"""Auth through the real gateway (REST + Auth): a session issued by /auth/v1 is accepted
by /rest/v1, where RLS sees its ``sub`` through auth.uid().

Expectations: reference §1 (the per-request claims and auth.uid()) and §4 (the Session);
the profile row is the one the signup trigger (private.handle_new_user) created.
"""

from __future__ import annotations

import uuid

import httpx
from supabase_auth import SyncGoTrueClient

from devstack.stack import GatewayServer


def test_session_from_auth_is_accepted_by_rest(stack: GatewayServer) -> None:
    """Sign up through the gateway, then read public.profiles with the access token: RLS
    returns exactly the new user's own profile (auth.uid() = sub)."""
    anon = stack.config.keys.anon_key
    email = f"gw-{uuid.uuid4().hex[:10]}@example.com"
    with SyncGoTrueClient(
        url=stack.url + "/auth/v1",
        headers={"apikey": anon},
        auto_refresh_token=False,
        persist_session=False,
    ) as client:
        response = client.sign_up({"email": email, "password": "correct-horse-42"})
    assert response.session is not None
    reply = httpx.get(
        stack.url + "/rest/v1/profiles?select=id,email",
        headers={"apikey": anon, "Authorization": f"Bearer {response.session.access_token}"},
    )
    assert reply.status_code == 200
    assert reply.json() == [{"id": response.session.user.id, "email": email}]
