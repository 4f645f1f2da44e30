"""A 7-step workflow of no-op steps, for bench/engine_overhead.py."""
from app.services.base import Service
from app.workflows.definition import Step, Workflow


def noop():
    """The bare-RQ side of the comparison."""
    return None


class NoopService(Service):
    name = "noop"

    def nothing(self, *, idempotency_key=None):
        return {}


SERVICES = {"noop": NoopService}
WORKFLOWS = {"bench_noop": Workflow("bench_noop", 1, "Bench: 7 no-op steps", inputs=(), steps=tuple(
    Step(f"step{n}", "noop.nothing", {}, returns=()) for n in range(7)))}
