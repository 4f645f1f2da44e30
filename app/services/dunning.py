"""Dunning (W6 `overdue_invoice_to_suspension`): reminders for an overdue invoice, then the
suspension of the customer's internet service through RADIUS, and its restoration when the
invoice is paid.

Suspending is two things: the subscriber's radusergroup moves to the walled-garden group
(SUSPENDED_GROUP, whose radgroupreply carries SUSPENDED_RATE_LIMIT), and the NAS gets a
Disconnect-Request (RFC 5176) for the open session, so the router signs in again and
FreeRADIUS now answers it with the suspended rate. Restoring is the same in reverse.

Every step method is idempotent under its key. The case row (DunningCase) holds the timer of
the waiting run (`next_due_at`), what the suspension changed (so a restore puts back exactly
that, even after a replay) and the NAS's answers (shown on the run and the service pages)."""
from datetime import timedelta

from flask import current_app
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from app.errors import DomainError, NotFound, ValidationError
from app.integrations import nas
from app.models import (Customer, DunningCase, DunningPause, Invoice, ServiceInstance,
                        utcnow)
from app.services.base import Service
from app.services.communications import CommunicationsService
from app.services.radius import RadiusService

WORKFLOW = "overdue_invoice_to_suspension"
LIVE_STAGES = ("new", "reminded_1", "reminded_2", "suspended")


class DunningService(Service):
    name = "dunning"

    def __init__(self, session=None, communications=None, radius=None):
        super().__init__(session)
        self.communications = communications or CommunicationsService(self.session)
        self.radius = radius or RadiusService(self.session)

    # ------------------------------------------------------------ the sweeps' queries

    def open_overdue_cases(self, now=None, limit=500):
        """A case for each invoice unpaid DUNNING_START_DAYS after its due date that has none
        (once per invoice, ever: invoice_id is unique), except for paused customers. Returns
        the new cases' (case id, invoice id, customer id)."""
        now = now or utcnow()
        cutoff = now - timedelta(days=current_app.config["DUNNING_START_DAYS"])
        rows = self.session.execute(select(Invoice.id, Invoice.customer_id).where(
            Invoice.status == "open", Invoice.due_at.is_not(None), Invoice.due_at <= cutoff,
            ~exists().where(DunningCase.invoice_id == Invoice.id),
            ~exists().where(DunningPause.customer_id == Invoice.customer_id))
            .order_by(Invoice.due_at).limit(limit)).all()
        opened = []
        for invoice_id, customer_id in rows:
            case = DunningCase(invoice_id=invoice_id, customer_id=customer_id, stage="new")
            self.session.add(case)
            try:
                self.session.commit()
            except IntegrityError:  # a sweep beside us opened it first
                self.session.rollback()
                continue
            opened.append((case.id, invoice_id, customer_id))
        return opened

    def cases_without_run(self, limit=500):
        """Cases whose run was never started (the sweep stopped between the two)."""
        return self.session.execute(select(DunningCase).where(
            DunningCase.workflow_run_id.is_(None), DunningCase.stage == "new")
            .limit(limit)).scalars().all()

    def attach_run(self, case_id, run_id):
        case = self.session.get(DunningCase, case_id)
        if case.workflow_run_id is None:
            case.workflow_run_id = run_id
            self.session.commit()

    def cases_due(self, now=None, limit=500):
        """Waiting cases whose reminder period is over: their run is signalled on."""
        return self.session.execute(select(DunningCase).where(
            DunningCase.stage.in_(("reminded_1", "reminded_2")),
            DunningCase.next_due_at <= (now or utcnow()),
            DunningCase.workflow_run_id.is_not(None)).limit(limit)).scalars().all()

    def paid_cases_still_live(self, limit=500):
        """Live cases whose invoice is paid: a payment whose signal found the run busy (in a
        step, not waiting) is delivered again by the sweep."""
        return self.session.execute(select(DunningCase).join(Invoice).where(
            DunningCase.stage.in_(LIVE_STAGES), Invoice.status != "open",
            DunningCase.workflow_run_id.is_not(None)).limit(limit)).scalars().all()

    def live_case(self, invoice_id):
        return self.session.execute(select(DunningCase).where(
            DunningCase.invoice_id == invoice_id, DunningCase.stage.in_(LIVE_STAGES))
        ).scalar_one_or_none()

    def customer_cases(self, customer_id):
        """The customer's live cases (the portal's "why am I suspended")."""
        return self.session.execute(select(DunningCase).where(
            DunningCase.customer_id == customer_id, DunningCase.stage.in_(LIVE_STAGES))
            .order_by(DunningCase.id)).scalars().all()

    # ------------------------------------------------------------ steps

    def send_reminder(self, invoice_id, reminder, workflow_run_id=None, *,
                      idempotency_key=None):
        """Reminder `reminder` (1 or 2) of the overdue invoice, and the time the run waits
        until. An invoice paid meanwhile gets no reminder: `paid` tells the run to finish."""
        def produce():
            case = self._case(invoice_id, create_for_run=workflow_run_id)
            invoice = case.invoice
            if invoice.status != "open":
                return {"paid": True, "email_id": None, "due_at": None, "give_up_at": None}
            days = current_app.config["DUNNING_REMINDER_DAYS"]
            due_at = utcnow() + timedelta(days=days)
            customer = invoice.customer
            email = self.communications.send_template_email(
                "invoice_reminder", customer.email, {
                    "customer_id": customer.id, "customer_name": customer.name,
                    "reminder": reminder, "invoice_id": invoice.id,
                    "invoice_number": invoice.number, "amount": str(invoice.total),
                    "currency": invoice.currency,
                    "due_date": invoice.due_at.strftime("%d %B %Y") if invoice.due_at else "",
                    "act_by": due_at.strftime("%d %B %Y")},
                idempotency_key=f"{idempotency_key}:email" if idempotency_key else None)
            case = self.session.get(DunningCase, case.id)
            case.stage, case.reminders_sent = f"reminded_{reminder}", reminder
            case.next_due_at = due_at
            # The wait's own deadline is a backstop: the dunning sweep signals it at due_at.
            return {"paid": False, "email_id": email["email_id"],
                    "due_at": due_at.isoformat(),
                    "give_up_at": (due_at + timedelta(days=7)).isoformat()}
        return self.once(idempotency_key, "dunning.send_reminder", produce)

    def check_due(self, invoice_id, stage, *, idempotency_key=None):
        """A signal's check (the reminder period is over): refuses an early "go on", so no
        one skips the time the customer was given. Reads only."""
        case = self.session.execute(select(DunningCase).filter_by(invoice_id=invoice_id)
                                    ).scalar_one_or_none()
        if case is None or case.stage != stage:
            raise ValidationError("This dunning case is not waiting for that.")
        if case.next_due_at is None or case.next_due_at > utcnow():
            raise ValidationError(
                f"The customer has until {case.next_due_at:%d %b %Y %H:%M} UTC to pay.")
        return {}

    def check_invoice_paid(self, invoice_id, expected_invoice_id, *, idempotency_key=None):
        """A signal's check (invoice paid): the run's own invoice, and really paid."""
        invoice = self.session.get(Invoice, invoice_id) \
            if invoice_id == expected_invoice_id else None
        if invoice is None:
            raise ValidationError("That is not this run's invoice.",
                                  details={"invoice_id": "Not this run's invoice."})
        if invoice.status == "open":
            raise ValidationError(f"Invoice {invoice.number} is not paid yet.",
                                  details={"invoice_id": "Not paid yet."})
        return {"invoice_id": invoice.id}

    def close_case(self, invoice_id, *, idempotency_key=None):
        """The invoice was paid before any suspension: the case ends."""
        def produce():
            case = self._case(invoice_id)
            if case.stage in LIVE_STAGES and case.stage != "suspended":
                case.stage, case.next_due_at, case.closed_at = "paid", None, utcnow()
            return {"stage": case.stage}
        return self.once(idempotency_key, "dunning.close_case", produce)

    def expire_case(self, invoice_id, *, idempotency_key=None):
        """The suspended run waited DUNNING_SUSPENDED_DAYS in vain: the service stays
        suspended and the case ends (ops take it from there)."""
        def produce():
            case = self._case(invoice_id)
            if case.stage == "suspended":
                case.stage, case.closed_at = "expired", utcnow()
            return {"stage": case.stage}
        return self.once(idempotency_key, "dunning.expire_case", produce)

    def suspend_service(self, invoice_id, *, idempotency_key=None):
        """Move each active internet service of the customer to the suspended profile and
        disconnect its open session. A paid invoice suspends nothing; a paused customer is an
        error the run shows (retry it after resuming dunning)."""
        def produce():
            case = self._case(invoice_id)
            invoice = case.invoice
            if invoice.status != "open":
                return {"paid": True, "suspended": False, "services": [],
                        "disconnects": [], "give_up_at": None}
            pause = self.pause_of(invoice.customer_id)
            if pause is not None:
                raise DomainError(f"Dunning is paused for {invoice.customer.name} "
                                  f"({pause.reason}): nothing was suspended. Retry the run "
                                  "once dunning is resumed, or cancel it.")
            group = self.radius.ensure_suspended_group()
            recorded = {entry["service_id"]: entry for entry in case.suspended_services or []}
            services = self.session.execute(select(ServiceInstance).where(
                ServiceInstance.customer_id == invoice.customer_id,
                ServiceInstance.status.in_(("active", "suspended")),
                ServiceInstance.pppoe_username.is_not(None)).order_by(ServiceInstance.id)
            ).scalars().all()
            for service in services:
                if service.status == "suspended" and service.id not in recorded:
                    continue  # suspended by someone else: not ours to restore later
                previous = self.radius.move_to_group(service.pppoe_username, group)
                if service.id not in recorded:  # a replay keeps the group first recorded
                    recorded[service.id] = {"service_id": service.id,
                                            "username": service.pppoe_username,
                                            "group": self._normal_group(service, previous)}
                service.status = "suspended"
            case.suspended_services = list(recorded.values())
            case.stage, case.next_due_at = "suspended", None
            case.suspended_at = case.suspended_at or utcnow()
            # What RADIUS now says is committed before the NAS is asked to cut the session:
            # the router's next sign-in must already get the suspended rate.
            self.session.commit()
            disconnects = [self._disconnect(entry["username"])
                           for entry in case.suspended_services]
            case = self.session.get(DunningCase, case.id)
            case.disconnects = (case.disconnects or []) + disconnects
            give_up = utcnow() + timedelta(days=current_app.config["DUNNING_SUSPENDED_DAYS"])
            return {"paid": False, "suspended": True,
                    "services": [entry["service_id"] for entry in case.suspended_services],
                    "disconnects": disconnects, "give_up_at": give_up.isoformat()}
        return self.once(idempotency_key, "dunning.suspend_service", produce)

    def restore_service(self, invoice_id, *, idempotency_key=None):
        """Put back what the suspension changed (normal group, status) and disconnect the
        session again so it signs in with the plan's rate. Also the suspension's
        compensation: a cancelled run restores the service."""
        def produce():
            case = self._case(invoice_id)
            restored, disconnects = [], []
            for entry in case.suspended_services or []:
                self.radius.move_to_group(entry["username"], entry["group"])
                service = self.session.get(ServiceInstance, entry["service_id"])
                if service is not None and service.status == "suspended":
                    service.status = "active"
                restored.append(entry["service_id"])
            if restored:
                self.session.commit()
                disconnects = [self._disconnect(entry["username"])
                               for entry in case.suspended_services]
                case = self.session.get(DunningCase, case.id)
                case.disconnects = (case.disconnects or []) + disconnects
                case.restored_at = utcnow()
            if case.stage in LIVE_STAGES:
                case.stage = "restored" if restored else \
                    ("paid" if case.invoice.status != "open" else "cancelled")
                case.next_due_at, case.closed_at = None, utcnow()
            return {"restored": bool(restored), "services": restored,
                    "disconnects": disconnects}
        return self.once(idempotency_key, "dunning.restore_service", produce)

    # ------------------------------------------------------------ pausing (ops)

    def pause_of(self, customer_id):
        return self.session.execute(select(DunningPause).filter_by(customer_id=customer_id)
                                    ).scalar_one_or_none()

    def pause(self, customer_id, reason, by=None):
        if self.session.get(Customer, customer_id) is None:
            raise NotFound("That customer does not exist.")
        text = " ".join(str(reason or "").split())
        if not text or len(text) > 300:
            raise ValidationError("Say why dunning is paused (up to 300 characters).",
                                  details={"reason": "Say why."})
        if self.pause_of(customer_id) is None:
            self.session.add(DunningPause(customer_id=customer_id, reason=text,
                                          paused_by_id=getattr(by, "id", None),
                                          created_at=utcnow()))
            try:
                self.session.commit()
            except IntegrityError:  # paused by someone else at the same moment
                self.session.rollback()
        return self.pause_of(customer_id)

    def resume(self, customer_id):
        pause = self.pause_of(customer_id)
        if pause is not None:
            self.session.delete(pause)
            self.session.commit()

    # ------------------------------------------------------------ helpers

    def _case(self, invoice_id, create_for_run=None):
        case = self.session.execute(select(DunningCase).filter_by(invoice_id=invoice_id)
                                    ).scalar_one_or_none()
        if case is None:
            invoice = self.session.get(Invoice, invoice_id)
            if invoice is None:
                raise NotFound(f"Invoice {invoice_id} does not exist.")
            # A run started by hand (not by the sweep) opens its case here.
            case = DunningCase(invoice_id=invoice.id, customer_id=invoice.customer_id,
                               stage="new", workflow_run_id=create_for_run)
            self.session.add(case)
            self.session.flush()
        elif create_for_run and case.workflow_run_id is None:
            case.workflow_run_id = create_for_run
        return case

    def _normal_group(self, service, previous):
        """The group to restore: the one the subscriber was in, unless that already was the
        suspended one (then the plan's)."""
        if previous and previous != current_app.config["SUSPENDED_GROUP"]:
            return previous
        profile = service.plan.bandwidth_profile if service.plan else None
        return profile.radius_group if profile else previous

    def _disconnect(self, username):
        """Disconnect the subscriber's open session, if any; the NAS's answer, for the run."""
        session = self.radius.open_session(username)
        if session is None:
            return {"username": username, "outcome": "no_session"}
        address = str(session.nasipaddress)
        secret = self.radius.nas_secret(address)
        if not secret:
            return {"username": username, "nas": address, "outcome": "no_secret",
                    "error": f"No secret for NAS {address}: add it to the nas table or set "
                             "NAS_COA_SECRET."}
        return nas.disconnect(current_app.config, address, secret, username,
                              session_id=session.acctsessionid,
                              framed_ip=str(session.framedipaddress)
                              if session.framedipaddress else None)
