"""Workflow runs: the database is the source of truth, RQ only carries the next step."""
from app.extensions import db
from app.models.base import utcnow

RUN_STATUSES = ("pending", "running", "waiting", "succeeded", "failed", "compensating",
                "compensated", "cancelled", "expired", "declined")
STEP_STATUSES = ("pending", "queued", "running", "waiting", "succeeded", "failed", "skipped",
                 "compensated")


class WorkflowRun(db.Model):
    __tablename__ = "workflow_runs"
    __table_args__ = (
        db.Index("ix_workflow_runs_workflow_status", "workflow", "status"),
        # The run monitor (/staff/runs) lists newest first, filtered by workflow, status or
        # customer: each filter with the order in one index, so a page reads 26 rows.
        db.Index("ix_workflow_runs_workflow_id", "workflow", "id"),
        db.Index("ix_workflow_runs_status_id", "status", "id"),
        db.Index("ix_workflow_runs_customer_id_id", "customer_id", "id"),
        # At most one live run per workflow and subject (ARCHITECTURE rule 10): a second
        # start for the same subscription, installation or partner customer loses the insert.
        db.UniqueConstraint("workflow", "live_subject"),
    )
    id = db.Column(db.Integer, primary_key=True)
    workflow = db.Column(db.String(100), nullable=False)
    version = db.Column(db.Integer, nullable=False)
    definition = db.Column(db.JSON, nullable=False)  # snapshot taken at start
    status = db.Column(db.String(20), nullable=False, default="pending", index=True)
    inputs = db.Column(db.JSON, nullable=False, default=dict)  # secrets masked
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), index=True)
    partner_id = db.Column(db.Integer, db.ForeignKey("partners.id"), index=True)
    started_by_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    started_from = db.Column(db.String(20))  # customer | partner | staff | scheduler
    error = db.Column(db.Text)  # the plain-words reason a person sees
    # The status the run takes once its compensation is done: compensated after a failure,
    # cancelled after a cancel, or the timeout status of a wait.
    end_status = db.Column(db.String(20))
    # What the run is about ("subscription:12"), from the definition's `subject`; while the
    # run is live `live_subject` holds the same text, and NULL once it finished.
    subject = db.Column(db.String(300), index=True)
    live_subject = db.Column(db.String(300))
    # The wizard form's one-time token: the same form posted twice starts one run.
    submission_token = db.Column(db.String(64), unique=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)
    started_at = db.Column(db.DateTime)
    finished_at = db.Column(db.DateTime)

    steps = db.relationship("StepRun", back_populates="run", order_by="StepRun.index")
    started_by = db.relationship("User")
    # For lists (the run monitor's customer column); loaded only when a query asks for it.
    customer = db.relationship("Customer")

    @property
    def title(self):
        """The workflow's human title, from the definition snapshot the run executes."""
        return (self.definition or {}).get("title") or self.workflow.replace("_", " ")


class StepRun(db.Model):
    __tablename__ = "step_runs"
    __table_args__ = (db.UniqueConstraint("run_id", "name", "kind"),
                      db.Index("ix_step_runs_status_lease", "status", "lease_expires_at"))
    id = db.Column(db.Integer, primary_key=True)
    run_id = db.Column(db.Integer, db.ForeignKey("workflow_runs.id"), nullable=False)
    index = db.Column(db.Integer, nullable=False)
    name = db.Column(db.String(100), nullable=False)
    kind = db.Column(db.String(20), nullable=False, default="action")  # action|wait|compensation
    operation = db.Column(db.String(100))  # "billing.create_subscription"
    status = db.Column(db.String(20), nullable=False, default="pending")
    attempts = db.Column(db.Integer, nullable=False, default=0)
    # Incremented when the run is rewound to an earlier wait: a new round is a new
    # idempotency key (a declined card may be retried with another card).
    round = db.Column(db.Integer, nullable=False, default=0)
    max_attempts = db.Column(db.Integer, nullable=False, default=5)
    params = db.Column(db.JSON)  # resolved, secrets masked
    result = db.Column(db.JSON)  # secrets masked
    error_type = db.Column(db.String(100))
    error_message = db.Column(db.Text)
    lease_owner = db.Column(db.String(100))
    lease_expires_at = db.Column(db.DateTime)
    wait_deadline = db.Column(db.DateTime)
    next_attempt_at = db.Column(db.DateTime)
    started_at = db.Column(db.DateTime)
    finished_at = db.Column(db.DateTime)

    run = db.relationship("WorkflowRun", back_populates="steps")


class RunEvent(db.Model):
    """Append-only history of every transition; the timeline is rendered from it."""
    __tablename__ = "run_events"
    id = db.Column(db.Integer, primary_key=True)
    run_id = db.Column(db.Integer, db.ForeignKey("workflow_runs.id"), nullable=False,
                       index=True)
    step_name = db.Column(db.String(100))
    kind = db.Column(db.String(50), nullable=False)  # run.started, step.succeeded, ...
    message = db.Column(db.Text)
    data = db.Column(db.JSON, nullable=False, default=dict)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
