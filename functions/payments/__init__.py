"""Payments: the routes of /api/payments."""
