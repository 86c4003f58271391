"""A function serving several routes for tests/devstack/test_function_routes.py: it
answers the event API Gateway built (its routeKey, path and path parameters) and counts
its imports, as a Lambda's cold starts."""

from __future__ import annotations

import json
from typing import Any

IMPORTS = [1]  # one per import of this module (a cold start)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    seen = {
        "routeKey": event["routeKey"],
        "requestContextRouteKey": event["requestContext"]["routeKey"],
        "method": event["requestContext"]["http"]["method"],
        "rawPath": event["rawPath"],
        "pathParameters": event.get("pathParameters"),
        "function": context.function_name,
        "imports": len(IMPORTS),
    }
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(seen),
    }
