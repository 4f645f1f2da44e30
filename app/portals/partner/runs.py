"""A partner's view of its own provisioning runs, live."""
from flask_login import current_user

from app.portals.access import partner_required
from app.portals.live import register_progress_views
from app.portals.partner import bp

register_progress_views(bp, partner_required, "partner_id", lambda: current_user.partner_id)
