"""The built-in workflows (the five of SPEC §3, and W6: dunning), by name, plus those of
plugin modules (LASTMILE_PLUGINS)."""
from app.workflows import plugins
from app.workflows.definitions import (customer_renewal_process, isp_ticket_to_deployment,
                                       lead_to_customer_onboarding,
                                       overdue_invoice_to_suspension,
                                       partner_customer_provisioning,
                                       quote_accepted_to_order)

WORKFLOWS = {module.WORKFLOW.name: module.WORKFLOW for module in (
    lead_to_customer_onboarding, quote_accepted_to_order, partner_customer_provisioning,
    customer_renewal_process, isp_ticket_to_deployment, overdue_invoice_to_suspension)}


def all_workflows():
    return {**WORKFLOWS, **plugins.extra("WORKFLOWS")}


def get_workflow(name):
    return all_workflows().get(name)
