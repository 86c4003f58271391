"""The suite's own stack answers as `make dev` does: sign up, sign in, a listed route."""

from __future__ import annotations

from reliability.conftest import Client


def test_signed_up_person_can_sign_in_and_list(client: Client) -> None:
    assert client.user is not None
    login = client.sign_in(client.user.email)
    assert login.status == 200, login.content
    reply = client.request("GET", "/api/invoices")
    assert reply.status == 200, reply.content
    assert reply.json()["data"] == []
