from app.workflows.definition import Call, Input, Step, Workflow

CUSTOMER = "${steps.create_customer.customer_id}"
PARTNER = "${ctx.partner_id}"

WORKFLOW = Workflow(
    name="partner_customer_provisioning",
    version=1,
    title="Partner customer provisioning",
    subject="partner-customer:${ctx.partner_id}:${ctx.customer_data.email}",
    inputs=(
        Input("partner_id", "int"),
        # name, email, phone, company, service_address
        Input("customer_data", "dict"),
        Input("requested_licenses", "int"),
        # brand_name, logo_url, primary_color, secondary_color, support_email, custom_domain
        Input("white_label_config", "dict", required=False, default={}),
        Input("commission_amount", "decimal", required=False),  # default: partner's model
    ),
    steps=(
        Step("check_quota", "partner.check_license_quota",
             {"partner_id": PARTNER, "requested_licenses": "${ctx.requested_licenses}"},
             returns=("available", "quota_remaining", "partner_email", "partner_name")),
        Step("create_customer", "customer.create_partner_customer",
             {"partner_id": PARTNER, "customer_data": "${ctx.customer_data}"},
             returns=("customer_id", "name", "email"),
             compensate=Call("customer.archive_customer", {"customer_id": CUSTOMER})),
        Step("allocate_licenses", "license.allocate_from_partner",
             {"partner_id": PARTNER, "customer_id": CUSTOMER,
              "license_count": "${ctx.requested_licenses}"},
             returns=("license_ids", "license_keys", "quota_remaining"),
             compensate=Call("license.return_to_partner_pool", {
                 "partner_id": PARTNER,
                 "license_ids": "${steps.allocate_licenses.license_ids}"})),
        Step("provision_tenant", "deployment.provision_partner_tenant",
             {"customer_id": CUSTOMER, "partner_id": PARTNER,
              "white_label_config": "${ctx.white_label_config}"},
             returns=("tenant_id", "tenant_url"),
             compensate=Call("deployment.deprovision_tenant", {
                 "tenant_id": "${steps.provision_tenant.tenant_id}"})),
        Step("record_commission", "partner.record_commission",
             {"partner_id": PARTNER, "customer_id": CUSTOMER,
              "commission_type": "new_customer", "amount": "${ctx.commission_amount}"},
             returns=("commission_id", "amount"),
             compensate=Call("partner.void_commission", {
                 "commission_id": "${steps.record_commission.commission_id}"})),
        Step("send_partner_email", "communications.send_template_email",
             {"template": "partner_customer_provisioned",
              "to": "${steps.check_quota.partner_email}",
              "context": {"partner_id": PARTNER, "customer_id": CUSTOMER,
                          "partner_name": "${steps.check_quota.partner_name}",
                          "customer_name": "${steps.create_customer.name}",
                          "tenant_url": "${steps.provision_tenant.tenant_url}",
                          "license_keys": "${steps.allocate_licenses.license_keys}",
                          "commission_amount": "${steps.record_commission.amount}"}},
             returns=("email_id", "status")),
    ),
)
