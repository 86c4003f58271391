"""The product's realtime design (docs/realtime.md) through the official Python client,
`realtime` (the version the project installs), against the local stack or a real Supabase
(SUPABASE_URL and its keys, as the REST and Auth conformance tests): postgres_changes on
the published tables with the organization filter, two organizations and 1,000 changes
with no delivery crossing them, filters, the database's broadcasts on the organizations'
private topics, client broadcast and Presence on the team channel, a private channel
refused to a non-member, and expired tokens. supabase-js runs the same design in Node:
test_realtime_js.py."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import jwt
import psycopg
import pytest
from realtime import AsyncRealtimeChannel, AsyncRealtimeClient, RealtimeSubscribeStates
from realtime.types import RealtimeChannelOptions
from realtime.types import RealtimePostgresChangesListenEvent as Event

from devstack.postgres import Database
from tests.stacks import Target

pytestmark = pytest.mark.slow  # about 20 s: websockets and 1,000 changes through the WAL


@dataclass
class Person:
    id: str
    email: str
    org: str  # the organization the person acts in


@dataclass
class World:
    """Two organizations: A (alice its owner, mia a member, vera a viewer) and B (bob)."""

    stack: Target
    database: Database
    people: dict[str, Person] = field(default_factory=dict)
    clients: dict[str, str] = field(default_factory=dict)  # organization -> a client of it
    opened: list[AsyncRealtimeClient] = field(default_factory=list)  # closed by run()

    def token(self, name: str, **claims: Any) -> str:
        person = self.people[name]
        now = int(time.time())
        payload: dict[str, Any] = {
            "sub": person.id,
            "role": "authenticated",
            "aud": "authenticated",
            "iat": now,
            "exp": now + 3600,
            "email": person.email,
            "aal": "aal1",
        }
        payload.update(claims)
        return jwt.encode(payload, self.stack.config.keys.jwt_secret, algorithm="HS256")

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database.url, autocommit=True) as conn:
            cur = conn.execute(query, params or None)
            return cur.fetchall() if cur.description else []

    def client(self, name: str | None = None, **claims: Any) -> AsyncRealtimeClient:
        """The official client as supabase-py builds it: the anon key on the socket, the
        user's access token on every join."""
        anon = self.stack.config.keys.anon_key
        client = AsyncRealtimeClient(self.stack.url + "/realtime/v1", token=anon, max_retries=1)
        if name is not None:
            client.access_token = self.token(name, **claims)
        self.opened.append(client)
        return client

    def run(self, coro: Callable[[], Awaitable[None]]) -> None:
        """The scenario on a loop of its own; its clients closed even when it fails (a
        websocket left open was collected, as an unclosed socket, during a later test)."""

        async def scenario() -> None:
            try:
                await asyncio.wait_for(coro(), timeout=400)
            finally:
                while self.opened:
                    await self.opened.pop().close()

        asyncio.run(scenario())

    def topic(self, org: str, channel: str) -> str:
        return f"org:{self.people[org].org}:{channel}"


@pytest.fixture(scope="module")
def world(stack: Target, database: Database) -> Iterator[World]:
    """People made through the pgTAP helpers (tests.create_supabase_user, as the REST
    conformance tests do), on the local stack or a real Supabase's database."""
    w = World(stack, database)
    run = uuid.uuid4().hex[:8]
    for name in ("alice", "bob"):
        uid = w.sql("select tests.create_supabase_user(%s)::text", f"rt-{name}-{run}")[0][0]
        org = w.sql("select tests.personal_org(%s)::text", f"rt-{name}-{run}")[0][0]
        email = w.sql("select email from auth.users where id = %s", uid)[0][0]
        w.people[name] = Person(uid, email, org)
        w.clients[name] = w.sql(
            "insert into public.clients (organization_id, company_name, currency)"
            " values (%s, %s, 'USD') returning id::text",
            org,
            f"Realtime {name}",
        )[0][0]
    for name, role in (("mia", "member"), ("vera", "viewer")):
        uid = w.sql("select tests.create_supabase_user(%s)::text", f"rt-{name}-{run}")[0][0]
        email = w.sql("select email from auth.users where id = %s", uid)[0][0]
        w.sql(
            "select tests.add_member(%s, %s, %s)", w.people["alice"].org, f"rt-{name}-{run}", role
        )
        w.people[name] = Person(uid, email, w.people["alice"].org)
    yield w
    for name in ("alice", "bob"):
        w.sql("delete from public.organizations where id = %s", w.people[name].org)
    w.sql("delete from auth.users where id = any(%s::uuid[])", [p.id for p in w.people.values()])


def private(**config: Any) -> RealtimeChannelOptions:
    """A private channel's options (config's broadcast and presence as given)."""
    return cast(RealtimeChannelOptions, {"config": {"private": True, **config}})


async def subscribed(channel: AsyncRealtimeChannel) -> tuple[str, str | None]:
    """Subscribes and answers the state the client reported, with the error's text."""
    states: list[tuple[str, str | None]] = []

    def on_state(state: RealtimeSubscribeStates, error: Exception | None) -> None:
        states.append((str(state.value), None if error is None else str(error)))

    await channel.subscribe(on_state)
    assert states, "the client reported no state for the join"
    return states[-1]


async def listening(channel: AsyncRealtimeChannel) -> None:
    """Subscribes a channel with postgres_changes and waits for the server's system
    message "Subscribed to PostgreSQL": changes committed before it are not delivered
    (on Supabase too), and a client's SUBSCRIBED comes with the join's reply, earlier."""
    ready: list[Any] = []  # realtime.message.SuccessSystemPayload (errors go elsewhere)
    channel.on_system(ready.append)
    assert await subscribed(channel) == ("SUBSCRIBED", None)
    assert await until(lambda: any(m.extension == "postgres_changes" for m in ready)), (
        "no system message Subscribed to PostgreSQL"
    )


async def until(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Waits for deliveries: generous, since the machine may be loaded (a delivery that
    never comes still fails the test, only later)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


def kind(change: dict[str, Any]) -> str:
    """INSERT, UPDATE or DELETE (the client gives an enum of str)."""
    return str(getattr(change["type"], "value", change["type"]))


def changes(into: list[dict[str, Any]]) -> Callable[[Any], None]:
    def record(payload: Any) -> None:
        into.append(payload["data"])

    return record


# --------------------------------------------------------------------------------------
# postgres_changes


def test_a_member_follows_their_organizations_invoices(world: World) -> None:
    """INSERT, UPDATE and DELETE of an invoice, with the organization filter: the row as
    the member may select it, the old row of an update, and a DELETE's primary key only
    (Realtime cannot check RLS for a deleted row). One write at a time, each delivered
    before the next: Realtime checks an insert's or an update's row as it is when it reads
    the change, so a row already deleted by then reaches no one (on Supabase too;
    test_realtime_server.py's test_a_row_deleted_before_realtime_reads_its_insert). The
    three written back to back lost the INSERT, or the INSERT and the UPDATE, whenever the
    server read them after the DELETE's commit (2 of 4 full runs on a busy machine)."""

    async def scenario() -> None:
        seen: list[dict[str, Any]] = []
        client = world.client("alice")
        channel = client.channel("invoices-a").on_postgres_changes(
            Event.All,
            schema="public",
            table="invoices",
            filter=f"organization_id=eq.{world.people['alice'].org}",
            callback=changes(seen),
        )
        await listening(channel)
        (invoice,) = world.sql(
            "insert into public.invoices (organization_id, client_id, notes)"
            " values (%s, %s, 'first') returning id::text, invoice_number",
            world.people["alice"].org,
            world.clients["alice"],
        )
        assert await until(lambda: len(seen) >= 1)
        world.sql("update public.invoices set notes = 'second' where id = %s", invoice[0])
        assert await until(lambda: len(seen) >= 2)
        world.sql("delete from public.invoices where id = %s", invoice[0])
        assert await until(lambda: len(seen) >= 3)
        await client.close()
        assert [kind(c) for c in seen] == ["INSERT", "UPDATE", "DELETE"]
        assert seen[0]["record"]["id"] == invoice[0]
        assert seen[0]["record"]["invoice_number"] == invoice[1]
        assert seen[0]["record"]["notes"] == "first"
        assert (seen[0]["schema"], seen[0]["table"]) == ("public", "invoices")
        assert seen[1]["record"]["notes"] == "second"
        assert seen[1]["old_record"]["notes"] == "first"
        assert seen[2]["old_record"] == {"id": invoice[0]}

    world.run(scenario)


def test_two_organizations_a_thousand_changes_and_none_crosses(world: World) -> None:
    """1,000 changes of client activities, 500 per organization (250 inserts, 150
    updates, 100 deletes, the two organizations' statements interleaved): each
    organization's subscribers receive their 500 and not one of the other's, with the
    organization filter and, for inserts and updates, without any filter (RLS decides,
    per subscriber). The phases wait for their deliveries: Realtime checks an insert's
    row as it is when the change is processed, so a row deleted before that is not
    delivered as inserted (on Supabase too)."""
    a, b = world.people["alice"], world.people["bob"]
    other = {"a": "b", "b": "a"}

    async def scenario() -> None:
        got: dict[str, list[dict[str, Any]]] = {k: [] for k in ("a", "b", "a_all", "b_all")}
        clients = []
        for key, name, org in (("a", "alice", a.org), ("b", "bob", b.org)):
            client = world.client(name)
            clients.append(client)
            filtered = client.channel(f"activities-{key}").on_postgres_changes(
                Event.All,
                schema="public",
                table="client_activities",
                filter=f"organization_id=eq.{org}",
                callback=changes(got[key]),
            )
            await listening(filtered)
            unfiltered = client.channel(f"activities-{key}-all")
            for event in (Event.Insert, Event.Update):
                unfiltered.on_postgres_changes(
                    event,
                    schema="public",
                    table="client_activities",
                    callback=changes(got[f"{key}_all"]),
                )
            await listening(unfiltered)

        def count(key: str) -> Counter[str]:
            return Counter(kind(c) for c in got[key])

        async def delivered(inserts: int, updates: int, deletes: int) -> None:
            want = Counter({"INSERT": inserts, "UPDATE": updates, "DELETE": deletes})
            unfiltered = Counter({"INSERT": inserts, "UPDATE": updates})
            arrived = await until(
                lambda: (
                    all(count(k) == want for k in ("a", "b"))
                    and all(count(f"{k}_all") == unfiltered for k in ("a", "b"))
                ),
                timeout=120,
            )
            assert arrived, {k: sorted(count(k).items()) for k in got}

        ids: dict[str, list[str]] = {"alice": [], "bob": []}
        for n in range(10):  # 25 inserts per organization a round
            for name in ("alice", "bob"):
                ids[name] += [
                    row[0]
                    for row in world.sql(
                        "insert into public.client_activities"
                        " (organization_id, client_id, activity, type)"
                        " select %s, %s, 'round ' || %s || ' #' || i, 'other'"
                        " from generate_series(1, 25) i returning id::text",
                        world.people[name].org,
                        world.clients[name],
                        n,
                    )
                ]
        await delivered(250, 0, 0)
        for n in range(5):  # 30 updates per organization a round
            for name in ("alice", "bob"):
                world.sql(
                    "update public.client_activities set activity = activity || ' (seen)'"
                    " where id = any(%s::uuid[])",
                    ids[name][n * 30 : n * 30 + 30],
                )
        await delivered(250, 150, 0)
        for n in range(5):  # 20 deletes per organization a round
            for name in ("alice", "bob"):
                world.sql(
                    "delete from public.client_activities where id = any(%s::uuid[])",
                    ids[name][150 + n * 20 : 150 + n * 20 + 20],
                )
        await delivered(250, 150, 100)
        await asyncio.sleep(1)  # anything late, or crossing, would arrive by now
        for client in clients:
            await client.close()
        await delivered(250, 150, 100)

        def org_of(change: dict[str, Any]) -> str | None:
            return (change.get("record") or {}).get("organization_id")

        mine = {"a": set(ids["alice"]), "b": set(ids["bob"])}
        for key, org in (("a", a.org), ("b", b.org)):
            received = got[key] + got[f"{key}_all"]
            assert all(org_of(c) == org for c in received if kind(c) != "DELETE")
            deleted = {c["old_record"]["id"] for c in got[key] if kind(c) == "DELETE"}
            assert deleted <= mine[key]
            crossing = [
                c
                for c in received
                if org_of(c) not in (None, org)
                or (c.get("old_record") or {}).get("id") in mine[other[key]]
            ]
            assert crossing == []

    world.run(scenario)


def test_filters_narrow_what_a_subscriber_receives(world: World) -> None:
    """The filters Realtime supports: eq on a column, in on a list, and an event type."""
    org, client_id = world.people["alice"].org, world.clients["alice"]

    async def scenario() -> None:
        payments: list[dict[str, Any]] = []
        some: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        client = world.client("alice")
        channel = client.channel("filters")
        channel.on_postgres_changes(
            Event.Insert,
            schema="public",
            table="client_activities",
            filter="type=eq.payment",
            callback=changes(payments),
        )
        channel.on_postgres_changes(
            Event.Insert,
            schema="public",
            table="client_activities",
            filter="type=in.(communication,invoice_sent)",
            callback=changes(some),
        )
        channel.on_postgres_changes(
            Event.Update,
            schema="public",
            table="client_activities",
            filter=f"organization_id=eq.{org}",
            callback=changes(updates),
        )
        await listening(channel)
        world.sql(
            "insert into public.client_activities (organization_id, client_id, activity, type)"
            " select %s, %s, t, t from unnest(array['payment', 'communication', 'invoice_sent',"
            " 'other', 'payment']) t",
            org,
            client_id,
        )
        world.sql(
            "update public.client_activities set activity = 'changed'"
            " where organization_id = %s and type = 'other'",
            org,
        )
        assert await until(lambda: len(payments) >= 2 and len(some) >= 2 and len(updates) >= 1)
        await asyncio.sleep(0.5)
        await client.close()
        assert [c["record"]["type"] for c in payments] == ["payment", "payment"]
        assert sorted(c["record"]["type"] for c in some) == ["communication", "invoice_sent"]
        assert {kind(c) for c in updates} == {"UPDATE"}
        assert {c["record"]["activity"] for c in updates} == {"changed"}

    world.run(scenario)


# --------------------------------------------------------------------------------------
# Broadcast and Presence on the organizations' private topics


def test_the_database_broadcasts_to_members_and_viewers_only(world: World) -> None:
    """dashboard_changed (a vendor invoice) and import_progress reach the owner and a viewer of the
    organization on its private topics; a non-member's join of them is refused."""
    org = world.people["alice"].org

    async def scenario() -> None:
        heard: dict[str, list[Any]] = {"alice": [], "vera": [], "imports": []}
        clients = []
        for name in ("alice", "vera"):
            client = world.client(name)
            clients.append(client)
            dashboard = client.channel(world.topic("alice", "dashboard"), private())
            dashboard.on_broadcast("dashboard_changed", heard[name].append)
            assert await subscribed(dashboard) == ("SUBSCRIBED", None)
        imports = clients[0].channel(world.topic("alice", "imports"), private())
        imports.on_broadcast("import_progress", heard["imports"].append)
        assert await subscribed(imports) == ("SUBSCRIBED", None)

        outsider = world.client("bob")
        refused = outsider.channel(world.topic("alice", "dashboard"), private())
        state, error = await subscribed(refused)
        assert state == "CHANNEL_ERROR"
        assert "Unauthorized" in str(error)

        world.sql(
            "insert into public.vendor_invoices (organization_id, vendor_name, invoice_number,"
            " invoice_date, currency, subtotal, total_amount)"
            " values (%s, 'Realtime Supplies', %s, current_date, 'USD', 10, 10)",
            org,
            f"RT-{uuid.uuid4().hex[:8]}",
        )
        world.sql(
            "insert into public.import_batches (organization_id, kind, source, status, rows_total)"
            " values (%s, 'vendor_invoices', 'api', 'processing', 10000)",
            org,
        )
        assert await until(lambda: all(heard.values()))
        for client in (*clients, outsider):
            await client.close()
        for name in ("alice", "vera"):
            message = heard[name][0]["payload"]
            assert message["organization_id"] == org
            assert message["source"] == "vendor_invoices"
        (batch,) = heard["imports"][0]["payload"]["batches"]
        assert (batch["status"], batch["rows_total"]) == ("processing", 10000)
        assert "s3_key" not in batch

    world.run(scenario)


def test_members_broadcast_on_the_team_channel_and_viewers_only_listen(world: World) -> None:
    """Client broadcast on org:<id>:team: a member's message reaches the others (and a
    viewer); a viewer's is not relayed (Realtime Authorization's write check)."""

    async def scenario() -> None:
        heard: dict[str, list[Any]] = {"alice": [], "mia": [], "vera": []}
        channels: dict[str, AsyncRealtimeChannel] = {}
        clients = []
        for name in ("alice", "mia", "vera"):
            client = world.client(name)
            clients.append(client)
            channel = client.channel(
                world.topic("alice", "team"),
                private(broadcast={"self": False, "ack": False}),
            )
            channel.on_broadcast("note", heard[name].append)
            assert await subscribed(channel) == ("SUBSCRIBED", None)
            channels[name] = channel
        await channels["mia"].send_broadcast("note", {"text": "from mia"})
        await channels["vera"].send_broadcast("note", {"text": "from vera"})
        assert await until(lambda: bool(heard["alice"]) and bool(heard["vera"]))
        await asyncio.sleep(1)
        for client in clients:
            await client.close()
        assert [m["payload"] for m in heard["alice"]] == [{"text": "from mia"}]
        assert [m["payload"] for m in heard["vera"]] == [{"text": "from mia"}]
        assert heard["mia"] == []  # self: false

    world.run(scenario)


def test_presence_on_the_team_channel(world: World) -> None:
    """Members track themselves and each sees the other in the presence state; a
    viewer listens but its own track is not shown."""

    async def scenario() -> None:
        channels: dict[str, AsyncRealtimeChannel] = {}
        clients = []
        for name in ("alice", "mia", "vera"):
            client = world.client(name)
            clients.append(client)
            channel = client.channel(
                world.topic("alice", "team"),
                private(presence={"key": name, "enabled": True}),
            )
            channel.on_presence_sync(lambda: None)
            assert await subscribed(channel) == ("SUBSCRIBED", None)
            channels[name] = channel
        await channels["alice"].track({"looking_at": "invoice 1"})
        await channels["mia"].track({"looking_at": "invoice 2"})
        await channels["vera"].track({"looking_at": "invoice 3"})

        def keys(name: str) -> set[str]:
            return set(channels[name].presence_state())

        assert await until(lambda: keys("vera") == {"alice", "mia"})
        assert await until(lambda: keys("alice") == {"alice", "mia"})
        await asyncio.sleep(1)
        assert keys("alice") == {"alice", "mia"}
        looking = {
            cast(dict[str, Any], m)["looking_at"] for m in channels["vera"].presence_state()["mia"]
        }
        await channels["mia"].untrack()
        assert await until(lambda: keys("alice") == {"alice"})
        for client in clients:
            await client.close()
        assert looking == {"invoice 2"}

    world.run(scenario)


# --------------------------------------------------------------------------------------
# Tokens


def test_an_expired_token_cannot_join(world: World) -> None:
    async def scenario() -> None:
        client = world.client("alice", exp=int(time.time()) - 10)
        channel = client.channel(world.topic("alice", "dashboard"), private())
        state, error = await subscribed(channel)
        await client.close()
        assert state == "CHANNEL_ERROR"
        assert "expired" in str(error).lower()

    world.run(scenario)


def test_a_token_that_expires_while_subscribed_stops_the_deliveries(world: World) -> None:
    """The server ends the subscription when the token expires: changes after that are
    not delivered."""
    org = world.people["alice"].org

    async def scenario() -> None:
        seen: list[dict[str, Any]] = []
        client = world.client("alice", exp=int(time.time()) + 3)
        channel = client.channel("expiring").on_postgres_changes(
            Event.Insert,
            schema="public",
            table="client_activities",
            filter=f"organization_id=eq.{org}",
            callback=changes(seen),
        )
        await listening(channel)
        world.sql(
            "insert into public.client_activities (organization_id, client_id, activity)"
            " values (%s, %s, 'before')",
            org,
            world.clients["alice"],
        )
        assert await until(lambda: len(seen) == 1)
        await asyncio.sleep(4.5)
        world.sql(
            "insert into public.client_activities (organization_id, client_id, activity)"
            " values (%s, %s, 'after')",
            org,
            world.clients["alice"],
        )
        await asyncio.sleep(2)
        await client.close()
        assert [c["record"]["activity"] for c in seen] == ["before"]

    world.run(scenario)
