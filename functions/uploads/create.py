"""POST /api/uploads: a logo or an avatar starts here. The upload is recorded (pending) and
a presigned S3 POST returned whose policy holds the content type and the size; the
object's S3 event checks and re-encodes it (functions/uploads/worker.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter

from shared import aws, db
from shared.context import Member
from shared.errors import ApiError, forbidden, not_found
from shared.models.uploads import ImageUpload, PresignedPost, UploadCreate, UploadCreated

router = APIRouter(tags=["uploads"])

COLUMNS = (
    "id,organization_id,kind,client_id,content_type,size_bytes,object_key,status,reason,"
    "width,height,created_at,processed_at"
)


def object_key(organization_id: str, kind: str, upload_id: str) -> str:
    """Where the browser's file goes: under the organization's prefix, ``.upload`` (the
    suffix the bucket's event fires for; the worker's re-encoded image has another)."""
    return f"{organization_id}/{kind}s/{upload_id}.upload"


@router.post(
    "/api/uploads",
    status_code=201,
    response_model=UploadCreated,
    summary="Upload a logo or a client's avatar: a presigned S3 POST",
    description=(
        "`kind` logo (admins: the organization's logo on PDFs) or avatar (members: "
        "`client_id`'s). `content_type` image/png, image/jpeg or image/webp (SVG is refused) "
        "and `size` (≤ 5 MiB) are written into the POST's policy, so S3 refuses another "
        "type or size. When the file lands it is checked again, re-encoded without its "
        "metadata and bounded in size, or rejected: poll `GET /api/uploads/{id}`."
    ),
    responses={
        400: {"description": "bad input"},
        401: {"description": "no or bad token"},
        403: {"description": "a logo by a member, a viewer"},
        404: {"description": "unknown client"},
        422: {"description": "bad input"},
        503: {"description": "S3 unavailable"},
    },
)
async def create_upload(ctx: Member, body: UploadCreate) -> UploadCreated:
    if body.kind == "logo" and not ctx.at_least("admin"):
        raise forbidden("only admins change the organization's logo")
    organization_id = str(ctx.organization_id)
    if body.client_id is not None:
        found = db.run(
            ctx.db.from_("clients")
            .select("id")
            .eq("id", str(body.client_id))
            .eq("organization_id", organization_id)
        ).data
        if not found:
            raise not_found("client")
    upload_id = str(uuid4())
    key = object_key(organization_id, body.kind, upload_id)
    settings = ctx.user.settings
    try:
        post = aws.client("s3").generate_presigned_post(
            Bucket=settings.images_bucket,
            Key=key,
            Fields={"Content-Type": body.content_type},
            Conditions=[
                {"Content-Type": body.content_type},
                ["content-length-range", 1, body.size],
            ],
            ExpiresIn=settings.presigned_url_seconds,
        )
    except (BotoCoreError, ClientError):
        raise ApiError(
            503,
            "service_unavailable",
            "the upload link could not be made; retry shortly",
            headers={"Retry-After": "1"},
        ) from None
    created = db.run(
        ctx.db.from_("uploads").insert(
            {
                "id": upload_id,
                "organization_id": organization_id,
                "kind": body.kind,
                "client_id": str(body.client_id) if body.client_id else None,
                "content_type": body.content_type,
                "size_bytes": body.size,
                "object_key": key,
            }
        )
    ).data
    seconds = settings.presigned_url_seconds
    return UploadCreated(
        upload=ImageUpload.model_validate(created[0]),
        post=PresignedPost(
            url=post["url"],
            fields={str(k): str(v) for k, v in post["fields"].items()},
            max_bytes=body.size,
            expires_in=seconds,
            expires_at=datetime.now(UTC) + timedelta(seconds=seconds),
        ),
    )
