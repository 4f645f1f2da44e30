"""The dunning sweeps (W6).

`start_dunning` (daily): a case and a run for every invoice unpaid DUNNING_START_DAYS after
its due date, once per invoice (the case's unique invoice_id and the run's subject both
guard it), skipping customers whose dunning ops paused.

`advance_dunning` (every minute): the timers of waiting runs are the cases' `next_due_at`
rows; when one has passed, the run gets `dunning_due` and sends the next reminder or
suspends. It also re-delivers `invoice_paid` to runs whose invoice is paid but which did not
take the signal when the payment was made (a step was running then)."""
from jobs.worker import app_context


def start_dunning():
    with app_context():
        from app.workflows.engine import start_run
        from app.workflows.registry import get_service
        dunning = get_service("dunning")
        dunning.open_overdue_cases()
        started = []
        for case in dunning.cases_without_run():
            run = start_run("overdue_invoice_to_suspension", {
                "invoice_id": case.invoice_id, "customer_id": case.customer_id},
                started_from="scheduler", customer_id=case.customer_id)
            dunning.attach_run(case.id, run.id)
            started.append(run.id)
        return started


def advance_dunning():
    with app_context():
        from app.errors import ValidationError
        from app.workflows import dunning_signals, engine
        from app.workflows.registry import get_service
        dunning = get_service("dunning")
        moved, paid = [], []
        for case in dunning.cases_due():
            try:
                if engine.signal_run(case.workflow_run_id, "dunning_due", {}):
                    moved.append(case.workflow_run_id)
            except ValidationError:  # its stage moved on meanwhile: nothing due
                pass
        for case in dunning.paid_cases_still_live():
            if dunning_signals.invoice_paid(case.invoice_id):
                paid.append(case.workflow_run_id)
        return {"advanced": moved, "paid": paid}
