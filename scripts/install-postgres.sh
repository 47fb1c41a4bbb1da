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
skip() {
  echo "install-postgres: $1; the PostgreSQL tests will be skipped (install Debian's postgresql package as root)" >&2
  exit 0
}
command -v apt-get >/dev/null 2>&1 || skip "no apt-get here"
as_root=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null || skip "not root, and no password-less sudo"
  as_root=(sudo -n)
fi
echo "install-postgres: installing Debian's postgresql package"
"${as_root[@]}" apt-get update -qq || skip "apt-get update failed"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null \
  || skip "apt-get install postgresql failed"
found || skip "postgresql installed, but no /usr/lib/postgresql/*/bin/initdb"
echo "postgresql: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
