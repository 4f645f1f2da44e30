"""Finance: invoices and payments (lists, search, filters, CSV), an invoice's page with its
payments and credit notes, and the actions on it: record a bank transfer, refund a payment
through its gateway, issue a credit note; ops and finance pause dunning for a customer.

A recorded payment is told to the runs that wait for it (W2's order, W6's dunning): routes
deliver signals, services never do."""
import csv
import io
from flask import Response, flash, render_template, request, stream_with_context, \
    url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.errors import DomainError
from app.extensions import db
from app.models import Customer, DunningCase, Invoice, Payment, utcnow
from app.models.billing import INVOICE_STATUSES, PAYMENT_STATUSES
from app.portals import payment_signals
from app.portals.access import staff_required
from app.portals.invoice_view import invoice_context
from app.portals.pagination import filter_by_arg, render_list, search
from app.portals.staff import bp
from app.portals.wizards import error_details, go
from app.workflows.registry import get_service

LAYOUT = "staff/base.html"
FINANCE = ("finance",)
CSV_BATCH = 1000


@bp.app_template_filter("human_date")
def human_date(value):
    """3 March 2026 (dates and times alike); an em dash for none."""
    if not value:
        return "—"
    return f"{value.day} {value:%B %Y}"


# ---------------------------------------------------------------- lists

def _invoice_query():
    query = select(Invoice).join(Customer, Invoice.customer_id == Customer.id).options(
        selectinload(Invoice.customer)).order_by(Invoice.id.desc())
    query = search(query, Invoice.number, Customer.name, Customer.email, Customer.number)
    query = filter_by_arg(query, Invoice.status, "status", INVOICE_STATUSES)
    if request.args.get("due") == "overdue":
        query = query.where(Invoice.status == "open", Invoice.due_at < utcnow())
    customer_id = request.args.get("customer_id", "")
    if customer_id.isdigit() and len(customer_id) < 10:
        query = query.where(Invoice.customer_id == int(customer_id))
    return query


def _payment_query():
    query = select(Payment).join(Customer, Payment.customer_id == Customer.id).options(
        selectinload(Payment.invoice), selectinload(Payment.customer)).order_by(
        Payment.id.desc())
    query = search(query, Payment.gateway_reference, Customer.name, Customer.email,
                   Customer.number)
    query = filter_by_arg(query, Payment.status, "status", PAYMENT_STATUSES)
    query = filter_by_arg(query, Payment.gateway, "gateway", ("manual", "sandbox", "stripe"))
    customer_id = request.args.get("customer_id", "")
    if customer_id.isdigit() and len(customer_id) < 10:
        query = query.where(Payment.customer_id == int(customer_id))
    return query


def _csv_link(endpoint):
    from markupsafe import Markup, escape
    href = url_for(endpoint, **request.args.to_dict())
    return Markup(f'<a role="button" class="secondary" href="{escape(href)}">Export CSV</a>')


@bp.route("/invoices")
@staff_required(*FINANCE)
def invoices():
    return render_list(
        LAYOUT, "Invoices", _invoice_query(),
        [("Number", "number"), ("Customer", "customer.name"), ("Issued", "issued_on"),
         ("Due", "due_on"), ("Total", "total"), ("Currency", "currency"),
         ("Status", "status")],
        row_link=lambda i: url_for("staff.invoice_detail", invoice_id=i.id),
        search_placeholder="Search by invoice number, customer name, email or number",
        filters=[("status", "Status", INVOICE_STATUSES, request.args.get("status")),
                 ("due", "Due", ("overdue",), request.args.get("due"))],
        empty="No invoices match.", actions=_csv_link("staff.invoices_csv"))


@bp.route("/payments")
@staff_required(*FINANCE)
def payments():
    return render_list(
        LAYOUT, "Payments", _payment_query(),
        [("Payment", "id"), ("Customer", "customer.name"), ("Invoice", "invoice.number"),
         ("Date", "created_on"), ("Amount", "amount"), ("Gateway", "gateway"),
         ("Reference", "gateway_reference"), ("Status", "status")],
        row_link=lambda p: url_for("staff.invoice_detail", invoice_id=p.invoice_id)
        if p.invoice_id else "#",
        search_placeholder="Search by reference, customer name, email or number",
        filters=[("status", "Status", PAYMENT_STATUSES, request.args.get("status")),
                 ("gateway", "Gateway", ("manual", "sandbox", "stripe"),
                  request.args.get("gateway"))],
        empty="No payments match.", actions=_csv_link("staff.payments_csv"))


def _csv(filename, header, query, row):
    """Stream the whole filtered list, a batch of rows at a time (no page limit, no list of
    100,000 objects in memory)."""
    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        for item in db.session.execute(query.execution_options(yield_per=CSV_BATCH)
                                       ).scalars():
            writer.writerow([_csv_safe(value) for value in row(item)])
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()
    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _csv_safe(value):
    """A cell a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.route("/invoices.csv")
@staff_required(*FINANCE)
def invoices_csv():
    return _csv("invoices.csv", ["number", "customer_number", "customer", "issued", "due",
                                 "paid", "subtotal", "tax", "total", "currency", "status"],
                _invoice_query(),
                lambda i: [i.number, i.customer.number, i.customer.name,
                           i.issued_at.date().isoformat(),
                           i.due_at.date().isoformat() if i.due_at else "",
                           i.paid_at.date().isoformat() if i.paid_at else "", i.subtotal,
                           i.tax, i.total, i.currency, i.status])


@bp.route("/payments.csv")
@staff_required(*FINANCE)
def payments_csv():
    return _csv("payments.csv", ["payment", "date", "customer_number", "customer", "invoice",
                                 "amount", "currency", "gateway", "reference", "status",
                                 "refunded"],
                _payment_query(),
                lambda p: [p.id, p.created_at.date().isoformat(), p.customer.number,
                           p.customer.name, p.invoice.number if p.invoice else "", p.amount,
                           p.currency, p.gateway, p.gateway_reference, p.status,
                           p.refunded_at.date().isoformat() if p.refunded_at else ""])


# ---------------------------------------------------------------- one invoice

@bp.route("/invoices/<int:invoice_id>")
@staff_required(*FINANCE)
def invoice_detail(invoice_id, errors=None, values=None, status=200):
    invoice = db.get_or_404(Invoice, invoice_id)
    pause = get_service("dunning").pause_of(invoice.customer_id)
    return render_template("staff/billing/invoice.html", **invoice_context(invoice),
                           pause=pause, errors=errors or {}, values=values or {}), status


@bp.route("/invoices/<int:invoice_id>/transfer", methods=["POST"])
@staff_required(*FINANCE)
def record_invoice_transfer(invoice_id):
    invoice = db.get_or_404(Invoice, invoice_id)
    reference = (request.form.get("reference") or "").strip()
    try:
        # One reference, one payment: the same transfer recorded twice is recorded once.
        get_service("billing").record_bank_transfer(
            invoice.id, reference, idempotency_key=f"staff-transfer:{invoice.id}:"
                                                   f"{' '.join(reference.split())[:100]}")
    except DomainError as error:
        db.session.rollback()
        return invoice_detail(invoice_id, errors={"transfer": error_details(error)},
                              values={"reference": reference[:100]}, status=422)
    _tell_runs(invoice.id)
    flash(f"Bank transfer recorded: invoice {invoice.number} is paid.")
    return go(url_for("staff.invoice_detail", invoice_id=invoice.id))


@bp.route("/payments/<int:payment_id>/refund", methods=["POST"])
@staff_required(*FINANCE)
def refund_invoice_payment(payment_id):
    payment = db.get_or_404(Payment, payment_id)
    back = url_for("staff.invoice_detail", invoice_id=payment.invoice_id) \
        if payment.invoice_id else url_for("staff.payments")
    if payment.status != "succeeded":
        flash(f"Only a succeeded payment can be refunded; this one is {payment.status}.",
              "error")
        return go(back)
    try:
        # The key makes a double click one refund (and the gateway gets it as its own key).
        get_service("billing").refund_payment(payment.id,
                                              idempotency_key=f"staff-refund:{payment.id}")
    except DomainError as error:
        db.session.rollback()
        flash(f"The refund failed: {error.message}", "error")
        return go(back)
    flash(f"Payment {payment.id} refunded ({payment.amount} {payment.currency}).")
    return go(back)


@bp.route("/invoices/<int:invoice_id>/credit-note", methods=["POST"])
@staff_required(*FINANCE)
def invoice_credit_note(invoice_id):
    invoice = db.get_or_404(Invoice, invoice_id)
    amount, reason = request.form.get("amount", ""), request.form.get("reason", "")
    try:
        note = get_service("billing").issue_credit_note(invoice.id, amount, reason,
                                                        by=current_user)
    except DomainError as error:
        db.session.rollback()
        return invoice_detail(invoice_id, errors={"credit": error_details(error)},
                              values={"amount": amount[:20], "reason": reason[:300]},
                              status=422)
    _tell_runs(invoice.id)
    flash(f"Credit note {note.number} issued.")
    return go(url_for("staff.invoice_detail", invoice_id=invoice.id))


def _tell_runs(invoice_id):
    """The runs waiting for this invoice's money go on (an order, a dunning run)."""
    payment_signals.invoice_paid(invoice_id, by=current_user)


# ---------------------------------------------------------------- dunning pause

@bp.route("/customers/<int:customer_id>/dunning", methods=["GET", "POST"])
@staff_required("finance", "ops")
def customer_dunning(customer_id):
    customer = db.get_or_404(Customer, customer_id)
    dunning = get_service("dunning")
    errors, status = {}, 200
    if request.method == "POST":
        if request.form.get("action") == "resume":
            dunning.resume(customer.id)
            flash("Dunning resumed for this customer.")
            return go(url_for("staff.customer_dunning", customer_id=customer.id))
        try:
            dunning.pause(customer.id, request.form.get("reason"), by=current_user)
            flash("Dunning paused: no reminder run starts and no service is suspended.")
            return go(url_for("staff.customer_dunning", customer_id=customer.id))
        except DomainError as error:
            errors, status = error_details(error), 422
    cases = db.session.execute(select(DunningCase).filter_by(customer_id=customer.id)
                               .options(selectinload(DunningCase.invoice))
                               .order_by(DunningCase.id.desc()).limit(50)).scalars().all()
    return render_template("staff/billing/dunning.html", customer=customer, cases=cases,
                           pause=dunning.pause_of(customer.id), errors=errors), status
