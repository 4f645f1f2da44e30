"""Test services and test workflows for the engine's tests, loaded by the app and by the real
worker processes through LASTMILE_PLUGINS (set in tests/conftest.py).

Every effect is an AuditEvent row written under the engine's idempotency key, so a test can
count how many times a step really had its effect."""
import time

from sqlalchemy import func, select

from app.errors import DomainError, TransientError
from app.extensions import get_redis
from app.models import AuditEvent, utcnow
from app.services.base import Service
from app.workflows.definition import Call, Input, Step, Wait, Workflow


class EngineTestService(Service):
    name = "enginetest"

    def record(self, label, value=None, *, idempotency_key=None):
        def produce():
            self.session.add(AuditEvent(action=f"test:{label}", details={"value": value},
                                        created_at=utcnow()))
            return {"label": label, "value": value}
        return self.once(idempotency_key, "enginetest.record", produce)

    def flaky(self, label, succeed_on, *, idempotency_key=None):
        attempt = get_redis().incr(f"enginetest:flaky:{idempotency_key}")
        if attempt < succeed_on:
            raise TransientError(f"flaky failure {attempt}")
        return self.record(label, attempt, idempotency_key=idempotency_key)

    def refuse(self, reason, *, idempotency_key=None):
        raise DomainError(reason)

    def slow(self, label, seconds, *, idempotency_key=None):
        """Sleeps on its first attempt only (the one the test kills)."""
        if get_redis().incr(f"enginetest:slow:{idempotency_key}") == 1:
            get_redis().set(f"enginetest:slow-started:{idempotency_key}", "1")
            time.sleep(seconds)
        return self.record(label, idempotency_key=idempotency_key)

    def pay(self, card, *, idempotency_key=None):
        if card == "bad":
            raise DomainError("Your card was declined.")
        return self.record("paid", card, idempotency_key=idempotency_key)

    def secret(self, *, idempotency_key=None):
        return {"username": "alice", "password": "hunter2-secret"}


def count_effects(session, label):
    return session.execute(select(func.count()).select_from(AuditEvent)
                           .where(AuditEvent.action == f"test:{label}")).scalar()


def _record(name, label, **extra):
    return Step(name, "enginetest.record", {"label": label, **extra.pop("params", {})},
                returns=("label", "value"), **extra)


WORKFLOWS = {w.name: w for w in (
    Workflow("test_success", 1, "Test: success",
             inputs=(Input("greeting", "str"), Input("mode", "str", required=False,
                                                     default="fast")),
             steps=(
                 _record("first", "first", params={"value": "${ctx.greeting}"}),
                 _record("skipped", "skipped", when=("${ctx.mode}", "==", "slow")),
                 _record("last", "last", params={"value": "after ${steps.first.value}!"}),
             )),
    Workflow("test_transient", 1, "Test: transient", inputs=(),
             steps=(Step("flaky", "enginetest.flaky", {"label": "flaky", "succeed_on": 3},
                         returns=("label", "value"), max_attempts=5),)),
    Workflow("test_domain", 1, "Test: domain error", inputs=(),
             steps=(Step("refuse", "enginetest.refuse", {"reason": "Quota exceeded: 0 left."},
                         returns=()),)),
    Workflow("test_wait", 1, "Test: wait", inputs=(Input("deadline", "datetime"),),
             steps=(
                 _record("before", "before", params={"value": "${ctx.deadline}"}),
                 Wait("await_go", signal="go", payload=(Input("value", "int"),),
                      deadline="${steps.before.value}", on_timeout=Call(
                          "enginetest.record", {"label": "timed_out"}),
                      timeout_status="expired",
                      end_signals={"stop": {"status": "declined", "call": Call(
                          "enginetest.record", {"label": "stopped"})}}),
                 _record("after", "after", params={"value": "${steps.await_go.value}"}),
             )),
    Workflow("test_compensation", 1, "Test: compensation", inputs=(),
             steps=(
                 _record("one", "one", compensate=Call("enginetest.record", {"label": "undo_one"})),
                 _record("two", "two", compensate=Call("enginetest.record", {"label": "undo_two"})),
                 Step("boom", "enginetest.refuse", {"reason": "Card declined."}, returns=()),
             )),
    Workflow("test_compensation_fails", 1, "Test: compensation fails", inputs=(),
             steps=(
                 _record("one", "one", compensate=Call("enginetest.refuse",
                                                       {"reason": "cannot undo"})),
                 Step("boom", "enginetest.refuse", {"reason": "Card declined."}, returns=()),
             )),
    Workflow("test_slow", 1, "Test: slow step", inputs=(Input("seconds", "int"),),
             steps=(Step("slow", "enginetest.slow", {"label": "slow", "seconds": "${ctx.seconds}"},
                         returns=("label",)),)),
    # One job carries a run through consecutive steps: kill it in the middle of the slow one.
    Workflow("test_chain", 1, "Test: a chain with a slow step in it",
             inputs=(Input("seconds", "int"),),
             steps=(
                 _record("a", "a"), _record("b", "b"),
                 Step("slow", "enginetest.slow", {"label": "slow", "seconds": "${ctx.seconds}"},
                      returns=("label",)),
                 _record("d", "d"), _record("e", "e"),
             )),
    Workflow("test_rewind", 1, "Test: rewind", inputs=(),
             steps=(
                 Wait("await_card", signal="pay", payload=(Input("card", "str"),),
                      timeout_seconds=3600),
                 Step("charge", "enginetest.pay", {"card": "${steps.await_card.card}"},
                      returns=("label", "value"), rewind_to="await_card"),
             )),
    Workflow("test_skip_first", 1, "Test: a first step skipped",
             inputs=(Input("mode", "str", required=False, default="fast"),),
             steps=(_record("maybe", "maybe", when=("${ctx.mode}", "==", "slow")),
                    _record("then", "then"))),
    Workflow("test_secret", 1, "Test: secrets", inputs=(),
             steps=(Step("make", "enginetest.secret", {}, returns=("username", "password")),)),
)}

SERVICES = {EngineTestService.name: EngineTestService}
