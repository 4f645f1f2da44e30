"""Email over a real SMTP server (aiosmtpd on localhost), and license tokens checked with the
public key only, including from the command line."""

import pytest
from sqlalchemy import select

from app.models import OutboundEmail
from app.workflows.registry import get_service
from tests.factories import make_customer, make_license_template




def test_a_template_email_arrives_with_both_parts_and_absolute_links(db, smtp):
    customer = make_customer()
    result = get_service("communications").send_template_email(
        "order_confirmation", customer.email,
        {"customer_id": customer.id, "order_number": "O-000001", "total": "88.00",
         "scheduled_for": "2026-12-01T09:00:00"}, idempotency_key="run1:send")
    assert result["status"] == "sent"
    [message] = smtp.messages
    assert message["To"] == customer.email and "O-000001" in message["Subject"]
    parts = {part.get_content_type(): part.get_payload(decode=True).decode()
             for part in message.walk() if not part.is_multipart()}
    assert "88.00" in parts["text/plain"] and "88.00" in parts["text/html"]
    assert 'href="http://testserver.local/portal/"' in parts["text/html"]


def test_a_replayed_email_is_not_sent_twice(db, smtp):
    mail = get_service("communications")
    for _ in range(2):
        mail.send_template_email("team_notification", "ops@example.test",
                                 {"subject": "Hi", "message": "Hello", "team": "operations"},
                                 idempotency_key="run2:notify")
    assert len(smtp.messages) == 1
    assert db.session.execute(select(OutboundEmail)).scalars().all()[0].status == "sent"


def test_without_smtp_the_email_stays_in_the_outbox(db):
    result = get_service("communications").send_template_email(
        "team_notification", "ops@example.test",
        {"subject": "Hi", "message": "Hello", "team": "operations"})
    assert result["status"] == "outbox_only"


def test_an_unreachable_smtp_server_is_retried_not_lost(app, db):
    from app.errors import TransientError
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=1)
    try:
        with pytest.raises(TransientError):
            get_service("communications").send_template_email(
                "team_notification", "ops@example.test",
                {"subject": "Hi", "message": "Hello", "team": "ops"}, idempotency_key="k")
    finally:
        app.config.update(SMTP_HOST=None)
    assert db.session.execute(select(OutboundEmail.status)).scalar() == "failed"


def test_license_tokens_verify_offline_and_reject_tampering_and_revocation(app, db):
    from app.integrations import license_signing
    from app.services.license.issuing import signing_key
    licenses = get_service("license")
    issued = licenses.issue_license(make_customer().id, make_license_template().id)
    public_key = license_signing.public_key_pem(signing_key())
    assert license_signing.verify(public_key, issued["token"])["key"] == issued["license_key"]
    body, signature = issued["token"].split(".")
    forged = license_signing._b64(license_signing._unb64(body).replace(b'"seats":1',
                                                                       b'"seats":999'))
    assert license_signing.verify(public_key, f"{forged}.{signature}") is None
    runner = app.test_cli_runner()
    assert runner.invoke(args=["license", "verify", issued["token"]]).exit_code == 0
    assert runner.invoke(args=["license", "verify", f"{forged}.{signature}"]).exit_code != 0
    licenses.revoke_license(issued["license_id"])
    revoked = runner.invoke(args=["license", "verify", issued["token"]])
    assert revoked.exit_code != 0 and "revoked" in revoked.output
    assert "BEGIN PUBLIC KEY" in runner.invoke(args=["license", "public-key"]).output
