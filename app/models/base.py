"""Column helpers shared by every model, and the generator of human-readable numbers."""
from datetime import datetime, timezone

from sqlalchemy import Numeric, String, func, update

from app.extensions import db


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


Money = Numeric(12, 2)


class TimestampMixin:
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)


def trigram_indexes(model, *names):
    """Indexes for the staff searches' substring match, `lower(column) LIKE '%term%'`
    (app/portals/pagination.py): GIN trigram indexes on PostgreSQL (pg_trgm, created by the
    migration). SQLite has no such index; the migration creates these on PostgreSQL only
    (scripts/regenerate_migration.sh keeps it so), and SQLite scans, which is fine at its size."""
    for name in names:
        expression = func.lower(getattr(model, name)).label(f"{name}_lower")
        db.Index(f"ix_{model.__tablename__}_{name}_trgm", expression, postgresql_using="gin",
                 postgresql_ops={f"{name}_lower": "gin_trgm_ops"})


class NumberCounter(db.Model):
    """One row per number series (L, Q, O, C, ...). Incremented with a single UPDATE, so two
    transactions can never draw the same number."""
    __tablename__ = "number_counters"
    prefix = db.Column(String(8), primary_key=True)
    value = db.Column(db.Integer, nullable=False, default=0)


def next_number(prefix, width=6):
    """`next_number("Q")` -> "Q-000042". Atomic on SQLite and PostgreSQL."""
    session = db.session
    result = session.execute(
        update(NumberCounter).where(NumberCounter.prefix == prefix)
        .values(value=NumberCounter.value + 1).returning(NumberCounter.value))
    value = result.scalar()
    if value is None:
        session.add(NumberCounter(prefix=prefix, value=1))
        session.flush()
        value = 1
    return f"{prefix}-{value:0{width}d}"
