"""The five built-in workflows end to end, through real RQ workers, on SQLite and PostgreSQL."""
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app.models import (Appointment, CommissionEntry, Customer, Invoice, IpAddress, IpPool, Lead,
                        License, Notification, Order, OutboundEmail, Payment, Quote, RadCheck,
                        RadReply, RadUserGroup, ServiceInstance, StepRun, Subscription, Team,
                        Tenant, Ticket, WorkflowRun)
from app.portals.staff.field import complete_installation
from app.workflows import engine
from app.workflows.registry import get_service
from tests.conftest import wait_until
from tests.factories import (make_customer, make_lead, make_license_template, make_partner,
                             make_plan, make_quote, make_site_survey, make_subscription,
                             make_technician, make_user)

FINAL = ("succeeded", "failed", "compensated", "cancelled", "expired", "declined")


def finish(db, run, *statuses, timeout=60):
    statuses = statuses or FINAL

    def done():
        db.session.expire_all()
        found = db.session.get(WorkflowRun, run.id)
        return found if found.status in statuses else None
    return wait_until(done, timeout=timeout, message=f"run {run.id} to reach {statuses}")


def step(db, run, name):
    db.session.expire_all()
    return db.session.execute(select(StepRun).filter_by(run_id=run.id, name=name)).scalar_one()


def count(db, model, *where):
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar()


# ---------------------------------------------------------------- W1

def test_lead_to_customer_onboarding(db, workers):
    lead = make_lead()
    plan, template = make_plan(), make_license_template()
    run = engine.start_run("lead_to_customer_onboarding", {
        "lead_id": lead.id, "plan_id": plan.id, "license_template_id": template.id})
    assert finish(db, run).status == "succeeded", finish(db, run).error
    customer = db.session.execute(select(Customer).filter_by(email=lead.email)).scalar_one()
    assert db.session.get(Lead, lead.id).status == "won"
    assert db.session.get(Lead, lead.id).converted_customer_id == customer.id
    assert finish(db, run).customer_id == customer.id  # the run is the new customer's now
    assert count(db, Subscription, Subscription.customer_id == customer.id) == 1
    license = db.session.execute(select(License).filter_by(customer_id=customer.id)).scalar_one()
    assert get_service("license").verify_token(license.token)[1] is None
    tenant = db.session.execute(select(Tenant).filter_by(customer_id=customer.id)).scalar_one()
    assert tenant.status == "active"
    email = db.session.execute(select(OutboundEmail).filter_by(template="customer_welcome")
                               ).scalar_one()
    assert license.license_key in email.text_body and tenant.url in email.html_body
    # The invitation link went to SMTP only: the outbox and run history never hold it
    # (tests/integration/test_accounts.py reads it from a real SMTP server).
    assert "/portal/invite/" not in email.text_body + email.html_body
    assert "[link sent only to the recipient]" in email.text_body
    runs_text = repr([s.params for s in db.session.execute(select(StepRun)).scalars()])
    assert "/portal/invite/" not in runs_text
    assert count(db, Ticket, Ticket.team == "customer_success") == 1


def test_a_lead_converted_twice_ends_with_a_clear_message(db, workers):
    lead = make_lead()
    plan, template = make_plan(), make_license_template()
    inputs = {"lead_id": lead.id, "plan_id": plan.id, "license_template_id": template.id}
    assert finish(db, engine.start_run("lead_to_customer_onboarding", inputs)).status == \
        "succeeded"
    second = finish(db, engine.start_run("lead_to_customer_onboarding", inputs))
    assert second.status == "failed"
    assert "already converted" in second.error
    assert count(db, Customer) == 1


# ---------------------------------------------------------------- W2

def _ops_team(db):
    make_user(role="ops")
    db.session.add(Team(name="operations", roles=["ops", "admin"]))
    db.session.commit()


def _card(customer, number="4242424242424242"):
    method = get_service("billing").save_payment_method(customer.id, number, 12, 2031, "123")
    return f"pm:{method.id}"


def test_quote_accepted_to_order_prepaid(db, workers):
    _ops_team(db)
    customer = make_customer()
    quote = make_quote(customer=customer)
    run = engine.start_run("quote_accepted_to_order", {
        "quote_id": quote.id, "accepted_by": customer.email, "payment_type": "prepaid",
        "payment_method": _card(customer)})
    assert finish(db, run).status == "succeeded", finish(db, run).error
    order = db.session.execute(select(Order).filter_by(quote_id=quote.id)).scalar_one()
    payment = db.session.execute(select(Payment).filter_by(order_id=order.id)).scalar_one()
    assert payment.status == "succeeded" and payment.invoice.status == "paid"
    assert payment.amount == Decimal(quote.total)
    assert count(db, Notification) == 1
    assert count(db, OutboundEmail, OutboundEmail.template == "order_confirmation") == 1
    assert step(db, run, "schedule_deployment").result["scheduled_for"] > \
        datetime.utcnow().isoformat()


def test_postpaid_skips_only_the_payment(db, workers):
    _ops_team(db)
    quote = make_quote()
    run = engine.start_run("quote_accepted_to_order", {
        "quote_id": quote.id, "accepted_by": "sales", "payment_type": "postpaid"})
    assert finish(db, run).status == "succeeded"
    assert step(db, run, "process_payment").status == "skipped"
    assert count(db, Payment) == 0
    assert step(db, run, "send_confirmation_email").status == "succeeded"


def test_a_declined_card_undoes_the_order_and_the_quote_may_be_accepted_again(db, workers):
    _ops_team(db)
    customer = make_customer()
    quote = make_quote(customer=customer)
    inputs = {"quote_id": quote.id, "accepted_by": customer.email, "payment_type": "prepaid",
              "payment_method": _card(customer, "4000000000009995")}
    run = engine.start_run("quote_accepted_to_order", inputs)
    finished = finish(db, run)
    assert finished.status == "compensated"
    assert finished.error == "Your card has insufficient funds."
    assert step(db, run, "process_payment").attempts == 1
    order = db.session.execute(select(Order).filter_by(quote_id=quote.id)).scalar_one()
    assert order.status == "cancelled"
    assert [i.status for i in db.session.execute(select(Invoice)).scalars()] == ["void"]
    assert db.session.get(Quote, quote.id).status == "sent"
    assert count(db, OutboundEmail, OutboundEmail.template == "order_confirmation") == 0
    # The customer pays again with a good card: the same order, now paid and confirmed.
    again = engine.start_run("quote_accepted_to_order", {**inputs,
                                                          "payment_method": _card(customer)})
    assert again.id != run.id
    assert finish(db, again).status == "succeeded", finish(db, again).error
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "approved"
    assert count(db, Order) == 1
    paid = db.session.execute(select(Invoice).filter_by(status="paid")).scalar_one()
    assert paid.order_id == order.id
    assert count(db, OutboundEmail, OutboundEmail.template == "order_confirmation") == 1


def test_an_expired_quote_is_refused(db, workers):
    quote = make_quote(valid_until=datetime.utcnow() - timedelta(days=1))
    run = engine.start_run("quote_accepted_to_order", {
        "quote_id": quote.id, "accepted_by": "x", "payment_type": "postpaid"})
    finished = finish(db, run)
    assert finished.status == "failed" and "expired" in finished.error
    assert count(db, Order) == 0


def test_a_quote_accepted_twice_makes_one_order(db, workers):
    _ops_team(db)
    quote = make_quote()
    inputs = {"quote_id": quote.id, "accepted_by": "x", "payment_type": "postpaid"}
    first = engine.start_run("quote_accepted_to_order", inputs)
    second = engine.start_run("quote_accepted_to_order", inputs)  # while the first is live
    assert second.id == first.id
    assert finish(db, first).status == "succeeded"
    third = engine.start_run("quote_accepted_to_order", inputs)  # once it has finished
    assert third.id != first.id
    assert finish(db, third).status == "failed"
    assert "already accepted" in finish(db, third).error
    assert count(db, Order) == 1


def test_a_leads_quote_makes_the_lead_a_customer(db, workers):
    _ops_team(db)
    lead = make_lead()
    quote = make_quote(lead=lead)
    run = engine.start_run("quote_accepted_to_order", {
        "quote_id": quote.id, "accepted_by": lead.email, "payment_type": "postpaid"})
    assert finish(db, run).status == "succeeded", finish(db, run).error
    assert db.session.get(Lead, lead.id).status == "won"
    assert db.session.get(Quote, quote.id).customer_id is not None


# ---------------------------------------------------------------- W3

def test_partner_customer_provisioning(db, workers):
    template = make_license_template()
    partner = make_partner(license_quota=5, license_template_id=template.id,
                           plan_id=make_plan().id)
    run = engine.start_run("partner_customer_provisioning", {
        "partner_id": partner.id, "requested_licenses": 2,
        "customer_data": {"name": "Fern Dental", "email": "it@fern.example"},
        "white_label_config": {"brand_name": "Fern Cloud"}}, started_from="partner",
        partner_id=partner.id)
    assert finish(db, run).status == "succeeded", finish(db, run).error
    customer = db.session.execute(select(Customer).filter_by(email="it@fern.example")
                                  ).scalar_one()
    assert customer.partner_id == partner.id
    assert count(db, License, License.customer_id == customer.id) == 2
    tenant = db.session.execute(select(Tenant).filter_by(customer_id=customer.id)).scalar_one()
    assert tenant.branding["brand_name"] == "Fern Cloud"
    assert count(db, CommissionEntry, CommissionEntry.partner_id == partner.id) == 1
    assert count(db, OutboundEmail, OutboundEmail.to_address == partner.contact_email) == 1


def test_partner_over_quota_fails_plainly(db, workers):
    partner = make_partner(license_quota=1, license_template_id=make_license_template().id)
    run = engine.start_run("partner_customer_provisioning", {
        "partner_id": partner.id, "requested_licenses": 3,
        "customer_data": {"name": "Too Big", "email": "big@example.test"}})
    finished = finish(db, run)
    assert finished.status == "failed"
    assert "1" in finished.error and count(db, Customer) == 0


# ---------------------------------------------------------------- W4

def _renewal(db, days=10, **subscription):
    plan = make_plan(price=Decimal("30.00"), term_discounts={"12": 10})
    customer = make_customer()
    sub = make_subscription(customer=customer, plan=plan,
                            period_end=datetime.utcnow().date() + timedelta(days=days),
                            **subscription)
    run = engine.start_run("customer_renewal_process", {
        "customer_id": customer.id, "subscription_id": sub.id, "renewal_term": 12},
        started_from="customer", customer_id=customer.id)
    return customer, sub, run


def test_renewal_waits_for_acceptance_then_pays_and_extends(db, workers):
    customer, sub, run = _renewal(db)
    finish(db, run, "waiting")
    quote = db.session.execute(select(Quote).filter_by(renews_subscription_id=sub.id)
                               ).scalar_one()
    assert quote.total == Decimal("324.00")  # 30 x 12, less 10 %
    assert count(db, OutboundEmail, OutboundEmail.template == "subscription_renewal") == 1
    previous_end = sub.current_period_end
    card = int(_card(customer)[3:])
    assert engine.signal_run(run.id, "quote_accepted", {"payment_method_id": card})
    assert not engine.signal_run(run.id, "quote_accepted", {"payment_method_id": card})
    assert finish(db, run).status == "succeeded", finish(db, run).error
    db.session.expire_all()
    from dateutil.relativedelta import relativedelta
    assert db.session.get(Subscription, sub.id).current_period_end == \
        previous_end + relativedelta(months=12)
    assert db.session.get(Quote, quote.id).status == "accepted"
    assert count(db, Payment, Payment.status == "succeeded") == 1


def test_a_declined_renewal_card_leaves_the_quote_acceptable(db, workers):
    customer, sub, run = _renewal(db)
    finish(db, run, "waiting")
    end = sub.current_period_end
    assert engine.signal_run(run.id, "quote_accepted",
                             {"payment_method_id": int(_card(customer, "4000000000000002")[3:])})
    again = finish(db, run, "waiting", "failed", "succeeded")
    assert again.status == "waiting" and again.error == "Your card was declined."
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).current_period_end == end
    quote = db.session.execute(select(Quote).filter_by(renews_subscription_id=sub.id)
                               ).scalar_one()
    assert quote.status == "sent"
    assert engine.signal_run(run.id, "quote_accepted",
                             {"payment_method_id": int(_card(customer)[3:])})
    assert finish(db, run).status == "succeeded"


def test_renewal_declined_by_the_customer(db, workers):
    customer, sub, run = _renewal(db)
    finish(db, run, "waiting")
    assert engine.signal_run(run.id, "quote_declined", {})
    assert finish(db, run).status == "declined"
    quote = db.session.execute(select(Quote).filter_by(renews_subscription_id=sub.id)
                               ).scalar_one()
    assert quote.status == "rejected"


def test_renewal_outside_the_window_is_not_eligible(db, workers):
    customer, sub, run = _renewal(db, days=200)
    finished = finish(db, run)
    assert finished.status == "failed" and "Renewal opens 30 days" in finished.error


# ---------------------------------------------------------------- W5

def _installation(db):
    plan = make_plan(kind="internet", code="fibre-test")
    customer = make_customer(service_area="north")
    make_site_survey(customer)
    technician = make_technician(areas=("north",))
    pool = IpPool(name="test-north", prefix="100.64.99.0/29", gateway="100.64.99.1",
                  vlan_id=199, service_area="north")
    db.session.add(pool)
    db.session.flush()
    db.session.add_all([IpAddress(pool_id=pool.id, address=f"100.64.99.{n}")
                        for n in range(2, 7)])
    db.session.commit()
    return plan, customer, technician


def test_installation_to_live_service(db, workers):
    plan, customer, technician = _installation(db)
    run = engine.start_run("isp_ticket_to_deployment", {
        "customer_id": customer.id, "bandwidth_plan": plan.code,
        "service_location": customer.service_address}, customer_id=customer.id)
    finish(db, run, "waiting")
    service = db.session.execute(select(ServiceInstance).filter_by(customer_id=customer.id)
                                 ).scalar_one()
    assert service.ip_address == "100.64.99.2"
    username = service.pppoe_username
    assert count(db, RadCheck, RadCheck.username == username) == 2
    assert db.session.execute(select(RadReply.value).filter_by(username=username)
                              ).scalar() == "100.64.99.2"
    assert db.session.execute(select(RadUserGroup.groupname).filter_by(username=username)
                              ).scalar() == plan.bandwidth_profile.radius_group
    appointment = db.session.execute(select(Appointment)).scalar_one()
    assert appointment.technician_id == technician.id
    password = get_service("radius").pppoe_password(username)
    assert password not in repr([(s.params, s.result) for s in
                                 db.session.execute(select(StepRun)).scalars()])
    complete_installation(appointment.id, technician, "CPE-123", "All good")
    # No GenieACS here: the run waits for an operator to configure the CPE by hand.
    wait_until(lambda: step(db, run, "await_cpe_configuration").status == "waiting",
               timeout=60, message="the operator wait")
    assert step(db, run, "provision_device").result["status"] == "pending_operator"
    assert engine.signal_run(run.id, "cpe_configured", {})
    assert finish(db, run).status == "succeeded", finish(db, run).error
    db.session.expire_all()
    service = db.session.get(ServiceInstance, service.id)
    assert service.status == "active" and service.cpe_serial == "CPE-123"
    assert db.session.get(Customer, customer.id).installation_status == "completed"
    assert step(db, run, "provision_device").result["status"] == "pending_operator"
    email = db.session.execute(select(OutboundEmail).filter_by(template="service_activated")
                               ).scalar_one()
    assert username in email.text_body and password not in email.text_body


def test_cancelling_an_installation_releases_everything(db, workers):
    plan, customer, technician = _installation(db)
    run = engine.start_run("isp_ticket_to_deployment", {
        "customer_id": customer.id, "bandwidth_plan": plan.code,
        "service_location": customer.service_address}, customer_id=customer.id)
    finish(db, run, "waiting")
    assert engine.cancel_run(run.id)
    assert finish(db, run).status == "cancelled"
    assert count(db, RadCheck) == 0
    assert count(db, IpAddress, IpAddress.service_instance_id.isnot(None)) == 0
    assert db.session.execute(select(Appointment.status)).scalar() == "cancelled"


def test_no_serviceable_survey_is_a_clear_failure(db, workers):
    plan = make_plan(kind="internet")
    customer = make_customer()
    run = engine.start_run("isp_ticket_to_deployment", {
        "customer_id": customer.id, "bandwidth_plan": plan.code,
        "service_location": "somewhere"})
    finished = finish(db, run)
    assert finished.status == "failed" and "site survey" in finished.error
