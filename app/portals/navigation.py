"""Each portal's navigation, as data: (label, endpoint, staff roles that see it; empty = all).
An area adds its own entry when its page exists. The layout shows only what the user may
open; the pages still check on the server."""
NAV = {
    "customer": [("Overview", "customer.dashboard", ()),
                 ("Subscriptions", "customer.subscriptions", ()),
                 ("Invoices", "customer.invoices", ()),
                 ("Quotes", "customer.quotes", ()),
                 ("Licenses", "customer.licenses", ())],
    "partner": [("Overview", "partner.dashboard", ()),
                ("Customers", "partner.customers", ()),
                ("Licenses", "partner.licenses", ())],
    "staff": [("Dashboard", "staff.dashboard", ()),
              ("Leads", "staff.leads", ("sales",)),
              ("Quotes", "staff.quotes", ("sales", "finance")),
              ("Customers", "staff.customers", ("sales", "ops", "support", "finance",
                                                 "dispatcher")),
              ("Plans", "staff.plans", ()),
              ("Partners", "staff.partners", ("finance", "sales")),
              ("Tickets", "staff.tickets", ("support", "ops", "sales")),
              ("Surveys", "staff.site_surveys", ("sales", "ops", "dispatcher")),
              ("Runs", "staff.runs", ("ops", "sales")),
              ("Outbox", "staff.outbox", ("ops", "sales", "support")),
              ("Dispatch", "staff.dispatch", ("dispatcher", "ops")),
              ("My jobs", "staff.my_jobs", ("technician",)),
              ("Services", "staff.services", ("ops",)),
              ("Renewals", "staff.renewals", ("sales", "finance"))],
}

# Partner provisioning and commissions (issue 6)
NAV["partner"] += [("New customer", "partner.new_customer", ()),
                   ("License pool", "partner.license_pool", ()),
                   ("Commissions", "partner.commissions", ())]
NAV["staff"] += [("Commissions", "staff.commissions", ("finance",))]

# Accounts (issue 12): the audit log is for admins only.
# "admin-only" is no role, so only admins (who see everything) get the entry.
NAV["staff"] += [("Audit", "staff.audit_log", ("admin-only",))]


def nav_items(portal):
    """The entries the current user may open (pages still check on the server)."""
    from flask import current_app
    from flask_login import current_user
    role = getattr(current_user, "role", None)
    return [(label, endpoint) for label, endpoint, roles in NAV.get(portal, [])
            if endpoint in current_app.view_functions
            and (not roles or role == "admin" or role in roles)]

# Day-one operations (issue 13): invoices and payments for finance; the customer's internet
# service and tickets.
NAV["staff"] += [("Invoices", "staff.invoices", ("finance",)),
                 ("Payments", "staff.payments", ("finance",))]
NAV["customer"] += [("My internet", "customer.my_internet", ()),
                    ("Support", "customer.tickets", ())]
