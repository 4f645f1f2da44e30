"""Appends to the regenerated migration what only PostgreSQL has: the pg_trgm extension and the
GIN trigram indexes of the staff searches (app/models/base.py `trigram_indexes`).

Autogenerate runs against SQLite, which has neither, so it leaves these out; written here from
the models' own Index objects, they stay in step with the models, and
tests/integration/test_schema.py checks models and migration agree on both databases."""
import sys

from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex

MARK = "    # PostgreSQL only (added by scripts/migration_postgres_only.py)"


def postgres_only_indexes(metadata):
    return sorted((index for table in metadata.sorted_tables for index in table.indexes
                   if index.dialect_options["postgresql"].get("using") == "gin"),
                  key=lambda index: index.name)


def block(metadata):
    lines = [MARK,
             '    if op.get_bind().dialect.name == "postgresql":',
             '        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")']
    for index in postgres_only_indexes(metadata):
        sql = str(CreateIndex(index).compile(dialect=postgresql.dialect())).strip()
        lines.append(f"        op.execute({sql!r})")
    return "\n".join(lines) + "\n"


def main(path):
    from app import create_app
    from app.extensions import db
    with create_app().app_context():
        text = open(path).read()
        if MARK in text:
            return
        end = text.index("\n\ndef downgrade")
        text = text[:end].rstrip("\n") + "\n\n" + block(db.metadata) + text[end:]
        open(path, "w").write(text)


if __name__ == "__main__":
    main(sys.argv[1])
