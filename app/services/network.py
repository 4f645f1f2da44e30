"""Internet service resources (W5 step 2): an address from NetBox when configured, else from
the local IP pools, where taking an address is one conditional UPDATE of a free row."""
from flask import current_app
from sqlalchemy import func, select, update

from app.errors import Conflict, DomainError, NotFound
from app.integrations import netbox
from app.models import Customer, IpAddress, IpPool, Plan, ServiceInstance, utcnow
from app.services.base import Service


def netbox_marker(service):
    """What marks a service's addresses in NetBox, known before the first call and on every
    retry: the step's idempotency key (a lost reply's retry finds the address it got), else
    the PPPoE username (unique, and the same again when a person's attempt is repeated)."""
    return f"lastmile:{(service.created_by_key or service.pppoe_username).replace(' ', '_')}"


class NetworkService(Service):
    name = "network"

    def allocate_resources(self, customer_id, service_location, bandwidth_plan, *,
                           idempotency_key=None):
        def produce():
            customer = self.session.get(Customer, customer_id)
            if customer is None:
                raise NotFound(f"Customer {customer_id} does not exist.")
            plan = self.session.execute(select(Plan).filter_by(
                code=bandwidth_plan, kind="internet")).scalar_one_or_none()
            if plan is None:
                raise DomainError(f"{bandwidth_plan} is not an internet plan.")
            count = self.session.execute(select(func.count(ServiceInstance.id)).where(
                ServiceInstance.customer_id == customer.id)).scalar()
            service = ServiceInstance(customer_id=customer.id, plan_id=plan.id,
                                      service_location=service_location, status="allocated",
                                      pppoe_username=f"{customer.number.lower()}-{count + 1}",
                                      created_by_key=idempotency_key)
            self.session.add(service)
            self.session.flush()
            config = current_app.config
            if config.get("NETBOX_URL"):
                found = netbox.allocate_ip(config, customer.service_area, customer.number,
                                           f"{customer.number} {service.pppoe_username}",
                                           netbox_marker(service))
                service.netbox_ip_id, service.netbox_prefix_id = found["ip_id"], found["prefix_id"]
                address, gateway, vlan = found["address"], found["gateway"], found["vlan_id"]
            else:
                address, gateway, vlan = self._take_local_address(customer.service_area,
                                                                  service.id)
            service.ip_address, service.gateway, service.vlan_id = address, gateway, vlan
            return {"service_id": service.id, "username": service.pppoe_username,
                    "ip_address": address, "gateway": gateway, "vlan_id": vlan}
        return self.once(idempotency_key, "network.allocate_resources", produce)

    def _take_local_address(self, area, service_id):
        pool = self.session.execute(select(IpPool).filter_by(service_area=area)
                                    ).scalars().first()
        if pool is None:
            raise DomainError(f"There is no IP pool for the area {area}.")
        for _ in range(20):  # another allocation may take the row we picked: pick again
            free = select(IpAddress.id).where(IpAddress.pool_id == pool.id,
                                              IpAddress.service_instance_id.is_(None)
                                              ).order_by(IpAddress.id).limit(1)
            if self.session.get_bind().dialect.name == "postgresql":
                free = free.with_for_update(skip_locked=True)
            address_id = self.session.execute(free).scalar()
            if address_id is None:
                raise Conflict(f"The {pool.name} pool ({pool.prefix}) has no free address.")
            taken = self.session.execute(
                update(IpAddress).where(IpAddress.id == address_id,
                                        IpAddress.service_instance_id.is_(None))
                .values(service_instance_id=service_id, assigned_at=utcnow())).rowcount
            if taken:
                address = self.session.get(IpAddress, address_id).address
                return address, pool.gateway, pool.vlan_id
        raise Conflict("The IP pool is busy; try again.")

    def release_resources(self, service_id, *, idempotency_key=None):
        def produce():
            service = self.session.get(ServiceInstance, service_id)
            if service is None:
                raise NotFound(f"Service {service_id} does not exist.")
            if service.netbox_ip_id:
                netbox.release_ip(current_app.config, netbox_marker(service),
                                  service.netbox_ip_id)
            self.session.execute(update(IpAddress).where(
                IpAddress.service_instance_id == service.id).values(
                service_instance_id=None, assigned_at=None))
            service.status, service.terminated_at = "terminated", utcnow()
            return {"service_id": service.id, "status": service.status}
        return self.once(idempotency_key, "network.release_resources", produce)
