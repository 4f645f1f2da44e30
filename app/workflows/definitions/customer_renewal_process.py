from app.workflows.definition import Call, Input, Step, Wait, Workflow

QUOTE = "${steps.create_quote.quote_id}"

WORKFLOW = Workflow(
    name="customer_renewal_process",
    version=1,
    title="Subscription renewal",
    subject="subscription:${ctx.subscription_id}",
    inputs=(
        Input("customer_id", "int"),
        Input("subscription_id", "int"),
        Input("renewal_term", "int", required=False, default=12),  # months
    ),
    steps=(
        Step("check_eligibility", "billing.check_renewal_eligibility",
             {"customer_id": "${ctx.customer_id}", "subscription_id": "${ctx.subscription_id}"},
             returns=("eligible", "reasons", "days_until_expiry")),
        Step("create_quote", "crm.create_renewal_quote",
             {"customer_id": "${ctx.customer_id}", "subscription_id": "${ctx.subscription_id}",
              "renewal_term": "${ctx.renewal_term}", "workflow_run_id": "${run.id}"},
             returns=("quote_id", "number", "amount", "valid_until", "customer_email"),
             # A cancelled renewal takes its offer back: the quote can no longer be accepted.
             compensate=Call("crm.withdraw_quote", {"quote_id": QUOTE})),
        Step("send_renewal_email", "communications.send_template_email",
             {"template": "subscription_renewal", "to": "${steps.create_quote.customer_email}",
              "context": {"customer_id": "${ctx.customer_id}", "quote_id": QUOTE,
                          "quote_number": "${steps.create_quote.number}",
                          "amount": "${steps.create_quote.amount}",
                          "valid_until": "${steps.create_quote.valid_until}"}},
             returns=("email_id", "status")),
        # The customer's "Accept and pay": the card must be one of the customer's own.
        Wait("await_acceptance", signal="quote_accepted",
             payload=(Input("payment_method_id", "int"),),
             check=Call("billing.check_payment_method", {
                 "customer_id": "${ctx.customer_id}",
                 "payment_method_id": "${signal.payment_method_id}"}),
             deadline="${steps.create_quote.valid_until}",
             on_timeout=Call("crm.expire_quote", {"quote_id": QUOTE}),
             timeout_status="expired",
             end_signals={"quote_declined": {
                 "status": "declined",
                 "call": Call("crm.decline_quote", {"quote_id": QUOTE})}}),
        Step("process_payment", "billing.process_renewal_payment",
             {"customer_id": "${ctx.customer_id}", "quote_id": QUOTE,
              "payment_method_id": "${steps.await_acceptance.payment_method_id}"},
             returns=("payment_id", "status"),
             rewind_to="await_acceptance"),
        Step("extend_subscription", "billing.extend_subscription",
             {"subscription_id": "${ctx.subscription_id}",
              "renewal_term": "${ctx.renewal_term}", "quote_id": QUOTE},
             returns=("previous_end", "new_end")),
    ),
)
