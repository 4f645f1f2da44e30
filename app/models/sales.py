from app.extensions import db
from app.models.base import Money, TimestampMixin

ORDER_STATUSES = ("submitted", "awaiting_payment", "approved", "provisioning", "active", "failed",
                  "cancelled")


class Order(TimestampMixin, db.Model):
    __tablename__ = "orders"
    id = db.Column(db.Integer, primary_key=True)
    number = db.Column(db.String(20), nullable=False, unique=True)
    quote_id = db.Column(db.Integer, db.ForeignKey("quotes.id"), nullable=False, unique=True)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), nullable=False,
                            index=True)
    status = db.Column(db.String(20), nullable=False, default="submitted", index=True)
    monthly_recurring = db.Column(Money, nullable=False, default=0)
    one_time_total = db.Column(Money, nullable=False, default=0)
    total = db.Column(Money, nullable=False, default=0)
    currency = db.Column(db.String(3), nullable=False, default="USD")
    payment_type = db.Column(db.String(10), nullable=False, default="prepaid")

    quote = db.relationship("Quote")
    customer = db.relationship("Customer")
    items = db.relationship("OrderItem", back_populates="order", order_by="OrderItem.id",
                            cascade="all, delete-orphan")


class OrderItem(db.Model):
    __tablename__ = "order_items"
    id = db.Column(db.Integer, primary_key=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id"), nullable=False, index=True)
    plan_id = db.Column(db.Integer, db.ForeignKey("plans.id"))
    description = db.Column(db.String(300), nullable=False)
    quantity = db.Column(db.Integer, nullable=False, default=1)
    unit_price = db.Column(Money, nullable=False)
    recurring = db.Column(db.Boolean, nullable=False, default=False)
    amount = db.Column(Money, nullable=False)
    order = db.relationship("Order", back_populates="items")
