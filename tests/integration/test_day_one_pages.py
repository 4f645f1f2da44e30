"""Finance's invoices and payments, the customer paying an open invoice, My internet and
support tickets, through HTTP as a browser sends it (CSRF, roles, own records only)."""
import csv
import io
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.models import (CreditNote, DunningCase, Invoice, OutboundEmail, Payment, RadAcct,
                        Ticket, WorkflowRun)
from app.workflows.registry import get_service
from tests.conftest import wait_until
from tests.factories import (PASSWORD, make_customer, make_internet_service, make_invoice,
                             make_user)

CARD = {"payment_method": "new", "card_number": "4242424242424242", "exp_month": "12",
        "exp_year": "2031", "cvc": "123"}


def finance(client):
    user = make_user(role="finance")
    client.login(user.email, PASSWORD)
    return user


def test_finance_lists_searches_filters_and_exports_invoices(client):
    late = make_customer(name="Harbour Late Ltd")
    make_invoice(late, total="80.00", due_days_ago=20)
    make_invoice(make_customer(name="Paid Up Co"), due_days_ago=20, status="paid")
    make_invoice(make_customer(name="Not Yet Due"), due_days_ago=-5)
    finance(client)
    page = client.get("/staff/invoices")
    assert page.status_code == 200 and b"Harbour Late Ltd" in page.data
    overdue = client.get("/staff/invoices?due=overdue").data
    assert b"Harbour Late Ltd" in overdue and b"Paid Up Co" not in overdue
    assert b"Not Yet Due" not in overdue
    found = client.get("/staff/invoices?q=harbour").data
    assert b"Harbour Late Ltd" in found and b"Paid Up Co" not in found
    assert b"Paid Up Co" in client.get("/staff/invoices?status=paid").data
    exported = client.get("/staff/invoices.csv?due=overdue")
    assert exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.data.decode())))
    assert rows[0][0] == "number" and len(rows) == 2 and rows[1][2] == "Harbour Late Ltd"
    # a bad filter value is ignored; an id too large for any row is refused plainly
    assert client.get("/staff/invoices?status=nonsense&customer_id=abc").status_code == 200
    assert client.get("/staff/invoices?customer_id=99999999999").status_code == 400


def test_finance_records_a_transfer_refunds_and_credits(client):
    customer = make_customer()
    invoice = make_invoice(customer, total="45.00")
    finance(client)
    detail = client.get(f"/staff/invoices/{invoice.id}")
    assert b"Record a bank transfer" in detail.data and b"overdue" in detail.data
    refused = client.post_form(f"/staff/invoices/{invoice.id}/transfer", {"reference": "  "})
    assert refused.status_code == 422 and b"bank&#39;s reference" in refused.data
    for _ in range(2):  # a double click records one payment
        done = client.post_form(f"/staff/invoices/{invoice.id}/transfer",
                                {"reference": "BANK 778"})
        assert done.status_code == 303
    payments = client.get("/staff/payments?q=778").data
    assert b"transfer:BANK 778" in payments
    invoice = get_service("billing").session.get(Invoice, invoice.id)
    assert invoice.status == "paid" and len(invoice.payments) == 1

    paid = make_invoice(customer, total="30.00")
    card = get_service("billing").save_payment_method(customer.id, "4242424242424242", 12,
                                                      2031, "123")
    payment = get_service("billing").charge_invoice(paid, card.id, "test-charge-1")
    assert payment.status == "succeeded"
    refund = client.post_form(f"/staff/payments/{payment.id}/refund")
    assert refund.status_code == 303
    again = client.post_form(f"/staff/payments/{payment.id}/refund")
    assert again.status_code == 303
    session = get_service("billing").session
    session.expire_all()
    assert session.get(Payment, payment.id).status == "refunded"
    assert session.get(Invoice, paid.id).status == "void"

    open_invoice = make_invoice(customer, total="20.00")
    wrong = client.post_form(f"/staff/invoices/{open_invoice.id}/credit-note",
                             {"amount": "5", "reason": "Outage"})
    assert wrong.status_code == 422 and b"credited in full" in wrong.data
    bad = client.post_form(f"/staff/invoices/{open_invoice.id}/credit-note",
                           {"amount": "abc", "reason": ""})
    assert bad.status_code == 422 and b"Enter an amount" in bad.data
    ok = client.post_form(f"/staff/invoices/{open_invoice.id}/credit-note",
                          {"amount": "20.00", "reason": "Outage week"})
    assert ok.status_code == 303
    session.expire_all()
    assert session.get(Invoice, open_invoice.id).status == "void"
    assert session.execute(select(func.count(CreditNote.id))).scalar() == 1


def test_invoices_are_for_finance_and_a_customer_sees_only_their_own(client):
    mine, other = make_customer(), make_customer()
    theirs = make_invoice(other)
    support = make_user(role="support")
    client.login(support.email, PASSWORD)
    assert client.get("/staff/invoices").status_code == 403
    assert client.post_form(f"/staff/invoices/{theirs.id}/transfer",
                            {"reference": "X"}).status_code == 403
    user = make_user(portal="customer", customer_id=mine.id)
    client.login(user.email, PASSWORD, "customer")
    assert client.get(f"/portal/invoices/{theirs.id}").status_code == 404
    assert client.post_form(f"/portal/invoices/{theirs.id}/pay", CARD).status_code == 404
    assert get_service("billing").session.get(Invoice, theirs.id).status == "open"


def test_a_customer_pays_an_open_invoice_once(client):
    customer = make_customer()
    invoice = make_invoice(customer, total="59.00", due_days_ago=3)
    user = make_user(portal="customer", customer_id=customer.id)
    client.login(user.email, PASSWORD, "customer")
    page = client.get(f"/portal/invoices/{invoice.id}")
    assert b"Pay 59.00 USD" in page.data and b"Lastmile Networks Ltd" in page.data
    declined = client.post_form(f"/portal/invoices/{invoice.id}/pay",
                                {**CARD, "card_number": "4000000000000002"})
    assert declined.status_code == 422 and b"declined" in declined.data.lower()
    for _ in range(2):
        assert client.post_form(f"/portal/invoices/{invoice.id}/pay", CARD).status_code == 303
    session = get_service("billing").session
    session.expire_all()
    assert session.get(Invoice, invoice.id).status == "paid"
    assert session.execute(select(func.count(Payment.id)).where(
        Payment.status == "succeeded")).scalar() == 1
    assert b"Thank you" in client.get(f"/portal/invoices/{invoice.id}").data


def test_paying_in_the_portal_ends_the_dunning_run(client, db, workers):
    from jobs.dunning import start_dunning
    customer = make_customer()
    invoice = make_invoice(customer, due_days_ago=10)
    from tests.integration.test_dunning import started_run
    run_id = started_run(db, start_dunning)
    session = get_service("billing").session

    def status():
        session.expire_all()
        return session.get(WorkflowRun, run_id).status
    wait_until(lambda: status() == "waiting", timeout=60)
    user = make_user(portal="customer", customer_id=customer.id)
    client.login(user.email, PASSWORD, "customer")
    assert client.post_form(f"/portal/invoices/{invoice.id}/pay", CARD).status_code == 303
    wait_until(lambda: status() == "succeeded", timeout=60)
    assert session.execute(select(DunningCase.stage)).scalar() == "paid"


def test_my_internet_shows_plan_session_usage_and_suspension(client, db):
    customer = make_customer()
    service = make_internet_service(customer, ip_address="100.64.93.7")
    now = datetime.utcnow()
    db.session.add(RadAcct(acctsessionid="s1", acctuniqueid="u1",
                           username=service.pppoe_username, nasipaddress="10.0.0.1",
                           acctstarttime=now - timedelta(hours=1), acctupdatetime=now,
                           acctinputoctets=3 * 2**30, acctoutputoctets=12 * 2**30,
                           framedipaddress="100.64.93.7"))
    db.session.commit()
    user = make_user(portal="customer", customer_id=customer.id)
    client.login(user.email, PASSWORD, "customer")
    page = client.get("/portal/internet").data.decode()
    assert "100.64.93.7" in page and "online" in page and "12.0 GB down" in page
    assert page.count('class="bar-down"') >= 28 and "suspended" not in page.lower()
    invoice = make_invoice(customer)
    db.session.add(DunningCase(invoice_id=invoice.id, customer_id=customer.id,
                               stage="suspended", suspended_at=now, suspended_services=[
                                   {"service_id": service.id, "username": "x", "group": "g"}]))
    service.status = "suspended"
    db.session.commit()
    page = client.get("/portal/internet").data.decode()
    assert "This service is suspended" in page and invoice.number in page
    assert f"/portal/invoices/{invoice.id}" in page
    ops = make_user(role="ops")
    client.login(ops.email, PASSWORD)
    staff_page = client.get(f"/staff/services/{service.id}").data.decode()
    assert "This service is suspended" in staff_page and "12.0 GB down" in staff_page


def test_a_ticket_conversation_emails_the_other_side(client, db):
    customer, other = make_customer(), make_customer()
    service = make_internet_service(customer)
    user = make_user(portal="customer", customer_id=customer.id)
    client.login(user.email, PASSWORD, "customer")
    bad = client.post_form("/portal/tickets/new", {"subject": "", "category": "x",
                                                   "message": ""})
    assert bad.status_code == 422 and b"Enter a subject" in bad.data
    stolen = client.post_form("/portal/tickets/new", {
        "subject": "Slow", "category": "support", "message": "Hi",
        "service_id": str(make_internet_service(other).id)})
    assert stolen.status_code == 422
    opened = client.post_form("/portal/tickets/new", {
        "subject": "Slow evenings", "category": "outage", "message": "Speed drops at 8pm.",
        "service_id": str(service.id)})
    assert opened.status_code == 303
    ticket = db.session.execute(select(Ticket)).scalar_one()
    assert ticket.service_instance_id == service.id and ticket.priority == "high"

    agent = make_user(role="support", name="Sam Support")
    client.login(agent.email, PASSWORD)
    assert client.post_form(f"/staff/tickets/{ticket.id}/update",
                            {"assignee_id": str(agent.id), "priority": "urgent",
                             "status": "in_progress"}).status_code == 303
    assert client.post_form(f"/staff/tickets/{ticket.id}/update",
                            {"priority": "whenever"}).status_code == 422
    assert client.post_form(f"/staff/tickets/{ticket.id}/reply",
                            {"body": "We are on it."}).status_code == 303
    mail = db.session.execute(select(OutboundEmail).filter_by(template="ticket_reply")
                              ).scalar_one()
    assert mail.to_address == customer.email and "We are on it." in mail.text_body

    client.login(user.email, PASSWORD, "customer")
    page = client.get(f"/portal/tickets/{ticket.id}").data
    assert b"We are on it." in page and b"Sam Support" in page
    assert client.post_form(f"/portal/tickets/{ticket.id}", {"body": "Thanks!"}
                            ).status_code == 303
    db.session.expire_all()
    mails = db.session.execute(select(OutboundEmail.to_address).filter_by(
        template="ticket_reply").order_by(OutboundEmail.id)).scalars().all()
    assert mails == [customer.email, agent.email]
    other_user = make_user(portal="customer", customer_id=other.id)
    client.login(other_user.email, PASSWORD, "customer")
    assert client.get(f"/portal/tickets/{ticket.id}").status_code == 404
