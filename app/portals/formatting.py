"""How values read on every page: dates and times in the reader's time zone, money, yes/no,
statuses, and workflow titles in words for whoever reads them. One set of Jinja filters, so
no page shows `True`, `None` or `2026-12-10 21:40:24.086352`.

Times are stored as naive UTC (see app.models.utcnow); they are shown in DISPLAY_TIMEZONE
(an IANA name such as Europe/Lisbon; default UTC), with the zone's abbreviation so that a
time is never ambiguous."""
import re
from datetime import date, datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app

DASH = "—"

# Customers and partners read what a run is for them, not the workflow's internal name.
AUDIENCE_TITLES = {
    "customer": {"quote_accepted_to_order": "Your order",
                 "customer_renewal_process": "Your renewal",
                 "lead_to_customer_onboarding": "Your account set-up",
                 "isp_ticket_to_deployment": "Your internet installation",
                 "overdue_invoice_to_suspension": "Your overdue invoice"},
    "partner": {"partner_customer_provisioning": "New customer set-up"},
}


def display_zone():
    name = current_app.config.get("DISPLAY_TIMEZONE") or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local(value):
    """A stored (naive UTC) datetime in the display zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(display_zone())


def when(value, with_zone=True):
    """05 Dec 2026, 21:40 UTC; a date alone as 05 Dec 2026; nothing as a dash."""
    if value in (None, ""):
        return DASH
    value = _parsed(value)
    if isinstance(value, datetime):
        moment = local(value)
        text = f"{moment:%d %b %Y, %H:%M}"
        return f"{text} {moment.tzname()}" if with_zone else text
    if isinstance(value, date):
        return day(value)
    return str(value)


def day(value):
    """10 Dec 2026 (a datetime in the display zone's calendar)."""
    if value in (None, ""):
        return DASH
    value = _parsed(value)
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        value = local(value)
    return f"{value:%d %b %Y}"


def _parsed(value):
    """A date or datetime given as ISO text, parsed; any other text as it is."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def clock(value):
    """21:40:07 in the display zone (step timings, event history)."""
    return DASH if value is None else f"{local(value):%H:%M:%S}"


def money(amount, currency=None):
    """1,234.50 USD; nothing as a dash."""
    if amount in (None, ""):
        return DASH
    try:
        text = f"{Decimal(str(amount)):,.2f}"
    except ArithmeticError:
        return str(amount)
    return f"{text} {currency}" if currency else text


def yesno(value):
    return DASH if value is None else ("Yes" if value else "No")


# Stored statuses that read wrong when merely capitalised.
STATUS_WORDS = {"none": "Not started", "en_route": "On the way", "past_due": "Past due"}


def status_label(value):
    """in_progress → In progress."""
    if not value:
        return DASH
    return STATUS_WORDS.get(value) or str(value).replace("_", " ").capitalize()


def badge_text(value):
    """A status badge's text: the stored status in lower-case words (CSS capitalises it;
    pages and tests read e.g. "en route"); only "none" becomes "not started"."""
    if not value:
        return DASH
    return "not started" if value == "none" else str(value).replace("_", " ")


def workflow_title(run_or_name, audience="staff"):
    """What a run is, in the reader's words: "Your order" for a customer."""
    name = getattr(run_or_name, "workflow", run_or_name)
    titles = AUDIENCE_TITLES.get(audience, {})
    if name in titles:
        return titles[name]
    if hasattr(run_or_name, "title"):  # staff read the definition's own title
        return run_or_name.title
    return str(name or "").replace("_", " ").capitalize()


ISO_MOMENT = re.compile(r"\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?)?")


def display(value):
    """Any cell value in words: the list pages and fact lists call this for every cell
    (ISO dates in step results too)."""
    if value is None or value == "":
        return DASH
    if isinstance(value, bool):
        return yesno(value)
    if isinstance(value, str) and ISO_MOMENT.fullmatch(value):
        return when(value) if "T" in value else day(date.fromisoformat(value))
    if isinstance(value, (datetime, date)):
        return when(value)
    if isinstance(value, Decimal):
        return money(value)
    return value


def register(app):
    app.jinja_env.filters.update(when=when, day=day, clock=clock, money=money, yesno=yesno,
                                 status_label=status_label, badge_text=badge_text,
                                 workflow_title=workflow_title, display=display)
    app.jinja_env.globals.update(display_zone=display_zone)

