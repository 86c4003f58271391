"""What the scheduled jobs share (functions/jobs/*; docs/api.md, "Scheduled jobs").

A job is a plain Lambda handler ``handler(event, context)`` acting as the system: the
service-role PostgREST client. SQL decides what is due and remembers what was sent
(supabase/migrations/20261206101000_delivery_and_jobs.sql); a sending job only drains claims:

    claim a batch (leased, SKIP LOCKED) -> render and send each -> record each at once

`drain` is that loop. A failure is recorded (retryable ones stay pending for the next
run) and the id is skipped for the rest of this run, so a run never loops on a failing
email and never sends one twice. The loop stops when nothing is left to claim or when
the Lambda is about to time out (what is left waits for the next run).

No AWS SDK here: mark overdue (which sends nothing, and has no IAM) imports this module.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared import db
from shared.lambda_context import remaining_ms
from shared.log import get_logger
from shared.settings import Settings, get_settings

if TYPE_CHECKING:
    from shared.email import Attachment

# Stop claiming when less than this is left of the Lambda's time.
TIME_RESERVE_MS = 20_000
PERIODS = ("week", "month")


class JobInputError(ValueError):
    """The event asks for something a job cannot do (a bad date, an unknown period)."""


@dataclass(frozen=True)
class JobEvent:
    """What a run is asked to do. EventBridge's "Scheduled Event" (or ``{}``) means
    "today, every organization"; ``as_of`` replays a day, ``organization_ids`` limits a
    run to some organizations (operations, tests), ``period`` is a summary's."""

    as_of: dt.date | None = None
    organization_ids: list[str] | None = None
    period: str | None = None
    batch_limit: int = 50

    @classmethod
    def parse(cls, event: Any) -> JobEvent:
        if event is None or event == "":
            return cls()
        if not isinstance(event, dict):
            raise JobInputError("the event must be a JSON object")
        as_of = event.get("as_of")
        day: dt.date | None = None
        if as_of is not None:
            try:
                day = dt.date.fromisoformat(str(as_of))
            except ValueError:
                raise JobInputError(f"as_of must be a date (YYYY-MM-DD), not {as_of!r}") from None
        orgs = event.get("organization_ids")
        ids: list[str] | None = None
        if orgs is not None:
            if not isinstance(orgs, list) or not orgs:
                raise JobInputError("organization_ids must be a non-empty list of ids")
            try:
                ids = [str(uuid.UUID(str(value))) for value in orgs]
            except ValueError:
                raise JobInputError("organization_ids must be UUIDs") from None
        period = event.get("period")
        if period is not None and period not in PERIODS:
            raise JobInputError(f"period must be one of {', '.join(PERIODS)}")
        batch = event.get("batch_limit", 50)
        if not isinstance(batch, int) or isinstance(batch, bool) or not 1 <= batch <= 500:
            raise JobInputError("batch_limit must be an integer from 1 to 500")
        return cls(as_of=day, organization_ids=ids, period=period, batch_limit=batch)

    def params(self) -> dict[str, Any]:
        """The SQL functions' common parameters (absent ones take their defaults)."""
        values: dict[str, Any] = {}
        if self.as_of is not None:
            values["as_of"] = self.as_of.isoformat()
        if self.organization_ids is not None:
            values["organization_ids"] = self.organization_ids
        return values


@dataclass
class Job:
    """One run: its name, settings, service-role client and logger."""

    name: str
    settings: Settings
    client: Any
    log: logging.Logger
    context: Any = None
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def start(cls, name: str, context: Any) -> Job:
        settings = get_settings()
        key = settings.supabase_service_role_key
        if not key:
            raise RuntimeError(f"{name} needs SUPABASE_SERVICE_ROLE_KEY (the service role)")
        return cls(
            name=name,
            settings=settings,
            client=db.rest(settings, service=key),
            log=get_logger(settings.log_level),
            context=context,
        )

    def rpc(self, function: str, params: dict[str, Any]) -> Any:
        return db.rpc(self.client, function, params)

    def time_left_ms(self) -> int:
        """What is left of the invocation (no deadline outside Lambda)."""
        remaining = remaining_ms(self.context)
        return 10**9 if remaining is None else remaining

    def info(self, message: str, **fields: Any) -> None:
        self.log.info(message, extra={"fields": {"job": self.name, **fields}})

    def warning(self, message: str, **fields: Any) -> None:
        self.log.warning(message, extra={"fields": {"job": self.name, **fields}})

    def finish(self, summary: dict[str, Any]) -> dict[str, Any]:
        summary = {"job": self.name, **summary}
        summary["elapsed_ms"] = round((time.monotonic() - self.started) * 1000)
        self.info("job finished", **summary)
        return summary


@dataclass(frozen=True)
class Outcome:
    """What sending one claimed email came to."""

    message_id: str | None = None
    error: str | None = None
    retryable: bool = True
    recipient: str | None = None


def send_email(
    job: Job,
    *,
    recipient: str,
    sender_name: str,
    subject: str,
    html: str,
    text: str,
    reply_to: str | None = None,
    attachments: Sequence[Attachment] = (),
) -> Outcome:
    """Sends one claimed email from the configured sender and says how it went (SES's
    failures become an `Outcome` whose ``retryable`` the claim loop acts on). Imports
    `shared.email` only when called: mark-overdue sends nothing and loads no SES code."""
    import email.utils  # noqa: PLC0415

    from shared import email as mail  # noqa: PLC0415

    _, sender = email.utils.parseaddr(job.settings.email_from)
    raw = mail.build_raw(
        sender=mail.address(sender, sender_name),
        to=[recipient],
        subject=subject,
        html=html,
        text=text,
        reply_to=reply_to,
        attachments=attachments,
    )
    try:
        message_id = mail.send_raw(raw, source=sender, destinations=[recipient])
    except mail.EmailFailure as failure:
        return Outcome(
            error=f"{failure.code}: {failure.message}",
            retryable=failure.retryable,
            recipient=recipient,
        )
    return Outcome(message_id=message_id, recipient=recipient)


def drain(
    job: Job,
    claim: Callable[[list[str]], dict[str, Any]],
    send: Callable[[dict[str, Any]], Outcome],
) -> dict[str, Any]:
    """Claims, sends and records until nothing is left (or time runs short).

    ``claim(skip_ids)`` calls a ``job_claim_*`` function and returns its body (with
    ``claimed``, and counts such as ``opened``/``superseded`` that are summed);
    ``send(item)`` returns an `Outcome` (an exception is a retryable failure)."""
    skip: list[str] = []
    totals: dict[str, Any] = {"claimed": 0, "sent": 0, "failed": 0, "retry_later": 0}
    first = True
    while job.time_left_ms() > TIME_RESERVE_MS:
        body = claim(skip)
        for key in ("opened", "superseded"):
            if key in body:
                totals[key] = totals.get(key, 0) + int(body[key] or 0)
        if first:
            totals.update({k: v for k, v in body.items() if k in ("as_of", "period", "from", "to")})
            first = False
        items: list[dict[str, Any]] = body.get("claimed") or []
        if not items:
            if int(body.get("superseded") or 0) > 0:
                continue  # a claim that only superseded stale rows: more may be pending
            break
        totals["claimed"] += len(items)
        for item in items:
            outcome = _send_one(job, send, item)
            status = job.rpc(
                "job_record_delivery",
                {
                    "delivery_id": item["id"],
                    "message_id": outcome.message_id,
                    "error": outcome.error,
                    "retryable": outcome.retryable,
                    "recipient": outcome.recipient,
                },
            )
            if outcome.message_id is not None:
                totals["sent"] += 1
                job.info(
                    "email sent",
                    delivery_id=item["id"],
                    kind=item.get("kind"),
                    message_id=outcome.message_id,
                )
                continue
            skip.append(str(item["id"]))
            if status == "pending":
                totals["retry_later"] += 1
            else:
                totals["failed"] += 1
            job.warning(
                "email not sent",
                delivery_id=item["id"],
                kind=item.get("kind"),
                error=outcome.error,
                retryable=outcome.retryable,
                status=status,
            )
    return totals


def _send_one(job: Job, send: Callable[[dict[str, Any]], Outcome], item: dict[str, Any]) -> Outcome:
    try:
        return send(item)
    except Exception as error:  # recorded as a retryable failure: the next run tries again
        job.log.exception(
            "sending failed", extra={"fields": {"job": job.name, "delivery_id": item.get("id")}}
        )
        return Outcome(error=f"{type(error).__name__}: {error}"[:1000], retryable=True)
