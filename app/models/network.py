"""Internet services and the local IPAM used when NetBox is not configured."""
from app.extensions import db
from app.models.base import TimestampMixin

SERVICE_STATUSES = ("allocated", "active", "suspended", "terminated")


class IpPool(db.Model):
    __tablename__ = "ip_pools"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(100), nullable=False, unique=True)
    prefix = db.Column(db.String(50), nullable=False, unique=True)  # "100.64.10.0/24"
    gateway = db.Column(db.String(50), nullable=False)
    vlan_id = db.Column(db.Integer)
    service_area = db.Column(db.String(100), index=True)


class IpAddress(db.Model):
    """One row per usable address of a pool, so allocation is picking a free row (indexed),
    whose cost does not grow with the number already given out."""
    __tablename__ = "ip_addresses"
    __table_args__ = (db.Index("ix_ip_addresses_pool_free", "pool_id", "service_instance_id"),)
    id = db.Column(db.Integer, primary_key=True)
    pool_id = db.Column(db.Integer, db.ForeignKey("ip_pools.id"), nullable=False)
    address = db.Column(db.String(50), nullable=False, unique=True)
    # unique: an address serves at most one service, and a service has at most one address.
    service_instance_id = db.Column(db.Integer, db.ForeignKey("service_instances.id"),
                                    unique=True)
    assigned_at = db.Column(db.DateTime)
    pool = db.relationship("IpPool")


class ServiceInstance(TimestampMixin, db.Model):
    __tablename__ = "service_instances"
    id = db.Column(db.Integer, primary_key=True)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), nullable=False,
                            index=True)
    plan_id = db.Column(db.Integer, db.ForeignKey("plans.id"), nullable=False)
    service_location = db.Column(db.String(500))
    pppoe_username = db.Column(db.String(64), unique=True)
    ip_address = db.Column(db.String(50))
    gateway = db.Column(db.String(50))
    vlan_id = db.Column(db.Integer)
    netbox_ip_id = db.Column(db.Integer)
    netbox_prefix_id = db.Column(db.Integer)
    cpe_serial = db.Column(db.String(100))
    genieacs_device_id = db.Column(db.String(255))
    status = db.Column(db.String(20), nullable=False, default="allocated", index=True)
    activated_at = db.Column(db.DateTime)
    terminated_at = db.Column(db.DateTime)
    subscription_id = db.Column(db.Integer, db.ForeignKey("subscriptions.id"))
    created_by_key = db.Column(db.String(200), unique=True)

    customer = db.relationship("Customer")
    plan = db.relationship("Plan")
