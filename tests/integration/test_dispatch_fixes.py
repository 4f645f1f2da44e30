"""Issue 14, item 5: a dispatcher who can trust the calendar, and a technician asked before
completing a job booked for another day."""
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from app.models import Appointment, TechnicianProfile
from app.workflows.registry import get_service
from tests.factories import (PASSWORD, make_customer, make_site_survey, make_technician,
                             make_user)


def _job(db, tech, customer, starts_at):
    job = Appointment(technician_id=tech.id, customer_id=customer.id, address="1 Quay Rd",
                      starts_at=starts_at, ends_at=starts_at + timedelta(hours=2))
    db.session.add(job)
    db.session.commit()
    return job


def _next_weekday(weekday, hour):
    day = date.today() + timedelta(days=1)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return datetime.combine(day, time(hour))


def _monday(day):
    return (day - timedelta(days=day.weekday())).isoformat()


def test_a_job_cannot_be_moved_into_the_past(client, db):
    tech = make_technician()
    job = _job(db, tech, make_customer(), datetime.utcnow() + timedelta(days=2))
    before = job.starts_at
    client.login(make_user(role="dispatcher").email, PASSWORD)
    past = (datetime.utcnow() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    page = client.post_form(f"/staff/appointments/{job.id}/reassign",
                            {"technician_id": tech.id, "starts_at": past},
                            follow_redirects=True).get_data(as_text=True)
    assert "cannot be moved into the past" in page
    db.session.expire_all()
    assert db.session.get(Appointment, job.id).starts_at == before


def test_after_a_move_the_calendar_shows_the_week_the_job_went_to(client, db):
    tech = make_technician()
    job = _job(db, tech, make_customer(name="Quay Bakery"), _next_weekday(1, 10))
    client.login(make_user(role="dispatcher").email, PASSWORD)
    target = job.starts_at + timedelta(days=21)
    response = client.post_form(f"/staff/appointments/{job.id}/reassign",
                                {"technician_id": tech.id,
                                 "starts_at": target.strftime("%Y-%m-%dT%H:%M"),
                                 "week": _monday(date.today())})
    assert f"week={_monday(target.date())}" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Quay Bakery" in page and "Appointment moved: Quay Bakery" in page


def test_moving_a_job_to_a_technician_of_another_area_warns(client, db):
    north, south = make_technician(areas=("north",)), make_technician(areas=("south",),
                                                                      name="Sam South")
    job = _job(db, north, make_customer(service_area="north"), _next_weekday(2, 10))
    client.login(make_user(role="dispatcher").email, PASSWORD)
    page = client.post_form(f"/staff/appointments/{job.id}/reassign",
                            {"technician_id": south.id,
                             "starts_at": job.starts_at.strftime("%Y-%m-%dT%H:%M")},
                            follow_redirects=True).get_data(as_text=True)
    assert "Sam South does not serve the area north" in page


def test_a_requested_time_outside_working_hours_is_said_not_silently_moved(client, db):
    tech = make_technician()
    profile = db.session.execute(select(TechnicianProfile)).scalar_one()
    profile.work_days = [0, 1, 2, 3, 4]  # Monday to Friday, 08:00-17:00
    db.session.commit()
    customer = make_customer()
    saturday = _next_weekday(5, 9)
    result = get_service("ticketing").schedule_installation(
        customer.id, "1 Quay Rd", None, saturday.isoformat(), idempotency_key="t:moved")
    db.session.commit()
    assert result["requested_for"] == saturday.isoformat()
    assert "does not work on Saturdays" in result["moved_because"]
    # The customer sees the booked time and why it differs.
    user = make_user(portal="customer", customer_id=customer.id)
    client.login(user.email, PASSWORD, portal="customer")
    page = client.get("/portal/").get_data(as_text=True)
    assert "Your installation" in page
    assert tech.name in page


def test_the_calendar_opens_on_the_week_of_the_next_jobs_and_lists_the_unbooked(client, db):
    tech = make_technician()
    later = datetime.combine(date.today() + timedelta(days=30), time(10))
    _job(db, tech, make_customer(name="Far Future Farm"), later)
    waiting = make_customer(name="Unbooked Barn")
    make_site_survey(waiting)
    client.login(make_user(role="dispatcher").email, PASSWORD)
    page = client.get("/staff/dispatch").get_data(as_text=True)
    assert "Far Future Farm" in page and "Unbooked Barn" in page


def test_completing_a_job_booked_days_ahead_asks_first(client, db):
    tech = make_technician()
    job = _job(db, tech, make_customer(), datetime.utcnow() + timedelta(days=5))
    client.login(tech.email, PASSWORD)
    response = client.post_form(f"/staff/jobs/{job.id}/complete", {"cpe_serial": "SN-1"})
    assert response.status_code == 422
    assert "not today" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Appointment, job.id).status == "scheduled"
    response = client.post_form(f"/staff/jobs/{job.id}/complete",
                                {"cpe_serial": "SN-1", "confirm_early": "yes"},
                                follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "operations configure the CPE by hand" in page
    db.session.expire_all()
    assert db.session.get(Appointment, job.id).status == "completed"
