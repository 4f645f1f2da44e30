"""Tenants (W1) and scheduled deployments (W2). `create_tenant` is the one way a tenant comes
to be; the partner flow (partner_tenants.py) adds white-label branding on top of it."""
import hashlib
import re
import secrets
from datetime import datetime, time, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from app.errors import DomainError, NotFound, TransientError, ValidationError
from app.integrations.provisioning import get_backend
from app.models import Customer, DeploymentSchedule, License, Order, Tenant, utcnow


def _slug(name, key=None):
    """The tenant's slug. Under an idempotency key it is the same on every retry, because a
    provisioner whose reply was lost is asked for the tenant by this slug (webhook.py)."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "tenant"
    suffix = hashlib.sha256(key.encode()).hexdigest()[:8] if key else secrets.token_hex(4)
    return f"{base}-{suffix}"


def next_working_day(now):
    day = now.date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(9))


class TenantsMixin:

    def provision_tenant(self, customer_id, license_key, deployment_type, *,
                         idempotency_key=None):
        """Create the tenant (once) and drive the backend until it is active. A backend still
        working raises TransientError after the tenant row is saved, so a retry polls it."""
        customer = self.session.get(Customer, customer_id)
        if customer is None:
            raise NotFound(f"Customer {customer_id} does not exist.")
        tenant = self.session.execute(select(Tenant).filter_by(
            created_by_key=idempotency_key)).scalar_one_or_none() if idempotency_key else None
        if tenant is None:
            if license_key and not self.session.execute(select(License.id).filter_by(
                    license_key=license_key, customer_id=customer.id)).first():
                raise DomainError("That license key does not belong to this customer.")
            tenant = self.create_tenant(customer, license_key=license_key,
                                        deployment_type=deployment_type or "shared",
                                        created_by_key=idempotency_key)
        return self._drive(tenant)

    def create_tenant(self, customer, partner=None, branding=None, custom_domain=None,
                      license_key=None, deployment_type="shared", created_by_key=None):
        config = current_app.config
        tenant = Tenant(slug=_slug(customer.name, created_by_key), url="",
                        customer_id=customer.id,
                        partner_id=partner.id if partner else None, license_key=license_key,
                        deployment_type=deployment_type,
                        backend=config["PROVISIONING_BACKEND"], status="provisioning",
                        branding=branding or {}, custom_domain=custom_domain,
                        created_by_key=created_by_key)
        self.session.add(tenant)
        self.session.flush()
        self._apply(tenant, get_backend(tenant.backend).provision(config, tenant))
        return tenant

    def _drive(self, tenant):
        if tenant.status == "provisioning":
            self._apply(tenant, get_backend(tenant.backend).check(current_app.config, tenant))
        self.session.commit()
        if tenant.status == "provisioning":
            raise TransientError(f"Tenant {tenant.slug} is still being provisioned")
        return {"tenant_id": tenant.id, "tenant_url": tenant.url, "status": tenant.status}

    @staticmethod
    def _apply(tenant, answer):
        tenant.status = answer["status"]
        if answer.get("url"):
            tenant.url = answer["url"]
        if answer.get("external_id"):
            tenant.external_id = str(answer["external_id"])
        if not tenant.url:
            tenant.url = f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/t/{tenant.slug}"

    def deprovision_tenant(self, tenant_id, *, idempotency_key=None):
        def produce():
            tenant = self.session.get(Tenant, tenant_id)
            if tenant is None:
                raise NotFound(f"Tenant {tenant_id} does not exist.")
            if tenant.status != "deprovisioned":
                get_backend(tenant.backend).deprovision(current_app.config, tenant)
                tenant.status = "deprovisioned"
                tenant.custom_domain = None  # free the domain for someone else
            return {"tenant_id": tenant.id, "status": tenant.status}
        return self.once(idempotency_key, "deployment.deprovision_tenant", produce)

    def schedule_deployment(self, order_id, customer_id, priority, scheduled_date, *,
                            idempotency_key=None):
        def produce():
            order = self.session.get(Order, order_id)
            if order is None or order.customer_id != customer_id:
                raise NotFound(f"Order {order_id} does not exist for this customer.")
            when = next_working_day(utcnow()) if not scheduled_date else \
                datetime.fromisoformat(str(scheduled_date)).replace(tzinfo=None)
            if when <= utcnow():
                raise ValidationError("The deployment date must be in the future.",
                                      details={"scheduled_date": "Choose a future date."})
            schedule = self.session.execute(select(DeploymentSchedule).filter_by(
                order_id=order.id)).scalar_one_or_none()
            if schedule is not None and schedule.status != "cancelled":
                raise DomainError(f"Order {order.number} already has a deployment scheduled.")
            if schedule is None:  # one schedule per order: a cancelled one is scheduled anew
                schedule = DeploymentSchedule(order_id=order.id, customer_id=customer_id)
                self.session.add(schedule)
            schedule.priority, schedule.scheduled_for = priority or "normal", when
            schedule.status, schedule.error = "scheduled", None
            order.status = "approved"
            self.session.flush()
            return {"schedule_id": schedule.id, "scheduled_for": when.isoformat()}
        # The row is the timer: jobs.deployments.run_due_deployments runs it when it is due.
        return self.once(idempotency_key, "deployment.schedule_deployment", produce)

    def cancel_deployment_schedule(self, schedule_id, *, idempotency_key=None):
        def produce():
            schedule = self.session.get(DeploymentSchedule, schedule_id)
            if schedule is None:
                raise NotFound(f"Deployment schedule {schedule_id} does not exist.")
            if schedule.status == "scheduled":
                schedule.status = "cancelled"  # the job finds it cancelled and does nothing
            return {"schedule_id": schedule.id, "status": schedule.status}
        return self.once(idempotency_key, "deployment.cancel_deployment_schedule", produce)

    def due_deployment_ids(self, now, stale_after=timedelta(minutes=10)):
        """Schedules whose time has come, and runs whose worker died (the row is the timer:
        nothing due later lives only in Redis)."""
        return self.session.execute(select(DeploymentSchedule.id).where(or_(
            (DeploymentSchedule.status == "scheduled")
            & (DeploymentSchedule.scheduled_for <= now),
            (DeploymentSchedule.status == "running")
            & (DeploymentSchedule.updated_at < now - stale_after)))
            .order_by(DeploymentSchedule.scheduled_for)).scalars().all()

    def run_scheduled_deployment(self, schedule_id):
        """A due schedule: provision the order's tenant, then mark the order. Claimed with a
        compare-and-set, so two sweeps never run one schedule at once; the provisioning is
        idempotent under the schedule's key, so a run taken up again does it once."""
        now = utcnow()
        claimed = self.session.execute(
            update(DeploymentSchedule).where(
                DeploymentSchedule.id == schedule_id,
                or_(DeploymentSchedule.status == "scheduled",
                    DeploymentSchedule.updated_at < now - timedelta(minutes=10)),
                DeploymentSchedule.status.in_(("scheduled", "running")),
                DeploymentSchedule.scheduled_for <= now)
            .values(status="running", updated_at=now)).rowcount
        self.session.commit()
        if not claimed:
            return None
        schedule = self.session.get(DeploymentSchedule, schedule_id)
        order = self.session.get(Order, schedule.order_id)
        order.status = "provisioning"
        self.session.commit()
        license = self.session.execute(select(License).filter_by(
            customer_id=schedule.customer_id, status="active").order_by(License.id)
        ).scalars().first()
        try:
            result = self.provision_tenant(schedule.customer_id,
                                           license.license_key if license else None, "shared",
                                           idempotency_key=f"deployment-schedule:{schedule.id}")
        except TransientError:
            self.session.rollback()
            schedule.status = "scheduled"  # the provisioner is still working: the next
            self.session.commit()          # sweep looks again
            return None
        except DomainError as error:
            self.session.rollback()
            schedule.status, schedule.error, order.status = "failed", error.message, "failed"
            self.session.commit()
            return None
        schedule.status, schedule.tenant_id, order.status = "completed", result["tenant_id"], \
            "active"
        self.session.commit()
        return result
