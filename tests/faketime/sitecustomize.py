"""Loaded at start by every Python process of `make test-clock` (the Makefile puts this
folder on PYTHONPATH), which runs under Debian's libfaketime with the wall clock moved and
the monotonic clock left real (FAKETIME_DONT_FAKE_MONOTONIC=1).

That combination needs one repair in libfaketime 0.9.10 (Debian 12): its clock_nanosleep()
shifts an absolute deadline by the fake wall-clock offset whatever the clock, so the
CLOCK_MONOTONIC deadline that Python's time.sleep() passes comes out negative and the call
fails with EINVAL. Faking the monotonic clock instead is worse: Python's timed lock waits
(sem_clockwait, which 0.9.10 does not intercept) would then wait for the real monotonic clock
to reach the fake one, a year. So here time.sleep() waits in select() with a relative
timeout, which libfaketime passes through unchanged. Outside libfaketime this does nothing.
"""

from __future__ import annotations

import os
import select
import time
from typing import SupportsIndex


def _sleep(seconds: float | SupportsIndex) -> None:
    length = float(seconds)
    if length < 0:
        raise ValueError("sleep length must be non-negative")
    deadline = time.monotonic() + length
    while (left := deadline - time.monotonic()) > 0:
        select.select([], [], [], left)


if os.environ.get("FAKETIME") and "libfaketime" in os.environ.get("LD_PRELOAD", ""):
    time.sleep = _sleep
