from app.workflows.definition import Call, Input, Step, Wait, Workflow

ORDER = "${steps.create_order.order_id}"

WORKFLOW = Workflow(
    name="quote_accepted_to_order",
    version=1,
    title="Quote accepted to order",
    subject="quote:${ctx.quote_id}",
    inputs=(
        Input("quote_id", "int"),
        Input("accepted_by", "str"),
        Input("payment_type", "str", choices=("prepaid", "postpaid")),
        # "manual" or a saved payment method: "pm:<id>" (see billing.process_payment)
        Input("payment_method", "str", required=False, default="manual"),
        Input("priority", "str", required=False, default="normal",
              choices=("low", "normal", "high", "urgent")),
        Input("scheduled_date", "datetime", required=False),  # default: next working day
    ),
    steps=(
        # A declined card or a cancel undoes the order and its invoice, and the quote may be
        # accepted again.
        Step("accept_quote", "crm.accept_quote",
             {"quote_id": "${ctx.quote_id}", "accepted_by": "${ctx.accepted_by}"},
             returns=("quote_id", "status", "accepted_at"),
             compensate=Call("crm.reopen_quote", {"quote_id": "${ctx.quote_id}"})),
        Step("create_order", "sales.create_order_from_quote",
             {"quote_id": "${ctx.quote_id}", "payment_type": "${ctx.payment_type}"},
             returns=("order_id", "number", "customer_id", "customer_email", "total"),
             compensate=Call("sales.cancel_order", {"order_id": ORDER})),
        Step("process_payment", "billing.process_payment",
             {"order_id": ORDER, "amount": "${steps.create_order.total}",
              "payment_method": "${ctx.payment_method}"},
             returns=("payment_id", "status", "gateway_reference", "invoice_id"),
             when=("${ctx.payment_type}", "==", "prepaid"),
             compensate=Call("billing.refund_payment", {
                 "payment_id": "${steps.process_payment.payment_id}"})),
        # Prepaid by bank transfer: the order waits, visibly, until finance records the money.
        Wait("await_payment", signal="payment_received",
             payload=(Input("invoice_id", "int"),),
             check=Call("billing.check_paid_invoice", {
                 "invoice_id": "${signal.invoice_id}",
                 "expected_invoice_id": "${steps.process_payment.invoice_id}"}),
             when=("${steps.process_payment.status}", "==", "pending"),
             timeout_seconds=30 * 24 * 3600, timeout_status="failed"),
        Step("schedule_deployment", "deployment.schedule_deployment",
             {"order_id": ORDER, "customer_id": "${steps.create_order.customer_id}",
              "priority": "${ctx.priority}", "scheduled_date": "${ctx.scheduled_date}"},
             returns=("schedule_id", "scheduled_for"),
             compensate=Call("deployment.cancel_deployment_schedule", {
                 "schedule_id": "${steps.schedule_deployment.schedule_id}"})),
        Step("notify_operations", "notifications.notify_team",
             {"team": "operations", "channel": "all",
              "subject": "New order ${steps.create_order.number}",
              "message": "Order ${steps.create_order.number} is ready",
              "metadata": {"order_id": ORDER,
                           "customer_id": "${steps.create_order.customer_id}"}},
             returns=("notified",)),
        Step("send_confirmation_email", "communications.send_template_email",
             {"template": "order_confirmation", "to": "${steps.create_order.customer_email}",
              "context": {"customer_id": "${steps.create_order.customer_id}",
                          "order_id": ORDER,
                          "order_number": "${steps.create_order.number}",
                          "total": "${steps.create_order.total}",
                          "scheduled_for": "${steps.schedule_deployment.scheduled_for}"}},
             returns=("email_id", "status")),
    ),
)
