#!/usr/bin/env bash
# What one journal statement per tracked save costs PostgreSQL itself,
# without revy's client: pgbench runs a plain insert transaction, the same
# with the journal as two statements (revision, then object delta, as
# revy's hooks sent before session 20) and as one (the revision in the
# delta's WITH, as they send now), in turn, ROUNDS times each.
#
#   bash scripts/pgbench/run.sh [postgres://postgres@127.0.0.1:5432] [rounds] [seconds]
#
# The tables follow revy's schema (the journal's indexes, its foreign key
# and the change feed's trigger) on a database of their own, made afresh.
# pgbench reads `:name` as a variable, so the entries' text here has no
# colon; its length is a create's entries in the tracking bench.
set -euo pipefail
server=${1:-postgres://postgres@127.0.0.1:5432}
rounds=${2:-3}
seconds=${3:-8}
here=$(cd "$(dirname "$0")" && pwd)
db=revy_pgbench
psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -q "$server/$db" -f "$here/ddl.sql"
for _ in $(seq "$rounds"); do
  for side in plain two_statements one_statement; do
    printf '%-15s ' "$side"
    pgbench -n -M prepared -c1 -T"$seconds" -f "$here/$side.sql" "$server/$db" 2>&1 |
      grep "latency average"
  done
done
psql -q "$server/postgres" -c "DROP DATABASE $db"
