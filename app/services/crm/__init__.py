"""The crm service. Its methods live in one module per concern (mixins), so each
workflow's part of the service reads on its own; this class puts them together."""
from app.services.base import Service
from app.services.crm.quotes import QuotesMixin
from app.services.crm.renewal_quotes import RenewalQuotesMixin
from app.services.crm.surveys import SurveysMixin


class CrmService(QuotesMixin, RenewalQuotesMixin, SurveysMixin, Service):
    name = "crm"
