"""Service name -> service class. The engine knows services only through this table."""
from app.workflows import plugins
from app.services.billing import BillingService
from app.services.communications import CommunicationsService
from app.services.crm import CrmService
from app.services.customer import CustomerService
from app.services.deployment import DeploymentService
from app.services.dunning import DunningService
from app.services.genieacs import GenieAcsService
from app.services.license import LicenseService
from app.services.network import NetworkService
from app.services.notifications import NotificationsService
from app.services.partner import PartnerService
from app.services.radius import RadiusService
from app.services.sales import SalesService
from app.services.ticketing import TicketingService

SERVICES = {cls.name: cls for cls in (
    BillingService, CommunicationsService, CrmService, CustomerService, DeploymentService,
    DunningService,
    GenieAcsService, LicenseService, NetworkService, NotificationsService, PartnerService,
    RadiusService, SalesService, TicketingService)}


def all_services():
    return {**SERVICES, **plugins.extra("SERVICES")}


def get_service(name, session=None):
    return all_services()[name](session)
