"""The clients routes (docs/api.md, "Clients"): a module per route, all served by one Lambda
function (api.py).

What the routes share lives here, kept small: every function imports this package.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Path

from shared import parties
from shared.errors import ApiError, ErrorResponses

# The columns of a client in every answer (the Client model).
CLIENT_COLUMNS = (
    "id,organization_id,company_name,contact_person,email,phone,address,notes,currency,"
    "status,billing_frequency,avatar_url,total_billed,outstanding_balance,last_invoice_date,"
    "created_by,created_at,updated_at,address_line1,address_line2,city,postal_code,"
    "subdivision,country_code,vat_id_sealed,vat_id_hash,legal_registration_id,buyer_reference,"
    "einvoice_format,electronic_address,electronic_address_scheme"
)

ClientId = Annotated[UUID, Path(alias="id", description="The client's id")]

error_responses = ErrorResponses(
    {
        404: "No such client in the organization",
        409: "The client's state refuses the change (it has invoices)",
        422: "Invalid input; details lists each field",
    }
)


def has_invoices() -> ApiError:
    """409: deleting a client that has invoices (invoices -> clients is ON DELETE RESTRICT)."""
    return ApiError(
        409,
        "conflict",
        "the client has invoices and is kept with its financial records; "
        "set its status to inactive instead",
    )


def sealed(organization_id: UUID, columns: dict[str, Any]) -> dict[str, Any]:
    """A client's columns to write: the VAT id sealed and hashed (shared/parties.py)."""
    return parties.seal_client(organization_id, columns)


def opened(row: dict[str, Any]) -> dict[str, Any]:
    """A client row with its VAT id opened (the seal left out; the keyed hash stays)."""
    return parties.open_client(str(row["organization_id"]), row)
