from app.workflows.definition import Call, Input, Step, Wait, Workflow

CUSTOMER = "${ctx.customer_id}"
SERVICE = "${steps.allocate_resources.service_id}"

WORKFLOW = Workflow(
    name="isp_ticket_to_deployment",
    version=2,
    title="Installation ticket to live service",
    subject="installation:${ctx.customer_id}:${ctx.service_location}",
    inputs=(
        Input("customer_id", "int"),
        Input("bandwidth_plan", "str"),  # an internet plan's code
        Input("service_location", "str"),
        Input("device_serial", "str", required=False),  # CPE serial, if known at start
        Input("scheduled_date", "datetime", required=False),
        Input("technician_id", "int", required=False),
        Input("config_template", "str", required=False, default="default"),
    ),
    steps=(
        Step("get_site_survey", "crm.get_site_survey", {"customer_id": CUSTOMER},
             returns=("survey_id", "serviceability", "customer_email", "customer_name")),
        Step("allocate_resources", "network.allocate_resources",
             {"customer_id": CUSTOMER, "service_location": "${ctx.service_location}",
              "bandwidth_plan": "${ctx.bandwidth_plan}"},
             returns=("service_id", "username", "ip_address", "gateway", "vlan_id"),
             compensate=Call("network.release_resources", {"service_id": SERVICE})),
        Step("create_radius_subscriber", "radius.create_subscriber",
             {"customer_id": CUSTOMER, "service_id": SERVICE,
              "username": "${steps.allocate_resources.username}",
              "bandwidth_profile": "${ctx.bandwidth_plan}"},
             returns=("username", "radius_group"),
             compensate=Call("radius.delete_subscriber", {
                 "username": "${steps.create_radius_subscriber.username}"})),
        Step("schedule_installation", "ticketing.schedule_installation",
             {"customer_id": CUSTOMER, "installation_address": "${ctx.service_location}",
              "technician_id": "${ctx.technician_id}",
              "scheduled_date": "${ctx.scheduled_date}", "service_id": SERVICE,
              "device_serial": "${ctx.device_serial}", "workflow_run_id": "${run.id}"},
             returns=("appointment_id", "technician", "technician_id", "starts_at"),
             compensate=Call("ticketing.cancel_appointment", {
                 "appointment_id": "${steps.schedule_installation.appointment_id}"})),
        Wait("await_installation", signal="installation_completed",
             payload=(Input("device_serial", "str"), Input("appointment_id", "int")),
             check=Call("ticketing.check_completed_installation", {
                 "appointment_id": "${signal.appointment_id}", "workflow_run_id": "${run.id}"}),
             timeout_seconds=30 * 24 * 3600, timeout_status="failed"),
        Step("provision_device", "genieacs.provision_device",
             {"customer_id": CUSTOMER, "service_id": SERVICE,
              "device_serial": "${steps.await_installation.device_serial}",
              "config_template": "${ctx.config_template}"},
             returns=("device_id", "tasks", "status"),
             max_attempts=8),
        # Without GenieACS, an operator applies the recorded settings by hand and says so
        # on the service's page ("Mark CPE configured").
        Wait("await_cpe_configuration", signal="cpe_configured",
             payload=(Input("by", "str", required=False),),
             when=("${steps.provision_device.status}", "==", "pending_operator"),
             timeout_seconds=7 * 24 * 3600, timeout_status="failed"),
        Step("activate_service", "billing.activate_service",
             {"customer_id": CUSTOMER, "service_id": SERVICE},
             returns=("status", "activated_at")),
        Step("send_activation_email", "communications.send_template_email",
             {"template": "service_activated", "to": "${steps.get_site_survey.customer_email}",
              "context": {"customer_id": CUSTOMER,
                          "customer_name": "${steps.get_site_survey.customer_name}",
                          "username": "${steps.allocate_resources.username}",
                          "plan": "${ctx.bandwidth_plan}",
                          "ip_address": "${steps.allocate_resources.ip_address}"}},
             returns=("email_id", "status")),
    ),
)
