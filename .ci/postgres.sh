#!/bin/sh
# Make sure PostgreSQL's server binaries (initdb, pg_ctl, postgres) are installed: the search
# tests start a throwaway cluster on 127.0.0.1 (tests/search/test_postgres.py) and stop it.
# Debian's package puts them under /usr/lib/postgresql/<version>/bin, off PATH; the test
# looks there too. Idempotent; exits 0 when they are already present.
set -eu
if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "postgres.sh: PostgreSQL server binaries present"
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq postgresql >/dev/null
# the package starts a system cluster on port 5432; the tests do not need it
$SUDO service postgresql stop >/dev/null 2>&1 || true
ls /usr/lib/postgresql/*/bin/initdb
exit 0
