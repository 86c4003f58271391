"""On-demand job (``jobsSealFields``; docs/security.md): seals the vendors' tax ids written
in clear before the data protection migration, and re-wraps sealed ones under a new KMS key.

``{}``: each vendor with a clear ``tax_id`` gets its seal and keyed hash and loses the clear
value, ``CHUNK`` rows a read (keyset by id), each row's update guarded on its clear value
being unchanged (a concurrent write through the API wins). ``{"rewrap_to": "<key id, ARN or
alias>"}``: every seal not under that key has its data key re-wrapped by KMS ``ReEncrypt``
(ciphertext unchanged). Both resume where a run stopped; a second run finds nothing to do.
"""

from __future__ import annotations

from typing import Any

from postgrest.types import ReturnMethod

from shared import db, envelope
from shared.jobs import TIME_RESERVE_MS, Job
from shared.reconciliation import vendor_tax_ids

CHUNK = 200


def _seal(job: Job) -> dict[str, Any]:
    sealed, after = 0, "00000000-0000-0000-0000-000000000000"
    while job.time_left_ms() > TIME_RESERVE_MS:
        rows = db.run(
            job.client.from_("vendors")
            .select("id,organization_id,tax_id")
            .not_.is_("tax_id", "null")
            .gt("id", after)
            .order("id")
            .limit(CHUNK)
        ).data
        for row in rows:
            columns = vendor_tax_ids.columns(str(row["organization_id"]), row["tax_id"])
            # Guarded on the clear value: a concurrent write through the API wins.
            db.run(
                job.client.from_("vendors")
                .update(columns, returning=ReturnMethod.minimal)
                .eq("id", row["id"])
                .eq("tax_id", row["tax_id"])
            )
            sealed += 1
        if len(rows) < CHUNK:
            return {"sealed": sealed}
        after = rows[-1]["id"]
    return {"sealed": sealed, "unfinished": True}


def _rewrap(job: Job, new_key: str) -> dict[str, Any]:
    moved, after = 0, "00000000-0000-0000-0000-000000000000"
    while job.time_left_ms() > TIME_RESERVE_MS:
        rows = db.run(
            job.client.from_("vendors")
            .select("id,tax_id_sealed")
            .not_.is_("tax_id_sealed", "null")
            .gt("id", after)
            .order("id")
            .limit(CHUNK)
        ).data
        for row in rows:
            rewrapped = envelope.rewrap_if_needed(row["tax_id_sealed"], new_key)
            if rewrapped is not None:
                db.run(
                    job.client.from_("vendors")
                    .update({"tax_id_sealed": rewrapped}, returning=ReturnMethod.minimal)
                    .eq("id", row["id"])
                )
                moved += 1
        if len(rows) < CHUNK:
            return {"rewrapped": moved}
        after = rows[-1]["id"]
    return {"rewrapped": moved, "unfinished": True}


def handler(event: Any, context: Any) -> dict[str, Any]:
    job = Job.start("seal_fields", context)
    new_key = (event or {}).get("rewrap_to") if isinstance(event, dict) else None
    if new_key:
        return job.finish(_rewrap(job, str(new_key)))
    # Stripe secrets in stripe_keys' first format, sealed again (migration 20261206170100)
    from shared import stripe_keys  # noqa: PLC0415

    return job.finish({**_seal(job), **stripe_keys.reseal_accounts(job)})
