#!/usr/bin/env bash
# Installs the Debian packages the local stack and the tests need, when missing:
# the PostgreSQL 15 server and client, contrib (pgcrypto, pg_trgm), pgTAP and plpgsql_check
# (which `supabase db lint` uses); then builds and installs devstack/safeupdate (our own
# pg-safeupdate, which Supabase preloads for the Data API's roles) against the server's
# headers (postgresql-server-dev-15) when the installed module is missing or older.
set -euo pipefail

need=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client-15)
[ -f /usr/share/postgresql/15/extension/pgtap.control ] || need+=(postgresql-15-pgtap)
[ -f /usr/share/postgresql/15/extension/pg_trgm.control ] || need+=(postgresql-contrib)
# Debian's libfaketime: `make test-clock` runs the suite with the clock moved.
command -v faketime >/dev/null 2>&1 || need+=(faketime)
[ -f /usr/share/postgresql/15/extension/plpgsql_check.control ] || need+=(postgresql-15-plpgsql-check)
[ -f /usr/include/postgresql/15/server/postgres.h ] || need+=(postgresql-server-dev-15)
# poppler's pdftoppm: the PDF tests look at the rendered pages (skipped without it).
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
# Debian's Chromium: tests/browser drives the client page headless (skipped without it).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v make >/dev/null 2>&1 || need+=(make)
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
module=/usr/lib/postgresql/15/lib/safeupdate.so
# The installed module records the hash of the source it was built from: a fresh clone's
# files are all new, so comparing times would ask a normal user for root on every clone.
source_hash="$(sha256sum "$here/safeupdate/safeupdate.c" | cut -d' ' -f1)"
build_module=0
if [ ! -f "$module" ] || [ "$(cat "$module.source-sha256" 2>/dev/null)" != "$source_hash" ]; then
  build_module=1
fi

if [ ${#need[@]} -eq 0 ] && [ "$build_module" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "need root (or sudo) to install: ${need[*]} ${module}" >&2
  exit 1
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ "$build_module" -eq 1 ]; then
  echo "building and installing $module (devstack/safeupdate)"
  # Built in a scratch copy (the checkout stays clean); without LLVM bitcode, which would
  # need clang.
  build="$(mktemp -d)"
  trap 'rm -rf "$build"' EXIT
  cp "$here/safeupdate/safeupdate.c" "$here/safeupdate/Makefile" "$build/"
  make -s -C "$build" with_llvm=no >/dev/null
  "${SUDO[@]}" make -s -C "$build" with_llvm=no install >/dev/null
  echo "$source_hash" | "${SUDO[@]}" tee "$module.source-sha256" >/dev/null
fi
