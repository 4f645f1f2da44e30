"""CPE provisioning (W5 step 6) through the GenieACS NBI: find the device by serial, tag it
with the customer, push PPPoE credentials and Wi-Fi settings with a connection request.

Without GENIEACS_URL the step records the tasks an operator must apply on the ServiceInstance
(status "pending_operator"); the run then waits until an operator has configured the CPE by
hand and says so on the ops service page."""
from flask import current_app

from app.errors import NotFound
from app.integrations import genieacs
from app.models import Customer, ServiceInstance
from app.services.base import Service

PPP = "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANPPPConnection.1"
WIFI = "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1"
# What a CPE gets (TR-069 paths), also listed for an operator configuring one by hand.
CPE_PARAMETERS = (f"{PPP}.Username", f"{PPP}.Password", f"{WIFI}.SSID", f"{WIFI}.BeaconType")
CONFIG_TEMPLATES = {
    "default": {"ssid_suffix": "", "security": "11i"},
    "business": {"ssid_suffix": "-Office", "security": "11i"},
}


class GenieAcsService(Service):
    name = "genieacs"

    def provision_device(self, customer_id, service_id, device_serial, config_template, *,
                         idempotency_key=None):
        service = self.session.get(ServiceInstance, service_id)
        customer = self.session.get(Customer, customer_id)
        if service is None or customer is None or service.customer_id != customer.id:
            raise NotFound("That service does not exist for this customer.")
        template = CONFIG_TEMPLATES.get(config_template or "default",
                                        CONFIG_TEMPLATES["default"])
        from app.workflows.registry import get_service
        password = get_service("radius", self.session).pppoe_password(service.pppoe_username)
        parameters = [
            [f"{PPP}.Username", service.pppoe_username, "xsd:string"],
            [f"{PPP}.Password", password or "", "xsd:string"],
            [f"{WIFI}.SSID", f"{customer.name[:20]}{template['ssid_suffix']}", "xsd:string"],
            [f"{WIFI}.BeaconType", template["security"], "xsd:string"],
        ]
        tasks = ["tag", "setParameterValues"]
        service.cpe_serial = device_serial
        config = current_app.config
        if not config.get("GENIEACS_URL"):
            self.session.commit()
            return {"device_id": None, "tasks": tasks, "status": "pending_operator"}
        device_id = genieacs.find_device(config, device_serial)
        genieacs.tag_device(config, device_id, f"customer-{customer.number}")
        service.genieacs_device_id = device_id
        self.session.commit()
        # One queued configuration per service on the ACS, whichever attempt or run sent it.
        genieacs.set_parameters(config, device_id, parameters,
                                f"lastmile:{service.pppoe_username}:cpe-settings")
        return {"device_id": device_id, "tasks": tasks, "status": "provisioned"}
