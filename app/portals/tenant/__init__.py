"""Tenant landing pages served by the `local` provisioning backend: /t/<slug>, or the
partner's custom domain."""
from flask import Blueprint

bp = Blueprint("tenant", __name__)

from app.portals.tenant import routes  # noqa: E402,F401
