#!/usr/bin/env bash
# Makes sure the Postgres the tests use answers. With VNFM_TEST_DATABASE_URL
# set, that server is the caller's business; otherwise the local cluster at
# 127.0.0.1:5432 is started if it is installed but stopped.
set -euo pipefail
if [ -n "${VNFM_TEST_DATABASE_URL:-}" ]; then exit 0; fi
if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then exit 0; fi
if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
  ver=$(ls /etc/postgresql | sort -V | tail -n1)
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start
  for _ in $(seq 1 50); do pg_isready -h 127.0.0.1 -p 5432 -q && exit 0; sleep 0.2; done
fi
echo "PostgreSQL is not reachable at 127.0.0.1:5432: install and start it (apt-get install postgresql)," >&2
echo "or point VNFM_TEST_DATABASE_URL at a server where user postgres may create databases." >&2
exit 1
