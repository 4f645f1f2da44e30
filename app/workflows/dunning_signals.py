"""Telling a dunning run (W6) that its invoice was paid. Called by whoever recorded the
payment (a portal route, a job) after the payment committed, never by a service (services do
not know the engine). A run that is not waiting just now (a step is running) is told again
by the dunning sweep, so a payment is never lost on the run."""
import logging

from app.workflows import engine

log = logging.getLogger(__name__)


def invoice_paid(invoice_id, by=None):
    """True when a live dunning run of the invoice took the signal."""
    from app.workflows.registry import get_service
    case = get_service("dunning").live_case(invoice_id)
    if case is None or case.workflow_run_id is None:
        return False
    try:
        return engine.signal_run(case.workflow_run_id, "invoice_paid",
                                 {"invoice_id": invoice_id}, by=by)
    except Exception:  # the payment stands; the sweep delivers the signal again
        log.warning("dunning run %s: invoice_paid not delivered", case.workflow_run_id,
                    exc_info=True)
        return False
