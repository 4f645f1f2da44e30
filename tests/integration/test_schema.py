"""The migration chain creates exactly what the models describe, on SQLite and PostgreSQL."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext


def test_migrations_match_models(db):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"render_as_batch": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_numbers_are_unique_and_sequential(db):
    from app.models import next_number
    first, second = next_number("T"), next_number("T")
    db.session.commit()
    assert (first, second) == ("T-000001", "T-000002")
