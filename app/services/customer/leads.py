"""Turning a lead into a customer (W1 step 1, and W2 when a lead's quote is accepted)."""
from sqlalchemy import select

from app.errors import DomainError, NotFound
from app.models import Customer, Lead, User, next_number, utcnow

CONVERTIBLE = ("qualified", "site_survey_scheduled", "site_survey_completed", "quote_sent",
               "negotiating")


class LeadConversionMixin:

    def create_from_lead(self, lead_id, *, idempotency_key=None):
        def produce():
            customer = self.convert_lead(lead_id, require_qualified=True,
                                         created_by_key=idempotency_key)
            return {"customer_id": customer.id, "name": customer.name,
                    "email": customer.email}
        return self.once(idempotency_key, "customer.create_from_lead", produce)

    def convert_lead(self, lead_id, require_qualified=True, created_by_key=None):
        """The customer made from the lead, with its first portal user (invited later by
        email). The lead row is locked so two conversions cannot both win."""
        lead = self.lock_row(Lead, id=lead_id)
        if lead is None:
            raise NotFound(f"Lead {lead_id} does not exist.")
        if lead.converted_customer_id:
            raise DomainError(f"Lead {lead.number} was already converted to customer "
                              f"{lead.converted_customer.number}.")
        if require_qualified and lead.status not in CONVERTIBLE:
            raise DomainError(f"Lead {lead.number} is {lead.status.replace('_', ' ')}; only a "
                              "qualified lead can become a customer.")
        customer = Customer(number=next_number("C"), name=lead.company or lead.name,
                            email=lead.email, phone=lead.phone, company=lead.company,
                            service_address=lead.service_address,
                            billing_address=lead.service_address,
                            service_area=lead.service_area, latitude=lead.latitude,
                            longitude=lead.longitude, status="active",
                            partner_id=lead.partner_id, created_by_key=created_by_key)
        self.session.add(customer)
        self.session.flush()
        if not self.session.execute(select(User.id).filter_by(email=lead.email)).first():
            self.session.add(User(email=lead.email, name=lead.name, portal="customer",
                                  customer_id=customer.id))
        lead.status, lead.converted_customer_id, lead.converted_at = "won", customer.id, utcnow()
        self.session.flush()
        return customer
