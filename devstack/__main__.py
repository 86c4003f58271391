"""``python -m devstack`` (``make dev``): the persistent local stack, in the foreground.

* PostgreSQL 15 on 127.0.0.1:54322 (Supabase CLI's port), data under
  ``.devstack/pgdata``: created, migrated and seeded on first start; later starts apply
  only new migrations and keep the data.
* The gateway on 127.0.0.1:54321: ``/rest/v1`` (PostgREST-compatible) and ``/auth/v1``
  (Supabase-Auth-compatible), the ``apikey`` header required.
* AWS (S3, SES, SQS, EventBridge) through moto in server mode on 127.0.0.1:54329, exported
  as ``AWS_ENDPOINT_URL``.
* The functions of serverless.yml behind the API Gateway emulator on 127.0.0.1:3000
  (``/api/...``, the OpenAPI document at ``/api/openapi.json``, docs at ``/api/docs``);
  queue-triggered functions get their SQS messages as Lambda delivers them, and
  bucket-triggered ones their S3 events (devstack/queues.py); any function, scheduled
  jobs included, runs by name with ``python -m devstack.invoke <name>``.

Everything a tool needs is written to ``.devstack/.env``. Ctrl-C stops it cleanly;
``--reset`` starts over. What stops it from starting (a port in use, PostgreSQL refusing)
is one message and exit status 1, not a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import socket
import sys
import time
from pathlib import Path
from types import FrameType

import psycopg

from devstack.config import StackConfig
from devstack.local import LocalStack, Ports
from devstack.postgres import ROOT, ClusterError, remove_persistent_cluster

HOME = ROOT / ".devstack"
DB_PORT = 54322
API_PORT = 54321
AWS_PORT = 54329
FUNCTIONS_PORT = 3000


def announce(
    config: StackConfig, aws_url: str, functions_url: str, env_file: Path, ran: list[str]
) -> None:
    print(f"applied      {', '.join(ran) if ran else 'nothing new'}")
    print(f"API          {config.public_url}/rest/v1  {config.public_url}/auth/v1")
    print(f"PostgreSQL   {config.database_url}")
    print(f"AWS (moto)   {aws_url}")
    print(f"functions    {functions_url}/api/...  (docs: {functions_url}/api/docs)")
    print(f"JWT secret   {config.keys.jwt_secret}")
    print(f"anon key     {config.keys.anon_key}")
    print(f"service key  {config.keys.service_role_key}")
    print(f"environment  {env_file}  (source it: set -a; . {env_file}; set +a)")
    print("demo login   demo@invoiceflow.local / invoiceflow-demo")


def ports_in_use(ports: Ports) -> list[str]:
    """The servers' ports on 127.0.0.1 that something already listens on (PostgreSQL's is
    left to its own start, which first stops a server an earlier `make dev` left)."""
    busy = []
    for port, option in (
        (ports.api, "--api-port"),
        (ports.aws, "--aws-port"),
        (ports.functions, "--functions-port"),
    ):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                busy.append(f"{port} ({option})")
    return busy


class CannotStart(Exception):
    """Something the stack needs is taken."""


class Stop(Exception):
    """Ctrl-C or SIGTERM arrived."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise Stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("--reset", action="store_true", help="delete the local data first")
    parser.add_argument("--home", type=Path, default=HOME, help="where the local data lives")
    parser.add_argument("--db-port", type=int, default=DB_PORT)
    parser.add_argument("--api-port", type=int, default=API_PORT)
    parser.add_argument("--aws-port", type=int, default=AWS_PORT)
    parser.add_argument("--functions-port", type=int, default=FUNCTIONS_PORT)
    args = parser.parse_args(argv)

    started = time.monotonic()
    ports = Ports(args.db_port, args.api_port, args.aws_port, args.functions_port)
    failure = None
    # Ctrl-C at any moment, even half-way through starting, stops what has started.
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    with contextlib.ExitStack() as running:
        try:
            if args.reset and (args.home.exists() or args.home.is_symlink()):
                remove_persistent_cluster(args.home)
                print(f"removed {args.home}")
            busy = ports_in_use(ports)
            if busy:
                raise CannotStart(
                    f"127.0.0.1 port {', '.join(busy)} is in use: is another `make dev`"
                    " running? Stop it, or give this one other ports"
                )

            stack = LocalStack(args.home, ports)
            running.callback(stack.close)
            stack.start()
            config, aws_url, functions_url = stack.config, stack.aws_url, stack.functions_url
            env, ran = stack.env, stack.applied
            env_file = args.home / ".env"
            # Shell-quoted where needed (EMAIL_FROM has a space and <>), so `. .devstack/.env`
            # works as the announcement says.
            env_file.write_text(
                "".join(f"{k}={shlex.quote(v)}\n" for k, v in env.items()), encoding="utf-8"
            )
            announce(config, aws_url, functions_url, env_file, ran)
            print(f"ready in {time.monotonic() - started:.1f}s — Ctrl-C to stop", flush=True)
            # Short sleeps: the kernel may deliver Ctrl-C or SIGTERM to any of the stack's
            # threads, and Python runs the handler in this one only once it wakes (a long
            # sleep here left a SIGINT sent right after "ready" unanswered).
            while True:
                time.sleep(0.2)
        except Stop:
            print("\nstopping…", flush=True)
            # Further signals must not interrupt the clean-up.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        except (CannotStart, ClusterError) as exc:
            failure = str(exc)
        except (RuntimeError, OSError, psycopg.Error) as exc:
            # A server that did not start, a file, a migration or the seed that failed.
            failure = f"{type(exc).__name__}: {exc}"
    if failure is not None:
        print(f"make dev: could not start: {failure}", file=sys.stderr, flush=True)
        return 1
    print("stopped; `make dev` finds the data again, `make dev-reset` starts over")
    return 0


if __name__ == "__main__":
    status = main()
    # Everything the stack started is stopped by now. The OpenAPI warm-up (a daemon
    # thread importing every function's module) may still be running after a Ctrl-C
    # right after "ready": finalizing the interpreter under it aborted the process
    # (SIGABRT, "FATAL: exception not rethrown"), and waiting for it would delay the
    # stop by as long as it takes. So the process ends here, without finalizing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
