"""Each portal's navigation, as data: (label, endpoint, staff roles that see it; empty = all).
An area adds its own entry when its page exists. The layout shows only what the user may
open; the pages still check on the server."""
NAV = {
    "customer": [],
    "partner": [],
    "staff": [],
}
