"""Every model, imported here so Alembic and the app see the whole schema."""
from app.models.base import NumberCounter, next_number, utcnow  # noqa: F401
from app.models.auth import TechnicianProfile, User, UserSession  # noqa: F401
from app.models.billing import (Invoice, InvoiceLine, Payment, PaymentMethod,  # noqa: F401
                                Subscription, SubscriptionRenewal)
from app.models.catalog import BandwidthProfile, Plan  # noqa: F401
from app.models.communications import (AuditEvent, Notification,  # noqa: F401
                                       OutboundEmail, Team)
from app.models.crm import Lead, Quote, QuoteLine, SiteSurvey  # noqa: F401
from app.models.customers import Customer  # noqa: F401
from app.models.dunning import CreditNote, DunningCase, DunningPause  # noqa: F401
from app.models.effects import ServiceEffect  # noqa: F401
from app.models.licensing import License, LicenseTemplate  # noqa: F401
from app.models.network import IpAddress, IpPool, ServiceInstance  # noqa: F401
from app.models.partners import CommissionEntry, LicensePoolEvent, Partner  # noqa: F401
from app.models.radius import (Nas, RadAcct, RadCheck, RadGroupCheck,  # noqa: F401
                               RadGroupReply, RadPostAuth, RadReply, RadUserGroup)
from app.models.sales import Order, OrderItem  # noqa: F401
from app.models.tenants import DeploymentSchedule, Tenant  # noqa: F401
from app.models.ticketing import Appointment, Ticket, TicketMessage  # noqa: F401
from app.models.workflows import RunEvent, StepRun, WorkflowRun  # noqa: F401
