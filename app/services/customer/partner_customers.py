"""create_partner_customer, archive_customer (issue 6): a partner's own sub-customers."""
from sqlalchemy import func, select

from app.errors import DomainError, NotFound, ValidationError
from app.models import Customer, Partner, next_number, utcnow
from app.services.fields import email_error, summary, text_error

# field -> (label, max length, required)
CUSTOMER_FIELDS = {
    "name": ("name", 200, True),
    "email": ("email", 255, True),
    "phone": ("phone number", 50, False),
    "company": ("company", 200, False),
    "service_address": ("service address", 500, False),
}


def clean_customer_data(customer_data):
    """The customer fields, stripped; ValidationError with one message per bad field."""
    if not isinstance(customer_data, dict):
        raise ValidationError("Customer details are missing.",
                              details={"name": "Enter the customer's details."})
    clean, errors = {}, {}
    for field, (label, max_length, required) in CUSTOMER_FIELDS.items():
        value = customer_data.get(field)
        value = value.strip() if isinstance(value, str) else value
        error = text_error(value, label, max_length, required)
        if not error and field == "email":
            error = email_error(value)
        if error:
            errors[field] = error
        clean[field] = value or None
    if errors:
        raise ValidationError("Please correct the customer details: " + summary(errors),
                              details=errors)
    clean["email"] = clean["email"].lower()
    return clean


class PartnerCustomersMixin:

    def create_partner_customer(self, partner_id, customer_data, *, idempotency_key=None):
        def produce():
            data = clean_customer_data(customer_data)
            partner = self.session.get(Partner, partner_id)
            if partner is None:
                raise NotFound(f"Partner {partner_id} does not exist.")
            if partner.status != "active":
                raise DomainError(f"The partner account {partner.company} is "
                                  f"{partner.status}: it cannot add customers.")
            if self._partner_has_customer_email(partner.id, data["email"]):
                raise ValidationError("This customer already exists.", details={
                    "email": "You already have a customer with this email address."})
            customer = Customer(number=next_number("C"), partner_id=partner.id,
                                status="active", billing_address=data["service_address"],
                                created_by_key=idempotency_key, **data)
            self.session.add(customer)
            self.session.flush()
            return {"customer_id": customer.id, "name": customer.name,
                    "email": customer.email}
        return self.once(idempotency_key, "customer.create_partner_customer", produce)

    def archive_customer(self, customer_id, *, idempotency_key=None):
        """Compensation of create_partner_customer: the customer leaves every list (archived)
        and counts as churned; the row stays for the history that refers to it."""
        def produce():
            customer = self.session.get(Customer, customer_id)
            if customer is None:
                raise NotFound(f"Customer {customer_id} does not exist.")
            if customer.archived_at is None:
                customer.archived_at = utcnow()
                customer.status = "churned"
            return {"customer_id": customer.id, "status": customer.status,
                    "archived_at": customer.archived_at.isoformat()}
        return self.once(idempotency_key, "customer.archive_customer", produce)

    def _partner_has_customer_email(self, partner_id, email):
        return self.session.execute(
            select(Customer.id).where(
                Customer.partner_id == partner_id, Customer.archived_at.is_(None),
                func.lower(Customer.email) == email).limit(1)).first() is not None
