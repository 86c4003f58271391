"""Payables' bank files: the accounts' checks (python-stdnum), ISO 20022 pain.001.001.03
(SEPA credit transfer) and CSV (docs/payables.md). The data comes from
``public.payment_batch`` (migration 20261206150100_approvals.sql)."""
