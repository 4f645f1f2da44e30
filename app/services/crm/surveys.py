"""Site surveys (W5 step 1)."""
from sqlalchemy import select

from app.errors import DomainError, NotFound
from app.models import Customer, SiteSurvey


class SurveysMixin:

    def get_site_survey(self, customer_id, *, idempotency_key=None):
        customer = self.session.get(Customer, customer_id)
        if customer is None:
            raise NotFound(f"Customer {customer_id} does not exist.")
        survey = self.session.execute(select(SiteSurvey).where(
            SiteSurvey.customer_id == customer.id, SiteSurvey.status == "completed",
            SiteSurvey.serviceability == "serviceable").order_by(SiteSurvey.id.desc())
        ).scalars().first()
        if survey is None:
            raise DomainError(f"{customer.name} has no completed site survey that found the "
                              "address serviceable; schedule a survey first.")
        return {"survey_id": survey.id, "serviceability": survey.serviceability,
                "customer_email": customer.email, "customer_name": customer.name}
