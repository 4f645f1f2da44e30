"""List pages stay right while they stay flat at scale (app/portals/pagination.py): the search
finds the same rows on SQLite and PostgreSQL (there through the trigram indexes), counting
stops at COUNT_LIMIT, and keyset paging walks every row once in both directions."""
import re

import pytest
from sqlalchemy import text

from app.models import Customer
from app.portals import pagination
from tests.conftest import IS_POSTGRES
from tests.factories import PASSWORD, make_customer, make_user


def numbers_on(html):
    return re.findall(r">(C-\d{6})</a>", html)


@pytest.fixture()
def staff(client):
    client.login(make_user(role="sales").email, PASSWORD)
    return client


def search(client, term):
    return numbers_on(client.get("/staff/customers", query_string={"q": term}).text)


def test_customer_search_by_name_email_number_and_company(db, staff):
    ana = make_customer(name="Ana Oliveira", email="ana@harbour.example", company="Harbour Café")
    bob = make_customer(name="Bob Stone", email="bob@quarry.example", company=None)
    make_customer(name="Carla 100% Fibre", email="carla_x@example.test")

    assert search(staff, "oliv") == [ana.number]          # inside the name, any case
    assert search(staff, "QUARRY") == [bob.number]        # the email
    assert search(staff, bob.number.lower()) == [bob.number]  # the number
    assert search(staff, "harbour caf") == [ana.number]   # the company, non-ASCII too
    assert search(staff, "café") == [ana.number]
    assert search(staff, "nobody-like-this") == []


def test_like_wildcards_in_a_search_are_literal(db, staff):
    carla = make_customer(name="Carla 100% Fibre", email="carla_x@example.test")
    make_customer(name="Dan 1000 Fibre", email="dan.x@example.test")
    assert search(staff, "100%") == [carla.number]
    assert search(staff, "a_x") == [carla.number]  # "_" is not "any one character"
    assert search(staff, "\\") == []


def test_counting_stops_at_the_limit(db, staff, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_LIMIT", 30)
    for _ in range(40):
        make_customer()
    html = staff.get("/staff/customers").text
    assert "more than 30" in html and "in all" not in html
    monkeypatch.setattr(pagination, "COUNT_LIMIT", 1000)
    assert "40 in all" in staff.get("/staff/customers").text


def test_keyset_pages_walk_every_row_once_both_ways(db, staff, app):
    app.config["PAGE_SIZE"] = 7
    try:
        made = [make_customer().number for _ in range(23)]
        newest_first = list(reversed(made))
        pages, url = [], "/staff/customers"
        while url:
            html = staff.get(url).text
            pages.append(numbers_on(html))
            found = re.search(r'href="([^"]+)"[^>]*>Next', html)
            url = found.group(1).replace("&amp;", "&") if found else None
            if url:
                assert "after=" in url
        assert [n for page in pages for n in page] == newest_first
        assert [len(p) for p in pages] == [7, 7, 7, 2]

        # Back from the last page with Previous: the same pages, in reverse.
        html = staff.get(found_prev_start(staff, pages)).text
        back = []
        while True:
            back.append(numbers_on(html))
            previous = re.search(r'href="([^"]+)"[^>]*>← Previous', html)
            if not previous:
                break
            # keyset back to page 2; page 1 is the list's own first page
            assert "before=" in previous.group(1) or "page=1" in previous.group(1)
            html = staff.get(previous.group(1).replace("&amp;", "&")).text
        assert back == list(reversed(pages))
        assert "Page 1 of 4" in html

        # A page number typed by hand still works (by offset).
        assert numbers_on(staff.get("/staff/customers?page=2").text) == pages[1]
    finally:
        app.config["PAGE_SIZE"] = 25


def found_prev_start(client, pages):
    """The address of the last page, reached through the Next links."""
    url = "/staff/customers"
    for _ in range(len(pages) - 1):
        html = client.get(url).text
        url = re.search(r'href="([^"]+)"[^>]*>Next', html).group(1).replace("&amp;", "&")
    return url


def test_run_monitor_filters_and_searches_by_customer(db, client, monkeypatch):
    from tests.integration.test_live_streams import make_run
    client.login(make_user(role="ops").email, PASSWORD)
    ana, bob = make_customer(name="Ana Filter"), make_customer(name="Bob Filter")
    ana_run, bob_run = make_run(db, ana), make_run(db, bob, status="failed")
    ana_id, ana_run_id, bob_run_id = ana.id, ana_run.id, bob_run.id

    def runs(**args):
        html = client.get("/staff/runs", query_string=args).text
        return {int(n) for n in re.findall(r'href="/staff/runs/(\d+)"', html)}
    assert runs() == {ana_run_id, bob_run_id}
    assert runs(status="failed") == {bob_run_id}
    assert runs(customer=ana_id) == {ana_run_id}
    assert runs(q="ana fil") == {ana_run_id}
    assert runs(q=str(bob_run_id)) == {bob_run_id}
    assert runs(workflow="lead_to_customer_onboarding", status="running") == {ana_run_id}
    # More customers match than the ids read first may hold: the join finds their runs.
    monkeypatch.setattr(pagination, "SEARCH_IDS_LIMIT", 1)
    assert runs(q="filter") == {ana_run_id, bob_run_id}
    assert runs(q="bob filter") == {bob_run_id}


@pytest.mark.postgres_only
def test_postgres_serves_the_searches_from_trigram_indexes(db):
    with db.engine.connect() as conn:
        assert conn.execute(text(
            "SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).scalar() == 1
        indexes = set(conn.execute(text(
            "SELECT indexname FROM pg_indexes WHERE indexname LIKE '%\\_trgm'")).scalars())
        assert {f"ix_customers_{c}_trgm" for c in ("name", "email", "number", "company")} \
            <= indexes
        # The query the customer search sends can use them (the planner would scan so small a
        # table anyway: tell it not to, and look at the plan).
        conn.rollback()
        with conn.begin():
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            query = (db.select(Customer.id)
                     .where(pagination.contains(Customer.name, "oliv")))
            plan = "\n".join(conn.execute(text("EXPLAIN " + str(query.compile(
                dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))))
                .scalars())
        assert "ix_customers_name_trgm" in plan, plan


def test_sqlite_has_no_postgres_only_indexes(db):
    if IS_POSTGRES:
        pytest.skip("the SQLite pass checks this")
    with db.engine.connect() as conn:
        names = set(conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'index'")).scalars())
    assert not {n for n in names if n.endswith("_trgm")}
    assert "ix_workflow_runs_status_id" in names
