"""PUT /api/payables/vendors/{id}/bank-account: where a vendor is paid."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import VendorId, error_responses
from shared import db
from shared.context import Member
from shared.errors import not_found
from shared.models.payables import VendorBankAccount, VendorBankAccountOut
from shared.payables.accounts import clean_bic, clean_iban
from shared.payables.bank_accounts import opened_vendor, vendor_columns

router = APIRouter(tags=["payables"])


@router.put(
    "/api/payables/vendors/{id}/bank-account",
    response_model=VendorBankAccountOut,
    summary="Set a vendor's bank account",
    description=(
        '`{"iban": "...", "bic": "..."}`: the IBAN (required) and the BIC (optional), '
        "checked with python-stdnum and stored compact, the IBAN sealed at rest. Members "
        "and above."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def set_bank_account(
    ctx: Member, vendor_id: VendorId, body: VendorBankAccount | None = None
) -> VendorBankAccountOut:
    body = body or VendorBankAccount()
    exists = db.run(
        ctx.db.from_("vendors")
        .select("id")
        .eq("organization_id", str(ctx.organization_id))
        .eq("id", str(vendor_id))
    ).data
    if not exists:
        raise not_found("vendor")
    if body.iban is None:
        from shared.errors import validation  # noqa: PLC0415

        raise validation("iban", "required", "body")
    # The IBAN sealed and hashed, never stored in clear (shared/payables/bank_accounts.py).
    row = {
        **vendor_columns(ctx.organization_id, clean_iban(body.iban, "iban")),
        "bic": clean_bic(body.bic, "bic") if body.bic else None,
    }
    saved = db.run(
        ctx.db.from_("vendors")
        .update(row)
        .eq("organization_id", str(ctx.organization_id))
        .eq("id", str(vendor_id))
        .select("id,name,iban,iban_sealed,bic")
    ).data
    return VendorBankAccountOut.model_validate(opened_vendor(ctx.organization_id, saved[0]))
