"""How much of its time a Lambda invocation has left, read from its context: the
handler's second argument, or Mangum's ``aws.context`` in a route's ASGI scope.

Loops that must stop before the deadline (the scheduled jobs' claims, a bulk send's
items) ask before each step. Outside Lambda (tests, a script) there is no context and no
deadline: None. No AWS SDK here: the jobs that send nothing import it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Seconds left of the invocation, asked again at each call.
TimeLeft = Callable[[], float]


def remaining_ms(context: Any) -> int | None:
    """Milliseconds left of the invocation (``get_remaining_time_in_millis``); None
    outside Lambda."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return int(remaining()) if callable(remaining) else None


def time_left(context: Any) -> TimeLeft | None:
    """A clock of the seconds left of the invocation; None outside Lambda."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    return lambda: float(remaining()) / 1000.0
