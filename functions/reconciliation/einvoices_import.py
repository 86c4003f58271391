"""POST /api/reconciliation/einvoices: up to 100 e-invoices (UBL or CII XML, Factur-X /
ZUGFeRD PDFs), each base64 in a JSON body, read, validated against the EN 16931 rules and
stored as vendor invoices in one call (all or nothing, or the valid ones), then matched:
the JSON twin of uploading the files one by one (docs/api.md, "E-invoices in")."""

# No `from __future__ import annotations`: FastAPI reads the body's annotation.
import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import Field

from shared.context import Member
from shared.errors import ApiError
from shared.models import Input
from shared.models.imports import ImportReport, Rejected
from shared.reconciliation import imports
from shared.reconciliation.ingest import Policy, RowError
from shared.reconciliation.ingest.documents import Parsed
from shared.reconciliation.routes import _ERRORS

router = APIRouter(tags=["reconciliation"])

MAX_DOCUMENTS = 100


class EInvoiceFile(Input):
    file_name: str = Field(min_length=1, max_length=255, description="the document's name")
    content: str = Field(
        min_length=1,
        description="the document's bytes, base64 (standard alphabet, padded): UBL or CII "
        "XML, or a Factur-X / ZUGFeRD PDF",
    )


class EInvoiceImport(Input):
    policy: Policy = Field(
        default="all_or_nothing",
        description="all_or_nothing: one bad document stores nothing; accept_valid_rows: "
        "the good documents are stored, the bad ones reported",
    )
    documents: list[EInvoiceFile] = Field(
        min_length=1,
        max_length=MAX_DOCUMENTS,
        description=f"1 to {MAX_DOCUMENTS} e-invoices (the body at most 6 MB)",
    )


def _decode(index: int, document: EInvoiceFile) -> bytes | RowError:
    try:
        return base64.b64decode(document.content, validate=True)
    except (binascii.Error, ValueError):
        return RowError(
            index, "content", None, f"{document.file_name}: content is not valid base64"
        )


@router.post(
    "/api/reconciliation/einvoices",
    status_code=201,
    response_model=ImportReport,
    summary="Import e-invoices (UBL, CII, Factur-X; base64 in JSON, up to 100 per call)",
    responses=_ERRORS,
)
async def import_einvoices(
    ctx: Member, response: Response, body: Annotated[EInvoiceImport, Body()]
) -> ImportReport:
    from shared.reconciliation.ingest.einvoice import merge, parse_einvoice  # noqa: PLC0415

    parts: list[Parsed] = []
    for index, document in enumerate(body.documents):
        data = _decode(index, document)
        if isinstance(data, RowError):
            parts.append(Parsed("vendor_invoices", [], [data], 1))
        else:
            parts.append(parse_einvoice(data, document.file_name, row=index))
    parsed = merge(parts)
    report = imports.store(ctx.db, ctx.organization_id, parsed, body.policy)
    result = _report(report)
    warned = {d["index"]: d["warnings"] for d in parsed.documents if d.get("warnings")}
    for accepted in result.accepted:
        accepted.warnings = list(warned.get(accepted.index, []))
    response.headers["Location"] = f"/api/reconciliation/imports/{result.batch.id}"
    if result.batch.status == "rejected":
        raise ApiError(
            422,
            "import_rejected",
            result.batch.error or "nothing was imported",
            details={
                "batch": result.batch.model_dump(mode="json"),
                "rejected": [r.model_dump(mode="json") for r in result.rejected],
            },
            headers={"Location": response.headers["Location"]},
        )
    result.matching = imports.match_after(ctx.db, ctx.organization_id, "vendor_invoices", report)
    return result


def _report(report: dict[str, Any]) -> ImportReport:
    """The import's answer, its rejections by document (``documents[i]``; the message
    names the file and the rule it breaks: ``a.xml: BR-CO-15: ...``)."""
    rejected = []
    errors: list[dict[str, Any]] = report.get("rejected") or []
    for error in errors:
        column = error.get("column")
        rejected.append(
            Rejected(
                index=error["row"],
                field=f"documents[{error['row']}]" + (".content" if column == "content" else ""),
                value=error.get("value"),
                message=error["message"],
            )
        )
    base = imports.response_report("vendor_invoices", {**report, "rejected": []})
    return ImportReport(batch=base.batch, accepted=base.accepted, rejected=rejected)
