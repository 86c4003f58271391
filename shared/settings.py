"""Settings of every function, read once per Lambda instance from the environment.

A validated pydantic model filled from the environment variables named after its fields
(``SUPABASE_URL`` -> ``supabase_url``). Not pydantic-settings: its dotenv, CLI and
secrets-directory sources are unused here and cost 20 ms of every cold start (about 7 %
of the framework's own import time; bench/RESULTS.md), which the import budget has no
room for.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    supabase_url: str
    supabase_anon_key: str
    # HS256 tokens are checked with the project's JWT secret; asymmetric ones (ES256,
    # RS256) with the project's JWKS. Either may be absent, not both.
    supabase_jwt_secret: str | None = None
    supabase_jwks_url: str | None = None  # default: {supabase_url}/auth/v1/.well-known/jwks.json
    jwt_audience: str = "authenticated"
    # Requests per user per window, across every Lambda instance; 0 turns it off.
    rate_limit_per_window: int = Field(default=300, ge=0)
    rate_limit_window_seconds: int = Field(default=60, ge=1, le=86400)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    http_timeout_seconds: float = Field(default=8.0, gt=0)
    log_level: str = "INFO"
    # Scheduled jobs and queue workers act as the system (the service role), never the
    # HTTP routes.
    supabase_service_role_key: str | None = None
    # Delivery (AWS). Region and endpoint come from boto3's own variables (AWS_REGION,
    # AWS_ENDPOINT_URL): the same code reaches moto locally and AWS in production.
    email_from: str = "InvoiceFlow <invoices@invoiceflow.local>"
    exports_bucket: str = "invoiceflow-exports"
    bulk_queue_url: str | None = None
    # A bulk item claimed ("sending") longer ago than this belongs to an invocation that is
    # over: it is failed as interrupted (maybe sent), never resent. Longer than the
    # longest invocation that claims (the worker's 120 s), shorter than the bulk queue's
    # visibility timeout (720 s), so the first redelivery after a timeout settles it.
    bulk_claim_stale_seconds: int = Field(default=600, ge=1)
    # An inline bulk send (the API, a few ids) also queues one message for its items,
    # delayed past the request's own end, so a request cut off mid-way is finished by the
    # worker. Unset: the invocation's remaining time plus a margin (capped at SQS's 900 s).
    # Tests shorten it.
    bulk_inline_safety_delay_seconds: int | None = Field(default=None, ge=0, le=900)
    presigned_url_seconds: int = Field(default=900, ge=60, le=7 * 24 * 3600)
    # Reconciliation imports: CSV files uploaded through presigned PUT URLs
    # (<organization_id>/imports/<batch_id>/<file>), imported by the bucket's S3 event.
    uploads_bucket: str = "invoiceflow-uploads"
    # Logos and avatars (functions/uploads): presigned POSTs of <organization_id>/<kind>s/
    # <id>.upload, re-encoded beside it by the bucket's event (kept, unlike imports).
    images_bucket: str = "invoiceflow-images"
    # Invoices in by email (functions/jobs/email_intake.py): SES stores raw messages in
    # this bucket under inbound/; an organization's address is <token>@<this domain>.
    inbound_bucket: str = "invoiceflow-inbound"
    inbound_email_domain: str = "inbound.invoiceflow.local"
    # The authserv-id of the Authentication-Results header SES prepends (spf, dkim, dmarc):
    # only the topmost header of this id is trusted (docs/payables.md, "The sender").
    inbound_authserv_id: str = "amazonses.com"
    app_url: str = "http://localhost:5173"  # the frontend, for links in emails
    # Outbound webhooks (docs/integrations.md): the delivery queue and its dead letters,
    # the tries and the back-off between them (base x 2^n s, at most an hour), the
    # receiver's time to answer. Plain http:// endpoint URLs and private addresses only
    # where allowed (the local stack); https:// everywhere else.
    webhook_queue_url: str | None = None
    webhook_dead_letter_queue_url: str | None = None
    webhook_max_attempts: int = Field(default=8, ge=1, le=20)
    webhook_retry_base_seconds: int = Field(default=30, ge=0, le=3600)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=30)
    webhook_allow_http: bool = False
    # An API key's request runs on a token minted for the key's account (shared/api_keys),
    # valid this long.
    api_key_token_seconds: int = Field(default=120, ge=10, le=3600)

    @property
    def rest_url(self) -> str:
        return self.supabase_url.rstrip("/") + "/rest/v1"

    @property
    def auth_url(self) -> str:
        return self.supabase_url.rstrip("/") + "/auth/v1"

    @property
    def jwks_url(self) -> str:
        return self.supabase_jwks_url or self.auth_url + "/.well-known/jwks.json"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings named by ``environ`` (default: the process environment)."""
        env = os.environ if environ is None else environ
        values = {name: env[name.upper()] for name in cls.model_fields if name.upper() in env}
        return cls.model_validate(values)


# A function's own variables (serverless.yml ``functions.<name>.environment``) over the
# process environment. In Lambda each function has its own process and environment, so
# nothing sets this; the local stack runs every function in one process and sets it
# around each invocation of a function that has some (devstack/functions.py).
function_environment: ContextVar[tuple[tuple[str, str], ...]] = ContextVar(
    "function_environment", default=()
)


@lru_cache(maxsize=32)
def _settings(overrides: tuple[tuple[str, str], ...]) -> Settings:
    if not overrides:
        return Settings.from_environment()
    return Settings.from_environment({**os.environ, **dict(overrides)})


class _GetSettings:
    """``get_settings()``: the settings, read once; ``get_settings.cache_clear()`` reads
    the environment again (tests change it)."""

    def __call__(self) -> Settings:
        return _settings(function_environment.get())

    def cache_clear(self) -> None:
        _settings.cache_clear()


get_settings = _GetSettings()
