"""`make dev` as a developer uses it: `python -m devstack` in the foreground, the official
clients against it, Ctrl-C, and the data found again on the next start."""

from __future__ import annotations

import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from supabase import Client, ClientOptions, create_client

from devstack.postgres import ROOT, free_port


class DevStack:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.ports = {
            "db": free_port(),
            "api": free_port(),
            "aws": free_port(),
            "functions": free_port(),
        }
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self) -> dict[str, str]:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devstack",
                "--home",
                str(self.home),
                "--db-port",
                str(self.ports["db"]),
                "--api-port",
                str(self.ports["api"]),
                "--aws-port",
                str(self.ports["aws"]),
                "--functions-port",
                str(self.ports["functions"]),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            if line.startswith("ready in"):
                break
        else:
            raise AssertionError("devstack never became ready:\n" + "".join(self.output))
        env_file = self.home / ".env"
        pairs = (line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
        return {key: " ".join(shlex.split(value)) for key, value in pairs}

    def stop(self, timeout: float = 60) -> str:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        try:
            rest, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # Killed and its pipe read to the end and closed: left open, it was collected
            # as an unclosed file during a later test.
            self.proc.kill()
            self.proc.communicate()
            raise
        return rest


def signed_in_demo(env: dict[str, str], session: httpx.Client) -> Client:
    supabase = create_client(
        env["SUPABASE_URL"],
        env["SUPABASE_ANON_KEY"],
        options=ClientOptions(
            httpx_client=session, auto_refresh_token=False, persist_session=False
        ),
    )
    supabase.auth.sign_in_with_password(
        {"email": "demo@invoiceflow.local", "password": "invoiceflow-demo"}
    )
    return supabase


@pytest.fixture
def devhome() -> Iterator[Path]:
    # Not pytest's tmp_path: the postgres system user must be able to reach the directory.
    base = Path(tempfile.mkdtemp(prefix="invoiceflow-devstack-test-"))
    base.chmod(0o755)
    yield base / "home"
    shutil.rmtree(base, ignore_errors=True)


def test_make_dev_serves_the_demo_and_keeps_its_data_across_restarts(devhome: Path) -> None:
    stack = DevStack(devhome)
    env = stack.start()
    session = httpx.Client()
    try:
        assert env["SUPABASE_URL"] == f"http://127.0.0.1:{stack.ports['api']}"
        assert {
            "SUPABASE_ANON_KEY",
            "SUPABASE_SERVICE_ROLE_KEY",
            "SUPABASE_JWT_SECRET",
            "DATABASE_URL",
            "AWS_ENDPOINT_URL",
        } <= env.keys()

        supabase = signed_in_demo(env, session)
        invoices = supabase.table("invoices").select("invoice_number,status").execute()
        assert {str(row["status"]) for row in invoices.data if isinstance(row, dict)} == {
            "draft",
            "sent",
            "paid",
            "overdue",
            "cancelled",
        }
        supabase.table("clients").update({"notes": "kept across restarts"}).eq(
            "company_name", "Globex"
        ).execute()

        # The functions behind the API Gateway emulator, with the session's own token.
        session_token = supabase.auth.get_session()
        assert session_token is not None
        api = env["API_URL"]
        assert api == f"http://127.0.0.1:{stack.ports['functions']}"
        me = session.get(
            api + "/api/auth/me",
            headers={"Authorization": f"Bearer {session_token.access_token}"},
        )
        assert me.status_code == 200, me.text
        assert me.json()["user"]["email"] == "demo@invoiceflow.local"
        assert session.get(api + "/api/auth/me").status_code == 401
        listed = session.get(
            api + "/api/invoices",
            params={"sort": "invoice_number"},
            headers={"Authorization": f"Bearer {session_token.access_token}"},
        )
        assert listed.status_code == 200, listed.text
        statuses = {row["status"] for row in listed.json()["data"]}
        assert statuses == {"draft", "sent", "paid", "overdue", "cancelled"}
        # The document is built once, in the background from the start, importing every
        # function's module: seconds on a busy machine (14 s seen at a load of 12), so this
        # one request may wait for that build longer than httpx's default 5 s.
        document = session.get(api + "/api/openapi.json", timeout=60)
        assert "/api/invoices" in document.json()["paths"]

        s3 = boto3.client(
            "s3",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket="invoiceflow-dev-check")
        assert "invoiceflow-dev-check" in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    finally:
        rest = stack.stop()
    assert stack.proc is not None
    assert stack.proc.returncode == 0
    assert "stopped" in rest

    again = DevStack(devhome)
    env = again.start()
    try:
        assert any("nothing new" in line for line in again.output)
        supabase = signed_in_demo(env, session)
        globex = supabase.table("clients").select("notes").eq("company_name", "Globex").execute()
        assert globex.data == [{"notes": "kept across restarts"}]
    finally:
        again.stop()
        session.close()


def test_ctrl_c_right_after_ready_stops_it_at_once(devhome: Path) -> None:
    """A signal the kernel hands to any of the stack's threads still stops it promptly
    (the main thread once slept an hour at a time, and a Ctrl-C sent right after "ready"
    to a restarted stack went unanswered)."""
    for _ in range(3):
        stack = DevStack(devhome)
        stack.start()
        started = time.monotonic()
        rest = stack.stop(timeout=20)
        assert stack.proc is not None
        assert stack.proc.returncode == 0, rest
        assert "stopped" in rest
        assert time.monotonic() - started < 15
