#!/usr/bin/env bash
# Installs Debian's PostgreSQL server binaries for the PostgreSQL tests (test/persistence/postgres.test.ts,
# the /sql run of test/package/install.test.ts), when they are missing. The tests start their own
# throwaway server from /usr/lib/postgresql/<version>/bin (initdb, pg_ctl), as the package's `postgres`
# user when run as root, and never use the cluster the package may set up. Nothing is downloaded from
# anywhere but Debian's archive.
# It never fails the caller: where PostgreSQL cannot be installed, it says why and those tests are
# skipped (with the same hint).
set -uo pipefail
found() { compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; }
if found; then
  echo "postgresql: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
  exit 0
fi
name=postgres
package=postgresql
skipped="the PostgreSQL tests will be skipped"
source "$(dirname "$0")/apt-install.sh"
apt_install
found || apt_skip "postgresql installed, but no /usr/lib/postgresql/*/bin/initdb"
echo "postgresql: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
