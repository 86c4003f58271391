"""Ingestion of vendor invoices, purchase orders and goods receipts: a CSV file
(`parse_csv`) or a JSON body (`validate_json`) read into documents ready for one import
RPC (`Parsed`), every rejected row told why (docs/api.md, "Reconciliation: import").

- `columns`: the kinds of document, the policies, each kind's fields and header names;
- `values`: one field's value read (numbers, dates, currencies), or a `FieldError`;
- `documents`: rows assembled into documents, `RowError`, `Parsed`;
- `csv_files`: the file (encoding, separator, header, the file's decimal mark and date
  order decided once from its evidence);
- `json_bodies`: the body of the JSON import routes.
"""

from __future__ import annotations

from shared.reconciliation.ingest.columns import (
    JSON_LIST,
    KINDS,
    POLICIES,
    DateOrder,
    Kind,
    Policy,
    header_key,
)
from shared.reconciliation.ingest.csv_files import MAX_FILE_BYTES, MAX_ROWS, parse_csv
from shared.reconciliation.ingest.documents import Parsed, RowError
from shared.reconciliation.ingest.json_bodies import validate_json
from shared.reconciliation.ingest.values import FieldError, parse_date, parse_number

__all__ = [
    "JSON_LIST",
    "KINDS",
    "MAX_FILE_BYTES",
    "MAX_ROWS",
    "POLICIES",
    "DateOrder",
    "FieldError",
    "Kind",
    "Parsed",
    "Policy",
    "RowError",
    "header_key",
    "parse_csv",
    "parse_date",
    "parse_number",
    "validate_json",
]
