"""The local Realtime server at the protocol level: a raw websocket speaking Phoenix's
frames (vsn 1.0.0 objects, vsn 2.0.0 arrays and binary broadcasts), as supabase-js and the
Python `realtime` client do. Joins, heartbeats, leaves and the real server's errors;
broadcast and presence; postgres_changes with filters and RLS (two organizations never
see each other's rows); private channels authorized by RLS on realtime.messages; token
expiry and refresh. The official clients' own tests: test_realtime_clients*.py."""

from __future__ import annotations

import contextlib
import json
import struct
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import psycopg
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from devstack import postgres
from devstack.config import StackConfig
from devstack.postgres import Database, admin_url, free_port
from devstack.realtime import Realtime
from devstack.stack import AppServer, serve
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
revoke all on public.rt_notes from anon, authenticated;
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
    """Two organizations, a member of each, and a writer in the first (ids, and "db")."""
    local_only("sets up tables and realtime.messages policies as the superuser")
    ids = {name: str(uuid.uuid4()) for name in ("org_a", "org_b", "alice", "bob")}
    with psycopg.connect(admin_url(database.url), autocommit=True) as conn:
        conn.execute(SETUP_SQL)
        conn.execute(
            "insert into public.rt_members values (%s, %s), (%s, %s)",
            (ids["alice"], ids["org_a"], ids["bob"], ids["org_b"]),
        )
        conn.execute("insert into public.rt_writers values (%s)", (ids["alice"],))
    return {**ids, "db": database.url}


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
        self.apikey = key
        self.vsn = vsn
        self.secret = stack.config.keys.jwt_secret
        url = stack.url.replace("http", "ws", 1) + "/realtime/v1/websocket?"
        # No WebSocket-level keepalive: the protocol's own heartbeats are what the server
        # reads, and websockets' keepalive thread joining the reader thread while close()
        # joins it too raced in CPython 3.11's Thread.join ("release unlocked lock", seen
        # once under the +365 d clock of make test-clock).
        self.ws: ClientConnection = connect(
            url + urlencode({"apikey": key, "vsn": vsn}), ping_interval=None
        )
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
            try:
                message = self.recv(left)
            except TimeoutError:
                break
            if match(message):
                return message
            self.inbox.append(message)
        raise AssertionError(f"no matching message in {timeout} s; got {self.inbox}")

    def reply(self, ref: str, timeout: float = 5.0) -> Message:
        return self.wait(lambda m: m["event"] == "phx_reply" and m["ref"] == ref, timeout)

    def event(self, topic: str, event: str, timeout: float = 5.0) -> Message:
        return self.wait(lambda m: m["topic"] == topic and m["event"] == event, timeout)

    def nothing(self, topic: str, event: str, within: float = 0.5) -> None:
        self.nothing_matching(lambda m: m["topic"] == topic and m["event"] == event, within)

    def event_matching(self, match: Callable[[Message], bool]) -> Message:
        return self.wait(match)

    def nothing_matching(self, match: Callable[[Message], bool], within: float = 0.5) -> None:
        with pytest.raises(AssertionError, match="no matching message"):
            self.wait(match, within)

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
def client(request: pytest.FixtureRequest) -> Iterator[Callable[..., Client]]:
    """Clients of the session's gateway (or of `target`), closed after the test even when
    it fails: a websocket left open was collected, as an unclosed socket, during a later
    test."""
    made: list[Client] = []

    def make(vsn: str = "1.0.0", apikey: str | None = None, target: Any = None) -> Client:
        made.append(Client(target or request.getfixturevalue("stack"), vsn, apikey))
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


def test_frames_are_not_compressed_as_phoenix_does_not(client: Callable[..., Client]) -> None:
    c = client()  # the websockets client offers permessage-deflate; Realtime declines it
    assert c.ws.response is not None
    assert c.ws.response.headers.get("Sec-WebSocket-Extensions") is None


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


# -- broadcast ------------------------------------------------------------------------------


def test_broadcast_reaches_the_others_and_self_and_ack_as_configured(
    client: Callable[..., Client],
) -> None:
    name = topic()
    sender, receiver = client(), client()
    receiver.join(name)
    join_ref = str(sender.ref + 1)
    sender.join(name, {"broadcast": {"self": True, "ack": True}})
    message = {"type": "broadcast", "event": "moved", "payload": {"x": 1}}
    ref = sender.push(name, "broadcast", message, join_ref=join_ref)
    assert sender.reply(ref)["payload"] == {"status": "ok", "response": {}}
    assert receiver.event(name, "broadcast")["payload"] == message
    assert sender.event(name, "broadcast")["payload"] == message

    quiet = client()
    quiet_ref = str(quiet.ref + 1)
    quiet.join(name)  # self and ack off: neither its own message nor a reply
    quiet.push(name, "broadcast", {**message, "event": "quiet"}, join_ref=quiet_ref)
    assert receiver.event(name, "broadcast")["payload"]["event"] == "quiet"
    quiet.nothing(name, "broadcast")
    quiet.nothing(name, "phx_reply")


def test_binary_broadcast_of_vsn_2_reaches_both_serializers(
    client: Callable[..., Client],
) -> None:
    name = topic()
    v2, v1, sender = client("2.0.0"), client("1.0.0"), client("2.0.0")
    v2.join(name)
    v1.join(name)
    join_ref = str(sender.ref + 1)
    sender.join(name, {"broadcast": {"ack": True}})
    sender.ws.send(user_broadcast_push(join_ref, "99", name, "typed", {"text": "héllo"}))
    assert sender.reply("99")["payload"]["status"] == "ok"
    expected = {"type": "broadcast", "event": "typed", "payload": {"text": "héllo"}}
    assert v2.event(name, "broadcast")["payload"] == expected
    assert v1.event(name, "broadcast")["payload"] == expected


def test_a_public_and_a_private_channel_of_the_same_name_never_meet(
    client: Callable[..., Client], world: dict[str, str]
) -> None:
    name = f"realtime:rt-test:{world['org_a']}"
    public, private = client(), client()
    public.join(name)
    assert (
        private.join(name, {"private": True}, access_token=private.token(world["alice"]))[
            "payload"
        ]["status"]
        == "ok"
    )
    sender = client()
    join_ref = str(sender.ref + 1)
    sender.join(name)
    sender.push(name, "broadcast", {"type": "broadcast", "event": "e", "payload": {}}, join_ref)
    assert public.event(name, "broadcast")["payload"]["event"] == "e"
    private.nothing(name, "broadcast")


# -- private channels -----------------------------------------------------------------------


def test_private_channel_is_refused_to_a_non_member_with_the_real_message(
    client: Callable[..., Client], world: dict[str, str]
) -> None:
    c = client()
    name = f"rt-test:{world['org_a']}"
    refused = c.join(f"realtime:{name}", {"private": True}, access_token=c.token(world["bob"]))
    assert refused["payload"] == {
        "status": "error",
        "response": {
            "reason": f"Unauthorized: You do not have permissions to read from this Channel"
            f" topic: {name}"
        },
    }
    anon = c.join(f"realtime:{name}", {"private": True})  # the anon key: no membership
    assert anon["payload"]["status"] == "error"


def test_private_broadcast_needs_the_insert_policy(
    client: Callable[..., Client], world: dict[str, str], sql: Callable[..., None]
) -> None:
    org_b_writer = str(uuid.uuid4())
    sql("insert into public.rt_members values (%s, %s)", org_b_writer, world["org_b"])
    name = f"realtime:rt-test:{world['org_a']}"
    config = {"private": True, "broadcast": {"ack": True}}
    alice, reader = client(), client()
    reader.join(name, {"private": True}, access_token=reader.token(world["alice"]))
    join_ref = str(alice.ref + 1)
    assert (
        alice.join(name, config, access_token=alice.token(world["alice"]))["payload"]["status"]
        == "ok"
    )
    ref = alice.push(
        name, "broadcast", {"type": "broadcast", "event": "ok", "payload": {}}, join_ref
    )
    assert alice.reply(ref)["payload"]["status"] == "ok"
    assert reader.event(name, "broadcast")["payload"]["event"] == "ok"

    # A member who may read but not send: no relay and no acknowledgement, as Realtime.
    name_b = f"realtime:rt-test:{world['org_b']}"
    bob, other = client(), client()
    other.join(name_b, {"private": True}, access_token=other.token(world["bob"]))
    join_ref = str(bob.ref + 1)
    assert (
        bob.join(name_b, config, access_token=bob.token(world["bob"]))["payload"]["status"] == "ok"
    )
    bob.push(name_b, "broadcast", {"type": "broadcast", "event": "no", "payload": {}}, join_ref)
    bob.nothing(name_b, "phx_reply")
    other.nothing(name_b, "broadcast")


def test_broadcast_from_the_database_reaches_public_and_private_channels(
    client: Callable[..., Client], world: dict[str, str], sql: Callable[..., None]
) -> None:
    private_name = f"rt-test:{world['org_a']}"
    member, stranger, public = client("2.0.0"), client(), client()
    member.join(
        f"realtime:{private_name}",
        {"private": True, "broadcast": {"replication_ready": True}},
        access_token=member.token(world["alice"]),
    )
    ready = member.event(f"realtime:{private_name}", "system", timeout=10)
    assert ready["payload"]["message"] == "Replication connection established"
    public_name = f"public-{uuid.uuid4().hex[:6]}"
    public.join(f"realtime:{public_name}")
    stranger.join(f"realtime:{private_name}")  # the public channel of the same name
    sql("select realtime.send(%s::jsonb, 'progress', %s, true)", '{"done": 3}', private_name)
    sql("select realtime.send(%s::jsonb, 'tick', %s, false)", '{"n": 1}', public_name)
    got = member.event(f"realtime:{private_name}", "broadcast")["payload"]
    assert got["event"] == "progress"
    assert got["payload"]["done"] == 3
    assert set(got["meta"]) == {"id"}
    tick = public.event(f"realtime:{public_name}", "broadcast")["payload"]
    assert (tick["event"], tick["payload"]["n"]) == ("tick", 1)
    stranger.nothing(f"realtime:{private_name}", "broadcast")


# -- presence -------------------------------------------------------------------------------


def test_presence_track_untrack_state_and_diff(client: Callable[..., Client]) -> None:
    name = topic()
    first, second = client(), client("2.0.0")
    presence = {"presence": {"key": "ann", "enabled": True}}
    ref_one = str(first.ref + 1)
    first.join(name, presence)
    assert first.event(name, "presence_state")["payload"] == {}
    ref = first.push(
        name, "presence", {"type": "presence", "event": "track", "payload": {"at": 1}}, ref_one
    )
    assert first.reply(ref)["payload"] == {"status": "ok", "response": {}}
    joined = first.event(name, "presence_diff")["payload"]
    [meta] = joined["joins"]["ann"]["metas"]
    assert meta["at"] == 1
    assert isinstance(meta["phx_ref"], str)
    assert joined["leaves"] == {}

    second.join(name, {"presence": {"key": "bo", "enabled": True}})
    state = second.event(name, "presence_state")["payload"]
    assert state == {"ann": {"metas": [meta]}}

    first.push(
        name, "presence", {"type": "presence", "event": "track", "payload": {"at": 2}}, ref_one
    )
    update = second.event(name, "presence_diff")["payload"]
    assert update["leaves"] == {"ann": {"metas": [meta]}}
    [new] = update["joins"]["ann"]["metas"]
    assert (new["at"], new["phx_ref_prev"]) == (2, meta["phx_ref"])

    bad = first.push(
        name, "presence", {"type": "presence", "event": "track", "payload": [1]}, ref_one
    )
    assert first.reply(bad)["payload"] == {
        "status": "error",
        "response": {"reason": "Presence track payload must be a map"},
    }
    first.push(name, "presence", {"type": "presence", "event": "untrack"}, ref_one)
    left = second.event(name, "presence_diff")["payload"]
    assert left == {"joins": {}, "leaves": {"ann": {"metas": [new]}}}

    first.push(name, "presence", {"type": "presence", "event": "track", "payload": {}}, ref_one)
    second.event(name, "presence_diff")
    first.close()  # a closed socket leaves
    gone = second.event(name, "presence_diff")["payload"]
    assert list(gone["leaves"]) == ["ann"]


# -- postgres_changes -----------------------------------------------------------------------


def notes(**change: Any) -> dict[str, Any]:
    return {"event": "*", "schema": "public", "table": "rt_notes", **change}


def test_postgres_changes_reach_members_of_the_rows_organization_only(
    client: Callable[..., Client], world: dict[str, str], sql: Callable[..., None]
) -> None:
    alice, bob = client(), client("2.0.0")
    a_topic, b_topic = topic(), topic()
    joined = alice.subscribe(a_topic, alice.token(world["alice"]), notes())
    bob.subscribe(b_topic, bob.token(world["bob"]), notes())
    for n in range(5):
        sql(
            "insert into public.rt_notes (org_id, body, amount, secret)"
            " values (%s, %s, 12.50, 's')",
            world["org_a"],
            f"a{n}",
        )
        sql("insert into public.rt_notes (org_id, body) values (%s, %s)", world["org_b"], f"b{n}")
    got_a = [alice.event(a_topic, "postgres_changes")["payload"] for _ in range(5)]
    got_b = [bob.event(b_topic, "postgres_changes")["payload"] for _ in range(5)]
    assert [g["data"]["record"]["body"] for g in got_a] == [f"a{n}" for n in range(5)]
    assert [g["data"]["record"]["body"] for g in got_b] == [f"b{n}" for n in range(5)]
    alice.nothing(a_topic, "postgres_changes")
    bob.nothing(b_topic, "postgres_changes")

    data = got_a[0]["data"]
    assert got_a[0]["ids"] == [joined["payload"]["response"]["postgres_changes"][0]["id"]]
    assert data["type"] == "INSERT"
    assert (data["schema"], data["table"], data["errors"]) == ("public", "rt_notes", None)
    assert data["commit_timestamp"].endswith("Z")
    # The columns the role may select (`secret` is not granted), typed as Realtime names them.
    assert data["columns"] == [
        {"name": "id", "type": "int4"},
        {"name": "org_id", "type": "uuid"},
        {"name": "body", "type": "text"},
        {"name": "amount", "type": "numeric"},
    ]
    assert set(data["record"]) == {"id", "org_id", "body", "amount"}
    assert data["record"]["amount"] == 12.5
    assert data["record"]["org_id"] == world["org_a"]


def test_a_role_without_select_on_the_key_gets_realtimes_401_and_blocks_nobody(
    client: Callable[..., Client], world: dict[str, str], sql: Callable[..., None]
) -> None:
    anon, alice = client(), client()
    a_topic, b_topic = topic(), topic()
    anon.subscribe(a_topic, anon.apikey, notes())  # the anon key: no grant on rt_notes
    alice.subscribe(b_topic, alice.token(world["alice"]), notes())
    sql("insert into public.rt_notes (org_id, body) values (%s, 'both')", world["org_a"])
    assert alice.event(b_topic, "postgres_changes")["payload"]["data"]["record"]["body"] == "both"
    refused = anon.event(a_topic, "postgres_changes")["payload"]["data"]
    assert refused == {
        "schema": "public",
        "table": "rt_notes",
        "type": "INSERT",
        "errors": ["Error 401: Unauthorized"],
    }


def test_changes_keep_flowing_after_a_large_transaction(
    client: Callable[..., Client], world: dict[str, str], sql: Callable[..., None]
) -> None:
    """The row checks are prepared on the feed's session. psycopg's statement cache, once a
    poll had run the same call five times (a transaction of several rows), dropped them
    with DEALLOCATE ALL on the poll's rollback, and every later change reached nobody."""
    alice = client()
    name = topic()
    alice.subscribe(name, alice.token(world["alice"]), notes(event="INSERT"))
    sql(
        "insert into public.rt_notes (org_id, body)"
        " select %s, 'bulk ' || n from generate_series(1, 8) n",
        world["org_a"],
    )
    bodies = [alice.event(name, "postgres_changes")["payload"]["data"]["record"]["body"]]
    bodies += [
        alice.event(name, "postgres_changes")["payload"]["data"]["record"]["body"] for _ in range(7)
    ]
    assert bodies == [f"bulk {n}" for n in range(1, 9)]
    sql("insert into public.rt_notes (org_id, body) values (%s, 'later')", world["org_a"])
    assert alice.event(name, "postgres_changes")["payload"]["data"]["record"]["body"] == "later"


def test_update_and_delete_payloads_as_realtime_sends_them(
    client: Callable[..., Client], world: dict[str, str], database: Database
) -> None:
    alice = client()
    name = topic()
    alice.subscribe(name, alice.token(world["alice"]), notes())
    # One at a time: Realtime checks the row as it is when the change is read, so an
    # insert whose row is already deleted reaches nobody.
    with psycopg.connect(admin_url(database.url), autocommit=True) as conn:
        row = conn.execute(
            "insert into public.rt_notes (org_id, body) values (%s, 'x') returning id",
            (world["org_a"],),
        ).fetchone()
        assert row is not None
        note = row[0]
        insert = alice.event(name, "postgres_changes")["payload"]["data"]
        conn.execute("update public.rt_notes set body = 'y' where id = %s", (note,))
        update = alice.event(name, "postgres_changes")["payload"]["data"]
        conn.execute("delete from public.rt_notes where id = %s", (note,))
        delete = alice.event(name, "postgres_changes")["payload"]["data"]
    assert insert["type"] == "INSERT"
    assert update["type"] == "UPDATE"
    assert update["record"]["body"] == "y"
    assert update["old_record"] == {"id": note}  # the replica identity: the primary key
    assert delete["type"] == "DELETE"
    assert delete["old_record"] == {"id": note}  # RLS on: the primary key alone
    assert "record" not in delete


def test_a_row_deleted_before_realtime_reads_its_insert_is_delivered_as_deleted_only(
    client: Callable[..., Client], world: dict[str, str], database: Database
) -> None:
    """Realtime checks RLS for an insert or an update by selecting the row, by its primary
    key, as the subscriber, when it reads the change (realtime.apply_rls's prepared
    statement): a row deleted by then reaches no one as inserted or updated, only its
    DELETE does. Written in one transaction, so the server reads the three after the
    delete whatever the machine's load: what a client writing them back to back sees
    whenever the server falls a few milliseconds behind."""
    alice = client()
    name = topic()
    alice.subscribe(name, alice.token(world["alice"]), notes())
    with psycopg.connect(admin_url(database.url)) as conn:
        row = conn.execute(
            "insert into public.rt_notes (org_id, body) values (%s, 'gone') returning id",
            (world["org_a"],),
        ).fetchone()
        assert row is not None
        conn.execute("update public.rt_notes set body = 'going' where id = %s", row)
        conn.execute("delete from public.rt_notes where id = %s", row)
    with psycopg.connect(admin_url(database.url), autocommit=True) as conn:
        conn.execute(
            "insert into public.rt_notes (org_id, body) values (%s, 'kept')", (world["org_a"],)
        )
    deleted = alice.event(name, "postgres_changes")["payload"]["data"]
    assert (deleted["type"], deleted["old_record"]) == ("DELETE", {"id": row[0]})
    kept = alice.event(name, "postgres_changes")["payload"]["data"]
    assert (kept["type"], kept["record"]["body"]) == ("INSERT", "kept")


def test_filters_and_events_select_the_changes(
    client: Callable[..., Client], world: dict[str, str], sql: Callable[..., None]
) -> None:
    c = client()
    token = c.token(world["alice"])
    cases = {
        "eq": notes(event="INSERT", filter="body=eq.match"),
        "neq": notes(event="INSERT", filter=f"org_id=neq.{world['org_b']}"),
        "in": notes(event="INSERT", filter="body=in.(one,match)"),
        "gt": notes(event="INSERT", filter="amount=gt.10"),
        "lte": notes(event="INSERT", filter="amount=lte.10"),
        "update": notes(event="UPDATE"),
        "not.eq and like": notes(event="INSERT", filter="body=not.eq.other,body=like.ma%"),
        "is null": notes(event="INSERT", filter="amount=is.null"),
        "ilike": notes(event="INSERT", filter="body=ilike.OTH*"),
    }
    topics = {case: topic() for case in cases}
    for case, change in cases.items():
        c.subscribe(topics[case], token, change)
    sql(
        "insert into public.rt_notes (org_id, body, amount) values (%s, 'match', 20)",
        world["org_a"],
    )
    sql(
        "insert into public.rt_notes (org_id, body, amount) values (%s, 'other', 5)", world["org_a"]
    )
    seen: dict[str, list[str]] = {case: [] for case in cases}
    sql("insert into public.rt_notes (org_id, body) values (%s, 'maybe')", world["org_a"])
    for _ in range(10):  # eq 1, neq 3, in 1, gt 1, lte 1, update 0, not/like 2, is null 1
        message = c.event_matching(lambda m: m["event"] == "postgres_changes")
        case = next(k for k, v in topics.items() if v == message["topic"])
        seen[case].append(message["payload"]["data"]["record"]["body"])
    assert seen == {
        "eq": ["match"],
        "neq": ["match", "other", "maybe"],
        "in": ["match"],
        "gt": ["match"],
        "lte": ["other"],
        "update": [],
        "not.eq and like": ["match", "maybe"],
        "is null": ["maybe"],
        "ilike": [],  # no * wildcard in Realtime's filters: ILIKE 'OTH*' matches nothing here
    }
    c.nothing_matching(lambda m: m["event"] == "postgres_changes")


def test_postgres_changes_errors_are_system_messages(
    client: Callable[..., Client], world: dict[str, str]
) -> None:
    c = client()
    token = c.token(world["alice"])
    cases = {
        "public.rt_unpublished": (
            notes(table="rt_unpublished"),
            "Unable to subscribe to changes with given parameters. Please check Realtime is"
            " enabled for the given connect parameters: [event: *, schema: public, table:"
            " rt_unpublished, filters: [], select: nil]",
        ),
        "bad operator": (
            notes(filter="body=foo.bar"),
            'Error parsing `filter` params: ["foo", "bar"]',
        ),
        "unknown column": (
            notes(filter="nope=eq.1"),
            "Unable to subscribe to changes with given parameters. An exception happened so"
            " please check your connect parameters: [event: *, schema: public, table:"
            ' rt_notes, filters: [{"nope", "eq", "1", false}], select: nil]. Exception:'
            " ERROR P0001 (raise_exception) invalid column for filter nope",
        ),
        "in without parentheses": (
            notes(filter="body=in.a,b"),
            "Error parsing `filter` params: `in` filter value must be wrapped by parentheses",
        ),
        "no params": (
            {"event": "*"},
            "No subscription params provided. Please provide at least a `schema` or `table`"
            ' to subscribe to: %{"event" => "*"}',
        ),
    }
    for change, message in cases.values():
        name = topic()
        reply = c.join(name, {"postgres_changes": [change]}, access_token=token)
        assert reply["payload"]["status"] == "ok"
        system = c.event(name, "system", timeout=10)["payload"]
        assert system == {
            "extension": "postgres_changes",
            "status": "error",
            "message": message,
            "channel": name.removeprefix("realtime:"),
        }


# -- tokens ---------------------------------------------------------------------------------


def test_an_expiring_token_closes_the_channel_with_the_real_message(
    client: Callable[..., Client], world: dict[str, str]
) -> None:
    c = client()
    name = topic()
    join_ref = str(c.ref + 1)
    reply = c.join(name, access_token=c.token(world["alice"], exp=int(time.time()) + 3))
    assert reply["payload"]["status"] == "ok"
    system = c.event(name, "system", timeout=8)["payload"]
    assert system["extension"] == "system"
    assert system["status"] == "error"
    assert system["message"].startswith("Token has expired ")
    assert system["channel"] == name.removeprefix("realtime:")
    close = c.event(name, "phx_close")
    assert close["join_ref"] == join_ref


@pytest.mark.slow  # waits out a token's or a socket's time
def test_access_token_refresh_extends_the_channel(
    client: Callable[..., Client], world: dict[str, str], sql: Callable[..., None]
) -> None:
    c = client()
    name = topic()
    join_ref = str(c.ref + 1)
    expires = int(time.time()) + 5  # time enough to subscribe on a busy machine
    c.subscribe(name, c.token(world["alice"], exp=expires), notes(event="INSERT"))
    c.push(name, "access_token", {"access_token": c.token(world["alice"])}, join_ref)
    again = c.event(name, "system")["payload"]  # resubscribed with the new claims
    assert again["message"] == "Subscribed to PostgreSQL"
    time.sleep(max(0.0, expires - time.time() + 0.5))
    c.nothing(name, "system", within=0.5)
    sql("insert into public.rt_notes (org_id, body) values (%s, 'after')", world["org_a"])
    data = c.event(name, "postgres_changes")["payload"]["data"]
    assert data["record"]["body"] == "after"

    c.push(name, "access_token", {"access_token": "not.a.jwt"}, join_ref)
    refused = c.event(name, "system")["payload"]
    assert (refused["status"], refused["message"]) == (
        "error",
        "The token provided is not a valid JWT",
    )
    c.event(name, "phx_close")


def test_a_refreshed_token_that_loses_the_membership_closes_a_private_channel(
    client: Callable[..., Client], world: dict[str, str]
) -> None:
    c = client()
    name = f"rt-test:{world['org_a']}"
    join_ref = str(c.ref + 1)
    c.join(f"realtime:{name}", {"private": True}, access_token=c.token(world["alice"]))
    c.push(f"realtime:{name}", "access_token", {"access_token": c.token(world["bob"])}, join_ref)
    system = c.event(f"realtime:{name}", "system")["payload"]
    assert system["message"] == (
        f"You do not have permissions to read from this Channel topic: {name}"
    )
    c.event(f"realtime:{name}", "phx_close")


# -- a PostgreSQL restart -------------------------------------------------------------------


@pytest.mark.slow
def test_postgres_restart_is_announced_and_changes_flow_again(
    client: Callable[..., Client],
) -> None:
    """A cluster of its own (the session's stays up): the slot is temporary, as Realtime's,
    so the server tells its subscribers when replication stops and when it resumes; what
    was committed in between is not delivered."""
    local_only("restarts a PostgreSQL of its own")
    with postgres.ephemeral_cluster() as cluster:
        postgres.apply_platform(cluster.admin_url)
        with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
            conn.execute(
                "create table public.rt_plain (id int primary key, body text);"
                " grant select on public.rt_plain to anon;"
                " alter publication supabase_realtime add table public.rt_plain"
            )
        server = serve(cluster.url)
        try:
            c = client(target=server)
            name = topic()
            change = {"event": "INSERT", "schema": "public", "table": "rt_plain"}
            c.subscribe(name, server.config.keys.anon_key, change)

            def insert(n: int) -> None:
                with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
                    conn.execute("insert into public.rt_plain values (%s, 'x')", (n,))

            insert(1)
            assert c.event(name, "postgres_changes")["payload"]["data"]["record"]["id"] == 1
            cluster.stop()
            down = c.event(name, "system", timeout=10)["payload"]
            assert (down["extension"], down["status"]) == ("postgres_changes", "error")
            assert down["message"] == "Realtime was unable to connect to the project database"
            private = topic()  # a private join's RLS check needs the database
            ref = c.push(private, "phx_join", {"config": {"private": True}}, str(c.ref + 1))
            refused = c.reply(ref, timeout=10)
            assert refused["payload"]["response"] == {
                "reason": "UnableToConnectToProject: Realtime was unable to connect to the"
                " project database"
            }
            cluster.start()
            up = c.event(name, "system", timeout=15)["payload"]
            assert (up["status"], up["message"]) == ("ok", "Subscribed to PostgreSQL")
            insert(2)
            assert c.event(name, "postgres_changes")["payload"]["data"]["record"]["id"] == 2
            c.close()
        finally:
            server.stop()


# -- broadcast over HTTP --------------------------------------------------------------------


def test_http_broadcast_batch_and_single_reach_the_channels(
    stack: Target, client: Callable[..., Client], world: dict[str, str]
) -> None:
    public_name = f"http-{uuid.uuid4().hex[:6]}"
    private_name = f"rt-test:{world['org_a']}"
    public, member = client(), client("2.0.0")
    public.join(f"realtime:{public_name}")
    member.join(
        f"realtime:{private_name}", {"private": True}, access_token=member.token(world["alice"])
    )
    base = stack.url + "/realtime/v1/api/broadcast"
    anon = {"apikey": stack.config.keys.anon_key}
    alice = {**anon, "authorization": f"Bearer {member.token(world['alice'])}"}
    bob = {**anon, "authorization": f"Bearer {member.token(world['bob'])}"}
    batch = {
        "messages": [
            {"topic": public_name, "event": "a", "payload": {"n": 1}},
            {"topic": private_name, "event": "b", "payload": {"n": 2}, "private": True},
        ]
    }
    assert httpx.post(base, json=batch, headers=bob).status_code == 202
    assert public.event(f"realtime:{public_name}", "broadcast")["payload"] == {
        "type": "broadcast",
        "event": "a",
        "payload": {"n": 1},
    }
    member.nothing(f"realtime:{private_name}", "broadcast")  # bob may not send there
    assert httpx.post(base, json=batch, headers=alice).status_code == 202
    got = member.event(f"realtime:{private_name}", "broadcast")["payload"]
    assert (got["event"], got["payload"]) == ("b", {"n": 2})

    one = f"{base}/{private_name}/events/c?private=true"
    assert httpx.post(one, json={"n": 3}, headers=alice).status_code == 202
    assert member.event(f"realtime:{private_name}", "broadcast")["payload"]["payload"] == {"n": 3}
    refused = httpx.post(one, json={"n": 4}, headers=bob)
    assert (refused.status_code, refused.json()) == (403, {"message": "Unauthorized"})
    invalid = httpx.post(base, json={"messages": [{"topic": "t"}]}, headers=alice)
    assert invalid.status_code == 422
    assert invalid.json() == {
        "errors": {"messages": [{"event": ["can't be blank"], "payload": ["can't be blank"]}]}
    }


@contextlib.contextmanager
def own_server(database: Database, **options: float) -> Iterator[tuple[Realtime, Any]]:
    """A Realtime server of its own over the session's database, with shorter delays."""
    local_only("a Realtime server of its own")
    config = StackConfig(database_url=database.url, public_url="http://127.0.0.1")
    realtime = Realtime(config, **options)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await realtime.stop()  # its connections closed, as the gateway's lifespan does

    app = Starlette(routes=[Mount("/realtime/v1", app=realtime.app())], lifespan=lifespan)
    server = AppServer(app, free_port(), "realtime").start()
    try:
        yield realtime, SimpleNamespace(url=server.url, config=config)
    finally:
        server.stop()


def test_the_slot_is_dropped_when_no_channel_remains(
    database: Database, client: Callable[..., Client]
) -> None:
    """Idle, the server holds no slot: PostgreSQL neither keeps WAL for it nor decodes
    the project's writes for nobody. The next join starts over."""

    def slots(realtime: Realtime) -> int:
        with psycopg.connect(admin_url(database.url)) as conn:
            row = conn.execute(
                "select count(*) from pg_replication_slots where slot_name = %s",
                (realtime.feed.slot,),
            ).fetchone()
        return int(row[0]) if row else 0

    def eventually(realtime: Realtime, count: int) -> bool:
        deadline = time.monotonic() + 5
        while slots(realtime) != count and time.monotonic() < deadline:
            time.sleep(0.05)
        return slots(realtime) == count

    with own_server(database, idle_stop=0.2) as (realtime, target):
        for _ in range(2):
            c = client(target=target)
            name = topic()
            c.join(name, {"broadcast": {"replication_ready": True}})
            assert c.event(name, "system")["payload"]["message"] == (
                "Replication connection established"
            )
            assert eventually(realtime, 1)
            c.close()
            assert eventually(realtime, 0)


@pytest.mark.slow  # waits out a token's or a socket's time
def test_a_silent_socket_is_closed_as_phoenix_does(
    database: Database, client: Callable[..., Client]
) -> None:
    with own_server(database, timeout=0.6) as (_, target):
        talking, silent = client(target=target), client(target=target)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:  # heartbeats keep a socket open
            talking.reply(talking.push("phoenix", "heartbeat", {}))
            time.sleep(0.2)
        with pytest.raises(ConnectionClosed):
            silent.recv(timeout=1)
        talking.close()


def test_presence_on_a_private_channel_needs_the_policies(
    client: Callable[..., Client], world: dict[str, str]
) -> None:
    """Tracking is an insert into realtime.messages as the user (extension presence): the
    writer may, a member who may only read gets an error reply and no diff goes out."""
    name = f"realtime:rt-test:{world['org_b']}"
    writer_id = str(uuid.uuid4())
    with psycopg.connect(admin_url(world["db"]), autocommit=True) as conn:
        conn.execute("insert into public.rt_members values (%s, %s)", (writer_id, world["org_b"]))
        conn.execute("insert into public.rt_writers values (%s)", (writer_id,))
    config = {"private": True, "presence": {"enabled": True}}
    writer, reader = client(), client()
    writer_ref = str(writer.ref + 1)
    assert (
        writer.join(name, config, access_token=writer.token(writer_id))["payload"]["status"] == "ok"
    )
    assert writer.event(name, "presence_state")["payload"] == {}
    reader_ref = str(reader.ref + 1)
    assert (
        reader.join(name, config, access_token=reader.token(world["bob"]))["payload"]["status"]
        == "ok"
    )
    reader.event(name, "presence_state")
    track = {"type": "presence", "event": "track", "payload": {"here": True}}
    ref = writer.push(name, "presence", track, writer_ref)
    assert writer.reply(ref)["payload"]["status"] == "ok"
    assert list(reader.event(name, "presence_diff")["payload"]["joins"]) != []
    refused = reader.push(name, "presence", track, reader_ref)
    assert reader.reply(refused)["payload"] == {"status": "error", "response": {}}
    writer.event(name, "presence_diff")  # its own join
    writer.nothing(name, "presence_diff")


def test_a_change_right_after_the_join_reply_is_delivered(
    database: Database,
    world: dict[str, str],
    sql: Callable[..., None],
    client: Callable[..., Client],
) -> None:
    """The Python client reports SUBSCRIBED on the join's reply, without waiting for
    "Subscribed to PostgreSQL": on a server whose feed is not running yet, the reply
    waits until the subscription is live, so a write made right after it is delivered."""
    with own_server(database) as (realtime, target):
        c = client(target=target)
        name = topic()
        change = notes(event="INSERT")
        reply = c.join(name, {"postgres_changes": [change]}, access_token=c.token(world["alice"]))
        assert reply["payload"]["status"] == "ok"
        assert len(realtime.feed.subscriptions) == 1  # live before the reply
        sql("insert into public.rt_notes (org_id, body) values (%s, 'right away')", world["org_a"])
        data = c.event(name, "postgres_changes")["payload"]["data"]
        assert data["record"]["body"] == "right away"
        system = c.event(name, "system")["payload"]
        assert system["message"] == "Subscribed to PostgreSQL"
        c.close()


@pytest.mark.slow  # waits out one slowed poll (3 s)
def test_subscribed_waits_for_the_slot_when_its_session_was_lost(
    database: Database,
    world: dict[str, str],
    sql: Callable[..., None],
    client: Callable[..., Client],
) -> None:
    """The feed's replication session ends between two polls (PostgreSQL restarted, the
    backend terminated): the temporary slot goes with it, unnoticed until the next poll.
    A join then must not be told "Subscribed to PostgreSQL" before a poll has found the
    slot, or made a new one: a change committed right after the message would otherwise
    come before the new slot and reach no one. The poller is slowed (a poll every 3 s
    when idle) so that the server which answered at once lost that change every time."""
    with own_server(database) as (realtime, target):
        first, second = client(target=target), client(target=target)
        token = first.token(world["alice"])
        first.subscribe(topic(), token, notes(event="INSERT"))
        realtime.feed.poll_interval = 3.0
        time.sleep(0.2)  # the poller's short sleep is over: it is in a long one
        with psycopg.connect(admin_url(database.url), autocommit=True) as conn:
            row = conn.execute(
                "select pg_terminate_backend(active_pid) from pg_replication_slots"
                " where slot_name = %s",
                (realtime.feed.slot,),
            ).fetchone()
        assert row == (True,)
        name = topic()
        second.subscribe(name, token, notes(event="INSERT"))
        sql("insert into public.rt_notes (org_id, body) values (%s, 'right after')", world["org_a"])
        data = second.event(name, "postgres_changes", timeout=10)["payload"]["data"]
        assert data["record"]["body"] == "right after"
        first.close()
        second.close()


@pytest.mark.slow  # fifty slots made and dropped (about 5 s)
def test_a_join_while_the_feed_stops_misses_nothing_after_subscribed(
    database: Database,
    world: dict[str, str],
    sql: Callable[..., None],
    client: Callable[..., Client],
) -> None:
    """The feed stops once no channel remains (idle_stop), dropping its slot; a join that
    arrives while it stops waits for the next slot. Fifty rounds of leave, join at about
    the moment the stop runs, and a write right after "Subscribed to PostgreSQL"."""
    with own_server(database, idle_stop=0.05) as (realtime, target):
        for n in range(50):
            c = client(target=target)
            token = c.token(world["alice"])
            name = topic()
            c.subscribe(name, token, notes(event="INSERT"))
            body = f"round {n}"
            sql("insert into public.rt_notes (org_id, body) values (%s, %s)", world["org_a"], body)
            data = c.event(name, "postgres_changes", timeout=10)["payload"]["data"]
            assert data["record"]["body"] == body
            c.close()
            time.sleep(0.04 + (n % 5) * 0.005)  # around idle_stop: before, during, after
        assert realtime.feed.subscriptions == []
