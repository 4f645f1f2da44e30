"""The vocabulary workflow definitions are written in. A definition is data: the engine
snapshots `Workflow.snapshot` into each run and executes the snapshot, so editing a
definition never breaks a run in flight.

Templates: "${ctx.x}" is input x, "${steps.s.k}" key k of step s's result, "${run.id}" the
run's id. A value that is exactly one template keeps its type; inside a longer string it is
interpolated. Templates work inside dicts and lists too.
"""
import functools
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Input:
    name: str
    type: str  # int | str | bool | date | datetime | dict | list | decimal
    required: bool = True
    default: object = None
    choices: tuple = ()


@dataclass(frozen=True)
class Call:
    """A service call: `operation` is "service.method"."""
    operation: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    name: str
    operation: str
    params: dict
    returns: tuple  # the result keys later steps may reference
    compensate: Call | None = None
    # ("${ctx.payment_type}", "==", "prepaid"): false marks the step skipped, the run goes on.
    when: tuple | None = None
    max_attempts: int = 5
    # After a DomainError, go back to this wait step instead of failing the run (e.g. a
    # declined card: the customer may accept and pay again with another card).
    rewind_to: str | None = None
    kind: str = "action"


@dataclass(frozen=True)
class Wait:
    """Hold the run (no worker) until `signal` arrives or the deadline passes; whichever comes
    first wins. The signal's payload is the step's result.

    A signal carries what the wait declares, checked like a form before it is accepted:
    `payload` lists its fields as Inputs (the step returns exactly these), and `check`, if
    given, is a service call that refuses a payload the run may not accept (a card that is
    not the customer's), with "${signal.x}" naming field x of the payload."""
    name: str
    signal: str
    payload: tuple = ()  # Input(...) for each field the signal must carry
    check: Call | None = None
    deadline: str | None = None  # template resolving to an ISO datetime
    timeout_seconds: int | None = None  # used when no deadline
    on_timeout: Call | None = None
    timeout_status: str = "expired"  # the run's final status on timeout
    # other signals that end the run: {"quote_declined": {"status": "declined",
    #                                   "call": Call(...)}}
    end_signals: dict = field(default_factory=dict)
    when: tuple | None = None  # as Step.when: false skips the wait
    kind: str = "wait"

    @property
    def returns(self):
        return tuple(field.name for field in self.payload)


@dataclass(frozen=True)
class Workflow:
    name: str
    version: int
    title: str
    inputs: tuple
    steps: tuple
    # What a run is about, from its inputs ("subscription:${ctx.subscription_id}"): at most
    # one live run per workflow and subject. None: any number may run side by side.
    subject: str | None = None

    @functools.cached_property
    def snapshot(self):
        """The definition as plain data, kept in each run. Built once per process (a run
        start would otherwise spend longer converting it than writing it); not to be changed."""
        return asdict(self)
