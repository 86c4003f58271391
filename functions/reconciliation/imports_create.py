"""POST /api/reconciliation/imports: a CSV import, or an e-invoice's (UBL or CII XML, a
Factur-X / ZUGFeRD PDF: vendor invoices), starts here. The batch is recorded
(``awaiting_upload``) and a presigned S3 PUT URL returned; the upload's S3 event runs the
import (functions/jobs/import_worker.py)."""

from __future__ import annotations

from fastapi import APIRouter

from shared import db
from shared.api import make_handler
from shared.context import Member
from shared.models.imports import ImportBatch, ImportCreate, ImportUpload, upload_content_type
from shared.reconciliation.routes import error_responses
from shared.reconciliation.uploads import object_name, presigned_upload

router = APIRouter(tags=["reconciliation"])


@router.post(
    "/api/reconciliation/imports",
    status_code=201,
    response_model=ImportUpload,
    summary="Start a CSV or e-invoice import: the batch and a presigned S3 PUT URL for the file",
    responses=error_responses(400, 401, 403, 422, 503),
)
async def create_import(ctx: Member, body: ImportCreate) -> ImportUpload:
    content_type = upload_content_type(body.file_name, body.content_type)
    row = db.rpc(
        ctx.db,
        "create_import_upload",
        {
            "organization_id": str(ctx.organization_id),
            "kind": body.kind,
            "file_name": body.file_name,
            "object_name": object_name(body.file_name, content_type),
            "policy": body.policy,
            "date_order": body.date_order,
        },
    )
    return ImportUpload(
        batch=ImportBatch.model_validate(row),
        upload=presigned_upload(ctx.user.settings, row["s3_key"], body.size, content_type),
    )


handler = make_handler(router)
