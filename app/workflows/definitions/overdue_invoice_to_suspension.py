"""W6: an invoice unpaid DUNNING_START_DAYS after its due date (started by the daily dunning
sweep, jobs/dunning.py) -> reminder -> wait -> second reminder -> wait -> suspend the internet
service (RADIUS group + Disconnect-Request) -> wait for the payment -> restore.

The reminder waits end with the signal `dunning_due`, which the dunning sweep sends when the
case's due time (a database row) has passed; their own deadline is only a backstop. Payment
at any point sends `invoice_paid`: before the suspension it ends the run at once; after it,
it resumes the run, which restores the service. A payment that lands while a step runs is
seen by the next step (each returns `paid`, and the waits after it are then skipped), and
delivered again by the sweep. Cancelling the run restores a suspended service."""
from app.workflows.definition import Call, Input, Step, Wait, Workflow

INVOICE = "${ctx.invoice_id}"
PAID_SIGNAL = {"invoice_paid": {"status": "succeeded",
                                "call": Call("dunning.close_case", {"invoice_id": INVOICE})}}


def _reminder(name, number):
    return Step(name, "dunning.send_reminder",
                {"invoice_id": INVOICE, "reminder": number, "workflow_run_id": "${run.id}"},
                returns=("paid", "email_id", "due_at", "give_up_at"))


def _reminder_wait(name, after, stage):
    return Wait(name, signal="dunning_due",
                check=Call("dunning.check_due", {"invoice_id": INVOICE, "stage": stage}),
                deadline=f"${{steps.{after}.give_up_at}}", timeout_status="failed",
                end_signals=PAID_SIGNAL,
                when=(f"${{steps.{after}.paid}}", "==", False))


WORKFLOW = Workflow(
    name="overdue_invoice_to_suspension",
    version=1,
    title="Overdue invoice to suspension",
    subject="invoice:${ctx.invoice_id}",
    inputs=(
        Input("invoice_id", "int"),
        Input("customer_id", "int"),
    ),
    steps=(
        _reminder("first_reminder", 1),
        _reminder_wait("await_payment", "first_reminder", "reminded_1"),
        _reminder("second_reminder", 2),
        _reminder_wait("await_payment_again", "second_reminder", "reminded_2"),
        Step("suspend_service", "dunning.suspend_service", {"invoice_id": INVOICE},
             returns=("paid", "suspended", "services", "disconnects", "give_up_at"),
             compensate=Call("dunning.restore_service", {"invoice_id": INVOICE})),
        Wait("await_payment_while_suspended", signal="invoice_paid",
             payload=(Input("invoice_id", "int"),),
             check=Call("dunning.check_invoice_paid", {
                 "invoice_id": "${signal.invoice_id}", "expected_invoice_id": INVOICE}),
             deadline="${steps.suspend_service.give_up_at}",
             on_timeout=Call("dunning.expire_case", {"invoice_id": INVOICE}),
             timeout_status="expired",
             when=("${steps.suspend_service.suspended}", "==", True)),
        Step("restore_service", "dunning.restore_service", {"invoice_id": INVOICE},
             returns=("restored", "services", "disconnects")),
    ),
)
