"""Flask extensions and the Redis/RQ accessors, created once and bound in create_app."""
from flask import current_app
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx
from redis import Redis
from rq import Queue
from sqlalchemy import MetaData

# Named constraints, so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
htmx = Htmx()

_redis_clients = {}


def redis_url():
    """The configured Redis, or the embedded one started by `scripts/embedded_redis.py`."""
    url = current_app.config.get("REDIS_URL")
    if url:
        return url
    from scripts.embedded_redis import ensure_embedded_redis
    return ensure_embedded_redis()


def get_redis():
    url = redis_url()
    if url not in _redis_clients:
        _redis_clients[url] = Redis.from_url(url)
    return _redis_clients[url]


def get_queue():
    return Queue(current_app.config["RQ_QUEUE"], connection=get_redis())
