"""The channels: joins, broadcast, presence, postgres_changes, tokens; the websocket
endpoint (``/realtime/v1/websocket``) the gateway mounts.

Replies, system messages and errors follow supabase/realtime's RealtimeChannel (its
``join/3``, ``handle_in/3`` and ``handle_info/2``): a join error is
``{"status": "error", "response": {"reason": "<Code>: <message>"}}``; a channel the server
ends (token expired, permission revoked) first gets a ``system`` message with the reason,
then ``phx_close``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from devstack.config import StackConfig
from devstack.postgres import admin_url
from devstack.realtime import wire
from devstack.realtime.changes import (
    Feed,
    Subscription,
    SubscriptionError,
    params_id,
    parse_params,
)
from devstack.realtime.tokens import TokenError, Verifier
from devstack.realtime.wire import Frame, UserBroadcast

log = logging.getLogger("devstack.realtime")

CONFIRM_TOKEN_INTERVAL = 5 * 60  # Realtime re-checks a channel's token at least this often
SUBSCRIBE_WAIT = 2.0  # seconds a join's reply waits for its postgres_changes to be live
TopicKey = tuple[bool, str]  # (private, name): a private and a public channel never meet


def _flag(value: Any) -> bool:
    """Realtime's FlexibleBoolean: true, "true", "True", 1 ..."""
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value) if isinstance(value, (bool, int)) else False


def _section(config: dict[str, Any], name: str) -> dict[str, Any]:
    value = config.get(name)
    return value if isinstance(value, dict) else {}


@dataclass
class Policies:
    """What RLS on realtime.messages allows this channel (None: not asked yet)."""

    broadcast_read: bool | None = None
    broadcast_write: bool | None = None
    presence_read: bool | None = None
    presence_write: bool | None = None


@dataclass(eq=False)
class Channel:
    socket: Socket
    topic: str  # realtime:<name>
    join_ref: str | None
    config: dict[str, Any]
    token: str
    claims: dict[str, Any] = field(default_factory=dict)
    policies: Policies | None = None  # None on a public channel
    presence_key: str = ""
    subs: list[Subscription] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    tracked: dict[str, Any] | None = None
    timer: asyncio.TimerHandle | None = None
    closed: bool = False

    @property
    def name(self) -> str:
        return self.topic.removeprefix("realtime:")

    @property
    def private(self) -> bool:
        return _flag(self.config.get("private"))

    @property
    def key(self) -> TopicKey:
        return (self.private, self.name)

    @property
    def presence_enabled(self) -> bool:
        return _flag(_section(self.config, "presence").get("enabled"))

    def option(self, name: str) -> bool:
        return _flag(_section(self.config, "broadcast").get(name))

    def push(self, event: str, payload: Any) -> None:
        self.socket.send(Frame(self.topic, event, payload, None, self.join_ref))

    def system(self, extension: str, status: str, message: str) -> None:
        self.push(
            "system",
            {"extension": extension, "status": status, "message": message, "channel": self.name},
        )

    def can_read(self, what: str) -> bool:
        if self.policies is None:
            return True
        return bool(getattr(self.policies, f"{what}_read"))


class Socket:
    """One websocket: its serializer, its channels, and a queue drained in order."""

    def __init__(self, server: Realtime, ws: WebSocket, vsn: str, token: str) -> None:
        self.server, self.ws, self.vsn, self.token = server, ws, vsn, token
        self.channels: dict[str, Channel] = {}
        self.queue: asyncio.Queue[str | bytes | None] = asyncio.Queue()

    def send(self, frame: Frame) -> None:
        data = wire.encode(self.vsn, frame)
        if data is not None:
            self.queue.put_nowait(data)

    def reply(self, frame: Frame, status: str, response: dict[str, Any]) -> None:
        self.send(
            Frame(
                frame.topic,
                "phx_reply",
                {"status": status, "response": response},
                frame.ref,
                frame.join_ref,
            )
        )

    async def _writer(self) -> None:
        while (data := await self.queue.get()) is not None:
            if isinstance(data, bytes):
                await self.ws.send_bytes(data)
            else:
                await self.ws.send_text(data)

    async def run(self) -> None:
        writer = asyncio.get_running_loop().create_task(self._writer())
        try:
            while True:
                try:
                    # Phoenix's websocket timeout: a client silent for it (no heartbeat) is gone.
                    message = await asyncio.wait_for(self.ws.receive(), self.server.timeout)
                except TimeoutError:
                    await self.ws.close()
                    break
                if message["type"] == "websocket.disconnect":
                    break
                data = message.get("text")
                if data is None:
                    data = message.get("bytes") or b""
                try:
                    frame = wire.decode(self.vsn, data)
                except wire.FrameError as exc:
                    log.info("realtime: unreadable frame: %s", exc)
                    continue
                await self.handle(frame)
        except WebSocketDisconnect:
            pass
        finally:
            for channel in list(self.channels.values()):
                self.server.close(channel, notify=False)
            self.queue.put_nowait(None)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer

    async def handle(self, frame: Frame) -> None:
        if frame.topic == "phoenix" and frame.event == "heartbeat":
            self.reply(frame, "ok", {})
            return
        if frame.event == "phx_join":
            await self.server.join(self, frame)
            return
        channel = self.channels.get(frame.topic)
        if channel is None:
            self.reply(frame, "error", {"reason": "unmatched topic"})
            return
        await self.server.handle_in(channel, frame)


class Realtime:
    """The local Realtime server: one per gateway, state in memory."""

    def __init__(
        self,
        config: StackConfig,
        error_backoff: float = 0.0,
        idle_stop: float = 10.0,
        timeout: float = 60.0,
    ) -> None:
        self.config = config
        self.url = admin_url(config.database_url)
        self.verifier = Verifier(config)
        self.error_backoff = error_backoff  # Realtime's CHANNEL_ERROR_BACKOFF_MS (5 s there)
        self.topics: dict[TopicKey, set[Channel]] = {}
        self.presence: dict[TopicKey, dict[str, list[tuple[Channel, dict[str, Any]]]]] = {}
        self.feed = Feed(self.url, self._db_message, self._feed_status)
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = None
        self._idle: asyncio.TimerHandle | None = None
        self.idle_stop = idle_stop  # seconds without any channel before the feed stops
        self.timeout = timeout  # seconds a socket may stay silent (Phoenix: 60)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                WebSocketRoute("/websocket", self.endpoint),
                Route("/api/broadcast", self.http_broadcast, methods=["POST"]),
                Route(
                    "/api/broadcast/{topic:path}/events/{event}",
                    self.http_broadcast_one,
                    methods=["POST"],
                ),
            ]
        )

    async def stop(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        await self.feed.close()
        if self._pool is not None:
            await self._pool.close()

    # -- the websocket ------------------------------------------------------------------

    async def endpoint(self, ws: WebSocket) -> None:
        vsn = ws.query_params.get("vsn", wire.V1)
        token = ws.headers.get("x-api-key") or ws.query_params.get("apikey")
        if vsn not in (wire.V1, wire.V2):
            await ws.send_denial_response(JSONResponse({"error": "unsupported vsn"}, 400))
            return
        if not token:
            await ws.send_denial_response(JSONResponse({"error": "API key is missing"}, 401))
            return
        try:
            self.verifier.claims(token)
        except TokenError as exc:
            message = "Token has expired" if exc.code == "InvalidJWTToken" else exc.message
            await ws.send_denial_response(JSONResponse({"error": message}, 401))
            return
        await ws.accept()
        await Socket(self, ws, vsn, token).run()

    async def http_broadcast(self, request: Request) -> Response:
        """POST /api/broadcast (realtime-js's httpSend, and send() before a join): a batch of
        {topic, event, payload, private}; a private topic's messages go only when the
        token may send on it. 202 and no body, as Realtime's BroadcastController."""
        claims = self._request_claims(request)
        if claims is None:
            return JSONResponse({"message": "Unauthorized"}, 401)
        try:
            body = await request.json()
        except ValueError:
            body = None
        messages = body.get("messages") if isinstance(body, dict) else None
        errors = _batch_errors(messages)
        if errors is not None:
            return JSONResponse({"errors": {"messages": errors}}, 422)
        assert isinstance(messages, list)
        allowed: dict[str, bool] = {}
        for message in messages:
            private = _flag(message.get("private", False))
            topic = message["topic"]
            if private and topic not in allowed:
                allowed[topic] = await self._may_write(claims, topic, "broadcast")
            if private and not allowed[topic]:
                continue
            payload = {"payload": message["payload"], "event": message["event"]}
            payload["type"] = "broadcast"
            if message.get("id"):
                payload["meta"] = {"id": message["id"]}
            for channel in self.topics.get((private, topic), ()):
                if channel.can_read("broadcast"):
                    channel.socket.send(Frame(channel.topic, "broadcast", payload))
        return Response(status_code=202)

    async def http_broadcast_one(self, request: Request) -> Response:
        """POST /api/broadcast/{topic}/events/{event}[?private=true] (realtime-js's
        httpSend): the body is the payload, JSON or binary (application/octet-stream)."""
        claims = self._request_claims(request)
        if claims is None:
            return JSONResponse({"message": "Unauthorized"}, 401)
        topic, event = request.path_params["topic"], request.path_params["event"]
        private = request.query_params.get("private") == "true"
        data = await request.body()
        binary = request.headers.get("content-type", "").startswith("application/octet-stream")
        if not data:
            return JSONResponse({"errors": {"payload": ["can't be blank"]}}, 422)
        if not binary:
            try:
                json.loads(data)
            except ValueError:
                return JSONResponse({"errors": {"payload": ["is invalid"]}}, 422)
        if private and not await self._may_write(claims, topic, "broadcast"):
            return JSONResponse({"message": "Unauthorized"}, 403)
        encoding = wire.BINARY_ENCODING if binary else wire.JSON_ENCODING
        broadcast = UserBroadcast(event, data, encoding)
        for channel in self.topics.get((private, topic), ()):
            if channel.can_read("broadcast"):
                channel.socket.send(Frame(channel.topic, "broadcast", broadcast))
        return Response(status_code=202)

    def _request_claims(self, request: Request) -> dict[str, Any] | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            return self.verifier.claims(token if scheme.lower() == "bearer" else "")
        except TokenError:
            return None

    # -- joining ------------------------------------------------------------------------

    async def join(self, socket: Socket, frame: Frame) -> None:
        if not frame.topic.startswith("realtime:"):
            socket.reply(frame, "error", {"reason": "unmatched topic"})
            return
        old = socket.channels.get(frame.topic)
        if old is not None:  # Phoenix closes the channel a duplicate join replaces
            self.close(old)
        params = frame.payload if isinstance(frame.payload, dict) else {}
        raw = params.get("config")
        config: dict[str, Any] = raw if isinstance(raw, dict) else {}
        token = params.get("access_token") or params.get("user_token")
        if not isinstance(token, str) or token.startswith("sb_"):
            token = socket.token
        channel = Channel(socket, frame.topic, frame.join_ref, config, token)
        try:
            if not channel.name:
                raise TokenError("TopicNameRequired", "You must provide a topic name")
            channel.claims = self.verifier.claims(token)
            if channel.private:
                channel.policies = Policies()
                await self._authorize_read(channel)
        except TokenError as exc:
            if self.error_backoff:
                await asyncio.sleep(self.error_backoff)
            socket.reply(frame, "error", {"reason": exc.reason})
            return
        presence = _section(config, "presence").get("key")
        channel.presence_key = presence if isinstance(presence, str) and presence else ""
        channel.presence_key = channel.presence_key or str(uuid.uuid1())
        entries = config.get("postgres_changes")
        entries = [e for e in entries if e is not None] if isinstance(entries, list) else []
        channel.changes = [{**e, "id": params_id(e)} if isinstance(e, dict) else e for e in entries]
        socket.channels[frame.topic] = channel
        self.topics.setdefault(channel.key, set()).add(channel)
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        self.feed.start()
        subscribing = None
        if entries:
            # Realtime replies first and subscribes after; here the reply waits (a little)
            # for the subscription, so that a client that takes the reply for "subscribed"
            # (the Python client does) misses no change committed after it.
            subscribing = asyncio.get_running_loop().create_task(self._subscribe(channel, entries))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(subscribing), SUBSCRIBE_WAIT)
        socket.reply(frame, "ok", {"postgres_changes": channel.changes})
        self._arm(channel)
        if subscribing is not None:
            subscribing.add_done_callback(functools.partial(self._tell, channel))
        if channel.presence_enabled and channel.can_read("presence"):
            channel.push("presence_state", self._presence_state(channel.key))
        if channel.option("replication_ready"):
            asyncio.get_running_loop().create_task(self._replication_ready(channel))

    async def _authorize_read(self, channel: Channel) -> None:
        """Realtime's read check: probe rows inserted into realtime.messages, selected
        back as the user with realtime.topic() set, the transaction rolled back."""
        policies = channel.policies
        assert policies is not None
        extensions = ["broadcast"] + (["presence"] if channel.presence_enabled else [])
        probes = {ext: uuid.uuid4() for ext in extensions}
        try:
            async with (await self._connections()).connection() as conn:
                for ext, probe in probes.items():
                    await conn.execute(
                        "insert into realtime.messages (id, topic, extension) values (%s, %s, %s)",
                        (probe, channel.name, ext),
                    )
                await self._set_context(conn, channel.claims, channel.name)
                rows = await (
                    await conn.execute(
                        "select id from realtime.messages where id = any(%s)",
                        (list(probes.values()),),
                    )
                ).fetchall()
                await conn.rollback()
            seen = {r[0] for r in rows}
            for ext, probe in probes.items():
                setattr(policies, f"{ext}_read", probe in seen)
        except psycopg.OperationalError as exc:  # PostgreSQL unreachable (or the pool)
            log.info("realtime: read authorization failed: %s", exc)
            raise TokenError(
                "UnableToConnectToProject", "Realtime was unable to connect to the project database"
            ) from None
        except psycopg.Error as exc:  # Realtime: RlsPolicyError, the join refused
            log.info("realtime: read authorization failed: %s", exc)
            policies.broadcast_read = policies.presence_read = False
        if not (policies.broadcast_read or policies.presence_read):
            raise TokenError(
                "Unauthorized",
                f"You do not have permissions to read from this Channel topic: {channel.name}",
            )

    async def _authorize_write(self, channel: Channel, extension: str) -> bool:
        """Realtime's write check, asked once per channel and token."""
        policies = channel.policies
        assert policies is not None
        allowed = getattr(policies, f"{extension}_write")
        if allowed is None:
            allowed = await self._may_write(channel.claims, channel.name, extension)
            setattr(policies, f"{extension}_write", allowed)
        return bool(allowed)

    async def _may_write(self, claims: dict[str, Any], topic: str, extension: str) -> bool:
        """An insert into realtime.messages as the user, rolled back: a policy's refusal
        (42501) is a no."""
        try:
            async with (await self._connections()).connection() as conn:
                await self._set_context(conn, claims, topic)
                try:
                    async with conn.transaction():
                        await conn.execute(
                            "insert into realtime.messages (topic, extension) values (%s, %s)",
                            (topic, extension),
                        )
                    allowed = True
                except psycopg.errors.InsufficientPrivilege:
                    allowed = False
                await conn.rollback()
        except psycopg.Error as exc:
            log.info("realtime: write authorization failed: %s", exc)
            return False
        return allowed

    async def _set_context(
        self, conn: psycopg.AsyncConnection[Any], claims: dict[str, Any], topic: str
    ) -> None:
        role = claims.get("role")
        sub = claims.get("sub")
        await conn.execute(
            "select set_config('role', %s, true), set_config('realtime.topic', %s, true),"
            " set_config('request.jwt.claims', %s, true),"
            " set_config('request.jwt.claim.sub', %s, true),"
            " set_config('request.jwt.claim.role', %s, true),"
            " set_config('request.headers', '{}', true)",
            (str(role), topic, json.dumps(claims), "" if sub is None else str(sub), str(role)),
        )

    async def _connections(self) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
        if self._pool is None:
            self._pool = AsyncConnectionPool(
                self.url,
                min_size=1,
                max_size=4,
                timeout=3.0,
                open=False,
                check=AsyncConnectionPool.check_connection,
            )
            await self._pool.open()
        return self._pool

    async def _subscribe(self, channel: Channel, entries: list[Any]) -> tuple[str, str] | None:
        """The channel's postgres_changes made live: the system message's status and text
        (None: the channel closed meanwhile)."""
        try:
            subs = []
            for entry, described in zip(entries, channel.changes, strict=True):
                action, schema, table, filters = parse_params(entry)
                subs.append(
                    Subscription(
                        id=described["id"] if isinstance(described, dict) else 0,
                        params=entry,
                        action=action,
                        schema=schema,
                        table=table,
                        filters=filters,
                        claims=channel.claims,
                        deliver=functools.partial(self._change, channel),
                    )
                )
            await self.feed.subscribe(subs)
        except SubscriptionError as exc:
            return "error", str(exc)
        except psycopg.Error:
            return "error", "Realtime was unable to connect to the project database"
        if channel.closed:
            self.feed.unsubscribe(subs)
            return None
        self.feed.unsubscribe(channel.subs)
        channel.subs = subs
        return "ok", "Subscribed to PostgreSQL"

    def _tell(self, channel: Channel, task: asyncio.Task[tuple[str, str] | None]) -> None:
        """The subscription's outcome as Realtime's postgres_changes system message."""
        outcome = None if task.cancelled() or task.exception() else task.result()
        if outcome is not None and not channel.closed:
            channel.system("postgres_changes", *outcome)

    async def _replication_ready(self, channel: Channel) -> None:
        await self.feed.ready.wait()
        if not channel.closed:
            channel.system("system", "ok", "Replication connection established")

    # -- messages on a joined channel ---------------------------------------------------

    async def handle_in(self, channel: Channel, frame: Frame) -> None:
        payload = frame.payload
        if frame.event == "phx_leave":
            channel.socket.reply(frame, "ok", {})
            self.close(channel)
        elif frame.event == "broadcast":
            await self._broadcast(channel, frame)
        elif frame.event == "presence":
            status, response = await self._presence(channel, payload)
            channel.socket.reply(frame, status, response)
        elif frame.event == "access_token" and isinstance(payload, dict):
            await self._refresh(channel, payload.get("access_token"))

    async def _broadcast(self, channel: Channel, frame: Frame) -> None:
        if channel.private and not await self._authorize_write(channel, "broadcast"):
            return  # Realtime neither relays nor acknowledges it
        for other in self.topics.get(channel.key, ()):
            if other is channel and not channel.option("self"):
                continue
            if other.can_read("broadcast"):
                other.socket.send(Frame(other.topic, "broadcast", frame.payload))
        if channel.option("ack"):
            channel.socket.reply(frame, "ok", {})

    # -- presence -----------------------------------------------------------------------

    async def _presence(self, channel: Channel, payload: Any) -> tuple[str, dict[str, Any]]:
        """Realtime's PresenceHandler: its reply's status and response."""
        if not isinstance(payload, dict) or "event" not in payload:
            return "ok", {}  # nothing to do, acknowledged
        event = str(payload["event"]).lower()
        if event == "track":
            meta = payload.get("payload", {})
            if not isinstance(meta, dict):
                return "error", {"reason": "Presence track payload must be a map"}
            if channel.private:
                if channel.policies and channel.policies.presence_read is None:
                    await self._presence_read(channel)
                if not await self._authorize_write(channel, "presence"):
                    return "error", {}
            self.track(channel, meta)
            return "ok", {}
        if event == "untrack":
            self.untrack(channel)
            return "ok", {}
        return "error", {}

    async def _presence_read(self, channel: Channel) -> None:
        assert channel.policies is not None
        broadcast = channel.policies.broadcast_read
        channel.config = {**channel.config, "presence": {"enabled": True}}
        with contextlib.suppress(TokenError):
            await self._authorize_read(channel)
        channel.policies.broadcast_read = broadcast

    def track(self, channel: Channel, meta: dict[str, Any]) -> None:
        if channel.tracked == meta:
            return
        entries = self.presence.setdefault(channel.key, {}).setdefault(channel.presence_key, [])
        new = {**meta, "phx_ref": _phx_ref()}
        leaves = {}
        for entry in entries:
            if entry[0] is channel:
                entries.remove(entry)
                new["phx_ref_prev"] = entry[1]["phx_ref"]
                leaves = {channel.presence_key: {"metas": [entry[1]]}}
                break
        entries.append((channel, new))
        channel.tracked = meta
        self._presence_diff(channel.key, {channel.presence_key: {"metas": [new]}}, leaves)

    def untrack(self, channel: Channel) -> None:
        entries = self.presence.get(channel.key, {}).get(channel.presence_key, [])
        for entry in entries:
            if entry[0] is channel:
                entries.remove(entry)
                if not entries:
                    del self.presence[channel.key][channel.presence_key]
                channel.tracked = None
                self._presence_diff(channel.key, {}, {channel.presence_key: {"metas": [entry[1]]}})
                return

    def _presence_state(self, key: TopicKey) -> dict[str, Any]:
        return {
            name: {"metas": [meta for _, meta in entries]}
            for name, entries in self.presence.get(key, {}).items()
            if entries
        }

    def _presence_diff(self, key: TopicKey, joins: dict[str, Any], leaves: dict[str, Any]) -> None:
        for channel in self.topics.get(key, ()):
            if channel.can_read("presence"):
                channel.push("presence_diff", {"joins": joins, "leaves": leaves})

    # -- tokens -------------------------------------------------------------------------

    def _arm(self, channel: Channel) -> None:
        if channel.timer is not None:
            channel.timer.cancel()
        exp = channel.claims.get("exp")
        remaining = float(exp) - time.time() if isinstance(exp, (int, float)) else 0.0
        delay = max(0.0, min(CONFIRM_TOKEN_INTERVAL, remaining))
        channel.timer = asyncio.get_running_loop().call_later(
            delay, lambda: asyncio.ensure_future(self._confirm(channel))
        )

    async def _confirm(self, channel: Channel) -> None:
        if channel.closed:
            return
        try:
            channel.claims = self.verifier.claims(channel.token)
        except TokenError as exc:
            self.shutdown(channel, exc.message)
            return
        self._arm(channel)

    async def _refresh(self, channel: Channel, token: Any) -> None:
        if not isinstance(token, str) or token.startswith("sb_") or token == channel.token:
            return
        previous = channel.policies
        channel.token = token
        try:
            channel.claims = self.verifier.claims(token)
            if channel.private:
                channel.policies = Policies()
                await self._authorize_read(channel)
        except TokenError as exc:
            self.shutdown(channel, exc.message)
            return
        now = channel.policies
        if previous and now and self._revoked(previous, now):
            self.shutdown(
                channel,
                f"You no longer have permission to read from this Channel topic: {channel.name}",
            )
            return
        self._arm(channel)
        if channel.subs:  # new subscriptions with the new claims
            task = asyncio.get_running_loop().create_task(
                self._subscribe(channel, [s.params for s in channel.subs])
            )
            task.add_done_callback(functools.partial(self._tell, channel))

    @staticmethod
    def _revoked(previous: Policies, now: Policies) -> bool:
        return (previous.broadcast_read is True and now.broadcast_read is False) or (
            previous.presence_read is True and now.presence_read is False
        )

    # -- endings ------------------------------------------------------------------------

    def shutdown(self, channel: Channel, message: str) -> None:
        """Realtime's shutdown_response: the reason as a system message, then phx_close."""
        channel.system("system", "error", message)
        self.close(channel)

    def close(self, channel: Channel, notify: bool = True) -> None:
        if channel.closed:
            return
        channel.closed = True
        if channel.timer is not None:
            channel.timer.cancel()
        self.feed.unsubscribe(channel.subs)
        self.topics.get(channel.key, set()).discard(channel)
        if channel.socket.channels.get(channel.topic) is channel:
            del channel.socket.channels[channel.topic]
        self.untrack(channel)
        if notify:
            channel.socket.send(
                Frame(channel.topic, "phx_close", {}, channel.join_ref, channel.join_ref)
            )
        if not any(self.topics.values()) and self._idle is None:
            self._idle = asyncio.get_running_loop().call_later(
                self.idle_stop, lambda: asyncio.ensure_future(self._stop_feed())
            )

    async def _stop_feed(self) -> None:
        """No channel for idle_stop seconds: the slot is dropped, so PostgreSQL neither
        keeps WAL for it nor decodes the project's writes for nobody."""
        self._idle = None
        if not any(self.topics.values()):
            await self.feed.close()
            if any(self.topics.values()):  # a join came meanwhile
                self.feed.start()

    # -- from the database --------------------------------------------------------------

    def _change(self, channel: Channel, ids: list[int], data: dict[str, Any]) -> None:
        if not channel.closed:
            channel.socket.send(
                Frame(channel.topic, "postgres_changes", {"ids": ids, "data": data})
            )

    def _db_message(self, topic: str, event: str, payload: str, private: bool, id_: str) -> None:
        broadcast = UserBroadcast(event, payload.encode(), wire.JSON_ENCODING, {"id": id_})
        for channel in self.topics.get((private, topic), ()):
            if channel.can_read("broadcast"):
                channel.socket.send(Frame(channel.topic, "broadcast", broadcast))

    async def _feed_status(self, up: bool) -> None:
        for channels in self.topics.values():
            for channel in channels:
                if not channel.subs:
                    continue
                if up:
                    channel.system("postgres_changes", "ok", "Subscribed to PostgreSQL")
                else:
                    channel.system(
                        "postgres_changes",
                        "error",
                        "Realtime was unable to connect to the project database",
                    )


def _batch_errors(messages: Any) -> list[dict[str, list[str]]] | None:
    """The changeset errors of a broadcast batch (None: valid), as Ecto words them."""
    if not isinstance(messages, list) or not messages:
        return [{"messages": ["can't be blank"]}]
    errors: list[dict[str, list[str]]] = []
    for message in messages:
        found: dict[str, list[str]] = {}
        if not isinstance(message, dict):
            found["message"] = ["is invalid"]
        else:
            for key in ("topic", "event", "payload"):
                if message.get(key) in (None, ""):
                    found[key] = ["can't be blank"]
            if "payload" not in found and not isinstance(message["payload"], dict):
                found["payload"] = ["is invalid"]
        errors.append(found)
    return errors if any(errors) else None


def _phx_ref() -> str:
    return base64.urlsafe_b64encode(os.urandom(9)).decode()
