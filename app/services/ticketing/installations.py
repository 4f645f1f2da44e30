"""Installation appointments (W5 step 4) and the technician's completion, which resumes the
waiting run. A technician never has two overlapping appointments: the booking locks the
technician's profile row before it checks for an overlap and inserts."""
from datetime import datetime, time, timedelta

from sqlalchemy import select

from app.errors import Conflict, DomainError, NotFound, ValidationError
from app.models import (Appointment, Customer, TechnicianProfile, Ticket, User, next_number,
                        utcnow)

SLOT = timedelta(hours=2)
SEARCH_DAYS = 14


class InstallationsMixin:

    def schedule_installation(self, customer_id, installation_address, technician_id,
                              scheduled_date, service_id=None, device_serial=None,
                              workflow_run_id=None, *, idempotency_key=None):
        def produce():
            customer = self.session.get(Customer, customer_id)
            if customer is None:
                raise NotFound(f"Customer {customer_id} does not exist.")
            start = self._earliest(scheduled_date)
            technicians = self._candidates(customer, technician_id)
            for day in range(SEARCH_DAYS):
                after = start if day == 0 else \
                    datetime.combine(start.date() + timedelta(days=day), time(0))
                for profile in technicians:
                    slot = self._free_slot(profile, after)
                    if slot:
                        booked = self._book(customer, profile, slot, installation_address,
                                            service_id, device_serial, workflow_run_id,
                                            idempotency_key)
                        return {**booked, **self._moved_from_request(scheduled_date, slot,
                                                                     profile)}
            raise Conflict("No technician serving this area is free in the next two weeks.")
        return self.once(idempotency_key, "ticketing.schedule_installation", produce)

    @staticmethod
    def _moved_from_request(scheduled_date, slot, profile):
        """A requested time that could not be kept is said, not silently changed: the run
        page (ops) and the customer's portal show why the booking differs."""
        if not scheduled_date:
            return {}
        requested = datetime.fromisoformat(str(scheduled_date)).replace(tzinfo=None)
        if requested == slot:
            return {}
        if requested.weekday() not in (profile.work_days or []):
            why = f"{profile.user.name} does not work on {requested:%A}s"
        elif not profile.work_start <= requested.time() < profile.work_end:
            why = (f"{profile.user.name} works {profile.work_start:%H:%M}–"
                   f"{profile.work_end:%H:%M}")
        else:
            why = "the technicians serving this area were booked then"
        return {"requested_for": requested.isoformat(),
                "moved_because": f"Requested {requested:%a %d %b %H:%M} (UTC), booked "
                                 f"{slot:%a %d %b %H:%M} (UTC): {why}."}

    def _earliest(self, scheduled_date):
        now = utcnow()
        if not scheduled_date:
            return datetime.combine(now.date() + timedelta(days=1), time(8))
        start = datetime.fromisoformat(str(scheduled_date)).replace(tzinfo=None)
        if start < now:
            raise ValidationError("The installation date must be in the future.",
                                  details={"scheduled_date": "Choose a future date."})
        return start

    def _candidates(self, customer, technician_id):
        query = select(TechnicianProfile).join(User).where(User.is_active_user.is_(True),
                                                           User.role == "technician")
        if technician_id:
            profiles = self.session.execute(query.where(User.id == technician_id)).scalars().all()
            if not profiles:
                raise ValidationError("That person is not an active technician.",
                                      details={"technician_id": "Choose a technician."})
            return profiles
        profiles = [p for p in self.session.execute(query.order_by(User.id)).scalars()
                    if customer.service_area in (p.service_areas or [])]
        if not profiles:
            raise DomainError(f"No technician serves the area {customer.service_area}.")
        return profiles

    def _free_slot(self, profile, after):
        """The first 2-hour slot within the technician's hours on `after`'s day, at or after
        `after`, that overlaps none of their appointments; None if that day is full."""
        day = after.date()
        if day.weekday() not in (profile.work_days or []):
            return None
        slot = max(after, datetime.combine(day, profile.work_start))
        end_of_day = datetime.combine(day, profile.work_end)
        while slot + SLOT <= end_of_day:
            if not self._overlaps(profile.user_id, slot, slot + SLOT):
                return slot
            slot += timedelta(hours=1)
        return None

    def _overlaps(self, technician_id, starts_at, ends_at, ignore_id=None):
        query = select(Appointment.id).where(
            Appointment.technician_id == technician_id,
            Appointment.status.in_(("scheduled", "en_route")),
            Appointment.starts_at < ends_at, Appointment.ends_at > starts_at)
        if ignore_id:
            query = query.where(Appointment.id != ignore_id)
        return self.session.execute(query.limit(1)).first() is not None

    def _lock_technician(self, technician_id):
        """The overlap check that follows sees every booking committed before it."""
        return self.lock_row(TechnicianProfile, user_id=technician_id)

    def _book(self, customer, profile, starts_at, address, service_id, device_serial,
              workflow_run_id, idempotency_key):
        self._lock_technician(profile.user_id)
        if self._overlaps(profile.user_id, starts_at, starts_at + SLOT):
            raise Conflict(f"{profile.user.name} was just booked at {starts_at:%d %b %H:%M}.")
        ticket = Ticket(number=next_number("T"), title=f"Installation for {customer.name}",
                        customer_id=customer.id, type="installation", priority="normal",
                        team="field", assignee_id=profile.user_id, status="open")
        appointment = Appointment(technician_id=profile.user_id, customer_id=customer.id,
                                  ticket=ticket, service_instance_id=service_id,
                                  address=address or customer.service_address or "",
                                  starts_at=starts_at, ends_at=starts_at + SLOT,
                                  cpe_serial=device_serial, workflow_run_id=workflow_run_id,
                                  created_by_key=idempotency_key)
        self.session.add_all([ticket, appointment])
        customer.installation_status = "scheduled"
        self.session.flush()
        return {"appointment_id": appointment.id, "technician": profile.user.name,
                "technician_id": profile.user_id, "starts_at": starts_at.isoformat()}

    def reassign(self, appointment_id, technician_id, starts_at):
        """The dispatcher moves a job; refused if the technician is busy then or the time
        has passed. `booking_warnings` says what the dispatcher should know about the result
        (another area, outside working hours)."""
        appointment = self.session.get(Appointment, appointment_id)
        if appointment is None or appointment.status not in ("scheduled", "en_route"):
            raise NotFound("That appointment cannot be moved.")
        if starts_at.replace(tzinfo=None) < utcnow():
            raise ValidationError("A job cannot be moved into the past.",
                                  details={"starts_at": "Choose a time from now on."})
        if self._lock_technician(technician_id) is None:
            raise ValidationError("That person is not a technician.",
                                  details={"technician_id": "Choose a technician."})
        ends_at = starts_at + (appointment.ends_at - appointment.starts_at)
        if self._overlaps(technician_id, starts_at, ends_at, ignore_id=appointment.id):
            self.session.rollback()
            raise Conflict("That technician already has a job at that time.")
        appointment.technician_id, appointment.starts_at, appointment.ends_at = \
            technician_id, starts_at, ends_at
        self.session.commit()
        return appointment

    def booking_warnings(self, appointment):
        """What is odd about a booking, in words: a technician outside their service areas,
        days or hours. Not refusals: a dispatcher may mean it (and is told)."""
        profile = self.session.execute(select(TechnicianProfile).where(
            TechnicianProfile.user_id == appointment.technician_id)).scalar_one_or_none()
        if profile is None:
            return []
        warnings, name = [], profile.user.name
        area = appointment.customer.service_area if appointment.customer else None
        if area and area not in (profile.service_areas or []):
            warnings.append(f"{name} does not serve the area {area} "
                            f"(serves {', '.join(profile.service_areas or []) or 'none'}).")
        start, end = appointment.starts_at, appointment.ends_at
        if start.weekday() not in (profile.work_days or []):
            warnings.append(f"{name} does not work on {start:%A}s.")
        elif start.time() < profile.work_start or end.time() > profile.work_end \
                or end.date() != start.date():
            warnings.append(f"{start:%H:%M}–{end:%H:%M} is outside {name}'s hours "
                            f"({profile.work_start:%H:%M}–{profile.work_end:%H:%M}).")
        return warnings

    def cancel_appointment(self, appointment_id, *, idempotency_key=None):
        def produce():
            appointment = self.session.get(Appointment, appointment_id)
            if appointment is None:
                raise NotFound(f"Appointment {appointment_id} does not exist.")
            if appointment.status in ("scheduled", "en_route"):
                appointment.status = "cancelled"
                if appointment.ticket:
                    appointment.ticket.status = "closed"
            return {"appointment_id": appointment.id, "status": appointment.status}
        return self.once(idempotency_key, "ticketing.cancel_appointment", produce)

    def mark_en_route(self, appointment_id, technician):
        appointment = self._own_job(appointment_id, technician)
        if appointment.status != "scheduled":
            raise DomainError(f"This job is {appointment.status}.")
        appointment.status = "en_route"
        appointment.customer.installation_status = "in_progress"
        self.session.commit()
        return appointment

    def complete_job(self, appointment_id, technician, cpe_serial, notes):
        """The technician finished: record the CPE serial. The caller (a portal route)
        then resumes the waiting run: services do not know the engine."""
        appointment = self._own_job(appointment_id, technician)
        serial = (cpe_serial or appointment.cpe_serial or "").strip()
        if not serial or len(serial) > 100:
            raise ValidationError("Enter the CPE serial number from the device label.",
                                  details={"cpe_serial": "Enter the serial number."})
        if appointment.status not in ("scheduled", "en_route"):
            raise DomainError(f"This job is already {appointment.status}.")
        appointment.status, appointment.cpe_serial = "completed", serial
        appointment.notes, appointment.completed_at = notes, utcnow()
        if appointment.ticket:
            appointment.ticket.status, appointment.ticket.resolved_at = "resolved", utcnow()
        self.session.commit()
        return appointment

    def check_completed_installation(self, appointment_id, workflow_run_id, *,
                                     idempotency_key=None):
        """A signal's check (W5's installation completed): the run's own job, and done."""
        appointment = self.session.get(Appointment, appointment_id)
        if appointment is None or appointment.workflow_run_id != workflow_run_id:
            raise ValidationError("That is not this installation's job.",
                                  details={"appointment_id": "Not this run's job."})
        if appointment.status != "completed":
            raise ValidationError("The technician has not completed this job yet.",
                                  details={"appointment_id": f"The job is "
                                                             f"{appointment.status}."})
        return {"appointment_id": appointment.id}

    def _own_job(self, appointment_id, technician):
        appointment = self.session.get(Appointment, appointment_id)
        if appointment is None or (technician.role != "admin" and
                                   appointment.technician_id != technician.id):
            raise NotFound("That job is not yours.")
        return appointment
