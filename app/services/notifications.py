"""Team notifications (W2 step 5): in-app for every active member of the team's roles, email
to each (channel "email" or "all"), and the team's webhook when it has one."""
import requests
from flask import current_app
from sqlalchemy import select

from app.errors import DomainError, TransientError
from app.models import Notification, Team, User
from app.services.base import Service

CHANNELS = ("in_app", "email", "webhook", "all")


class NotificationsService(Service):
    name = "notifications"

    def notify_team(self, team, channel, subject, message, metadata, *, idempotency_key=None):
        found = self.session.execute(select(Team).filter_by(name=team)).scalar_one_or_none()
        if found is None:
            raise DomainError(f"There is no team called {team}.")
        if channel not in CHANNELS:
            raise DomainError(f"Unknown channel {channel}; use one of {', '.join(CHANNELS)}.")
        members = self.session.execute(select(User).where(
            User.portal == "staff", User.role.in_(found.roles or []),
            User.is_active_user.is_(True)).order_by(User.id)).scalars().all()
        if not members:
            raise DomainError(f"Nobody is in the {team} team (roles: "
                              f"{', '.join(found.roles or []) or 'none'}): no one to notify.")

        def produce():
            for user in members:
                self.session.add(Notification(user_id=user.id, team=team, subject=subject,
                                              body=message, data=metadata or {},
                                              idempotency_key=idempotency_key))
            return {"notified": len(members)}
        result = self.once(idempotency_key, "notifications.notify_team", produce)
        if channel in ("email", "all"):
            from app.workflows.registry import get_service
            mail = get_service("communications", self.session)
            for user in members:
                mail.send_template_email("team_notification", user.email, {
                    "subject": subject, "message": message, "team": team},
                    idempotency_key=f"{idempotency_key}:mail:{user.id}" if idempotency_key
                    else None)
        if channel in ("webhook", "all") and found.webhook_url:
            self._post_webhook(found.webhook_url, {"team": team, "subject": subject,
                                                   "message": message,
                                                   "metadata": metadata or {},
                                                   "idempotency_key": idempotency_key})
        return result

    def _post_webhook(self, url, body):
        try:
            response = requests.post(url, json=body,
                                     timeout=current_app.config["HTTP_TIMEOUT_SECONDS"])
        except requests.RequestException as error:
            raise TransientError(f"The team webhook could not be reached: {error}") from error
        if response.status_code >= 500:
            raise TransientError(f"The team webhook answered {response.status_code}")
        if response.status_code >= 400:
            raise DomainError(f"The team webhook refused the notification "
                              f"({response.status_code}).")
