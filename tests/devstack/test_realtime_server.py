"""The local Realtime server at the protocol level: a raw websocket speaking Phoenix's
frames (vsn 1.0.0 objects, vsn 2.0.0 arrays and binary broadcasts), as supabase-js and the
Python `realtime` client do. Joins, heartbeats, leaves and the real server's errors;
broadcast and presence; postgres_changes with filters and RLS (two organizations never
see each other's rows); private channels authorized by RLS on realtime.messages; token
expiry and refresh. The official clients' own tests: test_realtime_clients*.py."""

from __future__ import annotations

import json
import struct
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import jwt
import psycopg
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from devstack.postgres import Database, admin_url
from tests.stacks import Target, local_only
from tests.tokens import user_claims

Message = dict[str, Any]

SETUP_SQL = """
create table if not exists public.rt_members (
  user_id uuid not null, org_id uuid not null, primary key (user_id, org_id)
);
create table if not exists public.rt_notes (
  id serial primary key,
  org_id uuid not null,
  body text not null,
  amount numeric,
  secret text
);
alter table public.rt_notes enable row level security;
drop policy if exists "members read their organization's notes" on public.rt_notes;
create policy "members read their organization's notes" on public.rt_notes for select
  to authenticated
  using (org_id in (select m.org_id from public.rt_members m where m.user_id = auth.uid()));
grant select (id, org_id, body, amount), insert, update, delete on public.rt_notes
  to authenticated;
grant select on public.rt_members to authenticated;
create table if not exists public.rt_unpublished (id int primary key);
do $$ begin
  if not exists (select from pg_publication_tables
                 where pubname = 'supabase_realtime' and tablename = 'rt_notes') then
    alter publication supabase_realtime add table public.rt_notes;
  end if;
end $$;
-- Private channels whose topic starts with 'rt-test:<org id>' are for that organization's
-- members: reading them needs a membership, sending needs the membership's 'write'.
create table if not exists public.rt_writers (user_id uuid primary key);
grant select on public.rt_writers to authenticated;
drop policy if exists "rt-test members receive" on realtime.messages;
create policy "rt-test members receive" on realtime.messages for select to authenticated
  using (realtime.topic() like 'rt-test:%' and split_part(realtime.topic(), ':', 2)::uuid in
         (select m.org_id from public.rt_members m where m.user_id = auth.uid()));
drop policy if exists "rt-test writers send" on realtime.messages;
create policy "rt-test writers send" on realtime.messages for insert to authenticated
  with check (realtime.topic() like 'rt-test:%'
              and auth.uid() in (select w.user_id from public.rt_writers w));
"""


@pytest.fixture(scope="module")
def world(database: Database) -> dict[str, str]:
    """Two organizations, a member of each, and a writer in the first."""
    local_only("sets up tables and realtime.messages policies as the superuser")
    ids = {name: str(uuid.uuid4()) for name in ("org_a", "org_b", "alice", "bob")}
    with psycopg.connect(admin_url(database.url), autocommit=True) as conn:
        conn.execute(SETUP_SQL)
        conn.execute(
            "insert into public.rt_members values (%s, %s), (%s, %s)",
            (ids["alice"], ids["org_a"], ids["bob"], ids["org_b"]),
        )
        conn.execute("insert into public.rt_writers values (%s)", (ids["alice"],))
    return ids


@pytest.fixture
def sql(database: Database) -> Callable[..., None]:
    def run(statement: str, *params: Any) -> None:
        with psycopg.connect(admin_url(database.url), autocommit=True) as conn:
            conn.execute(statement, params or None)

    return run


class Client:
    """A raw Phoenix client: frames in, frames out, nothing hidden."""

    def __init__(self, stack: Target, vsn: str = "1.0.0", apikey: str | None = None) -> None:
        key = stack.config.keys.anon_key if apikey is None else apikey
        self.vsn = vsn
        self.secret = stack.config.keys.jwt_secret
        url = stack.url.replace("http", "ws", 1) + "/realtime/v1/websocket?"
        self.ws: ClientConnection = connect(url + urlencode({"apikey": key, "vsn": vsn}))
        self.ref = 0
        self.inbox: list[Message] = []

    def token(self, user: str, **changes: Any) -> str:
        return jwt.encode(user_claims(user, **changes), self.secret, algorithm="HS256")

    def push(self, topic: str, event: str, payload: Any, join_ref: str | None = None) -> str:
        self.ref += 1
        ref = str(self.ref)
        if self.vsn == "2.0.0":
            self.ws.send(json.dumps([join_ref, ref, topic, event, payload]))
        else:
            frame = {"topic": topic, "event": event, "payload": payload, "ref": ref}
            self.ws.send(json.dumps({**frame, "join_ref": join_ref}))
        return ref

    def recv(self, timeout: float = 5.0) -> Message:
        data = self.ws.recv(timeout=timeout)
        if isinstance(data, bytes):
            return decode_user_broadcast(data)
        raw = json.loads(data)
        if isinstance(raw, list):
            keys = ("join_ref", "ref", "topic", "event", "payload")
            return dict(zip(keys, raw, strict=True))
        assert isinstance(raw, dict)
        return raw

    def wait(self, match: Callable[[Message], bool], timeout: float = 5.0) -> Message:
        """The first message (kept or arriving) that matches; the others are kept."""
        for i, message in enumerate(self.inbox):
            if match(message):
                return self.inbox.pop(i)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            message = self.recv(left)
            if match(message):
                return message
            self.inbox.append(message)
        raise AssertionError(f"no matching message in {timeout} s; got {self.inbox}")

    def reply(self, ref: str, timeout: float = 5.0) -> Message:
        return self.wait(lambda m: m["event"] == "phx_reply" and m["ref"] == ref, timeout)

    def event(self, topic: str, event: str, timeout: float = 5.0) -> Message:
        return self.wait(lambda m: m["topic"] == topic and m["event"] == event, timeout)

    def nothing(self, topic: str, event: str, within: float = 0.5) -> None:
        with pytest.raises(AssertionError, match="no matching message"):
            self.event(topic, event, within)

    def join(self, topic: str, config: dict[str, Any] | None = None, **payload: Any) -> Message:
        body = {"config": {"broadcast": {"self": False, "ack": False}, **(config or {})}}
        ref = self.push(topic, "phx_join", {**body, **payload}, join_ref=str(self.ref + 1))
        return self.reply(ref)

    def subscribe(self, topic: str, token: str, *changes: dict[str, Any]) -> Message:
        """Joins for postgres_changes and waits for "Subscribed to PostgreSQL"."""
        reply = self.join(topic, {"postgres_changes": list(changes)}, access_token=token)
        assert reply["payload"]["status"] == "ok", reply
        system = self.event(topic, "system", timeout=10)
        assert system["payload"]["message"] == "Subscribed to PostgreSQL", system
        return reply

    def close(self) -> None:
        self.ws.close()


def decode_user_broadcast(data: bytes) -> Message:
    """vsn 2.0.0's binary broadcast (kind 4), as realtime-js's serializer reads it."""
    assert data[0] == 4
    topic_size, event_size, meta_size, encoding = data[1], data[2], data[3], data[4]
    pos = 5
    topic = data[pos : pos + topic_size].decode()
    pos += topic_size
    event = data[pos : pos + event_size].decode()
    pos += event_size
    meta = data[pos : pos + meta_size]
    pos += meta_size
    body: Any = json.loads(data[pos:]) if encoding == 1 else data[pos:]
    payload = {"type": "broadcast", "event": event, "payload": body}
    if meta:
        payload["meta"] = json.loads(meta)
    return {"join_ref": None, "ref": None, "topic": topic, "event": "broadcast", "payload": payload}


def user_broadcast_push(join_ref: str, ref: str, topic: str, event: str, body: Any) -> bytes:
    """vsn 2.0.0's binary broadcast push (kind 3), as realtime-js's serializer writes it."""
    parts = [join_ref.encode(), ref.encode(), topic.encode(), event.encode(), b""]
    head = struct.pack("!7B", 3, *(len(p) for p in parts), 1)
    return head + b"".join(parts) + json.dumps(body).encode()


@pytest.fixture
def client(stack: Target) -> Iterator[Callable[..., Client]]:
    made: list[Client] = []

    def make(vsn: str = "1.0.0", apikey: str | None = None) -> Client:
        made.append(Client(stack, vsn, apikey))
        return made[-1]

    yield make
    for c in made:
        c.close()


def topic() -> str:
    return f"realtime:room-{uuid.uuid4().hex[:8]}"


# -- connecting, heartbeat, joins -----------------------------------------------------------


def test_socket_without_apikey_is_refused_by_the_gateway(stack: Target) -> None:
    url = stack.url.replace("http", "ws", 1) + "/realtime/v1/websocket?vsn=1.0.0"
    with pytest.raises(InvalidStatus) as refused:
        connect(url)
    assert refused.value.response.status_code == 401
    assert json.loads(refused.value.response.body or b"{}")["message"] == (
        "No API key found in request"
    )
    with pytest.raises(InvalidStatus) as wrong:
        connect(url + "&apikey=not-a-key")
    assert wrong.value.response.status_code == 401


@pytest.mark.parametrize("vsn", ["1.0.0", "2.0.0"])
def test_heartbeat_is_answered_on_the_phoenix_topic(
    client: Callable[..., Client], vsn: str
) -> None:
    c = client(vsn)
    ref = c.push("phoenix", "heartbeat", {})
    reply = c.reply(ref)
    assert reply["topic"] == "phoenix"
    assert reply["payload"] == {"status": "ok", "response": {}}


def test_join_answers_the_postgres_changes_with_their_ids(
    client: Callable[..., Client], world: dict[str, str]
) -> None:
    c = client()
    name = topic()
    change = {"event": "INSERT", "schema": "public", "table": "rt_notes"}
    reply = c.join(name, {"postgres_changes": [change]}, access_token=c.token(world["alice"]))
    assert reply["payload"]["status"] == "ok"
    [described] = reply["payload"]["response"]["postgres_changes"]
    assert {k: v for k, v in described.items() if k != "id"} == change
    assert isinstance(described["id"], int)
    plain = c.join(topic())
    assert plain["payload"] == {"status": "ok", "response": {"postgres_changes": []}}


def test_join_errors_are_the_real_servers(
    client: Callable[..., Client], world: dict[str, str]
) -> None:
    c = client()
    empty = c.join("realtime:")
    assert empty["payload"] == {
        "status": "error",
        "response": {"reason": "TopicNameRequired: You must provide a topic name"},
    }
    expired = c.join(topic(), access_token=c.token(world["alice"], exp=int(time.time()) - 30))
    reason = expired["payload"]["response"]["reason"]
    assert reason.startswith("InvalidJWTToken: Token has expired ")
    assert reason.endswith(" seconds ago")
    malformed = c.join(topic(), access_token="not.a.jwt")
    assert malformed["payload"]["response"] == {
        "reason": "MalformedJWT: The token provided is not a valid JWT"
    }
    forged = jwt.encode(user_claims(world["alice"]), "another-secret-" * 3, algorithm="HS256")
    signature = c.join(topic(), access_token=forged)
    assert signature["payload"]["response"] == {
        "reason": "JwtSignatureError: Failed to validate JWT signature"
    }
    no_role = c.join(topic(), access_token=c.token(world["alice"], role=None))
    assert no_role["payload"]["response"] == {
        "reason": "InvalidJWTToken: Fields `role` and `exp` are required in JWT"
    }
    ref = c.push("realtime:never-joined", "broadcast", {"type": "broadcast", "event": "x"})
    assert c.reply(ref)["payload"] == {"status": "error", "response": {"reason": "unmatched topic"}}


def test_leave_replies_ok_then_closes_the_channel(client: Callable[..., Client]) -> None:
    c = client()
    name = topic()
    join_ref = str(c.ref + 1)
    assert c.join(name)["payload"]["status"] == "ok"
    ref = c.push(name, "phx_leave", {}, join_ref=join_ref)
    assert c.reply(ref)["payload"] == {"status": "ok", "response": {}}
    close = c.event(name, "phx_close")
    assert close["payload"] == {}
    assert close["join_ref"] == join_ref
    after = c.push(name, "broadcast", {"type": "broadcast", "event": "x", "payload": {}})
    assert c.reply(after)["payload"]["status"] == "error"
