"""A local Supabase Realtime server (``/realtime/v1/websocket`` on the gateway): the
Phoenix channel protocol as supabase-js (realtime-js) and the Python ``realtime`` client
speak it, postgres_changes from logical decoding with RLS, broadcast (from clients and
from ``realtime.messages``), presence, private channels authorized by RLS on
``realtime.messages``. What it reproduces and what not: docs/devstack.md."""

from devstack.realtime.server import Realtime

__all__ = ["Realtime"]
