"""Phoenix's wire formats, as Supabase Realtime speaks them.

``vsn=1.0.0`` (the Python ``realtime`` client): every frame is a JSON object
``{"topic", "event", "payload", "ref", "join_ref"}``.

``vsn=2.0.0`` (realtime-js's default): text frames are JSON arrays
``[join_ref, ref, topic, event, payload]``; a client's broadcast comes as a binary
"user broadcast push" (kind 3) and the server relays broadcasts to such clients as a
binary "user broadcast" (kind 4), the user payload kept as the bytes the sender sent
(RealtimeWeb.Socket.V2Serializer).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

V1 = "1.0.0"
V2 = "2.0.0"
USER_BROADCAST_PUSH = 3
USER_BROADCAST = 4
JSON_ENCODING = 1
BINARY_ENCODING = 0


class FrameError(ValueError):
    """A frame the serializer cannot read."""


@dataclass
class Frame:
    """One message of the protocol, either way."""

    topic: str
    event: str
    payload: Any
    ref: str | None = None
    join_ref: str | None = None


@dataclass(frozen=True)
class UserBroadcast:
    """A broadcast whose user payload is kept as bytes (from a binary push or from the
    database), with its encoding and metadata (``{"id": ...}`` for a database message)."""

    event: str
    data: bytes
    encoding: int = JSON_ENCODING
    meta: dict[str, Any] = field(default_factory=dict)

    def as_payload(self) -> dict[str, Any] | None:
        """The JSON payload a 1.0.0 client receives (None: binary data it cannot carry)."""
        if self.encoding != JSON_ENCODING:
            return None
        body: dict[str, Any] = {
            "type": "broadcast",
            "event": self.event,
            "payload": json.loads(self.data),
        }
        if self.meta:
            body["meta"] = self.meta
        return body


def decode(vsn: str, data: str | bytes) -> Frame:
    if isinstance(data, bytes):
        if vsn != V2:
            raise FrameError("binary frames need vsn 2.0.0")
        return _decode_binary(data)
    try:
        raw = json.loads(data)
    except ValueError as exc:
        raise FrameError(str(exc)) from None
    if vsn == V2:
        if not isinstance(raw, list) or len(raw) < 5:
            raise FrameError("expected V2 array")
        join_ref, ref, topic, event, payload = raw[:5]
    else:
        if not isinstance(raw, dict):
            raise FrameError("expected a JSON object")
        join_ref, ref = raw.get("join_ref"), raw.get("ref")
        topic, event, payload = raw.get("topic"), raw.get("event"), raw.get("payload")
    if not isinstance(topic, str) or not isinstance(event, str):
        raise FrameError("topic and event must be strings")
    return Frame(topic, event, payload if payload is not None else {}, _ref(ref), _ref(join_ref))


def _ref(value: Any) -> str | None:
    return None if value is None else str(value)


def _decode_binary(data: bytes) -> Frame:
    if len(data) < 7 or data[0] != USER_BROADCAST_PUSH:
        raise FrameError("unknown binary frame")
    sizes = data[1:6]
    encoding = data[6]
    offset = 7
    parts = []
    for size in sizes:
        parts.append(data[offset : offset + size])
        offset += size
    join_ref, ref, topic, event, metadata = (p.decode() for p in parts)
    meta = json.loads(metadata) if metadata else {}
    broadcast = UserBroadcast(event, data[offset:], encoding, meta)
    return Frame(topic, "broadcast", broadcast, ref or None, join_ref or None)


def encode(vsn: str, frame: Frame) -> str | bytes | None:
    """The frame as this client reads it (None: nothing this client can receive)."""
    payload = frame.payload
    if isinstance(payload, UserBroadcast):
        if vsn == V2:
            return _encode_user_broadcast(frame.topic, payload)
        payload = payload.as_payload()
        if payload is None:
            return None
    if vsn == V2:
        return json.dumps([frame.join_ref, frame.ref, frame.topic, frame.event, payload])
    return json.dumps(
        {
            "topic": frame.topic,
            "event": frame.event,
            "payload": payload,
            "ref": frame.ref,
            "join_ref": frame.join_ref,
        }
    )


def _encode_user_broadcast(topic: str, broadcast: UserBroadcast) -> bytes:
    head = [topic.encode(), broadcast.event.encode()]
    meta = json.dumps(broadcast.meta).encode() if broadcast.meta else b""
    sizes = [len(head[0]), len(head[1]), len(meta)]
    if max(sizes) > 255:
        raise FrameError("topic, event and metadata must each be at most 255 bytes")
    return (
        bytes([USER_BROADCAST, *sizes, broadcast.encoding])
        + head[0]
        + head[1]
        + meta
        + broadcast.data
    )
