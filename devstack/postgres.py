"""A real PostgreSQL 15 for development and tests.

Three ways to get a database, one interface (:class:`Database`):

* :func:`ephemeral_cluster` — a throw-away cluster for tests: a fresh ``initdb`` in a
  temporary directory, tuned for speed (``fsync=off``), on a random free port, removed
  afterwards.
* :func:`persistent_cluster` — the cluster ``make dev`` uses, under ``.devstack/pgdata``:
  it keeps its data across restarts.
* :func:`from_url` — any server named by ``DATABASE_URL`` (a real Supabase, for example).

:func:`bootstrap` then makes it a Supabase-like database: the platform SQL (roles and
their settings, ``auth`` schema, grants) as the superuser ``supabase_admin``, then every
migration in ``supabase/migrations`` not yet applied (recorded in
``supabase_migrations.schema_migrations`` as the Supabase CLI does) and optionally
``supabase/seed.sql``, both as ``postgres``, which is not a superuser, as on Supabase.

As on Supabase, initdb's superuser is ``supabase_admin``; ``postgres`` is an ordinary
login role (created when the server first starts) that the platform SQL gives
Supabase's attributes: BYPASSRLS, CREATEROLE, CREATEDB, REPLICATION, the API roles.

PostgreSQL refuses to run as root, so when we are root ``initdb``/``pg_ctl`` run as the
``postgres`` system user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_SQL = Path(__file__).resolve().parent / "sql" / "platform.sql"
ROLES_SQL = Path(__file__).resolve().parent / "sql" / "roles.sql"
MIGRATIONS_DIR = ROOT / "supabase" / "migrations"
SEED_SQL = ROOT / "supabase" / "seed.sql"
PG_USER = "postgres"
PG_PASSWORD = "postgres"  # noqa: S105 - local development only; trust auth on loopback
ADMIN_USER = "supabase_admin"  # initdb's superuser, as on Supabase

_MIGRATION_NAME = re.compile(r"^(?P<version>\d{14})_(?P<name>[a-z0-9_]+)\.sql$")


class ClusterError(RuntimeError):
    """The local PostgreSQL could not be created, started or stopped."""


def pg_bindir() -> Path:
    """Directory of the PostgreSQL 15 server binaries (``PG_BINDIR`` overrides)."""
    override = os.environ.get("PG_BINDIR")
    candidates = [Path(override)] if override else []
    candidates += [Path("/usr/lib/postgresql/15/bin")]
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    raise ClusterError(
        "PostgreSQL 15 server binaries not found (looked in "
        + ", ".join(str(c) for c in candidates)
        + "); install the Debian package postgresql-15 or set PG_BINDIR"
    )


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", PG_USER, "--", *cmd]


def _chown_to_postgres(path: Path) -> None:
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(PG_USER)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(_as_postgres_user(cmd), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ClusterError(f"{what} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


@dataclass
class Database:
    """A reachable database: its URL, and what to do when done with it."""

    url: str

    def connect(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.url)


@dataclass
class Cluster:
    """A PostgreSQL cluster this process manages (data directory + server)."""

    datadir: Path
    port: int
    ephemeral: bool
    sockdir: Path

    @property
    def url(self) -> str:
        return f"postgresql://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{self.port}/postgres"

    @property
    def admin_url(self) -> str:
        """The superuser's URL (platform SQL, cluster administration)."""
        return admin_url(self.url)

    @property
    def logfile(self) -> Path:
        return self.datadir / "server.log"

    def initialized(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def init(self) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        _chown_to_postgres(self.datadir)
        os.chmod(self.datadir, 0o700)
        _run(
            [
                str(pg_bindir() / "initdb"),
                "--pgdata",
                str(self.datadir),
                "--username",
                ADMIN_USER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C.UTF-8",
                "--no-instructions",
                *(["--no-sync"] if self.ephemeral else []),
            ],
            "initdb",
        )

    def start(self) -> None:
        self.sockdir.mkdir(parents=True, exist_ok=True)
        _chown_to_postgres(self.sockdir)
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-c port={self.port}",
            f"-c unix_socket_directories={self.sockdir}",
            "-c max_connections=200",
            "-c shared_buffers=256MB",
            # wal_level=logical as on Supabase (Realtime reads the WAL).
            "-c wal_level=logical",
            "-c max_wal_senders=4",
        ]
        if self.ephemeral:
            # A test cluster is thrown away: durability buys nothing.
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        _run(
            [
                str(pg_bindir() / "pg_ctl"),
                "start",
                "--wait",
                "--timeout=60",
                "--silent",
                "--pgdata",
                str(self.datadir),
                "--log",
                str(self.logfile),
                "-o",
                " ".join(options),
            ],
            "pg_ctl start",
        )
        self._wait_ready()
        ensure_login_role(self.admin_url)

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.admin_url, connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                if f'role "{ADMIN_USER}" does not exist' in str(exc):
                    raise ClusterError(
                        f"{self.datadir} was made before {ADMIN_USER} became the cluster's"
                        " superuser (as on Supabase, where postgres is not one): remove it"
                        " to have the cluster made again"
                    ) from exc
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if not (self.datadir / "postmaster.pid").exists():
            return
        _run(
            [
                str(pg_bindir() / "pg_ctl"),
                "stop",
                "--wait",
                "--mode=fast",
                "--silent",
                "--pgdata",
                str(self.datadir),
            ],
            "pg_ctl stop",
        )

    def destroy(self) -> None:
        with contextlib.suppress(ClusterError):
            self.stop()
        if self.ephemeral:
            shutil.rmtree(self.datadir.parent, ignore_errors=True)


def _ephemeral() -> Cluster:
    base = Path(tempfile.mkdtemp(prefix="invoiceflow-pg-"))
    _chown_to_postgres(base)
    os.chmod(base, 0o755)  # noqa: S103 - the postgres user must traverse it
    cluster = Cluster(
        datadir=base / "data", port=free_port(), ephemeral=True, sockdir=base / "sock"
    )
    cluster.init()
    cluster.start()
    return cluster


@contextlib.contextmanager
def ephemeral_cluster() -> Iterator[Cluster]:
    """A brand-new cluster on a free port, removed on exit."""
    cluster = _ephemeral()
    try:
        yield cluster
    finally:
        cluster.destroy()


def persistent_cluster(home: Path, port: int) -> Cluster:
    """The development cluster under ``home/pgdata``: created once, started each time."""
    home.mkdir(parents=True, exist_ok=True)
    _chown_to_postgres(home)
    cluster = Cluster(datadir=home / "pgdata", port=port, ephemeral=False, sockdir=home / "sock")
    if not cluster.initialized():
        cluster.init()
    if (cluster.datadir / "postmaster.pid").exists():
        # A previous `make dev` was killed without stopping its server.
        with contextlib.suppress(ClusterError):
            cluster.stop()
        (cluster.datadir / "postmaster.pid").unlink(missing_ok=True)
    cluster.start()
    return cluster


@contextlib.contextmanager
def test_database() -> Iterator[Database]:
    """``DATABASE_URL`` when given, else an ephemeral cluster; bootstrapped either way."""
    url = os.environ.get("DATABASE_URL")
    if url:
        db = Database(url=url)
        bootstrap(db.url, seed=False)
        yield db
        return
    with ephemeral_cluster() as cluster:
        bootstrap(cluster.url, seed=False)
        yield Database(url=cluster.url)


# -----------------------------------------------------------------------------
# Schema: platform SQL, migrations, seed
# -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations in order; a file that does not follow the naming rule is an error."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise ClusterError(
                f"migration {path.name!r} is not named <14-digit timestamp>_<name>.sql"
            )
        found.append(Migration(match["version"], match["name"], path))
    return found


def admin_url(url: str) -> str:
    """The same server and database as ``url``, as the superuser ``supabase_admin``."""
    return make_conninfo(url, user=ADMIN_USER)


def ensure_login_role(url: str) -> None:
    """Creates the ``postgres`` login role when missing (a new cluster: initdb made only
    ``supabase_admin``), as Supabase's image has it before its migrations run. Its
    attributes and memberships come with the platform SQL."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "do $$ begin if not exists (select from pg_roles where rolname = {role}) then"
                " create role {ident} login password {password}; end if; end $$"
            ).format(
                role=sql.Literal(PG_USER),
                ident=sql.Identifier(PG_USER),
                password=sql.Literal(PG_PASSWORD),
            )
        )


def has_platform(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    row = conn.execute(
        "select to_regclass('auth.users') is not null"
        " and to_regclass('supabase_migrations.schema_migrations') is not null"
    ).fetchone()
    return bool(row and row[0])


def apply_platform(superuser_url: str) -> None:
    """The platform SQL (roles.sql, then platform.sql), as the superuser. Supabase's
    Data API roles preload safeupdate: a server without the module is refused here,
    with the command that installs it, rather than at every REST login."""
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        try:
            conn.execute("load 'safeupdate'")
        except psycopg.errors.UndefinedFile as exc:
            raise ClusterError(
                "the safeupdate module is not installed in this PostgreSQL (Supabase"
                " preloads pg-safeupdate for the Data API): run `make setup`"
                " (devstack/install-system-deps.sh builds devstack/safeupdate)"
            ) from exc
        conn.execute("set safeupdate.enabled = off")  # the platform's own session
        conn.execute(ROLES_SQL.read_text(encoding="utf-8"))
        conn.execute(PLATFORM_SQL.read_text(encoding="utf-8"))


def bootstrap(
    url: str,
    *,
    seed: bool,
    migrations_dir: Path = MIGRATIONS_DIR,
    superuser_url: str | None = None,
) -> list[str]:
    """Platform SQL (when missing; as ``superuser_url``, by default ``supabase_admin`` on
    the same server), then pending migrations and the seed as ``url``'s user (``postgres``,
    not a superuser, as on Supabase). Returns what ran."""
    applied: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        missing = not has_platform(conn)
    if missing:
        apply_platform(superuser_url or admin_url(url))
        applied.append("platform")
    with psycopg.connect(url, autocommit=True) as conn:
        done = {
            str(row[0])
            for row in conn.execute("select version from supabase_migrations.schema_migrations")
        }
        for migration in migrations(migrations_dir):
            if migration.version in done:
                continue
            # Each migration commits or fails whole, and is recorded in the same transaction.
            with conn.transaction():
                conn.execute(migration.sql)
                conn.execute(
                    "insert into supabase_migrations.schema_migrations (version, name, statements)"
                    " values (%s, %s, %s)",
                    (migration.version, migration.name, [migration.sql]),
                )
            applied.append(migration.path.name)
        if seed and SEED_SQL.exists():
            with conn.transaction():
                conn.execute(SEED_SQL.read_text(encoding="utf-8"))
            applied.append("seed.sql")
    return applied
