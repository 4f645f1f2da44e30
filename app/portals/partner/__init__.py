from flask import Blueprint

bp = Blueprint("partner", __name__, url_prefix="/partner")

from app.portals.partner import routes, provisioning, runs  # noqa: E402,F401
