"""Email from templates (used by every workflow).

Convention: a template `<name>` is three files in app/templates/email/: `<name>.subject.txt`,
`<name>.txt` and `<name>.html` (the HTML extends email/_layout.html). They get the step's
`context`, plus `base_url` for absolute links, plus what a context hook for that template adds
(CONTEXT_HOOKS below: e.g. the welcome email's portal invitation link, made at render time so
that the link, a credential, never passes through run history).

Every message is written to the outbox (OutboundEmail) under the idempotency key, so a replay
never sends twice; it is sent over SMTP when SMTP_HOST is set, else it stays in the outbox.

Links that are credentials (an invitation, a password reset) are `secret_context`: they are
rendered into the message handed to the mail server and nowhere else; the outbox keeps the
message with the link masked. A message with such a link that failed to send is rendered
again (with a new link) when it is retried, since the stored copy has none."""
from flask import current_app, render_template
from sqlalchemy import select

from app.errors import NotFound, ValidationError
from app.integrations import mail
from app.models import Customer, OutboundEmail, User, utcnow
from app.services.base import Service


SECRET_PLACEHOLDER = "[link sent only to the recipient]"


def header_safe(text, limit=300):
    """One line (no CR/LF or other control characters: a header cannot be split into two)."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text or "").split())[:limit]


def _welcome_context(context):
    """The first portal user's invitation link (a new one each time the email is rendered)."""
    from app.portals.auth.invitations import create_invitation
    user = current_app.extensions["sqlalchemy"].session.execute(
        select(User).where(User.customer_id == context.get("customer_id"),
                           User.portal == "customer").order_by(User.id)).scalars().first()
    if user is None or user.password_hash:
        return {"invitation_url": None}
    return {"invitation_url": create_invitation(user)}


CONTEXT_HOOKS = {"customer_welcome": _welcome_context}


class CommunicationsService(Service):
    name = "communications"

    def send_template_email(self, template, to, context, *, idempotency_key=None,
                            secret_context=None):
        if not to or "@" not in str(to) or any(ch in str(to) for ch in "\r\n"):
            raise ValidationError(f"There is no valid address to send {template} to.")
        sent = None
        if idempotency_key:
            sent = self.session.execute(select(OutboundEmail).filter_by(
                idempotency_key=idempotency_key)).scalar_one_or_none()
            if sent is not None and sent.status in ("sent", "outbox_only"):
                return {"email_id": sent.id, "status": sent.status}
        secrets = dict(secret_context or {})
        secrets.update(CONTEXT_HOOKS.get(template, lambda _: {})(dict(context or {})))
        if sent is not None and not secrets:
            # A message whose sending failed before is sent again as it was rendered.
            email, text, html = sent, sent.text_body, sent.html_body
        else:
            email, text, html = self._render(template, to, dict(context or {}), secrets,
                                             idempotency_key, sent)
        self.session.commit()
        config = current_app.config
        if not config.get("SMTP_HOST"):
            email.status = "outbox_only"
            self.session.commit()
            return {"email_id": email.id, "status": email.status}
        try:
            mail.send(config, mail.build_message(config["MAIL_FROM"], email.to_address,
                                                 email.subject, text, html))
        except Exception as error:
            email.status, email.error = "failed", str(error)[:500]
            self.session.commit()
            raise
        email.status, email.sent_at, email.error = "sent", utcnow(), None
        self.session.commit()
        return {"email_id": email.id, "status": email.status}

    def _render(self, template, to, context, secrets, idempotency_key, email=None):
        """The stored (masked) message, and the text and HTML to hand to the mail server."""
        context["base_url"] = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
        masked = {name: SECRET_PLACEHOLDER if value else value
                  for name, value in secrets.items()}
        try:
            subject = header_safe(render_template(f"email/{template}.subject.txt",
                                                  **context, **masked))
            stored_text = render_template(f"email/{template}.txt", **context, **masked)
            stored_html = render_template(f"email/{template}.html", **context, **masked)
            text = render_template(f"email/{template}.txt", **context, **secrets) \
                if secrets else stored_text
            html = render_template(f"email/{template}.html", **context, **secrets) \
                if secrets else stored_html
        except Exception as error:
            raise NotFound(f"The email template {template} could not be rendered: {error}")
        customer_id = context.get("customer_id")
        if customer_id and self.session.get(Customer, customer_id) is None:
            customer_id = None
        if email is None:
            email = OutboundEmail(template=template, to_address=to, status="queued",
                                  idempotency_key=idempotency_key)
            self.session.add(email)
        email.subject, email.text_body, email.html_body = subject, stored_text, stored_html
        email.customer_id, email.partner_id = customer_id, context.get("partner_id")
        self.session.flush()
        return email, text, html
