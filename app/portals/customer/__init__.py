from flask import Blueprint

bp = Blueprint("customer", __name__, url_prefix="/portal")

# One module per area, so each workflow's pages read on their own.
from app.portals.customer import (routes, quotes, renewals, runs,  # noqa: E402,F401
                                  invoices, internet, support)
