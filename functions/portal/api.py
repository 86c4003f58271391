"""The client page's routes as one Lambda function (serverless.yml: portalApi); the PDF
keeps a function of its own (portalPdf: fonts, more memory)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.portal import links, logo, page
from shared.api import make_handler

router = APIRouter()
router.include_router(links.router)
router.include_router(page.router)
router.include_router(logo.router)

handler = make_handler(router)
