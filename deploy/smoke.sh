#!/usr/bin/env bash
# The health check of a deployed stage (docs/deploy.md#health-check), run by deploy.yml
# after each deploy and by hand:
#
#   deploy/smoke.sh https://<api-id>.execute-api.<region>.amazonaws.com https://app.example
#
# 1. GET /api/auth/me without a token answers 401 missing_token in the API's error shape:
#    API Gateway, a Lambda function, the layer's packages and the settings all work.
# 2. A CORS preflight from the frontend's origin is allowed, with the API's headers.
# 3. With SMOKE_EMAIL and SMOKE_PASSWORD (a user of an empty smoke-test organization):
#    sign in and GET /api/auth/me answers 200: Supabase Auth and the database answer.
set -euo pipefail
api="${1:?usage: smoke.sh API_URL [FRONTEND_ORIGIN]}"
api="${api%/}"
origin="${2:-}"
fail() { echo "smoke: $*" >&2; exit 1; }

body=$(curl -sS --max-time 30 -w '\n%{http_code}' "$api/api/auth/me")
status="${body##*$'\n'}"
[ "$status" = 401 ] || fail "GET /api/auth/me without a token: HTTP $status (expected 401): ${body%$'\n'*}"
grep -q '"code": *"missing_token"' <<<"${body%$'\n'*}" || fail "401 without the error shape: ${body%$'\n'*}"
echo "smoke: /api/auth/me without a token -> 401 missing_token"

if [ -n "$origin" ]; then
  headers=$(curl -sS --max-time 30 -o /dev/null -D - -X OPTIONS "$api/api/invoices" \
    -H "Origin: $origin" -H 'Access-Control-Request-Method: POST' \
    -H 'Access-Control-Request-Headers: authorization,content-type,x-organization-id,idempotency-key')
  grep -qi "^access-control-allow-origin: $origin" <<<"$headers" || fail "CORS preflight from $origin refused"
  echo "smoke: CORS preflight from $origin allowed"
fi

if [ -n "${SMOKE_EMAIL:-}" ]; then
  login=$(curl -sS --max-time 30 -X POST "$api/api/auth/login" -H 'content-type: application/json' \
    -d "$(printf '{"email": "%s", "password": "%s"}' "$SMOKE_EMAIL" "${SMOKE_PASSWORD:?}")")
  token=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["session"]["access_token"])' <<<"$login") \
    || fail "sign-in failed: $(head -c 300 <<<"$login")"
  status=$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' "$api/api/auth/me" -H "authorization: Bearer $token")
  [ "$status" = 200 ] || fail "GET /api/auth/me signed in: HTTP $status"
  echo "smoke: signed in, /api/auth/me -> 200"
fi
