#!/usr/bin/env bash
# Until the first release, the schema is one migration, regenerated from the models.
# Run after changing a model: it autogenerates migrations/versions/0001_initial.py against an
# empty SQLite database. (After the first release, add new migrations with `flask db migrate`.)
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f migrations/versions/*.py
DATABASE_URL="sqlite:///$tmp/empty.db" REDIS_URL="redis://127.0.0.1:1/0" \
  .venv/bin/flask --app wsgi db migrate -m initial --rev-id 0001 >"$tmp/log" 2>&1 \
  || { cat "$tmp/log"; exit 1; }
# What autogenerate cannot see on SQLite: PostgreSQL's pg_trgm and the trigram indexes.
DATABASE_URL="sqlite:///$tmp/empty.db" REDIS_URL="redis://127.0.0.1:1/0" \
  .venv/bin/python -m scripts.migration_postgres_only migrations/versions/0001_initial.py
rm -rf "$tmp"
ls migrations/versions
