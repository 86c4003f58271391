"""``python -m devstack.invoke <function> [--event JSON]``: runs any function of
serverless.yml by name through the running `make dev` (Lambda's Invoke API on the
emulator), e.g. the scheduled jobs: ``python -m devstack.invoke jobsMarkOverdue``.
Without ``--event`` a scheduled function gets its schedule's input or EventBridge's
"Scheduled Event"."""

from __future__ import annotations

import argparse
import json
import os
import sys

import httpx

from devstack.functions import load_functions


def main(argv: list[str] | None = None) -> int:
    names = [spec.name for spec in load_functions()]
    parser = argparse.ArgumentParser(prog="python -m devstack.invoke", description=__doc__)
    parser.add_argument("function", choices=names)
    parser.add_argument("--event", help="the event, as JSON (default: a scheduled event)")
    parser.add_argument("--url", default=os.environ.get("API_URL", "http://127.0.0.1:3000"))
    args = parser.parse_args(argv)
    reply = httpx.post(
        f"{args.url}/2015-03-31/functions/{args.function}/invocations",
        content=(args.event or "").encode(),
        timeout=900,
    )
    print(json.dumps(reply.json(), indent=2))
    return 1 if reply.status_code != 200 or "X-Amz-Function-Error" in reply.headers else 0


if __name__ == "__main__":
    sys.exit(main())
