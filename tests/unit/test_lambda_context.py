"""shared.lambda_context: the invocation's remaining time, read from its context."""

from __future__ import annotations

from shared.jobs import Job
from shared.lambda_context import remaining_ms, time_left


class _Context:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def get_remaining_time_in_millis(self) -> int:
        return self.ms


def test_the_remaining_time_is_asked_at_each_call() -> None:
    context = _Context(12_345)
    clock = time_left(context)
    assert clock is not None
    assert (remaining_ms(context), clock()) == (12_345, 12.345)
    context.ms = 500
    assert (remaining_ms(context), clock()) == (500, 0.5)


def test_outside_lambda_there_is_no_deadline() -> None:
    assert remaining_ms(None) is None
    assert time_left(None) is None
    assert time_left(object()) is None


def test_a_job_reads_the_same_clock() -> None:
    job = Job(name="probe", settings=None, client=None, log=None, context=_Context(30_000))  # type: ignore[arg-type]
    assert job.time_left_ms() == 30_000
    job.context = None
    assert job.time_left_ms() == 10**9
