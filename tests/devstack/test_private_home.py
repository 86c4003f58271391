"""`make dev` where a new user runs it: as root in a checkout under a private home
(``/root/project``, mode 0700: the usual container), and, when it cannot start, one line
saying why instead of a traceback.

PostgreSQL refuses to run as root, so the stack runs it as the ``postgres`` system user,
which cannot enter a private home: ``initdb`` of ``.devstack/pgdata`` stopped with a
traceback. The cluster now lives in a directory of the ``postgres`` user, linked from
``.devstack/pgdata`` (devstack.postgres.cluster_place; docs/devstack.md says why).
"""

from __future__ import annotations

import os
import pwd
import queue
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from devstack.postgres import ROOT, free_port, remove_persistent_cluster
from tests.checkout import clean_clone

pytestmark = pytest.mark.slow

# A first start: initdb, the platform SQL, every migration and the seed (7 s alone here,
# up to 4x that on the shared 2-core machine under the whole suite).
FIRST_START_WITHIN = 120.0
START_WITHIN = 60.0


class DevRun:
    """``python -m devstack`` (what ``make dev`` runs) in ``cwd``, on free ports, its
    output collected by a thread so that waiting for it can be bounded."""

    def __init__(self, cwd: Path, *args: str, ports: dict[str, int] | None = None) -> None:
        self.ports = ports or {name: free_port() for name in ("db", "api", "aws", "functions")}
        options = [f"--{name}-port={port}" for name, port in self.ports.items()]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devstack", *options, *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._ended = False
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, prefix: str, timeout: float) -> bool:
        """Whether a line starting with ``prefix`` came within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                return False
            if line is None:
                self._ended = True
                return False
            self.lines.append(line)
            if line.startswith(prefix):
                return True
        return False

    def finish(self, timeout: float = 60.0) -> int:
        """Ctrl-C (if still running), then its exit status once it has said all."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            returncode = self.proc.wait()
        while not self._ended:
            line = self._queue.get(timeout=10)
            if line is None:
                self._ended = True
            else:
                self.lines.append(line)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return returncode


def read_env(home: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (home / ".env").read_text().splitlines())
    return {key: " ".join(shlex.split(value)) for key, value in pairs}


def cluster_id(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("select system_identifier from pg_control_system()").fetchone()
    assert row is not None
    return int(str(row[0]))


def postgres_can_enter(path: Path) -> bool:
    entered = subprocess.run(
        ["runuser", "-u", "postgres", "--", "test", "-x", str(path)], check=False
    )
    return entered.returncode == 0


@pytest.fixture
def private_checkout() -> Iterator[Path]:
    """A clone of the repository in a directory only root may enter (mkdtemp: 0700)."""
    private = Path(tempfile.mkdtemp(prefix="invoiceflow-private-home-"))
    clone = private / "project"
    try:
        yield clean_clone(clone)
    finally:
        remove_persistent_cluster(clone / ".devstack")  # a server left, its linked data
        shutil.rmtree(private, ignore_errors=True)


@pytest.mark.skipif(
    os.geteuid() != 0,
    reason="as a normal user PostgreSQL runs as that user, who can enter their own home; "
    "the private-home case is root's (the server then runs as the postgres system user)",
)
def test_make_dev_as_root_in_a_checkout_under_a_private_home(private_checkout: Path) -> None:
    private = private_checkout.parent
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    assert not postgres_can_enter(private_checkout), "the premise: postgres cannot enter"
    home = private_checkout / ".devstack"  # make dev's default, as a new user gets it

    first = DevRun(private_checkout)
    ready = first.wait_for("ready in", FIRST_START_WITHIN)
    try:
        assert ready, f"not ready within {FIRST_START_WITHIN} s:\n{first.output[-3000:]}"
        env = read_env(home)
        identity = cluster_id(env["DATABASE_URL"])
        # The gateway over that database: the demo signs in.
        signed_in = httpx.post(
            env["SUPABASE_URL"] + "/auth/v1/token",
            params={"grant_type": "password"},
            headers={"apikey": env["SUPABASE_ANON_KEY"]},
            json={"email": "demo@invoiceflow.local", "password": "invoiceflow-demo"},
            timeout=30,
        )
        assert signed_in.status_code == 200, signed_in.text
    finally:
        returncode = first.finish()
    assert returncode == 0, first.output[-3000:]
    assert "Traceback" not in first.output
    assert "stopped" in first.output

    # The data lives where postgres can reach it, linked from .devstack/pgdata; nothing
    # of the user's private directory was opened to it.
    link = home / "pgdata"
    assert link.is_symlink()
    datadir = link.resolve()
    assert not datadir.is_relative_to(private)
    assert datadir.stat().st_uid == pwd.getpwnam("postgres").pw_uid
    assert postgres_can_enter(datadir)
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    assert not postgres_can_enter(private_checkout)

    # The next start finds the same cluster through the link, with nothing to apply.
    again = DevRun(private_checkout)
    try:
        assert again.wait_for("ready in", START_WITHIN), again.output[-3000:]
        assert "nothing new" in again.output
        assert cluster_id(read_env(home)["DATABASE_URL"]) == identity
    finally:
        assert again.finish() == 0, again.output[-3000:]

    # make dev-reset: the linked data goes too, and a new cluster is made.
    reset = DevRun(private_checkout, "--reset")
    try:
        assert reset.wait_for("ready in", FIRST_START_WITHIN), reset.output[-3000:]
        assert f"removed {home}" in reset.output
        assert cluster_id(read_env(home)["DATABASE_URL"]) != identity
    finally:
        assert reset.finish() == 0, reset.output[-3000:]
    assert "Traceback" not in again.output + reset.output


@pytest.fixture
def reachable_home() -> Iterator[Path]:
    # Not pytest's tmp_path: the postgres system user must be able to reach the directory.
    base = Path(tempfile.mkdtemp(prefix="invoiceflow-devstack-test-"))
    base.chmod(0o755)
    yield base / "home"
    remove_persistent_cluster(base / "home")
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize(
    ("taken", "said"),
    [
        ("api", "port {port} (--api-port) is in use"),
        ("db", 'could not bind IPv4 address "127.0.0.1": Address already in use'),
    ],
)
def test_make_dev_says_in_one_message_why_it_cannot_start(
    reachable_home: Path, taken: str, said: str
) -> None:
    """A port taken by something else: exit status 1 and a message naming it, no
    traceback (the API's port is checked before anything starts; PostgreSQL's refusal is
    read from its log)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = int(holder.getsockname()[1])
        ports = {name: free_port() for name in ("db", "api", "aws", "functions")}
        ports[taken] = port
        run = DevRun(ROOT, f"--home={reachable_home}", ports=ports)
        run.wait_for("never", FIRST_START_WITHIN)  # all of it, until it exits
        returncode = run.finish()
    assert returncode == 1, run.output[-3000:]
    assert "Traceback" not in run.output, run.output[-3000:]
    assert "make dev: could not start: " in run.output
    assert said.format(port=port) in run.output
    assert not [line for line in run.lines if line.startswith("ready in")]
