"""The customer's internet services: "My internet"."""
from flask import render_template
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import ServiceInstance
from app.portals.access import customer_required
from app.portals.customer import bp
from app.portals.internet_view import internet_context


@bp.route("/internet")
@customer_required
def my_internet():
    services = db.session.execute(select(ServiceInstance).where(
        ServiceInstance.customer_id == current_user.customer_id,
        ServiceInstance.status != "terminated").options(selectinload(ServiceInstance.plan))
        .order_by(ServiceInstance.id).limit(20)).scalars().all()
    return render_template("customer/internet.html",
                           panels=[internet_context(service) for service in services])
