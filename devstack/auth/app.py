"""The Supabase-Auth-compatible server (GoTrue v2.18x), mounted at ``/auth/v1``.

Endpoints (GoTrue's router, internal/api/api.go): ``GET /health``, ``GET /settings``,
``GET /.well-known/jwks.json``, ``POST /signup``, ``POST /token`` (``password`` and
``refresh_token`` grants), ``POST /logout``, ``GET|PUT /user``, ``POST /factors``,
``POST /factors/{id}/challenge``, ``POST /factors/{id}/verify``, ``DELETE /factors/{id}``,
and the admin API ``GET|POST /admin/users``, ``GET|PUT|DELETE /admin/users/{id}``,
``GET /admin/users/{id}/factors``, ``DELETE /admin/users/{id}/factors/{factor_id}``.

Configuration is Supabase's local defaults (supabase/config.toml): email sign-ups on and
auto-confirmed, phone and anonymous sign-ins off, refresh-token rotation on, TOTP MFA on.
The server connects as ``supabase_auth_admin`` (which owns the ``auth`` schema), as
GoTrue does, so triggers on ``auth.users`` run with the same role.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import bcrypt
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.auth import store
from devstack.auth.errors import (
    AuthError,
    OAuthError,
    WeakPasswordError,
    bad_request,
    error_response,
    forbidden,
    not_found,
    unprocessable,
)
from devstack.auth.mailer import Mailbox, Message
from devstack.auth.qr import qr_svg
from devstack.auth.store import NIL_UUID, Conn, Row
from devstack.auth.tokens import (
    Signer,
    TokenError,
    new_refresh_token,
    new_totp_secret,
    totp_uri,
    verify_totp,
)
from devstack.config import StackConfig
from devstack.rest.pool import Pool, is_connection_error

log = logging.getLogger("devstack.auth")

GOTRUE_VERSION = "v2.186.0"
AUDIENCE = "authenticated"  # GOTRUE_JWT_AUD
DEFAULT_ROLE = "authenticated"  # GOTRUE_JWT_DEFAULT_GROUP_NAME
ADMIN_ROLES = ("service_role", "supabase_admin")  # GoTrue's default JWT.AdminRoles
SITE_URL = "http://127.0.0.1:3000"  # supabase/config.toml [auth] site_url
BCRYPT_COST = 10  # Go's bcrypt.DefaultCost, what GoTrue hashes with
MAX_PASSWORD_LENGTH = 72
EMAIL_MAX_FREQUENCY = timedelta(seconds=1)  # the CLI's [auth.email] max_frequency
OTP_EXPIRY = timedelta(seconds=3600)  # [auth.email] otp_expiry
MFA_CHALLENGE_EXPIRY = timedelta(seconds=300)
MFA_FACTOR_EXPIRY = timedelta(seconds=300)
MFA_MAX_ENROLLED_FACTORS = 10
MFA_MAX_VERIFIED_FACTORS = 10
AAL2_METHODS = frozenset({"totp", "mfa/phone", "mfa/webauthn"})

_BEARER = re.compile(r"^(?:B|b)earer (\S+$)")
# github.com/badoux/checkmail's format check, which GoTrue's validateEmail uses.
_EMAIL = re.compile(
    r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)
_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
}  # fmt: skip


_SINGLE_CONFIRMATION = (
    "Confirmation link accepted. Please proceed to confirm link sent to the other email"
)


def _otp() -> str:
    """GoTrue's ``crypto.GenerateOtp(6)``."""
    return f"{secrets.randbelow(10**6):06d}"


def _token_hash(address: str, otp: str) -> str:
    """GoTrue's ``crypto.GenerateTokenHash``: sha224 of the address and the code."""
    return hashlib.sha224((address + otp).encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _auth_db_url(database_url: str) -> str:
    """The server of ``database_url``, logged in as ``supabase_auth_admin``."""
    parts = urlsplit(database_url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"supabase_auth_admin:postgres@{host}:{parts.port or 5432}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


# -----------------------------------------------------------------------------
# Passwords
# -----------------------------------------------------------------------------


def _hash_password(password: str) -> str:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_COST)).decode()
    # Go's x/crypto/bcrypt writes the $2a$ prefix; the hash is otherwise the same.
    return "$2a$" + hashed[4:] if hashed.startswith("$2b$") else hashed


def _check_password(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:
        return False


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hash_password, password)


async def check_password(password: str, hashed: str | None) -> bool:
    if not hashed:
        return False
    return await asyncio.to_thread(_check_password, password, hashed)


def check_password_strength(password: str, minimum: int) -> None:
    """GoTrue's ``checkPasswordStrength`` (lengths in bytes, as Go's ``len``)."""
    size = len(password.encode())
    if size > MAX_PASSWORD_LENGTH:
        raise bad_request(
            "validation_failed",
            f"Password cannot be longer than {MAX_PASSWORD_LENGTH} characters",
        )
    if size < minimum:
        raise WeakPasswordError(f"Password should be at least {minimum} characters.", ["length"])


def validate_email(email: str) -> str:
    if not email:
        raise bad_request("validation_failed", "An email address is required")
    if len(email) > 255:
        raise bad_request("validation_failed", "An email address is too long")
    if not _EMAIL.match(email):
        raise bad_request("validation_failed", "Unable to validate email address: invalid format")
    return email.lower()


def _parse_go_duration(text: str) -> timedelta:
    """Go's ``time.ParseDuration`` for the forms ``ban_duration`` takes ("24h", "1h30m")."""
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    pos, total = 0, 0.0
    for match in _GO_DURATION.finditer(body):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if not body or pos != len(body):
        if body == "0":
            return timedelta(0)
        raise ValueError(f'time: invalid duration "{text}"')
    return timedelta(seconds=sign * total)


# -----------------------------------------------------------------------------
# Request parameters (Go's json.Unmarshal into a typed struct)
# -----------------------------------------------------------------------------

_GO_TYPES = {str: "string", dict: "object", bool: "bool", list: "array"}


class Params:
    def __init__(self, data: dict[str, Any], struct: str) -> None:
        self.data = data
        self.struct = struct

    def _typed(self, key: str, kind: type) -> Any:
        value = self.data.get(key)
        if value is None or isinstance(value, kind):
            return value
        got = {bool: "bool", int: "number", float: "number", str: "string", list: "array"}.get(
            type(value), "object"
        )
        raise bad_request(
            "bad_json",
            f"Could not parse request body as JSON: json: cannot unmarshal {got} into Go "
            f"struct field {self.struct}.{key} of type {_GO_TYPES[kind]}",
        )

    def text(self, key: str) -> str:
        value = self._typed(key, str)
        return value if isinstance(value, str) else ""

    def opt_text(self, key: str) -> str | None:
        value = self._typed(key, str)
        return value if isinstance(value, str) else None

    def obj(self, key: str) -> dict[str, Any] | None:
        value = self._typed(key, dict)
        return value if isinstance(value, dict) else None

    def flag(self, key: str) -> bool:
        return bool(self._typed(key, bool))


async def read_params(request: Request, struct: str) -> Params:
    raw = await request.body()
    try:
        data = json.loads(raw)
    except ValueError as exc:
        detail = "unexpected end of JSON input" if not raw.strip() else str(exc)
        raise bad_request("bad_json", f"Could not parse request body as JSON: {detail}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise bad_request(
            "bad_json",
            "Could not parse request body as JSON: json: cannot unmarshal "
            f"{type(data).__name__} into Go value of type api.{struct}",
        )
    return Params(data, struct)


def client_ip(request: Request) -> str:
    """GoTrue's ``utilities.GetIPAddress``: the first X-Forwarded-For entry, else the
    peer address."""
    forwarded = request.headers.get("x-forwarded-for", "")
    for part in forwarded.split(","):
        candidate = part.strip()
        if candidate:
            return candidate
    return request.client.host if request.client else "127.0.0.1"


# -----------------------------------------------------------------------------
# The application
# -----------------------------------------------------------------------------


class AuthContext:
    """What ``requireAuthentication`` leaves for the handler."""

    def __init__(self, claims: dict[str, Any], user: Row, session: Row | None) -> None:
        self.claims = claims
        self.user = user
        self.session = session


Handler = Callable[[Request], Awaitable[Response]]


class AuthServer:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.signer = Signer(config)
        self.mailbox = Mailbox()
        # Connections on demand, none waiting on a back-off while the database is away
        # (database/sql's way, GoTrue's pool): devstack/rest/pool.py.
        self.pool = Pool(
            _auth_db_url(config.database_url),
            connection_class=AsyncConnection[DictRow],
            max_size=max(2, config.db_pool_size),
            kwargs={
                "row_factory": dict_row,
                "options": "-c search_path=auth -c TimeZone=UTC",
            },
        )

    # -- plumbing -------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def tx(self) -> AsyncIterator[Conn]:
        async with self.pool.connection() as conn, conn.transaction():
            yield conn

    def endpoint(self, fn: Handler) -> Handler:
        async def run(request: Request) -> Response:
            try:
                return await fn(request)
            except (AuthError, OAuthError) as exc:
                return error_response(request, exc)
            except Exception as exc:
                if is_connection_error(exc):
                    # The database went away (GoTrue answers 500 too): the idle
                    # connections went with it.
                    await self.pool.flush()
                    log.warning("database unavailable: %s", str(exc).strip()[:200])
                else:
                    log.exception("unhandled error in %s %s", request.method, request.url.path)
                return error_response(request, exc)

        run.__name__ = fn.__name__
        return run

    def bearer(self, request: Request) -> str:
        match = _BEARER.match(request.headers.get("authorization", ""))
        if not match:
            raise AuthError(401, "no_authorization", "This endpoint requires a valid Bearer token")
        return match.group(1)

    def parse_claims(self, token: str) -> dict[str, Any]:
        try:
            return self.signer.verify(token)
        except TokenError as exc:
            raise forbidden(
                "bad_jwt", f"invalid JWT: unable to parse or verify signature, {exc}"
            ) from exc

    async def authenticate(self, request: Request, conn: Conn) -> AuthContext:
        """GoTrue's ``requireAuthentication``: a valid JWT whose user (and session,
        when the token names one) still exists."""
        claims = self.parse_claims(self.bearer(request))
        subject = claims.get("sub")
        if not subject:
            raise forbidden("bad_jwt", "invalid claim: missing sub claim")
        try:
            user_id = uuid.UUID(str(subject))
        except ValueError as exc:
            raise bad_request("bad_jwt", "invalid claim: sub claim must be a UUID") from exc
        user = await store.fetch_user(conn, user_id)
        if user is None:
            raise forbidden("user_not_found", "User from sub claim in JWT does not exist")
        session = None
        session_claim = claims.get("session_id")
        if session_claim and session_claim != str(NIL_UUID):
            try:
                session_id = uuid.UUID(str(session_claim))
            except ValueError as exc:
                raise forbidden(
                    "bad_jwt", "invalid claim: session_id claim must be a UUID"
                ) from exc
            cur = await conn.execute("select * from auth.sessions where id = %s", (session_id,))
            session = await cur.fetchone()
            if session is None:
                raise forbidden(
                    "session_not_found", "Session from session_id claim in JWT does not exist"
                )
        return AuthContext(claims, user, dict(session) if session else None)

    def require_admin(self, request: Request) -> dict[str, Any]:
        claims = self.parse_claims(self.bearer(request))
        if claims.get("role") not in ADMIN_ROLES:
            raise forbidden("not_admin", "User not allowed")
        return claims

    # -- sessions and tokens --------------------------------------------------

    async def add_amr_claim(self, conn: Conn, session_id: uuid.UUID, method: str) -> None:
        now = _now()
        await conn.execute(
            "insert into auth.mfa_amr_claims"
            " (id, session_id, created_at, updated_at, authentication_method)"
            " values (%s, %s, %s, %s, %s)"
            " on conflict (session_id, authentication_method) do update set updated_at = %s",
            (uuid.uuid4(), session_id, now, now, method, now),
        )

    async def access_token(self, conn: Conn, user: Row, session_id: uuid.UUID) -> tuple[str, int]:
        """GoTrue's ``GenerateAccessToken``: aal/amr from the session's AMR claims."""
        cur = await conn.execute(
            "select authentication_method, updated_at from auth.mfa_amr_claims"
            " where session_id = %s",
            (session_id,),
        )
        aal = "aal1"
        rows = sorted(await cur.fetchall(), key=lambda r: r["updated_at"], reverse=True)
        amr: list[dict[str, Any]] = []
        for row in rows:  # newest first, as CalculateAALAndAMR sorts them
            method = row["authentication_method"]
            if method in AAL2_METHODS:
                aal = "aal2"
            amr.append({"method": method, "timestamp": int(row["updated_at"].timestamp())})
        issued_at = int(_now().timestamp())
        expires_at = issued_at + self.config.jwt_expiry
        claims: dict[str, Any] = {
            "iss": self.config.auth_issuer,
            "sub": str(user["id"]),
            "aud": user["aud"] or AUDIENCE,
            "exp": expires_at,
            "iat": issued_at,
            "email": user["email"] or "",
            "phone": user["phone"] or "",
            "app_metadata": store.sort_keys(user["raw_app_meta_data"] or {}),
            "user_metadata": store.sort_keys(user["raw_user_meta_data"] or {}),
            "role": user["role"] or "",
            "aal": aal,
        }
        if amr:
            claims["amr"] = amr
        claims["session_id"] = str(session_id)
        claims["is_anonymous"] = bool(user["is_anonymous"])
        return self.signer.sign(claims), expires_at

    async def token_response(
        self, conn: Conn, user_id: uuid.UUID, session_id: uuid.UUID, refresh_token: str
    ) -> dict[str, Any]:
        user = await store.fetch_user(conn, user_id)
        assert user is not None
        token, expires_at = await self.access_token(conn, user, session_id)
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self.config.jwt_expiry,
            "expires_at": expires_at,
            "refresh_token": refresh_token,
            "user": store.user_json(user),
        }

    async def create_refresh_token(
        self,
        conn: Conn,
        user_id: uuid.UUID,
        *,
        parent: str | None,
        session_id: uuid.UUID,
    ) -> str:
        now = _now()
        token = new_refresh_token()
        await conn.execute(
            "insert into auth.refresh_tokens"
            " (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)"
            " values (%s, %s, %s, false, %s, %s, %s, %s)",
            (NIL_UUID, token, str(user_id), now, now, parent, session_id),
        )
        # createRefreshToken ends with user.UpdateLastSignInAt (pop also bumps updated_at).
        await conn.execute(
            "update auth.users set last_sign_in_at = coalesce(%s, last_sign_in_at),"
            " updated_at = %s where id = %s",
            (now if parent is None else None, now, user_id),
        )
        return token

    async def issue_session(
        self, conn: Conn, request: Request, user_id: uuid.UUID, method: str
    ) -> dict[str, Any]:
        """GoTrue's ``IssueRefreshToken``: a new session, its first refresh token, the
        AMR claim, and the access token."""
        now = _now()
        session_id = uuid.uuid4()
        await conn.execute(
            "insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip)"
            " values (%s, %s, %s, %s, 'aal1', %s, %s::inet)",
            (
                session_id,
                user_id,
                now,
                now,
                request.headers.get("user-agent") or None,
                client_ip(request),
            ),
        )
        refresh = await self.create_refresh_token(conn, user_id, parent=None, session_id=session_id)
        await self.add_amr_claim(conn, session_id, method)
        return await self.token_response(conn, user_id, session_id, refresh)

    async def swap_refresh_token(self, conn: Conn, user_id: uuid.UUID, token: Row) -> str:
        """GoTrue's ``GrantRefreshTokenSwap``: revoke ``token``, issue its child."""
        await conn.execute(
            "update auth.refresh_tokens set revoked = true, updated_at = %s where id = %s",
            (_now(), token["id"]),
        )
        return await self.create_refresh_token(
            conn, user_id, parent=token["token"], session_id=token["session_id"]
        )

    # -- endpoints: public ----------------------------------------------------

    async def health(self, request: Request) -> Response:
        return JSONResponse(
            {
                "version": GOTRUE_VERSION,
                "name": "GoTrue",
                "description": "GoTrue is a user registration and authentication API",
            }
        )

    async def settings(self, request: Request) -> Response:
        providers = [
            "anonymous_users", "apple", "azure", "bitbucket", "discord", "facebook",
            "snapchat", "figma", "fly", "github", "gitlab", "google", "keycloak", "kakao",
            "linkedin", "linkedin_oidc", "notion", "spotify", "slack", "slack_oidc",
            "workos", "twitch", "twitter", "email", "phone", "zoom",
        ]  # fmt: skip
        return JSONResponse(
            {
                "external": {name: name == "email" for name in providers},
                "disable_signup": False,
                "mailer_autoconfirm": True,
                "phone_autoconfirm": False,
                "sms_provider": "twilio",
                "saml_enabled": False,
            }
        )

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(self.signer.public_jwks())

    async def signup(self, request: Request) -> Response:
        params = await read_params(request, "SignupParams")
        email, phone = params.text("email"), params.text("phone")
        password = params.text("password")
        data = params.obj("data") or {}
        if not email and not phone:
            raise unprocessable("anonymous_provider_disabled", "Anonymous sign-ins are disabled")
        provider = "email" if email else "phone"
        if not password:
            raise bad_request("validation_failed", "Signup requires a valid password")
        check_password_strength(password, self.config.minimum_password_length)
        if email and phone:
            raise bad_request(
                "validation_failed",
                "Only an email address or phone number should be provided on signup.",
            )
        if provider == "phone":
            raise bad_request("phone_provider_disabled", "Phone signups are disabled")
        email = validate_email(email)

        async with self.pool.connection() as conn:
            existing = await store.find_duplicate_email(conn, email, AUDIENCE)
        hashed = None if existing else await hash_password(password)

        async with self.tx() as conn:
            if existing is not None:
                if existing["email_confirmed_at"] is not None:
                    # Autoconfirm is on: GoTrue then says so plainly.
                    raise unprocessable("user_already_exists", "User already registered")
                user_id = existing["id"]
            else:
                user_id = uuid.uuid4()
                await self._insert_user(
                    conn,
                    user_id=user_id,
                    email=email,
                    hashed=hashed,
                    user_metadata=data,
                    app_metadata={"provider": "email", "providers": ["email"]},
                    role="",
                )
                await conn.execute(
                    "update auth.users set role = %s, updated_at = %s where id = %s",
                    (DEFAULT_ROLE, _now(), user_id),
                )
            cur = await conn.execute(
                "select 1 from auth.identities where provider_id = %s and provider = 'email'",
                (str(user_id),),
            )
            if await cur.fetchone() is None:
                identity_data: dict[str, Any] = {
                    "sub": str(user_id),
                    "email": email,
                    "email_verified": False,
                    "phone_verified": False,
                }
                for key, value in data.items():
                    identity_data.setdefault(key, value)
                await self._insert_identity(conn, user_id, "email", identity_data)
            user = await store.fetch_user(conn, user_id)
            assert user is not None
            if user["email_confirmed_at"] is None:
                await self._confirm(conn, user)
            session = await self.issue_session(conn, request, user_id, "password")
        return JSONResponse(session)

    async def _insert_user(
        self,
        conn: Conn,
        *,
        user_id: uuid.UUID,
        email: str,
        hashed: str | None,
        user_metadata: dict[str, Any],
        app_metadata: dict[str, Any],
        role: str,
        aud: str = AUDIENCE,
    ) -> None:
        now = _now()
        await conn.execute(
            "insert into auth.users (instance_id, id, aud, role, email, encrypted_password,"
            " raw_app_meta_data, raw_user_meta_data, created_at, updated_at,"
            " confirmation_token, recovery_token, email_change_token_current,"
            " email_change_token_new, email_change, phone_change, phone_change_token,"
            " reauthentication_token, email_change_confirm_status, is_sso_user, is_anonymous)"
            " values (%s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s,"
            " '', '', '', '', '', '', '', '', 0, false, false)",
            (
                NIL_UUID,
                user_id,
                aud,
                role,
                email or None,
                hashed or "",
                store.jsonb(app_metadata),
                store.jsonb(user_metadata),
                now,
                now,
            ),
        )

    async def _insert_identity(
        self, conn: Conn, user_id: uuid.UUID, provider: str, identity_data: dict[str, Any]
    ) -> None:
        now = _now()
        if isinstance(identity_data.get("email"), str):
            identity_data["email"] = identity_data["email"].lower()
        await conn.execute(
            "insert into auth.identities (id, provider_id, user_id, identity_data, provider,"
            " last_sign_in_at, created_at, updated_at)"
            " values (%s, %s, %s, %s::jsonb, %s, %s, %s, %s)",
            (
                uuid.uuid4(),
                str(identity_data["sub"]),
                user_id,
                store.jsonb(identity_data),
                provider,
                now,
                now,
                now,
            ),
        )

    async def _merge_metadata(
        self, conn: Conn, user_id: uuid.UUID, column: str, updates: dict[str, Any]
    ) -> None:
        """GoTrue's ``UpdateUserMetaData``/``UpdateAppMetaData``: set keys, null deletes."""
        cur = await conn.execute(
            f"select {column} from auth.users where id = %s",  # noqa: S608 - fixed names
            (user_id,),
        )
        row = await cur.fetchone()
        current = dict((row or {}).get(column) or {})
        for key, value in updates.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        await conn.execute(
            f"update auth.users set {column} = %s::jsonb, updated_at = %s where id = %s",  # noqa: S608
            (store.jsonb(current), _now(), user_id),
        )

    async def _confirm(self, conn: Conn, user: Row) -> None:
        """GoTrue's ``User.Confirm``."""
        await conn.execute(
            "update auth.users set confirmation_token = '', email_confirmed_at = %s,"
            " updated_at = %s where id = %s",
            (_now(), _now(), user["id"]),
        )
        await self._merge_metadata(conn, user["id"], "raw_user_meta_data", {"email_verified": True})

    async def token(self, request: Request) -> Response:
        grant_type = request.query_params.get("grant_type", "")
        if not grant_type and request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            grant_type = str((await request.form()).get("grant_type", ""))
        if grant_type == "password":
            return JSONResponse(await self.password_grant(request))
        if grant_type == "refresh_token":
            return JSONResponse(await self.refresh_grant(request))
        raise bad_request("invalid_credentials", "unsupported_grant_type")

    async def password_grant(self, request: Request) -> dict[str, Any]:
        params = await read_params(request, "PasswordGrantParams")
        email, phone, password = params.text("email"), params.text("phone"), params.text("password")
        if email and phone:
            raise bad_request(
                "validation_failed",
                "Only an email address or phone number should be provided on login.",
            )
        if phone and not email:
            raise unprocessable("phone_provider_disabled", "Phone logins are disabled")
        if not email:
            raise bad_request("validation_failed", "missing email or phone")
        invalid = bad_request("invalid_credentials", "Invalid login credentials")
        async with self.pool.connection() as conn:
            user = await store.fetch_user_by_email(conn, email, AUDIENCE)
        if user is None or not user["encrypted_password"]:
            raise invalid
        if user["banned_until"] is not None and user["banned_until"] > _now():
            raise bad_request("user_banned", "User is banned")
        if not await check_password(password, user["encrypted_password"]):
            raise invalid
        weak: WeakPasswordError | None = None
        try:
            check_password_strength(password, self.config.minimum_password_length)
        except WeakPasswordError as exc:
            weak = exc
        except AuthError:
            pass
        if user["email_confirmed_at"] is None:
            raise bad_request("email_not_confirmed", "Email not confirmed")
        async with self.tx() as conn:
            response = await self.issue_session(conn, request, user["id"], "password")
        if weak is not None:
            response["weak_password"] = {"message": weak.message, "reasons": weak.reasons}
        return response

    async def refresh_grant(self, request: Request) -> dict[str, Any]:
        """GoTrue's ``RefreshTokenGrant`` for its (legacy, 12-character) refresh tokens,
        with rotation and the reuse interval."""
        params = await read_params(request, "RefreshTokenGrantParams")
        value = params.text("refresh_token")
        if not value:
            raise OAuthError("invalid_request", "refresh_token required")
        if len(value) != 12:
            raise bad_request(
                "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"
            )
        async with self.tx() as conn:
            outcome = await self._refresh_in_tx(conn, request, value)
        # An error found after writes (reuse detection) is raised once they committed,
        # as GoTrue's storage.NewCommitWithError.
        if isinstance(outcome, AuthError):
            raise outcome
        return outcome

    async def _refresh_in_tx(  # noqa: PLR0911 - one return per GoTrue outcome
        self, conn: Conn, request: Request, value: str
    ) -> dict[str, Any] | AuthError:
        now = _now()
        not_found_error = bad_request(
            "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"
        )
        cur = await conn.execute(
            "select * from auth.refresh_tokens where token = %s for update", (value,)
        )
        token = await cur.fetchone()
        if token is None:
            return not_found_error
        user = await store.fetch_user(conn, token["user_id"])
        if user is None:
            return not_found_error
        if user["banned_until"] is not None and user["banned_until"] > now:
            return bad_request("user_banned", "Invalid Refresh Token: User Banned")
        session = None
        if token["session_id"] is not None:
            cur = await conn.execute(
                "select * from auth.sessions where id = %s for update", (token["session_id"],)
            )
            session = await cur.fetchone()
        if session is None:
            await conn.execute("delete from auth.refresh_tokens where id = %s", (token["id"],))
            return bad_request("session_not_found", "Invalid Refresh Token: No Valid Session Found")
        if session["not_after"] is not None and now > session["not_after"]:
            return bad_request("session_expired", "Invalid Refresh Token: Session Expired")
        issued = ""
        if token["revoked"]:
            cur = await conn.execute(
                "select * from auth.refresh_tokens where session_id = %s"
                " and revoked is false order by id desc limit 1",
                (session["id"],),
            )
            active = await cur.fetchone()
            if active is not None and active["parent"] == token["token"]:
                # The client lost the answer to its last refresh: hand the currently
                # active token back instead of a new one.
                issued = active["token"]
            elif now > token["updated_at"] + timedelta(
                seconds=self.config.refresh_token_reuse_interval
            ):
                # Reuse detected: revoke the whole family (the session's tokens).
                await conn.execute(
                    "update auth.refresh_tokens set revoked = true, updated_at = now()"
                    " where session_id = %s and revoked = false",
                    (session["id"],),
                )
                return bad_request(
                    "refresh_token_already_used", "Invalid Refresh Token: Already Used"
                )
        if not issued:
            issued = await self.swap_refresh_token(conn, user["id"], token)
        await conn.execute(
            "update auth.sessions set refreshed_at = %s, user_agent = %s,"
            " ip = %s::inet, updated_at = %s where id = %s",
            (
                now.replace(tzinfo=None),
                request.headers.get("user-agent") or None,
                client_ip(request),
                now,
                session["id"],
            ),
        )
        return await self.token_response(conn, user["id"], session["id"], issued)

    async def logout(self, request: Request) -> Response:
        scope = request.query_params.get("scope", "")
        if scope not in {"", "global", "local", "others"}:
            raise bad_request("validation_failed", f'Unsupported logout scope "{scope}"')
        async with self.tx() as conn:
            ctx = await self.authenticate(request, conn)
            user_id = ctx.user["id"]
            if ctx.session is not None and scope == "local":
                await conn.execute("delete from auth.sessions where id = %s", (ctx.session["id"],))
            elif ctx.session is not None and scope == "others":
                await conn.execute(
                    "delete from auth.sessions where id != %s and user_id = %s",
                    (ctx.session["id"], user_id),
                )
            else:
                await conn.execute("delete from auth.sessions where user_id = %s", (user_id,))
        return Response(status_code=204)

    async def get_user(self, request: Request) -> Response:
        async with self.pool.connection() as conn:
            ctx = await self.authenticate(request, conn)
        aud = request.headers.get("x-jwt-aud") or AUDIENCE
        claim = ctx.claims.get("aud")
        claimed = claim[0] if isinstance(claim, list) and claim else claim
        if claimed != aud:
            raise bad_request("validation_failed", "Token audience doesn't match request audience")
        return JSONResponse(store.user_json(ctx.user))

    async def update_user(self, request: Request) -> Response:
        params = await read_params(request, "UserUpdateParams")
        email = params.text("email")
        password = params.opt_text("password")
        data = params.obj("data")
        app_data = params.obj("app_metadata")
        phone = params.text("phone")
        if email:
            email = validate_email(email)
        if phone:
            raise bad_request("phone_provider_disabled", "Phone logins are disabled")
        if password is not None:
            check_password_strength(password, self.config.minimum_password_length)
        async with self.pool.connection() as conn:
            ctx = await self.authenticate(request, conn)
            user = ctx.user
            if app_data is not None and user["role"] not in ADMIN_ROLES:
                raise forbidden("not_admin", "Updating app_metadata requires admin privileges")
            aal2 = ctx.session is not None and ctx.session["aal"] == "aal2"
            if (
                store.has_verified_factor(user)
                and not aal2
                and ((password or "") != "" or (email and email != (user["email"] or "")))
            ):
                raise AuthError(
                    401,
                    "insufficient_aal",
                    "AAL2 session is required to update email or password when MFA is enabled.",
                )
            changing_email = bool(email) and email != (user["email"] or "")
            if changing_email and await store.find_duplicate_email(
                conn, email, AUDIENCE, current_user=user["id"]
            ):
                raise unprocessable(
                    "email_exists", "A user with this email address has already been registered"
                )
        hashed: str | None = None
        if password is not None:
            if password and await check_password(password, user["encrypted_password"]):
                raise unprocessable(
                    "same_password", "New password should be different from the old password."
                )
            hashed = await hash_password(password) if password else None
        async with self.tx() as conn:
            if password is not None:
                await self._update_password(
                    conn, user["id"], hashed, ctx.session["id"] if ctx.session else None
                )
            if data is not None:
                await self._merge_metadata(conn, user["id"], "raw_user_meta_data", data)
            if app_data is not None:
                await self._merge_metadata(conn, user["id"], "raw_app_meta_data", app_data)
            if changing_email:
                await self._send_email_change(conn, user, email)
            fresh = await store.fetch_user(conn, user["id"])
        assert fresh is not None
        return JSONResponse(store.user_json(fresh))

    async def _update_password(
        self, conn: Conn, user_id: uuid.UUID, hashed: str | None, keep_session: Any
    ) -> None:
        """GoTrue's ``User.UpdatePassword``: new hash, pending tokens cleared, and every
        other session (all of them when ``keep_session`` is None) logged out."""
        await conn.execute(
            "update auth.users set encrypted_password = %s, confirmation_token = '',"
            " confirmation_sent_at = null, recovery_token = '', recovery_sent_at = null,"
            " email_change_token_current = '', email_change_token_new = '',"
            " email_change_sent_at = null, phone_change_token = '', phone_change_sent_at = null,"
            " reauthentication_token = '', reauthentication_sent_at = null, updated_at = %s"
            " where id = %s",
            (hashed, _now(), user_id),
        )
        if keep_session is None:
            await conn.execute("delete from auth.sessions where user_id = %s", (user_id,))
        else:
            await conn.execute(
                "delete from auth.sessions where id != %s and user_id = %s",
                (keep_session, user_id),
            )

    async def _send_email_change(self, conn: Conn, user: Row, email: str) -> None:
        """GoTrue's ``sendEmailChange`` with secure email change on: the new address is
        pending (``new_email``) until confirmed by the links mailed to both addresses.
        There is no mailer here; the tokens are stored as GoTrue stores them."""
        sent_at = user["email_change_sent_at"]
        now = _now()
        if sent_at is not None and sent_at + EMAIL_MAX_FREQUENCY > now:
            left = int((sent_at + EMAIL_MAX_FREQUENCY - now).total_seconds())
            raise AuthError(
                429,
                "over_email_send_rate_limit",
                f"For security purposes, you can only request this after {left} seconds.",
            )

        otp_new, otp_current = _otp(), _otp()
        current = _token_hash(user["email"], otp_current) if user["email"] else ""
        new = _token_hash(email, otp_new)
        await conn.execute(
            "update auth.users set email_change = %s, email_change_token_new = %s,"
            " email_change_token_current = %s, email_change_confirm_status = 0,"
            " email_change_sent_at = %s, updated_at = %s where id = %s",
            (email, new, current, now, now, user["id"]),
        )
        # GoTrue's templates: the current address confirms the change, the new one
        # its ownership (secure email change: both).
        if user["email"]:
            self._mail(
                user["email"],
                "Confirm Email Change",
                "email_change_current",
                current,
                otp_current,
                f"Follow this link to confirm the update of your email from "
                f"{user['email']} to {email}",
            )
        self._mail(
            email,
            "Confirm Email Change",
            "email_change_new",
            new,
            otp_new,
            f"Follow this link to confirm the update of your email from {user['email']} to {email}",
        )

    def _mail(  # noqa: PLR0917 - the template's fields
        self, to: str, subject: str, kind: str, token_hash: str, otp: str, lead: str
    ) -> None:
        verify_type = "recovery" if kind == "recovery" else "email_change"
        link = f"{self.config.auth_issuer}/verify?" + urlencode(
            {"token": token_hash, "type": verify_type, "redirect_to": SITE_URL}
        )
        text = f"{subject}\n\n{lead}:\n{link}\n\nAlternatively, enter the code: {otp}\n"
        self.mailbox.send(
            Message(to=to, subject=subject, text=text, link=link, code=otp, kind=kind)
        )

    # -- endpoints: recovery and verification ---------------------------------

    async def recover(self, request: Request) -> Response:
        """GoTrue's ``Recover``: a known, confirmed or not, address gets the recovery mail
        (token hash stored in ``recovery_token``); an unknown one the same empty 200."""
        params = await read_params(request, "RecoverParams")
        email = params.text("email")
        if not email:
            raise unprocessable("validation_failed", "Password recovery requires an email")
        email = validate_email(email)
        async with self.tx() as conn:
            user = await store.fetch_user_by_email(conn, email, AUDIENCE)
            if user is None:
                return JSONResponse({})
            now = _now()
            sent_at = user["recovery_sent_at"]
            if sent_at is not None and sent_at + EMAIL_MAX_FREQUENCY > now:
                left = max(1, int((sent_at + EMAIL_MAX_FREQUENCY - now).total_seconds()))
                raise AuthError(
                    429,
                    "over_email_send_rate_limit",
                    f"For security purposes, you can only request this after {left} seconds.",
                )
            otp = _otp()
            hashed = _token_hash(user["email"], otp)
            await conn.execute(
                "update auth.users set recovery_token = %s, recovery_sent_at = %s,"
                " updated_at = %s where id = %s",
                (hashed, now, now, user["id"]),
            )
        self._mail(
            user["email"],
            "Reset Your Password",
            "recovery",
            hashed,
            otp,
            "Follow this link to reset the password for your user",
        )
        return JSONResponse({})

    async def verify_post(self, request: Request) -> Response:
        """GoTrue's ``verifyPost`` for email OTPs: ``{type, email, token}`` or
        ``{type, token_hash}`` with type ``recovery`` or ``email_change``; a wrong or
        expired code is 403 otp_expired."""
        params = await read_params(request, "VerifyParams")
        kind = params.text("type")
        if kind not in {"recovery", "email_change"}:
            raise bad_request("validation_failed", f"Verify requires a verification type: {kind}")
        token_hash = params.text("token_hash")
        if not token_hash:
            email, token = params.text("email"), params.text("token")
            if not email or not token:
                raise bad_request(
                    "validation_failed", "Verify requires either a token or a token hash"
                )
            token_hash = _token_hash(validate_email(email), token)
        async with self.tx() as conn:
            outcome = await self._verify_in_tx(conn, request, kind, token_hash)
        if isinstance(outcome, Response):
            return outcome
        return JSONResponse(outcome)

    async def verify_get(self, request: Request) -> Response:
        """GoTrue's ``verifyGet``: the mail's link; redirects to ``redirect_to`` with the
        session (or the error) in the fragment."""
        kind = request.query_params.get("type", "")
        token_hash = request.query_params.get("token", "")
        target = request.query_params.get("redirect_to") or SITE_URL
        if kind not in {"recovery", "email_change"} or not token_hash:
            raise bad_request("validation_failed", "Verify requires a verification type")
        try:
            async with self.tx() as conn:
                outcome = await self._verify_in_tx(conn, request, kind, token_hash)
        except AuthError as exc:
            fragment = urlencode(
                {"error": "access_denied", "error_code": exc.code, "error_description": exc.message}
            )
            return Response(status_code=303, headers={"Location": f"{target}#{fragment}"})
        if isinstance(outcome, Response):
            fragment = urlencode({"message": _SINGLE_CONFIRMATION})
        else:
            fragment = urlencode(
                {
                    "access_token": outcome["access_token"],
                    "expires_at": outcome["expires_at"],
                    "expires_in": outcome["expires_in"],
                    "refresh_token": outcome["refresh_token"],
                    "token_type": "bearer",
                    "type": kind,
                }
            )
        return Response(status_code=303, headers={"Location": f"{target}#{fragment}"})

    async def _verify_in_tx(
        self, conn: Conn, request: Request, kind: str, token_hash: str
    ) -> dict[str, Any] | Response:
        expired = forbidden("otp_expired", "Token has expired or is invalid")
        now = _now()
        if kind == "recovery":
            cur = await conn.execute(
                "select id, recovery_sent_at from auth.users where recovery_token = %s"
                " and instance_id = %s for update",
                (token_hash, NIL_UUID),
            )
            row = await cur.fetchone()
            if row is None or row["recovery_sent_at"] is None:
                raise expired
            if row["recovery_sent_at"] + OTP_EXPIRY < now:
                raise expired
            await conn.execute(
                "update auth.users set recovery_token = '', recovery_sent_at = null,"
                " email_confirmed_at = coalesce(email_confirmed_at, %s), updated_at = %s"
                " where id = %s",
                (now, now, row["id"]),
            )
            return await self.issue_session(conn, request, row["id"], "otp")
        cur = await conn.execute(
            "select * from auth.users where instance_id = %s and (email_change_token_new = %s"
            " or email_change_token_current = %s) for update",
            (NIL_UUID, token_hash, token_hash),
        )
        user = await cur.fetchone()
        if user is None or not user["email_change"] or user["email_change_sent_at"] is None:
            raise expired
        if user["email_change_sent_at"] + OTP_EXPIRY < now:
            raise expired
        matched_new = user["email_change_token_new"] == token_hash
        other = (
            user["email_change_token_current"] if matched_new else user["email_change_token_new"]
        )
        if other and (user["email_change_confirm_status"] or 0) == 0:
            # Secure email change: the first of the two links.
            column = "email_change_token_new" if matched_new else "email_change_token_current"
            await conn.execute(
                f"update auth.users set {column} = '', email_change_confirm_status = 1,"  # noqa: S608
                " updated_at = %s where id = %s",
                (now, user["id"]),
            )
            return JSONResponse({"msg": _SINGLE_CONFIRMATION, "code": "200"})
        new_email = user["email_change"]
        await conn.execute(
            "update auth.users set email = %s, email_change = '', email_change_token_new = '',"
            " email_change_token_current = '', email_change_confirm_status = 0,"
            " email_change_sent_at = null, updated_at = %s where id = %s",
            (new_email, now, user["id"]),
        )
        await conn.execute(
            "update auth.identities set identity_data = identity_data || jsonb_build_object("
            "'email', %s::text), updated_at = %s where user_id = %s and provider = 'email'",
            (new_email, now, user["id"]),
        )
        return await self.issue_session(conn, request, user["id"], "otp")

    # -- endpoints: MFA -------------------------------------------------------

    async def _factor(self, conn: Conn, user: Row, raw_id: str) -> Row:
        try:
            factor_id = uuid.UUID(raw_id)
        except ValueError as exc:
            raise not_found("validation_failed", "factor_id must be an UUID") from exc
        cur = await conn.execute(
            "select * from auth.mfa_factors where user_id = %s and id = %s",
            (user["id"], factor_id),
        )
        factor = await cur.fetchone()
        if factor is None:
            raise not_found("mfa_factor_not_found", "Factor not found")
        return dict(factor)

    async def _mfa_context(self, request: Request, conn: Conn) -> AuthContext:
        ctx = await self.authenticate(request, conn)
        if ctx.claims.get("is_anonymous"):
            raise forbidden(
                "no_authorization", "Anonymous user not allowed to perform these actions"
            )
        return ctx

    async def enroll_factor(self, request: Request) -> Response:
        async with self.tx() as conn:
            ctx = await self._mfa_context(request, conn)
            if ctx.session is None:
                raise AuthError(
                    500,
                    "unexpected_failure",
                    "A valid session and a registered user are required to enroll a factor",
                )
            params = await read_params(request, "EnrollFactorParams")
            factor_type = params.text("factor_type")
            friendly_name = params.text("friendly_name")
            if factor_type == "phone":
                raise unprocessable(
                    "mfa_phone_enroll_not_enabled", "MFA enroll is disabled for Phone"
                )
            if factor_type == "webauthn":
                raise unprocessable(
                    "mfa_webauthn_enroll_not_enabled", "MFA enroll is disabled for WebAuthn"
                )
            if factor_type != "totp":
                raise bad_request(
                    "validation_failed", "factor_type needs to be totp, phone, or webauthn"
                )
            issuer = params.text("issuer") or (urlsplit(SITE_URL).netloc)
            await conn.execute(
                "delete from auth.mfa_factors f where status != 'verified'"
                " and not exists (select 1 from auth.mfa_challenges c where c.factor_id = f.id)"
                " and created_at + %s < current_timestamp",
                (MFA_FACTOR_EXPIRY,),
            )
            cur = await conn.execute(
                "select friendly_name, status from auth.mfa_factors where user_id = %s",
                (ctx.user["id"],),
            )
            factors = await cur.fetchall()
            verified = 0
            for factor in factors:
                if (factor["friendly_name"] or "") == friendly_name:
                    raise unprocessable(
                        "mfa_factor_name_conflict",
                        f'A factor with the friendly name "{friendly_name}" for this user'
                        " already exists",
                    )
                verified += factor["status"] == "verified"
            if len(factors) >= MFA_MAX_ENROLLED_FACTORS or verified >= MFA_MAX_VERIFIED_FACTORS:
                raise unprocessable(
                    "too_many_enrolled_mfa_factors",
                    "Maximum number of verified factors reached, unenroll to continue",
                )
            if verified > 0 and ctx.session["aal"] != "aal2":
                raise forbidden("insufficient_aal", "AAL2 required to enroll a new factor")
            secret = new_totp_secret()
            uri = totp_uri(secret, issuer, ctx.user["email"] or "")
            factor_id = uuid.uuid4()
            now = _now()
            await conn.execute(
                "insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status,"
                " created_at, updated_at, secret) values (%s, %s, %s, 'totp', 'unverified',"
                " %s, %s, %s)",
                (factor_id, ctx.user["id"], friendly_name, now, now, secret),
            )
        return JSONResponse(
            {
                "id": str(factor_id),
                "type": "totp",
                "friendly_name": friendly_name,
                "totp": {"qr_code": qr_svg(uri), "secret": secret, "uri": uri},
            }
        )

    async def challenge_factor(self, request: Request) -> Response:
        async with self.tx() as conn:
            ctx = await self._mfa_context(request, conn)
            factor = await self._factor(conn, ctx.user, request.path_params["factor_id"])
            if factor["factor_type"] != "totp":
                raise unprocessable(
                    "mfa_phone_verify_not_enabled", "MFA verification is disabled for Phone"
                )
            challenge_id = uuid.uuid4()
            now = _now()
            await conn.execute(
                "insert into auth.mfa_challenges (id, factor_id, created_at, ip_address)"
                " values (%s, %s, %s, %s::inet)",
                (challenge_id, factor["id"], now, client_ip(request)),
            )
            await conn.execute(
                "update auth.mfa_factors set last_challenged_at = %s, updated_at = %s"
                " where id = %s",
                (now, now, factor["id"]),
            )
        return JSONResponse(
            {
                "id": str(challenge_id),
                "type": "totp",
                "expires_at": int((now + MFA_CHALLENGE_EXPIRY).timestamp()),
            }
        )

    async def verify_factor(self, request: Request) -> Response:
        params = await read_params(request, "VerifyFactorParams")
        code = params.text("code")
        raw_challenge = params.text("challenge_id")
        async with self.pool.connection() as conn:
            ctx = await self._mfa_context(request, conn)
            factor = await self._factor(conn, ctx.user, request.path_params["factor_id"])
            if not code:
                raise bad_request("validation_failed", "Code needs to be non-empty")
            try:
                challenge_id = uuid.UUID(raw_challenge)
            except ValueError as exc:
                raise bad_request(
                    "bad_json",
                    "Could not parse request body as JSON: uuid: incorrect UUID length",
                ) from exc
            cur = await conn.execute(
                "select id, created_at, verified_at, host(ip_address) as ip"
                " from auth.mfa_challenges where id = %s and factor_id = %s",
                (challenge_id, factor["id"]),
            )
            challenge = await cur.fetchone()
            await conn.commit()
        if challenge is None:
            raise unprocessable(
                "mfa_factor_not_found", "MFA factor with the provided challenge ID not found"
            )
        if challenge["verified_at"] is not None or challenge["ip"] != client_ip(request):
            raise unprocessable(
                "mfa_ip_address_mismatch", "Challenge and verify IP addresses mismatch."
            )
        if challenge["created_at"] + MFA_CHALLENGE_EXPIRY < _now():
            async with self.tx() as conn:
                await conn.execute("delete from auth.mfa_challenges where id = %s", (challenge_id,))
            raise unprocessable(
                "mfa_challenge_expired",
                f"MFA challenge {challenge_id} has expired, verify against another challenge"
                " or create a new challenge.",
            )
        if not verify_totp(factor["secret"] or "", code):
            raise unprocessable("mfa_verification_failed", "Invalid TOTP code entered")
        session = ctx.session
        if session is None:
            raise AuthError(500, "unexpected_failure", "Cannot read SessionId claim as UUID")
        async with self.tx() as conn:
            now = _now()
            await conn.execute(
                "update auth.mfa_challenges set verified_at = %s where id = %s", (now, challenge_id)
            )
            if factor["status"] != "verified":
                await conn.execute(
                    "update auth.mfa_factors set status = 'verified', updated_at = %s"
                    " where id = %s",
                    (now, factor["id"]),
                )
            # updateMFASessionAndClaims: the TOTP AMR claim, a swapped refresh token, the
            # session raised to aal2 and bound to the factor.
            await self.add_amr_claim(conn, session["id"], "totp")
            cur = await conn.execute(
                "select * from auth.refresh_tokens where instance_id = %s and session_id = %s"
                " order by created_at asc limit 1",
                (NIL_UUID, session["id"]),
            )
            current = await cur.fetchone()
            if current is None:
                raise bad_request(
                    "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"
                )
            refresh = await self.swap_refresh_token(conn, ctx.user["id"], current)
            await conn.execute(
                "update auth.sessions set aal = 'aal2', factor_id = %s, updated_at = %s"
                " where id = %s",
                (factor["id"], now, session["id"]),
            )
            response = await self.token_response(conn, ctx.user["id"], session["id"], refresh)
            # Every session below aal2 ends, and unverified factors of this type go.
            await conn.execute(
                "delete from auth.sessions where user_id = %s and aal < 'aal2'", (ctx.user["id"],)
            )
            await conn.execute(
                "delete from auth.mfa_factors where user_id = %s and status = 'unverified'"
                " and factor_type = %s",
                (ctx.user["id"], factor["factor_type"]),
            )
        return JSONResponse(response)

    async def unenroll_factor(self, request: Request) -> Response:
        async with self.tx() as conn:
            ctx = await self._mfa_context(request, conn)
            factor = await self._factor(conn, ctx.user, request.path_params["factor_id"])
            if ctx.session is None:
                raise AuthError(
                    500,
                    "unexpected_failure",
                    "A valid session and factor are required to unenroll a factor",
                )
            if factor["status"] == "verified" and ctx.session["aal"] != "aal2":
                raise unprocessable("insufficient_aal", "AAL2 required to unenroll verified factor")
            await self._delete_factor(conn, factor)
        return JSONResponse({"id": str(factor["id"])})

    async def _delete_factor(self, conn: Conn, factor: Row) -> None:
        """Destroy the factor and ``DowngradeSessionsToAAL1``."""
        await conn.execute("delete from auth.mfa_factors where id = %s", (factor["id"],))
        await conn.execute(
            "delete from auth.mfa_amr_claims where authentication_method = %s and session_id in"
            " (select id from auth.sessions where factor_id = %s)",
            (factor["factor_type"], factor["id"]),
        )
        await conn.execute(
            "update auth.sessions set aal = 'aal1', factor_id = null"
            " where user_id = %s and factor_id = %s",
            (factor["user_id"], factor["id"]),
        )

    # -- endpoints: admin -----------------------------------------------------

    async def _load_user(self, conn: Conn, raw_id: str) -> Row:
        try:
            user_id = uuid.UUID(raw_id)
        except ValueError as exc:
            raise not_found("validation_failed", "user_id must be an UUID") from exc
        user = await store.fetch_user(conn, user_id)
        if user is None:
            raise not_found("user_not_found", "User not found")
        return user

    async def admin_list_users(self, request: Request) -> Response:
        self.require_admin(request)
        query = request.query_params
        try:
            page = int(query.get("page") or 1)
            per_page = int(query.get("per_page") or 50)
            if page < 0 or per_page < 0:
                raise ValueError("negative")
        except ValueError as exc:
            raise bad_request("validation_failed", f"Bad Pagination Parameters: {exc}") from exc
        page, per_page = max(page, 1), max(per_page, 1)
        direction = "desc"
        sort = query.get("sort", "")
        if sort:
            field, _, wanted = sort.strip().partition(" ")
            if field != "created_at" or wanted.lower() not in {"", "asc", "desc"}:
                raise bad_request("validation_failed", f"Bad Sort Parameters: bad field {field}")
            direction = wanted.lower() or "asc"
        where = "instance_id = %s and aud = %s"
        args: list[Any] = [NIL_UUID, AUDIENCE]
        search = query.get("filter", "")
        if search:
            where += " and (email like %s or raw_user_meta_data->>'full_name' ilike %s)"
            args += [f"%{search}%", f"%{search}%"]
        async with self.pool.connection() as conn:
            cur = await conn.execute(f"select count(*) as n from auth.users where {where}", args)  # noqa: S608
            total = int((await cur.fetchone() or {"n": 0})["n"])
            cur = await conn.execute(
                f"select * from auth.users where {where} order by created_at {direction}"  # noqa: S608
                " limit %s offset %s",
                [*args, per_page, (page - 1) * per_page],
            )
            users = [dict(r) for r in await cur.fetchall()]
        pages = -(-total // per_page)
        path = request.url.path[len(request.scope.get("root_path", "")) :] or "/"
        params = dict(query)

        def link(target: int) -> str:
            return f"<{path}?{urlencode(sorted({**params, 'page': str(target)}.items()))}>"

        header = ""
        if pages > page:
            header += f'{link(page + 1)}; rel="next", '
        header += f'{link(pages)}; rel="last"'
        return JSONResponse(
            {"users": [store.user_json(u, eager=False) for u in users], "aud": AUDIENCE},
            headers={"Link": header, "X-Total-Count": str(total)},
        )

    async def admin_create_user(self, request: Request) -> Response:  # noqa: PLR0912, PLR0915
        self.require_admin(request)
        params = await read_params(request, "AdminUserParams")
        aud = params.text("aud") or AUDIENCE
        email, phone = params.text("email"), params.text("phone")
        password = params.opt_text("password")
        password_hash = params.text("password_hash")
        if not email and not phone:
            raise bad_request(
                "validation_failed", "Cannot create a user without either an email or phone"
            )
        if phone:
            raise bad_request("phone_provider_disabled", "Phone logins are disabled")
        email = validate_email(email)
        async with self.pool.connection() as conn:
            if await store.find_duplicate_email(conn, email, aud):
                raise unprocessable(
                    "email_exists", "A user with this email address has already been registered"
                )
        if password is not None and password_hash:
            raise bad_request(
                "validation_failed", "Only a password or a password hash should be provided"
            )
        if password_hash:
            try:
                bcrypt.checkpw(b"", password_hash.encode())
            except ValueError as exc:
                raise AuthError(500, "unexpected_failure", "Error creating user") from exc
            hashed = password_hash
        else:
            if not password:
                password = secrets.token_urlsafe(48)
            if len(password.encode()) > MAX_PASSWORD_LENGTH:
                raise bad_request("validation_failed", "bcrypt: password length exceeds 72 bytes")
            hashed = await hash_password(password)
        user_id = uuid.uuid4()
        custom_id = params.text("id")
        if custom_id:
            try:
                user_id = uuid.UUID(custom_id)
            except ValueError as exc:
                raise bad_request(
                    "validation_failed", "ID must conform to the uuid v4 format"
                ) from exc
            if user_id == NIL_UUID:
                raise bad_request("validation_failed", "ID cannot be a nil uuid")
        ban = self._ban_duration(params.text("ban_duration"))
        user_metadata = params.obj("user_metadata") or {}
        app_metadata = params.obj("app_metadata")
        try:
            async with self.tx() as conn:
                await self._insert_user(
                    conn,
                    user_id=user_id,
                    email=email,
                    hashed=hashed,
                    user_metadata=user_metadata,
                    app_metadata={"provider": "email", "providers": ["email"]},
                    role="",
                    aud=aud,
                )
                await self._insert_identity(
                    conn,
                    user_id,
                    "email",
                    {
                        "sub": str(user_id),
                        "email": email,
                        "email_verified": False,
                        "phone_verified": False,
                    },
                )
                await conn.execute(
                    "update auth.users set role = %s, updated_at = %s where id = %s",
                    (params.text("role") or DEFAULT_ROLE, _now(), user_id),
                )
                if app_metadata is not None:
                    await self._merge_metadata(conn, user_id, "raw_app_meta_data", app_metadata)
                user = await store.fetch_user(conn, user_id)
                assert user is not None
                if params.flag("email_confirm"):
                    await self._confirm(conn, user)
                if ban is not None:
                    await self._ban(conn, user_id, ban)
                user = await store.fetch_user(conn, user_id)
        except AuthError:
            raise
        except Exception as exc:
            log.warning("admin create user failed: %s", exc)
            raise AuthError(500, "unexpected_failure", "Database error creating new user") from exc
        assert user is not None
        return JSONResponse(store.user_json(user))

    def _ban_duration(self, text: str) -> timedelta | None:
        if not text:
            return None
        if text == "none":
            return timedelta(0)
        try:
            return _parse_go_duration(text)
        except ValueError as exc:
            raise bad_request(
                "validation_failed", f"invalid format for ban duration: {exc}"
            ) from exc

    async def _ban(self, conn: Conn, user_id: uuid.UUID, duration: timedelta) -> None:
        until = None if duration == timedelta(0) else _now() + duration
        await conn.execute(
            "update auth.users set banned_until = %s, updated_at = %s where id = %s",
            (until, _now(), user_id),
        )

    async def admin_get_user(self, request: Request) -> Response:
        self.require_admin(request)
        async with self.pool.connection() as conn:
            user = await self._load_user(conn, request.path_params["user_id"])
        return JSONResponse(store.user_json(user))

    async def admin_update_user(self, request: Request) -> Response:  # noqa: PLR0912, PLR0915
        self.require_admin(request)
        async with self.pool.connection() as conn:
            user = await self._load_user(conn, request.path_params["user_id"])
        params = await read_params(request, "AdminUserParams")
        email, phone = params.text("email"), params.text("phone")
        if email:
            email = validate_email(email)
        if phone:
            raise bad_request("phone_provider_disabled", "Phone logins are disabled")
        ban = self._ban_duration(params.text("ban_duration"))
        password = params.opt_text("password")
        hashed: str | None = None
        if password is not None:
            check_password_strength(password, self.config.minimum_password_length)
            hashed = await hash_password(password) if password else None
        user_id = user["id"]
        try:
            async with self.tx() as conn:
                if params.text("role"):
                    await conn.execute(
                        "update auth.users set role = %s, updated_at = %s where id = %s",
                        (params.text("role").strip(), _now(), user_id),
                    )
                if params.flag("email_confirm"):
                    await self._confirm(conn, user)
                if password is not None:
                    await self._update_password(conn, user_id, hashed, None)
                if email:
                    cur = await conn.execute(
                        "select id, identity_data from auth.identities"
                        " where provider_id = %s and provider = 'email'",
                        (str(user_id),),
                    )
                    identity = await cur.fetchone()
                    verified = params.flag("email_confirm")
                    if identity is None:
                        await self._insert_identity(
                            conn,
                            user_id,
                            "email",
                            {
                                "sub": str(user_id),
                                "email": email,
                                "email_verified": verified,
                                "phone_verified": False,
                            },
                        )
                    else:
                        data = dict(identity["identity_data"] or {})
                        data.update({"email": email, "email_verified": verified})
                        await conn.execute(
                            "update auth.identities set identity_data = %s::jsonb where id = %s",
                            (store.jsonb(data), identity["id"]),
                        )
                    await conn.execute(
                        "update auth.users set email = %s, updated_at = %s where id = %s",
                        (email, _now(), user_id),
                    )
                app_metadata = params.obj("app_metadata")
                if app_metadata is not None:
                    await self._merge_metadata(conn, user_id, "raw_app_meta_data", app_metadata)
                user_metadata = params.obj("user_metadata")
                if user_metadata is not None:
                    await self._merge_metadata(conn, user_id, "raw_user_meta_data", user_metadata)
                if ban is not None:
                    await self._ban(conn, user_id, ban)
                fresh = await store.fetch_user(conn, user_id)
        except AuthError:
            raise
        except Exception as exc:
            log.warning("admin update user failed: %s", exc)
            raise AuthError(500, "unexpected_failure", "Error updating user") from exc
        assert fresh is not None
        return JSONResponse(store.user_json(fresh))

    async def admin_delete_user(self, request: Request) -> Response:
        self.require_admin(request)
        async with self.pool.connection() as conn:
            user = await self._load_user(conn, request.path_params["user_id"])
        soft = False
        if (await request.body()).strip():
            soft = (await read_params(request, "adminUserDeleteParams")).flag("should_soft_delete")
        async with self.tx() as conn:
            if not soft:
                await conn.execute("delete from auth.users where id = %s", (user["id"],))
            elif user["deleted_at"] is None:
                await self._soft_delete(conn, user)
        return JSONResponse({})

    async def _soft_delete(self, conn: Conn, user: Row) -> None:
        """GoTrue's ``SoftDeleteUser`` + ``SoftDeleteUserIdentities`` + factors and
        sessions removed."""

        def obfuscate(value: str) -> str:
            digest = hashlib.sha256((str(user["id"]) + value).encode()).digest()
            return base64.urlsafe_b64encode(digest).decode().rstrip("=")

        now = _now()
        await conn.execute(
            "update auth.users set email = %s, phone = %s, encrypted_password = null,"
            " email_change = %s, phone_change = %s, confirmation_token = '', recovery_token = '',"
            " email_change_token_current = '', email_change_token_new = '',"
            " phone_change_token = '', deleted_at = %s, raw_user_meta_data = '{}'::jsonb,"
            " raw_app_meta_data = '{}'::jsonb, updated_at = %s where id = %s",
            (
                obfuscate(user["email"] or ""),
                obfuscate(user["phone"] or "")[:15],
                obfuscate(user["email_change"] or ""),
                obfuscate(user["phone_change"] or "")[:15],
                now,
                now,
                user["id"],
            ),
        )
        for identity in user.get("_identities", []):
            await conn.execute(
                "update auth.identities set identity_data = '{}'::jsonb, provider_id = %s"
                " where id = %s",
                (obfuscate(identity["provider"] + ":" + identity["provider_id"]), identity["id"]),
            )
        await conn.execute("delete from auth.mfa_factors where user_id = %s", (user["id"],))
        await conn.execute("delete from auth.sessions where user_id = %s", (user["id"],))

    async def admin_list_factors(self, request: Request) -> Response:
        self.require_admin(request)
        async with self.pool.connection() as conn:
            user = await self._load_user(conn, request.path_params["user_id"])
        return JSONResponse([store.factor_json(f) for f in user["_factors"]])

    async def admin_delete_factor(self, request: Request) -> Response:
        self.require_admin(request)
        async with self.tx() as conn:
            user = await self._load_user(conn, request.path_params["user_id"])
            factor = await self._factor(conn, user, request.path_params["factor_id"])
            await conn.execute("delete from auth.mfa_factors where id = %s", (factor["id"],))
        return JSONResponse(store.factor_json(factor))

    # -- assembly -------------------------------------------------------------

    def routes(self) -> list[Route]:
        e = self.endpoint
        return [
            Route("/health", e(self.health), methods=["GET"]),
            Route("/settings", e(self.settings), methods=["GET"]),
            Route("/.well-known/jwks.json", e(self.jwks), methods=["GET"]),
            Route("/signup", e(self.signup), methods=["POST"]),
            Route("/token", e(self.token), methods=["POST"]),
            Route("/logout", e(self.logout), methods=["POST"]),
            Route("/recover", e(self.recover), methods=["POST"]),
            Route("/verify", e(self.verify_post), methods=["POST"]),
            Route("/verify", e(self.verify_get), methods=["GET"]),
            Route("/_inbox", self.mailbox.inbox_html, methods=["GET"]),
            Route("/_inbox.json", self.mailbox.inbox_json, methods=["GET"]),
            Route("/user", e(self.get_user), methods=["GET"]),
            Route("/user", e(self.update_user), methods=["PUT"]),
            Route("/factors", e(self.enroll_factor), methods=["POST"]),
            Route("/factors/{factor_id}/challenge", e(self.challenge_factor), methods=["POST"]),
            Route("/factors/{factor_id}/verify", e(self.verify_factor), methods=["POST"]),
            Route("/factors/{factor_id}", e(self.unenroll_factor), methods=["DELETE"]),
            Route("/admin/users", e(self.admin_list_users), methods=["GET"]),
            Route("/admin/users", e(self.admin_create_user), methods=["POST"]),
            Route("/admin/users/{user_id}", e(self.admin_get_user), methods=["GET"]),
            Route("/admin/users/{user_id}", e(self.admin_update_user), methods=["PUT"]),
            Route("/admin/users/{user_id}", e(self.admin_delete_user), methods=["DELETE"]),
            Route("/admin/users/{user_id}/factors", e(self.admin_list_factors), methods=["GET"]),
            Route(
                "/admin/users/{user_id}/factors/{factor_id}",
                e(self.admin_delete_factor),
                methods=["DELETE"],
            ),
        ]


def create_app(config: StackConfig) -> Starlette:
    """The Auth server as a Starlette app; its lifespan opens and closes the pool."""
    server = AuthServer(config)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await server.pool.open()
        try:
            yield
        finally:
            await server.pool.close()

    app = Starlette(routes=server.routes(), lifespan=lifespan)
    app.state.auth_server = server
    return app
