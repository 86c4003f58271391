"""POST /api/payables/inbound/messages/{id}/release: let a quarantined message in (admins).

The message becomes ``released``; its stored object is written again (same key, a new
metadata entry), whose ``ObjectCreated`` event runs the mail worker, which imports it
attributed to the admin who released it (separation of duties: they cannot approve
what it imported)."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter

from functions.payables import call, error_responses
from functions.payables.inbound import MessageId, message_with_attachments
from shared import aws
from shared.context import Admin
from shared.errors import unavailable
from shared.models.inbound import InboundMessage
from shared.settings import get_settings

router = APIRouter(tags=["payables"])


@router.post(
    "/api/payables/inbound/messages/{id}/release",
    response_model=InboundMessage,
    summary="Release a quarantined message for import",
    description=(
        "Only a `quarantined` message (422 otherwise). It is imported shortly after (its "
        "status becomes `imported`), as if its sender were allowed. Admins and owners."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def release_inbound_message(ctx: Admin, message_id: MessageId) -> InboundMessage:
    released = call(ctx, "release_inbound_message", {"inbound_message_id": message_id})
    bucket = get_settings().inbound_bucket
    key = str(released["s3_key"])
    try:
        aws.client("s3").copy_object(
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": bucket, "Key": key},
            Metadata={"released-by": str(ctx.user.id)},
            MetadataDirective="REPLACE",
        )
    except (BotoCoreError, ClientError):
        raise unavailable("the message is released but could not be queued; retry") from None
    return InboundMessage.model_validate(message_with_attachments(ctx, message_id))
