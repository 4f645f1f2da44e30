"""The Stripe gateway against two servers: localstripe (a stateful Stripe emulator from PyPI,
pinned in pyproject's dev extra, started here as a subprocess on a free port of 127.0.0.1) and
tests/fakes/stripe.py. Where the two disagree, the stand-in follows Stripe's documentation:
the last test pins each disagreement, so that a localstripe that changes says so."""
import socket
import subprocess
import sys
from decimal import Decimal

import pytest
import requests

from app.errors import DomainError
from app.integrations.payments import stripe_gateway
from tests.conftest import wait_until
from tests.fakes import serve
from tests.fakes.stripe import FakeStripe

API_KEY = "sk_test_lastmile"


@pytest.fixture(scope="session")
def localstripe():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # --from-scratch: nothing from an earlier run (localstripe keeps its state in /tmp).
    process = subprocess.Popen([sys.executable, "-m", "localstripe", "--port", str(port),
                                "--from-scratch"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def answers():
        try:
            return requests.get(f"{url}/v1/refunds", timeout=1).status_code == 401
        except requests.ConnectionError:
            return process.poll() is not None  # died: say so below rather than wait
    try:
        wait_until(answers, timeout=30, message="localstripe")
        assert process.poll() is None, "localstripe did not start"
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(params=["localstripe", "stand-in"])
def stripe_api(request, app):
    """The base URL of a Stripe API server; the app's config points at it."""
    if request.param == "localstripe":
        url = request.getfixturevalue("localstripe")
        app.config.update(STRIPE_API_KEY=API_KEY, STRIPE_API_BASE=url)
        yield url
    else:
        with serve(FakeStripe(api_key=API_KEY)) as url:
            app.config.update(STRIPE_API_KEY=API_KEY, STRIPE_API_BASE=url)
            yield url
    app.config.update(STRIPE_API_KEY=None, STRIPE_API_BASE="https://api.stripe.com")


def _get(url, path, **params):
    return requests.get(f"{url}{path}", params=params, timeout=5,
                        headers={"Authorization": f"Bearer {API_KEY}"}).json()


def _charge(app, key, token="pm_card_visa", amount="59.00"):
    return stripe_gateway.charge(app.config, token, Decimal(amount), "USD", key,
                                 "Invoice I-000001")


def test_a_charge_is_a_succeeded_payment_intent(app, stripe_api):
    reference = _charge(app, "run1:process_payment")
    intent = _get(stripe_api, f"/v1/payment_intents/{reference}")
    assert reference.startswith("pi_") and intent["status"] == "succeeded"
    assert (intent["amount"], intent["currency"]) == (5900, "usd")
    assert intent["metadata"] == {"description": "Invoice I-000001"}


def test_a_declined_card_is_a_domain_error_with_stripes_reason(app, stripe_api):
    with pytest.raises(DomainError, match="Your card was declined") as declined:
        _charge(app, "run2:process_payment", token="pm_card_chargeCustomerFail")
    assert declined.value.code == "card_declined"


def test_a_payment_is_refunded_whole_or_in_parts(app, stripe_api):
    whole = _charge(app, "run3:process_payment")
    assert stripe_gateway.refund(app.config, whole, "refund:run3").startswith("re_")
    assert [r["amount"] for r in _get(stripe_api, "/v1/refunds",
                                      payment_intent=whole)["data"]] == [5900]
    parts = _charge(app, "run4:process_payment")
    for n, amount in enumerate(("20.00", "39.00")):
        stripe_gateway.refund(app.config, parts, f"refund:run4:{n}",
                              amount=Decimal(amount), currency="USD")
    assert sorted(r["amount"] for r in _get(stripe_api, "/v1/refunds",
                                            payment_intent=parts)["data"]) == [2000, 3900]


def test_a_partial_refund_needs_its_currency(app):
    with pytest.raises(ValueError, match="currency"):
        stripe_gateway.refund({}, "pi_1", "refund:x", amount=Decimal("1.00"))


def test_amounts_go_in_the_currencys_smallest_unit():
    assert stripe_gateway.minor_units(Decimal("59.00"), "usd") == 5900
    assert stripe_gateway.minor_units(Decimal("5900"), "JPY") == 5900
    assert stripe_gateway.minor_units(Decimal("1.250"), "KWD") == 1250


def test_the_stand_in_replays_and_guards_keys_as_stripe_documents(app):
    """docs.stripe.com/api/idempotent_requests: same key, same answer (charged once); the same
    key with other parameters is refused; a refund past what is left is refused."""
    fake = FakeStripe(api_key=API_KEY)
    with serve(fake) as url:
        app.config.update(STRIPE_API_KEY=API_KEY, STRIPE_API_BASE=url)
        try:
            first = _charge(app, "run5:process_payment")
            assert _charge(app, "run5:process_payment") == first and len(fake.intents) == 1
            with pytest.raises(DomainError, match="same parameters"):
                _charge(app, "run5:process_payment", amount="60.00")
            stripe_gateway.refund(app.config, first, "refund:run5:0",
                                  amount=Decimal("50.00"), currency="USD")
            with pytest.raises(DomainError, match=r"greater than unrefunded amount on charge "
                                                  r"\(\$9.00\)"):
                stripe_gateway.refund(app.config, first, "refund:run5:1",
                                      amount=Decimal("10.00"), currency="USD")
            # A decline is a result Stripe keeps under its key: asked again, declined again.
            for _ in range(2):
                with pytest.raises(DomainError, match="insufficient funds"):
                    _charge(app, "run6:process_payment",
                            token="pm_card_visa_chargeDeclinedInsufficientFunds")
            assert len(fake.calls) == 4
        finally:
            app.config.update(STRIPE_API_KEY=None, STRIPE_API_BASE="https://api.stripe.com")


def test_where_localstripe_departs_from_stripes_documentation(app, localstripe):
    """Each of these is documented by Stripe one way and done by localstripe 1.15.10 another;
    the gateway relies only on what both do, and the stand-in does what Stripe documents."""
    app.config.update(STRIPE_API_KEY=API_KEY, STRIPE_API_BASE=localstripe)
    try:
        # Idempotency-Key is ignored: the same key charges again (Stripe replays the first).
        assert _charge(app, "run7:process_payment") != _charge(app, "run7:process_payment")
        # pm_card_visa_chargeDeclined is charged (Stripe: declined, generic_decline).
        assert _charge(app, "run8:process_payment", token="pm_card_visa_chargeDeclined")
        # Refunds are not held to what was charged (Stripe: 400, greater than unrefunded).
        paid = _charge(app, "run9:process_payment")
        for n in range(2):
            stripe_gateway.refund(app.config, paid, f"refund:run9:{n}",
                                  amount=Decimal("59.00"), currency="USD")
        # `description` on a PaymentIntent is refused (Stripe accepts it): hence metadata.
        refused = requests.post(f"{localstripe}/v1/payment_intents", timeout=5, data={
            "amount": 100, "currency": "usd", "description": "x"},
            headers={"Authorization": f"Bearer {API_KEY}"})
        assert refused.status_code == 400
        assert refused.json()["error"]["message"] == "Unexpected description"
    finally:
        app.config.update(STRIPE_API_KEY=None, STRIPE_API_BASE="https://api.stripe.com")
