"""RADIUS subscribers (W5 step 3), written in FreeRADIUS's own tables so a stock rlm_sql
authenticates them. The generated password is a secret: it is stored only in radcheck (where
FreeRADIUS must read it) and never returned, logged or emailed."""
import secrets

from sqlalchemy import delete, select

from app.errors import DomainError, NotFound
from app.models import (BandwidthProfile, Plan, RadCheck, RadGroupReply, RadReply,
                        RadUserGroup, ServiceInstance)
from app.services.base import Service


class RadiusService(Service):
    name = "radius"

    def create_subscriber(self, customer_id, service_id, username, bandwidth_profile, *,
                          idempotency_key=None):
        def produce():
            service = self.session.get(ServiceInstance, service_id)
            if service is None or service.customer_id != customer_id:
                raise NotFound("That service does not exist for this customer.")
            profile = self._profile(bandwidth_profile)
            if self.session.execute(select(RadCheck.id).filter_by(username=username)).first():
                raise DomainError(f"The RADIUS user {username} already exists.")
            self.session.add_all([
                RadCheck(username=username, attribute="Cleartext-Password", op=":=",
                         value=secrets.token_urlsafe(12)),
                RadCheck(username=username, attribute="Simultaneous-Use", op=":=", value="1"),
                RadReply(username=username, attribute="Framed-IP-Address", op="=",
                         value=service.ip_address),
                RadUserGroup(username=username, groupname=profile.radius_group, priority=1)])
            self.ensure_group(profile)
            return {"username": username, "radius_group": profile.radius_group}
        return self.once(idempotency_key, "radius.create_subscriber", produce)

    def _profile(self, code):
        """A bandwidth profile by its code, or the profile of the internet plan so coded."""
        profile = self.session.execute(select(BandwidthProfile).filter_by(code=code)
                                       ).scalar_one_or_none()
        if profile is None:
            plan = self.session.execute(select(Plan).filter_by(code=code)).scalar_one_or_none()
            profile = plan.bandwidth_profile if plan else None
        if profile is None:
            raise DomainError(f"There is no bandwidth profile {code}.")
        return profile

    def ensure_group(self, profile):
        """The group's rate limit as FreeRADIUS replies it (MikroTik: upload/download)."""
        rate = f"{profile.upload_kbps // 1000}M/{profile.download_kbps // 1000}M"
        row = self.session.execute(select(RadGroupReply).filter_by(
            groupname=profile.radius_group, attribute="Mikrotik-Rate-Limit")
        ).scalar_one_or_none()
        if row is None:
            self.session.add(RadGroupReply(groupname=profile.radius_group,
                                           attribute="Mikrotik-Rate-Limit", op=":=",
                                           value=rate))
        else:
            row.value = rate

    def delete_subscriber(self, username, *, idempotency_key=None):
        def produce():
            for model in (RadCheck, RadReply, RadUserGroup):
                self.session.execute(delete(model).where(model.username == username))
            return {"username": username, "deleted": True}
        return self.once(idempotency_key, "radius.delete_subscriber", produce)

    def pppoe_password(self, username):
        """For the CPE's PPPoE settings (GenieACS); never for display."""
        return self.session.execute(select(RadCheck.value).filter_by(
            username=username, attribute="Cleartext-Password")).scalar()
