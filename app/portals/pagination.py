"""Pagination and search for list pages, written once, flat in the table's size:

- search is a case-insensitive substring match, served on PostgreSQL by the trigram
  (pg_trgm GIN) indexes the searched columns declare;
- counting stops at COUNT_LIMIT rows: past that the pager says "more than 1,000" instead of
  counting 100,000 rows on every page view;
- lists ordered by their id (`keyset=`) page by keyset: Next and Previous carry the last or
  first id shown (`?after=` / `?before=`), so page 4,000 costs what page 2 costs. A page number
  typed by hand still works, by OFFSET."""
import math
from dataclasses import dataclass

from flask import current_app, render_template, request, url_for
from sqlalchemy import any_, func, literal, or_, select
from sqlalchemy.dialects.postgresql import ARRAY

from app.extensions import db

COUNT_LIMIT = 1000
SEARCH_IDS_LIMIT = 5000
CURSOR_ARGS = ("after", "before")


@dataclass
class Page:
    items: list
    number: int
    per_page: int
    total: int  # exact when `exact`, else a lower bound (COUNT_LIMIT)
    exact: bool = True
    more: bool = False  # rows exist after this page
    keyset: object = None  # the id column the list is ordered by (descending), or None

    @property
    def pages(self):
        counted = max(1, math.ceil(self.total / self.per_page))
        return counted if self.exact else max(counted, self.number + self.more)

    @property
    def has_prev(self):
        return self.number > 1

    @property
    def has_next(self):
        return self.more

    def url(self, number):
        args = {**request.view_args, **request.args.to_dict(), "page": number}
        for name in CURSOR_ARGS:
            args.pop(name, None)
        if self.keyset is not None and self.items and number > 1:
            if number == self.number + 1:
                args["after"] = getattr(self.items[-1], self.keyset.key)
            elif number == self.number - 1:
                args["before"] = getattr(self.items[0], self.keyset.key)
        return url_for(request.endpoint, **args)


def _int_arg(name, default=None):
    try:
        value = int(request.args.get(name, default))
    except (TypeError, ValueError):
        return default
    return value if 0 < value < 2**31 else default


def count_at_most(query, limit):
    """The number of rows `query` finds, counting no further than `limit`."""
    return db.session.execute(select(func.count()).select_from(
        query.order_by(None).limit(limit).subquery())).scalar()


def paginate(query, per_page=None, keyset=None):
    """`query` is a select(); the page number comes from ?page=, bad values mean page 1.
    With `keyset` (the id column `query` is ordered by, descending) ?after= and ?before=
    page from a row instead of an offset."""
    per_page = per_page or current_app.config["PAGE_SIZE"]
    number = _int_arg("page", 1)
    after, before = (_int_arg(name) for name in CURSOR_ARGS) if keyset is not None else (None,
                                                                                         None)
    if after is not None:
        rows = _fetch(query.where(keyset < after), per_page + 1)
        more = len(rows) > per_page
        items = rows[:per_page]
    elif before is not None:
        # The rows just above `before`, nearest first, shown in the list's own order.
        rows = _fetch(query.where(keyset > before).order_by(None).order_by(keyset.asc()),
                      per_page + 1)
        items, more = list(reversed(rows[:per_page])), True
        if len(rows) <= per_page:  # reached the top, whatever the page number said
            number, rows = 1, _fetch(query, per_page + 1)
            items, more = rows[:per_page], len(rows) > per_page
    else:
        rows = _fetch(query.offset((number - 1) * per_page), per_page + 1)
        more = len(rows) > per_page
        items = rows[:per_page]
    total = count_at_most(query, COUNT_LIMIT + 1)
    exact = total <= COUNT_LIMIT
    return Page(items=items, number=number, per_page=per_page, total=min(total, COUNT_LIMIT),
                exact=exact, more=more, keyset=keyset)


def _fetch(query, limit):
    return db.session.execute(query.limit(limit)).unique().scalars().all()


def search(query, *columns):
    """Filter by ?q= on the given columns: case-insensitive substring.

    When the columns are of one table, the matching rows are found first, on their own
    (matching_ids), and if they are at most SEARCH_IDS_LIMIT the list is cut from them alone.
    Asked at once for "newest 25 matches", the planner may instead walk the whole table newest
    first, filtering each row, which is slow when the matches are few and old. Many matches
    are dense enough for that walk."""
    term = (request.args.get("q") or "").strip()[:100]
    if not term:
        return query
    key = _single_key(columns)
    ids = matching_ids(term, *columns) if key is not None else None
    if ids is not None:
        return query.where(among(key, ids))
    return query.where(or_(*(contains(column, term) for column in columns)))


def matching_ids(term, *columns):
    """The ids of the rows whose `columns` (of one table) contain `term`, read on their own,
    with no ORDER BY, so that PostgreSQL reads the trigram indexes; None when more than
    SEARCH_IDS_LIMIT match."""
    ids = db.session.execute(select(_single_key(columns)).where(
        or_(*(contains(column, term) for column in columns))).limit(SEARCH_IDS_LIMIT + 1)
    ).scalars().all()
    return ids if len(ids) <= SEARCH_IDS_LIMIT else None


def among(column, ids):
    """`column IN ids`; on PostgreSQL as one array parameter (`= ANY`), which plans at once
    where a few thousand separate parameters would not."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(ids, ARRAY(column.type)))
    return column.in_(ids)


def _single_key(columns):
    """The one-column primary key of the one table `columns` belong to, else None."""
    tables = {getattr(column, "expression", column).table for column in columns}
    if len(tables) != 1:
        return None
    keys = list(tables.pop().primary_key.columns)
    return keys[0] if len(keys) == 1 else None


def contains(column, term):
    """`column` contains `term`, case-insensitively, LIKE's wildcards in `term` taken
    literally. Spelled `lower(column) LIKE ...` on every database: that is the expression the
    trigram indexes cover on PostgreSQL (app/models/base.py `trigram_indexes`)."""
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped}%", escape="\\")


def filter_by_arg(query, column, name, allowed):
    value = request.args.get(name)
    return query.where(column == value) if value in allowed else query


def cell(row, key):
    value = row
    for part in key.split("."):
        value = getattr(value, part, None) if value is not None else None
    return value() if callable(value) else value


def render_list(layout, title, query, columns, row_link=None, search_placeholder=None,
                filters=None, empty=None, actions=None, keyset=None):
    """Render a list page, or only its rows when HTMX asks for the #list target. `keyset`:
    the id column `query` is ordered by (descending), for keyset paging."""
    page = paginate(query, keyset=keyset)
    context = dict(layout=layout, title=title, page=page, columns=columns, row_link=row_link,
                   search=search_placeholder, filters=filters, empty=empty, actions=actions,
                   cell=cell)
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "list":
        return render_template("components/_list_rows.html", **context)
    return render_template("components/list_page.html", **context)
