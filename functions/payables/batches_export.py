"""GET /api/payables/payment-batches/{id}/export: the batch as a bank file."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from functions.payables import BatchId, call, error_responses
from shared.context import Viewer

router = APIRouter(tags=["payables"])


@router.get(
    "/api/payables/payment-batches/{id}/export",
    response_class=Response,
    summary="Export a payment batch: pain.001 (SEPA) or CSV",
    description=(
        "`format=pain.001` (default): ISO 20022 pain.001.001.03, a SEPA credit transfer "
        "from the organization's account (PUT /api/payables/settings) to each vendor's "
        "IBAN, both checked (python-stdnum); EUR only: a batch holding another currency is "
        "422 naming its invoices (export it as CSV). `format=csv`: every currency."
    ),
    responses={
        200: {"content": {"application/xml": {}, "text/csv": {}}, "description": "The file"},
        **error_responses(400, 401, 403, 404, 422),
    },
)
async def export_batch(
    ctx: Viewer,
    batch_id: BatchId,
    format: Annotated[Literal["pain.001", "csv"], Query()] = "pain.001",
) -> Response:
    batch = call(ctx, "payment_batch", {"batch_id": batch_id})
    name = f"payment-batch-{batch['id']}"
    if format == "csv":
        from shared.payables.csv_file import batch_csv  # noqa: PLC0415 - only this format

        body, media, suffix = batch_csv(batch), "text/csv; charset=utf-8", "csv"
    else:
        from shared.payables.pain001 import pain001  # noqa: PLC0415 - only this format

        body, media, suffix = pain001(batch, datetime.now(UTC)), "application/xml", "xml"
    return Response(
        content=body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{name}.{suffix}"',
            "Cache-Control": "no-store",
        },
    )
