from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")

# One module per area (NetBox-style: each has the same list/detail/form shape).
from app.portals.staff import (routes, runs, onboarding, orders, partners,  # noqa: E402,F401
                               field, renewals, accounts, billing, support)
