"""A real PostgreSQL 15 for development and tests.

Three ways to get a database, one interface (:class:`Database`):

* :func:`ephemeral_cluster` — a throw-away cluster for tests: a fresh ``initdb`` in a
  temporary directory, tuned for speed (``fsync=off``), on a random free port, removed
  afterwards.
* :func:`persistent_cluster` — the cluster ``make dev`` uses, under ``.devstack/pgdata``:
  it keeps its data across restarts. As root, in a checkout that the ``postgres`` system
  user cannot enter (under a private home such as ``/root``, mode 0700), the data lives in
  that user's home instead and ``.devstack/pgdata`` links to it (:func:`cluster_place`).
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
import hashlib
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


def _reachable_by_postgres(path: Path) -> bool:
    """Whether the ``postgres`` system user can enter ``path`` (every directory on the way
    lets it through). Asked only as root: otherwise the server runs as ourselves."""
    proc = subprocess.run(
        ["runuser", "-u", PG_USER, "--", "test", "-x", str(path)],
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


def _postgres_places() -> Path:
    """Where clusters live that the ``postgres`` user could not reach where asked for: a
    directory of its own, in its home (``/var/lib/postgresql`` on Debian)."""
    postgres_home = Path(pwd.getpwnam(PG_USER).pw_dir)
    if not postgres_home.is_dir() or not _reachable_by_postgres(postgres_home):
        raise ClusterError(
            f"PostgreSQL runs as the {PG_USER} system user (we are root), which can reach"
            f" neither this checkout nor its own home directory {postgres_home}: run"
            f" `make dev` as a normal user, or from a directory {PG_USER} can enter"
        )
    return postgres_home / "invoiceflow-devstack"


def _owned_by_postgres(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    _chown_to_postgres(path)
    os.chmod(path, 0o700)
    return path


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
    if os.geteuid() == 0 and not _reachable_by_postgres(base.parent):
        # TMPDIR in a private home: the postgres user's own place instead.
        base.rmdir()
        places = _owned_by_postgres(_postgres_places())
        base = Path(tempfile.mkdtemp(prefix="invoiceflow-pg-", dir=places))
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


def cluster_place(home: Path) -> tuple[Path, Path]:
    """The data and socket directories of ``home``'s development cluster, made ready.

    ``home/pgdata`` and ``home/sock``, unless we are root and the ``postgres`` system user,
    which the server runs as, cannot enter ``home``: a checkout under a private home
    (``/root``, or any directory of mode 0700) is out of its reach. Rather than widen the
    permissions of the user's own directories, the cluster then lives in a directory of
    the ``postgres`` user (:func:`_postgres_places`, one per home), and ``home/pgdata`` is
    a symbolic link to it, followed on every later start (the checkout may move).
    :func:`remove_persistent_cluster` removes both.
    """
    link = home / "pgdata"
    if link.is_symlink():
        datadir = link.resolve()
        place = _owned_by_postgres(datadir.parent)
        return datadir, place / "sock"
    if os.geteuid() != 0 or _reachable_by_postgres(home):
        return link, home / "sock"
    if (link / "PG_VERSION").exists():
        raise ClusterError(
            f"{link} holds a cluster that the {PG_USER} system user, which PostgreSQL runs"
            f" as, cannot reach (a directory on the way is private): let {PG_USER} enter"
            f" the directories above {home}, or `make dev-reset` to start over elsewhere"
        )
    digest = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:12]
    place = _owned_by_postgres(_postgres_places() / f"{home.resolve().parent.name}-{digest}")
    if link.exists():
        shutil.rmtree(link)  # what an initdb refused here left (no cluster: checked above)
    link.symlink_to(place / "pgdata", target_is_directory=True)
    return place / "pgdata", place / "sock"


def persistent_cluster(home: Path, port: int) -> Cluster:
    """The development cluster of ``home`` (:func:`cluster_place`): created once, started
    each time."""
    home.mkdir(parents=True, exist_ok=True)
    _chown_to_postgres(home)
    datadir, sockdir = cluster_place(home)
    cluster = Cluster(datadir=datadir, port=port, ephemeral=False, sockdir=sockdir)
    if not cluster.initialized():
        cluster.init()
    if (cluster.datadir / "postmaster.pid").exists():
        # A previous `make dev` was killed without stopping its server.
        with contextlib.suppress(ClusterError):
            cluster.stop()
        (cluster.datadir / "postmaster.pid").unlink(missing_ok=True)
    try:
        cluster.start()
    except ClusterError as exc:
        raise ClusterError(_start_failure(cluster, exc)) from None
    return cluster


def _start_failure(cluster: Cluster, exc: ClusterError) -> str:
    """Why the server did not start, from its log (pg_ctl itself says only "see the log")."""
    try:
        lines = cluster.logfile.read_text(errors="replace").splitlines()[-20:]
    except OSError:
        lines = []
    said = []
    for line in lines:
        found = re.search(r"\b(LOG|WARNING|ERROR|FATAL|PANIC|HINT):\s+(.*)", line)
        if found and (found[1] != "LOG" or "could not" in found[2]):
            said.append(f"{found[1]}: {found[2]}")
    if not said:
        return str(exc)
    return (
        f"PostgreSQL did not start on 127.0.0.1:{cluster.port} ({cluster.datadir}):\n  "
        + "\n  ".join(said)
        + f"\n(its log: {cluster.logfile})"
    )


def remove_persistent_cluster(home: Path) -> None:
    """``make dev-reset``: stops ``home``'s development cluster and removes its data, kept
    in ``home`` or linked from it (:func:`cluster_place`), then ``home`` itself."""
    link = home / "pgdata"
    datadir = link.resolve() if link.is_symlink() else link
    if (datadir / "postmaster.pid").exists():
        with contextlib.suppress(ClusterError):
            Cluster(datadir=datadir, port=0, ephemeral=False, sockdir=home / "sock").stop()
    if link.is_symlink() and datadir.parent.parent.name == "invoiceflow-devstack":
        shutil.rmtree(datadir.parent, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)


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


def refuse_unknown_versions(
    recorded: set[str], found: list[Migration], directory: Path = MIGRATIONS_DIR
) -> None:
    """Stops when the database recorded migrations the directory no longer has, as the
    Supabase CLI does ("remote migration versions not found in local migrations
    directory"): new files applied on top of a schema made by other files would
    half-build it. The migrations were re-cut by domain before the first deployment, so a
    development database made before then is started over."""
    unknown = sorted(recorded - {m.version for m in found})
    if unknown:
        shown = ", ".join(unknown[:3]) + (
            f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
        )
        raise ClusterError(
            f"this database recorded migrations that {directory} does not have ({shown}):"
            " the migrations were re-cut before the first deployment; run `make dev-reset`"
            " (it removes the development database, which `make dev` then makes again)"
        )


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


def platform_outdated(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    """A platform made by an older platform.sql: without the realtime schema (a
    development database of before issue 18). The platform SQL is idempotent, so
    bootstrap applies it again; on a real Supabase (which has it all) this is false."""
    row = conn.execute(
        "select to_regprocedure('realtime.send(jsonb, text, text, boolean)') is null"
    ).fetchone()
    return bool(row and row[0])


# Realtime.Tenants.create_messages_partitions: the days from yesterday to three days
# ahead (UTC), owned by supabase_realtime_admin. The Realtime server makes them when it
# connects to the database and daily; bootstrap makes them at every start of the stack
# too, so that the database's own broadcasts (realtime.send) land in a partition
# without the server.
REALTIME_PARTITIONS_SQL = """
do $$
declare
  day date;
begin
  for day in
    select d::date from generate_series((now() at time zone 'utc')::date - 1,
                                        (now() at time zone 'utc')::date + 3,
                                        interval '1 day') d
  loop
    execute format(
      'create table if not exists realtime.%I partition of realtime.messages'
      ' for values from (%L) to (%L)',
      'messages_' || to_char(day, 'YYYY_MM_DD'), day, day + 1);
  end loop;
end
$$
"""


def ensure_realtime_partitions(superuser_url: str) -> bool:
    """Makes realtime.messages' partitions around today as the superuser, owned by
    ``supabase_realtime_admin``, as the Realtime server does. False when there is no
    local superuser (a real Supabase, where Realtime makes them) or no such table."""
    try:
        conn = psycopg.connect(superuser_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError:
        return False
    with conn:
        row = conn.execute("select to_regclass('realtime.messages') is not null").fetchone()
        if not (row and row[0]):
            return False
        with conn.transaction():
            conn.execute("set local role supabase_realtime_admin")
            conn.execute(REALTIME_PARTITIONS_SQL)
    return True


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
        outdated = not missing and platform_outdated(conn)
    if missing or outdated:
        apply_platform(superuser_url or admin_url(url))
        applied.append("platform" if missing else "platform (updated)")
    ensure_realtime_partitions(superuser_url or admin_url(url))
    with psycopg.connect(url, autocommit=True) as conn:
        done = {
            str(row[0])
            for row in conn.execute("select version from supabase_migrations.schema_migrations")
        }
        found = migrations(migrations_dir)
        refuse_unknown_versions(done, found, migrations_dir)
        for migration in found:
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
