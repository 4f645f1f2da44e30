"""A customer's view of its own runs (renewal, quote acceptance), live."""
from flask_login import current_user

from app.portals.access import customer_required
from app.portals.customer import bp
from app.portals.live import register_progress_views

register_progress_views(bp, customer_required, "customer_id",
                        lambda: current_user.customer_id)
