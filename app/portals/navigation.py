"""Each portal's navigation, as data: (label, endpoint, staff roles that see it; empty = all).
An area adds its own entry when its page exists. The layout shows only what the user may
open; the pages still check on the server."""
NAV = {
    "customer": [],
    "partner": [],
    "staff": [],
}

# Partner provisioning and commissions (issue 6)
NAV["partner"] += [("New customer", "partner.new_customer", ()),
                   ("License pool", "partner.license_pool", ()),
                   ("Commissions", "partner.commissions", ())]
NAV["staff"] += [("Commissions", "staff.commissions", ("finance",))]
