""""My internet": a service's plan, address, whether it is online now (an open radacct
session), this month's usage per day as a server-rendered SVG chart, and its suspension
(why, and how to resolve it). The customer portal and the staff service page show the same.

The chart is drawn here as plain SVG elements (no script: the CSP allows none inline, and a
chart library would be one more thing to load)."""
from datetime import date

from app.workflows.registry import get_service

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 220, 48, 28, 12
UNITS = [(1 << 40, "TB"), (1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "kB")]


def human_bytes(count):
    for size, unit in UNITS:
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} B"


def internet_context(service, today=None):
    today = today or date.today()
    radius = get_service("radius")
    month_start = today.replace(day=1)
    next_month = (month_start.replace(year=month_start.year + 1, month=1)
                  if month_start.month == 12 else month_start.replace(month=month_start.month + 1))
    usage = radius.usage_by_day(service.pppoe_username, month_start, next_month) \
        if service.pppoe_username else []
    session = radius.open_session(service.pppoe_username)
    # Suspended by dunning: the service says so and a live case names it (the case closes a
    # moment after the service is back, while the NAS is told).
    cases = [case for case in get_service("dunning").customer_cases(service.customer_id)
             if service.status == "suspended" and case.stage == "suspended" and any(
                 entry["service_id"] == service.id for entry in case.suspended_services or [])]
    return {"service": service, "session": session, "usage": usage,
            "chart": usage_chart(usage),
            "total_down": human_bytes(sum(d for _, d, _ in usage)),
            "total_up": human_bytes(sum(u for _, _, u in usage)),
            "suspension": cases[0] if cases else None,
            "group": radius.group_of(service.pppoe_username) if service.pppoe_username else None}


def usage_chart(usage):
    """Bars (download and upload side by side) for each day, with a scale on the left."""
    peak = max([max(d, u) for _, d, u in usage] + [1 << 20])  # an empty month: 0-1 MB
    scale = _nice_ceiling(peak)
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(len(usage), 1)
    bar = max(slot * 0.38, 1)
    bars, labels = [], []
    for index, (day, down, up) in enumerate(usage):
        x = LEFT + index * slot + slot * 0.1
        for offset, value, kind in ((0, down, "down"), (bar, up, "up")):
            height = plot_h * value / scale
            bars.append({"x": round(x + offset, 1), "y": round(TOP + plot_h - height, 1),
                         "w": round(bar, 1), "h": round(height, 1), "kind": kind,
                         "title": f"{day:%d %b}: {'download' if kind == 'down' else 'upload'} "
                                  f"{human_bytes(value)}"})
        if day.day == 1 or day.day % 5 == 0:
            labels.append({"x": round(x + bar, 1), "text": str(day.day)})
    ticks = [{"y": round(TOP + plot_h - plot_h * i / 4, 1), "text": human_bytes(scale * i // 4)}
             for i in range(5)]
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "top": TOP,
            "bottom": HEIGHT - BOTTOM, "right": WIDTH - 8, "bars": bars, "labels": labels,
            "ticks": ticks}


def _nice_ceiling(value):
    """A round number of the unit the scale shows (kB, MB, GB: 1, 2 or 5 times a power of
    10 of it) at or above `value`, so the ticks read 2.5 GB, 5.0 GB, not 2.3 GB."""
    unit = next((size for size, _ in UNITS if value >= size), 1)
    return _nice_number(value / unit) * unit


def _nice_number(value):
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return int(step * magnitude)
    return int(10 * magnitude)
