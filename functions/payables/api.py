"""The payables routes as one Lambda function (serverless.yml: payablesApi, each route an
``httpApi`` event of it): approval rules, the approval queue and decisions, payment
batches and their bank files, vendor credit notes, the debtor account and vendors' bank
accounts."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import (
    approvals_approve,
    approvals_get,
    approvals_queue,
    approvals_reassign,
    approvals_reject,
    batches_cancel,
    batches_create,
    batches_export,
    batches_get,
    batches_list,
    batches_paid,
    credit_notes_apply,
    credit_notes_get,
    credit_notes_list,
    credit_notes_unapply,
    rules_create,
    rules_delete,
    rules_list,
    rules_update,
    settings_get,
    settings_update,
    vendors_bank_account,
)
from shared.api import make_handler

router = APIRouter()
router.include_router(rules_list.router)
router.include_router(rules_create.router)
router.include_router(rules_update.router)
router.include_router(rules_delete.router)
router.include_router(approvals_queue.router)
router.include_router(approvals_get.router)
router.include_router(approvals_approve.router)
router.include_router(approvals_reject.router)
router.include_router(approvals_reassign.router)
router.include_router(batches_list.router)
router.include_router(batches_create.router)
router.include_router(batches_get.router)
router.include_router(batches_paid.router)
router.include_router(batches_cancel.router)
router.include_router(batches_export.router)
router.include_router(credit_notes_list.router)
router.include_router(credit_notes_get.router)
router.include_router(credit_notes_apply.router)
router.include_router(credit_notes_unapply.router)
router.include_router(settings_get.router)
router.include_router(settings_update.router)
router.include_router(vendors_bank_account.router)

handler = make_handler(router)
