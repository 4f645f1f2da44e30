"""W1. The license and the tenant are the hosted product's: a customer who buys only
internet (a Fibre plan, no license template chosen) gets neither; those two steps are skipped
and the welcome email says only what was set up."""
from app.workflows.definition import Call, Input, Step, Workflow

CUSTOMER = "${steps.create_customer.customer_id}"
WITH_LICENSE = ("${ctx.license_template_id}", "!=", None)

WORKFLOW = Workflow(
    name="lead_to_customer_onboarding",
    version=2,
    title="Lead to customer onboarding",
    subject="lead:${ctx.lead_id}",
    inputs=(
        Input("lead_id", "int"),
        Input("plan_id", "int"),
        Input("license_template_id", "int", required=False, default=None),
        Input("deployment_type", "str", required=False, default="shared",
              choices=("shared", "dedicated")),
    ),
    steps=(
        Step("create_customer", "customer.create_from_lead",
             {"lead_id": "${ctx.lead_id}"},
             returns=("customer_id", "name", "email")),
        Step("create_subscription", "billing.create_subscription",
             {"customer_id": CUSTOMER, "plan_id": "${ctx.plan_id}"},
             returns=("subscription_id", "status", "current_period_end"),
             compensate=Call("billing.cancel_subscription", {
                 "subscription_id": "${steps.create_subscription.subscription_id}"})),
        Step("issue_license", "license.issue_license",
             {"customer_id": CUSTOMER, "license_template_id": "${ctx.license_template_id}"},
             returns=("license_id", "license_key", "token", "expires_at"), when=WITH_LICENSE,
             compensate=Call("license.revoke_license", {
                 "license_id": "${steps.issue_license.license_id}"})),
        Step("provision_tenant", "deployment.provision_tenant",
             {"customer_id": CUSTOMER, "license_key": "${steps.issue_license.license_key}",
              "deployment_type": "${ctx.deployment_type}"},
             returns=("tenant_id", "tenant_url", "status"), when=WITH_LICENSE,
             compensate=Call("deployment.deprovision_tenant", {
                 "tenant_id": "${steps.provision_tenant.tenant_id}"})),
        Step("send_welcome_email", "communications.send_template_email",
             {"template": "customer_welcome", "to": "${steps.create_customer.email}",
              "context": {"customer_id": CUSTOMER,
                          "customer_name": "${steps.create_customer.name}",
                          "tenant_url": "${steps.provision_tenant.tenant_url}",
                          "license_key": "${steps.issue_license.license_key}"}},
             returns=("email_id", "status")),
        Step("create_onboarding_ticket", "ticketing.create_ticket",
             {"title": "Onboard ${steps.create_customer.name}",
              "description": "New customer from lead ${ctx.lead_id}. Tenant (if any): "
                             "${steps.provision_tenant.tenant_url}",
              "customer_id": CUSTOMER, "priority": "normal", "team": "customer_success",
              "type": "onboarding"},
             returns=("ticket_id", "number")),
    ),
)
