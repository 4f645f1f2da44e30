"""What every domain service shares: a session, and `once`, which makes a call idempotent."""
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import ServiceEffect
from app.workflows.secrets import mask


class Service:
    name = None  # the registry name workflows use: "billing", "crm", ...

    def __init__(self, session=None):
        self.session = session or db.session

    def once(self, idempotency_key, operation, produce):
        """Run `produce()` (which writes through self.session without committing and returns a
        JSON-able dict) and commit its effect together with its result under the key. A call
        with a key seen before returns the stored result and does nothing. Without a key (a
        person clicking in a portal), it simply runs and commits.

        The stored result is masked like run history (values under secret-named keys, e.g. a
        signed license token, are replaced), so a replay returns it masked: the engine keeps
        only the masked result too, and the secret itself stays in its own table."""
        if idempotency_key:
            done = self._effect(idempotency_key)
            if done is not None:
                return done
        try:
            result = produce()
            if idempotency_key:
                self.session.add(ServiceEffect(key=idempotency_key, operation=operation,
                                               result=mask(result)))
            self.session.commit()
            return result
        except IntegrityError:
            self.session.rollback()
            # A duplicate delivery committed first: its result is the result.
            done = self._effect(idempotency_key) if idempotency_key else None
            if done is not None:
                return done
            raise
        except BaseException:
            self.session.rollback()
            raise

    def lock_row(self, model, **where):
        """The row, locked until this transaction ends. A no-op UPDATE rather than SELECT ...
        FOR UPDATE, because it locks on both databases: PostgreSQL locks the row, SQLite takes
        its write lock; either way, what is read next includes every commit made before."""
        column = next(iter(where))
        self.session.execute(update(model).filter_by(**where).values(
            {column: getattr(model, column)}))
        return self.session.execute(select(model).filter_by(**where)).scalar_one_or_none()

    def _effect(self, key):
        return self.session.execute(
            select(ServiceEffect.result).where(ServiceEffect.key == key)).scalar()
