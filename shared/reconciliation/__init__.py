"""Reconciliation (payables): ingestion of vendor invoices, purchase orders and goods
receipts (`shared.reconciliation.ingest`; docs/api.md, "Reconciliation: import")."""
