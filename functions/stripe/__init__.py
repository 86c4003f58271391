"""Online payment through Stripe (docs/api.md, "Online payment through Stripe").

Two functions (serverless.yml), so no route lends another its permissions:
``stripeApi`` (``api.py``: the account, connected by admins, and the events needing
attention; kms:GenerateDataKey to seal the keys) and ``stripePayments``
(``payments.py``: the client page's Pay button and Stripe's webhook, without login, as
the database role ``payment_processor`` through narrow SQL functions that answer
ciphertexts, shared/stripe_role.py; kms:Decrypt to open them).
"""

from __future__ import annotations

from shared.errors import ErrorResponses

error_responses = ErrorResponses(
    {
        404: "No such link, webhook endpoint or event",
        415: "The Pay button's body is a form or JSON",
        429: "Too many requests for this link or from this address (Retry-After)",
        422: "Invalid input, or Stripe refused the key or the request (stripe_refused)",
        503: "Stripe or KMS could not be reached; try again (Retry-After)",
    }
)
